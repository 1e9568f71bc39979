"""The eavesdropper's engine: a leaked server key opens a recorded RSA session for real,
and cannot open an (EC)DHE or TLS 1.3 one (forward secrecy); a key log opens any."""

from __future__ import annotations

import pytest

from handshake_game.tls import ApplicationDataReceived, TLSClient, TLSServer
from handshake_game.tls.observer import Side, WireObserver
from handshake_game.tls.pki import generate_rsa_key

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
