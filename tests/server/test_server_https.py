"""``serve --certfile --keyfile``: the pages and the websocket over TLS (https and wss), with
a certificate made by the openssl binary; the pages pick wss from their own address."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

from handshake_game.server.ws import web_directory

from .test_server_hostile import Server


def test_the_classroom_serves_https_and_wss(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = Server(tmp_path, "--certfile", str(cert), "--keyfile", str(key))
    try:
        assert server.base.startswith("https://127.0.0.1:")
        assert any(line.startswith("Websocket") and "wss://" in line for line in server.printed)
        trusted = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(server.base + "healthz", context=trusted, timeout=30) as response:
            assert response.status == 200 and b"database: writable" in response.read()
        with connect(server.base.replace("https://", "wss://") + "ws", ssl=trusted) as ws:
            ws.send(json.dumps({"type": "hello", "protocol": 1}))
            assert json.loads(ws.recv(timeout=30))["type"] == "welcome"
        # A client that does not trust the certificate is refused by its own TLS check.
        try:
            urllib.request.urlopen(server.base + "healthz", context=ssl.create_default_context(), timeout=30)
            raise AssertionError("an untrusted certificate was accepted")
        except urllib.error.URLError as refused:
            assert "CERTIFICATE_VERIFY_FAILED" in str(refused.reason)
    finally:
        server.stop()
    # The pages open their websocket with the scheme of their own address.
    pages = (web_directory() / "js" / "net.js").read_text()
    assert 'location.protocol === "https:" ? "wss:" : "ws:"' in pages


def test_a_certificate_that_cannot_be_used_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    run = subprocess.run([sys.executable, "-m", "handshake_game", "serve", "--port", "0",
                          "--db", f"sqlite:///{tmp_path / 'x.db'}", "--certfile", str(tmp_path / "bad.pem")],
                         capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 1 and "cannot be used" in run.stderr and "Traceback" not in run.stderr
