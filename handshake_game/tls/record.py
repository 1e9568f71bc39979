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
        content = inner.rstrip(b"\x00")  # RFC 8446 §5.4: zero padding after the type
        if not content:
            raise AlertUnexpectedMessage("TLSInnerPlaintext without a content type")
        if len(content) - 1 > MAX_PLAINTEXT:
            raise AlertRecordOverflow("decrypted record exceeds 2^14 bytes")
        return content[-1], content[:-1]


class RecordLayer:
    """Byte stream <-> records, for one endpoint; sans-I/O."""

    def __init__(self, version: int = 0x0303) -> None:
        self.version = version
        self._buffer = bytearray()
        self.read_protection: RecordProtection | RecordProtection13 | None = None
        self.write_protection: RecordProtection | RecordProtection13 | None = None

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_record(self) -> Record | None:
        """The next complete record, opened; ``None`` until one has fully arrived."""
        if len(self._buffer) < RECORD_HEADER_LENGTH:
            return None
        content_type, version, length = struct.unpack_from("!BHH", self._buffer)
        if content_type not in ContentType._value2member_map_:
            raise AlertUnexpectedMessage(f"unknown record content type {content_type}")
        if version >> 8 != 0x03:
            raise AlertUnexpectedMessage(f"record version 0x{version:04x} is not TLS")
        tls13 = isinstance(self.read_protection, RecordProtection13)
        if self.read_protection is None:
            limit = MAX_PLAINTEXT
        else:
            limit = MAX_PLAINTEXT + 256 if tls13 else MAX_CIPHERTEXT  # RFC 8446 §5.2
        if length > limit:
            raise AlertRecordOverflow(f"record of {length} bytes exceeds {limit}")
        if len(self._buffer) < RECORD_HEADER_LENGTH + length:
            return None
        wire = bytes(self._buffer[: RECORD_HEADER_LENGTH + length])
        del self._buffer[: RECORD_HEADER_LENGTH + length]
        payload = wire[RECORD_HEADER_LENGTH:]
        protected = self.read_protection is not None
        if isinstance(self.read_protection, RecordProtection13):
            if content_type == ContentType.change_cipher_spec:
                # RFC 8446 §5: middlebox-compatibility CCS records stay in the clear.
                protected = False
            elif content_type != ContentType.application_data:
                raise AlertUnexpectedMessage(
                    f"unprotected {ContentType(content_type).name} record after keys were set")
            else:
                content_type, payload = self.read_protection.open(wire[:RECORD_HEADER_LENGTH], payload)
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
