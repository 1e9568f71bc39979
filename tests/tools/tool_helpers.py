"""Helpers for the network tool tests: finding tools, reading process output, running the CLI."""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def need(tool: str) -> str:
    """The path of a required binary; a missing tool fails the test (never skips)."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed; `make test` installs it (scripts/system-deps.sh)")
    return path


def read_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 20.0) -> re.Match[str]:
    """Reads the process's stdout line by line until ``pattern`` matches.

    Reads the raw descriptor (not the buffered pipe object) so that select() never
    waits on bytes already pulled into a Python buffer.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    pending = b""
    seen: list[str] = []
    while True:
        while b"\n" in pending:
            raw, pending = pending.split(b"\n", 1)
            line = raw.decode("utf-8", "replace")
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{pattern!r} not seen; output so far: {seen}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"process exited before {pattern!r}; output: {seen}")
            pending += chunk


def handshake_game(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "handshake_game", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=PROJECT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Listener:
    """A running `handshake-game listen`; its output is collected as it arrives (``drain``)."""

    proc: subprocess.Popen[str]
    port: int
    ca_file: Path
    keylog: Path
    output: bytearray = field(default_factory=bytearray)
    changed: threading.Condition = field(default_factory=threading.Condition)
    ended: bool = False

    def log(self) -> str:
        with self.changed:
            return self.output.decode("utf-8", "replace")

    def drain(self) -> None:
        """Keeps reading stdout (so the pipe never fills) and wakes whoever waits on it."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            with self.changed:
                self.output += chunk
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 20.0) -> str:
        """Waits until ``pattern`` (a regex) has matched ``count`` times in the log; returns the log."""
        def seen() -> bool:
            return len(re.findall(pattern, self.output.decode("utf-8", "replace"))) >= count or self.ended

        with self.changed:
            self.changed.wait_for(seen, timeout)
        log = self.log()
        assert len(re.findall(pattern, log)) >= count, f"{pattern!r} not in the listen trace:\n{log}"
        return log


@dataclass
class Credentials:
    ca_file: Path
    cert_file: Path
    key_file: Path
    expired_cert_file: Path


def tls_request(port: int, ca_file: Path, request: bytes, *, versions: tuple[int, ...] = (0x0304,),
                close_with_request: bool = False) -> bytes:
    """Our own engine as a client over a real socket: the handshake, then ``request``, then what
    the server sends back until it closes. With ``close_with_request`` the request and the
    client's close_notify leave in one write, as `printf 'GET …' | gnutls-cli …` sends them."""
    from handshake_game.tls import ApplicationDataReceived, ClientConfig, HandshakeCompleted, TLSClient
    from handshake_game.tls.pki import load_pem_certificates
    from handshake_game.tls.suites import DEFAULT_CIPHER_SUITES

    client = TLSClient(ClientConfig(server_name="localhost", versions=versions,
                                    cipher_suites=DEFAULT_CIPHER_SUITES,
                                    trust_store=load_pem_certificates(ca_file.read_bytes())))
    response = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        client.start()
        sock.sendall(client.data_to_send())
        while data := sock.recv(65536):
            client.receive_data(data)
            for event in client.events_received():
                if isinstance(event, HandshakeCompleted):
                    client.send_application_data(request)
                    if close_with_request:
                        client.close()
                elif isinstance(event, ApplicationDataReceived):
                    response += event.data
            if pending := client.data_to_send():
                sock.sendall(pending)
            if client.failed is not None or client.peer_closed:
                break
    assert client.failed is None, client.failed
    return bytes(response)


@dataclass
class Resumed:
    """One resumption by :func:`tls_resume`: what the client sent first, and what came of it."""

    hello: bytes
    resumed: bool
    early_data_accepted: bool
    response: bytes


def tls_resume(port: int, ca_file: Path, session: object, request: bytes, rng: object,
               now: object) -> Resumed:
    """Our engine as a TLS 1.3 client over a real socket, resuming ``session`` with ``request`` as
    0-RTT data (sent again after the handshake if the server refuses it, RFC 8446 §4.2.10). ``rng`` and
    ``now`` (the clock the ticket's age is read on) make its first flight: the same, the same bytes."""
    from handshake_game.tls import (
        ApplicationDataReceived,
        ClientConfig,
        HandshakeCompleted,
        Session,
        TLSClient,
    )
    from handshake_game.tls.pki import load_pem_certificates

    assert isinstance(session, Session)
    config = ClientConfig(server_name="localhost", versions=(0x0304,),
                          cipher_suites=("TLS_AES_128_GCM_SHA256",),
                          trust_store=load_pem_certificates(ca_file.read_bytes()), session=session,
                          early_data=request)
    client = TLSClient(config, rng=rng, now=now)  # type: ignore[arg-type]
    response = bytearray()
    completed: HandshakeCompleted | None = None
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        client.start()
        hello = client.data_to_send()
        sock.sendall(hello)
        while data := sock.recv(65536):
            client.receive_data(data)
            for event in client.events_received():
                if isinstance(event, HandshakeCompleted):
                    completed = event
                    if not event.early_data_accepted:
                        client.send_application_data(request)
                elif isinstance(event, ApplicationDataReceived):
                    response += event.data
            if pending := client.data_to_send():
                sock.sendall(pending)
            if client.failed is not None or client.peer_closed:
                break
    assert client.failed is None and completed is not None, client.failed
    return Resumed(hello, completed.resumed, completed.early_data_accepted, bytes(response))


def client_hello_record(*, drop: tuple[int, ...] = (), replace: tuple[object, ...] = (),
                        **config: object) -> bytes:
    """A ClientHello record as our client would send it (``config`` goes to ClientConfig), with the
    extensions of the types in ``drop`` left out and those in ``replace`` put in instead."""
    import dataclasses

    from handshake_game.tls import ClientConfig, TLSClient
    from handshake_game.tls.messages import ClientHello, Extension, decode_handshake, encode_handshake

    client = TLSClient(ClientConfig(server_name="localhost", **config))  # type: ignore[arg-type]
    client.start()
    data = client.data_to_send()
    hello = decode_handshake(data[5 : 5 + int.from_bytes(data[3:5], "big")])
    assert isinstance(hello, ClientHello)
    new = [e for e in replace if isinstance(e, Extension)]
    gone = set(drop) | {e.type for e in new}
    hello = dataclasses.replace(hello, extensions=tuple(
        e for e in hello.extensions or () if e.type not in gone) + tuple(new))
    message = encode_handshake(hello)
    return bytes([22, 3, 1]) + len(message).to_bytes(2, "big") + message
