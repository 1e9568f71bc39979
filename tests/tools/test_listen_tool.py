"""`handshake-game listen` against curl, `openssl s_client`, our own connect, and hostile input."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from tool_helpers import Listener, handshake_game, need

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
