"""What an endpoint reports after it has processed bytes (past tense, frozen).

The CLI prints them as the annotated trace; the game turns them into facts.
``SecretDerived`` carries key material on purpose: this is a teaching engine, and
the trace shows what each side derived. Whoever displays it decides who may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from .messages import HandshakeMessage
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


@dataclass(frozen=True)
class ApplicationDataReceived:
    data: bytes


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
    | ApplicationDataReceived | AlertReceived | AlertSent | ConnectionClosed
)
