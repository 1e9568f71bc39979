"""weak-dh: a downgrade that really breaks. The server still enables an export-grade DH group;
the eavesdropper strips the strong suites, computes the discrete logarithm of the server's
share, forges both Finished messages and reads the traffic — unless the client refuses the
weak group, the server checks the client's CertificateVerify (mutual TLS), or it is TLS 1.3."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from handshake_game.bots import TrustingBot, play_table
from handshake_game.bots.players import HonestBot
from handshake_game.game import Referee, Scenario, Seat, Variant, replay
from handshake_game.game import actions as a
from handshake_game.game.guide import REQUEST, RESPONSE
from handshake_game.game.model import WEAK_DH_SUITE
from handshake_game.tls import messages as m
from handshake_game.tls import weakdh
from handshake_game.tls.pki import generate_rsa_key
from handshake_game.tls.suites import suite_by_name

KEYS = [generate_rsa_key() for _ in range(4)]


def referee() -> Referee:
    keys = iter(KEYS * 4)
    return Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                   rsa_keys=lambda: next(keys))


@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS12_ECDHE])
def test_a_client_that_takes_the_weak_group_is_read_and_both_finished_messages_are_forged(
        variant: Variant) -> None:
    run = play_table(variant, Scenario.WEAK_DH, referee(), bots={Seat.CLIENT: TrustingBot()})
    state = run.state
    # The server really agreed to the export-grade group: the downgrade worked.
    hello = next(msg for msg in state.decoded(Seat.CLIENT) if isinstance(msg, m.ServerHello))
    assert hello.cipher_suite == suite_by_name(WEAK_DH_SUITE).code
    params = next(msg for msg in state.decoded(Seat.CLIENT) if isinstance(msg, m.DhServerKeyExchange))
    assert weakdh.group_bits(params.p) < 2048
    # The eavesdropper found the server's private value and the one master secret of both sides.
    eve, server, client = (state.wallets[seat] for seat in (Seat.EAVESDROPPER, Seat.SERVER, Seat.CLIENT))
    master = eve["recovered_master_secret"].value
    assert master == server["master_secret"].value == client["master_secret"].value
    # Both Finished checks passed on forged messages; nothing stopped the handshake.
    assert state.completed and state.failed is None and state.detected_by is None
    finished = [v for v in state.verdicts if v.step in ("server.finished", "client.verify_finished")]
    assert len(finished) == 2 and all(v.ok for v in finished)
    forged = [f for f in state.wire if getattr(f, "altered", False) and f.label == "Finished"]
    assert {f.recipient for f in forged} == {Seat.CLIENT, Seat.SERVER}
    # ... and it read both sides of the conversation.
    assert state.attack_succeeded and state.outcome[0] == "attack_succeeded"
    read = b"".join(state.attacker_read)
    assert REQUEST.encode() in read and RESPONSE.encode() in read
    taken = next(v for v in state.verdicts if v.step == "client.check_certificate")
    assert not taken.ok and "export grade" in taken.reason
    assert replay(run.facts) == state


@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS12_ECDHE, Variant.TLS12_MUTUAL])
def test_a_client_that_refuses_weak_groups_stops_it(variant: Variant) -> None:
    state = play_table(variant, Scenario.WEAK_DH, referee()).state
    refused = next(v for v in state.verdicts if v.step == "client.check_certificate")
    assert refused.ok and refused.points > 0
    assert state.detected_by == "key exchange group" and state.failed is not None
    assert state.failed.seat is Seat.CLIENT
    assert not state.attack_succeeded and state.attacker_read == ()
    assert state.outcome[0] == "attack_stopped"
    assert "recovered_master_secret" not in state.wallets[Seat.EAVESDROPPER]


def test_mutual_tls_stops_it_at_the_clients_certificate_verify() -> None:
    state = play_table(Variant.TLS12_MUTUAL, Scenario.WEAK_DH, referee(),
                       bots={Seat.CLIENT: TrustingBot()}).state
    # The client's CertificateVerify signs the ClientHello it sent; the server saw the stripped one.
    assert state.detected_by == "client certificate verify" and not state.completed
    assert not state.attack_succeeded


def test_tls13_has_no_weak_group_to_fall_back_to() -> None:
    state = play_table(Variant.TLS13, Scenario.WEAK_DH, referee(), bots={Seat.CLIENT: TrustingBot()}).state
    assert state.detected_by == "suite negotiation" and state.failed is not None
    assert state.failed.seat is Seat.SERVER and not state.attack_succeeded
    assert state.outcome[0] == "attack_stopped"


@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS12_ECDHE])
def test_without_the_strip_the_server_takes_its_strongest_suite(variant: Variant) -> None:
    class Forwarder(HonestBot):  # an eavesdropper that does not attack
        def choose(self, step_id, state, seat):  # type: ignore[no-untyped-def]
            if step_id == "eavesdropper.try_decrypt":  # its last move: read the recording, if it can
                return super().choose(step_id, state, seat)
            return a.Forward()

    state = play_table(variant, Scenario.WEAK_DH, referee(), bots={Seat.EAVESDROPPER: Forwarder()}).state
    assert state.completed and not state.attack_succeeded
    hello = next(msg for msg in state.decoded(Seat.CLIENT) if isinstance(msg, m.ServerHello))
    assert hello.cipher_suite != suite_by_name(WEAK_DH_SUITE).code


def test_the_inspector_dissects_the_dh_messages_as_dh_under_their_tls_names() -> None:
    from handshake_game.game import view

    state = play_table(Variant.TLS12_RSA, Scenario.WEAK_DH, referee(),
                       bots={Seat.CLIENT: TrustingBot()}).state
    shown = view(state, Seat.EAVESDROPPER, dissect=True)
    names = json.dumps([entry.get("dissection") for entry in shown["wire"]
                        if entry["label"] in ("ServerKeyExchange", "ClientKeyExchange")])
    assert "dh_p" in names and "dh_Ys" in names and "dh_Yc" in names, names
    assert "encrypted premaster" not in names.lower()
    assert not any(entry["label"].startswith("Dh") for entry in shown["wire"])
