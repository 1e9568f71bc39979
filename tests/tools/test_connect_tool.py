"""`handshake-game connect` against the real `openssl s_server` binary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tool_helpers import Credentials, free_port, handshake_game

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


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
