"""The menu of choices: at every step of every variant, scenario and difficulty the acting seat
(and only it) has choices; the correct move is among them; every choice the menu offers, with
any of its offered values, is played or refused with a teaching reason by the referee (never a
crash); nothing secret is in it; and at standard difficulty it does not give the answer away."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handshake_game.bots import AttackerBot, HonestBot, TrustingBot
from handshake_game.game import (
    Difficulty,
    Referee,
    Rejected,
    Scenario,
    Seat,
    TableState,
    Variant,
    apply,
    decide,
    leak_server_key,
    open_table,
    pause,
)
from handshake_game.game import actions as a
from handshake_game.game.expert import derived_at
from handshake_game.game.guide import correct_action
from handshake_game.game.menu import catalog, choices
from handshake_game.game.model import supports
from handshake_game.game.sharing import may_know
from handshake_game.server.protocol import ACTIONS
from handshake_game.tls.pki import generate_rsa_key

KEYS = [generate_rsa_key() for _ in range(4)]
# The steps where an expert computes derived values, by "is it TLS 1.3" (written out here, not
# read from game.expert, so that the menus are checked against the plan).
EXPERT_STEPS = {False: {"client.finished", "server.finished", "client.verify_finished"},
                True: {"client.check_certificate", "client.finished", "server.verify_finished"}}
STAGED = [(v, s) for v in Variant for s in Scenario if supports(v, s)]


def referee(seed: int | None = None) -> Referee:
    keys = iter(KEYS * 8)
    rng = random.Random(seed).randbytes if seed is not None else os.urandom
    return Referee(rng=rng, now=lambda: datetime.datetime.now(datetime.UTC), rsa_keys=lambda: next(keys))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _build(choice: dict[str, Any], values: dict[str, Any] | None = None) -> a.Action:
    """The action a console builds from a filled-in choice (lists become the dataclass's tuples)."""
    # A list with nothing chosen in advance (standard, expert): the student picks; here, the first.
    fields = {f["name"]: _canonical(f["options"])[0]["value"]
              if f["kind"] == "select" and f["default"] is None else f["default"]
              for f in choice["fields"]} | (values or {})
    fields = {name: tuple(value) if isinstance(value, list) else value for name, value in fields.items()}
    action: a.Action = ACTIONS[choice["action"]](**fields)
    return action


def _teaching(reason: str) -> bool:
    return (len(reason) > 10 and " " in reason
            and not any(word in reason for word in ("Traceback", "Error", "object at", "None")))


def _canonical(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Options in a fixed order: standard difficulty shuffles them per table, and a walk that
    draws from them must draw the same way on every run."""
    return sorted(options, key=lambda option: json.dumps(option["value"]))


def _variations(choice: dict[str, Any]) -> list[dict[str, Any]]:
    """The choice at its defaults, then each offered value of each field in turn."""
    out: list[dict[str, Any]] = [{}]
    for field in choice["fields"]:
        if field["kind"] == "select":
            out += [{field["name"]: option["value"]} for option in _canonical(field["options"])]
        elif field["kind"] == "multi":
            values = [option["value"] for option in field["options"]]
            out += [{field["name"]: [value]} for value in values] + [{field["name"]: values[::-1]}]
        elif field["kind"] == "number":
            out += [{field["name"]: field["min"]}, {field["name"]: field["max"]}]
        elif field["kind"] == "hex":
            out += [{field["name"]: "00" * 48}, {field["name"]: "not hex"}]
    return out


def _secrets(state: TableState) -> list[tuple[Seat, str, bytes]]:
    return [(seat, name, item.value) for seat in Seat for name, item in state.wallets[seat].items()
            if item.secret and len(item.value) >= 8]


def _assert_menus(state: TableState, ref: Referee, now: datetime.datetime, *, every_option: bool) -> int:
    """Checks (a)-(d) and the difficulty rules at the current step; returns the moves tried."""
    step = state.current_step
    assert step is not None
    menus = {seat: choices(state, seat, now) for seat in Seat}
    # (a) the acting seat has choices, every other seat none
    mine = menus[step.seat]
    assert mine and all(not menus[seat] for seat in Seat if seat is not step.seat), step.id
    names = [choice["action"] for choice in mine]
    assert len(names) == len(set(names)) and names[-1] == "RequestHint"
    # (b) the correct move is offered, with its values among the options
    correct = correct_action(state, step.seat, now)
    assert correct is not None
    offered = next(choice for choice in mine if choice["action"] == type(correct).__name__)
    by_name = {field["name"]: field for field in offered["fields"]}
    for spec in dataclasses.fields(correct):
        value = getattr(correct, spec.name)
        field = by_name.get(spec.name)
        if field is None:  # a field the menu leaves out is left at the action's default
            assert value == spec.default, (step.id, spec.name)
        elif value is not None and field["kind"] in ("select", "multi"):
            options = [option["value"] for option in field["options"]]
            assert all(v in options for v in value) if field["kind"] == "multi" else value in options
    # difficulty: guided defaults are the correct values; standard and expert give nothing away
    recommended = [choice["action"] for choice in mine if choice["recommended"]]
    fields = [field for choice in mine for field in choice["fields"]]
    if state.difficulty is Difficulty.GUIDED:
        assert recommended == [type(correct).__name__]
        for spec in dataclasses.fields(correct):
            value = getattr(correct, spec.name)
            if spec.name in by_name and value is not None:
                default = by_name[spec.name]["default"]
                default = tuple(default) if isinstance(value, tuple) else default
                assert default == value, (step.id, spec.name)
    else:
        assert recommended == []
        for field in fields:
            if field["kind"] == "select":  # nothing chosen in advance: the student picks
                assert field["default"] is None
            if field["kind"] == "multi":
                assert field["default"] == [option["value"] for option in field["options"]]
    # expert: a hex field for each value the step derives (game.expert), and nowhere else
    hex_fields = sorted({f["name"] for f in fields if f["kind"] == "hex"})
    assert hex_fields == sorted(value.field for value in derived_at(state, step)), step.id
    assert bool(hex_fields) is (state.difficulty is Difficulty.EXPERT and step.id in EXPERT_STEPS[
        state.variant is Variant.TLS13]), step.id
    # (d) plain JSON, and not one secret a seat may not know (sharing.py): the man in the
    # middle's menu may show the request it opened, no other seat's may
    for seat, menu in menus.items():
        text = json.dumps(menu)
        lowered = text.lower()
        for owner, name, secret in _secrets(state):
            if seat in may_know(state, owner, name, secret):
                continue
            # not even a piece of one: every 8-byte stretch of it, as hex
            assert not any(secret[i:i + 8].hex() in lowered for i in range(0, len(secret) - 7, 8)), step.id
            with contextlib.suppress(UnicodeDecodeError):
                assert json.dumps(secret.decode())[1:-1] not in text, (step.id, seat, owner, name)
    # (c) every choice, at its defaults (and, when asked, with each offered value), is played
    # or refused with a teaching reason: nothing else escapes the referee
    tried = 0
    for choice in mine:
        for values in _variations(choice) if every_option else [{}]:
            action = _build(choice, values)
            tried += 1
            try:
                facts = decide(state, step.seat, action, ref)
            except Rejected as refused:
                assert _teaching(refused.reason), refused.reason
                # only a malformed hex value typed by an expert is refused
                assert ("hexadecimal" in refused.reason and "not hex" in values.values()) or (
                    "bytes for this suite" in refused.reason), (
                    step.id, action, refused.reason)
            else:
                assert facts
    return tried


def _bots(scenario: Scenario, trusting: bool = False) -> dict[Seat, HonestBot]:
    bots: dict[Seat, HonestBot] = {seat: HonestBot() for seat in Seat}
    bots[Seat.EAVESDROPPER] = AttackerBot()
    if trusting:
        bots[Seat.CLIENT] = TrustingBot()
    return bots


def _play(variant: Variant, scenario: Scenario, difficulty: Difficulty, bots: dict[Seat, HonestBot],
          at_step: Callable[[TableState, Referee], object]) -> TableState:
    state, _ = open_table(variant, scenario, difficulty)
    ref = referee()
    while (step := state.current_step) is not None:
        at_step(state, ref)
        for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
            state = apply(state, fact)
    return state


def _assert_over(state: TableState, ref: Referee) -> None:
    """After the handshake only the eavesdropper may act: it tries to decrypt what it recorded."""
    now = _now()
    assert all(choices(state, seat, now) == [] for seat in Seat if seat is not Seat.EAVESDROPPER)
    (only,) = choices(state, Seat.EAVESDROPPER, now)
    assert only["action"] == "TryDecrypt"
    assert decide(state, Seat.EAVESDROPPER, _build(only), ref)


@pytest.mark.parametrize("difficulty", list(Difficulty))
@pytest.mark.parametrize(("variant", "scenario"), STAGED)
def test_every_step_offers_the_right_moves_and_only_playable_ones(
        variant: Variant, scenario: Scenario, difficulty: Difficulty) -> None:
    steps: list[str] = []
    tried = 0

    def check(state: TableState, ref: Referee) -> None:
        nonlocal tried
        assert state.current_step is not None
        steps.append(state.current_step.id)
        tried += _assert_menus(state, ref, _now(), every_option=difficulty is Difficulty.STANDARD)

    runs = [_bots(scenario)]
    if scenario in (Scenario.MITM_SELF_SIGNED, Scenario.MITM_WRONG_NAME, Scenario.EXPIRED_CERT):
        runs.append(_bots(scenario, trusting=True))  # past the certificate check, into the forged session
    for bots in runs:
        state = _play(variant, scenario, difficulty, bots, check)
        ref = referee()
        if scenario is Scenario.KEY_LEAK and not state.key_leaked:  # leaked before the decrypt step
            for fact in leak_server_key(state):
                state = apply(state, fact)
        _assert_over(state, ref)
    assert steps[0] == "ca.publish_root" and tried >= 2 * len(steps)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=st.sampled_from(STAGED), difficulty=st.sampled_from(list(Difficulty)), data=st.data())
def test_any_walk_through_the_menu_keeps_it_honest(table: tuple[Variant, Scenario], difficulty: Difficulty,
                                                   data: st.DataObject) -> None:
    """Players who pick anything the menu offers — right or wrong — never break the referee,
    and the menu keeps its rules at every step the walk reaches."""
    variant, scenario = table
    state, _ = open_table(variant, scenario, difficulty)
    ref = referee(seed=1)
    while (step := state.current_step) is not None:
        _assert_menus(state, ref, _now(), every_option=False)
        offered = choices(state, step.seat, _now())
        menu = sorted((choice for choice in offered if choice["action"] != "RequestHint"),
                      key=lambda choice: str(choice["action"]))
        choice = data.draw(st.sampled_from(menu), label=step.id)
        values = data.draw(st.sampled_from(_variations(choice)), label="values")
        try:
            facts = decide(state, step.seat, _build(choice, values), ref)
        except Rejected as refused:
            assert _teaching(refused.reason)
            continue
        for fact in facts:
            state = apply(state, fact)
    _assert_over(state, ref)


def _state_at(variant: Variant, scenario: Scenario, difficulty: Difficulty, step_id: str) -> TableState:
    state, _ = open_table(variant, scenario, difficulty)
    ref, bots = referee(), _bots(scenario)
    while (step := state.current_step) is not None and step.id != step_id:
        for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
            state = apply(state, fact)
    assert state.current_step is not None and state.current_step.id == step_id
    return state


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize(("scenarios", "step_id", "seat"), [
    ((Scenario.HONEST, Scenario.EXPIRED_CERT), "client.check_certificate", Seat.CLIENT),
    ((Scenario.HONEST, Scenario.MITM_SELF_SIGNED), "client.check_certificate", Seat.CLIENT),
    ((Scenario.MITM_WRONG_NAME, Scenario.ROGUE_CSR), "ca.review_second_csr", Seat.CA),
])
def test_at_standard_the_menu_does_not_depend_on_the_right_answer(
        variant: Variant, scenarios: tuple[Scenario, Scenario], step_id: str, seat: Seat) -> None:
    now = _now()
    right, wrong = (_state_at(variant, scenario, Difficulty.STANDARD, step_id) for scenario in scenarios)
    assert type(correct_action(right, seat, now)) is not type(correct_action(wrong, seat, now))
    # The same menu, up to the order of this table's own (which is no clue either: below).
    assert _sorted_menu(choices(right, seat, now)) == _sorted_menu(choices(wrong, seat, now))
    for difficulty in (Difficulty.EXPERT, Difficulty.GUIDED):
        right, wrong = (_state_at(variant, scenario, difficulty, step_id) for scenario in scenarios)
        menus = _sorted_menu(choices(right, seat, now)), _sorted_menu(choices(wrong, seat, now))
        # expert hides the answer too; guided recommends it, so there the menus differ
        assert (menus[0] == menus[1]) is (difficulty is Difficulty.EXPERT)


def _sorted_menu(menu: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for choice in menu:
        for field in choice["fields"]:
            if field["kind"] == "select":
                field["options"] = _canonical(field["options"])
    return sorted(menu, key=lambda choice: str(choice["action"]))


def test_at_standard_the_order_of_the_choices_varies_from_table_to_table_and_nothing_is_preselected() -> None:
    now = _now()
    firsts: list[str] = []
    # Each table's order comes from its own random root: with two choices first, 12 tables all
    # agree once in 2,048 runs, 64 tables once in 2^63.
    for _ in range(64):
        state = _state_at(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, "client.check_certificate")
        menu = choices(state, Seat.CLIENT, now)
        assert menu == choices(state, Seat.CLIENT, now)  # the same at every redraw of one table
        assert menu[-1]["action"] == "RequestHint"  # the hint stays last
        firsts.append(menu[0]["action"])
    # Clicking the first button every time is not the right answer every time.
    assert set(firsts) == {"AcceptCertificate", "RejectCertificate"}, firsts
    # and neither is first at nearly every table (a fair shuffle: fewer than 12 of 64 once in 10^7 runs)
    assert min(firsts.count("AcceptCertificate"), firsts.count("RejectCertificate")) >= 12, firsts
    state = _state_at(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, "client.finished")
    selects = [f for c in choices(state, Seat.CLIENT, now) for f in c["fields"] if f["kind"] == "select"]
    assert selects and all(f["default"] is None for f in selects)


def test_the_premaster_key_and_the_randoms_offer_the_classic_mistakes() -> None:
    now = _now()
    state = _state_at(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, "client.key_exchange")
    (encrypt, _) = choices(state, Seat.CLIENT, now)
    (key,) = encrypt["fields"]
    assert sorted(o["value"] for o in key["options"]) == ["server_certificate", "trust_store"]
    state = _state_at(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, "client.finished")
    (finished, _) = choices(state, Seat.CLIENT, now)
    assert [f["name"] for f in finished["fields"]] == ["randoms"]
    assert sorted(o["value"] for o in finished["fields"][0]["options"]) == ["client+server", "server+client"]
    # at expert the player's own master secret, key block and verify_data replace the order
    state = _state_at(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.EXPERT, "client.finished")
    (finished, _) = choices(state, Seat.CLIENT, now)
    assert [f["name"] for f in finished["fields"]] == [
        "master_secret_hex", "client_write_key_hex", "server_write_key_hex", "client_write_iv_hex",
        "server_write_iv_hex", "verify_data_hex"]
    assert all(f["kind"] == "hex" and f["default"] is None and "RFC" in f["formula"]
               for f in finished["fields"])


def test_a_downgraded_server_chooses_only_from_what_reached_it() -> None:
    state = _state_at(Variant.TLS12_ECDHE, Scenario.DOWNGRADE, Difficulty.STANDARD,
                      "eavesdropper.strip_suites")
    menu = choices(state, Seat.EAVESDROPPER, _now())
    assert sorted(c["action"] for c in menu[:-1]) == ["Drop", "Forward", "StripSuites"]
    assert menu[-1]["action"] == "RequestHint"
    for fact in decide(state, Seat.EAVESDROPPER, a.StripSuites(), referee()):
        state = apply(state, fact)
    (hello, _) = choices(state, Seat.SERVER, _now())
    assert [o["value"] for o in hello["fields"][0]["options"]] == ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


def test_hints_say_what_they_cost_and_a_paused_table_offers_nothing() -> None:
    now = _now()
    for difficulty, words in [(Difficulty.GUIDED, "free"), (Difficulty.STANDARD, "2 points")]:
        state, _ = open_table(Variant.TLS13, difficulty=difficulty)
        assert words in choices(state, Seat.CA, now)[-1]["label"]
    for fact in pause(state):
        state = apply(state, fact)
    assert all(choices(state, seat, now) == [] for seat in Seat)


def test_the_catalog_is_the_tables_steps() -> None:
    state, _ = open_table(Variant.TLS12_MUTUAL, Scenario.REPLAY)
    listed = catalog(state.steps)
    assert [entry["id"] for entry in listed] == [step.id for step in state.steps]
    assert listed[0] == {"id": "ca.publish_root", "seat": "ca", "label": state.steps[0].label,
                         "act": state.steps[0].act,
                         "lesson": "pki-root"}
    assert json.loads(json.dumps(listed)) == listed
