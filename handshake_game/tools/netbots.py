"""`handshake-game bots`: a whole class played by bots over real websockets.

One connection creates a class session as the instructor (guided difficulty, so every view
carries the ``offered`` move), then 4*N students each open their own websocket, say
``hello`` and ``join`` with the join code, exactly as a student's browser does. The
instructor starts the class; every student plays the offered move when a pushed view says
it is their turn, until its table completes or fails. Each move's latency is the time from
sending it to the reply (the mover's ``view``, or an ``error``); and, since the other three
students of the table wait for the move too, the time until each of them has the view it
pushed (``push_ms``) and until all four seats have it (``seen_ms``: what the table waits
for). With ``think`` seconds, each student thinks a random 0 to 2×``think`` seconds before
each move, as a class does.

The last line printed is ``completed=C/N errors=E moves=M p50_ms=X p99_ms=Y``; the exit
code is 0 only when every table completed and nothing went wrong. Every wait is bounded:
opening a connection, each reply during setup, and the whole play (``timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

SEATS_PER_TABLE = 4
REPLY_TIMEOUT = 60.0  # one setup reply (hello, create_session, join, start)
OPEN_TIMEOUT = 30.0  # one websocket opening handshake


class BotError(Exception):
    """Something the bots cannot go on from: a refused setup message, a silent server."""


def ws_endpoint(server: str) -> str:
    """``ws://host:port`` or ``ws://host:port/ws`` → the websocket endpoint ``…/ws``."""
    parts = urlsplit(server)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise BotError(f"--server must be a ws:// URL, not {server!r}")
    path = parts.path if parts.path not in ("", "/") else "/ws"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1): the smallest value with at least that share
    of the values at or below it, its rank ``share × n`` rounded up; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    # (round away the float error of share × n first, so that 0.99 × 100 is rank 99, not 100)
    rank = max(1, min(len(ordered), math.ceil(round(share * len(ordered), 9))))
    return ordered[rank - 1]


@dataclass
class BotsResult:
    tables: int
    completed: int = 0
    failed: int = 0
    errors: int = 0
    moves: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    push_ms: list[float] = field(default_factory=list)  # another seat's view of a move, from its send
    seen_ms: list[float] = field(default_factory=list)  # until every seat of the table had it
    seen_at: list[float] = field(default_factory=list)  # when each ``seen_ms`` ended (perf_counter)
    spans: list[tuple[float, float]] = field(default_factory=list)  # each table's play: start, end
    view_bytes: list[int] = field(default_factory=list)  # the size of each view received
    play_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.completed == self.tables and self.errors == 0

    def summary(self) -> str:
        return (f"completed={self.completed}/{self.tables} errors={self.errors} moves={self.moves} "
                f"p50_ms={percentile(self.latencies_ms, 0.50):.1f} "
                f"p99_ms={percentile(self.latencies_ms, 0.99):.1f}")


async def _receive(ws: ClientConnection, timeout: float, sizes: list[int] | None = None) -> dict[str, Any]:
    text = await asyncio.wait_for(ws.recv(), timeout)
    message: dict[str, Any] = json.loads(text)
    if sizes is not None and message.get("type") == "view":
        sizes.append(len(text))
    return message


async def _ask(ws: ClientConnection, message: dict[str, Any], wanted: str) -> dict[str, Any]:
    """Send ``message`` and wait for a reply of type ``wanted``; an ``error`` is a BotError."""
    await ws.send(json.dumps(message))
    while True:
        reply = await _receive(ws, REPLY_TIMEOUT)
        if reply["type"] == wanted:
            return reply
        if reply["type"] == "error":
            raise BotError(f"{message['type']} refused: {reply.get('code')}: {reply.get('message')}")


async def _open(url: str) -> ClientConnection:
    ws = await connect(url, max_size=None, open_timeout=OPEN_TIMEOUT, close_timeout=5)
    await _ask(ws, {"type": "hello", "protocol": 1}, "welcome")
    return ws


@dataclass
class _Table:
    table_id: int
    students: list[_Student] = field(default_factory=list)
    completed: bool = False
    failed: bool = False
    broken: bool = False  # an error or a lost connection: its students stop
    # Each move played at the table: when it was sent, and the seats that have its view (one
    # view per seat per move: every seat is a student's, and only moves change the table).
    moves: list[tuple[float, str, set[str]]] = field(default_factory=list)  # (sent at, mover, seen by)
    started_at: float = 0.0
    ended_at: float = 0.0

    def stop_all(self) -> None:
        self.broken = True
        for student in self.students:
            asyncio.get_running_loop().create_task(student.ws.close())


@dataclass
class _Student:
    ws: ClientConnection
    table_id: int
    seat: str
    token: str
    seen: int = 0  # how many of its table's moves this student has had the view of


class _Run:
    def __init__(self, result: BotsResult, think: tuple[float, float] = (0.0, 0.0), seed: int = 7) -> None:
        self.result = result
        self.tables: dict[int, _Table] = {}
        self.think = think  # a student thinks between these many seconds before each move
        self.rng = random.Random(seed)

    def error(self, note: str) -> None:
        self.result.errors += 1
        if len(self.result.notes) < 20:
            self.result.notes.append(note)

    async def play(self, student: _Student, deadline: float) -> None:
        """Play the seat from its pushed views until the table ends (the offered move, once
        per distinct turn), timing each move from send to reply."""
        table = self.tables[student.table_id]
        acted: set[tuple[Any, ...]] = set()
        sent_at: float | None = None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                message = await _receive(student.ws, remaining, self.result.view_bytes)
                if message["type"] == "error":
                    self.error(f"table {student.table_id} {student.seat}: {message.get('code')}: "
                               f"{message.get('message')}")
                    table.stop_all()
                    return
                if message["type"] != "view":
                    continue
                now = time.perf_counter()
                if sent_at is not None:
                    self.result.latencies_ms.append((now - sent_at) * 1e3)
                    sent_at = None
                if student.seen < len(table.moves):  # the view of the oldest move it had not seen
                    moved_at, mover, seen_by = table.moves[student.seen]
                    student.seen += 1
                    if student.seat != mover:  # another seat's move, pushed here
                        self.result.push_ms.append((now - moved_at) * 1e3)
                    seen_by.add(student.seat)
                    if len(seen_by) == len(table.students):
                        self.result.seen_ms.append((now - moved_at) * 1e3)
                        self.result.seen_at.append(now)
                seen = message["view"]
                if seen["completed"] or seen["failed"] is not None:
                    table.completed, table.failed = bool(seen["completed"]), seen["failed"] is not None
                    table.ended_at = table.ended_at or now
                    return
                key = (seen["step"], len(seen["verdicts"]), len(seen["wire"]))
                if seen["your_turn"] and not seen["paused"] and key not in acted:
                    acted.add(key)
                    offered = seen["offered"]
                    if offered is None:
                        self.error(f"table {student.table_id} {student.seat}: no offered move "
                                   f"at {seen['step']}")
                        table.stop_all()
                        return
                    if self.think[1] > 0:  # a student reads the step before moving
                        await asyncio.sleep(self.rng.uniform(*self.think))
                    sent_at = time.perf_counter()
                    table.moves.append((sent_at, student.seat, set()))
                    await student.ws.send(json.dumps({
                        "type": "move", "table_id": student.table_id, "token": student.token,
                        "action": {"name": offered["action"], "fields": offered["fields"]}}))
                    self.result.moves += 1
        except TimeoutError:
            if not table.broken:
                self.error(f"table {student.table_id} {student.seat}: timed out")
                table.stop_all()
        except (ConnectionClosed, OSError) as exc:
            if not table.broken:
                self.error(f"table {student.table_id} {student.seat}: connection lost ({exc})")
                table.stop_all()


async def _drain(ws: ClientConnection, replies: asyncio.Queue[dict[str, Any]]) -> None:
    """The instructor watches the class: read every ``table_update`` so the server's pushes
    never back up, and hand anything else to whoever asked."""
    with contextlib.suppress(ConnectionClosed):
        async for text in ws:
            message = json.loads(text)
            if message["type"] != "table_update":
                await replies.put(message)


@dataclass
class SeatedClass:
    """A class whose students have joined (each on its own websocket), waiting for the start."""

    instructor: ClientConnection
    token: str
    class_id: int
    run: _Run
    students: list[_Student]
    replies: asyncio.Queue[dict[str, Any]]
    drain: asyncio.Task[None]
    opened: list[ClientConnection]

    async def close(self) -> None:
        self.drain.cancel()
        await asyncio.gather(*(ws.close() for ws in self.opened), return_exceptions=True)


async def seat_class(server: str, token: str, tables: int, variant: str, scenario: str = "honest", *,
                     connect_limit: int = 64, think: tuple[float, float] = (0.0, 0.0),
                     result: BotsResult | None = None, seed: int = 7) -> SeatedClass:
    """Create a class of ``tables`` tables at ``server`` and seat 4 bot students per table.
    Setup failures raise :class:`BotError` (the connections opened so far are closed)."""
    url = ws_endpoint(server)
    run = _Run(result or BotsResult(tables=tables), think, seed)
    instructor = await _open(url)
    opened: list[ClientConnection] = [instructor]
    try:
        created = await _ask(instructor, {"type": "create_session", "token": token, "variant": variant,
                                          "scenario": scenario, "difficulty": "guided"},
                             "session_created")
        class_id, code = created["class_session_id"], created["join_code"]
        replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        drain = asyncio.create_task(_drain(instructor, replies))
        gate = asyncio.Semaphore(connect_limit)

        async def join(number: int) -> _Student:
            async with gate:
                ws = await _open(url)
                opened.append(ws)
                seated = await _ask(ws, {"type": "join", "join_code": code, "name": f"bot{number}"},
                                    "seated")
                paused = await _receive(ws, REPLY_TIMEOUT)  # the seat's first view: waiting to start
                if paused["type"] != "view":
                    raise BotError(f"join: expected a view, got {paused['type']}")
                return _Student(ws, seated["table_id"], seated["seat"], seated["token"])

        students = await asyncio.gather(*(join(n) for n in range(SEATS_PER_TABLE * tables)))
    except BaseException:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
        raise
    for student in students:
        run.tables.setdefault(student.table_id, _Table(student.table_id)).students.append(student)
    seated_class = SeatedClass(instructor, token, class_id, run, list(students), replies, drain, opened)
    if len(run.tables) != tables:
        await seated_class.close()
        raise BotError(f"{len(students)} students were seated at {len(run.tables)} tables, not {tables}")
    return seated_class


async def start_and_play(seated: SeatedClass, timeout: float,
                         on_started: Callable[[], None] | None = None) -> None:
    """The instructor starts the class; its students play until every table ends (or
    ``timeout`` seconds pass). The figures go to the class's ``BotsResult``. ``on_started`` is
    called when the start is acknowledged (the server first waits for the class's RSA keys)."""
    run, result = seated.run, seated.run.result
    started_at = time.perf_counter()
    for table in run.tables.values():
        table.started_at = started_at
    deadline = time.monotonic() + timeout
    players = [asyncio.create_task(run.play(student, deadline)) for student in seated.students]
    await seated.instructor.send(json.dumps({"type": "start", "token": seated.token,
                                             "class_session_id": seated.class_id}))
    done = await asyncio.wait_for(seated.replies.get(), REPLY_TIMEOUT)
    if done["type"] != "done":
        for player in players:
            player.cancel()
        raise BotError(f"start refused: {done.get('code')}: {done.get('message')}")
    if on_started is not None:
        on_started()
    await asyncio.gather(*players)
    result.play_seconds += time.perf_counter() - started_at
    for table in run.tables.values():
        result.spans.append((table.started_at, table.ended_at or time.perf_counter()))
        if table.completed and not table.broken:
            result.completed += 1
        elif table.failed:
            result.failed += 1
            if len(result.notes) < 20:
                result.notes.append(f"table {table.table_id} failed")


async def play_class(server: str, token: str, tables: int, variant: str, scenario: str = "honest", *,
                     timeout: float = 300.0, connect_limit: int = 64, think: float = 0.0) -> BotsResult:
    """Create a class of ``tables`` tables at ``server``, fill it with 4 bot students per table,
    start it and play it to the end. Setup failures raise :class:`BotError`."""
    seated = await seat_class(server, token, tables, variant, scenario, connect_limit=connect_limit,
                              think=(0.0, 2 * think))
    try:
        await start_and_play(seated, timeout)
    finally:
        await seated.close()
    return seated.run.result


def run_bots(server: str, token: str, tables: int, variant: str, scenario: str, timeout: float,
             out: TextIO = sys.stdout) -> int:
    """The CLI: play the class, print a few figures and the summary line last; exit 0 iff all
    tables completed with no errors."""
    if tables < 1:
        print("bots: --tables must be at least 1", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(play_class(server, token, tables, variant, scenario, timeout=timeout))
    except (BotError, WebSocketException, OSError, TimeoutError) as exc:
        print(f"bots: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(BotsResult(tables=tables, errors=1).summary(), file=out)
        return 1
    for note in result.notes:
        print(f"bots: {note}", file=sys.stderr)
    if result.play_seconds > 0:
        print(f"{result.moves} moves in {result.play_seconds:.2f} s "
              f"({result.moves / result.play_seconds:.1f} moves/s), {result.failed} tables failed",
              file=out)
    print(result.summary(), file=out, flush=True)
    return 0 if result.ok else 1
