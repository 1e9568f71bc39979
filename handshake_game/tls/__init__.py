"""Real TLS, sans-I/O: codec, messages, key schedule, records, PKI, endpoints.

Knows nothing of games, sockets or databases. The public API is re-exported here.
"""

from . import pki
from ._codec import DecodeError, Field
from ._endpoint import TLSUsageError
from .alerts import Alert, AlertDescription, AlertLevel, describe_alert
from .capture import Capture
from .client import ClientConfig, ClientState, TLSClient
from .events import (
    AlertReceived,
    AlertSent,
    ApplicationDataReceived,
    ChangeCipherSpecReceived,
    ChangeCipherSpecSent,
    CheckPassed,
    ConnectionClosed,
    EarlyDataReceived,
    Event,
    HandshakeCompleted,
    HandshakeMessageReceived,
    HandshakeMessageSent,
    SecretDerived,
    SessionTicketReceived,
)
from .observer import DecryptAttempt, WireObserver
from .server import ClientAuthentication, ServerConfig, ServerState, TLSServer
from .session import AntiReplay, Session, SessionDecodeError, SessionTickets
from .suites import CIPHER_SUITES, CipherSuite, KeyExchange, NamedGroup, suite_by_name

__all__ = [
    "CIPHER_SUITES",
    "Alert",
    "Capture",
    "ClientAuthentication",
    "DecryptAttempt",
    "WireObserver",
    "pki",
    "AlertDescription",
    "AlertLevel",
    "AlertReceived",
    "AlertSent",
    "AntiReplay",
    "ApplicationDataReceived",
    "ChangeCipherSpecReceived",
    "ChangeCipherSpecSent",
    "CheckPassed",
    "CipherSuite",
    "ClientConfig",
    "ClientState",
    "ConnectionClosed",
    "DecodeError",
    "EarlyDataReceived",
    "Event",
    "Field",
    "HandshakeCompleted",
    "HandshakeMessageReceived",
    "HandshakeMessageSent",
    "KeyExchange",
    "NamedGroup",
    "SecretDerived",
    "ServerConfig",
    "ServerState",
    "Session",
    "SessionDecodeError",
    "SessionTicketReceived",
    "SessionTickets",
    "TLSClient",
    "TLSServer",
    "TLSUsageError",
    "describe_alert",
    "suite_by_name",
]
