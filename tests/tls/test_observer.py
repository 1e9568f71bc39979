"""The eavesdropper's engine: a leaked server key opens a recorded RSA session for real,
and cannot open an (EC)DHE or TLS 1.3 one (forward secrecy); a key log opens any."""

from __future__ import annotations

import pytest
from helpers import pump

from handshake_game.tls import ApplicationDataReceived, HandshakeCompleted, TLSClient, TLSServer
from handshake_game.tls.events import EarlyDataReceived, SessionTicketReceived
from handshake_game.tls.observer import Side, WireObserver
from handshake_game.tls.pki import generate_rsa_key
from handshake_game.tls.session import SessionTickets

REQUEST = b"GET /grades HTTP/1.1\r\nHost: localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\n\r\nalice: A, bob: B+"


def recorded_session(client: TLSClient, server: TLSServer) -> WireObserver:
    """Runs a whole session through a tap, as the eavesdropper's seat sees it."""
    tap = WireObserver()

    def pump() -> None:
        for _ in range(20):
            to_server, to_client = client.data_to_send(), server.data_to_send()
            if to_server:
                tap.client_sent(to_server)
                server.receive_data(to_server)
            if to_client:
                tap.server_sent(to_client)
                client.receive_data(to_client)
            if not to_server and not to_client:
                return

    client.start()
    pump()
    client.send_application_data(REQUEST)
    pump()
    server.send_application_data(RESPONSE)
    pump()
    assert any(isinstance(e, ApplicationDataReceived) and e.data == RESPONSE
               for e in client.events_received())
    return tap


SUITES = ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384",
          "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256",
          "TLS_CHACHA20_POLY1305_SHA256"]


@pytest.mark.parametrize("extended_master_secret", [True, False])
@pytest.mark.parametrize("suite", ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384"])
def test_leaked_server_key_decrypts_a_recorded_rsa_session(make_client, make_server, rsa_server,
                                                           suite: str, extended_master_secret: bool) -> None:
    tap = recorded_session(make_client(cipher_suites=(suite,),
                                       offer_extended_master_secret=extended_master_secret),
                           make_server())
    # Before the leak: ciphertext only.
    assert not tap.try_decrypt().succeeded
    attempt = tap.try_decrypt(server_private_key=rsa_server.private_key)
    assert attempt.succeeded, attempt.reason
    assert attempt.application_data(Side.CLIENT) == REQUEST
    assert attempt.application_data(Side.SERVER) == RESPONSE
    # Both Finished messages were read too: every protected record authenticated.
    assert sum(1 for r in attempt.records if r.content_type == 22) == 2


@pytest.mark.parametrize("suite", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                                   "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"])
def test_leaked_server_key_cannot_open_a_forward_secret_session(make_client, make_server, rsa_server,
                                                               suite: str) -> None:
    tap = recorded_session(make_client(cipher_suites=(suite,)), make_server())
    attempt = tap.try_decrypt(server_private_key=rsa_server.private_key)
    assert not attempt.succeeded
    assert "forward secrecy" in attempt.reason.lower()
    assert attempt.records == ()


@pytest.mark.parametrize("suite", SUITES)
def test_a_key_log_opens_any_session(make_client, make_server, suite: str) -> None:
    client = make_client(cipher_suites=(suite,))
    tap = recorded_session(client, make_server())
    attempt = tap.try_decrypt(keylog_lines=client.keylog_lines())
    assert attempt.succeeded, attempt.reason
    assert attempt.application_data(Side.CLIENT) == REQUEST
    assert attempt.application_data(Side.SERVER) == RESPONSE


def test_the_wrong_key_opens_nothing(make_client, make_server) -> None:
    tap = recorded_session(make_client(cipher_suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",)), make_server())
    attempt = tap.try_decrypt(server_private_key=generate_rsa_key())
    assert not attempt.succeeded and attempt.records == ()
    other = make_client(cipher_suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",))
    recorded_session(other, make_server())
    # Another session's key log does not fit this recording either.
    assert not tap.try_decrypt(keylog_lines=other.keylog_lines()).succeeded


def test_the_tap_dissects_what_travels_in_the_clear(make_client, make_server) -> None:
    tap = recorded_session(make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",)),
                           make_server())
    names = [m.dissection.name for r in tap.records for m in r.messages]
    assert names[:5] == ["client_hello", "server_hello", "certificate", "server_key_exchange",
                         "server_hello_done"]
    assert "client_key_exchange" in names
    assert "finished" not in names  # Finished travels encrypted
    hello = tap.records[0].messages[0].dissection
    random_field = hello.find("random")
    assert random_field is not None and bytes.fromhex(random_field.value) == tap.client_hello.random


# -- TLS 1.3 0-RTT (RFC 8446 §2.3, §4.2.10, §7.1, §7.3) ----------------------------------------------

EARLY_REQUEST = b"POST /transfer HTTP/1.1\r\nHost: localhost\r\n\r\namount=100"


def resumed_with_early_data(make_client, make_server, *, max_early_data_size: int = 1024,
                            ticket_suite: str = "TLS_AES_128_GCM_SHA256",
                            server_suites: tuple[str, ...] = ("TLS_AES_128_GCM_SHA256",),
                            ) -> tuple[WireObserver, TLSClient, TLSServer]:
    """A first session for a ticket that allows 0-RTT, then a recorded resumption whose client sends
    EARLY_REQUEST as 0-RTT data, and REQUEST after the handshake."""
    tickets = SessionTickets()
    first = make_client(cipher_suites=(ticket_suite,))
    first_server = make_server(cipher_suites=(ticket_suite,), session_tickets=tickets,
                               max_early_data_size=1024)
    first.start()
    pump(first, first_server)
    (ticket,) = [e.session for e in first.events_received() if isinstance(e, SessionTicketReceived)]
    client = make_client(cipher_suites=tuple(dict.fromkeys((ticket_suite, *server_suites))), session=ticket,
                         early_data=EARLY_REQUEST)
    server = make_server(cipher_suites=server_suites, session_tickets=tickets,
                         max_early_data_size=max_early_data_size)
    return recorded_session(client, server), client, server


def test_a_key_log_opens_the_0rtt_data_of_a_resumed_session(make_client, make_server) -> None:
    tap, client, server = resumed_with_early_data(make_client, make_server)
    assert [e.data for e in server.events_received() if isinstance(e, EarlyDataReceived)] == [EARLY_REQUEST]
    # Before any ServerHello, the client's 0-RTT record is already on the wire, and protected.
    early_on_wire = [r for r in tap.records if r.sender is Side.CLIENT and r.content_type == 23]
    assert early_on_wire[0].encrypted
    attempt = tap.try_decrypt(keylog_lines=client.keylog_lines())
    assert attempt.succeeded, attempt.reason
    assert "CLIENT_EARLY_TRAFFIC_SECRET" in attempt.reason
    early = [r for r in attempt.records if r.early]
    # The 0-RTT request, then EndOfEarlyData (type 5), both under the early traffic keys.
    assert [(r.content_type, r.plaintext[:1]) for r in early] == [(23, EARLY_REQUEST[:1]), (22, b"\x05")]
    assert early[0].plaintext == EARLY_REQUEST
    assert attempt.application_data(Side.CLIENT) == EARLY_REQUEST + REQUEST
    assert attempt.application_data(Side.SERVER) == RESPONSE
    # The server's key log has the same lines: it accepted the early data.
    assert tap.try_decrypt(keylog_lines=server.keylog_lines()).records == attempt.records


def test_without_the_early_secret_the_0rtt_records_stay_closed_and_the_rest_opens(make_client,
                                                                                  make_server) -> None:
    tap, client, _ = resumed_with_early_data(make_client, make_server)
    lines = [line for line in client.keylog_lines() if not line.startswith("CLIENT_EARLY_TRAFFIC_SECRET")]
    attempt = tap.try_decrypt(keylog_lines=lines)
    assert attempt.succeeded, attempt.reason
    assert "2 0-RTT record(s) stay closed: the key log has no CLIENT_EARLY_TRAFFIC_SECRET" in attempt.reason
    assert not any(r.early for r in attempt.records)
    assert attempt.application_data(Side.CLIENT) == REQUEST
    assert attempt.application_data(Side.SERVER) == RESPONSE


@pytest.mark.parametrize("server_suites", [("TLS_AES_128_GCM_SHA256",), ("TLS_CHACHA20_POLY1305_SHA256",)],
                         ids=["same-suite", "other-suite"])
def test_refused_0rtt_data_opens_with_the_clients_early_secret(make_client, make_server,
                                                              server_suites: tuple[str, ...]) -> None:
    """RFC 8446 §4.2.10: the server refuses the early data (it takes none, or it resumes with another
    suite of the same hash); the client sealed it anyway, under the ticket's suite, and logged its early
    secret. No EndOfEarlyData: the client's first record under its handshake keys ends the 0-RTT ones."""
    max_early = 0 if server_suites == ("TLS_AES_128_GCM_SHA256",) else 1024
    tap, client, server = resumed_with_early_data(make_client, make_server, max_early_data_size=max_early,
                                                  server_suites=server_suites)
    done = [e for e in server.events_received() if isinstance(e, HandshakeCompleted)]
    assert done and done[0].resumed and not done[0].early_data_accepted
    assert done[0].cipher_suite.name == server_suites[0]
    attempt = tap.try_decrypt(keylog_lines=client.keylog_lines())
    assert attempt.succeeded, attempt.reason
    assert [r.plaintext for r in attempt.records if r.early] == [EARLY_REQUEST]
    assert attempt.application_data(Side.CLIENT) == EARLY_REQUEST + REQUEST
    assert attempt.application_data(Side.SERVER) == RESPONSE
