"""The byte inspector in a seat's view (``game/inspector.py`` through ``views.view``): every record
header dissected, encrypted records opened with the seat's own keys (inner plaintext dissected,
the nonce shown and checked against an independent computation), ciphertext for a seat without
the keys — and planted faults (a wrong nonce, keys handed to the eavesdropper) are caught."""

from __future__ import annotations

import datetime
import json
import os
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from handshake_game.bots import play_table
from handshake_game.bots.players import HonestBot
from handshake_game.game import (
    Referee,
    Scenario,
    Seat,
    TableState,
    Variant,
    apply,
    decide,
    inspector,
    open_table,
    view,
)
from handshake_game.game.facts import ItemStored, MessageSent
from handshake_game.game.sharing import leaks
from handshake_game.tls.pki import generate_rsa_key
from handshake_game.tls.suites import CIPHER_SUITES

KEYS = [generate_rsa_key() for _ in range(3)]
FLIGHT = {"EncryptedExtensions": "encrypted_extensions", "Certificate": "certificate",
          "CertificateVerify": "certificate_verify", "Finished": "finished"}


def referee() -> Referee:
    keys = iter(KEYS * 4)
    return Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                   rsa_keys=lambda: next(keys))


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """A planted fault must not be hidden (or spread) by a cached answer."""
    inspector.inspect_records.cache_clear()
    yield
    inspector.inspect_records.cache_clear()


def _played(variant: Variant) -> TableState:
    """An honest table played to the end of its full handshake and its data: at tls13, the first
    session, before the client comes back with its ticket (``_resumed`` plays that too)."""
    ref = referee()
    state, _ = open_table(variant, Scenario.HONEST)
    bots = {seat: HonestBot() for seat in Seat}
    while (step := state.current_step) is not None and step.id != "server.new_session_ticket":
        for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
            state = apply(state, fact)
    assert state.failed is None and "response" in state.wallets[Seat.CLIENT]
    return state


def _resumed() -> TableState:
    run = play_table(Variant.TLS13, Scenario.HONEST, referee())
    assert run.state.completed and run.state.past_sessions
    return run.state


def _wire(state: TableState, seat: Seat) -> list[dict[str, Any]]:
    return list(view(state, seat, dissect=True)["wire"])


def _names(tree: dict[str, Any]) -> Iterator[str]:
    yield tree["name"]
    for child in tree["children"]:
        yield from _names(child)


def _item(state: TableState, seat: Seat, name: str) -> bytes:
    return state.wallets[seat][name].value


# -- independent computations (cryptography's primitives, the RFCs' formulas) --------------------

def _expand_label(secret: bytes, label: bytes, length: int, algorithm: hashes.HashAlgorithm) -> bytes:
    full = b"tls13 " + label  # RFC 8446 §7.1: HkdfLabel = length, "tls13 " + label, empty context
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(algorithm, length, info).derive(secret)


def _p_hash(algorithm: hashes.HashAlgorithm, secret: bytes, seed: bytes, length: int) -> bytes:
    """RFC 5246 §5: P_hash, written out here so the test does not use the engine's PRF."""
    def mac(data: bytes) -> bytes:
        h = hmac.HMAC(secret, algorithm)
        h.update(data)
        return h.finalize()
    out, a = b"", seed
    while len(out) < length:
        a = mac(a)
        out += mac(a + seed)
    return out[:length]


def _hash_of(code: int) -> hashes.HashAlgorithm:
    return hashes.SHA384() if CIPHER_SUITES[code].hash_name == "SHA384" else hashes.SHA256()


def _suite(state: TableState) -> int:
    for event in state.wire:
        if event.label == "ServerHello":
            return int.from_bytes(event.payload[5 + 4 + 2 + 32 + 1:][:2], "big")  # session_id empty
    raise AssertionError("no ServerHello on the wire")


def _randoms(state: TableState) -> tuple[bytes, bytes]:
    hellos = {e.label: e.payload for e in state.wire if isinstance(e, MessageSent)}
    return hellos["ClientHello"][11:43], hellos["ServerHello"][11:43]


def _tls13_expected(state: TableState, sender: Seat, label: str, index: int) -> tuple[bytes, bytes]:
    """(nonce, TLSInnerPlaintext) of the ``index``-th record ``sender`` sealed under its handshake
    or application secret, computed from the client's wallet."""
    code = _suite(state)
    algorithm, key_length = _hash_of(code), CIPHER_SUITES[code].key_length
    stage = "application" if label == "application data" else "handshake"
    secret = _item(state, Seat.CLIENT, f"{sender.value}_{stage}_traffic_secret")
    iv = _expand_label(secret, b"iv", 12, algorithm)
    key = _expand_label(secret, b"key", key_length, algorithm)
    nonce = bytes(a ^ b for a, b in zip(iv, index.to_bytes(12, "big"), strict=True))  # RFC 8446 §5.3
    record = next(e.payload for e in state.wire if isinstance(e, MessageSent) and e.sender is sender
                  and e.label == label)
    return nonce, AESGCM(key).decrypt(nonce, record[5:], record[:5])


def _tls12_expected(state: TableState, sender: Seat, label: str) -> bytes:
    """RFC 5288 §3: the 4-byte salt (the sender's write IV from the key block) + the record's
    8-byte explicit nonce."""
    code = _suite(state)
    suite = CIPHER_SUITES[code]
    client_random, server_random = _randoms(state)
    block = _p_hash(_hash_of(code), _item(state, Seat.CLIENT, "master_secret"), b"key expansion"
                    + server_random + client_random, 2 * suite.key_length + 2 * suite.fixed_iv_length)
    ivs = block[2 * suite.key_length:]
    salt = ivs[:4] if sender is Seat.CLIENT else ivs[4:8]
    record = next(e.payload for e in state.wire if isinstance(e, MessageSent) and e.sender is sender
                  and e.label == label)
    return salt + record[5:13]


# -- the checks, as functions that report problems (so a planted fault can be shown caught) -----

def tls13_problems(state: TableState) -> list[str]:
    """What is wrong in the client's inspector of a finished TLS 1.3 table."""
    problems = []
    wire = _wire(state, Seat.CLIENT)
    flight = [e for e in wire if e["event"] == "delivered" and e["label"] in FLIGHT]
    if [e["label"] for e in flight] != list(FLIGHT):
        return [f"the client's view lacks the server's flight: {[e['label'] for e in flight]}"]
    for index, entry in enumerate(flight):
        (record,) = entry["records"]
        opened = record.get("decrypted")
        if opened is None:
            problems.append(f"{entry['label']} not opened: {record.get('status')}")
            continue
        nonce, inner = _tls13_expected(state, Seat.SERVER, entry["label"], index)
        if len(bytes.fromhex(opened["nonce"])) != 12 or opened["nonce"] != nonce.hex():
            problems.append(f"{entry['label']}: nonce {opened['nonce']}, expected {nonce.hex()}")
        if opened["bytes"] != inner.hex():
            problems.append(f"{entry['label']}: inner plaintext differs")
        if opened["content_type"] != 22 or FLIGHT[entry["label"]] not in _names(opened["fields"][0]):
            problems.append(f"{entry['label']}: not dissected as {FLIGHT[entry['label']]}")
    for sender, label in ((Seat.CLIENT, "application data"), (Seat.SERVER, "application data")):
        entry = next(e for e in wire if e["label"] == label and e.get("from", sender.value) == sender.value
                     and (e["event"] == "sent") == (sender is Seat.CLIENT))
        opened = entry["records"][0].get("decrypted")
        nonce, inner = _tls13_expected(state, sender, label, 0)
        if opened is None or opened["nonce"] != nonce.hex() or opened["bytes"] != inner.hex():
            problems.append(f"{sender.value}'s {label}: not opened with the right nonce")
    return problems


def tls12_problems(state: TableState) -> list[str]:
    problems = []
    wire = _wire(state, Seat.CLIENT)
    for sender, label in ((Seat.CLIENT, "Finished"), (Seat.SERVER, "Finished"),
                          (Seat.CLIENT, "application data"), (Seat.SERVER, "application data")):
        event = "sent" if sender is Seat.CLIENT else "delivered"
        entry = next(e for e in wire if e["label"] == label and e["event"] == event)
        opened = entry["records"][0].get("decrypted")
        expected = _tls12_expected(state, sender, label)
        if opened is None:
            problems.append(f"the {sender.value}'s {label} not opened: {entry['records'][0].get('status')}")
        elif opened["nonce"] != expected.hex() or len(expected) != 12:
            problems.append(f"the {sender.value}'s {label}: nonce {opened['nonce']}, "
                            f"expected {expected.hex()}")
        elif label == "Finished" and "finished" not in _names(opened["fields"][0]):
            problems.append(f"the {sender.value}'s Finished is not dissected")
    return problems


def eavesdropper_problems(state: TableState) -> list[str]:
    """The eavesdropper of an honest table holds no session key: every encrypted record it sees
    stays ciphertext, said plainly, and no opened plaintext of the client's appears in its view."""
    problems = []
    shown = view(state, Seat.EAVESDROPPER, dissect=True)
    text = json.dumps(shown)
    for entry in shown["wire"]:
        for record in entry["records"]:
            if not record["encrypted"]:
                continue
            if "decrypted" in record or "you do not hold the keys" not in record.get("status", ""):
                problems.append(f"the eavesdropper's {entry['label']}: {record.get('status')}")
    for entry in _wire(state, Seat.CLIENT):
        for record in entry["records"]:
            if "decrypted" in record and record["decrypted"]["bytes"] in text:
                problems.append(f"the client's opened {entry['label']} is in the eavesdropper's view")
    return problems


# -- the tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(Variant))
def test_every_record_header_is_dissected_for_every_seat(variant: Variant) -> None:
    state = _played(variant)
    tls13 = variant is Variant.TLS13
    for seat in (Seat.CLIENT, Seat.SERVER, Seat.EAVESDROPPER):
        for entry in _wire(state, seat):
            payload = bytes.fromhex(entry["bytes"])
            assert sum(r["length"] for r in entry["records"]) == len(payload)
            for record in entry["records"]:
                content_type, version, length = record["header"]
                at = record["offset"]
                assert content_type["value"].startswith(f"{payload[at]} (")
                assert version["name"] == ("legacy_record_version" if tls13 else "version")
                assert version["value"] == "0x0303 (TLS 1.2)"
                assert ("RFC 8446 §5.1" in version["explanation"]) is tls13
                assert int(length["value"]) == int.from_bytes(payload[at + 3:at + 5], "big") == \
                    record["length"] - 5


def test_tls13_client_opens_the_encrypted_flight_with_its_own_keys() -> None:
    state = _played(Variant.TLS13)
    assert tls13_problems(state) == []
    certificate = next(e for e in _wire(state, Seat.CLIENT) if e["label"] == "Certificate")
    opened = certificate["records"][0]["decrypted"]
    assert opened["key"] == "server_handshake_traffic_secret"
    assert [f["name"] for f in opened["fields"]][1] == "type"  # TLSInnerPlaintext: content, type
    assert certificate["records"][0]["header"][0]["value"] == "23 (application_data)"


def test_the_resumed_flight_opens_with_the_resumed_sessions_keys() -> None:
    """tls13's second visit: EncryptedExtensions and Finished, no certificate, sealed under the
    handshake secret the PSK (and the fresh shares) gave; the client's inspector opens them with
    the keys of that session, and the eavesdropper's with none."""
    state = _resumed()
    wire = _wire(state, Seat.CLIENT)
    flight = [e for e in wire if e["session"] == 2 and e["event"] == "delivered" and e["label"] in FLIGHT]
    assert [e["label"] for e in flight] == ["EncryptedExtensions", "Finished"]
    for index, entry in enumerate(flight):
        opened = entry["records"][0]["decrypted"]
        assert opened["key"] == "server_handshake_traffic_secret"
        nonce, inner = _tls13_expected(state, Seat.SERVER, entry["label"], index)
        assert opened["nonce"] == nonce.hex() and opened["bytes"] == inner.hex()
        assert FLIGHT[entry["label"]] in _names(opened["fields"][0])
    assert eavesdropper_problems(state) == []


def test_tls12_client_opens_finished_and_data_with_the_rfc5288_nonce() -> None:
    for variant in (Variant.TLS12_RSA, Variant.TLS12_ECDHE):
        assert tls12_problems(_played(variant)) == []


@pytest.mark.parametrize("variant", [Variant.TLS13, Variant.TLS12_ECDHE])
def test_the_eavesdropper_sees_ciphertext_only(variant: Variant) -> None:
    state = _played(variant)
    assert eavesdropper_problems(state) == []
    assert leaks(state, Seat.EAVESDROPPER, view(state, Seat.EAVESDROPPER, dissect=True)) == []


def test_hello_versions_are_explained_per_version() -> None:
    hellos13 = [e for e in _wire(_played(Variant.TLS13), Seat.CLIENT) if e["label"] in ("ClientHello",
                                                                                       "ServerHello")]
    for entry in hellos13:
        body = entry["dissection"][0]["children"]
        field = next(f for child in body for f in [child, *child["children"]]
                     if f["name"] == "legacy_version")
        assert field["value"] == ("0x0303 (TLS 1.2, frozen for middleboxes; the real version is in "
                                  "supported_versions)")
        assert "RFC 8446 §4.1." in field["explanation"]
    hello12 = next(e for e in _wire(_played(Variant.TLS12_RSA), Seat.CLIENT) if e["label"] == "ClientHello")
    text = json.dumps(hello12["dissection"], ensure_ascii=False)
    assert "legacy_version" not in text and "RFC 5246 §7.4.1.2" in text


# -- planted faults: the checks above can fail -----------------------------------------------------

def test_a_wrong_nonce_formula_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    state = _played(Variant.TLS13)
    real = inspector._xor_sequence
    monkeypatch.setattr(inspector, "_xor_sequence", lambda iv, sequence: real(iv, sequence + 1))
    problems = tls13_problems(state)
    assert any("nonce" in p for p in problems), problems


def test_a_tls12_nonce_without_the_explicit_part_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    state = _played(Variant.TLS12_ECDHE)
    original = inspector._opened

    def salt_only(key_name, suite, sequence, nonce, *rest):  # type: ignore[no-untyped-def]
        return original(key_name, suite, sequence, nonce[:4] + bytes(8), *rest)
    monkeypatch.setattr(inspector, "_opened", salt_only)
    assert any("nonce" in p for p in tls12_problems(state))


def test_keys_given_to_the_eavesdropper_are_caught() -> None:
    state = _played(Variant.TLS13)
    stolen = _item(state, Seat.CLIENT, "server_handshake_traffic_secret")
    planted = apply(state, ItemStored(Seat.EAVESDROPPER, "server_handshake_traffic_secret", "secret", stolen,
                                      True))
    problems = eavesdropper_problems(planted)
    assert any("certificate" in p.lower() for p in problems), problems
    # ... and the sharing scan names the leak in the inspector too: the opened server Finished is
    # the client's session secret, not the eavesdropper's.
    found = leaks(planted, Seat.EAVESDROPPER, view(planted, Seat.EAVESDROPPER, dissect=True))
    assert any(".records[" in leak.where and leak.item == "server_finished" for leak in found), found


def test_a_wrong_key_opens_nothing() -> None:
    state = _played(Variant.TLS13)
    wrong = apply(state, ItemStored(Seat.CLIENT, "server_handshake_traffic_secret", "secret", bytes(48),
                                    True))
    problems = tls13_problems(wrong)
    assert any("not opened" in p for p in problems), problems
    certificate = next(e for e in _wire(wrong, Seat.CLIENT) if e["label"] == "Certificate")
    assert "none of the keys you hold opens it" in certificate["records"][0]["status"]


def test_the_server_opens_what_it_sealed_itself() -> None:
    state = _played(Variant.TLS13)
    sent = next(e for e in _wire(state, Seat.SERVER) if e["event"] == "sent" and e["label"] == "Certificate")
    assert sent["records"][0]["decrypted"]["key"] == "server_handshake_traffic_secret"
    assert sent["records"][0]["status"] == "decrypted with your keys"


def test_a_seat_still_sees_the_first_session_after_the_second_began() -> None:
    """The client's wire holds both sessions, the first one first (its ladder must not draw the
    resumed flight, which has no certificate, where the full handshake was), and each session's
    records open with the keys of that session."""
    state = _resumed()
    wire = _wire(state, Seat.CLIENT)
    first = [e for e in wire if e["session"] == 1]
    second = [e for e in wire if e["session"] == 2]
    assert first and second and wire == first + second
    labels = [e["label"] for e in first if e["event"] == "delivered"]
    assert "Certificate" in labels and "CertificateVerify" in labels
    assert "Certificate" not in [e["label"] for e in second]
    flight = [e for e in first if e["event"] == "delivered" and e["label"] in ("Certificate", "Finished")]
    for entry in flight:
        opened = entry["records"][0]["decrypted"]
        assert opened is not None and opened["key"] == "server_handshake_traffic_secret", entry["label"]
