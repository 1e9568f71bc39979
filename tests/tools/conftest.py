"""Fixtures for the network tools: a `listen` process and `openssl s_server`, on loopback."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from tool_helpers import PROJECT, Credentials, Listener, free_port, need, read_until

from handshake_game.tls import pki


def _drain(fd: int, into: bytearray) -> None:
    """Keeps reading a child's stdout so its trace can never fill the pipe and block it."""
    while chunk := os.read(fd, 65536):
        into += chunk


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    """`handshake-game listen` on a free loopback port with its own demo CA."""
    ca_file = tmp_path / "ca.pem"
    keylog = tmp_path / "server.keylog"
    proc = subprocess.Popen(
        [sys.executable, "-m", "handshake_game", "listen", "--port", "0", "--ca-out", str(ca_file),
         "--keylog", str(keylog)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT)
    try:
        match = read_until(proc, r"listening on https://localhost:(\d+)/")
        listening = Listener(proc, int(match.group(1)), ca_file, keylog)
        threading.Thread(target=listening.drain, daemon=True).start()
        yield listening
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Credentials:
    """A CA, a localhost certificate and key as PEM files, plus an expired certificate."""
    directory = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC)
    ca = pki.create_root_ca("Tools test CA", now)
    key = pki.generate_rsa_key()
    cert = pki.issue_server_certificate(ca, "localhost", key.public_key(), now)
    expired = pki.issue_server_certificate(ca, "localhost", key.public_key(),
                                           now - datetime.timedelta(days=400), days=30)
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.certificate_pem())
    (directory / "cert.pem").write_bytes(cert.public_bytes(pem) + ca.certificate_pem())
    (directory / "key.pem").write_bytes(pki.private_key_pem(key))
    (directory / "expired.pem").write_bytes(expired.public_bytes(pem) + ca.certificate_pem())
    return Credentials(directory / "ca.pem", directory / "cert.pem", directory / "key.pem",
                       directory / "expired.pem")


@pytest.fixture
def s_server(credentials: Credentials) -> Iterator[Callable[..., int]]:
    """Starts `openssl s_server -www` with the given extra arguments; yields a starter."""
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str, cert: Path | None = None) -> int:
        openssl = need("openssl")
        port = free_port()
        proc = subprocess.Popen(
            [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert or credentials.cert_file),
             "-key", str(credentials.key_file), "-www", "-tls1_2", *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        read_until(proc, r"^ACCEPT")
        assert proc.stdout is not None
        threading.Thread(target=_drain, args=(proc.stdout.fileno(), bytearray()), daemon=True).start()
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
