"""Helpers for the network tool tests: finding tools, reading process output, running the CLI."""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
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
    proc: subprocess.Popen[str]
    port: int
    ca_file: Path
    keylog: Path
    output: bytearray

    def log(self) -> str:
        return self.output.decode("utf-8", "replace")


@dataclass
class Credentials:
    ca_file: Path
    cert_file: Path
    key_file: Path
    expired_cert_file: Path
