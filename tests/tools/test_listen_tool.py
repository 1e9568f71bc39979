"""`handshake-game listen` against curl, `openssl s_client`, our own connect, and hostile input."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from tool_helpers import (
    Credentials,
    Listener,
    client_hello_record,
    free_port,
    handshake_game,
    need,
    read_until,
    tls_request,
)

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.mark.parametrize(("curl_cipher", "suite"), [
    ("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    ("AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
])
def test_curl_fetches_with_full_verification(listener: Listener, curl_cipher: str, suite: str) -> None:
    curl = need("curl")
    # --cacert with hostname checks on: the demo CA's certificate must hold up like a real one.
    result = subprocess.run(
        [curl, "--silent", "--show-error", "--fail", "--cacert", str(listener.ca_file),
         "--tls-max", "1.2", "--ciphers", curl_cipher,
         "--resolve", f"localhost:{listener.port}:127.0.0.1", f"https://localhost:{listener.port}/",
         "--include"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 200 OK" in result.stdout
    assert f"X-TLS-Cipher-Suite: {suite}" in result.stdout
    assert "Version: TLS 1.2" in result.stdout


def test_curl_default_offer_and_openssl_verify(listener: Listener) -> None:
    curl = need("curl")
    result = subprocess.run(
        [curl, "-sS", "--fail", "--cacert", str(listener.ca_file), f"https://localhost:{listener.port}/"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    # curl offers TLS 1.3 first, as browsers do, and so does listen.
    assert "Version: TLS 1.3" in result.stdout
    assert "Cipher suite: TLS_AES_128_GCM_SHA256" in result.stdout


def test_openssl_s_client_with_verification(listener: Listener) -> None:
    openssl = need("openssl")
    result = subprocess.run(
        [openssl, "s_client", "-connect", f"127.0.0.1:{listener.port}", "-servername", "localhost",
         "-verify_hostname", "localhost", "-CAfile", str(listener.ca_file), "-verify_return_error",
         "-tls1_2", "-ign_eof"],
        input="GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verify return code: 0 (ok)" in result.stdout
    assert "HTTP/1.1 200 OK" in result.stdout


def test_our_connect_against_our_listen(listener: Listener, tmp_path: Path) -> None:
    keylog = tmp_path / "client.keylog"
    result = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                            "--cipher", "TLS_RSA_WITH_AES_128_GCM_SHA256", "--keylog", str(keylog))
    assert result.returncode == 0, result.stderr
    assert "client derives pre_master_secret" in result.stdout
    assert "X-TLS-Key-Exchange: RSA" in result.stdout
    # Both ends wrote the same NSS key log line: same client_random, same master secret.
    assert keylog.read_text() == listener.keylog.read_text()
    assert keylog.read_text().startswith("CLIENT_RANDOM ")


def test_hostile_client_gets_alert_and_server_keeps_serving(listener: Listener) -> None:
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")  # plain HTTP to a TLS port
        answer = sock.recv(100)
    # A fatal alert record: content type 21, TLS 1.2, length 2, level fatal, unexpected_message.
    assert answer == bytes([21, 3, 3, 0, 2, 2, 10])
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        # A ClientHello claiming a body longer than what follows, then the client hangs up.
        sock.sendall(bytes([22, 3, 1, 0, 10, 1, 0, 0, 200]) + b"\x03\x03")
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        # A well-framed ClientHello whose body is garbage: decode_error.
        body = b"\x03\x03" + b"\x00" * 10
        hello = bytes([1]) + len(body).to_bytes(3, "big") + body
        sock.sendall(bytes([22, 3, 1]) + len(hello).to_bytes(2, "big") + hello)
        answer = sock.recv(100)
    assert answer == bytes([21, 3, 3, 0, 2, 2, 50])
    result = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                            "--quiet")
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 200 OK" in result.stdout


def test_version_pinning_on_both_tools(listener: Listener) -> None:
    pinned12 = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                              "--tls", "1.2", "--quiet")
    assert pinned12.returncode == 0, pinned12.stderr
    assert "X-TLS-Version: TLS 1.2" in pinned12.stdout
    pinned13 = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                              "--tls", "1.3", "--quiet")
    assert pinned13.returncode == 0, pinned13.stderr
    assert "X-TLS-Version: TLS 1.3" in pinned13.stdout
    mismatch = handshake_game("connect", f"localhost:{listener.port}", "--insecure", "--tls", "1.2",
                              "--cipher", "TLS_AES_128_GCM_SHA256")
    assert mismatch.returncode == 2
    assert "can be used with TLS 1.2" in mismatch.stderr


def test_listen_usage_errors_write_no_demo_ca(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    for flags in (["--require-client-cert", "--request-client-cert"], ["--client-cafile", "x.pem"]):
        result = handshake_game("listen", "--port", "0", "--ca-out", str(ca_file), *flags)
        assert result.returncode == 2
        assert not ca_file.exists()  # a running class's CA file is never overwritten by a typo


# -- what real peers and hostile ones found (issue 19) ---------------------------------------------------

REQUEST = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def alert_record(description: int) -> bytes:
    return bytes([21, 3, 3, 0, 2, 2, description])


def exchange(port: int, data: bytes) -> bytes:
    """Sends ``data`` on a fresh connection and returns everything the server answers until it closes."""
    answer = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(data)
        while chunk := sock.recv(65536):
            answer += chunk
    return bytes(answer)


def test_openssl_s_client_through_a_hello_retry_request(listener: Listener) -> None:
    # s_client sends a P-384 share only; listen takes x25519 and secp256r1, so it asks for secp256r1
    # (RFC 8446 §4.1.4). The trace shows the HelloRetryRequest, and the page is served.
    result = subprocess.run(
        [need("openssl"), "s_client", "-connect", f"127.0.0.1:{listener.port}", "-servername", "localhost",
         "-CAfile", str(listener.ca_file), "-verify_return_error", "-tls1_3", "-groups", "P-384:P-256",
         "-ign_eof"],
        input=REQUEST, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HTTP/1.1 200 OK" in result.stdout
    assert "Key exchange: ECDHE on secp256r1" in result.stdout
    log = listener.wait_for(r"\[1\] == done")
    assert "S → C  HelloRetryRequest" in log
    assert "selected_group         secp256r1: the client must send a share for this group" in log
    assert "aborted" not in log and "trace cannot show" not in log


def test_a_client_hello_with_no_key_share_gets_a_hello_retry_request(listener: Listener) -> None:
    # A TLS 1.3 ClientHello with an empty client_shares list (RFC 8446 §4.2.8 allows it): the
    # server must ask for a share, and its trace must show that, not end the connection.
    from handshake_game.tls.messages import ExtensionType, key_share_client_extension

    hello = client_hello_record(versions=(0x0304,), cipher_suites=("TLS_AES_128_GCM_SHA256",),
                                replace=(key_share_client_extension(()),))
    with socket.create_connection(("127.0.0.1", listener.port), timeout=20) as sock:
        sock.sendall(hello)
        answer = sock.recv(65536)
    # The first record is the HelloRetryRequest: a ServerHello with RFC 8446's special random.
    assert answer[0] == 22 and answer[5] == 2
    assert answer[5 + 4 + 2 : 5 + 4 + 2 + 32] == HELLO_RETRY_REQUEST_RANDOM
    log = listener.wait_for(r"\[1\] == done")
    assert "S → C  HelloRetryRequest" in log and f"{ExtensionType.key_share.name}" in log
    assert "aborted" not in log


def test_gnutls_cli_request_sent_with_its_close_notify_is_answered(listener: Listener) -> None:
    # `printf 'GET …' | gnutls-cli …`: at the end of its input gnutls-cli sends its close_notify,
    # often in the same segment as the request. TLS 1.3 closes one direction only (RFC 8446 §6.1).
    result = subprocess.run(
        [need("gnutls-cli"), "--x509cafile", str(listener.ca_file), "--port", str(listener.port),
         "localhost"],
        input=REQUEST, capture_output=True, text=True, timeout=30)
    assert "HTTP/1.1 200 OK" in result.stdout, result.stdout + result.stderr
    assert "Version: TLS 1.3" in result.stdout
    log = listener.wait_for(r"\[1\] == done")
    assert "aborted" not in log


def test_a_request_arriving_with_the_close_notify_is_answered(listener: Listener) -> None:
    # The same, made certain: the request record and the close_notify leave in one write.
    page = tls_request(listener.port, listener.ca_file, REQUEST.encode(), close_with_request=True)
    assert page.startswith(b"HTTP/1.1 200 OK\r\n")
    log = listener.wait_for(r"\[1\] == done")
    assert "request: GET / HTTP/1.1" in log and "aborted" not in log


def test_a_tls12_request_arriving_with_the_close_notify_ends_the_connection_cleanly(
        listener: Listener) -> None:
    # TLS 1.2 closes the whole connection: the server answers a close_notify with its own and
    # discards pending writes (RFC 5246 §7.2.1). No page then, but no crash either.
    page = tls_request(listener.port, listener.ca_file, REQUEST.encode(), versions=(0x0303,),
                       close_with_request=True)
    assert page == b""
    log = listener.wait_for(r"\[1\] == done")
    assert "TLS 1.2 allows no answer after its close_notify" in log
    assert "aborted" not in log


def test_listen_skips_the_early_data_of_openssl_s_client(listener: Listener, credentials: Credentials,
                                                         tmp_path: Path) -> None:
    # s_client resumes with a ticket (from an OpenSSL server for the same name) and sends its request
    # as 0-RTT data. listen has no such ticket: it answers with a full handshake, skips the early
    # data it cannot read (RFC 8446 §4.2.10) and serves the request sent again after the handshake.
    openssl = need("openssl")
    session = tmp_path / "session.pem"
    port = free_port()
    ticket_server = subprocess.Popen(
        [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(credentials.cert_file),
         "-key", str(credentials.key_file), "-tls1_3", "-early_data"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        read_until(ticket_server, r"^ACCEPT")
        ticket_client = subprocess.Popen(
            [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
             "-CAfile", str(credentials.ca_file), "-sess_out", str(session), "-msg"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        read_until(ticket_client, r"^Verify return code: 0")
        assert ticket_client.stdin is not None
        ticket_client.stdin.write("ping\n")  # s_server sends its tickets as it goes on to read
        ticket_client.stdin.flush()
        # -msg shows each message as it is read; s_client saves the ticket before it reads on.
        read_until(ticket_client, r"<<< TLS 1.3, Handshake \[length [0-9a-f]+\], NewSessionTicket")
        ticket_client.stdin.write("Q\n")  # s_client's command to close and exit
        ticket_client.stdin.close()
        ticket_client.wait(timeout=20)
    finally:
        ticket_server.kill()
        ticket_server.wait(timeout=10)
    early = tmp_path / "early.txt"
    early.write_text(REQUEST)
    result = subprocess.run(
        [openssl, "s_client", "-connect", f"127.0.0.1:{listener.port}", "-servername", "localhost",
         "-CAfile", str(listener.ca_file), "-verify_return_error", "-sess_in", str(session),
         "-early_data", str(early), "-ign_eof"],
        input=REQUEST, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Early data was rejected" in result.stdout
    assert "HTTP/1.1 200 OK" in result.stdout
    log = listener.wait_for(r"\[1\] == done")
    assert "early_data" in log  # the ClientHello said so
    assert "handshake complete: TLS 1.3" in log
    assert "Alert  fatal" not in log


def test_listen_escapes_the_server_name_and_refuses_it(listener: Listener) -> None:
    # RFC 6066 §3: a host_name is an ASCII DNS name; one with ESC, BEL and NUL is illegal_parameter.
    # And nothing the client sent reaches the terminal raw: the trace shows escapes.
    from handshake_game.tls.messages import Extension, ExtensionType

    name = b"local\x1b[31mhost\x07\x00"
    entry = b"\x00" + len(name).to_bytes(2, "big") + name
    sni = Extension(ExtensionType.server_name, len(entry).to_bytes(2, "big") + entry)
    answer = exchange(listener.port, client_hello_record(versions=(0x0303,), replace=(sni,),
                                                         cipher_suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",)))
    assert answer == alert_record(47)
    log = listener.wait_for(r"\[1\] == done")
    assert "\x1b" not in log and "\x07" not in log and "\x00" not in log
    assert r"local\x1b[31mhost\x07\x00" in log


def test_listen_escapes_the_request_line(listener: Listener) -> None:
    page = tls_request(listener.port, listener.ca_file, b"GET /\x1b[2J\x1b]0;pwned\x07 HTTP/1.1\r\n\r\n")
    assert page.startswith(b"HTTP/1.1 200 OK\r\n")
    log = listener.wait_for(r"\[1\] == done")
    assert "\x1b" not in log and "\x07" not in log
    assert r"request: GET /\x1b[2J\x1b]0;pwned\x07 HTTP/1.1" in log


def test_a_request_ending_in_bare_line_feeds_is_answered(listener: Listener) -> None:
    # RFC 9112 §2.2: "a recipient MAY recognize a single LF as a line terminator". `s_client`
    # without -crlf sends the lines as typed.
    result = subprocess.run(
        [need("openssl"), "s_client", "-connect", f"127.0.0.1:{listener.port}", "-servername", "localhost",
         "-CAfile", str(listener.ca_file), "-verify_return_error", "-ign_eof", "-quiet"],
        input="GET / HTTP/1.1\nHost: localhost\n\n", capture_output=True, text=True, timeout=30)
    assert "HTTP/1.1 200 OK" in result.stdout, result.stdout + result.stderr
    assert "request: GET / HTTP/1.1" in listener.wait_for(r"\[1\] == done")


def test_a_client_hello_without_signature_algorithms_is_logged_for_what_it_is(listener: Listener) -> None:
    # Without signature_algorithms a TLS 1.2 client verifies SHA-1 only (RFC 5246 §7.4.1.4.1), which
    # listen does not sign with; its ECDHE suites cannot be served. The log must say so.
    from handshake_game.tls.messages import ExtensionType

    hello = client_hello_record(versions=(0x0303,), cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
                                drop=(ExtensionType.signature_algorithms,))
    assert exchange(listener.port, hello) == alert_record(40)  # handshake_failure
    log = listener.wait_for(r"\[1\] == done")
    assert "the client sent no signature_algorithms" in log
    assert "no cipher suite in common" not in log


def test_listen_queues_a_classroom_of_connections_while_it_is_busy(listener: Listener) -> None:
    # While the server is stopped nothing is accepted; the kernel queues connections up to the
    # listen backlog and drops the SYNs beyond it. A class opening the page at once must all be queued.
    count = 40
    os.kill(listener.proc.pid, signal.SIGSTOP)
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", listener.port))
            sockets.append(sock)
        pending, deadline = list(sockets), time.monotonic() + 2.5  # a dropped SYN is resent after 1 s
        while pending and (left := deadline - time.monotonic()) > 0:
            _, writable, _ = select.select([], pending, [], left)
            pending = [s for s in pending if s not in writable]
        established = [s for s in sockets if s not in pending
                       and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0]
        assert len(established) == count
    finally:
        os.kill(listener.proc.pid, signal.SIGCONT)
        for sock in sockets:
            sock.close()
