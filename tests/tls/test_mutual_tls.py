"""Mutual TLS: client certificates (RFC 5246 §7.4.4 CertificateRequest, §7.4.6 client
Certificate, §7.4.8 CertificateVerify), against OpenSSL both ways and ours against ours.

OpenSSL is driven through ``ssl.MemoryBIO`` (no sockets), pinned to TLS 1.2 with an
explicit cipher list, since Python's default list leaves out RSA key exchange. Every suite
is named explicitly here too, so what these tests exercise never drifts with the defaults.
"""

from __future__ import annotations

import dataclasses
import datetime
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from helpers import (
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    OpenSSLPeer,
    Recorder,
    WireRecord,
    join_records,
    pump,
    split_handshake_messages,
    split_records,
    subject_only_certificate,
)

from handshake_game.tls import (
    AlertDescription,
    AlertLevel,
    AlertSent,
    CheckPassed,
    ClientState,
    HandshakeMessageReceived,
    HandshakeMessageSent,
    NamedGroup,
    ServerState,
    pki,
    suite_by_name,
)
from handshake_game.tls.messages import (
    Certificate,
    CertificateRequest,
    CertificateVerify,
    HandshakeType,
    decode_handshake,
    encode_handshake,
)
from handshake_game.tls.pki import CertificateProblem, CertificateRejected, Flaw, Usage
from handshake_game.tls.server import ClientAuthentication
from handshake_game.tls.suites import SignatureScheme

RSA_KX = "TLS_RSA_WITH_AES_128_GCM_SHA256"
ECDHE_RSA = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
TLS12_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
]
# secp256r1 is offered so that the ECDSA suites stay usable with the P-256 server key (RFC 8422 §5.1).
GROUPS = (NamedGroup.x25519, NamedGroup.secp256r1)
CLIENT_NAME = "student.handshake.test"
EMPTY_CERTIFICATE = bytes.fromhex("0b000003000000")  # Certificate with an empty certificate_list


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate (clientAuth, issued by the classroom root) and its key."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert_pem: Path
    key_pem: Path

    @property
    def chain(self) -> tuple[bytes, ...]:
        return (self.certificate.public_bytes(serialization.Encoding.DER),)


def _client_identity(ca: pki.CertificateAuthority, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
                     now: datetime.datetime, directory: Path, stem: str) -> ClientIdentity:
    certificate = pki.issue_certificate(ca, public_key=key.public_key(), common_name="student",
                                        names=[CLIENT_NAME], usage=Usage.CLIENT, now=now)
    cert_pem, key_pem = directory / f"{stem}.crt.pem", directory / f"{stem}.key.pem"
    cert_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(pki.private_key_pem(key))
    return ClientIdentity(certificate, key, cert_pem, key_pem)


@pytest.fixture(scope="module")
def client_identities(root_ca: pki.CertificateAuthority, issued_at: datetime.datetime,
                      pem_dir: Path) -> dict[str, ClientIdentity]:
    """An RSA-2048 and an ECDSA P-256 client identity, keyed "rsa" and "ec"."""
    return {
        "rsa": _client_identity(root_ca, pki.generate_rsa_key(2048), issued_at, pem_dir, "student-rsa"),
        "ec": _client_identity(root_ca, pki.generate_ec_key(), issued_at, pem_dir, "student-ec"),
    }


@pytest.fixture
def openssl_mtls_server(openssl_server_context, ca_pem: Path) -> Callable[[str], OpenSSLPeer]:
    """An OpenSSL TLS 1.2 server that requires a client certificate issued by the classroom CA."""

    def make(cipher: str) -> OpenSSLPeer:
        ctx = openssl_server_context(cipher)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=ca_pem)
        return OpenSSLPeer(ctx, server_side=True)

    return make


@pytest.fixture
def openssl_client(openssl_client_context) -> Callable[..., OpenSSLPeer]:
    """An OpenSSL TLS 1.2 client for "localhost", presenting ``cert_pem``/``key_pem`` if given."""

    def make(cipher: str, cert_pem: Path | None = None, key_pem: Path | None = None) -> OpenSSLPeer:
        ctx = openssl_client_context(cipher)
        if cert_pem is not None:
            ctx.load_cert_chain(cert_pem, key_pem)
        return OpenSSLPeer(ctx, server_side=False, server_hostname="localhost")

    return make


def sent_messages(events: Recorder, kind: type) -> list:
    return [e.message for e in events.of(HandshakeMessageSent) if isinstance(e.message, kind)]


def received_messages(events: Recorder, kind: type) -> list:
    return [e.message for e in events.of(HandshakeMessageReceived) if isinstance(e.message, kind)]


def check_names(events: Recorder) -> list[str]:
    return [c.name for c in events.of(CheckPassed)]


def subject_common_name(peercert: dict) -> str:
    return next(value for rdn in peercert["subject"] for key, value in rdn if key == "commonName")


# -- our client, an OpenSSL server that requires a client certificate ---------------------------

CLIENT_KEYS = [
    pytest.param("rsa", None, SignatureScheme.rsa_pss_rsae_sha256, id="rsa-pss"),
    pytest.param("rsa", (SignatureScheme.rsa_pkcs1_sha256,), SignatureScheme.rsa_pkcs1_sha256,
                 id="rsa-pkcs1"),
    pytest.param("ec", None, SignatureScheme.ecdsa_secp256r1_sha256, id="ecdsa-p256"),
]


@pytest.mark.parametrize("suite", [RSA_KX, ECDHE_RSA])
@pytest.mark.parametrize(("key", "schemes", "expected_scheme"), CLIENT_KEYS)
def test_openssl_server_accepts_our_client_certificate(
        suite: str, key: str, schemes: tuple[int, ...] | None, expected_scheme: SignatureScheme,
        client_identities, make_client, openssl_mtls_server, rsa_server) -> None:
    identity = client_identities[key]
    cipher_suite = suite_by_name(suite)
    server = openssl_mtls_server(cipher_suite.openssl_name)
    extra = {"signature_schemes": schemes} if schemes else {}
    client = make_client(cipher_suites=(suite,), groups=GROUPS, certificate_chain=identity.chain,
                         private_key=identity.private_key, **extra)
    events = Recorder(client)
    client.start()
    pump(client, server)

    assert server.error is None and server.handshake_done
    assert client.state is ClientState.CLIENT_CONNECTED
    assert server.ssl.version() == "TLSv1.2"
    assert server.ssl.cipher()[0] == cipher_suite.openssl_name
    # OpenSSL checked our chain against the classroom CA and our CertificateVerify with its key.
    peercert = server.ssl.getpeercert()
    assert subject_common_name(peercert) == "student"
    assert peercert["subjectAltName"] == (("DNS", CLIENT_NAME),)
    assert server.ssl.getpeercert(binary_form=True) == identity.chain[0]
    assert len(received_messages(events, CertificateRequest)) == 1
    assert [m.certificate_list for m in sent_messages(events, Certificate)] == [identity.chain]
    assert [m.signature_scheme for m in sent_messages(events, CertificateVerify)] == [expected_scheme]
    assert "CertificateVerify signed" in check_names(events)
    assert events.completed is not None and events.completed.peer_certificate == rsa_server.certificate

    client.send_application_data(b"hello from a certified client")
    pump(client, server)
    assert bytes(server.received) == b"hello from a certified client"
    server.write(b"hello, student")
    pump(client, server)
    assert events.application_data == b"hello, student"
    client.close()
    pump(client, server)
    assert server.peer_closed


@pytest.mark.parametrize("suite", [RSA_KX, ECDHE_RSA])
def test_openssl_server_refuses_our_client_without_a_certificate(suite: str, make_client,
                                                                 openssl_mtls_server) -> None:
    server = openssl_mtls_server(suite_by_name(suite).openssl_name)
    client = make_client(cipher_suites=(suite,), groups=GROUPS)
    events = Recorder(client)
    client.start()
    pump(client, server)

    assert events.sent_raw("Certificate") == [EMPTY_CERTIFICATE]
    assert not sent_messages(events, CertificateVerify)
    assert client.state is ClientState.CLIENT_ERROR
    assert events.alerts_received == [(AlertLevel.FATAL, AlertDescription.handshake_failure)]
    assert client.peer_alert is not None
    assert client.peer_alert.description == AlertDescription.handshake_failure
    assert events.completed is None
    assert server.error is not None and "PEER_DID_NOT_RETURN_A_CERTIFICATE" in str(server.error).upper()


def test_our_client_without_a_fitting_scheme_sends_no_certificate(client_identities, make_client,
                                                                  make_server) -> None:
    # The server accepts only RSA-PSS signatures; an ECDSA client key can make none of them, so
    # the client answers with an empty Certificate (RFC 5246 §7.4.6) and the server decides.
    identity = client_identities["ec"]
    server = make_server(cipher_suites=(RSA_KX,), client_auth=ClientAuthentication.OPTIONAL,
                         signature_schemes=(SignatureScheme.rsa_pss_rsae_sha256,))
    client = make_client(cipher_suites=(RSA_KX,), certificate_chain=identity.chain,
                         private_key=identity.private_key)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)

    assert client_events.sent_raw("Certificate") == [EMPTY_CERTIFICATE]
    assert not sent_messages(client_events, CertificateVerify)
    assert server.state is ServerState.SERVER_CONNECTED
    assert server_events.completed is not None and server_events.completed.peer_certificate is None


def test_our_client_sends_no_certificate_when_none_is_requested(client_identities, make_client,
                                                                make_server) -> None:
    identity = client_identities["rsa"]
    server = make_server(cipher_suites=(ECDHE_RSA,))  # ClientAuthentication.NONE by default
    client = make_client(cipher_suites=(ECDHE_RSA,), groups=GROUPS, certificate_chain=identity.chain,
                         private_key=identity.private_key)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)

    assert client.state is ClientState.CLIENT_CONNECTED
    assert not received_messages(client_events, CertificateRequest)
    assert not client_events.sent_raw("Certificate")
    assert not sent_messages(client_events, CertificateVerify)
    assert server_events.completed is not None and server_events.completed.peer_certificate is None


# -- our server asking OpenSSL clients for certificates ------------------------------------------


@pytest.mark.parametrize("suite", [RSA_KX, ECDHE_RSA])
@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_our_server_requiring_a_certificate_accepts_openssl_client(
        suite: str, key: str, client_identities, root_ca, make_server, openssl_client) -> None:
    identity = client_identities[key]
    cipher_suite = suite_by_name(suite)
    client = openssl_client(cipher_suite.openssl_name, identity.cert_pem, identity.key_pem)
    server = make_server(cipher_suites=(suite,), groups=GROUPS, client_auth=ClientAuthentication.REQUIRED,
                         client_trust_store=[root_ca.certificate])
    events = Recorder(server)
    client.start()
    pump(client, server)

    assert client.error is None and client.handshake_done
    assert server.state is ServerState.SERVER_CONNECTED
    assert client.ssl.cipher()[0] == cipher_suite.openssl_name
    done = events.completed
    assert done is not None and done.cipher_suite.name == suite
    assert done.peer_certificate == identity.certificate
    assert server.client_certificate == identity.certificate
    # The request named the classroom CA, and OpenSSL signed with a scheme it offered and its key fits.
    (request,) = sent_messages(events, CertificateRequest)
    assert request.certificate_authorities == (root_ca.certificate.subject.public_bytes(),)
    (verify,) = received_messages(events, CertificateVerify)
    assert verify.signature_scheme in request.signature_schemes
    if key == "ec":
        assert verify.signature_scheme == SignatureScheme.ecdsa_secp256r1_sha256
    else:
        assert SignatureScheme(verify.signature_scheme).name.startswith("rsa_")
    checks = check_names(events)
    assert "client certificate chain" in checks and "client CertificateVerify" in checks
    assert checks.index("client certificate chain") < checks.index("client CertificateVerify")

    client.write(b"GET / HTTP/1.1\r\n\r\n")
    pump(client, server)
    assert events.application_data == b"GET / HTTP/1.1\r\n\r\n"
    server.send_application_data(b"hello, student")
    pump(client, server)
    assert bytes(client.received) == b"hello, student"


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_our_server_accepts_a_client_certificate_without_subject_alt_name(
        version: str, root_ca, issued_at, pem_dir: Path, make_server, openssl_client_context) -> None:
    # RFC 5280 requires no subjectAltName in a client certificate whose subject names its holder;
    # such CN-only certificates are common, and OpenSSL presents them as any other.
    key = pki.generate_ec_key()
    certificate = subject_only_certificate(root_ca, key.public_key(), "cn-only student", Usage.CLIENT,
                                           issued_at)
    cert_pem, key_pem = pem_dir / "cn-only.crt.pem", pem_dir / "cn-only.key.pem"
    cert_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(pki.private_key_pem(key))
    ctx = openssl_client_context(suite_by_name(ECDHE_RSA).openssl_name)
    ctx.maximum_version = ssl.TLSVersion[version.replace(".", "_")]
    ctx.load_cert_chain(cert_pem, key_pem)
    client = OpenSSLPeer(ctx, server_side=False, server_hostname="localhost")
    server = make_server(groups=GROUPS, client_auth=ClientAuthentication.REQUIRED,
                         client_trust_store=[root_ca.certificate])
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert client.error is None and client.ssl.version() == version
    assert events.alerts_sent == []
    assert server.state is ServerState.SERVER_CONNECTED
    assert events.completed is not None and events.completed.peer_certificate == certificate
    assert "client certificate chain" in check_names(events)


@pytest.mark.parametrize("suite", [RSA_KX, ECDHE_RSA])
def test_our_server_requiring_a_certificate_refuses_openssl_client_without_one(
        suite: str, root_ca, make_server, openssl_client) -> None:
    client = openssl_client(suite_by_name(suite).openssl_name)
    server = make_server(cipher_suites=(suite,), groups=GROUPS, client_auth=ClientAuthentication.REQUIRED,
                         client_trust_store=[root_ca.certificate])
    events = Recorder(server)
    client.start()
    pump(client, server)

    assert events.received_raw("Certificate") == [EMPTY_CERTIFICATE]
    assert server.state is ServerState.SERVER_ERROR
    assert server.failed is not None and server.failed.description == AlertDescription.handshake_failure
    (sent,) = events.of(AlertSent)
    assert (sent.level, sent.description) == (AlertLevel.FATAL, AlertDescription.handshake_failure)
    assert "client certificate" in sent.reason
    assert events.completed is None
    assert client.error is not None and "HANDSHAKE_FAILURE" in str(client.error).upper()


@pytest.mark.parametrize("present", [False, True], ids=["no-certificate", "certificate"])
def test_our_server_with_optional_client_auth(present: bool, client_identities, root_ca, make_server,
                                              openssl_client) -> None:
    identity = client_identities["rsa"]
    cipher = suite_by_name(ECDHE_RSA).openssl_name
    client = (openssl_client(cipher, identity.cert_pem, identity.key_pem) if present
              else openssl_client(cipher))
    server = make_server(cipher_suites=(ECDHE_RSA,), groups=GROUPS,
                         client_auth=ClientAuthentication.OPTIONAL, client_trust_store=[root_ca.certificate])
    events = Recorder(server)
    client.start()
    pump(client, server)

    assert client.error is None and client.handshake_done
    assert server.state is ServerState.SERVER_CONNECTED
    assert len(sent_messages(events, CertificateRequest)) == 1
    done = events.completed
    assert done is not None
    if present:
        assert done.peer_certificate == identity.certificate
        assert "client CertificateVerify" in check_names(events)
    else:
        assert done.peer_certificate is None
        assert "client certificate" in check_names(events)
        assert not received_messages(events, CertificateVerify)


def test_our_server_without_client_auth_sends_no_certificate_request(client_identities, make_server,
                                                                     openssl_client) -> None:
    identity = client_identities["rsa"]
    client = openssl_client(suite_by_name(ECDHE_RSA).openssl_name, identity.cert_pem, identity.key_pem)
    server = make_server(cipher_suites=(ECDHE_RSA,), groups=GROUPS)
    events = Recorder(server)
    client.start()
    pump(client, server)

    assert client.error is None and server.state is ServerState.SERVER_CONNECTED
    assert not sent_messages(events, CertificateRequest)
    assert not received_messages(events, Certificate)
    assert events.completed is not None and events.completed.peer_certificate is None


# -- client certificates our server must refuse ----------------------------------------------------


def _bad_client_certificate(kind: str, identity: ClientIdentity, root_ca: pki.CertificateAuthority,
                            other_ca: pki.CertificateAuthority, now: datetime.datetime) -> x509.Certificate:
    public_key = identity.private_key.public_key()

    def issue(ca: pki.CertificateAuthority, flaw: Flaw | None = None) -> x509.Certificate:
        return pki.issue_certificate(ca, public_key=public_key, common_name="student", names=[CLIENT_NAME],
                                     usage=Usage.CLIENT, now=now, flaw=flaw)

    if kind == "self-signed":
        return pki.self_signed_certificate(identity.private_key, CLIENT_NAME, now, usage=Usage.CLIENT)
    if kind == "untrusted-ca":
        return issue(other_ca)
    return issue(root_ca, {"expired": Flaw.EXPIRED, "not-yet-valid": Flaw.NOT_YET_VALID,
                           "server-auth-only": Flaw.WRONG_USAGE,
                           "bad-signature": Flaw.BAD_SIGNATURE}[kind])


BAD_CLIENT_CERTIFICATES = [
    # (kind, problem, alert, how OpenSSL names the alert it receives)
    ("expired", CertificateProblem.EXPIRED, AlertDescription.certificate_expired, "CERTIFICATE_EXPIRED"),
    ("not-yet-valid", CertificateProblem.NOT_YET_VALID, AlertDescription.certificate_expired,
     "CERTIFICATE_EXPIRED"),
    ("untrusted-ca", CertificateProblem.UNTRUSTED_ISSUER, AlertDescription.unknown_ca, "UNKNOWN_CA"),
    ("self-signed", CertificateProblem.SELF_SIGNED, AlertDescription.unknown_ca, "UNKNOWN_CA"),
    ("server-auth-only", CertificateProblem.WRONG_KEY_USAGE, AlertDescription.unsupported_certificate,
     "UNSUPPORTED_CERTIFICATE"),
    ("bad-signature", CertificateProblem.BAD_SIGNATURE, AlertDescription.bad_certificate,
     "BAD_CERTIFICATE"),
]


@pytest.mark.parametrize("peer", ["openssl", "ours"])
@pytest.mark.parametrize(("kind", "problem", "alert", "openssl_alert"), BAD_CLIENT_CERTIFICATES,
                         ids=[case[0] for case in BAD_CLIENT_CERTIFICATES])
def test_our_server_refuses_a_bad_client_certificate(
        peer: str, kind: str, problem: CertificateProblem, alert: AlertDescription, openssl_alert: str,
        client_identities, root_ca, other_ca, issued_at, tmp_path: Path, make_client, make_server,
        openssl_client) -> None:
    identity = client_identities["rsa"]
    bad = _bad_client_certificate(kind, identity, root_ca, other_ca, issued_at)
    bad_der = bad.public_bytes(serialization.Encoding.DER)
    if peer == "openssl":
        cert_pem = tmp_path / "bad.pem"
        cert_pem.write_bytes(bad.public_bytes(serialization.Encoding.PEM))
        client = openssl_client(suite_by_name(ECDHE_RSA).openssl_name, cert_pem, identity.key_pem)
    else:
        client = make_client(cipher_suites=(ECDHE_RSA,), groups=GROUPS, certificate_chain=(bad_der,),
                             private_key=identity.private_key)
    server = make_server(cipher_suites=(ECDHE_RSA,), groups=GROUPS, client_auth=ClientAuthentication.REQUIRED,
                         client_trust_store=[root_ca.certificate])
    events = Recorder(server)
    client.start()
    pump(client, server)

    # (OpenSSL appends the issuer when it holds it: only the leaf is compared.)
    assert [m.certificate_list[0] for m in received_messages(events, Certificate)] == [bad_der]
    assert server.state is ServerState.SERVER_ERROR
    assert isinstance(server.failed, CertificateRejected)
    assert server.failed.problem is problem
    assert server.failed.description == alert
    (sent,) = events.of(AlertSent)
    assert (sent.level, sent.description) == (AlertLevel.FATAL, alert)
    assert sent.reason.startswith(problem.value)
    assert "client certificate chain" not in check_names(events)
    assert events.completed is None and server.client_certificate is None
    if peer == "openssl":
        assert client.error is not None and openssl_alert in str(client.error).upper()
    else:
        assert client.state is ClientState.CLIENT_ERROR
        assert client.peer_alert is not None and client.peer_alert.description == alert


def test_our_server_without_a_client_trust_store_takes_any_certificate_with_proof(
        client_identities, issued_at, make_client, make_server) -> None:
    # client_trust_store=None: no chain check, but CertificateVerify must still prove the key.
    identity = client_identities["ec"]
    self_signed = pki.self_signed_certificate(identity.private_key, CLIENT_NAME, issued_at,
                                              usage=Usage.CLIENT)
    server = make_server(cipher_suites=(ECDHE_RSA,), groups=GROUPS, client_auth=ClientAuthentication.REQUIRED)
    client = make_client(cipher_suites=(ECDHE_RSA,), groups=GROUPS,
                         certificate_chain=(self_signed.public_bytes(serialization.Encoding.DER),),
                         private_key=identity.private_key)
    events = Recorder(server)
    client.start()
    pump(client, server)

    assert server.state is ServerState.SERVER_CONNECTED
    assert events.completed is not None and events.completed.peer_certificate == self_signed
    details = {c.name: c.detail for c in events.of(CheckPassed)}
    assert "not checked" in details["client certificate chain"]
    assert "client CertificateVerify" in details


# -- ours against ours ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["rsa", "ec"])
@pytest.mark.parametrize("suite", TLS12_SUITES)
def test_mutual_tls_between_our_endpoints(suite: str, key: str, client_identities, root_ca, rsa_server,
                                          ecdsa_server, make_client, make_server) -> None:
    identity = client_identities[key]
    server_identity = ecdsa_server if "_ECDSA_" in suite else rsa_server
    server = make_server(server_identity, cipher_suites=(suite,), groups=GROUPS,
                         client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    client = make_client(cipher_suites=(suite,), groups=GROUPS, certificate_chain=identity.chain,
                         private_key=identity.private_key)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)

    assert client.state is ClientState.CLIENT_CONNECTED, client_events.alerts_sent
    assert server.state is ServerState.SERVER_CONNECTED, server_events.alerts_sent
    assert server_events.completed is not None and client_events.completed is not None
    assert server_events.completed.cipher_suite.name == suite
    assert server_events.completed.peer_certificate == identity.certificate
    assert client_events.completed.peer_certificate == server_identity.certificate
    expected = (SignatureScheme.rsa_pss_rsae_sha256 if key == "rsa"
                else SignatureScheme.ecdsa_secp256r1_sha256)
    assert [m.signature_scheme for m in received_messages(server_events, CertificateVerify)] == [expected]
    assert client_events.sent_raw("CertificateVerify") == server_events.received_raw("CertificateVerify")
    checks = check_names(server_events)
    assert "client certificate chain" in checks and "client CertificateVerify" in checks
    assert client.master_secret == server.master_secret

    client.send_application_data(b"from the student")
    server.send_application_data(b"from the server")
    pump(client, server)
    assert server_events.application_data == b"from the student"
    assert client_events.application_data == b"from the server"


def _edit_handshake(direction: str, message_type: HandshakeType,
                    edit: Callable[[bytes], bytes]) -> tuple[Callable[[str, bytes], bytes], list[bytes]]:
    """A tap for :func:`pump` that rewrites one kind of plaintext handshake message in ``direction``.

    Records after that side's ChangeCipherSpec are left alone (they are encrypted). Returns
    the tap and the list of messages it changed, as they were before the change.
    """
    changed: list[bytes] = []
    encrypted = False

    def tap(flow: str, data: bytes) -> bytes:
        nonlocal encrypted
        if flow != direction:
            return data
        out = []
        for record in split_records(data):
            if record.content_type == CHANGE_CIPHER_SPEC:
                encrypted = True
            elif record.content_type == HANDSHAKE and not encrypted:
                messages = split_handshake_messages(record.fragment)
                for i, message in enumerate(messages):
                    if message[0] == message_type:
                        changed.append(message)
                        messages[i] = edit(message)
                record = WireRecord(record.content_type, record.version, b"".join(messages))
            out.append(record)
        return join_records(out)

    return tap, changed


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_tampered_certificate_verify_is_a_decrypt_error(key: str, client_identities, root_ca, make_client,
                                                        make_server) -> None:
    identity = client_identities[key]
    server = make_server(cipher_suites=(ECDHE_RSA,), groups=GROUPS, client_auth=ClientAuthentication.REQUIRED,
                         client_trust_store=[root_ca.certificate])
    client = make_client(cipher_suites=(ECDHE_RSA,), groups=GROUPS, certificate_chain=identity.chain,
                         private_key=identity.private_key)

    def flip_last_signature_byte(message: bytes) -> bytes:
        # The signature is the message's last field (RFC 5246 §7.4.8), so its last byte is the last
        # byte of the message; lengths and encoding stay intact.
        return message[:-1] + bytes([message[-1] ^ 0x01])

    tap, changed = _edit_handshake("c2s", HandshakeType.certificate_verify, flip_last_signature_byte)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server, tap)

    assert len(changed) == 1
    assert server_events.received_raw("CertificateVerify") == [flip_last_signature_byte(changed[0])]
    assert server.state is ServerState.SERVER_ERROR
    assert server.failed is not None and server.failed.description == AlertDescription.decrypt_error
    assert server_events.alerts_sent == [AlertDescription.decrypt_error]
    assert "client CertificateVerify" not in check_names(server_events)
    assert server_events.completed is None
    assert client.state is ClientState.CLIENT_ERROR
    assert client_events.alerts_received == [(AlertLevel.FATAL, AlertDescription.decrypt_error)]


def test_certificate_verify_with_a_scheme_never_offered_is_an_illegal_parameter(
        client_identities, root_ca, make_client, make_server) -> None:
    # The server offers only RSA-PSS and ECDSA; in flight, its CertificateRequest is made to offer
    # rsa_pkcs1_sha256 instead of RSA-PSS, so the client really signs with a scheme the server never
    # offered. The server must refuse that scheme (illegal_parameter) before it looks at the
    # signature, which would also fail (decrypt_error), since the transcripts now differ.
    identity = client_identities["rsa"]
    offered = (SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.ecdsa_secp256r1_sha256)
    server = make_server(cipher_suites=(RSA_KX,), signature_schemes=offered,
                         client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    client = make_client(cipher_suites=(RSA_KX,), certificate_chain=identity.chain,
                         private_key=identity.private_key)

    def offer_pkcs1_instead(message: bytes) -> bytes:
        request = decode_handshake(message)
        assert isinstance(request, CertificateRequest) and request.signature_schemes == offered
        return encode_handshake(dataclasses.replace(
            request, signature_schemes=(SignatureScheme.rsa_pkcs1_sha256,
                                        SignatureScheme.ecdsa_secp256r1_sha256)))

    tap, changed = _edit_handshake("s2c", HandshakeType.certificate_request, offer_pkcs1_instead)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server, tap)

    assert len(changed) == 1
    assert [m.signature_scheme for m in sent_messages(client_events, CertificateVerify)] == [
        SignatureScheme.rsa_pkcs1_sha256]
    assert server.state is ServerState.SERVER_ERROR
    assert server.failed is not None and server.failed.description == AlertDescription.illegal_parameter
    (sent,) = server_events.of(AlertSent)
    assert sent.description == AlertDescription.illegal_parameter
    assert "rsa_pkcs1_sha256" in sent.reason
    assert client_events.alerts_received == [(AlertLevel.FATAL, AlertDescription.illegal_parameter)]
