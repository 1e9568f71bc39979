"""Our endpoints against OpenSSL (Python's ssl module over MemoryBIO; no sockets).

If OpenSSL completes handshakes with us, checks our certificate chain and host name,
exchanges data and closes cleanly, the bytes we produce are real TLS.
"""

from __future__ import annotations

import ssl

import pytest
from helpers import OpenSSLPeer, Recorder, pump

from handshake_game.tls import (
    AlertDescription,
    CheckPassed,
    ClientState,
    ConnectionClosed,
    NamedGroup,
    ServerState,
    suite_by_name,
)

RSA_SUITES = ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384"]
ECDHE_SUITES = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
ECDSA_SUITES = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"]
GROUPS = [NamedGroup.x25519, NamedGroup.secp256r1]

CASES = [pytest.param(s, None, id=s) for s in RSA_SUITES] + [
    pytest.param(s, g, id=f"{s}-{g.name}") for s in ECDHE_SUITES + ECDSA_SUITES for g in GROUPS]

BIG = bytes(i % 253 for i in range(40_000))  # more than two 16 KiB records


def offered_groups(suite: str, group: NamedGroup | None) -> tuple[NamedGroup, ...]:
    """Pins the ECDHE group; for ECDSA suites also offers the certificate's curve.

    OpenSSL (following RFC 8422 §5.1) only picks an ECDSA suite when the client's
    supported_groups list contains the curve of the server's certificate key, P-256 here.
    """
    if group is None:
        return ()
    if "_ECDSA_" in suite and group is not NamedGroup.secp256r1:
        return (group, NamedGroup.secp256r1)
    return (group,)


def openssl_read_all(peer: OpenSSLPeer, size: int) -> bytes:
    assert len(peer.received) == size, f"OpenSSL got {len(peer.received)} of {size} bytes"
    data = bytes(peer.received)
    peer.received.clear()
    return data


@pytest.mark.parametrize(("suite", "group"), CASES)
def test_our_client_against_openssl_server(suite: str, group: NamedGroup | None, rsa_server,
                                           ecdsa_server, make_client, openssl_server_context) -> None:
    cipher_suite = suite_by_name(suite)
    identity = ecdsa_server if "_ECDSA_" in suite else rsa_server
    server = OpenSSLPeer(openssl_server_context(cipher_suite.openssl_name, identity), server_side=True)
    groups = offered_groups(suite, group)
    client = make_client(cipher_suites=(suite,), **({"groups": groups} if groups else {}))
    events = Recorder(client)
    client.start()
    pump(client, server)

    assert server.error is None and server.handshake_done
    assert client.state is ClientState.CLIENT_CONNECTED
    done = events.completed
    assert done is not None
    assert done.cipher_suite.name == suite
    assert server.ssl.cipher()[0] == cipher_suite.openssl_name
    assert server.ssl.version() == "TLSv1.2"
    assert done.named_group == group
    assert done.extended_master_secret is True
    # Our client checked OpenSSL's chain against the root CA and the name "localhost".
    assert done.peer_certificate == identity.certificate
    assert any(e.name == "certificate chain" and "localhost" in e.detail
               for e in events.of(CheckPassed))

    client.send_application_data(b"ping")
    client.send_application_data(BIG)
    pump(client, server)
    assert openssl_read_all(server, 4 + len(BIG)) == b"ping" + BIG
    server.write(BIG)
    server.write(b"pong")
    pump(client, server)
    assert events.application_data == BIG + b"pong"

    client.close()
    pump(client, server)
    assert server.peer_closed


@pytest.mark.parametrize(("suite", "group"), CASES)
def test_openssl_client_against_our_server(suite: str, group: NamedGroup | None, rsa_server,
                                           ecdsa_server, make_server, openssl_client_context) -> None:
    cipher_suite = suite_by_name(suite)
    identity = ecdsa_server if "_ECDSA_" in suite else rsa_server
    client_ctx = openssl_client_context(cipher_suite.openssl_name)
    client = OpenSSLPeer(client_ctx, server_side=False, server_hostname="localhost")
    server = make_server(identity, cipher_suites=(suite,), **({"groups": (group,)} if group else {}))
    events = Recorder(server)
    client.start()
    pump(client, server)

    # CERT_REQUIRED + check_hostname: OpenSSL accepted our chain for "localhost".
    assert client.error is None and client.handshake_done
    assert client.ssl.getpeercert()["subjectAltName"] == (("DNS", "localhost"),)
    assert server.state is ServerState.SERVER_CONNECTED
    done = events.completed
    assert done is not None
    assert done.cipher_suite.name == suite
    assert client.ssl.cipher()[0] == cipher_suite.openssl_name
    assert client.ssl.version() == "TLSv1.2"
    assert done.named_group == group
    assert done.extended_master_secret is True
    assert done.server_name == "localhost"

    client.write(BIG)
    pump(client, server)
    assert events.application_data == BIG
    server.send_application_data(BIG)
    pump(client, server)
    assert openssl_read_all(client, len(BIG)) == BIG

    client.close()  # OpenSSL sends close_notify; we answer with ours
    pump(client, server)
    assert events.of(ConnectionClosed) == [ConnectionClosed(by_peer=True)]
    assert client.peer_closed
    client.ssl.unwrap()  # both close_notify alerts exchanged: the shutdown completes


def test_our_server_closes_first(make_server, openssl_client_context) -> None:
    client = OpenSSLPeer(openssl_client_context("ECDHE-RSA-AES128-GCM-SHA256"), server_side=False,
                         server_hostname="localhost")
    server = make_server()
    client.start()
    pump(client, server)
    server.send_application_data(b"bye")
    server.close()
    pump(client, server)
    assert client.received == b"bye"
    assert client.peer_closed


def test_openssl_server_closes_first(make_client, openssl_server_context) -> None:
    server = OpenSSLPeer(openssl_server_context("AES256-GCM-SHA384"), server_side=True)
    client = make_client(cipher_suites=("TLS_RSA_WITH_AES_256_GCM_SHA384",))
    events = Recorder(client)
    client.start()
    pump(client, server)
    server.close()
    pump(client, server)
    assert events.alerts_received[-1] == (1, AlertDescription.close_notify)
    assert events.of(ConnectionClosed) == [ConnectionClosed(by_peer=True)]
    server.ssl.unwrap()  # our close_notify answered OpenSSL's


def test_tls13_capable_openssl_client_settles_on_tls12(make_server, ca_pem) -> None:
    # A modern client offers TLS 1.3 too; a server pinned to TLS 1.2 must still be spoken to.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_pem)
    client = OpenSSLPeer(ctx, server_side=False, server_hostname="localhost")
    server = make_server(versions=(0x0303,))
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert client.error is None and client.ssl.version() == "TLSv1.2"
    assert events.completed is not None
    assert events.completed.cipher_suite.name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


def test_default_offers_agree_with_openssl_defaults(make_client, rsa_server) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(rsa_server.cert_pem, rsa_server.key_pem)
    server = OpenSSLPeer(ctx, server_side=True)
    client = make_client()
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert server.error is None and events.completed is not None
    assert events.completed.cipher_suite.key_exchange.value == "ECDHE"


def test_openssl_server_asking_for_a_client_certificate(make_client, openssl_server_context) -> None:
    # We have none to give: an empty Certificate (RFC 5246 §7.4.6), which CERT_OPTIONAL accepts.
    ctx = openssl_server_context("ECDHE-RSA-AES256-GCM-SHA384")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    server = OpenSSLPeer(ctx, server_side=True)
    client = make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",))
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert server.error is None and events.completed is not None
    assert len(events.received_raw("CertificateRequest")) == 1
    assert events.sent_raw("Certificate") == [bytes.fromhex("0b000003000000")]
    assert server.ssl.getpeercert() is None


# -- failures both sides must agree on ------------------------------------------------------


def test_openssl_refuses_our_server_for_another_host_name(make_server,
                                                          openssl_client_context) -> None:
    client = OpenSSLPeer(openssl_client_context("ECDHE-RSA-AES128-GCM-SHA256"), server_side=False,
                         server_hostname="www.example.org")
    server = make_server()
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert isinstance(client.error, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in str(client.error)
    assert server.state is ServerState.SERVER_ERROR
    assert events.alerts_received == [(2, AlertDescription.bad_certificate)]


def test_openssl_refuses_our_server_without_the_root(make_server) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts nothing: no CA loaded
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    client = OpenSSLPeer(ctx, server_side=False, server_hostname="localhost")
    server = make_server()
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert isinstance(client.error, ssl.SSLCertVerificationError)
    assert events.alerts_received == [(2, AlertDescription.unknown_ca)]


def test_our_client_refuses_openssl_with_an_untrusted_certificate(
        rogue_server, make_client, openssl_server_context) -> None:
    server = OpenSSLPeer(openssl_server_context("AES128-GCM-SHA256", rogue_server), server_side=True)
    client = make_client(cipher_suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",))
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert client.state is ClientState.CLIENT_ERROR
    assert events.alerts_sent == [AlertDescription.unknown_ca]
    assert server.error is not None and "UNKNOWN_CA" in str(server.error).upper()


def test_our_client_refuses_openssl_for_another_host_name(make_client,
                                                          openssl_server_context) -> None:
    server = OpenSSLPeer(openssl_server_context("ECDHE-RSA-AES128-GCM-SHA256"), server_side=True)
    client = make_client(server_name="www.example.org")
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert client.state is ClientState.CLIENT_ERROR
    assert events.alerts_sent == [AlertDescription.certificate_unknown]
    assert server.error is not None and "CERTIFICATE_UNKNOWN" in str(server.error).upper()


def test_no_common_suite_with_openssl_server(make_client, openssl_server_context) -> None:
    server = OpenSSLPeer(openssl_server_context("AES128-GCM-SHA256"), server_side=True)
    client = make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",))
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert client.state is ClientState.CLIENT_ERROR
    assert events.alerts_received == [(2, AlertDescription.handshake_failure)]


def test_no_common_suite_with_openssl_client(make_server, openssl_client_context) -> None:
    client = OpenSSLPeer(openssl_client_context("ECDHE-RSA-CHACHA20-POLY1305"), server_side=False,
                         server_hostname="localhost")
    server = make_server(cipher_suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",))
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert events.alerts_sent == [AlertDescription.handshake_failure]
    assert client.error is not None and "HANDSHAKE_FAILURE" in str(client.error).upper()
