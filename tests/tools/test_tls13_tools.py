"""TLS 1.3 through the network tools: `handshake-game connect` against `openssl s_server`, and
curl against `handshake-game listen`, each on loopback.

`connect` offers TLS 1.3 and 1.2 by default; which one it gets is the server's choice, and the
trace must say so. Both sides' NSS key logs are compared where a real peer writes one: the
secrets curl (OpenSSL) derived must be the secrets `listen` derived.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tool_helpers import Credentials, Listener, free_port, handshake_game, need, read_until

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

TLS13_KEYLOG_LABELS = ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
                       "SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"]


def _drain(fd: int) -> None:
    """Keeps reading s_server's output so that it can never block on a full pipe."""
    while os.read(fd, 65536):
        pass


@pytest.fixture
def www_server(credentials: Credentials) -> Iterator[Callable[..., int]]:
    """Starts `openssl s_server -www` with exactly the version options given (the shared
    s_server fixture always adds -tls1_2)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*version_options: str) -> int:
        openssl = need("openssl")
        port = free_port()
        proc = subprocess.Popen(
            [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(credentials.cert_file),
             "-key", str(credentials.key_file), "-www", *version_options],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        read_until(proc, r"^ACCEPT")
        assert proc.stdout is not None
        threading.Thread(target=_drain, args=(proc.stdout.fileno(),), daemon=True).start()
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def keylog_labels(path: Path) -> list[str]:
    return sorted(line.split()[0] for line in path.read_text().splitlines() if line)


def test_connect_gets_tls13_from_a_tls13_only_s_server(www_server: Callable[..., int],
                                                       credentials: Credentials, tmp_path: Path) -> None:
    port = www_server("-tls1_3")
    keylog = tmp_path / "client.keylog"
    result = handshake_game("connect", f"localhost:{port}", "--cafile", str(credentials.ca_file),
                            "--keylog", str(keylog))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ClientHello  TLS 1.3 / TLS 1.2" in out
    assert "ServerHello  TLS 1.3" in out
    # The trace walks the encrypted flight in order.
    steps = ["EncryptedExtensions", "Certificate  chain of", "CertificateVerify", "Finished",
             "handshake complete: TLS 1.3"]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), dict(zip(steps, positions, strict=True))
    assert "ServerKeyExchange" not in out and "ClientKeyExchange" not in out
    # s_server -www answers with its own view of the session.
    assert "HTTP/1.0 200 ok" in out
    assert "New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" in out
    assert keylog_labels(keylog) == TLS13_KEYLOG_LABELS


def test_connect_settles_on_tls12_with_a_tls12_only_s_server(www_server: Callable[..., int],
                                                             credentials: Credentials,
                                                             tmp_path: Path) -> None:
    # A server that cannot speak 1.3 sets no downgrade sentinel, so the 1.3-capable client goes on.
    port = www_server("-tls1_2")
    keylog = tmp_path / "client.keylog"
    result = handshake_game("connect", f"localhost:{port}", "--cafile", str(credentials.ca_file),
                            "--keylog", str(keylog))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ClientHello  TLS 1.3 / TLS 1.2" in out
    assert "ServerHello  TLS 1.2" in out
    assert "ServerKeyExchange" in out and "ClientKeyExchange" in out
    assert "EncryptedExtensions" not in out
    assert "handshake complete: TLS 1.2" in out
    assert "HTTP/1.0 200 ok" in out and "New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256" in out
    assert keylog_labels(keylog) == ["CLIENT_RANDOM"]


def test_connect_picks_tls13_when_s_server_offers_both(www_server: Callable[..., int],
                                                        credentials: Credentials) -> None:
    port = www_server()
    result = handshake_game("connect", f"localhost:{port}", "--cafile", str(credentials.ca_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ServerHello  TLS 1.3" in result.stdout
    assert "New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" in result.stdout


def curl(listener: Listener, keylog: Path, *version_options: str) -> subprocess.CompletedProcess[str]:
    binary = need("curl")
    return subprocess.run(
        [binary, "--silent", "--show-error", "--fail", "--include", "--cacert", str(listener.ca_file),
         *version_options, "--resolve", f"localhost:{listener.port}:127.0.0.1",
         f"https://localhost:{listener.port}/"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "SSLKEYLOGFILE": str(keylog)})


def test_curl_fetches_over_tls13_from_listen(listener: Listener, tmp_path: Path) -> None:
    keylog = tmp_path / "curl.keylog"
    result = curl(listener, keylog, "--tlsv1.3", "--tls-max", "1.3")
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 200 OK" in result.stdout
    assert "Version: TLS 1.3" in result.stdout
    assert "X-TLS-Version: TLS 1.3" in result.stdout
    assert "Cipher suite: TLS_AES_128_GCM_SHA256" in result.stdout
    # RFC 7627's extended master secret is TLS 1.2's; TLS 1.3 has no master secret of that kind,
    # its HKDF key schedule binds every secret to the transcript (RFC 8446 §7.1).
    assert "RFC 7627" not in result.stdout and "Master secret" not in result.stdout
    assert "Key schedule: TLS 1.3 HKDF (RFC 8446 §7.1)" in result.stdout
    # curl (OpenSSL) and listen derived the same five secrets for this connection.
    assert keylog_labels(keylog) == TLS13_KEYLOG_LABELS
    assert set(keylog.read_text().splitlines()) == set(listener.keylog.read_text().splitlines())


def test_curl_capped_at_tls12_gets_tls12_from_listen(listener: Listener, tmp_path: Path) -> None:
    keylog = tmp_path / "curl.keylog"
    result = curl(listener, keylog, "--tls-max", "1.2")
    assert result.returncode == 0, result.stderr
    assert "Version: TLS 1.2" in result.stdout
    assert "X-TLS-Version: TLS 1.2" in result.stdout
    assert "Master secret: extended (RFC 7627)" in result.stdout  # curl offers it
    # listen, which also speaks 1.3, ends server_random with DOWNGRD\x01 here; OpenSSL (under
    # curl) looks for it only when it could have had a newer version, so a client capped at 1.2
    # connects. The TLS 1.2 secret is the one line both wrote.
    assert keylog_labels(keylog) == ["CLIENT_RANDOM"]
    assert keylog.read_text() == listener.keylog.read_text()
