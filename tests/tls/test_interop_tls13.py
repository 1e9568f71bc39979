"""TLS 1.3 against OpenSSL (Python's ssl over MemoryBIO; no sockets), both ways, and the
TLS 1.3 defences ours against ours.

What OpenSSL proves by completing handshakes with us: our HKDF key schedule, our TLS 1.3
records, our HelloRetryRequest in both roles, and our client authentication. OpenSSL's
own NSS key log (``SSLContext.keylog_filename``) is compared line for line with ours, so
every traffic secret is checked against an independent implementation, not just "it
connected". Python's ssl cannot restrict the TLS 1.3 suites, so the suite is pinned on
our side; the group is pinned on both.

KeyUpdate: Python's ``SSLObject`` cannot start one, but OpenSSL answers ours. The engine
has no public call to start one either, so the tests send ``KeyUpdate`` themselves
through the endpoint's own ``_send_handshake`` and switch its write keys exactly as
RFC 8446 §4.6.3 says the sender must (``start_key_update`` below).
"""

from __future__ import annotations

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
    APPLICATION_DATA,
    HANDSHAKE,
    OpenSSLPeer,
    Recorder,
    WireRecord,
    handshake_record,
    join_records,
    pump,
    split_handshake_messages,
    split_records,
)

from handshake_game.tls import (
    Alert,
    AlertDescription,
    CheckPassed,
    ClientState,
    ConnectionClosed,
    HandshakeMessageReceived,
    HandshakeMessageSent,
    NamedGroup,
    ServerState,
    pki,
    suite_by_name,
)
from handshake_game.tls.keyschedule13 import next_traffic_secret, traffic_keys
from handshake_game.tls.messages import (
    Certificate13,
    CertificateVerify,
    ClientHello,
    ExtensionType,
    Finished,
    HelloRequest,
    KeyUpdate,
    NewSessionTicket13,
    ServerHello,
    decode_handshake,
    encode_handshake,
    parse_key_share_client,
)
from handshake_game.tls.pki import Usage
from handshake_game.tls.record import ContentType, RecordProtection13
from handshake_game.tls.server import ClientAuthentication
from handshake_game.tls.suites import SignatureScheme

D = AlertDescription
TLS13_SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
GROUPS = [NamedGroup.x25519, NamedGroup.secp256r1]
CASES = [pytest.param(s, g, id=f"{s}-{g.name}") for s in TLS13_SUITES for g in GROUPS]
BIG = bytes(i % 251 for i in range(40_000))  # three records: more than 2 x 16 KiB
KEYLOG_LABELS = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                 "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"}
CLIENT_NAME = "student.handshake.test"


# -- OpenSSL peers ---------------------------------------------------------------------------


def openssl_server(identity, *, curve: str | None = None, keylog: Path | None = None,
                   require_client_ca: Path | None = None) -> OpenSSLPeer:
    """An OpenSSL server that speaks TLS 1.3 only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(identity.cert_pem, identity.key_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if curve is not None:
        ctx.set_ecdh_curve(curve)  # the only group the server will accept
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    if require_client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=require_client_ca)
    return OpenSSLPeer(ctx, server_side=True)


def openssl_client(ca_pem: Path, *, curve: str | None = None, keylog: Path | None = None,
                   certificate: ClientIdentity | None = None) -> OpenSSLPeer:
    """An OpenSSL TLS 1.3 client that verifies chain and host name against the root CA.

    Its default groups put x25519 first, and it sends a key share for that one only.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if curve is not None:
        ctx.set_ecdh_curve(curve)
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    if certificate is not None:
        ctx.load_cert_chain(certificate.cert_pem, certificate.key_pem)
    return OpenSSLPeer(ctx, server_side=False, server_hostname="localhost")


def openssl_keylog(path: Path) -> set[str]:
    return {line for line in path.read_text().splitlines() if line and not line.startswith("#")}


def openssl_read_all(peer: OpenSSLPeer) -> bytes:
    data = bytes(peer.received)
    peer.received.clear()
    return data


@dataclass(frozen=True)
class ClientIdentity:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert_pem: Path
    key_pem: Path

    @property
    def chain(self) -> tuple[bytes, ...]:
        return (self.certificate.public_bytes(serialization.Encoding.DER),)


@pytest.fixture(scope="module")
def client_identities(root_ca: pki.CertificateAuthority, issued_at: datetime.datetime,
                      pem_dir: Path) -> dict[str, ClientIdentity]:
    """Client certificates (clientAuth, from the classroom root) on RSA-2048 and P-256 keys."""
    identities = {}
    for name, key in (("rsa", pki.generate_rsa_key(2048)), ("ec", pki.generate_ec_key())):
        certificate = pki.issue_certificate(root_ca, public_key=key.public_key(), common_name="student",
                                            names=[CLIENT_NAME], usage=Usage.CLIENT, now=issued_at)
        cert_pem = pem_dir / f"tls13-student-{name}.crt.pem"
        key_pem = pem_dir / f"tls13-student-{name}.key.pem"
        cert_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_pem.write_bytes(pki.private_key_pem(key))
        identities[name] = ClientIdentity(certificate, key, cert_pem, key_pem)
    return identities


def tls13_client(make_client, suite: str = "TLS_AES_128_GCM_SHA256", **config):
    """Our client offering only TLS 1.3 with one suite (make_client offers 1.2 unless told)."""
    return make_client(cipher_suites=(suite,), **config)


def messages(events: Recorder, kind: type, *, sent: bool = False) -> list:
    event_type = HandshakeMessageSent if sent else HandshakeMessageReceived
    return [e.message for e in events.of(event_type) if isinstance(e.message, kind)]


def check_names(events: Recorder) -> list[str]:
    return [c.name for c in events.of(CheckPassed)]


def common_name(peercert: dict) -> str:
    return next(value for rdn in peercert["subject"] for key, value in rdn if key == "commonName")


# -- our client against OpenSSL --------------------------------------------------------------


@pytest.mark.parametrize(("suite", "group"), CASES)
def test_our_client_against_openssl_server(suite: str, group: NamedGroup, rsa_server, make_client,
                                           tmp_path: Path) -> None:
    keylog = tmp_path / "openssl-server.keylog"
    server = openssl_server(rsa_server, keylog=keylog)
    client = tls13_client(make_client, suite, groups=(group,))
    events = Recorder(client)
    client.start()
    pump(client, server)

    assert server.error is None and server.handshake_done
    assert client.state is ClientState.CLIENT_CONNECTED, events.alerts_sent
    done = events.completed
    assert done is not None
    assert (done.version, done.cipher_suite.name, done.named_group) == (0x0304, suite, group)
    assert server.ssl.version() == "TLSv1.3"
    assert server.ssl.cipher()[0] == suite
    assert done.peer_certificate == rsa_server.certificate
    assert {"certificate chain", "server CertificateVerify", "server Finished"} <= set(check_names(events))
    # One ClientHello (our share was on the server's list), and no HelloRetryRequest.
    assert len(messages(events, ClientHello, sent=True)) == 1
    # The secrets OpenSSL derived are the ones we derived, all five of them.
    assert set(client.keylog_lines()) == openssl_keylog(keylog)
    assert {line.split()[0] for line in client.keylog_lines()} == KEYLOG_LABELS

    client.send_application_data(b"ping")
    client.send_application_data(BIG)
    pump(client, server)
    assert openssl_read_all(server) == b"ping" + BIG
    server.write(BIG)
    server.write(b"pong")
    pump(client, server)
    assert events.application_data == BIG + b"pong"
    # OpenSSL sent its session tickets once it had our Finished; we read them and moved on.
    assert len(messages(events, NewSessionTicket13)) == server.ssl.context.num_tickets == 2
    assert client.state is ClientState.CLIENT_CONNECTED

    client.close()
    pump(client, server)
    assert server.peer_closed


def test_our_client_against_openssl_server_with_an_ecdsa_certificate(ecdsa_server, make_client) -> None:
    server = openssl_server(ecdsa_server)
    client = tls13_client(make_client, groups=(NamedGroup.x25519,))
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert server.error is None and events.completed is not None
    (signature,) = messages(events, CertificateVerify)
    assert signature.signature_scheme == SignatureScheme.ecdsa_secp256r1_sha256
    client.send_application_data(b"over ecdsa")
    pump(client, server)
    assert openssl_read_all(server) == b"over ecdsa"


def test_our_client_answers_a_hello_retry_request(rsa_server, make_client, tmp_path: Path) -> None:
    # The client guesses x25519; the server accepts only P-256 and asks again (RFC 8446 §4.1.4).
    keylog = tmp_path / "openssl-server.keylog"
    server = openssl_server(rsa_server, curve="prime256v1", keylog=keylog)
    client = tls13_client(make_client, groups=(NamedGroup.x25519, NamedGroup.secp256r1))
    events = Recorder(client)
    client.start()
    pump(client, server)

    assert server.error is None and server.handshake_done
    done = events.completed
    assert done is not None and done.named_group == NamedGroup.secp256r1
    hellos = messages(events, ServerHello)
    assert [h.is_hello_retry_request for h in hellos] == [True, False]
    assert "HelloRetryRequest" in check_names(events)
    first, second = messages(events, ClientHello, sent=True)
    assert first.random == second.random and first.session_id == second.session_id
    groups_in = [[g for g, _ in _shares(hello)] for hello in (first, second)]
    assert groups_in == [[NamedGroup.x25519], [NamedGroup.secp256r1]]
    # The transcript after a HelloRetryRequest starts with message_hash (RFC 8446 §4.4.1):
    # if ours were wrong, these secrets (and the Finished checks) would differ.
    assert set(client.keylog_lines()) == openssl_keylog(keylog)
    client.send_application_data(b"after retry")
    pump(client, server)
    assert openssl_read_all(server) == b"after retry"


def _shares(hello: ClientHello) -> tuple[tuple[int, bytes], ...]:
    return parse_key_share_client(hello.extension(ExtensionType.key_share) or b"")


# -- OpenSSL's client against our server -------------------------------------------------------


@pytest.mark.parametrize(("suite", "group"), CASES)
def test_openssl_client_against_our_server(suite: str, group: NamedGroup, make_server, ca_pem: Path,
                                           tmp_path: Path) -> None:
    keylog = tmp_path / "openssl-client.keylog"
    # OpenSSL's client leads with an x25519 share; asked for P-256 only, it sends that share first.
    client = openssl_client(ca_pem, curve="prime256v1" if group is NamedGroup.secp256r1 else None,
                            keylog=keylog)
    server = make_server(cipher_suites=(suite,), groups=(group,))
    events = Recorder(server)
    client.start()
    pump(client, server)

    # CERT_REQUIRED + check_hostname: OpenSSL accepted our chain for "localhost".
    assert client.error is None and client.handshake_done
    assert client.ssl.version() == "TLSv1.3" and client.ssl.cipher()[0] == suite
    assert server.state is ServerState.SERVER_CONNECTED, events.alerts_sent
    done = events.completed
    assert done is not None
    assert (done.version, done.cipher_suite.name, done.named_group) == (0x0304, suite, group)
    assert done.server_name == "localhost"
    assert not any(h.is_hello_retry_request for h in messages(events, ServerHello, sent=True))
    assert set(server.keylog_lines()) == openssl_keylog(keylog)

    client.write(BIG)
    pump(client, server)
    assert events.application_data == BIG
    server.send_application_data(BIG)
    server.send_application_data(b"pong")
    pump(client, server)
    assert openssl_read_all(client) == BIG + b"pong"

    client.close()
    pump(client, server)
    assert events.of(ConnectionClosed) == [ConnectionClosed(by_peer=True)]
    # RFC 8446 §6.1: the client's close_notify closes its direction only; ours follows when the
    # server says so.
    assert not client.peer_closed
    server.close()
    pump(client, server)
    assert client.peer_closed


def test_our_server_answers_a_request_that_came_with_the_close_notify(make_server, ca_pem: Path) -> None:
    # `printf 'GET /…' | gnutls-cli …`: the request and the client's close_notify arrive in one read.
    # In TLS 1.3 that closes the client's direction only (RFC 8446 §6.1): the request is answered.
    client = openssl_client(ca_pem)
    server = make_server(cipher_suites=("TLS_AES_128_GCM_SHA256",))
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert server.state is ServerState.SERVER_CONNECTED
    client.write(b"GET / HTTP/1.1\r\n\r\n")
    client.close()
    server.receive_data(client.data_to_send())
    assert events.application_data == b"GET / HTTP/1.1\r\n\r\n"
    assert events.of(ConnectionClosed) == [ConnectionClosed(by_peer=True)]
    assert server.data_to_send() == b""  # no close_notify of ours yet: the answer comes first
    server.send_application_data(b"HTTP/1.1 204 No Content\r\n\r\n")
    server.close()
    client.receive_data(server.data_to_send())
    assert client.error is None
    assert bytes(client.received) == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert client.peer_closed
    server.receive_data(b"\x17\x03\x03\x00\x01x")  # RFC 8446 §6.1: after close_notify, ignored
    assert events.alerts_sent == [] and server.failed is None


def test_our_server_sends_a_hello_retry_request(make_server, ca_pem: Path, tmp_path: Path) -> None:
    keylog = tmp_path / "openssl-client.keylog"
    client = openssl_client(ca_pem, keylog=keylog)  # an x25519 share, P-256 also listed
    server = make_server(groups=(NamedGroup.secp256r1,))
    events = Recorder(server)
    client.start()
    pump(client, server)

    assert client.error is None and client.handshake_done
    done = events.completed
    assert done is not None and done.named_group == NamedGroup.secp256r1
    assert [h.is_hello_retry_request for h in messages(events, ServerHello, sent=True)] == [True, False]
    assert len(messages(events, ClientHello)) == 2
    assert set(server.keylog_lines()) == openssl_keylog(keylog)
    client.write(b"after retry")
    pump(client, server)
    assert events.application_data == b"after retry"


def test_our_server_with_an_ecdsa_certificate(make_server, ecdsa_server, ca_pem: Path) -> None:
    client = openssl_client(ca_pem)
    server = make_server(ecdsa_server)
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert client.error is None and events.completed is not None
    (signature,) = messages(events, CertificateVerify, sent=True)
    assert signature.signature_scheme == SignatureScheme.ecdsa_secp256r1_sha256


# -- client certificates -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_openssl_server_requiring_a_certificate_accepts_ours(kind: str, client_identities, rsa_server,
                                                             make_client, ca_pem: Path) -> None:
    identity = client_identities[kind]
    server = openssl_server(rsa_server, require_client_ca=ca_pem)
    client = tls13_client(make_client, certificate_chain=identity.chain, private_key=identity.private_key)
    events = Recorder(client)
    client.start()
    pump(client, server)

    assert server.error is None and server.handshake_done
    assert events.completed is not None
    peercert = server.ssl.getpeercert()
    assert common_name(peercert) == "student"
    assert ("DNS", CLIENT_NAME) in peercert["subjectAltName"]
    (certificate,) = messages(events, Certificate13, sent=True)
    assert certificate.certificate_list == identity.chain
    (signature,) = messages(events, CertificateVerify, sent=True)
    expected = (SignatureScheme.rsa_pss_rsae_sha256 if kind == "rsa"
                else SignatureScheme.ecdsa_secp256r1_sha256)
    assert signature.signature_scheme == expected
    client.send_application_data(b"signed in")
    pump(client, server)
    assert openssl_read_all(server) == b"signed in"


def test_openssl_server_refuses_our_client_without_a_certificate(rsa_server, make_client,
                                                                 ca_pem: Path) -> None:
    server = openssl_server(rsa_server, require_client_ca=ca_pem)
    client = tls13_client(make_client)
    events = Recorder(client)
    client.start()
    pump(client, server)
    # We answered the CertificateRequest with an empty Certificate (RFC 8446 §4.4.2).
    (certificate,) = messages(events, Certificate13, sent=True)
    assert certificate.certificate_list == ()
    assert not messages(events, CertificateVerify, sent=True)
    assert server.error is not None
    assert events.alerts_received == [(2, D.certificate_required)]
    assert client.state is ClientState.CLIENT_ERROR


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_our_server_requiring_a_certificate_accepts_openssls(kind: str, client_identities, root_ca,
                                                             make_server, ca_pem: Path) -> None:
    identity = client_identities[kind]
    client = openssl_client(ca_pem, certificate=identity)
    server = make_server(client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    events = Recorder(server)
    client.start()
    pump(client, server)

    assert client.error is None and client.handshake_done
    assert server.state is ServerState.SERVER_CONNECTED, events.alerts_sent
    done = events.completed
    assert done is not None and done.peer_certificate == identity.certificate
    assert {"client certificate chain", "client CertificateVerify", "client Finished"} <= set(
        check_names(events))
    client.write(b"it is me")
    pump(client, server)
    assert events.application_data == b"it is me"


def test_our_server_requiring_a_certificate_refuses_none(root_ca, make_server, ca_pem: Path) -> None:
    client = openssl_client(ca_pem)
    server = make_server(client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    events = Recorder(server)
    client.start()
    pump(client, server)
    # RFC 8446 §4.4.2.4: a server that requires a certificate aborts with certificate_required.
    assert events.alerts_sent == [D.certificate_required]
    assert server.state is ServerState.SERVER_ERROR and events.completed is None
    assert client.error is not None and "CERTIFICATE_REQUIRED" in str(client.error).upper()


def test_our_optional_server_lets_openssl_in_without_a_certificate(root_ca, make_server,
                                                                   ca_pem: Path) -> None:
    client = openssl_client(ca_pem)
    server = make_server(client_auth=ClientAuthentication.OPTIONAL, client_trust_store=[root_ca.certificate])
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert client.error is None
    done = events.completed
    assert done is not None and done.peer_certificate is None
    assert "client certificate" in check_names(events)


# -- downgrade protection (RFC 8446 §4.1.3) ------------------------------------------------------

DOWNGRADE_TLS12 = b"DOWNGRD\x01"


def strip_tls13_from_client_hello(direction: str, data: bytes) -> bytes:
    """An attacker's tap: removes supported_versions from the ClientHello, so that a server
    that would speak TLS 1.3 sees a TLS 1.2-only client. Everything else passes untouched."""
    if direction != "c2s":
        return data
    records = split_records(data)
    out = []
    for record in records:
        if record.content_type == HANDSHAKE and record.fragment[0] == 1:
            hello = decode_handshake(record.fragment)
            assert isinstance(hello, ClientHello)
            kept = tuple(e for e in hello.extensions or () if e.type != ExtensionType.supported_versions)
            rewritten = ClientHello(hello.client_version, hello.random, hello.session_id, hello.cipher_suites,
                                    hello.compression_methods, kept)
            record = WireRecord(record.content_type, record.version, encode_handshake(rewritten))
        out.append(record)
    return join_records(out)


def test_our_client_refuses_a_downgrade_to_tls12(make_client, make_server) -> None:
    # Our client offers 1.3 and 1.2; the tap hides 1.3 from a server that supports both. The
    # server answers TLS 1.2 with DOWNGRD\x01 at the end of server_random, and the client,
    # which did offer 1.3, must abort at the ServerHello, before any key exchange.
    client = make_client(cipher_suites=("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
                         versions=(0x0304, 0x0303))
    server = make_server()
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server, strip_tls13_from_client_hello)

    (hello,) = messages(client_events, ServerHello)
    assert hello.server_version == 0x0303 and hello.random.endswith(DOWNGRADE_TLS12)
    assert client_events.alerts_sent == [D.illegal_parameter]
    assert client.state is ClientState.CLIENT_ERROR
    assert [type(m).__name__ for m in messages(client_events, object, sent=True)] == ["ClientHello"]
    assert server_events.alerts_received == [(2, D.illegal_parameter)]


def test_openssl_client_refuses_our_servers_downgrade(make_server, ca_pem: Path) -> None:
    # The same attack on OpenSSL's client: it sees our sentinel where RFC 8446 puts it.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_pem)
    client = OpenSSLPeer(ctx, server_side=False, server_hostname="localhost")
    server = make_server()
    events = Recorder(server)
    client.start()
    pump(client, server, strip_tls13_from_client_hello)
    # OpenSSL names it for what it is: TLS 1.3 was removed from its hello on the way.
    assert client.error is not None and "INAPPROPRIATE_FALLBACK" in str(client.error).upper()
    assert events.alerts_received == [(2, D.illegal_parameter)]
    assert server.server_random.endswith(DOWNGRADE_TLS12)


def test_a_server_that_only_speaks_tls12_sets_no_sentinel(make_client, make_server) -> None:
    # Not a downgrade: the server really is TLS 1.2-only, and the 1.3-capable client goes along.
    client = make_client(cipher_suites=("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
                         versions=(0x0304, 0x0303))
    server = make_server(versions=(0x0303,))
    client_events = Recorder(client)
    client.start()
    pump(client, server)
    done = client_events.completed
    assert done is not None and done.version == 0x0303
    assert not server.server_random.endswith(DOWNGRADE_TLS12)


# -- tampering -----------------------------------------------------------------------------------


def flip_first_encrypted_record(direction_to_tamper: str) -> Callable[[str, bytes], bytes]:
    """A tap flipping one bit of the first application_data-typed (encrypted) record one way."""
    done = False

    def tap(direction: str, data: bytes) -> bytes:
        nonlocal done
        if direction != direction_to_tamper or done:
            return data
        records = split_records(data)
        for record in records:
            if record.content_type == APPLICATION_DATA:
                record.fragment = record.fragment[:-1] + bytes([record.fragment[-1] ^ 0x01])
                done = True
                break
        return join_records(records)

    return tap


def test_changed_byte_in_openssls_encrypted_flight_is_bad_record_mac(rsa_server, make_client) -> None:
    server = openssl_server(rsa_server)
    client = tls13_client(make_client)
    events = Recorder(client)
    client.start()
    pump(client, server, flip_first_encrypted_record("s2c"))
    assert events.alerts_sent == [D.bad_record_mac]
    assert client.state is ClientState.CLIENT_ERROR and events.completed is None
    assert server.error is not None and "BAD_RECORD_MAC" in str(server.error).upper()


def test_changed_byte_in_openssls_encrypted_finished_is_bad_record_mac(make_server, ca_pem: Path) -> None:
    client = openssl_client(ca_pem)
    server = make_server()
    events = Recorder(server)
    client.start()
    pump(client, server, flip_first_encrypted_record("c2s"))
    assert events.alerts_sent == [D.bad_record_mac]
    assert server.state is ServerState.SERVER_ERROR and events.completed is None
    assert client.error is not None and "BAD_RECORD_MAC" in str(client.error).upper()


def change_client_random(direction: str, data: bytes) -> bytes:
    if direction != "c2s":
        return data
    records = split_records(data)
    for record in records:
        if record.content_type == HANDSHAKE and record.fragment[0] == 1:
            changed = bytearray(record.fragment)
            changed[6 + 31] ^= 0x01  # the last byte of client_random (after type, length, version)
            record.fragment = bytes(changed)
    return join_records(records)


def test_changed_client_hello_leaves_the_client_unable_to_read_openssls_flight(rsa_server,
                                                                               make_client) -> None:
    # In TLS 1.3 the handshake traffic keys already hash the ClientHello (RFC 8446 §7.1):
    # OpenSSL derives its keys from the changed hello, we from ours, and the first encrypted
    # record no longer authenticates — the change is caught before any Finished is read.
    server = openssl_server(rsa_server)
    client = tls13_client(make_client)
    events = Recorder(client)
    client.start()
    pump(client, server, change_client_random)
    assert events.alerts_sent == [D.bad_record_mac]
    assert "server Finished" not in check_names(events)
    assert server.error is not None


class ResealServerFlight:
    """A man in the middle holding both sides' keys, for the server's encrypted flight.

    It opens each record with the keys the server derived and seals it again with the keys
    the client derived (read from each endpoint's key log), after ``edit`` had its say on
    each plaintext handshake message. The ServerHello goes to the client first, so that the
    client has derived its keys by the time the flight is resealed.
    """

    def __init__(self, client, server, edit: Callable[[bytes], bytes] = lambda raw: raw) -> None:
        self.client, self.server, self.edit = client, server, edit
        self.done = False

    @staticmethod
    def secret(endpoint, label: str) -> bytes:
        (line,) = [line for line in endpoint.keylog_lines() if line.startswith(label + " ")]
        return bytes.fromhex(line.split()[2])

    def __call__(self, direction: str, data: bytes) -> bytes:
        records = split_records(data)
        if self.done or direction != "s2c" or not any(r.content_type == APPLICATION_DATA for r in records):
            return data
        self.done = True  # later records (alerts) pass as they are
        first = next(i for i, r in enumerate(records) if r.content_type == APPLICATION_DATA)
        self.client.receive_data(join_records(records[:first]))
        suite = self.server.suite
        label = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
        opener = RecordProtection13(suite, traffic_keys(suite, self.secret(self.server, label)))
        sealer = RecordProtection13(suite, traffic_keys(suite, self.secret(self.client, label)))
        out = []
        for record in records[first:]:
            content_type, plaintext = opener.open(record.encode()[:5], record.fragment)
            if content_type == ContentType.handshake:
                # One message per record or a whole flight in one: edit message by message.
                plaintext = b"".join(self.edit(raw) for raw in split_handshake_messages(plaintext))
            out.append(sealer.seal(content_type, plaintext))
        return b"".join(out)


def test_changed_client_hello_is_caught_by_certificate_verify_even_when_the_keys_follow(
        make_client, make_server) -> None:
    # An attacker who could also make the keys match (the relay reseals with each side's own)
    # still cannot make the server's signature cover the hello the client sent.
    client, server = tls13_client(make_client), make_server()
    events = Recorder(client)
    relay = ResealServerFlight(client, server)
    client.start()
    pump(client, server, lambda d, data: relay(d, change_client_random(d, data)))
    assert events.alerts_sent == [D.decrypt_error]
    assert "certificate chain" in check_names(events)
    assert "server CertificateVerify" not in check_names(events)
    assert client.state is ClientState.CLIENT_ERROR and events.completed is None


def test_changed_server_finished_is_decrypt_error(make_client, make_server) -> None:
    def corrupt_finished(raw: bytes) -> bytes:
        if raw[0] != 20:
            return raw
        return raw[:-1] + bytes([raw[-1] ^ 0x01])

    client, server = tls13_client(make_client), make_server()
    events = Recorder(client)
    client.start()
    pump(client, server, ResealServerFlight(client, server, corrupt_finished))
    assert "server CertificateVerify" in check_names(events)
    assert "server Finished" not in check_names(events)
    assert events.alerts_sent == [D.decrypt_error]
    assert client.state is ClientState.CLIENT_ERROR and events.completed is None
    assert not messages(events, Finished, sent=True)


# -- KeyUpdate (RFC 8446 §4.6.3) -----------------------------------------------------------------


def start_key_update(endpoint, request_update: int) -> None:
    """What a sender does: KeyUpdate under the old keys, then its own write keys move on.

    The engine has no public call for this, so the test drives its internals: the endpoint's
    ``_send_handshake`` and ``_protect13``, and its ``_own_application_secret``.
    """
    endpoint._send_handshake(KeyUpdate(request_update))
    endpoint._own_application_secret = next_traffic_secret(endpoint.suite, endpoint._own_application_secret)
    endpoint._protect13("write", endpoint._own_application_secret)


def traffic_secret(endpoint, label: str) -> bytes:
    return ResealServerFlight.secret(endpoint, label)


class Wiretap:
    def __init__(self) -> None:
        self.sent: dict[str, bytearray] = {"c2s": bytearray(), "s2c": bytearray()}

    def __call__(self, direction: str, data: bytes) -> bytes:
        self.sent[direction] += data
        return data

    def records(self, direction: str) -> list[WireRecord]:
        return split_records(bytes(self.sent[direction]))


def opens(suite, secret: bytes, record: WireRecord, sequence_number: int = 0) -> tuple[int, bytes] | None:
    protection = RecordProtection13(suite, traffic_keys(suite, secret))
    protection.sequence_number = sequence_number
    try:
        return protection.open(record.encode()[:5], record.fragment)
    except Alert:  # bad_record_mac: not these keys, or not this sequence number
        return None


@pytest.mark.parametrize("request_update", [0, 1])
@pytest.mark.parametrize("suite", TLS13_SUITES)
def test_key_update_ours_against_ours(suite: str, request_update: int, make_client, make_server) -> None:
    client = tls13_client(make_client, suite)
    server = make_server(cipher_suites=(suite,))
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)
    assert client_events.completed is not None and server_events.completed is not None
    cipher_suite = suite_by_name(suite)
    client_secret_0 = traffic_secret(client, "CLIENT_TRAFFIC_SECRET_0")
    server_secret_0 = traffic_secret(server, "SERVER_TRAFFIC_SECRET_0")

    wire = Wiretap()
    start_key_update(client, request_update)
    client.send_application_data(b"after the update")
    pump(client, server, wire)
    server.send_application_data(b"and back")
    pump(client, server, wire)

    assert server_events.application_data == b"after the update"
    assert client_events.application_data == b"and back"
    assert [m.request_update for m in messages(server_events, KeyUpdate)] == [request_update]
    assert [m.request_update for m in messages(client_events, KeyUpdate)] == ([0] if request_update else [])

    # The keys really moved: the KeyUpdate travels under generation 0, the data after it
    # under generation 1 — which generation 0 no longer opens.
    client_secret_1 = next_traffic_secret(cipher_suite, client_secret_0)
    key_update, data = wire.records("c2s")
    assert opens(cipher_suite, client_secret_0, key_update) == (ContentType.handshake,
                                                                encode_handshake(KeyUpdate(request_update)))
    assert opens(cipher_suite, client_secret_1, data) == (ContentType.application_data, b"after the update")
    assert opens(cipher_suite, client_secret_0, data, 1) is None
    server_records = wire.records("s2c")
    if request_update:
        answer, reply = server_records
        assert opens(cipher_suite, server_secret_0, answer) == (ContentType.handshake,
                                                                encode_handshake(KeyUpdate(0)))
        server_secret = next_traffic_secret(cipher_suite, server_secret_0)
    else:
        (reply,) = server_records
        server_secret = server_secret_0
    assert opens(cipher_suite, server_secret, reply) == (ContentType.application_data, b"and back")


def test_key_update_from_our_client_is_followed_by_openssl(rsa_server, make_client) -> None:
    server = openssl_server(rsa_server)
    client = tls13_client(make_client)
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert events.completed is not None and len(messages(events, NewSessionTicket13)) == 2

    start_key_update(client, 1)
    client.send_application_data(b"new keys")
    pump(client, server)
    assert openssl_read_all(server) == b"new keys"  # OpenSSL read with our next secret
    server.write(b"mine too")  # and, asked to, sends KeyUpdate and moves on before writing
    pump(client, server)
    assert events.application_data == b"mine too"
    assert [m.request_update for m in messages(events, KeyUpdate)] == [0]
    assert server.error is None and client.state is ClientState.CLIENT_CONNECTED


def test_key_update_from_our_server_is_followed_by_openssl(make_server, ca_pem: Path) -> None:
    client = openssl_client(ca_pem)
    server = make_server()
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert events.completed is not None

    start_key_update(server, 1)
    server.send_application_data(b"new keys")
    pump(client, server)
    assert openssl_read_all(client) == b"new keys"
    client.write(b"mine too")
    pump(client, server)
    assert events.application_data == b"mine too"
    assert [m.request_update for m in messages(events, KeyUpdate)] == [0]
    assert client.error is None and server.state is ServerState.SERVER_CONNECTED


def test_key_update_before_the_handshake_is_unexpected(make_server) -> None:
    server = make_server()
    events = Recorder(server)
    server.receive_data(handshake_record(encode_handshake(KeyUpdate(0))))
    assert events.alerts_sent == [D.unexpected_message]


# -- RFC 8446 rules found missing by these tests, and now enforced ------------------------------------


def test_encrypted_extensions_in_the_clear_after_the_server_hello_is_refused(make_client,
                                                                            make_server) -> None:
    # RFC 8446 §5.1: "Implementations MUST verify that all messages immediately preceding a key
    # change align with a record boundary; if not, then they MUST terminate the connection with
    # an unexpected_message alert." Here the man in the middle decrypts the EncryptedExtensions
    # and appends it, in the clear, to the ServerHello's record; the rest of the flight is
    # resealed at the sequence numbers the client now expects. Both transcripts still agree.
    client, server = tls13_client(make_client), make_server()
    events = Recorder(client)
    relayed = False

    def move_encrypted_extensions_into_the_hello_record(direction: str, data: bytes) -> bytes:
        nonlocal relayed
        if direction != "s2c" or relayed:
            return data
        relayed = True
        server_hello, change_cipher_spec, *flight = split_records(data)
        assert (server_hello.content_type, change_cipher_spec.content_type) == (HANDSHAKE, 20)
        suite = server.suite
        secret = traffic_secret(server, "SERVER_HANDSHAKE_TRAFFIC_SECRET")
        opener = RecordProtection13(suite, traffic_keys(suite, secret))
        sealer = RecordProtection13(suite, traffic_keys(suite, secret))
        opened = [opener.open(r.encode()[:5], r.fragment) for r in flight]
        assert {content_type for content_type, _ in opened} == {ContentType.handshake}
        encrypted_extensions, *rest = split_handshake_messages(b"".join(p for _, p in opened))
        assert [raw[0] for raw in (encrypted_extensions, *rest)] == [8, 11, 15, 20]
        server_hello.fragment += encrypted_extensions
        # The rest of the flight, resealed from sequence number 0, and nothing else.
        return (server_hello.encode() + change_cipher_spec.encode()
                + sealer.seal(ContentType.handshake, b"".join(rest)))

    client.start()
    pump(client, server, move_encrypted_extensions_into_the_hello_record)
    assert events.alerts_sent == [D.unexpected_message]
    assert client.state is ClientState.CLIENT_ERROR


def test_hello_request_after_a_tls13_handshake_is_unexpected(make_client, make_server) -> None:
    # HelloRequest does not exist in TLS 1.3 (RFC 8446 §4: hello_request_RESERVED), and
    # no_renegotiation is a TLS 1.2 alert. OpenSSL's TLS 1.3 client aborts with
    # unexpected_message here; ours carries on.
    client, server = tls13_client(make_client), make_server()
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert events.completed is not None
    server._write_records(ContentType.handshake, encode_handshake(HelloRequest()))
    pump(client, server)
    assert events.alerts_sent == [D.unexpected_message]
    assert client.state is ClientState.CLIENT_ERROR
