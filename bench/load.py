"""A whole school on one server: N tables (4N bot students) at once over loopback websockets.

Run: .venv/bin/python bench/load.py [--tables 250] [--think 1.0] [--timeout 300]

The classroom server runs as its own process (``python -m handshake_game serve`` on a
fresh SQLite file); this process plays the class with the same logic as
``handshake-game bots`` (one websocket per student, guided, tls12-rsa, the offered move on
each turn), each student thinking a random 0 to 2×``think`` seconds before each move.

What a table waits for after a move is not the mover's reply alone: the other three
students wait for the view the server pushes them. So the bench times, from the move's
send: the mover's reply, each other seat's pushed view, and ``seen``: until all four seats
have the move's view. It reports those p50/p99, moves per second and the server's peak RSS
(VmHWM from /proc).

The floor, in the same run and with the same work for the network: a bare ``websockets``
fan-out server in a subprocess, the same connections grouped by four as the tables are, the
same think time and turn-taking; each turn one member sends a move-sized message and the
server sends a message as large as the game's mean view to all four members. Its ``seen``
(until all four have it) is what loopback, websockets and this client cost with no game.

Last line: ``completed=N/T errors=E seen_p50_ms=… seen_p99_ms=… floor_seen_p99_ms=…
ratio_seen_p99=… reply_p99_ms=… peak_rss_mb=M``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from handshake_game.tools.netbots import (
    SEATS_PER_TABLE,
    BotsResult,
    SeatedClass,
    percentile,
    play_class,
    seat_class,
    start_and_play,
)

STARTUP_TIMEOUT = 60.0

FANOUT_SERVER = """
import asyncio
from websockets.asyncio.server import serve

groups = {}

async def member(ws):
    group = None
    async for message in ws:
        if group is None:  # "join <group>": the table this connection sits at
            group = groups.setdefault(message.split()[1], set())
            group.add(ws)
            continue
        payload = "x" * int(message.split()[1])  # "move <view size>": every member gets a view
        for other in list(group):
            await other.send(payload)

async def main():
    async with serve(member, "127.0.0.1", 0, max_size=None, compression=None) as server:
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


def start_game_server(workdir: Path, token: str, db: str | None = None,
                      workers: int = 1) -> tuple[subprocess.Popen[str], str]:
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "handshake_game", "serve", "--host", "127.0.0.1", "--port", "0",
         "--db", db or f"sqlite:///{workdir / 'load.db'}", "--instructor-token", token,
         "--workers", str(workers)],
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


@contextlib.contextmanager
def fresh_database(url: str | None) -> Iterator[str | None]:
    """For a PostgreSQL URL, a new empty database on that server for this run (dropped after),
    so that every run starts from nothing: the server replays no table of an earlier run."""
    if url is None or not url.startswith("postgresql"):
        yield url
        return
    import sqlalchemy as sa  # noqa: PLC0415 (only a PostgreSQL run needs it)

    server = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"handshake_load_{secrets.token_hex(4)}"
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                       "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        server.dispose()


def raise_open_files_limit() -> None:
    """Thousands of student connections from this one process need as many descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_open_loop(args: argparse.Namespace) -> int:
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="handshake-load-") as tmp, fresh_database(args.db) as db:
        workdir = Path(tmp)
        with game_server(workdir, token, db, args.workers, args.keep_log) as (_, ws_url):
            result, starts, spans = asyncio.run(waves(ws_url, token, args))
    for note in result.notes:
        print(f"load: {note}", file=sys.stderr)
    report_waves(result, starts, spans, args)
    return 0


@contextlib.contextmanager
def game_server(workdir: Path, token: str, db: str | None, workers: int,
                keep_log: str | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The game server for the run (see ``start_game_server``), stopped afterwards; its log
    copied to ``keep_log`` if given."""
    server, ws_url = start_game_server(workdir, token, db, workers)
    try:
        yield server, ws_url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if keep_log:
            shutil.copyfile(workdir / "server.log", keep_log)


def start_fanout_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-c", FANOUT_SERVER], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    if not port:
        raise RuntimeError("the fan-out server did not start")
    return process, f"ws://127.0.0.1:{port}/"


async def fanout_floor(url: str, tables: int, moves_per_table: int, view_bytes: int, think: float,
                       timeout: float) -> list[float]:
    """For each turn, the time from a member's send until all four members of its group have
    the server's view-sized message (see the docstring)."""
    gate = asyncio.Semaphore(64)
    rng = random.Random(7)
    seen: list[float] = []

    async def open_one(group: int) -> ClientConnection:
        async with gate:
            ws = await connect(url, max_size=None, open_timeout=30, close_timeout=5, compression=None)
            await ws.send(f"join {group}")
            return ws

    connections = await asyncio.gather(*(open_one(n // SEATS_PER_TABLE)
                                         for n in range(SEATS_PER_TABLE * tables)))

    async def group(members: list[ClientConnection]) -> None:
        for turn in range(moves_per_table):
            if think > 0:
                await asyncio.sleep(rng.uniform(0, 2 * think))
            sent_at = time.perf_counter()
            await members[turn % len(members)].send(f"move {view_bytes}")
            await asyncio.gather(*(ws.recv() for ws in members))
            seen.append((time.perf_counter() - sent_at) * 1e3)

    try:
        groups = [connections[i:i + SEATS_PER_TABLE] for i in range(0, len(connections), SEATS_PER_TABLE)]
        await asyncio.wait_for(asyncio.gather(*(group(g) for g in groups)), timeout)
    finally:
        await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)
    return seen


async def waves(ws_url: str, token: str,
                args: argparse.Namespace) -> tuple[BotsResult, list[float], list[tuple[float, float]]]:
    """The open loop: every wave's class joins first (joining is not what is measured), then
    wave k starts at k × ``wave_every`` seconds and plays to its end beside the waves before it,
    each student thinking ``think_min``–``think_max`` seconds before each move. Returns the
    figures of all waves, when each wave started, and each started table's play (start, end)."""
    result = BotsResult(tables=args.waves * args.wave_tables)
    classes: list[SeatedClass] = []
    try:
        for number in range(args.waves):
            classes.append(await seat_class(ws_url, token, args.wave_tables, "tls12-rsa",
                                            think=(args.think_min, args.think_max), result=result,
                                            seed=number))
            print(f"load: wave {number + 1}/{args.waves} seated "
                  f"({SEATS_PER_TABLE * args.wave_tables * (number + 1)} students)", file=sys.stderr)
        starts: list[float] = []
        first = asyncio.Event()  # the first wave's start acknowledged: the server's keys are made

        def first_started() -> None:
            starts.append(time.perf_counter())
            first.set()

        async def wave(number: int, seated: SeatedClass) -> None:
            if number == 0:
                await start_and_play(seated, args.timeout, on_started=first_started)
                return
            await first.wait()
            await asyncio.sleep(starts[0] + number * args.wave_every - time.perf_counter())
            starts.append(time.perf_counter())
            await start_and_play(seated, args.timeout)

        # The measure ends one interval after the last wave's start: the waves still playing
        # then are stopped (each window needs the load it names, not the class emptying out).
        playing = asyncio.gather(*(wave(n, seated) for n, seated in enumerate(classes)))
        try:
            waiting: asyncio.Future[Any] = asyncio.ensure_future(first.wait())
            await asyncio.wait([waiting, playing], return_when=asyncio.FIRST_COMPLETED)
            if not first.is_set():  # the first wave failed to start: its error is the report
                waiting.cancel()
                await playing
            end = starts[0] + args.waves * args.wave_every
            await asyncio.wait_for(asyncio.shield(playing), end - time.perf_counter() + 1)
        except TimeoutError:
            playing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await playing
        spans = [(table.started_at, table.ended_at or math.inf) for seated in classes
                 for table in seated.run.tables.values() if table.started_at]
        return result, starts, spans
    finally:
        await asyncio.gather(*(seated.close() for seated in classes), return_exceptions=True)


def report_waves(result: BotsResult, starts: list[float], spans: list[tuple[float, float]],
                 args: argparse.Namespace) -> None:
    """One line per wave's window (from 5 s after its start to the next start): the students
    whose tables were playing, the moves and the time all four seats took to have each move;
    then the most students served within the target: in every window up to theirs
    (``sustained``), and in any one window (``best_window``)."""
    best, sustained, held = 0, 0, True
    print(f"{'wave':>4} {'students':>8} {'moves/s':>8} {'seen p50':>9} {'seen p99':>9}")
    for number, start in enumerate(sorted(starts)):
        low, high = start + 5.0, start + args.wave_every
        middle = (low + high) / 2
        students = SEATS_PER_TABLE * sum(1 for begun, ended in spans if begun <= middle < ended)
        window = [ms for ms, at in zip(result.seen_ms, result.seen_at, strict=True) if low <= at < high]
        p99 = percentile(window, 0.99)
        within = bool(window) and p99 < args.target_ms
        held = held and within
        if within:
            best = max(best, students)
        if held:
            sustained = students
        print(f"{number + 1:>4} {students:>8} {len(window) / (high - low):>8.1f} "
              f"{percentile(window, 0.5):>7.1f}ms {p99:>7.1f}ms")
    print(f"open loop: think {args.think_min:g}-{args.think_max:g} s, waves of {args.wave_tables} tables "
          f"every {args.wave_every:g} s, {args.workers} server process(es)")
    print(f"most_students_sustained={sustained} best_window={best} target_seen_p99_ms={args.target_ms:g} "
          f"errors={result.errors}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=250, help="tables at once (default 250)")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds a student thinks before each move (default 1.0)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on the play after S seconds")
    parser.add_argument("--db", metavar="URL",
                        help="the server's database (default: a fresh SQLite file; --workers needs "
                             "PostgreSQL)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--keep-log", metavar="FILE", help="copy the server's log there after the run")
    loop = parser.add_argument_group("open loop", "--open-loop: waves of classes start one after the "
                                     "other and play side by side, students thinking between moves; "
                                     "finds the most students served with seen p99 under the target")
    loop.add_argument("--open-loop", action="store_true", help="run the open loop instead of one class")
    loop.add_argument("--think-min", type=float, default=5.0, help="least seconds of thought (default 5)")
    loop.add_argument("--think-max", type=float, default=20.0, help="most seconds of thought (default 20)")
    loop.add_argument("--waves", type=int, default=12, help="classes started one after another (default 12)")
    loop.add_argument("--wave-tables", type=int, default=50, help="tables per wave (default 50)")
    loop.add_argument("--wave-every", type=float, default=15.0, help="seconds between waves (default 15)")
    loop.add_argument("--target-ms", type=float, default=100.0,
                      help="the seen p99 to stay under (default 100)")
    args = parser.parse_args()
    raise_open_files_limit()
    if args.open_loop:
        return run_open_loop(args)
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="handshake-load-") as tmp, fresh_database(args.db) as db:
        workdir = Path(tmp)
        with game_server(workdir, token, db, args.workers, args.keep_log) as (server, ws_url):
            started = time.perf_counter()
            try:
                result = asyncio.run(play_class(ws_url, token, args.tables, "tls12-rsa",
                                                timeout=args.timeout, think=args.think))
            except Exception as exc:  # report what we have: the bench never hides a failure
                print(f"load: the class failed to run: {type(exc).__name__}: {exc}", file=sys.stderr)
                result = BotsResult(tables=args.tables, errors=1)
            wall = time.perf_counter() - started
            rss = peak_rss_mb(server.pid)
            if result.errors:  # the server's own account of what went wrong
                logged = (workdir / "server.log").read_text(errors="replace").splitlines()
                for line in [line for line in logged if " ERROR " in line or "Error" in line][:20]:
                    print(f"load: server: {line}", file=sys.stderr)
    for note in result.notes:
        print(f"load: {note}", file=sys.stderr)

    view_bytes = round(sum(result.view_bytes) / len(result.view_bytes)) if result.view_bytes else 15_000
    fanout, fanout_url = start_fanout_server()
    try:
        per_table = max(1, round(result.moves / args.tables)) if result.moves else 14
        floor = asyncio.run(fanout_floor(fanout_url, args.tables, per_table, view_bytes, args.think,
                                         args.timeout))
    finally:
        fanout.terminate()
        fanout.wait(30)

    def ms(values: list[float]) -> str:
        return f"p50 {percentile(values, 0.5):.1f} ms, p99 {percentile(values, 0.99):.1f} ms"

    seen_p99, floor_p99 = percentile(result.seen_ms, 0.99), percentile(floor, 0.99)
    rate = result.moves / result.play_seconds if result.play_seconds else 0.0
    print(f"tables: {result.completed}/{args.tables} completed, {result.failed} failed, "
          f"{SEATS_PER_TABLE * args.tables} student connections, think {args.think:g} s, "
          f"{args.workers} server process(es), "
          f"setup+play {wall:.1f} s")
    print(f"moves: {result.moves} in {result.play_seconds:.1f} s of play = {rate:.1f} moves/s; "
          f"mean view {view_bytes} bytes")
    print(f"the mover's reply: {ms(result.latencies_ms)}")
    print(f"another seat's pushed view: {ms(result.push_ms)}")
    print(f"all four seats have the move (what the table waits for): {ms(result.seen_ms)}")
    print(f"fan-out floor ({len(floor)} turns, same connections, think and view size): {ms(floor)}")
    ratio = seen_p99 / floor_p99 if floor_p99 > 0 else 0.0
    print(f"server peak RSS (VmHWM): {rss:.1f} MiB" + (" (the first process)" if args.workers > 1 else ""))
    print(f"completed={result.completed}/{args.tables} errors={result.errors} "
          f"seen_p50_ms={percentile(result.seen_ms, 0.5):.1f} seen_p99_ms={seen_p99:.1f} "
          f"floor_seen_p99_ms={floor_p99:.1f} ratio_seen_p99={ratio:.1f} "
          f"reply_p99_ms={percentile(result.latencies_ms, 0.99):.1f} peak_rss_mb={rss:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
