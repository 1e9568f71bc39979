"""The TLS 1.2 record layer (RFC 5246 §6.2) with AEAD protection.

Splits the byte stream into records, fragments outgoing data at 2^14 bytes, and
— once ChangeCipherSpec switches a direction on — seals and opens records with
AES-GCM (RFC 5288 §3: 4-byte salt + 8-byte explicit nonce) or ChaCha20-Poly1305
(RFC 7905 §2: 12-byte IV XOR the sequence number). The additional data is
seq_num + type + version + length (RFC 5246 §6.2.3.3).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from .alerts import AlertBadRecordMac, AlertRecordOverflow, AlertUnexpectedMessage
from .keyschedule import TrafficKeys
from .suites import CipherSuite

MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 2048
RECORD_HEADER_LENGTH = 5
TAG_LENGTH = 16


class ContentType(enum.IntEnum):
    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23


@dataclass(frozen=True)
class Record:
    """One record as received: its plaintext, and the bytes that carried it."""

    content_type: ContentType
    version: int
    fragment: bytes
    wire: bytes
    protected: bool


class RecordProtection:
    """One direction's AEAD state: cipher, IV and sequence number."""

    def __init__(self, suite: CipherSuite, keys: TrafficKeys) -> None:
        self.suite = suite
        self._aead = suite.aead_class()(keys.key)
        self._iv = keys.iv
        self._explicit = suite.record_iv_length
        self.sequence_number = 0

    def _nonce(self, explicit: bytes) -> bytes:
        if self._explicit:
            return self._iv + explicit
        padded = self.sequence_number.to_bytes(12, "big")
        return bytes(a ^ b for a, b in zip(self._iv, padded, strict=True))

    def seal(self, content_type: int, version: int, plaintext: bytes) -> bytes:
        seq = self.sequence_number.to_bytes(8, "big")
        explicit = seq if self._explicit else b""
        aad = seq + struct.pack("!BHH", content_type, version, len(plaintext))
        sealed = explicit + self._aead.encrypt(self._nonce(explicit), plaintext, aad)
        self.sequence_number += 1
        return sealed

    def open(self, content_type: int, version: int, payload: bytes) -> bytes:
        explicit = payload[: self._explicit]
        body = payload[self._explicit :]
        if len(body) < TAG_LENGTH:
            raise AlertBadRecordMac("record too short to hold an AEAD tag")
        seq = self.sequence_number.to_bytes(8, "big")
        aad = seq + struct.pack("!BHH", content_type, version, len(body) - TAG_LENGTH)
        try:
            plaintext = self._aead.decrypt(self._nonce(explicit), body, aad)
        except InvalidTag:
            raise AlertBadRecordMac(
                f"record {self.sequence_number} failed AEAD authentication "
                "(wrong keys, or the bytes were changed)"
            ) from None
        self.sequence_number += 1
        return plaintext


class RecordProtection13:
    """One direction's TLS 1.3 AEAD state (RFC 8446 §5.2, §5.3).

    The real content type travels inside the encryption (TLSInnerPlaintext); the
    outer record always says application_data, and the additional data is the
    record header itself. The nonce is the IV XOR the 64-bit sequence number.
    """

    def __init__(self, suite: CipherSuite, keys: TrafficKeys) -> None:
        self.suite = suite
        self._aead = suite.aead_class()(keys.key)
        self._iv = keys.iv
        self.sequence_number = 0

    def _nonce(self) -> bytes:
        padded = self.sequence_number.to_bytes(12, "big")
        return bytes(a ^ b for a, b in zip(self._iv, padded, strict=True))

    def seal(self, content_type: int, plaintext: bytes) -> bytes:
        inner = plaintext + bytes([content_type])
        header = struct.pack("!BHH", ContentType.application_data, 0x0303, len(inner) + TAG_LENGTH)
        sealed = self._aead.encrypt(self._nonce(), inner, header)
        self.sequence_number += 1
        return header + sealed

    def open(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        try:
            inner = self._aead.decrypt(self._nonce(), payload, header)
        except InvalidTag:
            raise AlertBadRecordMac(
                f"record {self.sequence_number} failed AEAD authentication "
                "(wrong keys, or the bytes were changed)"
            ) from None
        self.sequence_number += 1
        # RFC 8446 §5.4: "The length (in bytes) of TLSInnerPlaintext MUST NOT exceed 2^14 + 1
        # octets": content, type and padding together, so the check comes before the padding goes.
        if len(inner) > MAX_PLAINTEXT + 1:
            raise AlertRecordOverflow(
                f"TLSInnerPlaintext of {len(inner)} bytes, padding included, exceeds 2^14 + 1")
        content = inner.rstrip(b"\x00")  # zero padding after the type
        if not content:
            raise AlertUnexpectedMessage("TLSInnerPlaintext without a content type")
        return content[-1], content[:-1]


class _Skipped:
    """A record that was read and dropped (refused early data)."""


_SKIPPED = _Skipped()


class RecordLayer:
    """Byte stream <-> records, for one endpoint; sans-I/O."""

    def __init__(self, version: int = 0x0303) -> None:
        self.version = version
        self._buffer = bytearray()
        self.read_protection: RecordProtection | RecordProtection13 | None = None
        self.write_protection: RecordProtection | RecordProtection13 | None = None
        self._early_data_left: int | None = None  # while skipping refused 0-RTT data

    def skip_early_data(self, limit: int) -> None:
        """RFC 8446 §4.2.10: the client sent early data that the server will not read.

        Until the client's next flight, its 0-RTT records are dropped unread, up to
        ``limit`` bytes of them: with handshake keys set, records that fail to open
        (the first that opens ends the skipping); before them (after a
        HelloRetryRequest), every application_data record until the second ClientHello.
        More than ``limit`` is unexpected_message (§4.6.1, as OpenSSL answers).
        """
        self._early_data_left = limit

    def _drop_early_data(self, payload: bytes) -> None:
        assert self._early_data_left is not None
        # §4.6.1 counts application data only; the tag and the content type are not.
        self._early_data_left -= max(0, len(payload) - TAG_LENGTH - 1)
        if self._early_data_left < 0:
            raise AlertUnexpectedMessage("more early data than the server skips unread")

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_record(self) -> Record | None:
        """The next complete record, opened; ``None`` until one has fully arrived."""
        while True:
            record = self._next_record()
            if not isinstance(record, _Skipped):
                return record

    def _next_record(self) -> Record | None | _Skipped:
        if len(self._buffer) < RECORD_HEADER_LENGTH:
            return None
        content_type, version, length = struct.unpack_from("!BHH", self._buffer)
        if content_type not in ContentType._value2member_map_:
            raise AlertUnexpectedMessage(f"unknown record content type {content_type}")
        if version >> 8 != 0x03:
            raise AlertUnexpectedMessage(f"record version 0x{version:04x} is not TLS")
        tls13 = isinstance(self.read_protection, RecordProtection13)
        skipping = self._early_data_left is not None and content_type == ContentType.application_data
        if self.read_protection is None and not skipping:
            limit = MAX_PLAINTEXT
        else:
            limit = MAX_PLAINTEXT + 256 if tls13 or skipping else MAX_CIPHERTEXT  # RFC 8446 §5.2
        if length > limit:
            raise AlertRecordOverflow(f"record of {length} bytes exceeds {limit}")
        if len(self._buffer) < RECORD_HEADER_LENGTH + length:
            return None
        wire = bytes(self._buffer[: RECORD_HEADER_LENGTH + length])
        del self._buffer[: RECORD_HEADER_LENGTH + length]
        payload = wire[RECORD_HEADER_LENGTH:]
        if self._early_data_left is not None and self.read_protection is None:
            if skipping:  # after a HelloRetryRequest: 0-RTT data sealed with keys never agreed
                self._drop_early_data(payload)
                return _SKIPPED
            if content_type == ContentType.handshake:
                self._early_data_left = None  # the second ClientHello: the early data is over
        protected = self.read_protection is not None
        if isinstance(self.read_protection, RecordProtection13):
            if content_type == ContentType.change_cipher_spec:
                # RFC 8446 §5: middlebox-compatibility CCS records stay in the clear.
                protected = False
            elif content_type != ContentType.application_data:
                raise AlertUnexpectedMessage(
                    f"unprotected {ContentType(content_type).name} record after keys were set")
            else:
                try:
                    content_type, payload = self.read_protection.open(wire[:RECORD_HEADER_LENGTH], payload)
                except AlertBadRecordMac:
                    if self._early_data_left is None:
                        raise
                    self._drop_early_data(payload)  # 0-RTT data, sealed with the early keys
                    return _SKIPPED
                self._early_data_left = None  # the first record that opens: the client's flight
                if content_type not in ContentType._value2member_map_:
                    raise AlertUnexpectedMessage(f"unknown inner content type {content_type}")
        elif self.read_protection is not None:
            payload = self.read_protection.open(content_type, version, payload)
            if len(payload) > MAX_PLAINTEXT:
                raise AlertRecordOverflow("decrypted record exceeds 2^14 bytes")
        ctype = ContentType(content_type)
        if not payload and ctype != ContentType.application_data:
            raise AlertUnexpectedMessage(f"empty {ctype.name} record")
        return Record(ctype, version, payload, wire, protected)

    def encode(self, content_type: ContentType, data: bytes) -> list[bytes]:
        """Fragments ``data`` into records (RFC 5246 §6.2.1), sealing when keyed."""
        records = []
        chunks = [data[i : i + MAX_PLAINTEXT] for i in range(0, len(data), MAX_PLAINTEXT)]
        for chunk in chunks or [b""]:
            payload = chunk
            if isinstance(self.write_protection, RecordProtection13) and (
                    content_type != ContentType.change_cipher_spec):
                records.append(self.write_protection.seal(content_type, chunk))
                continue
            if isinstance(self.write_protection, RecordProtection):
                payload = self.write_protection.seal(content_type, self.version, chunk)
            records.append(struct.pack("!BHH", content_type, self.version, len(payload)) + payload)
        return records

    @property
    def buffered(self) -> int:
        return len(self._buffer)
