"""A classroom behind a reverse proxy: Debian's nginx terminates TLS in front of the server
and passes the websocket upgrade on; students play through it, and the join link names the
proxy's address (``--public-url``). The configuration is the one README.md shows."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

from .test_server_hostile import TOKEN, Server

CONFIG = """
daemon off;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream handshake {{ server 127.0.0.1:{upstream}; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://handshake;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_students_play_through_nginx_terminating_tls(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is missing: apt-get install nginx-light"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    port = free_port()
    public = f"https://localhost:{port}/"
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--public-url", public)
    run = tmp_path / "nginx"
    run.mkdir()
    upstream = next(w for line in server.printed if line.startswith("Listening")
                    for w in line.split() if w.startswith("http://")).rsplit(":", 1)[1].strip("/")
    conf = run / "nginx.conf"
    conf.write_text(CONFIG.format(run=run, upstream=upstream, port=port, cert=cert, key=key))
    proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(run), "-e", str(run / "error.log")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 20
        while True:  # nginx is up once it answers through to the server
            try:
                with urllib.request.urlopen(public + "healthz", context=trusted, timeout=5) as health:
                    assert health.status == 200 and b"database: writable" in health.read()
                    break
            except OSError:
                assert proxy.poll() is None, proxy.stderr.read() if proxy.stderr else ""
                assert time.monotonic() < deadline, (run / "error.log").read_text()
                time.sleep(0.2)
        with urllib.request.urlopen(public, context=trusted, timeout=10) as page:
            assert b"Handshake" in page.read()
        with connect(public.replace("https://", "wss://") + "ws", ssl=trusted) as teacher:
            teacher.send(json.dumps({"type": "hello", "protocol": 1}))
            assert json.loads(teacher.recv(timeout=30))["type"] == "welcome"
            teacher.send(json.dumps({"type": "create_session", "token": TOKEN, "variant": "tls13"}))
            created = json.loads(teacher.recv(timeout=30))
            assert created["join_url"] == f"{public}?join={created['join_code']}"
            with connect(public.replace("https://", "wss://") + "ws", ssl=trusted) as student:
                student.send(json.dumps({"type": "hello", "protocol": 1}))
                assert json.loads(student.recv(timeout=30))["type"] == "welcome"
                student.send(json.dumps({"type": "join", "join_code": created["join_code"], "name": "ana"}))
                assert json.loads(student.recv(timeout=30))["type"] == "seated"
                assert json.loads(student.recv(timeout=30))["type"] == "view"
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
        server.stop()
    assert "Traceback" not in server.log()
