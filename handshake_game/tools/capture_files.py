"""What `connect` and `listen` keep for Wireshark: key log files and capture files.

The capture itself is built by the sans-I/O :class:`~handshake_game.tls.capture.Capture`;
this module only supplies what it must not know: the socket's real addresses, the
wall clock, and the files.
"""

from __future__ import annotations

import datetime
import re
import socket
from collections.abc import Iterable
from pathlib import Path

from ..tls.capture import Capture, keylog_text


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def socket_capture(sock: socket.socket, *, client_side: bool,
                   opened_at: datetime.datetime | None = None) -> Capture:
    """A capture for this TCP connection, with the real addresses and ports of both ends."""
    local = sock.getsockname()
    peer = sock.getpeername()
    ours, theirs = (str(local[0]), int(local[1])), (str(peer[0]), int(peer[1]))
    client, server = (ours, theirs) if client_side else (theirs, ours)
    return Capture(client, server, opened_at=opened_at)


def append_keylog(path: str | Path, lines: Iterable[str]) -> None:
    """Appends NSS key log lines (SSLKEYLOGFILE format), as browsers and curl do."""
    text = keylog_text(lines)
    if text:
        with open(path, "a", encoding="ascii") as keylog:
            keylog.write(text)


def is_pcapng(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".pcapng"


def write_capture(path: str | Path, capture: Capture, keylog_lines: Iterable[str]) -> None:
    """``*.pcapng``: pcapng with the key log embedded (a Decryption Secrets Block);
    any other name: classic pcap, whose keys must be given to Wireshark separately."""
    data = capture.to_pcapng(keylog_lines) if is_pcapng(path) else capture.to_pcap()
    Path(path).write_bytes(data)


_CAPTURE_NAME = re.compile(r"conn-(\d+)\.pcap(ng)?$")


def next_capture_number(directory: Path) -> int:
    """The number after the highest conn-NNNN capture already in ``directory`` (never overwrite)."""
    numbers = [int(m.group(1)) for p in directory.iterdir() if (m := _CAPTURE_NAME.match(p.name))]
    return max(numbers, default=0) + 1
