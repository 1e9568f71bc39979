"""The workbench suffices: an expert computes every value its step asks for with the
workbench's operations alone, on its own values; and it never hands a seat a value it does
not hold."""

from __future__ import annotations

import datetime
import os

import pytest

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
from handshake_game.game.guide import correct_action
from handshake_game.game.state import TableState
from handshake_game.game.workbench import compute, inputs, listing
from handshake_game.tls import messages as m
from handshake_game.tls.pki import generate_rsa_key
from handshake_game.tls.suites import CIPHER_SUITES

KEYS = [generate_rsa_key() for _ in range(3)]


def referee() -> Referee:
    keys = iter(KEYS * 8)
    return Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                   rsa_keys=lambda: next(keys))


def play_to(variant: Variant, step_id: str, ref: Referee) -> TableState:
    state, _ = open_table(variant, Scenario.HONEST, Difficulty.EXPERT)
    while state.current_step.id != step_id:
        step = state.current_step
        for fact in decide(state, step.seat, correct_action(state, step.seat, ref.now()), ref):
            state = apply(state, fact)
    return state


def bench(state: TableState, seat: Seat, ref: Referee):
    def run(op: str, **args: str) -> str:
        return compute(state, seat, op, args, ref.rng).hex()
    return run


def suite_hash(state: TableState, seat: Seat) -> str:
    hello = next(x for x in state.decoded(seat) if isinstance(x, m.ServerHello))
    return CIPHER_SUITES[hello.cipher_suite].hash.name  # "sha256" or "sha384"


def transcript_count(state: TableState, seat: Seat) -> int:
    return sum(1 for named in inputs(state, seat) if named.name.startswith("transcript:"))


@pytest.mark.parametrize(("variant", "seat", "step_id"), [
    (Variant.TLS12_RSA, Seat.CLIENT, "client.finished"),
    (Variant.TLS12_ECDHE, Seat.CLIENT, "client.finished"),
    (Variant.TLS12_RSA, Seat.SERVER, "server.finished"),
    (Variant.TLS12_MUTUAL, Seat.SERVER, "server.finished"),
])
def test_a_tls12_expert_computes_every_value_with_the_workbench_alone(variant, seat, step_id) -> None:
    ref = referee()
    state = play_to(variant, step_id, ref)
    want = correct_action(state, seat, ref.now())
    run = bench(state, seat, ref)
    h = suite_hash(state, seat)
    pre_master = run("key_exchange")
    master = run("prf", hash=h, secret=pre_master, label="master secret",
                 seed="@client_random + @server_random", length="48")
    k = len(bytes.fromhex(want.client_write_key_hex))
    iv = len(bytes.fromhex(want.client_write_iv_hex))
    block = bytes.fromhex(run("prf", hash=h, secret=master, label="key expansion",
                              seed="@server_random @client_random", length=str(2 * k + 2 * iv)))
    messages = f"@transcript:{transcript_count(state, seat)}"
    if seat is Seat.CLIENT:
        verify = run("prf", hash=h, secret=master, label="client finished",
                     seed=run("hash", hash=h, data=messages), length="12")
    else:  # the server's Finished hashes the client's Finished too, which it computes itself
        theirs = run("prf", hash=h, secret=master, label="client finished",
                     seed=run("hash", hash=h, data=messages), length="12")
        verify = run("prf", hash=h, secret=master, label="server finished",
                     seed=run("hash", hash=h, data=f"{messages} 1400000c {theirs}"), length="12")
    assert (master, block[:k].hex(), block[k:2 * k].hex(), block[2 * k:2 * k + iv].hex(),
            block[2 * k + iv:].hex(), verify) == (
        want.master_secret_hex, want.client_write_key_hex, want.server_write_key_hex,
        want.client_write_iv_hex, want.server_write_iv_hex, want.verify_data_hex)


def test_a_tls13_expert_computes_its_key_schedule_with_the_workbench_alone() -> None:
    ref = referee()
    state = play_to(Variant.TLS13, "client.check_certificate", ref)
    want = correct_action(state, Seat.CLIENT, ref.now())
    run = bench(state, Seat.CLIENT, ref)
    h = suite_hash(state, Seat.CLIENT)
    size = str(len(want.client_handshake_traffic_secret_hex) // 2)
    zeros = "00" * int(size)
    empty_hash = run("hash", hash=h, data="")
    early = run("hkdf_extract", hash=h, salt="", ikm=zeros)
    derived = run("hkdf_expand_label", hash=h, secret=early, label="derived", context=empty_hash, length=size)
    handshake = run("hkdf_extract", hash=h, salt=derived, ikm=run("key_exchange"))
    hellos = run("hash", hash=h, data="@transcript:2")
    assert run("hkdf_expand_label", hash=h, secret=handshake, label="c hs traffic", context=hellos,
               length=size) == want.client_handshake_traffic_secret_hex
    assert run("hkdf_expand_label", hash=h, secret=handshake, label="s hs traffic", context=hellos,
               length=size) == want.server_handshake_traffic_secret_hex

    for fact in decide(state, Seat.CLIENT, want, ref):
        state = apply(state, fact)
    want = correct_action(state, Seat.CLIENT, ref.now())
    run = bench(state, Seat.CLIENT, ref)
    salt = run("hkdf_expand_label", hash=h, secret=handshake, label="derived", context=empty_hash,
               length=size)
    master = run("hkdf_extract", hash=h, salt=salt, ikm=zeros)
    assert master == want.master_secret_hex
    through_finished = run("hash", hash=h, data=f"@transcript:{transcript_count(state, Seat.CLIENT)}")
    assert run("hkdf_expand_label", hash=h, secret=master, label="c ap traffic", context=through_finished,
               length=size) == want.client_application_traffic_secret_hex
    finished_key = run("hkdf_expand_label", hash=h, secret="@client_handshake_traffic_secret",
                       label="finished", context="", length=size)
    assert run("hmac", hash=h, key=finished_key, data=through_finished) == want.verify_data_hex


def test_names_resolve_only_in_the_seats_own_values() -> None:
    ref = referee()
    state = play_to(Variant.TLS12_RSA, "server.finished", ref)
    server_holds = {named.name for named in inputs(state, Seat.SERVER)}
    client_holds = {named.name for named in inputs(state, Seat.CLIENT)}
    assert "pre_master_secret" in client_holds and "pre_master_secret" not in server_holds
    assert not any(name in server_holds for name in ("server_key", "server_certificate"))  # PEM and DER: no
    with pytest.raises(Rejected, match="no value named"):
        compute(state, Seat.SERVER, "hash", {"hash": "sha256", "data": "@pre_master_secret"}, ref.rng)
    for seat in (Seat.CA, Seat.EAVESDROPPER):
        with pytest.raises(Rejected, match="no key exchange"):
            compute(state, seat, "key_exchange", {}, ref.rng)
        with pytest.raises(Rejected, match="no value named"):
            compute(state, seat, "hmac", {"hash": "sha256", "key": "@pre_master_secret", "data": ""}, ref.rng)
    # The page learns names and sizes, never values.
    shown = str(listing(state, Seat.CLIENT))
    assert state.wallets[Seat.CLIENT]["pre_master_secret"].value.hex() not in shown


@pytest.mark.parametrize("args", [
    {"op": "sha1"},
    {"op": "hash", "hash": "md5", "data": ""},
    {"op": "hash", "hash": "sha256", "data": "zz"},
    {"op": "hash", "hash": "sha256"},
    {"op": "prf", "hash": "sha256", "secret": "00", "label": "x", "seed": "", "length": "0"},
    {"op": "prf", "hash": "sha256", "secret": "00", "label": "x", "seed": "", "length": "5000"},
    {"op": "prf", "hash": "sha256", "secret": "00", "label": "ключ", "seed": "", "length": "12"},
    {"op": "hkdf_expand_label", "hash": "sha256", "secret": "00", "label": "x", "context": "",
     "length": "ten"},
])
def test_malformed_operations_are_typed_errors(args: dict[str, str]) -> None:
    state, _ = open_table(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.EXPERT)
    op = args.pop("op")
    with pytest.raises(Rejected) as refused:
        compute(state, Seat.CLIENT, op, args, os.urandom)
    assert refused.value.code.value == "bad_input"
