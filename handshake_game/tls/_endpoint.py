"""What the TLS 1.2 client and server share: records, handshake framing, alerts.

Rules (in the spirit of h11):

* An endpoint takes bytes with ``receive_data`` and gives back bytes with
  ``data_to_send`` and events with ``events_received``; it never does I/O.
* Each role's handshake is a transition table ``{(state, handshake type):
  handler}``. A message missing from the table is ``unexpected_message``.
* Any :class:`Alert` raised while processing input — a decode failure, a failed
  check — is turned into a fatal alert record here, in one place; the endpoint
  then moves to ``ERROR`` and ignores further input. No other exception type
  escapes from ``receive_data``.
"""

from __future__ import annotations

import contextlib
import datetime
import hmac
from collections.abc import Callable
from typing import Any

from .alerts import (
    Alert,
    AlertDecodeError,
    AlertDecryptError,
    AlertDescription,
    AlertInternalError,
    AlertLevel,
    AlertUnexpectedMessage,
)
from .events import (
    AlertReceived,
    AlertSent,
    ApplicationDataReceived,
    ChangeCipherSpecReceived,
    ChangeCipherSpecSent,
    ConnectionClosed,
    Event,
    HandshakeMessageReceived,
    HandshakeMessageSent,
    SecretDerived,
)
from .keyexchange import Rng
from .keyschedule import (
    KeyBlock,
    Transcript,
    extended_master_secret,
    key_block,
    master_secret,
    verify_data,
)
from .keyschedule13 import KeySchedule, finished_verify_data, next_traffic_secret, traffic_keys
from .messages import (
    HANDSHAKE_HEADER_LENGTH,
    TLS13,
    AlertMessage,
    ChangeCipherSpec,
    HandshakeMessage,
    HandshakeType,
    KeyUpdate,
    decode_handshake,
    encode_handshake,
)
from .record import ContentType, Record, RecordLayer, RecordProtection, RecordProtection13
from .suites import CipherSuite, KeyExchange

Clock = Callable[[], datetime.datetime]

TLS12 = 0x0303

# The largest ClientHello its length fields allow (RFC 5246 §7.4.1.2, RFC 8446 §4.1.2):
# version, random, session_id<0..32>, cipher_suites<2..2^16-2>, compression_methods<1..2^8-1>,
# extensions<0..2^16-1>. A legal ClientHello is never refused for its size, and no claimed
# length beyond this is ever buffered: about 128 KiB per connection at most.
MAX_CLIENT_HELLO = 2 + 32 + (1 + 32) + (2 + 2**16 - 2) + (1 + 2**8 - 1) + (2 + 2**16 - 1)
# Every other handshake message: generous for certificate chains; more is refused.
MAX_HANDSHAKE_MESSAGE = 1 << 16
# OpenSSL's MAX_WARN_ALERT_COUNT: this many warning alerts in a row, with no other record
# between them, end the connection (unexpected_message). Warnings change nothing, so a
# peer that keeps sending them would otherwise hold the connection up for free.
MAX_WARNING_ALERTS_IN_A_ROW = 5


class TLSUsageError(Exception):
    """The caller asked the endpoint for something its state does not allow."""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Endpoint:
    """Shared machinery; subclasses define the states and the transition table."""

    is_client: bool = False

    def __init__(self, rng: Rng, now: Clock) -> None:
        self._rng = rng
        self._now = now
        self._records = RecordLayer()
        self._handshake_buffer = bytearray()
        self._outgoing = bytearray()
        self._pending_handshake = bytearray()
        self._events: list[Event] = []
        self.transcript = Transcript()
        self.suite: CipherSuite | None = None
        self.client_random = b""
        self.server_random = b""
        self.pre_master_secret = b""
        self.master_secret = b""
        self.use_extended_master_secret = False
        self.keys: KeyBlock | None = None
        self.version: int | None = None  # negotiated: 0x0303 or 0x0304
        self.key_schedule: KeySchedule | None = None  # TLS 1.3 only
        self._tls13_secrets: list[tuple[str, bytes]] = []  # for the key log
        self.closed = False  # we sent close_notify: nothing more is written
        self.peer_closed = False  # the peer sent close_notify: nothing more is read
        self.failed: Alert | None = None
        self._warning_alerts_in_a_row = 0
        self.peer_alert: AlertMessage | None = None

    # -- overridden by the roles ---------------------------------------------------
    state: Any
    _transitions: dict[tuple[Any, HandshakeType], Callable[[Any, Any, bytes], None]]

    def _expecting_change_cipher_spec(self) -> bool:
        raise NotImplementedError

    def _on_change_cipher_spec(self) -> None:
        raise NotImplementedError

    def _set_error(self) -> None:
        raise NotImplementedError

    def _is_connected(self) -> bool:
        raise NotImplementedError

    def _on_post_handshake(self, msg_type: int, raw: bytes) -> bool:
        """Handles a renegotiation attempt once connected; True if consumed."""
        return False

    def _on_early_data(self, data: bytes) -> bool:
        """Takes application data that arrives before the handshake ends (TLS 1.3 0-RTT data
        the server accepted); True if consumed."""
        return False

    # -- public API ----------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        if not self._reading():
            return
        try:
            self._records.feed(data)
            while self._reading():
                record = self._records.next_record()
                if record is None:
                    break
                self._handle_record(record)
        except Alert as alert:
            self._fail(alert)

    def _reading(self) -> bool:
        """Whether input is still processed. RFC 8446 §6.1 closes each direction on its own: a
        TLS 1.3 endpoint that sent close_notify still reads until the peer's. In TLS 1.2 either
        close_notify ends the connection (RFC 5246 §7.2.1)."""
        if self.failed is not None or self.peer_closed:
            return False
        return not self.closed or self.version == TLS13

    def data_to_send(self) -> bytes:
        self._flush_handshake()
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def events_received(self) -> list[Event]:
        events = self._events
        self._events = []
        return events

    def send_application_data(self, data: bytes) -> None:
        if not self._is_connected() or self.closed:
            raise TLSUsageError("application data can only be sent once the handshake is done")
        self._write_records(ContentType.application_data, data)

    def close(self) -> None:
        """Sends close_notify (RFC 5246 §7.2.1); the connection is then done."""
        if self.closed or self.failed is not None:
            return
        self._write_records(ContentType.alert,
                            AlertMessage(AlertLevel.WARNING, AlertDescription.close_notify)
                            .encode())
        self.closed = True

    def keylog_lines(self) -> list[str]:
        """NSS SSLKEYLOGFILE lines for this connection (empty before the keys exist)."""
        if self.version == TLS13:
            return [f"{label} {self.client_random.hex()} {secret.hex()}"
                    for label, secret in self._tls13_secrets]
        if not self.master_secret:
            return []
        return [f"CLIENT_RANDOM {self.client_random.hex()} {self.master_secret.hex()}"]

    # -- records ---------------------------------------------------------------------
    def _write_records(self, content_type: ContentType, data: bytes) -> None:
        self._flush_handshake()
        for record in self._records.encode(content_type, data):
            self._outgoing += record

    def _flush_handshake(self) -> None:
        """Sends the handshake messages queued so far, packed into as few records as fit.

        A flight (ServerHello … ServerHelloDone) travels together, as real stacks send
        it; anything else written, or a change of keys, flushes the queue first.
        """
        if self._pending_handshake:
            pending = bytes(self._pending_handshake)
            self._pending_handshake.clear()
            for record in self._records.encode(ContentType.handshake, pending):
                self._outgoing += record

    def _handle_record(self, record: Record) -> None:
        if record.content_type != ContentType.alert and record.fragment:
            self._warning_alerts_in_a_row = 0
        if (self.version == TLS13 and self._handshake_buffer
                and record.content_type != ContentType.handshake):
            # RFC 8446 §5.1: "Handshake messages MUST NOT be interleaved with other record types."
            raise AlertUnexpectedMessage(
                f"{record.content_type.name} record in the middle of a handshake message")
        if record.content_type == ContentType.handshake:
            self._handshake_buffer += record.fragment
            self._drain_handshake_messages()
        elif record.content_type == ContentType.change_cipher_spec:
            if self.version == TLS13 and (record.protected or record.fragment != b"\x01"):
                # RFC 8446 §5: any other value, or a protected CCS, is unexpected_message.
                raise AlertUnexpectedMessage("a TLS 1.3 ChangeCipherSpec must be the byte 1, in the clear")
            ChangeCipherSpec.decode(record.fragment)
            if self._handshake_buffer:
                raise AlertUnexpectedMessage("ChangeCipherSpec in the middle of a handshake message")
            if self.version == TLS13 and not self._is_connected():
                # RFC 8446 §5 and D.4: a middlebox-compatibility CCS; it means nothing.
                self._events.append(ChangeCipherSpecReceived())
                return
            if not self._expecting_change_cipher_spec():
                raise AlertUnexpectedMessage(f"ChangeCipherSpec is not expected in {self.state.name}")
            self._events.append(ChangeCipherSpecReceived())
            self._on_change_cipher_spec()
        elif record.content_type == ContentType.alert:
            self._handle_alert(AlertMessage.decode(record.fragment))
        else:
            if not self._is_connected():
                if self._on_early_data(record.fragment):
                    return
                raise AlertUnexpectedMessage("application data before the handshake completed")
            self._events.append(ApplicationDataReceived(record.fragment))

    def _handle_alert(self, alert: AlertMessage) -> None:
        self._events.append(AlertReceived(alert.level, alert.description))
        if alert.description == AlertDescription.close_notify:
            self.peer_closed = True
            if self.version != TLS13 or not self._is_connected():
                # RFC 5246 §7.2.1: answer with a close_notify at once; the connection is over.
                self.close()
            # RFC 8446 §6.1: in TLS 1.3 only the peer's direction is closed. What it sent before
            # its close_notify may still be answered; close() sends ours when we are done.
            self._events.append(ConnectionClosed(by_peer=True))
        elif alert.level == AlertLevel.FATAL or (
                self.version == TLS13 and alert.description != AlertDescription.user_canceled):
            # RFC 8446 §6: in TLS 1.3 the level is ignored; every alert but the closure
            # alerts (close_notify, user_canceled) is an error, unknown ones included.
            # The peer gave up; we send nothing back (RFC 5246 §7.2.2).
            self.peer_alert = alert
            self.failed = Alert(f"peer sent fatal alert {alert.description}")
            self._set_error()
        else:
            # Other TLS 1.2 warnings (no_renegotiation, user_canceled) change nothing, so
            # only so many in a row are taken, as OpenSSL does.
            self._warning_alerts_in_a_row += 1
            if self._warning_alerts_in_a_row >= MAX_WARNING_ALERTS_IN_A_ROW:
                raise AlertUnexpectedMessage(
                    f"{self._warning_alerts_in_a_row} warning alerts in a row and nothing else")

    def _drain_handshake_messages(self) -> None:
        buf = self._handshake_buffer
        while len(buf) >= HANDSHAKE_HEADER_LENGTH:
            length = int.from_bytes(buf[1:4], "big")
            limit = MAX_CLIENT_HELLO if buf[0] == HandshakeType.client_hello else MAX_HANDSHAKE_MESSAGE
            if length > limit:
                raise AlertDecodeError(f"handshake message of {length} bytes is too large (limit {limit})")
            if len(buf) < HANDSHAKE_HEADER_LENGTH + length:
                return
            raw = bytes(buf[: HANDSHAKE_HEADER_LENGTH + length])
            del buf[: HANDSHAKE_HEADER_LENGTH + length]
            keys_before = self._records.read_protection
            self._handle_handshake_message(raw)
            if not self._reading():
                return
            if buf and self._records.read_protection is not keys_before:
                # RFC 8446 §5.1: a key change must fall on a record boundary; bytes that
                # followed in the old record were never protected by the new keys.
                raise AlertUnexpectedMessage("handshake data after a key change in the same record")

    def _handle_handshake_message(self, raw: bytes) -> None:
        msg_type = raw[0]
        if self._is_connected() and self._on_post_handshake(msg_type, raw):
            return
        if self.is_client and msg_type == HandshakeType.hello_request and self.version != TLS13:
            # RFC 5246 §7.4.1.1: a client that is negotiating ignores HelloRequest,
            # and it never enters the transcript. It must still be well formed.
            decode_handshake(raw)
            return
        try:
            known_type = HandshakeType(msg_type)
        except ValueError:
            raise AlertUnexpectedMessage(f"unknown handshake message type {msg_type}") from None
        handler = self._transitions.get((self.state, known_type))
        if handler is None:
            raise AlertUnexpectedMessage(
                f"{known_type.name} is not expected in state {self.state.name}")
        kx = self.suite.key_exchange if self.suite is not None else None
        message = decode_handshake(raw, kx, self.version or TLS12)
        self._events.append(HandshakeMessageReceived(message, raw))
        handler(self, message, raw)

    def _send_handshake(self, message: HandshakeMessage) -> bytes:
        raw = encode_handshake(message)
        self.transcript.add(raw)
        if self.key_schedule is not None:
            self.key_schedule.update_hash(raw)
        self._pending_handshake += raw
        self._events.append(HandshakeMessageSent(message, raw))
        return raw

    def _send_change_cipher_spec(self) -> None:
        self._write_records(ContentType.change_cipher_spec, ChangeCipherSpec().encode())
        assert self.suite is not None and self.keys is not None
        own = self.keys.client_write if self.is_client else self.keys.server_write
        self._records.write_protection = RecordProtection(self.suite, own)
        self._events.append(ChangeCipherSpecSent())

    def _activate_read_keys(self) -> None:
        assert self.suite is not None and self.keys is not None
        peer = self.keys.server_write if self.is_client else self.keys.client_write
        self._records.read_protection = RecordProtection(self.suite, peer)

    def _fail(self, alert: Alert) -> None:
        """The one place an alert becomes bytes on the wire."""
        self.failed = alert
        # The alert is best effort; the state change is not.
        with contextlib.suppress(Exception):
            self._write_records(ContentType.alert,
                                AlertMessage(AlertLevel.FATAL, alert.description).encode())
        self._events.append(AlertSent(AlertLevel.FATAL, alert.description, alert.reason))
        self._set_error()

    # -- key schedule ------------------------------------------------------------------
    def _derive(self, name: str, value: bytes, explanation: str) -> None:
        self._events.append(SecretDerived(name, value, explanation))

    def _compute_keys(self) -> None:
        """After ClientKeyExchange: master secret and key block (RFC 5246 §8.1, §6.3)."""
        assert self.suite is not None
        suite = self.suite
        if self.use_extended_master_secret:
            session_hash = self.transcript.digest(suite.hash)
            self.master_secret = extended_master_secret(suite, self.pre_master_secret,
                                                        session_hash)
            self._derive("master_secret", self.master_secret,
                         "PRF(pre_master_secret, \"extended master secret\", "
                         "Hash(handshake so far)) — RFC 7627")
        else:
            self.master_secret = master_secret(suite, self.pre_master_secret,
                                               self.client_random, self.server_random)
            self._derive("master_secret", self.master_secret,
                         "PRF(pre_master_secret, \"master secret\", "
                         "client_random + server_random)")
        self._derive_key_block()

    def _derive_key_block(self) -> None:
        """RFC 5246 §6.3: the key block from the master secret and both randoms (also what a
        resumed TLS 1.2 session does with the master secret it kept)."""
        assert self.suite is not None
        self.keys = key_block(self.suite, self.master_secret, self.client_random,
                              self.server_random)
        self._derive("client_write_key", self.keys.client_write.key,
                     "encrypts client→server records")
        self._derive("server_write_key", self.keys.server_write.key,
                     "encrypts server→client records")
        self._derive("client_write_iv", self.keys.client_write.iv,
                     "nonce salt for client→server records")
        self._derive("server_write_iv", self.keys.server_write.iv,
                     "nonce salt for server→client records")

    # -- TLS 1.3 helpers ---------------------------------------------------------------
    def _secret13(self, keylog_label: str, name: str, value: bytes, explanation: str) -> bytes:
        self._tls13_secrets.append((keylog_label, value))
        self._derive(name, value, explanation)
        return value

    def _application_secrets13(self, ks: KeySchedule) -> tuple[bytes, bytes]:
        """RFC 8446 §7.1: the master secret's traffic secrets over CH..server Finished (and the
        exporter secret, for the key log); returns (client, server)."""
        ks.extract(None)
        client = self._secret13("CLIENT_TRAFFIC_SECRET_0", "client_application_traffic_secret",
                                ks.derive_secret(b"c ap traffic"),
                                "Derive-Secret(master_secret, \"c ap traffic\", CH..server Finished)")
        server = self._secret13("SERVER_TRAFFIC_SECRET_0", "server_application_traffic_secret",
                                ks.derive_secret(b"s ap traffic"),
                                "Derive-Secret(master_secret, \"s ap traffic\", CH..server Finished)")
        self._secret13("EXPORTER_SECRET", "exporter_master_secret", ks.derive_secret(b"exp master"),
                       "Derive-Secret(master_secret, \"exp master\", CH..server Finished)")
        return client, server

    def _protect13(self, direction: str, secret: bytes) -> None:
        """Switches one direction to the keys of a TLS 1.3 traffic secret (RFC 8446 §7.3)."""
        assert self.suite is not None
        protection = RecordProtection13(self.suite, traffic_keys(self.suite, secret))
        self._flush_handshake()  # what was queued goes out under the old keys
        if direction == "read":
            self._records.read_protection = protection
        else:
            self._records.write_protection = protection

    def _certificate_verify_content(self, sender: str) -> bytes:
        """RFC 8446 §4.4.3: 64 spaces, a context string, a zero byte, the transcript hash."""
        assert self.key_schedule is not None
        context = f"TLS 1.3, {sender} CertificateVerify".encode()
        return b" " * 64 + context + b"\x00" + self.key_schedule.transcript_hash()

    def _finished13(self, base_key: bytes) -> bytes:
        assert self.suite is not None and self.key_schedule is not None
        return finished_verify_data(self.suite, base_key, self.key_schedule.transcript_hash())

    def _check_finished13(self, base_key: bytes, received: bytes, who: str) -> None:
        expected = self._finished13(base_key)
        if len(received) != len(expected):
            # RFC 8446 §4.4.4: verify_data[Hash.length]; another length does not decode.
            raise AlertDecodeError(f"{who} Finished has {len(received)} bytes, not {len(expected)}")
        if not hmac.compare_digest(expected, received):
            raise AlertDecryptError(
                f"{who} Finished does not verify: the two sides saw different handshake "
                "messages or hold different handshake secrets")

    def _key_update_received(self, message: KeyUpdate, peer_secret: bytes) -> bytes:
        """RFC 8446 §4.6.3: the peer moved on; follow for reading, and answer if asked."""
        assert self.suite is not None
        peer_secret = next_traffic_secret(self.suite, peer_secret)
        self._protect13("read", peer_secret)
        if message.request_update:
            self._send_handshake(KeyUpdate(0))
            self._own_application_secret = next_traffic_secret(self.suite, self._own_application_secret)
            self._protect13("write", self._own_application_secret)
        return peer_secret

    _own_application_secret: bytes = b""

    def _verify_data(self, label: bytes) -> bytes:
        assert self.suite is not None
        return verify_data(self.suite, self.master_secret, label,
                           self.transcript.digest(self.suite.hash))

    def _check_finished(self, label: bytes, received: bytes, who: str) -> None:
        expected = self._verify_data(label)
        if len(received) != len(expected):
            raise AlertDecodeError(f"{who} Finished has {len(received)} bytes, not 12")
        if not hmac.compare_digest(expected, received):
            raise AlertDecryptError(
                f"{who} Finished does not verify: the two sides saw different handshake "
                "messages or hold different master secrets")

    @staticmethod
    def _uses_ecdhe(suite: CipherSuite) -> bool:
        return suite.key_exchange is KeyExchange.ECDHE


def internal_error(reason: str) -> Alert:
    return AlertInternalError(reason)
