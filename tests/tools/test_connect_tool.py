"""`handshake-game connect` against the real `openssl s_server` and `gnutls-serv` binaries, and
against tlslite-ng's server."""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from tool_helpers import Credentials, free_port, handshake_game, need, read_until

from handshake_game.tls import pki

pytestmark = [pytest.mark.filterwarnings("ignore::ResourceWarning"),
              pytest.mark.filterwarnings("ignore:The asyncore module is deprecated:DeprecationWarning")]


@pytest.mark.parametrize(("suite", "openssl_cipher", "group"), [
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", None),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", None),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "x25519"),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "secp256r1"),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", "secp256r1"),
])
def test_connect_completes_against_openssl_s_server(
        s_server: Callable[..., int], credentials: Credentials, tmp_path: Path,
        suite: str, openssl_cipher: str, group: str | None) -> None:
    port = s_server("-cipher", openssl_cipher)
    keylog = tmp_path / "client.keylog"
    args = ["connect", f"localhost:{port}", "--cafile", str(credentials.ca_file), "--cipher", suite,
            "--keylog", str(keylog)]
    if group:
        args += ["--group", group]
    result = handshake_game(*args)
    assert result.returncode == 0, result.stderr
    # The trace names every step, and s_server -www answers with its own view of the session.
    for step in ("ClientHello", "ServerHello", "Certificate", "ClientKeyExchange", "Finished",
                 "handshake complete"):
        assert step in result.stdout
    assert "HTTP/1.0 200 ok" in result.stdout
    assert openssl_cipher in result.stdout  # s_server reports the cipher it negotiated
    if group:
        assert f"ServerKeyExchange  {group}" in result.stdout
    else:
        assert "ServerKeyExchange" not in result.stdout
    line = keylog.read_text().strip()
    assert line.startswith("CLIENT_RANDOM ") and len(line.split()) == 3


def test_connect_refuses_untrusted_ca(s_server: Callable[..., int], tmp_path: Path) -> None:
    port = s_server()
    import datetime

    from handshake_game.tls import pki

    other = pki.create_root_ca("Some other CA", datetime.datetime.now(datetime.UTC))
    other_file = tmp_path / "other.pem"
    other_file.write_bytes(other.certificate_pem())
    result = handshake_game("connect", f"localhost:{port}", "--cafile", str(other_file))
    assert result.returncode == 1
    assert "unknown_ca" in result.stderr
    assert "not issued by a CA the client trusts" in result.stderr


def test_connect_refuses_wrong_name_unless_insecure(s_server: Callable[..., int],
                                                     credentials: Credentials) -> None:
    port = s_server()
    result = handshake_game("connect", f"127.0.0.1:{port}", "--servername", "bank.example",
                            "--cafile", str(credentials.ca_file))
    assert result.returncode == 1
    assert "for a different name" in result.stderr
    insecure = handshake_game("connect", f"127.0.0.1:{port}", "--servername", "bank.example",
                              "--insecure", "--quiet")
    assert insecure.returncode == 0, insecure.stderr
    assert insecure.stdout.startswith("HTTP/1.0 200 ok")


def test_connect_refuses_expired_certificate(s_server: Callable[..., int],
                                             credentials: Credentials) -> None:
    port = s_server(cert=credentials.expired_cert_file)
    result = handshake_game("connect", f"localhost:{port}", "--cafile", str(credentials.ca_file))
    assert result.returncode == 1
    assert "certificate_expired" in result.stderr
    assert "has expired" in result.stderr


def test_connect_reports_no_shared_suite(s_server: Callable[..., int],
                                         credentials: Credentials) -> None:
    port = s_server("-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
    result = handshake_game("connect", f"localhost:{port}", "--cafile", str(credentials.ca_file),
                            "--cipher", "TLS_RSA_WITH_AES_128_GCM_SHA256")
    assert result.returncode == 1
    assert "handshake_failure" in result.stderr


def test_connect_network_error_exit_code() -> None:
    result = handshake_game("connect", f"127.0.0.1:{free_port()}", "--insecure")
    assert result.returncode == 3
    assert "cannot connect" in result.stderr


def test_connect_usage_errors() -> None:
    assert handshake_game("connect", "localhost:443", "--cipher", "TLS_NOPE").returncode == 2
    assert handshake_game("connect", "localhost:notaport", "--insecure").returncode == 2
    both = handshake_game("connect", "localhost:443", "--insecure", "--cafile", "x.pem")
    assert both.returncode == 2


# -- a HelloRetryRequest from GnuTLS ----------------------------------------------------------------


def _drain(fd: int) -> None:
    """Keeps reading a server's output so that it can never block on a full pipe, until the
    pipe ends (or is closed under it when the fixture stops the server)."""
    with contextlib.suppress(OSError):
        while os.read(fd, 65536):
            pass


@pytest.fixture
def gnutls_serv(credentials: Credentials) -> Iterator[Callable[..., int]]:
    """Starts `gnutls-serv --http` with the given priority string; yields a starter."""
    procs: list[subprocess.Popen[str]] = []

    def start(priority: str) -> int:
        binary = need("gnutls-serv")
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--http", "--port", str(port), "--x509certfile", str(credentials.cert_file),
             "--x509keyfile", str(credentials.key_file), "--priority", priority],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        read_until(proc, r"listening on IPv4")
        assert proc.stdout is not None
        threading.Thread(target=_drain, args=(proc.stdout.fileno(),), daemon=True).start()
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def test_connect_answers_a_hello_retry_request_from_gnutls_serv(gnutls_serv: Callable[..., int],
                                                               credentials: Credentials) -> None:
    # GnuTLS takes secp256r1 only; our client's one share is x25519, so the server asks for
    # another (RFC 8446 §4.1.4). The HelloRetryRequest's key_share holds a group, not a share:
    # the trace shows it as such, and the handshake goes on.
    port = gnutls_serv("NORMAL:-GROUP-ALL:+GROUP-SECP256R1")
    result = handshake_game("connect", f"localhost:{port}", "--cafile", str(credentials.ca_file))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "S → C  HelloRetryRequest" in out
    assert "selected_group         secp256r1: the client must send a share for this group" in out
    assert "handshake complete: TLS 1.3, TLS_AES_128_GCM_SHA256, secp256r1" in out
    assert "HTTP/1.0 200 OK" in out
    assert "trace cannot show" not in out


# -- ECDSA in TLS 1.2 with tlslite-ng ----------------------------------------------------------------


def test_connect_to_a_tlslite_ecdsa_server(tmp_path: Path) -> None:
    # tlslite-ng signs its ServerKeyExchange with a P-256 key and SHA-384 (ecdsa_secp384r1_sha384,
    # 0x0503), which in TLS 1.2 names the hash only (RFC 5246 §7.4.1.4.1, RFC 8422 §5.10).
    from tlslite import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey

    now = datetime.datetime.now(datetime.UTC)
    ca = pki.create_root_ca("tlslite test CA", now)
    key = pki.generate_ec_key()
    cert = pki.issue_server_certificate(ca, "localhost", key.public_key(), now)
    (tmp_path / "ca.pem").write_bytes(ca.certificate_pem())
    chain = X509CertChain()
    chain.parsePemList(cert.public_bytes(serialization.Encoding.PEM).decode())
    tlslite_key = parsePEMKey(pki.private_key_pem(key).decode(), private=True)
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 3)
    errors: list[BaseException] = []
    listening = socket.create_server(("127.0.0.1", 0))
    listening.settimeout(30)

    def serve() -> None:
        try:
            sock, _ = listening.accept()
            sock.settimeout(30)
            connection = TLSConnection(sock)
            connection.handshakeServer(certChain=chain, privateKey=tlslite_key, settings=settings)
            request = bytes(connection.read(max=4096))
            connection.write(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nX-Request: "
                             + request.split(b"\r\n", 1)[0] + b"\r\n\r\n")
            connection.close()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            listening.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listening.getsockname()[1]
    result = handshake_game("connect", f"localhost:{port}", "--cafile", str(tmp_path / "ca.pem"),
                            "--tls", "1.2")
    thread.join(timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert errors == []
    assert "signature              ecdsa_secp384r1_sha384" in result.stdout
    assert "✓ ServerKeyExchange signature: ecdsa_secp384r1_sha384" in result.stdout
    assert "X-Request: GET / HTTP/1.1" in result.stdout
