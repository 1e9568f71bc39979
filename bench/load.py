"""A whole school on one server: N tables (4N bot students) at once over loopback websockets.

Run: .venv/bin/python bench/load.py [--tables 250] [--timeout 300]

The classroom server runs as its own process (``python -m handshake_game serve`` on a
fresh SQLite file); this process plays the class with the same logic as
``handshake-game bots`` (one websocket per student, guided, tls12-rsa, the offered move on
each turn). It reports the tables completed, moves per second, p50/p99 of each move's
send-to-reply latency, and the server's peak RSS (VmHWM from /proc).

The floor, in the same run: a bare ``websockets`` echo server in a subprocess, the same
number of connections, grouped by four as the tables are, each group making as many
request/reply round trips (one at a time, taking turns) as a table made moves. The
message is a move-sized JSON text. Its p99 is what loopback, websockets and this client
cost with no game at all.

Last line: ``completed=N/T errors=E p50_ms=X p99_ms=Y floor_p99_ms=Z peak_rss_mb=M``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from handshake_game.tools.netbots import SEATS_PER_TABLE, BotsResult, percentile, play_class

STARTUP_TIMEOUT = 60.0

ECHO_SERVER = """
import asyncio
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def start_game_server(workdir: Path, token: str) -> tuple[subprocess.Popen[str], str]:
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "handshake_game", "serve", "--host", "127.0.0.1", "--port", "0",
         "--db", f"sqlite:///{workdir / 'load.db'}", "--instructor-token", token],
        cwd=workdir, stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    ws_url = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the server exited: {(workdir / 'server.log').read_text()[-2000:]}")
        ws_url = ws_url or next((word for word in line.split() if word.startswith("ws://")), None)
        if line.startswith("Instructor") and ws_url:
            return process, ws_url
    process.kill()
    raise RuntimeError("the server did not print its URLs in time")


def start_echo_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    if not port:
        raise RuntimeError("the echo server did not start")
    return process, f"ws://127.0.0.1:{port}/"


async def echo_floor(url: str, tables: int, round_trips_per_table: int, timeout: float) -> list[float]:
    """Round-trip latencies against the echo server, shaped like the class (see the docstring)."""
    move = json.dumps({"type": "move", "table_id": 1, "token": secrets.token_urlsafe(16),
                       "action": {"name": "EncryptPremaster", "fields": {"key": "server_certificate"}}})
    gate = asyncio.Semaphore(64)
    latencies: list[float] = []

    async def open_one() -> ClientConnection:
        async with gate:
            return await connect(url, max_size=None, open_timeout=30, close_timeout=5)

    connections = await asyncio.gather(*(open_one() for _ in range(SEATS_PER_TABLE * tables)))

    async def group(members: list[ClientConnection]) -> None:
        for turn in range(round_trips_per_table):
            ws = members[turn % len(members)]
            sent_at = time.perf_counter()
            await ws.send(move)
            await ws.recv()
            latencies.append((time.perf_counter() - sent_at) * 1e3)

    try:
        groups = [connections[i:i + SEATS_PER_TABLE] for i in range(0, len(connections), SEATS_PER_TABLE)]
        await asyncio.wait_for(asyncio.gather(*(group(g) for g in groups)), timeout)
    finally:
        await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=250, help="tables at once (default 250)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on the play after S seconds")
    args = parser.parse_args()
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="handshake-load-") as tmp:
        workdir = Path(tmp)
        server, ws_url = start_game_server(workdir, token)
        try:
            started = time.perf_counter()
            try:
                result = asyncio.run(play_class(ws_url, token, args.tables, "tls12-rsa",
                                                timeout=args.timeout))
            except Exception as exc:  # report what we have: the bench never hides a failure
                print(f"load: the class failed to run: {type(exc).__name__}: {exc}", file=sys.stderr)
                result = BotsResult(tables=args.tables, errors=1)
            wall = time.perf_counter() - started
            rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    for note in result.notes:
        print(f"load: {note}", file=sys.stderr)

    echo, echo_url = start_echo_server()
    try:
        per_table = max(1, round(result.moves / args.tables)) if result.moves else 14
        floor = asyncio.run(echo_floor(echo_url, args.tables, per_table, args.timeout))
    finally:
        echo.terminate()
        echo.wait(30)

    p50, p99 = percentile(result.latencies_ms, 0.5), percentile(result.latencies_ms, 0.99)
    floor_p50, floor_p99 = percentile(floor, 0.5), percentile(floor, 0.99)
    rate = result.moves / result.play_seconds if result.play_seconds else 0.0
    print(f"tables: {result.completed}/{args.tables} completed, {result.failed} failed, "
          f"{SEATS_PER_TABLE * args.tables} student connections, setup+play {wall:.1f} s")
    print(f"moves: {result.moves} in {result.play_seconds:.1f} s of play = {rate:.1f} moves/s")
    print(f"move-to-reply latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"echo floor ({len(floor)} round trips, same connections and turn-taking): "
          f"p50 {floor_p50:.2f} ms, p99 {floor_p99:.2f} ms")
    if floor_p99 > 0:
        print(f"ratio p99/floor_p99={p99 / floor_p99:.1f} p50/floor_p50={p50 / max(floor_p50, 1e-9):.1f}")
    print(f"server peak RSS (VmHWM): {rss:.1f} MiB")
    print(f"completed={result.completed}/{args.tables} errors={result.errors} p50_ms={p50:.1f} "
          f"p99_ms={p99:.1f} floor_p99_ms={floor_p99:.1f} peak_rss_mb={rss:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
