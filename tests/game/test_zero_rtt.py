"""tls13 replay: the client and the server play the honest table's second visit (the bot client
in a hurry sends "POST /transfer" as 0-RTT early data); the server seat chooses its 0-RTT policy;
then the eavesdropper replays the ClientHello and its early data in a connection of its own. The
request runs twice only when the replay really ran."""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Callable
from typing import Any

import pytest

from handshake_game.bots import HurriedClientBot, ResumingBot, house_bot, play_table
from handshake_game.bots.players import AttackerBot, HonestBot
from handshake_game.game import (
    Difficulty,
    Referee,
    Scenario,
    Seat,
    TableState,
    Variant,
    apply,
    decide,
    open_table,
    replay,
    view,
)
from handshake_game.game import actions as a
from handshake_game.game.facts import Fact, ItemStored, MessageDelivered, MessageSent
from handshake_game.game.guide import TRANSFER, correct_action
from handshake_game.game.menu import choices
from handshake_game.game.sharing import leaks
from handshake_game.game.views import alerts, visible_steps
from handshake_game.tls import messages as m
from handshake_game.tls.keyschedule13 import traffic_keys
from handshake_game.tls.pki import generate_rsa_key
from handshake_game.tls.record import RecordProtection13
from handshake_game.tls.suites import CIPHER_SUITES

KEYS = [generate_rsa_key() for _ in range(3)]
NOW = datetime.datetime.now(datetime.UTC)


def referee() -> Referee:
    keys = iter(KEYS * 4)
    return Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                   rsa_keys=lambda: next(keys))


def up_to_the_servers_answer(ref: Referee,
                             alter: Callable[[str, list[Fact]], list[Fact]] | None = None) -> TableState:
    """A replay table played right up to the server's answer to the resumption, each move's facts
    passed through ``alter`` first."""
    state, _ = open_table(Variant.TLS13, Scenario.REPLAY)
    while state.current_step is not None and state.current_step.id != "server.resume":
        step = state.current_step
        action = correct_action(state, step.seat, ref.now())
        assert action is not None
        facts = decide(state, step.seat, action, ref)
        for fact in alter(step.id, facts) if alter is not None else facts:
            state = apply(state, fact)
    return state


def play(policy: str, eavesdropper: HonestBot | None = None, client: HonestBot | None = None) -> TableState:
    run = play_table(Variant.TLS13, Scenario.REPLAY, referee(),
                     bots={Seat.SERVER: ResumingBot(early_data_policy=policy),
                           Seat.EAVESDROPPER: eavesdropper or AttackerBot(),
                           Seat.CLIENT: client or HurriedClientBot()})
    assert replay(run.facts) == run.state
    for seat in Seat:  # at the end, every seat's view against every value any wallet ever held
        assert not leaks(run.state, seat, view(run.state, seat, NOW, dissect=True), run.facts)
    return run.state


def test_the_client_resumes_with_its_ticket_and_sends_the_transfer_as_0rtt_data() -> None:
    state = play(a.EARLY_DATA_SINGLE_USE)
    first = state.past_sessions[-1]
    assert [f.label for f in first if isinstance(f, MessageSent)][-1] == "NewSessionTicket"
    sent = [f for f in state.wire if isinstance(f, MessageSent) and f.sender is Seat.CLIENT]
    assert [f.label for f in sent] == ["ClientHello", "early data", "EndOfEarlyData", "Finished"]
    hello = m.decode_handshake(sent[0].payload[5:])
    assert isinstance(hello, m.ClientHello)
    # pre_shared_key is last (RFC 8446 §4.2.11), with psk_dhe_ke and a key share beside early_data.
    assert hello.extensions[-1].type == m.ExtensionType.pre_shared_key
    assert m.parse_psk_key_exchange_modes(hello.extension(m.ExtensionType.psk_key_exchange_modes)) == (
        m.PSK_DHE_KE,)
    assert hello.extension(m.ExtensionType.early_data) == b""
    assert hello.extension(m.ExtensionType.key_share)
    # The early data is the transfer, sealed under client_early_traffic_secret; both sides derive
    # the same PSK from resumption_master_secret, and the server learnt it from the ticket.
    client, server = state.wallets[Seat.CLIENT], state.wallets[Seat.SERVER]
    assert client["resumption_psk"].value == server["resumption_psk"].value
    suite = CIPHER_SUITES[hello.cipher_suites[0]]
    early = client["client_early_traffic_secret"].value
    assert early == server["client_early_traffic_secret"].value
    opener = RecordProtection13(suite, traffic_keys(suite, early))
    opened = opener.open(sent[1].payload[:5], sent[1].payload[5:])
    assert opened[1] == TRANSFER.encode() == server["transfer"].value
    # No certificate in the resumed handshake; the two ends share fresh keys from PSK + x25519.
    assert not any(f.label == "Certificate" for f in state.wire)
    assert client["master_secret"].value == server["master_secret"].value
    assert client["shared_secret"].value == server["shared_secret"].value


def test_without_anti_replay_the_replayed_0rtt_request_runs_a_second_time() -> None:
    state = play(a.EARLY_DATA_NO_ANTI_REPLAY)
    server = state.wallets[Seat.SERVER]
    assert server["transfer_again"].value == server["transfer"].value == TRANSFER.encode()
    assert state.attack_succeeded and state.outcome[0] == "attack_succeeded"
    assert "ran the request a second time" in state.outcome[1]
    assert any("0-RTT early data" in note for note in alerts(state))
    assert state.stopped is None and state.detected_by is None
    choice = next(v for v in state.verdicts if v.step == "server.resume")
    assert not choice.ok and "RFC 8446 §8" in choice.reason
    attack = next(v for v in state.verdicts if v.step == "eavesdropper.replay_early_data")
    assert attack.points > 0
    # The replay is the client's bytes, sent by the eavesdropper in a connection of its own.
    replayed = [f for f in state.wire if isinstance(f, MessageSent) and f.sender is Seat.EAVESDROPPER]
    assert [f.label for f in replayed] == ["ClientHello", "early data"]
    assert all(isinstance(f, MessageDelivered) and f.altered for f in state.wire[-3::2])


@pytest.mark.parametrize("variant", [Variant.TLS13, Variant.TLS12_ECDHE])
def test_the_debrief_marks_a_replayed_copy_as_replayed_not_as_altered(variant: Variant) -> None:
    """A replay sends the same bytes again: the debrief says so. (A seat in the dark sees neither.)"""
    bots = {Seat.SERVER: ResumingBot(early_data_policy=a.EARLY_DATA_NO_ANTI_REPLAY)} if (
        variant is Variant.TLS13) else {}
    state = play_table(variant, Scenario.REPLAY, referee(), bots=bots).state
    altered = {f.label for f in state.wire if isinstance(f, MessageDelivered) and f.altered}
    assert altered  # tls13: the ClientHello and its early data; tls12: the first session's flight
    seen = view(state, Seat.SERVER, NOW)
    marked = {e["label"] for e in seen["wire"] if e.get("replayed")}
    ladder = {row["label"] for row in seen["debrief"]["ladder"] if row.get("replayed")}
    assert marked == ladder == altered
    assert all(e["altered"] for e in seen["wire"] if e.get("replayed"))


@pytest.mark.parametrize(("policy", "check", "why"), [
    (a.EARLY_DATA_SINGLE_USE, "single-use ticket", "already spent"),
    (a.EARLY_DATA_REFUSE, "early-data refusal", "refuses 0-RTT"),
])
def test_anti_replay_or_a_refusal_makes_the_request_run_once(policy: str, check: str, why: str) -> None:
    state = play(policy)
    server = state.wallets[Seat.SERVER]
    assert server["transfer"].value == TRANSFER.encode() and "transfer_again" not in server
    assert not state.attack_succeeded and state.outcome[0] == "attack_stopped"
    assert state.stopped is not None and state.stopped.check == check and why in state.stopped.reason
    assert check in state.outcome[1]
    refused = policy == a.EARLY_DATA_REFUSE
    # Refused: the client sent the request again in 1-RTT; accepted: it ran from the early data,
    # and the 1-RTT request's step, passed over, is on no seat's list of steps.
    retried = [v for v in state.verdicts if v.step == "client.send_transfer"]
    assert bool(retried) is refused
    for seat in Seat:
        listed = [step.id for step in visible_steps(state, seat)[0]]
        assert ("client.send_transfer" in listed) is refused and "client.read_transfer" in listed
    assert ("client_early_traffic_secret" in server) is not refused
    choice = next(v for v in state.verdicts if v.step == "server.resume")
    assert choice.ok and choice.points == (10 if refused else 0)


class Bystander(HonestBot):
    """An eavesdropper that leaves the recording alone."""

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        return a.Forward()


def test_without_a_replay_the_table_simply_completes() -> None:
    state = play(a.EARLY_DATA_NO_ANTI_REPLAY, eavesdropper=Bystander())
    assert state.completed and not state.attack_succeeded and state.outcome[0] == "completed"
    assert "transfer_again" not in state.wallets[Seat.SERVER]


def test_the_careful_server_refuses_0rtt_and_no_seat_sees_what_it_may_not() -> None:
    ref = referee()
    state = play_table(Variant.TLS13, Scenario.REPLAY, ref).state
    answer = next(v for v in state.verdicts if v.step == "server.resume")
    assert answer.ok and answer.reason.startswith("the binder verifies")
    assert state.wallets[Seat.SERVER]["early_data_policy"].value == a.EARLY_DATA_REFUSE.encode()
    for seat in Seat:
        assert not leaks(state, seat, view(state, seat, NOW, dissect=True))


def test_the_servers_menu_offers_the_three_policies_and_guided_marks_the_refusal() -> None:
    ref = referee()
    for difficulty in (Difficulty.GUIDED, Difficulty.STANDARD):
        state, _ = open_table(Variant.TLS13, Scenario.REPLAY, difficulty)
        while state.current_step is not None and state.current_step.id != "server.resume":
            step = state.current_step
            action = correct_action(state, step.seat, ref.now())
            assert action is not None
            for fact in decide(state, step.seat, action, ref):
                state = apply(state, fact)
        menu = choices(state, Seat.SERVER, ref.now())
        (field,) = menu[0]["fields"]
        assert sorted(o["value"] for o in field["options"]) == sorted(a.EARLY_DATA_POLICIES)
        guided = difficulty is Difficulty.GUIDED  # elsewhere nothing is chosen in advance
        assert field["default"] == (a.EARLY_DATA_REFUSE if guided else None)
        assert menu[0]["recommended"] is guided
        # The client and the server are in the dark: the eavesdropper's replay step is not theirs to see.
        steps = [step.id for step in visible_steps(state, Seat.SERVER)[0]]
        assert "eavesdropper.replay_early_data" not in steps
        assert view(state, Seat.CLIENT)["scenario"] is None


def test_an_unknown_policy_is_refused_as_bad_input() -> None:
    from handshake_game.game import Rejected

    ref = referee()
    state = up_to_the_servers_answer(ref)
    with pytest.raises(Rejected, match="answer early data"):
        decide(state, Seat.SERVER, a.AnswerResumption("sometimes"), ref)


def test_a_forged_binder_is_caught_by_the_server() -> None:
    """The binder check is real: a ClientHello whose binder does not verify ends the handshake."""
    def flip_the_binder(step_id: str, facts: list[Fact]) -> list[Fact]:
        if step_id != "client.resume":  # its last byte, on the ClientHello's way to the server
            return facts
        return [dataclasses.replace(f, payload=f.payload[:-1] + bytes([f.payload[-1] ^ 1]))
                if isinstance(f, MessageDelivered) and f.label == "ClientHello" else f for f in facts]

    ref = referee()
    state = up_to_the_servers_answer(ref, flip_the_binder)
    facts = decide(state, Seat.SERVER, a.AnswerResumption(a.EARLY_DATA_REFUSE), ref)
    for fact in facts:
        state = apply(state, fact)
    assert state.failed is not None and "binder does not verify" in state.failed.reason
    assert not any(isinstance(f, ItemStored) and f.name == "transfer" for f in facts)


@pytest.mark.parametrize("policy", a.EARLY_DATA_POLICIES)
def test_a_client_that_keeps_its_transfer_out_of_0rtt_leaves_the_replay_nothing_to_run(policy: str) -> None:
    """RFC 8446 §8: what is not sent as 0-RTT data cannot be replayed as such. The check that
    acted is the client's, whatever the server's setting."""
    state = play(policy, client=HonestBot())
    sent = [f.label for f in state.wire if isinstance(f, MessageSent) and f.sender is Seat.CLIENT]
    assert "early data" not in sent and "application data" in sent
    assert "transfer_again" not in state.wallets[Seat.SERVER]
    assert not state.attack_succeeded and state.outcome[0] == "attack_stopped"
    assert state.stopped is not None and state.stopped.seat is Seat.CLIENT
    assert state.stopped.check == "no 0-RTT data" and "no request to run again" in state.stopped.reason
    attack = next(v for v in state.verdicts if v.step == "eavesdropper.replay_early_data")
    assert "carried no 0-RTT data" in attack.reason and attack.points == 0
    # The eavesdropper's copy is the client's ClientHello alone.
    copied = [f.label for f in state.wire if isinstance(f, MessageSent) and f.sender is Seat.EAVESDROPPER]
    assert copied == ["ClientHello"]


def test_the_replay_scenarios_bot_client_is_in_a_hurry_and_the_others_play_by_the_book() -> None:
    assert type(house_bot(Scenario.REPLAY, Seat.CLIENT)) is HurriedClientBot
    assert type(house_bot(Scenario.HONEST, Seat.CLIENT)) is HonestBot
    assert type(house_bot(Scenario.REPLAY, Seat.SERVER)) is HonestBot
    assert type(house_bot(Scenario.REPLAY, Seat.EAVESDROPPER)) is AttackerBot
    # and the right answer at the client's seat stays the careful one at a replay table too
    state = _at(Scenario.REPLAY, "client.resume", Difficulty.STANDARD)
    assert correct_action(state, Seat.CLIENT, NOW) == a.ResumeSession(a.PSK_DHE_KE, early_data=False)


def _at(scenario: Scenario, step_id: str, difficulty: Difficulty) -> TableState:
    ref = referee()
    state, _ = open_table(Variant.TLS13, scenario, difficulty)
    while state.current_step is not None and state.current_step.id != step_id:
        step = state.current_step
        for fact in decide(state, step.seat, house_bot(scenario, step.seat).act(state, step.seat), ref):
            state = apply(state, fact)
    assert state.current_step is not None
    return state


@pytest.mark.parametrize(("step_id", "seat"), [("client.resume", Seat.CLIENT),
                                               ("server.resume", Seat.SERVER)])
@pytest.mark.parametrize("difficulty", [Difficulty.STANDARD, Difficulty.EXPERT])
def test_the_client_and_the_server_cannot_tell_a_replay_table_from_an_honest_one(
        step_id: str, seat: Seat, difficulty: Difficulty) -> None:
    """Until the debrief, the replay's client and server see the honest table's steps, each with
    its card, and the same choices at the resumption (a seat sees what its party could know)."""
    honest, attacked = (_at(scenario, step_id, difficulty) for scenario in (Scenario.HONEST, Scenario.REPLAY))
    for other in (Seat.CLIENT, Seat.SERVER):
        shown = [[(step.id, step.act, step.lesson) for step in visible_steps(state, other)[0]]
                 for state in (honest, attacked)]
        assert shown[0] == shown[1]
    assert _canonical(choices(honest, seat, NOW)) == _canonical(choices(attacked, seat, NOW))


def _canonical(menu: list[dict[str, Any]]) -> list[str]:
    """A menu up to the order of its choices and options (each table shuffles its own)."""
    return sorted(str({**choice, "fields": [{**f, "options": sorted(map(str, f.get("options") or []))}
                                            for f in choice["fields"]]}) for choice in menu)
