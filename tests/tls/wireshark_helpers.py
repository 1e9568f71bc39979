"""Reading our captures back with the real tshark (Wireshark's dissectors, no GUI).

tshark is a required test tool (scripts/system-deps.sh installs it): a missing
tshark fails the test, it never skips.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.fail("tshark is not installed; `make test` installs it (scripts/system-deps.sh)")
    return path


def run_tshark(capture: Path, *args: str, keylog: Path | None = None, tls_port: int | None = None,
               ) -> str:
    """Runs tshark on ``capture`` and returns its stdout; a tshark error fails the test.

    The TLS key log preference is always set — to ``keylog`` or to nothing — so that
    what decrypts is exactly what the test gave, never a user's Wireshark settings.
    """
    command = [tshark(), "-r", str(capture), "-n", "-o", f"tls.keylog_file:{keylog or ''}"]
    if tls_port is not None and tls_port != 443:
        command += ["-d", f"tcp.port=={tls_port},tls"]
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"tshark failed: {result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class HttpSeen:
    """What tshark's HTTP dissector found in the decrypted TLS application data."""

    requests: list[tuple[str, str]]  # (method, URI)
    response_codes: list[int]
    stream_text: str  # `follow,tls,ascii`: the decrypted bytes of TCP stream 0, both ways


def http_seen(capture: Path, *, keylog: Path | None = None, tls_port: int | None = None) -> HttpSeen:
    """One tshark pass: HTTP fields of the decrypted packets, then `follow,tls,ascii` of stream 0."""
    out = run_tshark(capture, "-Y", "http", "-T", "fields", "-E", "separator=|",
                     "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code",
                     "-z", "follow,tls,ascii,0", keylog=keylog, tls_port=tls_port)
    fields, marker, follow = out.partition("\n=====")
    assert marker, f"no follow output from tshark: {out!r}"
    requests, codes = [], []
    for line in fields.splitlines():
        if not line.strip():
            continue
        method, uri, code = line.split("|")
        if method:
            requests.append((method, uri))
        if code:
            codes.append(int(code))
    return HttpSeen(requests, codes, follow)
