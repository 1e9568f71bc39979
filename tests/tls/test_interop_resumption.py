"""TLS 1.3 resumption against OpenSSL (through Python's ``ssl``, in memory): OpenSSL's client
resumes with our server's tickets, and our client resumes with OpenSSL's. Early data, which
Python's ``ssl`` cannot send, is tested with the ``openssl`` binary in tests/tools.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from helpers import OpenSSLPeer, Recorder, pump

from handshake_game.tls import HandshakeMessageReceived, ServerState
from handshake_game.tls.client import ClientState
from handshake_game.tls.events import SessionTicketReceived
from handshake_game.tls.messages import (
    PSK_KE,
    Certificate13,
    ClientHello,
    ExtensionType,
    NewSessionTicket12,
    ServerHello,
)
from handshake_game.tls.session import SessionTickets

SUITE = "TLS_AES_128_GCM_SHA256"


def sent(events: Recorder, kind: type) -> list:
    from handshake_game.tls import HandshakeMessageSent
    return [e.message for e in events.of(HandshakeMessageSent) if isinstance(e.message, kind)]


def openssl_client_context(ca_pem: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def connect_openssl(ctx: ssl.SSLContext, server, session: ssl.SSLSession | None = None) -> OpenSSLPeer:
    client = OpenSSLPeer(ctx, server_side=False, server_hostname="localhost")
    if session is not None:
        client.ssl.session = session
    client.start()
    pump(client, server)
    # OpenSSL takes the ticket when it next reads: ask for application data.
    server.send_application_data(b"hello")
    pump(client, server)
    return client


def test_openssl_client_resumes_with_our_servers_ticket(make_server, ca_pem: Path) -> None:
    tickets = SessionTickets()
    ctx = openssl_client_context(ca_pem)
    first_server = make_server(cipher_suites=(SUITE,), session_tickets=tickets)
    first = connect_openssl(ctx, first_server)
    assert first.error is None and first.received == b"hello" and not first.ssl.session_reused
    session = first.ssl.session
    assert session is not None and session.has_ticket

    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets)
    events = Recorder(server)
    second = connect_openssl(ctx, server, session)
    assert second.error is None and second.received == b"hello"
    assert second.ssl.session_reused, "OpenSSL says the session was resumed"
    assert server.state is ServerState.SERVER_CONNECTED and server.resumed
    assert not sent(events, Certificate13)
    # OpenSSL offers psk_dhe_ke: the ServerHello has the PSK and a key share.
    hello = sent(events, ServerHello)[0]
    assert hello.extension(ExtensionType.pre_shared_key) == b"\x00\x00"
    assert hello.extension(ExtensionType.key_share) is not None


def test_openssl_client_gets_a_full_handshake_when_it_offers_a_used_ticket_again(make_server,
                                                                                 ca_pem: Path) -> None:
    tickets = SessionTickets()
    ctx = openssl_client_context(ca_pem)
    first = connect_openssl(ctx, make_server(cipher_suites=(SUITE,), session_tickets=tickets))
    session = first.ssl.session
    assert connect_openssl(ctx, make_server(cipher_suites=(SUITE,), session_tickets=tickets),
                           session).ssl.session_reused
    again = connect_openssl(ctx, make_server(cipher_suites=(SUITE,), session_tickets=tickets), session)
    assert again.error is None and not again.ssl.session_reused


def openssl_server_context(identity) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(identity.cert_pem, identity.key_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def test_our_client_resumes_with_openssls_ticket(rsa_server, make_client) -> None:
    ctx = openssl_server_context(rsa_server)
    first_server = OpenSSLPeer(ctx, server_side=True)
    client = make_client(cipher_suites=(SUITE,))
    events = Recorder(client)
    client.start()
    pump(client, first_server)
    assert client.state is ClientState.CLIENT_CONNECTED
    tickets = events.of(SessionTicketReceived)
    assert len(tickets) == 2  # OpenSSL's default num_tickets

    for modes in ((1,), (PSK_KE, 1)):
        server = OpenSSLPeer(ctx, server_side=True)
        resumed = make_client(cipher_suites=(SUITE,), session=tickets[-1].session, psk_modes=modes)
        resumed_events = Recorder(resumed)
        resumed.start()
        pump(resumed, server)
        assert server.error is None and server.ssl.session_reused
        assert resumed_events.completed is not None and resumed_events.completed.resumed
        resumed.send_application_data(b"ping")
        pump(resumed, server)
        assert server.received == b"ping"


# -- TLS 1.2: by session id and by RFC 5077 ticket, both ways --------------------------------------

SUITE12 = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


def session_ticket(events: Recorder) -> bytes | None:
    """The ticket the client offered in the ClientHello that ``events``' server received."""
    (hello,) = [e.message for e in events.of(HandshakeMessageReceived) if isinstance(e.message, ClientHello)]
    return hello.extension(ExtensionType.session_ticket)


@pytest.mark.parametrize("by_ticket", [False, True], ids=["session-id", "ticket"])
def test_openssl_client_resumes_a_tls12_session_with_our_server(make_server, ca_pem: Path,
                                                               by_ticket: bool) -> None:
    tickets = SessionTickets()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_pem)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    if not by_ticket:
        ctx.options |= ssl.OP_NO_TICKET
    first = connect_openssl(ctx, make_server(cipher_suites=(SUITE12,), session_tickets=tickets))
    assert first.error is None and not first.ssl.session_reused
    session = first.ssl.session
    assert session is not None and session.has_ticket is by_ticket
    server = make_server(cipher_suites=(SUITE12,), session_tickets=tickets)
    events = Recorder(server)
    second = connect_openssl(ctx, server, session)
    assert second.error is None and second.received == b"hello"
    assert second.ssl.session_reused and second.ssl.version() == "TLSv1.2"
    # Resumed from a ticket, our server renews it (RFC 5077 §3.1, figure 2).
    assert server.resumed and [type(m).__name__ for m in sent(events, object)] == (
        ["ServerHello", "NewSessionTicket12", "Finished"] if by_ticket else ["ServerHello", "Finished"])
    if by_ticket:
        # OpenSSL took the renewed ticket into its session: it offers that one next, and it resumes.
        (renewal,) = sent(events, NewSessionTicket12)
        third_server = make_server(cipher_suites=(SUITE12,), session_tickets=tickets)
        third_events = Recorder(third_server)
        third = connect_openssl(ctx, third_server, second.ssl.session)
        assert third.error is None and third.ssl.session_reused and third_server.resumed
        assert session_ticket(third_events) == renewal.ticket != session_ticket(events)


@pytest.mark.parametrize("by_ticket", [False, True], ids=["session-id", "ticket"])
def test_our_client_resumes_a_tls12_session_with_openssl(rsa_server, make_client, by_ticket: bool) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(rsa_server.cert_pem, rsa_server.key_pem)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    client = make_client(cipher_suites=(SUITE12,), offer_session_ticket=by_ticket)
    events = Recorder(client)
    first_server = OpenSSLPeer(ctx, server_side=True)
    client.start()
    pump(client, first_server)
    # OpenSSL drops from its cache a session whose connection did not end with close_notify.
    client.close()
    pump(client, first_server)
    first_server.close()
    pump(client, first_server)
    (kept,) = events.of(SessionTicketReceived)
    assert kept.session.version == 0x0303 and bool(kept.session.ticket) is by_ticket

    server = OpenSSLPeer(ctx, server_side=True)
    resumed = make_client(cipher_suites=(SUITE12,), session=kept.session)
    resumed_events = Recorder(resumed)
    resumed.start()
    pump(resumed, server)
    assert server.error is None and server.ssl.session_reused
    assert resumed_events.completed is not None and resumed_events.completed.resumed
    resumed.send_application_data(b"ping")
    pump(resumed, server)
    assert server.received == b"ping"
