"""Expert difficulty: the student computes every value its step derives; each empty or wrong
value is a mistake, and the table plays the student's values with their real consequences.

The right values are computed here independently of ``game.expert`` and the handlers, from
the seat's own wallet and wire with the RFC formulas (the PRF and HKDF of ``tls.keyschedule``
and ``tls.keyschedule13`` are checked against RFC 5246 and RFC 8448 vectors elsewhere).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import random

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import x25519

from handshake_game.game import (
    Difficulty,
    Referee,
    Rejected,
    Scenario,
    Seat,
    Variant,
    apply,
    decide,
    open_table,
)
from handshake_game.game import actions as a
from handshake_game.game.facts import HandshakeFailed, Verdict
from handshake_game.game.guide import correct_action
from handshake_game.game.state import TableState
from handshake_game.tls import messages as m
from handshake_game.tls.keyschedule import prf
from handshake_game.tls.keyschedule13 import hkdf_expand_label, hkdf_extract
from handshake_game.tls.pki import generate_rsa_key
from handshake_game.tls.suites import CIPHER_SUITES

KEYS = [generate_rsa_key() for _ in range(3)]
EXPERT_STEPS = {False: {"client.finished", "server.finished", "client.verify_finished"},
                True: {"client.check_certificate", "client.finished", "server.verify_finished"}}


def referee() -> Referee:
    keys = iter(KEYS * 8)
    return Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                   rsa_keys=lambda: next(keys))


def play_to(variant: Variant, step_id: str, ref: Referee) -> TableState:
    state, _ = open_table(variant, Scenario.HONEST, Difficulty.EXPERT)
    now = ref.now()
    while state.current_step is not None and state.current_step.id != step_id:
        step = state.current_step
        for fact in decide(state, step.seat, correct_action(state, step.seat, now), ref):
            state = apply(state, fact)
    assert state.current_step is not None, f"{variant.value} never reached {step_id}"
    return state


def play_on(state: TableState, ref: Referee, action: a.Action | None = None) -> tuple[TableState, list]:
    """Plays ``action`` (or the careful move) now, then careful moves to the end."""
    facts = []
    now = ref.now()
    while (step := state.current_step) is not None:
        move = action if action is not None else correct_action(state, step.seat, now)
        action = None
        new = decide(state, step.seat, move, ref)
        facts += new
        for fact in new:
            state = apply(state, fact)
    return state, facts


def verdicts(facts: list, step: str) -> list[Verdict]:
    return [f for f in facts if isinstance(f, Verdict) and f.step == step]


def hello_randoms(state: TableState, seat: Seat) -> tuple[bytes, bytes]:
    messages = state.decoded(seat)
    client = next(x for x in messages if isinstance(x, m.ClientHello))
    server = next(x for x in messages if isinstance(x, m.ServerHello))
    return client.random, server.random


@pytest.mark.parametrize("variant", list(Variant))
def test_a_careful_expert_computes_every_value_right_and_the_table_completes(variant: Variant) -> None:
    ref = referee()
    state, _ = open_table(variant, Scenario.HONEST, Difficulty.EXPERT)
    state, facts = play_on(state, ref)
    assert state.completed, state.failed
    judged = [v for v in facts if isinstance(v, Verdict) and "you computed every value yourself" in v.reason]
    assert {v.step for v in judged} == EXPERT_STEPS[variant is Variant.TLS13]
    assert len(judged) == 3
    assert all(v.ok for v in facts if isinstance(v, Verdict) and v.seat is not Seat.EAVESDROPPER)


def test_the_tls12_values_are_the_rfc_5246_values_from_the_seats_own_inputs() -> None:
    ref = referee()
    state = play_to(Variant.TLS12_ECDHE, "client.finished", ref)
    move = correct_action(state, Seat.CLIENT, ref.now())
    client_random, server_random = hello_randoms(state, Seat.CLIENT)
    hello = next(x for x in state.decoded(Seat.CLIENT) if isinstance(x, m.ServerHello))
    suite = CIPHER_SUITES[hello.cipher_suite]
    pre_master = state.wallets[Seat.CLIENT]["pre_master_secret"].value
    master = prf(suite.hash, pre_master, b"master secret", client_random + server_random, 48)
    k, iv = suite.key_length, suite.fixed_iv_length  # RFC 5288: 16 or 32, and a 4-byte salt
    block = prf(suite.hash, master, b"key expansion", server_random + client_random, 2 * k + 2 * iv)
    transcript = b"".join(m.encode_handshake(x) for x in state.decoded(Seat.CLIENT))
    digest = hashlib.new(suite.hash.name, transcript).digest()
    verify = prf(suite.hash, master, b"client finished", digest, 12)
    assert (move.master_secret_hex, move.client_write_key_hex, move.server_write_key_hex,
            move.client_write_iv_hex, move.server_write_iv_hex, move.verify_data_hex) == (
        master.hex(), block[:k].hex(), block[k:2 * k].hex(), block[2 * k:2 * k + iv].hex(),
        block[2 * k + iv:].hex(), verify.hex())


def _deriver(algorithm: hashes.HashAlgorithm):
    """RFC 8446 §7.1 Derive-Secret with the suite's hash."""
    def derive(secret: bytes, label: bytes, messages: bytes) -> bytes:
        digest = hashlib.new(algorithm.name, messages).digest()
        return hkdf_expand_label(algorithm, secret, label, digest, algorithm.digest_size)
    return derive


def test_the_tls13_values_are_the_rfc_8446_key_schedule_from_the_clients_own_inputs() -> None:
    ref = referee()
    state = play_to(Variant.TLS13, "client.check_certificate", ref)
    move = correct_action(state, Seat.CLIENT, ref.now())
    hello = next(x for x in state.decoded(Seat.CLIENT) if isinstance(x, m.ServerHello))
    HASH = CIPHER_SUITES[hello.cipher_suite].hash  # noqa: N806
    size, _derive = HASH.digest_size, _deriver(HASH)
    _, share = m.parse_key_share_server(hello.extension(m.ExtensionType.key_share) or b"")
    private = x25519.X25519PrivateKey.from_private_bytes(state.wallets[Seat.CLIENT]["ecdhe_private"].value)
    shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(share))
    hellos = b"".join(m.encode_handshake(x) for x in state.decoded(Seat.CLIENT))
    early = hkdf_extract(HASH, b"", bytes(size))
    handshake = hkdf_extract(HASH, _derive(early, b"derived", b""), shared)
    assert move.client_handshake_traffic_secret_hex == _derive(handshake, b"c hs traffic", hellos).hex()
    assert move.server_handshake_traffic_secret_hex == _derive(handshake, b"s hs traffic", hellos).hex()

    for fact in decide(state, Seat.CLIENT, move, ref):
        state = apply(state, fact)
    move = correct_action(state, Seat.CLIENT, ref.now())
    wallet = state.wallets[Seat.CLIENT]
    through_finished = wallet["handshake_log"].value + wallet["server_finished"].value
    master = hkdf_extract(HASH, _derive(handshake, b"derived", b""), bytes(size))
    assert move.master_secret_hex == master.hex()
    for side in ("client", "server"):
        label = f"{side[0]} ap traffic".encode()
        assert getattr(move, f"{side}_application_traffic_secret_hex") == _derive(
            master, label, through_finished).hex()
    finished_key = hkdf_expand_label(HASH, wallet["client_handshake_traffic_secret"].value,
                                     b"finished", b"", size)
    mac = hmac.HMAC(finished_key, HASH)
    mac.update(hashlib.new(HASH.name, through_finished).digest())
    assert move.verify_data_hex == mac.finalize().hex()


def test_every_empty_value_is_a_mistake_and_the_game_plays_the_real_one() -> None:
    ref = referee()
    state = play_to(Variant.TLS12_RSA, "client.finished", ref)
    before = state.scores[Seat.CLIENT]
    state, facts = play_on(state, ref, a.DeriveAndSendFinished())
    mine = verdicts(facts, "client.finished")
    assert len(mine) == 6 and not any(v.ok for v in mine)
    assert all("empty" in v.reason and "RFC 5246" in v.reason for v in mine)
    # then verify_finished (+10, and +10 for computing the server's verify_data), send, read
    assert state.scores[Seat.CLIENT] - before == 6 * -5 + 4 * 10
    assert state.completed  # the real values were played


def _flip(value: str) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[0] ^= 1
    return raw.hex()


@pytest.mark.parametrize(("name", "seat", "why"), [
    ("client_write_key_hex", Seat.SERVER, "bad_record_mac"),
    ("client_write_iv_hex", Seat.SERVER, "bad_record_mac"),
    ("verify_data_hex", Seat.SERVER, "verify_data differs"),
    # right keys and verify_data but a wrong master: the server is satisfied, and the client's
    # own keys for the server's Finished (from its master) do not open it
    ("master_secret_hex", Seat.CLIENT, "does not decrypt"),
])
def test_a_wrong_tls12_value_is_played_and_a_real_finished_check_stops_it(name: str, seat: Seat,
                                                                        why: str) -> None:
    ref = referee()
    state = play_to(Variant.TLS12_ECDHE, "client.finished", ref)
    right = correct_action(state, Seat.CLIENT, ref.now())
    wrong = dataclasses.replace(right, **{name: _flip(getattr(right, name))})
    state, facts = play_on(state, ref, wrong)
    (mistake,) = verdicts(facts, "client.finished")
    assert not mistake.ok and mistake.points == -5
    assert state.failed == HandshakeFailed(seat, "finished", state.failed.reason)
    assert why in state.failed.reason


@pytest.mark.parametrize(("step_id", "name", "seat", "check"), [
    ("client.check_certificate", "client_handshake_traffic_secret_hex", Seat.SERVER, "finished"),
    ("client.check_certificate", "server_handshake_traffic_secret_hex", Seat.CLIENT, "finished"),
    ("client.finished", "verify_data_hex", Seat.SERVER, "finished"),
    ("client.finished", "client_application_traffic_secret_hex", Seat.SERVER, "record protection"),
    ("client.finished", "server_application_traffic_secret_hex", Seat.CLIENT, "record protection"),
])
def test_a_wrong_tls13_value_is_played_and_a_real_check_stops_it(step_id: str, name: str, seat: Seat,
                                                                 check: str) -> None:
    ref = referee()
    state = play_to(Variant.TLS13, step_id, ref)
    right = correct_action(state, Seat.CLIENT, ref.now())
    state, facts = play_on(state, ref, dataclasses.replace(right, **{name: _flip(getattr(right, name))}))
    assert [v.ok for v in verdicts(facts, step_id)].count(False) == 1
    assert state.failed is not None and (state.failed.seat, state.failed.check) == (seat, check)


def test_the_tls13_server_computes_the_finished_it_checks() -> None:
    ref = referee()
    state = play_to(Variant.TLS13, "server.verify_finished", ref)
    right = correct_action(state, Seat.SERVER, ref.now())
    assert right.verify_data_hex is not None
    state, _ = play_on(state, ref, dataclasses.replace(right, verify_data_hex=_flip(right.verify_data_hex)))
    assert state.failed == HandshakeFailed(Seat.SERVER, "finished", "the client's verify_data differs")


def test_malformed_or_missized_values_are_refused_and_change_nothing() -> None:
    ref = referee()
    state = play_to(Variant.TLS12_RSA, "client.finished", ref)
    right = correct_action(state, Seat.CLIENT, ref.now())
    for bad in [{"master_secret_hex": "not hex"}, {"client_write_key_hex": "00" * 48},
                {"verify_data_hex": "ab" * 200}]:
        with pytest.raises(Rejected) as refused:
            decide(state, Seat.CLIENT, dataclasses.replace(right, **bad), ref)
        assert refused.value.code.value == "bad_input"


def test_below_expert_no_value_is_asked_and_none_is_judged() -> None:
    ref = referee()
    state, _ = open_table(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD)
    while state.current_step.id != "client.finished":
        step = state.current_step
        for fact in decide(state, step.seat, correct_action(state, step.seat, ref.now()), ref):
            state = apply(state, fact)
    junk = a.DeriveAndSendFinished(master_secret_hex=random.Random(1).randbytes(48).hex())
    state, facts = play_on(state, ref, junk)
    assert state.completed
    assert all(v.ok for v in facts if isinstance(v, Verdict) and v.seat is not Seat.EAVESDROPPER)
