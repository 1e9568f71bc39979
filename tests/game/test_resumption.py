"""The tls13 resumption phase of an honest (and a passive, and a key-leak) table: after the first
session the server sends a NewSessionTicket, and the client's second visit resumes with it
(pre_shared_key and its binder; psk_dhe_ke by default, psk_ke or 0-RTT if it chooses), with no
Certificate and no CertificateVerify (RFC 8446 §2.2, §4.2.10, §4.2.11, §4.6.1). The server's
0-RTT verdict is computed from the ticket's age on the game's timeline (§4.2.11.1, §8.3), and
says what really happened when no early data came."""

from __future__ import annotations

import datetime
import json
import os
import random

import pytest

from handshake_game.bots import ResumingBot, play_table
from handshake_game.bots.players import CarelessBot, HonestBot
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
    zerortt,
)
from handshake_game.game import actions as a
from handshake_game.game.catalog import steps_for
from handshake_game.game.facts import Fact, MessageSent
from handshake_game.game.guide import TRANSFER, TRANSFER_DONE, correct_action
from handshake_game.game.menu import choices
from handshake_game.game.sharing import leaks
from handshake_game.game.views import debrief, visible_steps
from handshake_game.lessons import load_cards
from handshake_game.tls import messages as m
from handshake_game.tls.pki import generate_rsa_key

KEYS = [generate_rsa_key() for _ in range(3)]
NOW = datetime.datetime.now(datetime.UTC)
SECOND_VISIT = ["server.new_session_ticket", "client.resume", "server.resume", "client.resume_finished",
                "server.resume_verify", "client.send_transfer", "server.answer_transfer",
                "client.read_transfer"]


def referee() -> Referee:
    keys = iter(KEYS * 4)
    return Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                   rsa_keys=lambda: next(keys))


def play(scenario: Scenario = Scenario.HONEST, mode: str = a.PSK_DHE_KE, early_data: bool = False,
         policy: str | None = None) -> tuple[TableState, list[Fact]]:
    bot = ResumingBot(mode, early_data, policy)
    run = play_table(Variant.TLS13, scenario, referee(), bots={Seat.CLIENT: bot, Seat.SERVER: bot})
    assert replay(run.facts) == run.state
    for seat in Seat:  # every seat's view against every value any wallet ever held
        assert not leaks(run.state, seat, view(run.state, seat, NOW, dissect=True), run.facts)
    return run.state, run.facts


def _verdict(state: TableState, step_id: str) -> str:
    (reason,) = [v.reason for v in state.verdicts if v.step == step_id]
    return reason


def _sent(state: TableState, sender: Seat) -> list[str]:
    return [f.label for f in state.wire if isinstance(f, MessageSent) and f.sender is sender]


# -- the phase in the honest table ------------------------------------------------------------------

def test_the_honest_tls13_table_goes_on_to_a_resumed_second_visit() -> None:
    ids = [step.id for step in steps_for(Variant.TLS13, Scenario.HONEST)]
    first = ids.index("client.read_data") + 1
    assert ids[first:] == [*SECOND_VISIT, "eavesdropper.try_decrypt"]
    state, _ = play()
    assert state.completed and state.outcome[0] == "completed" and not state.attack_succeeded
    # The first session was a full handshake with a certificate, and ended with the ticket.
    (first_session,) = state.past_sessions
    server_first = [f.label for f in first_session if isinstance(f, MessageSent) and f.sender is Seat.SERVER]
    assert "Certificate" in server_first and "CertificateVerify" in server_first
    assert server_first[-1] == "NewSessionTicket"
    # The second: fewer messages, no certificate; the PSK authenticates the server (RFC 8446 §2.2).
    assert _sent(state, Seat.SERVER) == ["ServerHello", "EncryptedExtensions", "Finished", "application data"]
    assert _sent(state, Seat.CLIENT) == ["ClientHello", "Finished", "application data"]
    hello = m.decode_handshake(state.wire[0].payload[5:])
    assert isinstance(hello, m.ClientHello)
    assert hello.extensions and hello.extensions[-1].type == m.ExtensionType.pre_shared_key  # last
    assert m.parse_psk_key_exchange_modes(hello.extension(m.ExtensionType.psk_key_exchange_modes) or b"") == (
        m.PSK_DHE_KE,)
    assert hello.extension(m.ExtensionType.key_share) and hello.extension(m.ExtensionType.early_data) is None
    client, server = state.wallets[Seat.CLIENT], state.wallets[Seat.SERVER]
    assert client["resumption_psk"].value == server["resumption_psk"].value
    assert client["master_secret"].value == server["master_secret"].value
    assert client["shared_secret"].value == server["shared_secret"].value  # psk_dhe_ke: a fresh x25519
    assert server["transfer"].value == TRANSFER.encode()
    assert client["response"].value == TRANSFER_DONE.encode()
    # The eavesdropper recorded both connections and reads neither.
    (attempt,) = state.decryptions
    assert not attempt.succeeded and "The resumed session: its keys start from the PSK" in attempt.reason


@pytest.mark.parametrize(("mode", "early_data", "policy"), [
    (mode, early, policy) for mode in a.PSK_MODES for early in (False, True)
    for policy in a.EARLY_DATA_POLICIES])
def test_every_choice_of_client_and_server_completes_an_honest_table(mode: str, early_data: bool,
                                                                     policy: str) -> None:
    state, _ = play(mode=mode, early_data=early_data, policy=policy)
    assert state.completed
    taken = early_data and policy != a.EARLY_DATA_REFUSE
    assert ("client.send_transfer" in {v.step for v in state.verdicts}) is not taken
    assert _sent(state, Seat.CLIENT) == ["ClientHello", *(["early data"] if early_data else []),
                                         *(["EndOfEarlyData"] if taken else []), "Finished",
                                         *([] if taken else ["application data"])]
    # RFC 8446 §4.2.9: psk_ke means no key share on either side.
    labels = [f.label for f in state.wire]
    server_hello = m.decode_handshake(state.wire[labels.index("ServerHello")].payload[5:])
    assert isinstance(server_hello, m.ServerHello)
    assert (server_hello.extension(m.ExtensionType.key_share) is not None) is (mode == a.PSK_DHE_KE)
    assert state.wallets[Seat.SERVER]["transfer"].value == TRANSFER.encode()
    assert state.wallets[Seat.CLIENT]["response"].value == TRANSFER_DONE.encode()
    assert not state.request_replayed and not state.attack_succeeded


def test_the_debrief_ladder_shows_both_connections() -> None:
    state, _ = play()
    rows = [(row["event"], row["label"]) for row in debrief(state)["ladder"]]
    assert len(rows) == len(state.past_sessions[0]) + len(state.wire)
    assert rows.count(("sent", "ClientHello")) == 2 and ("sent", "Certificate") in rows
    assert rows[-1] == ("delivered", "application data")


def test_the_passive_table_faces_the_resumed_session_too() -> None:
    honest = [s for s in steps_for(Variant.TLS13, Scenario.HONEST) if s.seat is not Seat.EAVESDROPPER]
    for scenario in (Scenario.PASSIVE, Scenario.KEY_LEAK):
        # The client and the server play the very same steps: they do not tell the scenario.
        assert [s for s in steps_for(Variant.TLS13, scenario) if s.seat is not Seat.EAVESDROPPER] == honest
    state, _ = play(Scenario.PASSIVE, early_data=True)
    assert state.completed and state.steps[-1].id == "eavesdropper.try_decrypt"
    (attempt,) = state.decryptions
    # Even the 0-RTT data stays closed: the PSK is sealed in the ticket, under a key it lacks.
    assert not attempt.succeeded and not attempt.plaintext
    assert "sealed under the server's ticket key, which the eavesdropper does not hold" in attempt.reason


def test_a_seat_in_the_dark_reads_no_attack_in_the_resumption() -> None:
    """Before the debrief, the client and the server of an honest table see the resumption steps'
    words, their own verdicts and the resumption's card: no attacker, no replay, no scenario. (The
    application-data card these steps share with the first session speaks of records in general.)"""
    state, _ = open_table(Variant.TLS13, Scenario.HONEST, Difficulty.GUIDED)
    ref = referee()
    cards = load_cards()
    words: list[str] = []
    while (step := state.current_step) is not None and step.seat is not Seat.EAVESDROPPER:
        if step.id in SECOND_VISIT:
            shown = view(state, step.seat, NOW, dissect=True)
            assert shown["scenario"] is None
            menu = json.dumps(choices(state, step.seat, NOW))
            words += [step.label, step.act, menu, shown["offered"]["why"]]
            if step.lesson != "application-data":
                card = cards[step.lesson]
                words += [card.title, card.body, *(q.question for q in card.quiz),
                          *(q.explanation for q in card.quiz), *(c for q in card.quiz for c in q.choices)]
        action = correct_action(state, step.seat, NOW)
        assert action is not None
        for fact in decide(state, step.seat, action, ref):
            state = apply(state, fact)
    words += [v.reason for v in state.verdicts if v.step in SECOND_VISIT]
    assert {v.step for v in state.verdicts} >= set(SECOND_VISIT)
    # "anti-replay" names the server's 0-RTT setting (RFC 8446 §8), the same at every table.
    text = " ".join(words).lower().replace("anti-replay", "")
    for telling in ("eavesdropper", "attack", "replay", "honest", "passive", "key-leak", "leaked"):
        assert telling not in text, telling
    for seat in (Seat.CLIENT, Seat.SERVER):
        ids = [step.id for step in visible_steps(state, seat)[0]]
        assert ids[-len(SECOND_VISIT):] == SECOND_VISIT


def test_careless_bots_still_play_an_honest_tls13_table_to_its_end() -> None:
    resumed = 0
    for seed in range(8):
        bots: dict[Seat, HonestBot] = {seat: CarelessBot(rate=0.3, random=random.Random(seed))
                                       for seat in (Seat.CLIENT, Seat.SERVER)}
        run = play_table(Variant.TLS13, Scenario.HONEST, referee(), bots=bots)
        assert run.state.over and replay(run.facts) == run.state
        if "client.read_transfer" in {v.step for v in run.state.verdicts}:
            resumed += 1  # a slip at server.resume (0-RTT without anti-replay) still ends the table
            assert run.state.completed and "response" in run.state.wallets[Seat.CLIENT]
    assert resumed > 0  # the random cases got as far as the end of the second visit


# -- the ticket's age (RFC 8446 §4.2.11.1, §8.3) ----------------------------------------------------

def test_the_ticket_age_is_reported_obfuscated_and_checked_against_the_servers_clock() -> None:
    state, _ = play(early_data=True, policy=a.EARLY_DATA_SINGLE_USE)
    hello = m.decode_handshake(state.wire[0].payload[5:])
    assert isinstance(hello, m.ClientHello)
    (identity, *_), _ = m.parse_pre_shared_key_client(hello.extension(m.ExtensionType.pre_shared_key) or b"")
    age_add = _ticket_age_add(state)
    # The client's age: the game's timeline, not the wall clock between two moves.
    return_ms = int(zerortt.RETURN_AFTER.total_seconds() * 1000)
    assert (identity.obfuscated_ticket_age - age_add) % 2**32 == return_ms
    assert identity.obfuscated_ticket_age != return_ms or age_add == 0  # obfuscated on the wire
    reason = _verdict(state, "server.resume")
    one_way = int(zerortt.ONE_WAY.total_seconds() * 1000)
    assert (f"is {return_ms} ms; by the server's own clock the ticket was sealed "
            f"{return_ms + 2 * one_way} ms before this ClientHello arrived: {2 * one_way} ms apart, "
            f"within its {zerortt.FRESHNESS_WINDOW_MS} ms window (RFC 8446 §8.3)") in reason
    assert "transfer" in state.wallets[Seat.SERVER] and "EndOfEarlyData" in _sent(state, Seat.CLIENT)


def _ticket_age_add(state: TableState) -> int:
    """The ticket_age_add of the NewSessionTicket, read from the server's ticket (it sealed it)."""
    from handshake_game.game.ticketleak import open_ticket

    hello = m.decode_handshake(state.wire[0].payload[5:])
    assert isinstance(hello, m.ClientHello)
    (identity, *_), _ = m.parse_pre_shared_key_client(hello.extension(m.ExtensionType.pre_shared_key) or b"")
    sealed = open_ticket(state.wallets[Seat.SERVER]["ticket_key"].value, identity.identity)
    assert sealed is not None
    return sealed.ticket_age_add


def test_an_age_outside_the_window_refuses_the_0rtt_data_and_keeps_the_psk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant the fault: the client reports ten minutes, but by the server's clock an hour has gone.
    The server takes the PSK and refuses the early data; the request comes again in 1-RTT."""
    ref = referee()
    state, _ = open_table(Variant.TLS13, Scenario.HONEST)
    bot = ResumingBot(a.PSK_DHE_KE, True, a.EARLY_DATA_NO_ANTI_REPLAY)
    while (step := state.current_step) is not None:
        if step.id == "server.resume":
            monkeypatch.setattr(zerortt, "RETURN_AFTER", datetime.timedelta(hours=1))
        for fact in decide(state, step.seat, bot.act(state, step.seat), ref):
            state = apply(state, fact)
    assert state.completed and "client_early_traffic_secret" not in state.wallets[Seat.SERVER]
    reason = _verdict(state, "server.resume")
    assert "more than its 10000 ms window, so the server takes the PSK but refuses the 0-RTT data" in reason
    assert "accepted the 0-RTT transfer" not in reason
    assert "EndOfEarlyData" not in _sent(state, Seat.CLIENT)
    assert "client.send_transfer" in {v.step for v in state.verdicts}  # it came again, under 1-RTT keys
    assert "the 0-RTT request was refused" in _verdict(state, "client.resume_finished")


# -- what the verdicts say when no early data came --------------------------------------------------

@pytest.mark.parametrize("policy", a.EARLY_DATA_POLICIES)
@pytest.mark.parametrize("scenario", [Scenario.HONEST, Scenario.KEY_LEAK])
def test_without_early_data_the_verdicts_say_none_came(scenario: Scenario, policy: str) -> None:
    state, _ = play(scenario, early_data=False, policy=policy)
    reason = _verdict(state, "server.resume")
    assert "the client sent no early data" in reason
    assert "refused the 0-RTT data" not in reason and "accepted the 0-RTT transfer" not in reason
    assert "ticket's age" not in reason  # the age matters to 0-RTT data only
    assert ("is a mistake even unused" in reason) is (policy == a.EARLY_DATA_NO_ANTI_REPLAY)
    finished = _verdict(state, "client.resume_finished")
    assert "You sent no early data" in finished and "refused" not in finished


def test_the_1rtt_request_is_offered_again_only_after_refused_early_data() -> None:
    for early_data, again in ((False, False), (True, True)):
        ref = referee()
        state, _ = open_table(Variant.TLS13, Scenario.HONEST, Difficulty.GUIDED)
        bot = ResumingBot(a.PSK_DHE_KE, early_data, a.EARLY_DATA_REFUSE)
        while (step := state.current_step) is not None and step.id != "client.send_transfer":
            for fact in decide(state, step.seat, bot.act(state, step.seat), ref):
                state = apply(state, fact)
        (choice, _hint) = choices(state, Seat.CLIENT, NOW)
        assert ("again" in choice["label"]) is again


def test_the_card_states_the_games_timeline_as_zerortt_runs_it() -> None:
    body = " ".join(load_cards()["tls13-resumption"].body.split())
    one_way = int(zerortt.ONE_WAY.total_seconds() * 1000)
    minutes = int(zerortt.RETURN_AFTER.total_seconds() // 60)
    assert f"the ticket takes {one_way} ms to reach the client" in body
    assert f"the client comes back {minutes} minutes later" in body
    assert f"another {one_way} ms" in body
    assert f"against a {zerortt.FRESHNESS_WINDOW_MS // 1000}-second window" in body


def test_at_the_second_visit_the_first_visits_texts_are_marked_as_earlier() -> None:
    """The console shows what is new in this connection: a text left from the first visit (the
    client's last answer, the server's last request) is marked, the new ones are not."""
    ref, bot = referee(), HonestBot()
    state, _ = open_table(Variant.TLS13, Scenario.HONEST)
    while state.current_step is not None and state.current_step.id != "client.read_transfer":
        step = state.current_step
        for fact in decide(state, step.seat, bot.act(state, step.seat), ref):
            state = apply(state, fact)
    client, server = (view(state, seat)["wallet"] for seat in (Seat.CLIENT, Seat.SERVER))
    assert client["response"].get("earlier") is True and "earlier" not in client["sent_data"]
    assert bytes.fromhex(client["sent_data"]["value"]) == TRANSFER.encode()
    assert server["request"].get("earlier") is True
    assert "earlier" not in server["transfer"] and "earlier" not in server["sent_data"]
