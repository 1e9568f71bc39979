"""Our endpoints against tlslite-ng, an independent pure-Python TLS, over a socket pair.

tlslite-ng runs on its own thread with blocking sockets; our endpoint is driven from the
test's thread, moving bytes between the socket and ``receive_data`` / ``data_to_send``.

What tlslite-ng shows that OpenSSL does not: with a P-256 key in TLS 1.2 it signs with the
strongest hash both sides list, ecdsa_secp384r1_sha384 (0x0503) here. In TLS 1.2 that code
point is (sha384, ecdsa) for any curve (RFC 5246 §7.4.1.4.1, RFC 8422 §5.10); only TLS 1.3
binds it to P-384 (RFC 8446 §4.2.3).
"""

from __future__ import annotations

import datetime
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import Recorder

from handshake_game.tls import (
    ApplicationDataReceived,
    CheckPassed,
    ClientState,
    HandshakeCompleted,
    HandshakeMessageReceived,
    ServerState,
    pki,
)
from handshake_game.tls.messages import CertificateVerify, ServerKeyExchange
from handshake_game.tls.server import ClientAuthentication
from handshake_game.tls.suites import SignatureScheme

# tlslite-ng imports asyncore, which Python 3.11 deprecates; that is tlslite's business.
pytestmark = pytest.mark.filterwarnings("ignore:The asyncore module is deprecated:DeprecationWarning")

TLS12 = (3, 3)
P384_SHA384 = SignatureScheme.ecdsa_secp384r1_sha384


def tlslite_identity(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Any, Any]:
    from tlslite import X509CertChain, parsePEMKey

    chain = X509CertChain()
    chain.parsePemList(cert.public_bytes(serialization.Encoding.PEM).decode())
    return chain, parsePEMKey(pki.private_key_pem(key).decode(), private=True)


def tls12_settings() -> Any:
    from tlslite import HandshakeSettings

    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = TLS12
    return settings


class TlsliteThread:
    """Runs ``peer(connection)`` on a thread, over one end of a socket pair; keeps its error."""

    def __init__(self, peer: Callable[[Any], None]) -> None:
        from tlslite import TLSConnection

        self.ours, theirs = socket.socketpair()
        self.ours.settimeout(20)
        theirs.settimeout(20)
        self.error: BaseException | None = None
        self.result: dict[str, bytes] = {}

        def run() -> None:
            try:
                peer(TLSConnection(theirs))
            except BaseException as exc:  # reported by the test, never lost on the thread
                self.error = exc
            finally:
                theirs.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def drive(self, endpoint: Any, on_event: Callable[[Any], None]) -> None:
        """Moves bytes until our endpoint is done or tlslite hangs up."""
        with self.ours:
            self.ours.sendall(endpoint.data_to_send())
            while endpoint.failed is None and not endpoint.closed:
                data = self.ours.recv(65536)
                if not data:
                    break
                endpoint.receive_data(data)
                for event in endpoint.events_received():
                    on_event(event)
                if pending := endpoint.data_to_send():
                    try:
                        self.ours.sendall(pending)
                    except (BrokenPipeError, ConnectionResetError):
                        break  # tlslite-ng hung up after its close_notify; ours had nowhere to go
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def ecdsa_client_identity(root_ca: pki.CertificateAuthority, issued_at: datetime.datetime
                          ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = pki.generate_ec_key()
    cert = pki.issue_certificate(root_ca, public_key=key.public_key(), common_name="student",
                                 names=["student.handshake.test"], usage=pki.Usage.CLIENT, now=issued_at)
    return cert, key


def test_our_client_against_a_tlslite_ecdsa_server(make_client, ecdsa_server) -> None:
    chain, key = tlslite_identity(ecdsa_server.certificate, ecdsa_server.private_key)

    def serve(connection: Any) -> None:
        connection.handshakeServer(certChain=chain, privateKey=key, settings=tls12_settings())
        connection.write(b"pong:" + bytes(connection.read(max=100)))
        connection.close()

    peer = TlsliteThread(serve)
    client = make_client(cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",))
    events = Recorder(client)
    client.start()

    def on_event(event: Any) -> None:
        events.events.append(event)
        if isinstance(event, HandshakeCompleted):
            client.send_application_data(b"ping")

    peer.drive(client, on_event)
    assert peer.error is None, repr(peer.error)
    assert client.state is ClientState.CLIENT_CONNECTED, events.alerts_sent
    (exchange,) = [e.message for e in events.of(HandshakeMessageReceived)
                   if isinstance(e.message, ServerKeyExchange)]
    # tlslite-ng signed its P-256 share with SHA-384; the client checked that signature.
    assert exchange.signature_scheme == P384_SHA384
    assert "ServerKeyExchange signature" in {e.name for e in events.of(CheckPassed)}
    assert events.application_data == b"pong:ping"


def test_tlslite_ecdsa_client_certificate_against_our_server(make_server, root_ca,
                                                             ecdsa_client_identity) -> None:
    chain, key = tlslite_identity(*ecdsa_client_identity)

    def client(connection: Any) -> None:
        connection.handshakeClientCert(certChain=chain, privateKey=key, settings=tls12_settings(),
                                       serverName="localhost")
        connection.write(b"ping")
        peer.result["reply"] = bytes(connection.read(max=100))
        connection.close()

    peer = TlsliteThread(client)
    server = make_server(client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    events = Recorder(server)

    def on_event(event: Any) -> None:
        events.events.append(event)
        if isinstance(event, ApplicationDataReceived):
            server.send_application_data(b"pong")
            server.close()

    peer.drive(server, on_event)
    assert peer.error is None, repr(peer.error)
    assert events.alerts_sent == []
    assert server.state is ServerState.SERVER_CONNECTED
    (proof,) = [e.message for e in events.of(HandshakeMessageReceived)
                if isinstance(e.message, CertificateVerify)]
    assert proof.signature_scheme == P384_SHA384  # a P-256 key, SHA-384: legal in TLS 1.2
    assert events.completed is not None and events.completed.peer_certificate == ecdsa_client_identity[0]
    assert peer.result == {"reply": b"pong"}
