"""The sharing table says who may know what, and the scan finds a secret wherever the table does
not put it: planted leaks are caught in every encoding (even a key sitting in the viewer's own
wallet), legitimate sharing passes, and no bot-played table of any staged variant and scenario
shows a seat another seat's secret after any of its facts."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from handshake_game.bots import AttackerBot, HonestBot, TrustingBot, play_table
from handshake_game.game import Referee, Scenario, Seat, TableState, Variant, apply, open_table, replay, view
from handshake_game.game import actions as a
from handshake_game.game.catalog import steps_for
from handshake_game.game.facts import Fact, ItemStored, ServerKeyLeaked
from handshake_game.game.model import supports
from handshake_game.game.sharing import SHARING, Leak, guarded, leaks, may_hold, strays
from handshake_game.game.views import visible_steps
from handshake_game.tls.pki import generate_rsa_key

KEYS = [generate_rsa_key() for _ in range(4)]
STAGED = [(v, s) for v in Variant for s in Scenario if supports(v, s)]
# Where a trusting client (one that clicks through the warning) changes how the table ends.
CLICK_THROUGH = (Scenario.MITM_SELF_SIGNED, Scenario.MITM_WRONG_NAME, Scenario.EXPIRED_CERT, Scenario.WEAK_DH)


def referee() -> Referee:
    keys = iter(KEYS * 4)
    return Referee(rng=os.urandom, now=_now, rsa_keys=lambda: next(keys))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@functools.cache
def _played(variant: Variant, scenario: Scenario,
            trusting: bool = False) -> tuple[TableState, tuple[Fact, ...]]:
    bots: dict[Seat, HonestBot] = {Seat.CLIENT: TrustingBot()} if trusting else {}
    run = play_table(variant, scenario, referee(), bots=bots)
    return run.state, tuple(run.facts)


@dataclasses.dataclass
class _Accepting(HonestBot):
    """A server that takes 0-RTT data with the given policy (the honest one refuses it)."""

    policy: str

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        if step_id == "server.resume":
            return a.AnswerResumption(self.policy)
        return super().choose(step_id, state, seat)


def _item(state: TableState, seat: Seat, name: str) -> bytes:
    return state.wallets[seat][name].value


def _caught(found: list[Leak]) -> set[tuple[Seat, str]]:
    return {(leak.owner, leak.item) for leak in found if leak.encoding != "stray"}


def _planted(shown: dict[str, Any], text: str) -> dict[str, Any]:
    """The view with ``text`` slipped into one verdict's reason (a copy: views are cached)."""
    planted = json.loads(json.dumps(shown))
    planted["verdicts"].append({"seat": planted["seat"], "step": "x", "ok": True, "points": 0,
                                "reason": f"note: {text} (end)", "lesson": "x"})
    return planted


# -- the planted leaks are caught ------------------------------------------------------------------

def _pem_der(pem: bytes) -> bytes:
    lines = pem.strip().splitlines()
    return base64.b64decode(b"".join(lines[1:-1]))


def _pkcs1_der(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


ENCODINGS: dict[str, Callable[[bytes], str]] = {
    "hex": lambda pem: pem.hex(),
    "hex, upper case": lambda pem: pem.hex().upper(),
    "base64 of the PEM bytes": lambda pem: base64.b64encode(pem).decode(),
    "base64 of the DER": lambda pem: base64.b64encode(_pem_der(pem)).decode(),
    "base64url of the DER": lambda pem: base64.urlsafe_b64encode(_pem_der(pem)).decode(),
    "hex of the DER": lambda pem: _pem_der(pem).hex(),
    "the DER inside a longer base64 text, at offset 1": lambda pem: base64.b64encode(
        b"\x30" + _pem_der(pem) + b"tail").decode(),
    "the DER inside a longer base64 text, at offset 2": lambda pem: base64.b64encode(
        b"\x30\x82" + _pem_der(pem)).decode(),
    "the PEM text": lambda pem: pem.decode(),
    "the PEM text with CRLF line ends": lambda pem: pem.decode().replace("\n", "\r\n"),
    "another serialisation of the key (PKCS#1 DER, hex)": lambda pem: _pkcs1_der(pem).hex(),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_the_servers_private_key_planted_in_the_clients_view_is_caught(encoding: str) -> None:
    state, _ = _played(Variant.TLS12_RSA, Scenario.HONEST)
    shown = view(state, Seat.CLIENT, _now(), dissect=True)
    assert leaks(state, Seat.CLIENT, shown) == []  # the real view is clean: what follows is the plant
    server_key = _item(state, Seat.SERVER, "server_key")
    planted = _planted(shown, ENCODINGS[encoding](server_key))
    found = leaks(state, Seat.CLIENT, planted)
    assert _caught(found) == {(Seat.SERVER, "server_key")}, found
    (leak,) = found
    assert leak.seat is Seat.CLIENT and leak.where == f"verdicts[{len(shown['verdicts'])}].reason"
    assert "server's server_key" in str(leak) and "client's view" in str(leak)


def test_the_servers_private_key_in_plain_text_is_caught_with_its_newlines() -> None:
    state, _ = _played(Variant.TLS12_RSA, Scenario.HONEST)
    server_key = _item(state, Seat.SERVER, "server_key")
    # Any text a seat is shown, not only its JSON view: the PEM with raw newlines, and JSON-escaped.
    for text in (f"log line\n{server_key.decode()}\n", json.dumps({"pem": server_key.decode()})):
        found = leaks(state, Seat.CLIENT, text)
        assert _caught(found) == {(Seat.SERVER, "server_key")}
        assert found[0].where.startswith("offset ")
    assert leaks(state, Seat.CLIENT, "nothing here: " + "00" * 64) == []


@pytest.mark.parametrize("encode", [bytes.hex, lambda v: base64.b64encode(v).decode()], ids=["hex", "base64"])
def test_the_master_secret_planted_in_the_cas_view_is_caught(encode: Callable[[bytes], str]) -> None:
    state, _ = _played(Variant.TLS12_RSA, Scenario.HONEST)
    master = _item(state, Seat.CLIENT, "master_secret")
    assert master == _item(state, Seat.SERVER, "master_secret")
    shown = view(state, Seat.CA)
    assert leaks(state, Seat.CA, shown) == []
    found = leaks(state, Seat.CA, _planted(shown, encode(master)))
    # Both ends hold it and neither end's copy is the CA's to know.
    assert _caught(found) == {(Seat.CLIENT, "master_secret"), (Seat.SERVER, "master_secret")}


def test_the_cas_key_stored_in_the_clients_wallet_is_caught_under_any_name() -> None:
    state, facts = _played(Variant.TLS12_RSA, Scenario.HONEST)
    ca_key = _item(state, Seat.CA, "ca_key")
    # Under its own name: the client may not hold a "ca_key" at all, and its value is the CA's.
    stolen = apply(state, ItemStored(Seat.CLIENT, "ca_key", "private_key", ca_key, True))
    found = leaks(stolen, Seat.CLIENT, view(stolen, Seat.CLIENT))
    assert Leak(Seat.CLIENT, Seat.CLIENT, "ca_key", "stray", "wallet.ca_key") in found
    assert [str(leak) for leak in strays(stolen)] == [
        "the client's wallet holds ca_key, which the sharing table never gives it"]
    assert Leak(Seat.CLIENT, Seat.CA, "ca_key", "hex", "wallet.ca_key.value") in found
    # Under a name the client may hold, and not even marked secret: no stray, yet caught — that
    # it now sits "in the client's own wallet" is no licence.
    disguised = apply(state, ItemStored(Seat.CLIENT, "client_key", "private_key", ca_key, False))
    assert ca_key in {item.value for item in disguised.wallets[Seat.CLIENT].values()}
    assert strays(disguised) == []
    found = leaks(disguised, Seat.CLIENT, view(disguised, Seat.CLIENT), [*facts])
    assert found == [Leak(Seat.CLIENT, Seat.CA, "ca_key", "hex", "wallet.client_key.value")]


def test_a_first_sessions_secret_is_searched_through_the_history() -> None:
    state, facts = _played(Variant.TLS12_RSA, Scenario.REPLAY)
    first = next(f.value for f in facts if isinstance(f, ItemStored) and f.seat is Seat.CLIENT
                 and f.name == "pre_master_secret")
    assert first != _item(state, Seat.CLIENT, "pre_master_secret")  # the wallet moved on
    planted = _planted(view(state, Seat.CA), first.hex())
    assert _caught(leaks(state, Seat.CA, planted, facts)) >= {(Seat.CLIENT, "pre_master_secret")}
    assert (Seat.CLIENT, "pre_master_secret") not in _caught(leaks(state, Seat.CA, planted))


# -- legitimate sharing passes, and the same value is caught where the table does not share it ----

def test_client_and_server_share_the_premaster_after_an_honest_rsa_table() -> None:
    state, facts = _played(Variant.TLS12_RSA, Scenario.HONEST)
    pre_master = _item(state, Seat.CLIENT, "pre_master_secret")
    assert pre_master == _item(state, Seat.SERVER, "pre_master_secret")
    for seat in (Seat.CLIENT, Seat.SERVER):
        shown = view(state, seat, _now(), dissect=True)
        assert pre_master.hex() in json.dumps(shown)
        assert leaks(state, seat, shown, facts) == []
    for seat in (Seat.CA, Seat.EAVESDROPPER):
        found = leaks(state, seat, _planted(view(state, seat), pre_master.hex()), facts)
        assert _caught(found) == {(Seat.CLIENT, "pre_master_secret"), (Seat.SERVER, "pre_master_secret")}


def test_the_leaked_server_key_and_what_it_opened_are_the_eavesdroppers_after_a_key_leak() -> None:
    state, facts = _played(Variant.TLS12_RSA, Scenario.KEY_LEAK)
    assert state.key_leaked and state.decryptions[-1].succeeded
    shown = json.dumps(view(state, Seat.EAVESDROPPER, _now(), dissect=True))
    assert _item(state, Seat.SERVER, "server_key").hex() in shown
    request = _item(state, Seat.CLIENT, "sent_data")
    assert request.hex() in shown  # inside what it decrypted
    assert leaks(state, Seat.EAVESDROPPER, shown, facts) == []
    # Before the leak the same key — and the same request — in its view are caught.
    leaked_at = next(i for i, f in enumerate(facts) if isinstance(f, ServerKeyLeaked))
    before = replay(list(facts[:leaked_at]))
    assert not before.key_leaked and not before.decryptions
    assert _caught(leaks(before, Seat.EAVESDROPPER, shown)) == {
        (Seat.SERVER, "server_key"), (Seat.CLIENT, "sent_data"), (Seat.SERVER, "request"),
        (Seat.SERVER, "sent_data"), (Seat.CLIENT, "response")}


def test_a_passive_eavesdropper_that_read_nothing_may_not_show_the_request() -> None:
    state, facts = _played(Variant.TLS12_ECDHE, Scenario.PASSIVE)
    assert not any(d.succeeded for d in state.decryptions)
    request = _item(state, Seat.CLIENT, "sent_data").decode()
    assert "\r\n" in request
    planted = _planted(view(state, Seat.EAVESDROPPER), request)  # as text, JSON-escaped in the view
    found = leaks(state, Seat.EAVESDROPPER, planted, facts)
    assert _caught(found) == {(Seat.CLIENT, "sent_data"), (Seat.SERVER, "request")}
    assert {leak.encoding for leak in found} == {"utf-8 text, JSON-escaped"}


def test_a_man_in_the_middle_knows_the_secrets_of_both_connections_it_made() -> None:
    # TLS 1.3: the eavesdropper derived the client's traffic secrets with its own key share, and
    # its wallet shows them.
    state, facts = _played(Variant.TLS13, Scenario.MITM_SELF_SIGNED, trusting=True)
    assert state.forgery_accepted is not None
    secret = _item(state, Seat.CLIENT, "client_application_traffic_secret")
    assert secret == _item(state, Seat.EAVESDROPPER, "client_application_traffic_secret")
    assert _item(state, Seat.SERVER, "client_application_traffic_secret") == _item(
        state, Seat.EAVESDROPPER, "client_application_traffic_secret_with_server")
    shown = view(state, Seat.EAVESDROPPER, _now(), dissect=True)
    assert secret.hex() in json.dumps(shown)
    assert leaks(state, Seat.EAVESDROPPER, shown, facts) == []
    # TLS 1.2 ECDHE: its share makes the client's master secret its to compute, and its own key
    # exchange with the server makes the server's — two sessions, one at each end of it.
    state, facts = _played(Variant.TLS12_ECDHE, Scenario.MITM_SELF_SIGNED, trusting=True)
    assert state.forgery_accepted is not None and state.completed
    clients, servers = _item(state, Seat.CLIENT, "master_secret"), _item(state, Seat.SERVER, "master_secret")
    assert clients != servers
    assert clients == _item(state, Seat.EAVESDROPPER, "master_secret_with_client")
    assert servers == _item(state, Seat.EAVESDROPPER, "master_secret_with_server")
    shown = view(state, Seat.EAVESDROPPER)
    assert leaks(state, Seat.EAVESDROPPER, _planted(shown, clients.hex()), facts) == []
    assert leaks(state, Seat.EAVESDROPPER, _planted(shown, servers.hex()), facts) == []
    # ... but never the server's own ECDH private key, which never left the server.
    server_share = _item(state, Seat.SERVER, "ecdhe_private")
    assert _caught(leaks(state, Seat.EAVESDROPPER, _planted(shown, server_share.hex()), facts)) == {
        (Seat.SERVER, "ecdhe_private")}
    # ... and the server, no end of the client's session any more, may not see the client's.
    assert _caught(leaks(state, Seat.SERVER, _planted(view(state, Seat.SERVER), clients.hex()), facts)) == {
        (Seat.CLIENT, "master_secret"), (Seat.EAVESDROPPER, "master_secret_with_client")}
    # At an honest table the same plant in the eavesdropper's view is caught.
    honest, honest_facts = _played(Variant.TLS12_ECDHE, Scenario.HONEST)
    master = _item(honest, Seat.CLIENT, "master_secret")
    assert _caught(leaks(honest, Seat.EAVESDROPPER, _planted(view(honest, Seat.EAVESDROPPER), master.hex()),
                         honest_facts)) == {(Seat.CLIENT, "master_secret"), (Seat.SERVER, "master_secret")}


# -- every staged table, after every fact ----------------------------------------------------------

CASES = [pytest.param(v, s, False, id=f"{v.value}-{s.value}") for v, s in STAGED] + [
    pytest.param(v, s, True, id=f"{v.value}-{s.value}-trusting-client") for v, s in STAGED
    if s in CLICK_THROUGH]


@pytest.mark.parametrize(("variant", "scenario", "trusting"), CASES)
def test_no_view_shows_a_secret_its_seat_may_not_know_after_any_fact(
        variant: Variant, scenario: Scenario, trusting: bool) -> None:
    state, facts = open_table(variant, scenario)  # the table play_table opens, before its first move
    checked = 0
    guarded_per_seat = dict.fromkeys(Seat, 0)

    def check(fact: Fact) -> None:
        nonlocal state, checked
        state = apply(state, fact)
        facts.append(fact)
        for seat in Seat:
            found = leaks(state, seat, view(state, seat, _now(), dissect=True), facts)
            assert not found, f"after {type(fact).__name__} #{len(facts)}: " + "; ".join(map(str, found))
            guarded_per_seat[seat] = max(guarded_per_seat[seat], len(guarded(state, seat, facts)))
        checked += 1

    bots: dict[Seat, HonestBot] = {Seat.CLIENT: TrustingBot()} if trusting else {}
    run = play_table(variant, scenario, referee(), bots={Seat.EAVESDROPPER: AttackerBot(), **bots},
                     on_fact=check)
    assert checked == len(run.facts) - 1 >= 20  # every fact after the opening one
    assert replay(facts) == run.state == state
    assert strays(state) == []
    # Not vacuous: by the end every seat had secrets of others to be searched for in its view.
    assert all(count > 0 for count in guarded_per_seat.values()), guarded_per_seat


def test_the_table_covers_exactly_the_items_the_game_stores() -> None:
    stored = set()
    for variant, scenario in STAGED:
        for trusting in (False, True) if scenario in CLICK_THROUGH else (False,):
            _, facts = _played(variant, scenario, trusting)
            stored |= {(f.seat, f.name) for f in facts if isinstance(f, ItemStored)}
            if any(isinstance(f, ServerKeyLeaked) for f in facts):  # the fold stores it
                stored.add((Seat.EAVESDROPPER, "leaked_server_key"))
    for policy in (a.EARLY_DATA_SINGLE_USE, a.EARLY_DATA_NO_ANTI_REPLAY):  # tls13 replay's 0-RTT answers
        run = play_table(Variant.TLS13, Scenario.REPLAY, referee(), bots={Seat.SERVER: _Accepting(policy)})
        stored |= {(f.seat, f.name) for f in run.facts if isinstance(f, ItemStored)}
    assert all(may_hold(seat, name) for seat, name in stored)
    # Every row is used by some table: a row for an item no table stores would be a dead rule.
    assert set(SHARING) == stored, sorted((s.value, n) for s, n in set(SHARING) ^ stored)



@pytest.mark.parametrize(("variant", "scenario"), STAGED, ids=lambda x: getattr(x, "value", str(x)))
def test_a_victims_view_names_no_scenario_and_marks_nothing_until_the_end(
        variant: Variant, scenario: Scenario) -> None:
    """Every view sent to a seat other than the eavesdropper before its table ends holds neither
    the scenario's id nor an alteration mark nor the eavesdropper's step; the eavesdropper's own
    view names its scenario, and the end (or the instructor's reveal) tells everyone."""
    state, _ = open_table(variant, scenario)
    checked = {"dark": 0, "revealed": 0}

    def check(fact: Fact) -> None:
        nonlocal state
        state = apply(state, fact)
        for seat in (Seat.CLIENT, Seat.SERVER, Seat.CA):
            shown = view(state, seat, _now(), dissect=True)
            if state.over:
                assert shown["scenario"] == scenario.value and shown["debrief"] is not None
                continue
            assert shown["scenario"] is None and shown["debrief"] is None
            assert not any("altered" in entry or "replayed" in entry for entry in shown["wire"])
            assert shown["step"] is None or not shown["step"].startswith("eavesdropper.")
            checked["dark"] += 1
            # The same table revealed by the instructor: the check above would fail on it.
            revealed = view(state, seat, _now(), revealed=True)
            assert revealed["scenario"] == scenario.value and revealed["debrief"]["ladder"] is not None
            checked["revealed"] += 1
        assert view(state, Seat.EAVESDROPPER, _now())["scenario"] == scenario.value

    play_table(variant, scenario, referee(), bots={Seat.CLIENT: TrustingBot()}, on_fact=check)
    assert checked["dark"] >= 30 and checked["revealed"] == checked["dark"]


@pytest.mark.parametrize(("variant", "scenario"), STAGED, ids=lambda x: getattr(x, "value", str(x)))
def test_in_the_dark_a_seat_sees_an_honest_tables_steps_until_something_happens_at_its_end(
        variant: Variant, scenario: Scenario) -> None:
    """The steps a seat in the dark is shown, and so its step count, give the scenario away to
    no one: another seat's step is one an honest table has (no second CSR at the CA, no
    eavesdropper), and while the table has played as an honest one would, the list is the
    honest table's, to its end (a man in the middle's table ends early, and says why at the
    debrief)."""
    honest = [step for step in steps_for(variant, Scenario.HONEST) if step.seat is not Seat.EAVESDROPPER]
    honest_ids = {step.id for step in honest}
    checked = {"same as honest": 0, "dark": 0}

    def check(state: TableState) -> None:
        for seat in (Seat.CLIENT, Seat.SERVER, Seat.CA):
            if state.over:  # the debrief: every step played, none passed over
                shown, done = visible_steps(state, seat)
                assert [s for i, s in enumerate(state.steps) if i not in state.skipped] == shown
                continue
            shown, done = visible_steps(state, seat)
            assert all(step.seat is seat or (step.seat is not Seat.EAVESDROPPER and step.id in honest_ids)
                       for step in shown)
            checked["dark"] += 1
            if [step.id for step in shown[:done + 1]] == [step.id for step in honest[:done + 1]]:
                assert [step.id for step in shown] == [step.id for step in honest]
                checked["same as honest"] += 1

    state, _ = open_table(variant, scenario)

    def on_fact(fact: Fact) -> None:
        nonlocal state
        state = apply(state, fact)
        check(state)

    play_table(variant, scenario, referee(), bots={Seat.CLIENT: TrustingBot()}, on_fact=on_fact)
    assert checked["same as honest"] >= 20 and checked["dark"] >= checked["same as honest"]


# Tables that reach the client's reading of the answer (with client authentication a man in the
# middle is caught before: it cannot sign the server's transcript in the client's name).
READING = [(v, s) for v in Variant for s in (Scenario.PASSIVE, Scenario.MITM_SELF_SIGNED, Scenario.REPLAY,
                                             Scenario.KEY_LEAK)
           if not (v is Variant.TLS12_MUTUAL and s is Scenario.MITM_SELF_SIGNED)]


@pytest.mark.parametrize(("variant", "scenario"), READING, ids=lambda x: getattr(x, "value", str(x)))
def test_in_the_dark_each_message_sits_under_the_step_an_honest_table_would_show(
        variant: Variant, scenario: Scenario) -> None:
    """Where a seat's ladder draws each message (``at``, on its own list of steps) gives nothing
    away either: up to the client's reading of the answer, the client and the server see every
    message under the same step as at an honest table; after the debrief, under the step that
    really sent it (a man in the middle's forged flight under its own step)."""
    def until_read(scenario: Scenario) -> TableState:
        run = play_table(variant, scenario, referee(), bots={Seat.CLIENT: TrustingBot()})
        state = replay(run.facts[:1])
        for fact in run.facts[1:]:
            state = apply(state, fact)
            if state.current_step is not None and state.current_step.id == "client.read_data":
                return state
        raise AssertionError(f"{scenario.value}: no client.read_data")

    def placed(state: TableState, seat: Seat) -> list[tuple[str, str, str]]:
        steps = visible_steps(state, seat)[0]
        return [(e["event"], e["label"], steps[e["at"]].id) for e in view(state, seat)["wire"]]

    honest = until_read(Scenario.HONEST)
    attacked = until_read(scenario)
    for seat in (Seat.CLIENT, Seat.SERVER):
        assert placed(attacked, seat) == placed(honest, seat), seat
    if scenario is Scenario.MITM_SELF_SIGNED:
        end = play_table(variant, scenario, referee(), bots={Seat.CLIENT: TrustingBot()}).state
        forged = [at for event, label, at in placed(end, Seat.CLIENT)
                  if event == "delivered" and label in ("ServerHello", "Certificate")]
        assert forged and all(at.startswith("eavesdropper.") for at in forged), forged
