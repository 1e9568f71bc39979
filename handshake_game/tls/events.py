"""What an endpoint reports after it has processed bytes (past tense, frozen).

The CLI prints them as the annotated trace; the game turns them into facts.
``SecretDerived`` carries key material on purpose: this is a teaching engine, and
the trace shows what each side derived. Whoever displays it decides who may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from .messages import HandshakeMessage
from .session import Session
from .suites import CipherSuite


@dataclass(frozen=True)
class HandshakeMessageSent:
    message: HandshakeMessage
    raw: bytes


@dataclass(frozen=True)
class HandshakeMessageReceived:
    message: HandshakeMessage
    raw: bytes


@dataclass(frozen=True)
class ChangeCipherSpecSent:
    pass


@dataclass(frozen=True)
class ChangeCipherSpecReceived:
    pass


@dataclass(frozen=True)
class SecretDerived:
    """A value one side computed: premaster, master secret, keys, verify_data."""

    name: str
    value: bytes
    explanation: str


@dataclass(frozen=True)
class CheckPassed:
    """A check that could have failed, and did not."""

    name: str
    detail: str


@dataclass(frozen=True)
class HandshakeCompleted:
    version: int
    cipher_suite: CipherSuite
    named_group: int | None
    extended_master_secret: bool
    server_name: str | None
    peer_certificate: x509.Certificate | None
    resumed: bool = False  # a PSK from a ticket (RFC 8446 §2.2): no certificate this time
    early_data_accepted: bool = False  # the server read the client's 0-RTT data (§4.2.10)


@dataclass(frozen=True)
class ApplicationDataReceived:
    data: bytes


@dataclass(frozen=True)
class EarlyDataReceived:
    """0-RTT application data, read before the handshake completed (RFC 8446 §2.3): it may be
    a replay (§8), so the application decides what such a request may do."""

    data: bytes


@dataclass(frozen=True)
class SessionTicketReceived:
    """The client got a NewSessionTicket (RFC 8446 §4.6.1): ``session`` resumes later."""

    session: Session


@dataclass(frozen=True)
class AlertReceived:
    level: int
    description: int


@dataclass(frozen=True)
class AlertSent:
    level: int
    description: int
    reason: str


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer sent close_notify: it sends nothing more, and nothing more is read.

    In TLS 1.2 the endpoint has answered with its own close_notify and the connection is
    over (RFC 5246 §7.2.1). In TLS 1.3, once connected, only the peer's direction is closed
    (RFC 8446 §6.1): the application may still answer, then ``close()``.
    """

    by_peer: bool


Event = (
    HandshakeMessageSent | HandshakeMessageReceived | ChangeCipherSpecSent
    | ChangeCipherSpecReceived | SecretDerived | CheckPassed | HandshakeCompleted
    | ApplicationDataReceived | AlertReceived | AlertSent | ConnectionClosed | EarlyDataReceived
    | SessionTicketReceived
)
