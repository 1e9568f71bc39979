"""The record layer (record.py): framing, fragmentation, AEAD protection, and its alerts."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from helpers import split_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handshake_game.tls import CIPHER_SUITES, Alert, AlertDescription, suite_by_name
from handshake_game.tls.alerts import (
    AlertBadRecordMac,
    AlertRecordOverflow,
    AlertUnexpectedMessage,
)
from handshake_game.tls.keyschedule import KeyBlock, TrafficKeys, key_block
from handshake_game.tls.record import (
    MAX_CIPHERTEXT,
    MAX_PLAINTEXT,
    ContentType,
    RecordLayer,
    RecordProtection,
    RecordProtection13,
)

SUITE_NAMES = [suite.name for suite in CIPHER_SUITES.values() if not suite.tls13]
TLS13_SUITE_NAMES = [suite.name for suite in CIPHER_SUITES.values() if suite.tls13]


def keys_for(suite_name: str, seed: int = 1) -> KeyBlock:
    master = bytes((seed + i) % 256 for i in range(48))
    return key_block(suite_by_name(suite_name), master, b"c" * 32, b"s" * 32)


def keyed_pair(suite_name: str) -> tuple[RecordLayer, RecordLayer]:
    """A writer and a reader that share the client_write keys of one suite."""
    suite = suite_by_name(suite_name)
    keys = keys_for(suite_name)
    writer, reader = RecordLayer(), RecordLayer()
    writer.write_protection = RecordProtection(suite, keys.client_write)
    reader.read_protection = RecordProtection(suite, keys.client_write)
    return writer, reader


def read_all(layer: RecordLayer, data: bytes) -> list:
    layer.feed(data)
    records = []
    while (record := layer.next_record()) is not None:
        records.append(record)
    return records


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_protected_round_trip(suite: str) -> None:
    writer, reader = keyed_pair(suite)
    messages = [b"GET / HTTP/1.1\r\n\r\n", b"x", bytes(range(256)) * 10]
    wire = b"".join(b"".join(writer.encode(ContentType.application_data, m)) for m in messages)
    records = read_all(reader, wire)
    assert [r.fragment for r in records] == messages
    assert all(r.protected and r.content_type == ContentType.application_data for r in records)
    for record, message in zip(records, messages, strict=True):
        # AEAD expansion: explicit nonce (GCM only) + 16-byte tag, and nothing in clear.
        overhead = suite_by_name(suite).record_iv_length + 16
        assert len(record.wire) == 5 + len(message) + overhead
        assert message not in record.wire


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_records_open_with_the_rfc_nonce_and_additional_data(suite: str) -> None:
    """Checks the sealing against cryptography's AEADs driven by hand (RFC 5288 §3, RFC 7905 §2)."""
    cipher_suite = suite_by_name(suite)
    keys = keys_for(suite).client_write
    layer = RecordLayer()
    layer.write_protection = RecordProtection(cipher_suite, keys)
    for sequence_number, plaintext in enumerate([b"first", b"second", b"third"]):
        (wire,) = layer.encode(ContentType.application_data, plaintext)
        content_type, version, length = struct.unpack_from("!BHH", wire)
        fragment = wire[5:]
        assert (content_type, version, length) == (23, 0x0303, len(fragment))
        seq = sequence_number.to_bytes(8, "big")
        aad = seq + struct.pack("!BHH", 23, 0x0303, len(plaintext))
        if cipher_suite.aead == "CHACHA20-POLY1305":
            nonce = bytes(a ^ b for a, b in zip(keys.iv, bytes(4) + seq, strict=True))
            opened = ChaCha20Poly1305(keys.key).decrypt(nonce, fragment, aad)
        else:
            # The explicit nonce is the sequence number, as RFC 5288 §3 suggests.
            assert fragment[:8] == seq
            opened = AESGCM(keys.key).decrypt(keys.iv + fragment[:8], fragment[8:], aad)
        assert opened == plaintext


@pytest.mark.parametrize("suite", ["TLS_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"])
def test_fragmentation_at_two_to_the_fourteen(suite: str) -> None:
    writer, reader = keyed_pair(suite)
    payload = bytes(i % 251 for i in range(2 * MAX_PLAINTEXT + 5))
    wires = writer.encode(ContentType.application_data, payload)
    assert len(wires) == 3
    records = read_all(reader, b"".join(wires))
    assert [len(r.fragment) for r in records] == [MAX_PLAINTEXT, MAX_PLAINTEXT, 5]
    assert b"".join(r.fragment for r in records) == payload


def test_plaintext_fragmentation_and_exact_boundary() -> None:
    layer = RecordLayer()
    assert len(layer.encode(ContentType.handshake, bytes(MAX_PLAINTEXT))) == 1
    wires = layer.encode(ContentType.handshake, bytes(MAX_PLAINTEXT + 1))
    assert [struct.unpack_from("!H", w, 3)[0] for w in wires] == [MAX_PLAINTEXT, 1]
    assert [r.fragment for r in split_records(b"".join(wires))] == [bytes(MAX_PLAINTEXT), b"\x00"]


def test_records_arrive_in_any_pieces() -> None:
    writer, reader = keyed_pair("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    wire = b"".join(writer.encode(ContentType.application_data, b"abc") + writer.encode(
        ContentType.application_data, b"defgh"))
    fragments = []
    for byte in wire:
        reader.feed(bytes([byte]))
        while (record := reader.next_record()) is not None:
            fragments.append(record.fragment)
    assert fragments == [b"abc", b"defgh"]
    assert reader.buffered == 0


@pytest.mark.parametrize("suite", SUITE_NAMES)
@pytest.mark.parametrize("position", [0, 2, 5, 12, 13, -17, -1], ids=lambda p: f"byte{p}")
def test_tampered_record_fails_authentication(suite: str, position: int) -> None:
    # The content type (23 -> 22) and version (0x0303 -> 0x0302) are covered by the
    # additional data; the rest is nonce, ciphertext or tag.
    writer, reader = keyed_pair(suite)
    (wire,) = writer.encode(ContentType.application_data, b"attack at dawn")
    tampered = bytearray(wire)
    tampered[position] ^= 0x01
    reader.feed(bytes(tampered))
    with pytest.raises(AlertBadRecordMac) as failure:
        reader.next_record()
    assert failure.value.description == AlertDescription.bad_record_mac


def test_tampered_length_that_cuts_the_record_short_fails_authentication() -> None:
    writer, reader = keyed_pair("TLS_RSA_WITH_AES_128_GCM_SHA256")
    (wire,) = writer.encode(ContentType.application_data, b"attack at dawn")
    shorter = bytearray(wire[:-1])
    shorter[4] -= 1
    reader.feed(bytes(shorter))
    with pytest.raises(AlertBadRecordMac):
        reader.next_record()


def test_tampered_length_that_asks_for_more_bytes_waits() -> None:
    writer, reader = keyed_pair("TLS_RSA_WITH_AES_128_GCM_SHA256")
    (wire,) = writer.encode(ContentType.application_data, b"attack at dawn")
    longer = bytearray(wire)
    longer[4] += 1
    reader.feed(bytes(longer))
    assert reader.next_record() is None  # the record is not complete yet
    reader.feed(b"\x00")
    with pytest.raises(AlertBadRecordMac):
        reader.next_record()


@pytest.mark.parametrize("suite", ["TLS_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"])
def test_wrong_keys_fail_authentication(suite: str) -> None:
    cipher_suite = suite_by_name(suite)
    writer, reader = RecordLayer(), RecordLayer()
    writer.write_protection = RecordProtection(cipher_suite, keys_for(suite, seed=1).client_write)
    reader.read_protection = RecordProtection(cipher_suite, keys_for(suite, seed=2).client_write)
    reader.feed(b"".join(writer.encode(ContentType.application_data, b"secret")))
    with pytest.raises(AlertBadRecordMac):
        reader.next_record()


@pytest.mark.parametrize("suite", ["TLS_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"])
def test_sequence_numbers_advance_and_bind_record_order(suite: str) -> None:
    writer, reader = keyed_pair(suite)
    wires = [writer.encode(ContentType.application_data, bytes([n]) * 3)[0] for n in range(4)]
    assert writer.write_protection is not None and writer.write_protection.sequence_number == 4
    assert [r.fragment for r in read_all(reader, wires[0] + wires[1])] == [b"\x00" * 3, b"\x01" * 3]
    assert reader.read_protection is not None and reader.read_protection.sequence_number == 2
    # Replaying record 1, or skipping to record 3, no longer authenticates as record 2.
    for out_of_order in (wires[1], wires[3]):
        replay_reader = RecordLayer()
        replay_reader.read_protection = RecordProtection(suite_by_name(suite),
                                                         keys_for(suite).client_write)
        read_all(replay_reader, wires[0] + wires[1])
        replay_reader.feed(out_of_order)
        with pytest.raises(AlertBadRecordMac):
            replay_reader.next_record()
    assert [r.fragment for r in read_all(reader, wires[2] + wires[3])] == [b"\x02" * 3, b"\x03" * 3]


def test_equal_plaintexts_seal_differently() -> None:
    writer, _ = keyed_pair("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
    first = writer.encode(ContentType.application_data, b"same")[0]
    second = writer.encode(ContentType.application_data, b"same")[0]
    assert first != second


def test_record_too_short_for_a_tag_is_bad_record_mac() -> None:
    _, reader = keyed_pair("TLS_RSA_WITH_AES_128_GCM_SHA256")
    reader.feed(struct.pack("!BHH", 23, 0x0303, 10) + bytes(10))
    with pytest.raises(AlertBadRecordMac):
        reader.next_record()


def test_oversized_plaintext_record_is_record_overflow() -> None:
    reader = RecordLayer()
    reader.feed(struct.pack("!BHH", 22, 0x0303, MAX_PLAINTEXT + 1))
    with pytest.raises(AlertRecordOverflow) as failure:
        reader.next_record()  # refused from the header alone, before the body arrives
    assert failure.value.description == AlertDescription.record_overflow


def test_oversized_ciphertext_record_is_record_overflow() -> None:
    _, reader = keyed_pair("TLS_RSA_WITH_AES_128_GCM_SHA256")
    reader.feed(struct.pack("!BHH", 23, 0x0303, MAX_CIPHERTEXT) + bytes(MAX_CIPHERTEXT))
    with pytest.raises(AlertBadRecordMac):  # as long as allowed: only the tag is wrong
        reader.next_record()
    _, reader = keyed_pair("TLS_RSA_WITH_AES_128_GCM_SHA256")
    reader.feed(struct.pack("!BHH", 23, 0x0303, MAX_CIPHERTEXT + 1))
    with pytest.raises(AlertRecordOverflow):
        reader.next_record()


@pytest.mark.parametrize("suite", ["TLS_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"])
def test_decrypted_plaintext_over_two_to_the_fourteen_is_record_overflow(suite: str) -> None:
    # A peer that seals 2^14 + 1 bytes into one record: the ciphertext length is legal,
    # the plaintext is not (RFC 5246 §6.2.3).
    cipher_suite = suite_by_name(suite)
    sealer = RecordProtection(cipher_suite, keys_for(suite).client_write)
    fragment = sealer.seal(23, 0x0303, bytes(MAX_PLAINTEXT + 1))
    _, reader = keyed_pair(suite)
    reader.feed(struct.pack("!BHH", 23, 0x0303, len(fragment)) + fragment)
    with pytest.raises(AlertRecordOverflow):
        reader.next_record()


@pytest.mark.parametrize("content_type", [0, 19, 24, 255])
def test_unknown_content_type_is_unexpected_message(content_type: int) -> None:
    reader = RecordLayer()
    reader.feed(struct.pack("!BHH", content_type, 0x0303, 1) + b"\x00")
    with pytest.raises(AlertUnexpectedMessage) as failure:
        reader.next_record()
    assert failure.value.description == AlertDescription.unexpected_message


@pytest.mark.parametrize("content_type", [20, 21, 22])
def test_empty_non_application_record_is_unexpected_message(content_type: int) -> None:
    # RFC 5246 §6.2.1: zero-length fragments only for application data.
    reader = RecordLayer()
    reader.feed(struct.pack("!BHH", content_type, 0x0303, 0))
    with pytest.raises(AlertUnexpectedMessage):
        reader.next_record()
    reader = RecordLayer()
    reader.feed(struct.pack("!BHH", 23, 0x0303, 0))
    record = reader.next_record()
    assert record is not None and record.fragment == b""


def test_empty_application_data_is_sealed_and_opened() -> None:
    writer, reader = keyed_pair("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    (wire,) = writer.encode(ContentType.application_data, b"")
    assert [r.fragment for r in read_all(reader, wire)] == [b""]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(stream=st.binary(max_size=300), protected=st.booleans(),
       suite=st.sampled_from(SUITE_NAMES))
def test_random_bytes_only_raise_alerts(stream: bytes, protected: bool, suite: str) -> None:
    reader = RecordLayer()
    if protected:
        reader.read_protection = RecordProtection(suite_by_name(suite), keys_for(suite).client_write)
    reader.feed(stream)
    try:
        while reader.next_record() is not None:
            pass
    except Alert as alert:
        assert isinstance(alert.description, AlertDescription)


@settings(max_examples=200)
@given(data=st.data())
def test_mutated_record_streams_only_raise_alerts(data: st.DataObject) -> None:
    # Start from valid records so the fuzzer gets past the header checks.
    suite = data.draw(st.sampled_from(SUITE_NAMES))
    writer, reader = keyed_pair(suite)
    wire = bytearray(b"".join(writer.encode(ContentType.application_data, b"hello" * 5)
                              + writer.encode(ContentType.alert, b"\x01\x00")))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(wire) - 1))
        wire[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    reader.feed(bytes(wire[:cut]))
    try:
        while reader.next_record() is not None:
            pass
    except Alert as alert:
        assert isinstance(alert.description, AlertDescription)


# -- TLS 1.3 records (RFC 8446 §5.2-§5.4) ---------------------------------------------------


def keyed_pair13(suite_name: str) -> tuple[RecordLayer, RecordLayer]:
    suite = suite_by_name(suite_name)
    keys = TrafficKeys(bytes(range(suite.key_length)), bytes(range(100, 112)))
    writer, reader = RecordLayer(), RecordLayer()
    writer.write_protection = RecordProtection13(suite, keys)
    reader.read_protection = RecordProtection13(suite, keys)
    return writer, reader


@pytest.mark.parametrize("suite", TLS13_SUITE_NAMES)
def test_tls13_records_hide_the_type_and_use_the_header_as_additional_data(suite: str) -> None:
    cipher_suite = suite_by_name(suite)
    keys = TrafficKeys(bytes(range(cipher_suite.key_length)), bytes(range(100, 112)))
    layer = RecordLayer()
    layer.write_protection = RecordProtection13(cipher_suite, keys)
    aead = ChaCha20Poly1305(keys.key) if cipher_suite.aead == "CHACHA20-POLY1305" else AESGCM(keys.key)
    for sequence_number, (content_type, plaintext) in enumerate(
            [(ContentType.handshake, b"finished"), (ContentType.alert, b"\x01\x00"),
             (ContentType.application_data, b"GET /")]):
        (wire,) = layer.encode(content_type, plaintext)
        header = wire[:5]
        # The outer record always claims application_data, TLS 1.2 (RFC 8446 §5.2).
        assert header == struct.pack("!BHH", 23, 0x0303, len(plaintext) + 1 + 16)
        nonce = bytes(a ^ b for a, b in zip(keys.iv, sequence_number.to_bytes(12, "big"), strict=True))
        inner = aead.decrypt(nonce, wire[5:], header)
        assert inner == plaintext + bytes([content_type])


@pytest.mark.parametrize("suite", TLS13_SUITE_NAMES)
def test_tls13_round_trip_strips_padding_and_rejects_tampering(suite: str) -> None:
    writer, reader = keyed_pair13(suite)
    (wire,) = writer.encode(ContentType.handshake, b"hello")
    reader.feed(wire)
    record = reader.next_record()
    assert record is not None and record.content_type == ContentType.handshake
    assert record.fragment == b"hello"
    # Padding (RFC 8446 §5.4): zeros after the type are removed on receipt.
    protection = writer.write_protection
    assert isinstance(protection, RecordProtection13)
    sealed = protection.seal(ContentType.application_data, b"data" + b"")
    reader.feed(sealed)
    assert reader.next_record().fragment == b"data"
    (wire,) = writer.encode(ContentType.application_data, b"secret")
    tampered = wire[:-1] + bytes([wire[-1] ^ 1])
    reader.feed(tampered)
    with pytest.raises(Alert) as failure:
        reader.next_record()
    assert failure.value.description == AlertDescription.bad_record_mac


def test_tls13_plaintext_change_cipher_spec_passes_but_other_plaintext_does_not() -> None:
    _, reader = keyed_pair13("TLS_AES_128_GCM_SHA256")
    reader.feed(bytes([20, 3, 3, 0, 1, 1]))
    record = reader.next_record()
    assert record is not None and record.content_type == ContentType.change_cipher_spec
    assert not record.protected
    reader.feed(bytes([22, 3, 3, 0, 4, 20, 0, 0, 0]))
    with pytest.raises(Alert) as failure:
        reader.next_record()
    assert failure.value.description == AlertDescription.unexpected_message


def sealed13(writer: RecordLayer, inner: bytes) -> bytes:
    """A TLS 1.3 record whose TLSInnerPlaintext (content, type, padding) is exactly ``inner``."""
    protection = writer.write_protection
    assert isinstance(protection, RecordProtection13)
    header = struct.pack("!BHH", 23, 0x0303, len(inner) + 16)
    sealed = protection._aead.encrypt(protection._nonce(), inner, header)
    protection.sequence_number += 1
    return header + sealed


@pytest.mark.parametrize("suite", TLS13_SUITE_NAMES)
def test_tls13_inner_plaintext_is_limited_with_its_padding(suite: str) -> None:
    # RFC 8446 §5.4: TLSInnerPlaintext, padding included, is at most 2^14 + 1 bytes.
    writer, reader = keyed_pair13(suite)
    reader.feed(sealed13(writer, b"x" + bytes([ContentType.application_data]) + bytes(2**14 - 1)))
    record = reader.next_record()
    assert record is not None and record.fragment == b"x"
    reader.feed(sealed13(writer, b"x" + bytes([ContentType.application_data]) + bytes(2**14)))
    with pytest.raises(Alert) as failure:
        reader.next_record()
    assert failure.value.description == AlertDescription.record_overflow


def test_tls13_refused_early_data_is_skipped_up_to_its_limit() -> None:
    # RFC 8446 §4.2.10: records that do not open with the handshake keys are dropped, counted as
    # application data (tag and type byte aside); the first that opens ends the skipping.
    writer, reader = keyed_pair13("TLS_AES_128_GCM_SHA256")
    reader.skip_early_data(100)
    early = struct.pack("!BHH", 23, 0x0303, 16 + 1 + 30) + bytes(47)  # 30 bytes of early data
    reader.feed(early)
    assert reader.next_record() is None
    (wire,) = writer.encode(ContentType.handshake, b"finished")
    reader.feed(early + wire + early)
    record = reader.next_record()
    assert record is not None and record.fragment == b"finished"
    with pytest.raises(Alert) as failure:  # skipping is over: this one is bad_record_mac
        reader.next_record()
    assert failure.value.description == AlertDescription.bad_record_mac
    _, reader = keyed_pair13("TLS_AES_128_GCM_SHA256")
    reader.skip_early_data(100)
    reader.feed(early * 3)  # 90 bytes: skipped
    assert reader.next_record() is None
    reader.feed(early)
    with pytest.raises(Alert) as failure:  # 120 bytes of early data: more than 100
        reader.next_record()
    assert failure.value.description == AlertDescription.unexpected_message
