"""tls13 key-leak with a resumption: the client comes back with its ticket (psk_ke or
psk_dhe_ke, with or without 0-RTT data); the leak hands the eavesdropper the server's ticket
key with its certificate key. The ticket key opens the recorded ticket, so the PSK: the early
data in both modes, the whole resumed session with psk_ke, and nothing else with psk_dhe_ke
(RFC 8446 §2.2, §2.3, §4.2.9). The full handshake of the first session stays closed."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from handshake_game.bots import ResumingBot, play_table
from handshake_game.bots.players import HonestBot
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
    open_table,
    replay,
    view,
)
from handshake_game.game import actions as a
from handshake_game.game.facts import Fact, ItemStored, MessageSent, ServerKeyLeaked
from handshake_game.game.guide import REQUEST, TRANSFER, TRANSFER_DONE, correct_action
from handshake_game.game.instructor import leak_server_key
from handshake_game.game.menu import choices
from handshake_game.game.referee import finish_table
from handshake_game.game.sharing import leaks
from handshake_game.tls import messages as m
from handshake_game.tls.pki import generate_rsa_key

KEYS = [generate_rsa_key() for _ in range(3)]
NOW = datetime.datetime.now(datetime.UTC)


def referee() -> Referee:
    keys = iter(KEYS * 4)
    return Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                   rsa_keys=lambda: next(keys))


def play(mode: str, early_data: bool) -> tuple[TableState, list[Fact]]:
    run = play_table(Variant.TLS13, Scenario.KEY_LEAK, referee(),
                     bots={Seat.CLIENT: ResumingBot(mode, early_data)})
    assert replay(run.facts) == run.state
    for seat in Seat:  # every seat's view against every value any wallet ever held
        assert not leaks(run.state, seat, view(run.state, seat, NOW, dissect=True), run.facts)
    return run.state, run.facts


def _hellos(state: TableState) -> tuple[m.ClientHello, m.ServerHello]:
    sent = {f.label: f.payload for f in state.wire if isinstance(f, MessageSent)}
    hello, server_hello = (m.decode_handshake(sent[label][5:]) for label in ("ClientHello", "ServerHello"))
    assert isinstance(hello, m.ClientHello) and isinstance(server_hello, m.ServerHello)
    return hello, server_hello


@pytest.mark.parametrize(("mode", "early_data"),
                         [(mode, early) for mode in a.PSK_MODES for early in (False, True)])
def test_the_leaked_ticket_key_opens_the_early_data_and_psk_ke_but_not_psk_dhe_ke(
        mode: str, early_data: bool) -> None:
    state, _ = play(mode, early_data)
    assert state.completed and state.key_leaked
    # The leak handed over the server's ticket key with its certificate key.
    assert (state.wallets[Seat.EAVESDROPPER]["leaked_ticket_key"].value
            == state.wallets[Seat.SERVER]["ticket_key"].value)
    (attempt,) = state.decryptions
    plaintext = attempt.plaintext
    # The first session was a full ECDHE handshake: its request never opens.
    assert REQUEST.encode() not in plaintext
    assert "the first session, a full handshake" in attempt.reason and "Forward secrecy" in attempt.reason
    assert "the leaked ticket key opens the recorded ticket" in attempt.reason
    # The early data opens in both modes (RFC 8446 §2.3); the rest only with psk_ke.
    assert (TRANSFER.encode() in plaintext) is (early_data or mode == a.PSK_KE)
    assert (TRANSFER_DONE.encode() in plaintext) is (mode == a.PSK_KE)
    not_forward_secret = "early data is not forward secret with respect to the PSK (RFC 8446 §2.3)"
    assert (not_forward_secret in attempt.reason) is early_data
    if mode == a.PSK_KE:
        assert "psk_ke gives up forward secrecy (RFC 8446 §2.2, §4.2.9)" in attempt.reason
    else:
        assert "resumed session stays closed: forward secrecy (RFC 8446 §2.2, §4.2.9)" in attempt.reason
        assert ("the PSK opens nothing" in attempt.reason) is not early_data
    careful = mode == a.PSK_DHE_KE and not early_data
    assert attempt.succeeded is not careful and state.attack_succeeded is not careful
    verdict = next(v for v in state.verdicts if v.step == "eavesdropper.try_decrypt")
    assert verdict.lesson == "key-leak" and verdict.ok is not careful
    assert verdict.reason.startswith("the recording stays closed") is careful
    assert (state.scores[Seat.EAVESDROPPER] > 0) is not careful


@pytest.mark.parametrize("mode", a.PSK_MODES)
def test_psk_ke_carries_no_key_share_and_both_ends_agree(mode: str) -> None:
    state, _ = play(mode, early_data=False)
    hello, server_hello = _hellos(state)
    dhe = mode == a.PSK_DHE_KE
    assert m.parse_psk_key_exchange_modes(hello.extension(m.ExtensionType.psk_key_exchange_modes) or b"") == (
        (m.PSK_DHE_KE,) if dhe else (m.PSK_KE,))
    # RFC 8446 §4.2.9: with psk_ke neither side sends a key_share.
    assert (hello.extension(m.ExtensionType.key_share) is not None) is dhe
    assert (server_hello.extension(m.ExtensionType.key_share) is not None) is dhe
    assert hello.extension(m.ExtensionType.early_data) is None
    assert not any(f.label == "early data" for f in state.wire)
    client, server = state.wallets[Seat.CLIENT], state.wallets[Seat.SERVER]
    assert client["master_secret"].value == server["master_secret"].value
    assert server["transfer"].value == TRANSFER.encode()  # it came under the 1-RTT keys
    assert ("client_early_traffic_secret" in server) is False


def test_the_careful_client_is_the_guided_move_and_its_menu_offers_both_choices() -> None:
    ref = referee()
    for difficulty in (Difficulty.GUIDED, Difficulty.STANDARD):
        state, _ = open_table(Variant.TLS13, Scenario.KEY_LEAK, difficulty)
        while state.current_step is not None and state.current_step.id != "client.resume":
            step = state.current_step
            action = correct_action(state, step.seat, ref.now())
            assert action is not None
            for fact in decide(state, step.seat, action, ref):
                state = apply(state, fact)
        assert correct_action(state, Seat.CLIENT, ref.now()) == a.ResumeSession(a.PSK_DHE_KE, False)
        choice, *others = choices(state, Seat.CLIENT, ref.now())
        assert choice["action"] == "ResumeSession" and [c["action"] for c in others] == ["RequestHint"]
        assert choice["recommended"] is (difficulty is Difficulty.GUIDED)
        mode, early = choice["fields"]
        assert sorted(o["value"] for o in mode["options"]) == sorted(a.PSK_MODES)
        assert sorted(o["value"] for o in early["options"]) == [False, True]
        guided = difficulty is Difficulty.GUIDED
        assert (mode["default"], early["default"]) == ((a.PSK_DHE_KE, False) if guided else (None, None))
        with pytest.raises(Rejected, match="resume with one of"):
            decide(state, Seat.CLIENT, a.ResumeSession("psk_maybe"), ref)


def test_a_leak_before_the_ticket_still_hands_over_the_ticket_key_at_the_end() -> None:
    """The instructor leaks the server's key early; the ticket key does not exist yet. When the
    table reaches the eavesdropper's attempt, the scenario's leak adds the ticket key alone."""
    ref = referee()
    state, facts = open_table(Variant.TLS13, Scenario.KEY_LEAK)

    def record(new: list[Fact]) -> None:
        nonlocal state
        for fact in new:
            state = apply(state, fact)
            facts.append(fact)

    bots = {seat: HonestBot() for seat in Seat} | {Seat.CLIENT: ResumingBot(a.PSK_KE, True)}
    while (step := state.current_step) is not None:
        if step.id == "client.hello" and not state.key_leaked:
            record(leak_server_key(state))
            assert "leaked_ticket_key" not in state.wallets[Seat.EAVESDROPPER]
        record(decide(state, step.seat, bots[step.seat].act(state, step.seat), ref))
    record(finish_table(state, ref, eavesdropper_is_bot=True))
    assert sum(isinstance(f, ServerKeyLeaked) for f in facts) == 1
    assert [f.name for f in facts if isinstance(f, ItemStored) and f.seat is Seat.EAVESDROPPER
            and f.name == "leaked_ticket_key"] == ["leaked_ticket_key"]
    assert state.decryptions[-1].succeeded and TRANSFER_DONE.encode() in state.decryptions[-1].plaintext
    assert replay(facts) == state
    with pytest.raises(Rejected, match="already been leaked"):
        leak_server_key(state)


def test_before_the_leak_the_ticket_key_in_the_eavesdroppers_view_is_caught() -> None:
    state, facts = play(a.PSK_KE, early_data=True)
    shown = json.dumps(view(state, Seat.EAVESDROPPER, NOW, dissect=True))
    ticket_key = state.wallets[Seat.SERVER]["ticket_key"].value
    assert ticket_key.hex() in shown
    leaked_at = next(i for i, f in enumerate(facts) if isinstance(f, ServerKeyLeaked))
    before = replay(list(facts[:leaked_at]))
    found = {(leak.owner, leak.item) for leak in leaks(before, Seat.EAVESDROPPER, ticket_key.hex())}
    assert found == {(Seat.SERVER, "ticket_key")}
    # The client holds the ticket, never the key that seals it.
    assert {(leak.owner, leak.item) for leak in leaks(state, Seat.CLIENT, ticket_key.hex())} == {
        (Seat.SERVER, "ticket_key"), (Seat.EAVESDROPPER, "leaked_ticket_key")}
