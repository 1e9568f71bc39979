"""Helpers for the TLS engine tests: moving bytes between endpoints, splitting records.

Nothing here does I/O: OpenSSL is driven through ``ssl.MemoryBIO`` and our endpoints
through ``receive_data`` / ``data_to_send``.
"""

from __future__ import annotations

import contextlib
import datetime
import ssl
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from handshake_game.tls import (
    AlertReceived,
    AlertSent,
    ApplicationDataReceived,
    HandshakeCompleted,
    HandshakeMessageReceived,
    HandshakeMessageSent,
)
from handshake_game.tls.pki import CertificateAuthority, Usage
from handshake_game.tls.record import RecordProtection

T = TypeVar("T")

HANDSHAKE, CHANGE_CIPHER_SPEC, ALERT, APPLICATION_DATA = 22, 20, 21, 23


class Peer(Protocol):
    def receive_data(self, data: bytes) -> None: ...

    def data_to_send(self) -> bytes: ...


# -- records on the wire ----------------------------------------------------------------


@dataclass
class WireRecord:
    """One record as it crosses the wire: header fields and the (maybe sealed) fragment."""

    content_type: int
    version: int
    fragment: bytes

    def encode(self) -> bytes:
        return struct.pack("!BHH", self.content_type, self.version, len(self.fragment)) + self.fragment


def split_records(data: bytes) -> list[WireRecord]:
    """Parses a byte stream of whole records (the test's own parser, not the engine's)."""
    records = []
    pos = 0
    while pos < len(data):
        assert len(data) - pos >= 5, "partial record header"
        content_type, version, length = struct.unpack_from("!BHH", data, pos)
        assert len(data) - pos - 5 >= length, "partial record"
        records.append(WireRecord(content_type, version, data[pos + 5 : pos + 5 + length]))
        pos += 5 + length
    return records


def join_records(records: Iterable[WireRecord]) -> bytes:
    return b"".join(r.encode() for r in records)


def split_handshake_messages(data: bytes) -> list[bytes]:
    """Cuts concatenated handshake messages (type + 3-byte length + body) apart."""
    messages = []
    pos = 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 1 : pos + 4], "big")
        messages.append(data[pos : pos + 4 + length])
        pos += 4 + length
    return messages


def handshake_record(message: bytes, version: int = 0x0303) -> bytes:
    return WireRecord(HANDSHAKE, version, message).encode()


# -- moving bytes -----------------------------------------------------------------------

Tap = Callable[[str, bytes], bytes]


def pump(client: Peer, server: Peer, tap: Tap | None = None, max_rounds: int = 50) -> None:
    """Moves bytes both ways until neither side has anything to say.

    ``tap(direction, data)`` — direction ``"c2s"`` or ``"s2c"`` — may rewrite what crosses.
    """
    for _ in range(max_rounds):
        to_server = client.data_to_send()
        if to_server:
            server.receive_data(tap("c2s", to_server) if tap else to_server)
        to_client = server.data_to_send()
        if to_client:
            client.receive_data(tap("s2c", to_client) if tap else to_client)
        if not to_server and not to_client:
            return
    raise AssertionError(f"endpoints still talking after {max_rounds} rounds")


class OpenSSLPeer:
    """An ``ssl.SSLObject`` over two MemoryBIOs, with the endpoint interface of ours."""

    def __init__(self, context: ssl.SSLContext, *, server_side: bool,
                 server_hostname: str | None = None) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.ssl = context.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                    server_hostname=server_hostname)
        self.handshake_done = False
        self.error: ssl.SSLError | None = None
        self.received = bytearray()
        self.peer_closed = False

    def start(self) -> None:
        self._drive()

    def receive_data(self, data: bytes) -> None:
        self.incoming.write(data)
        self._drive()

    def data_to_send(self) -> bytes:
        return self.outgoing.read()

    def _drive(self) -> None:
        if self.error is not None:
            return
        try:
            if not self.handshake_done:
                self.ssl.do_handshake()
                self.handshake_done = True
            while not self.peer_closed:
                chunk = self.ssl.read(1 << 16)
                if not chunk:  # read() gives b"" only once close_notify has arrived
                    self.peer_closed = True
                    break
                self.received += chunk
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:
            self.peer_closed = True
        except ssl.SSLError as exc:
            self.error = exc

    def write(self, data: bytes) -> None:
        self.ssl.write(data)

    def close(self) -> None:
        """Sends close_notify (and completes the shutdown if the peer's has arrived)."""
        with contextlib.suppress(ssl.SSLWantReadError):
            self.ssl.unwrap()


# -- events -----------------------------------------------------------------------------


def of_type(events: Iterable[Any], kind: type[T]) -> list[T]:
    return [e for e in events if isinstance(e, kind)]


@dataclass
class Recorder:
    """Keeps every event an endpoint reported, across calls to ``events_received``."""

    endpoint: Any
    events: list[Any] = field(default_factory=list)

    def collect(self) -> list[Any]:
        self.events += self.endpoint.events_received()
        return self.events

    def of(self, kind: type[T]) -> list[T]:
        return of_type(self.collect(), kind)

    @property
    def completed(self) -> HandshakeCompleted | None:
        done = self.of(HandshakeCompleted)
        return done[0] if done else None

    @property
    def alerts_sent(self) -> list[int]:
        return [a.description for a in self.of(AlertSent)]

    @property
    def alerts_received(self) -> list[tuple[int, int]]:
        return [(a.level, a.description) for a in self.of(AlertReceived)]

    @property
    def application_data(self) -> bytes:
        return b"".join(e.data for e in self.of(ApplicationDataReceived))

    def sent_raw(self, name: str) -> list[bytes]:
        return [e.raw for e in self.of(HandshakeMessageSent) if type(e.message).__name__ == name]

    def received_raw(self, name: str) -> list[bytes]:
        return [e.raw for e in self.of(HandshakeMessageReceived)
                if type(e.message).__name__ == name]


# -- a man in the middle that holds the keys ----------------------------------------------


@dataclass
class Frame:
    """One record's content as the relay sees it: opened if that direction is encrypted.

    ``flip_sealed`` flips that byte of the sealed fragment after re-sealing — a change
    the AEAD tag must catch. Setting ``protected`` to False sends the content in the clear.
    """

    direction: str
    content_type: int
    payload: bytes
    protected: bool
    flip_sealed: int | None = None


Edit = Callable[[Frame], list[Frame]]


def _one_message_each(content_type: int, payload: bytes) -> list[bytes]:
    """Splits a record holding a whole flight into one payload per handshake message, so
    each can be edited alone (the engine packs a flight into one record, as OpenSSL does).
    Anything that is not a run of whole handshake messages stays as it is."""
    if content_type != HANDSHAKE:
        return [payload]
    parts, offset = [], 0
    while offset + 4 <= len(payload):
        end = offset + 4 + int.from_bytes(payload[offset + 1 : offset + 4], "big")
        if end > len(payload):
            return [payload]
        parts.append(payload[offset:end])
        offset = end
    return parts if offset == len(payload) and parts else [payload]


class Relay:
    """A tap for :func:`pump` that opens, edits and re-seals every record in transit.

    It borrows each sender's traffic keys once that sender has sent ChangeCipherSpec, so
    it can change the plaintext of encrypted handshake records (and inject or drop
    records) while keeping the AEAD sequence numbers right — what an attacker holding
    the keys could do, and what only the Finished check can then catch.
    """

    def __init__(self, client: Any, server: Any, edit: Edit) -> None:
        self._senders = {"c2s": client, "s2c": server}
        self._edit = edit
        self._open: dict[str, Any] = {}
        self._seal: dict[str, Any] = {}

    def _keys(self, direction: str) -> Any:
        sender = self._senders[direction]
        return sender.keys.client_write if direction == "c2s" else sender.keys.server_write

    def __call__(self, direction: str, data: bytes) -> bytes:
        out = []
        for record in split_records(data):
            opener = self._open.get(direction)
            payload = (opener.open(record.content_type, record.version, record.fragment)
                       if opener is not None else record.fragment)
            frames = [Frame(direction, record.content_type, part, opener is not None)
                      for part in _one_message_each(record.content_type, payload)]
            for edited in (e for frame in frames for e in self._edit(frame)):
                sealer = self._seal.get(direction)
                fragment = edited.payload
                if sealer is not None and edited.protected:
                    fragment = sealer.seal(edited.content_type, record.version, fragment)
                if edited.flip_sealed is not None:
                    flipped = bytearray(fragment)
                    flipped[edited.flip_sealed] ^= 0x01
                    fragment = bytes(flipped)
                out.append(WireRecord(edited.content_type, record.version, fragment))
            if record.content_type == CHANGE_CIPHER_SPEC and opener is None:
                sender = self._senders[direction]
                self._open[direction] = RecordProtection(sender.suite, self._keys(direction))
                self._seal[direction] = RecordProtection(sender.suite, self._keys(direction))
        return join_records(out)


# -- a certificate our CA would not issue ---------------------------------------------------------------


def subject_only_certificate(ca: CertificateAuthority,
                             public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, common_name: str,
                             usage: Usage, now: datetime.datetime) -> x509.Certificate:
    """A leaf that names its holder in the subject's CN only, with no subjectAltName: what many
    organisations' client certificates look like (RFC 5280 §4.2.1.6 requires a SAN only when the
    subject is empty). Otherwise as ``pki.issue_certificate`` makes them."""
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage.oid]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.certificate.public_key()), critical=False)  # type: ignore[arg-type]
        .sign(ca.private_key, hashes.SHA256())  # type: ignore[arg-type]
    )
