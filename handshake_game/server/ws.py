"""The asyncio edge: websockets at /ws, a few plain HTTP pages, and nothing else.

The adapter only moves JSON: it parses with ``protocol.parse``, hands the request to
``GameServer`` on a worker thread (the store and the crypto block), and sends the typed
reply. :func:`reply_to` is the one place errors become ``error`` messages; unexpected
exceptions are logged and the client gets a generic error, never their text. The
connection stays open after any error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import functools
import gc
import hashlib
import io
import json
import logging
import os
import re
import secrets
import signal
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit

import segno
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .. import __version__
from ..game import actions as a
from ..game.catalog import catalog_json
from ..game.export import table_capture, table_keylog
from ..game.model import Seat
from ..resources import resource_directory
from ..store import Store
from ..store.repository import verify_token
from ..tls.keypool import KeyKind, KeyPool
from ..tools.export_scores import export_scores, score_rows
from . import cluster, sessions
from . import protocol as p
from .app import INSTRUCTOR_SETTING, GameError, GameServer, NotInstructor, Reseat
from .limits import (
    ACCEPT_BURST,
    DEFAULT_MAX_CONNECTIONS,
    HELLO_DEADLINE,
    PER_ADDRESS,
    Limits,
    address_of,
    connection_cap,
    throttle_library_logs,
    trusted_proxy,
)
from .report import class_report

log = logging.getLogger("handshake_game.server")
_P = ParamSpec("_P")
_T = TypeVar("_T")


async def off_loop(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``function(*args)`` on a worker thread (``asyncio.to_thread``). A StopIteration escaping
    it would never reach the awaiting request (asyncio cannot raise it into a future: the reply
    would hang), so it comes back as the error it is."""
    def call() -> _T:
        try:
            return function(*args, **kwargs)
        except StopIteration as error:
            raise RuntimeError("StopIteration escaped a game call") from error

    return await asyncio.to_thread(call)

# Frames up to this size reach ``protocol.parse``, which refuses anything over 64 KiB with
# an error reply; only beyond this does the websockets layer close the connection (1009).
FRAME_LIMIT = 1024 * 1024

# The static front end: web/ beside the package (a source checkout), or $HANDSHAKE_WEB.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
# Every page's policy: only what the game serves (no CDN, no inline script), no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

# Per connection: this many messages a second, in bursts of up to twice as many. A class plays
# far slower; a flood gets ``rate_limited`` errors and its messages are not handled.
RATE_PER_SECOND = 20.0

# RSA keys kept ready: a table uses two (the CA's, the server's), three with a man in the
# middle. Refilled in the background as tables take them.
KEY_POOL_TARGET = 16
WORKER_THREADS = 2
SHARED_WORKER_THREADS = 6


GC_PAUSE_LOGGED = 0.1  # seconds: a garbage collection this long holds every table up
FULL_SWEEP_EVERY = 900.0  # seconds between sweeps of every object, frozen ones included


_collecting_since: list[float] = []
_swept = threading.Event()  # a collection of the oldest generation ended (on any thread)


def _time_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _collecting_since[:] = [time.perf_counter()]
        return
    if info["generation"] == 2:
        _swept.set()
    if _collecting_since:
        took = time.perf_counter() - _collecting_since[0]
        if took >= GC_PAUSE_LOGGED:
            log.info("garbage collection (generation %d) paused the process for %.0f ms",
                     info["generation"], took * 1e3)


def watch_collector() -> None:
    """One log line for each garbage collection that stops the process for longer than
    ``GC_PAUSE_LOGGED`` (it holds the GIL: every table of the process waits)."""
    if _time_collection not in gc.callbacks:
        gc.callbacks.append(_time_collection)


async def keep_collector(full_sweep_every: float = FULL_SWEEP_EVERY) -> None:
    """Keeps the collector's pauses short. A class's tables live in memory for the whole
    class, and Python's collection of the oldest generation visits every object: with a few
    thousand students it stopped the process for 100–570 ms every few seconds (the p99 of
    bench/load.py's open loop). So what a full collection leaves alive is frozen
    (``gc.freeze``: moved out of the collector's sight, still freed by reference counting),
    and the next full collections visit only what came since. A cycle of frozen objects is
    found by the sweep of every object every ``full_sweep_every`` seconds (one long pause)."""
    swept_all = time.monotonic()
    while True:
        await asyncio.sleep(1.0)
        if not _swept.is_set():
            continue
        _swept.clear()
        if time.monotonic() - swept_all >= full_sweep_every:
            began = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            swept_all = time.monotonic()
            log.info("swept every object: %d unreachable, %.0f ms", found,
                     (time.perf_counter() - began) * 1e3)
        gc.freeze()


def web_directory() -> Path:
    """``$HANDSHAKE_WEB``, else the checkout's ``web/``, else the installed copy's."""
    return resource_directory("web", "HANDSHAKE_WEB")


class Session:
    """One connection's protocol state: whether it said hello, the seats it holds and the class
    sessions it watches as instructor (both learnt from requests that succeeded), the tables
    the last request changed and the players it moved, and its rate-limit bucket."""

    def __init__(self, rate: float = RATE_PER_SECOND) -> None:
        self.greeted = False
        self.dropped = False  # the server closed it (no hello in time)
        self.seats: set[tuple[int, Seat]] = set()
        self.watching: set[int] = set()
        self.changed: list[int] = []
        self.moved: list[Reseat] = []
        self.rate = rate
        self.allowance = 2 * rate
        self.checked = time.monotonic()

    def within_rate(self) -> bool:
        """Token bucket: True when this message may be handled."""
        now = time.monotonic()
        self.allowance = min(2 * self.rate, self.allowance + (now - self.checked) * self.rate)
        self.checked = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True


OUTBOX_LIMIT = 64  # messages waiting for one connection before it is dropped as a dead reader


class Outbox:
    """One connection's messages, sent in order by a task of its own: whoever queues never
    waits for that connection's reader. A connection that stops reading until ``limit``
    messages wait is dropped (its transport aborted at once), and the others — its table, its
    class — play on. A message sent with a ``key`` (a table's dashboard entry) replaces the
    one with the same key still waiting, in its place: a dashboard needs each table's latest
    entry, not every one of a class joining at once. Those count once per key (at most one
    per table of the class), apart from the limit."""

    def __init__(self, connection: ServerConnection, limit: int = OUTBOX_LIMIT) -> None:
        self.connection = connection
        self.limit = limit
        # Each entry is a message, or the key of one waiting in ``latest``.
        self.queue: asyncio.Queue[str | tuple[Any, ...]] = asyncio.Queue()
        self.latest: dict[tuple[Any, ...], str] = {}
        self.waiting = 0  # messages without a key in the queue
        self.dropped = False
        self.task = asyncio.get_running_loop().create_task(self._pump())

    def send(self, text: str, key: tuple[Any, ...] | None = None) -> bool:
        if self.dropped:
            return False
        if key is not None:
            if key not in self.latest:
                self.queue.put_nowait(key)
            self.latest[key] = text
            return True
        if self.waiting >= self.limit:
            self.dropped = True
            address = address_of(self.connection)
            log.warning("connection from %s dropped: it left %d messages unread", address, self.waiting)
            self.task.cancel()
            self.connection.transport.abort()
            return False
        self.queue.put_nowait(text)
        self.waiting += 1
        return True

    async def reply(self, text: str) -> None:
        """Queues the connection's reply to its own request, waiting for room rather than
        dropping it: a client that sends faster than it reads slows only itself."""
        while not self.dropped and self.waiting >= self.limit:
            await asyncio.sleep(0.01)
        if not self.dropped:
            self.queue.put_nowait(text)
            self.waiting += 1

    async def _pump(self) -> None:
        try:
            while True:
                entry = await self.queue.get()
                if isinstance(entry, str):
                    self.waiting -= 1
                    await self.connection.send(entry)
                else:
                    await self.connection.send(self.latest.pop(entry))
        except ConnectionClosed:
            pass

    def close(self) -> None:
        self.task.cancel()


class Hub:
    """Who receives live updates: the connections holding each table's seats, and the
    instructors watching each class session. After every change at a table each holder gets
    its own seat's view (never another seat's) and each instructor the table's dashboard
    entry. One lock per table: updates for a table go out in order, the last one current."""

    def __init__(self, game: GameServer) -> None:
        self.game = game
        self._seats: dict[int, dict[Seat, set[ServerConnection]]] = {}
        self._instructors: dict[int, set[ServerConnection]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._sessions: dict[ServerConnection, Session] = {}
        self._outboxes: dict[ServerConnection, Outbox] = {}

    def outbox(self, connection: ServerConnection) -> Outbox:
        """The connection's outbox (made on first use): every message to it goes through it."""
        box = self._outboxes.get(connection)
        if box is None:
            box = self._outboxes[connection] = Outbox(connection)
        return box

    def subscribe(self, connection: ServerConnection, session: Session) -> None:
        self._sessions[connection] = session
        for table_id, seat in session.seats:
            self._seats.setdefault(table_id, {}).setdefault(seat, set()).add(connection)
        for class_session_id in session.watching:
            self._instructors.setdefault(class_session_id, set()).add(connection)

    async def reseat(self, moved: list[Reseat], class_session_id: int) -> None:
        """The instructor moved players: their connections now hold the new seats, and each
        is told (``reseated``) before the tables' news goes out."""
        taken = {(m.table_id, m.seat): self._seats.get(m.table_id, {}).pop(m.seat, set()) for m in moved}
        for move in moved:
            connections = taken[(move.table_id, move.seat)]
            self._seats.setdefault(move.to_table_id, {}).setdefault(move.to_seat, set()).update(connections)
            text = p.encode(p.Reseated(table_id=move.to_table_id, seat=move.to_seat,
                                       class_session_id=class_session_id))
            for connection in connections:
                session = self._sessions.get(connection)
                if session is not None:
                    session.seats.discard((move.table_id, move.seat))
                    session.seats.add((move.to_table_id, move.to_seat))
                self.outbox(connection).send(text)

    def drop(self, connection: ServerConnection) -> None:
        self._sessions.pop(connection, None)
        box = self._outboxes.pop(connection, None)
        if box is not None:
            box.close()
        for holders in self._seats.values():
            for connections in holders.values():
                connections.discard(connection)
        for connections in self._instructors.values():
            connections.discard(connection)

    async def publish(self, table_id: int, sender: ServerConnection | None = None,
                      sender_seats: frozenset[Seat] = frozenset()) -> None:
        """Send the table's news. ``sender`` already has its seats' views in its reply."""
        lock = self._locks.setdefault(table_id, asyncio.Lock())
        async with lock:
            holders = {seat: set(connections) for seat, connections in self._seats.get(table_id, {}).items()}
            # The sender's own seats already have their view in its reply: skip them unless
            # another connection holds the same seat.
            wanted = [seat for seat, connections in holders.items()
                      if connections - ({sender} if seat in sender_seats else set())]
            class_session_id, texts, update = await off_loop(self._news, table_id, wanted)
            watchers = set(self._instructors.get(class_session_id, ())) if class_session_id else set()
            # Queued, never awaited: a reader that stopped reading cannot hold this table up.
            for seat, connections in holders.items():
                text = texts.get(seat)
                for connection in connections:
                    if text is not None and not (connection is sender and seat in sender_seats):
                        self.outbox(connection).send(text)
            if update is not None:
                for connection in watchers:
                    self.outbox(connection).send(update, key=("table", table_id))

    def _news(self, table_id: int, seats: list[Seat]) -> tuple[int | None, dict[Seat, str], str | None]:
        """On a worker thread: the table's class, each seat's view and, when an instructor
        watches the class, its table entry, encoded. The JSON work and the class's store reads
        (with other processes, whenever one of them changed the class) stay off the event loop."""
        class_session_id = self.game.class_session_of(table_id)
        views = self.game.seat_views(table_id, seats) if seats else {}
        texts = {seat: p.encode(p.View(table_id=table_id, view=seen)) for seat, seen in views.items()}
        update = None
        if class_session_id is not None and self._instructors.get(class_session_id):
            update = p.encode(p.TableUpdate(class_session_id=class_session_id,
                                            table=self.game.table_entry(table_id)))
        return class_session_id, texts, update


async def reply_to(game: GameServer, session: Session, raw: str | bytes,
                   public_url: str | None = None, limits: Limits | None = None,
                   address: str = "") -> list[p.ServerMessage]:
    """The replies to one incoming frame; every failure becomes an ``error`` message here.
    ``limits`` (with the sender's ``address``) caps new tables and wrong instructor tokens."""
    session.changed = []
    session.moved = []
    if not session.within_rate():
        return [p.Error(code="rate_limited", message=f"too many messages: at most {session.rate:g} a "
                                                     "second; this one was not handled")]
    try:
        message = p.parse(raw)
        if limits is not None:
            refused = _over_limits(limits, address, message)
            if refused is not None:
                return [refused]
        return await _dispatch(game, session, message, public_url)
    except (p.ProtocolError, GameError) as error:
        if isinstance(error, NotInstructor) and limits is not None:
            limits.guesses.add(address)
        return [p.Error(code=error.code, message=error.message)]
    except Exception:
        log.exception("unexpected error while handling a message")
        return [p.Error(code="internal", message="the server could not handle that message")]


def _over_limits(limits: Limits, address: str, message: p.AnyClientMessage) -> p.Error | None:
    """A typed refusal when ``address`` has opened too many tables, or guessed the instructor
    token wrong too often, within the last minute; None otherwise (a new table is counted)."""
    instructor = (isinstance(message, p.CreateSession | p.InstructorMessage)
                  or (isinstance(message, p.Resume) and message.class_session_id is not None))
    if instructor and limits.guesses.full(address):
        return p.Error(code="rate_limited", message="too many wrong instructor tokens from your address; "
                                                    "wait a minute")
    if isinstance(message, p.Solo):
        if limits.tables.full(address):
            return p.Error(code="rate_limited", message="too many new tables from your address; "
                                                        "wait a minute")
        limits.tables.add(address)
    return None


async def _dispatch(game: GameServer, session: Session, message: p.AnyClientMessage,
                    public_url: str | None) -> list[p.ServerMessage]:
    if isinstance(message, p.Hello):
        session.greeted = True
        return [p.Welcome(server=f"handshake-game {__version__}")]
    if not session.greeted:
        return [p.Error(code="hello_required", message='say {"type": "hello", "protocol": 1} first')]
    if isinstance(message, p.Solo):
        seated = await off_loop(game.solo, message.variant, message.scenario, message.difficulty,
                                         message.seat, message.name)
        session.seats.add((seated.table_id, seated.seat))
        return [p.Seated(table_id=seated.table_id, seat=seated.seat, token=seated.token),
                p.View(table_id=seated.table_id, view=seated.view)]
    if isinstance(message, p.Resume) and message.class_session_id is None:
        assert message.table_id is not None  # the model requires one of the two
        seat, view = await off_loop(game.resume, message.table_id, message.token)
        session.seats.add((message.table_id, seat))
        return [p.View(table_id=message.table_id, view=view)]
    if isinstance(message, p.Move | p.Hint):
        action = p.build_action(message.action) if isinstance(message, p.Move) else a.RequestHint()
        claimed = message.seat if isinstance(message, p.Move) else None
        view = await off_loop(game.move, message.table_id, message.token, action, claimed)
        session.seats.add((message.table_id, Seat(view["seat"])))
        session.changed = [message.table_id]
        return [p.View(table_id=message.table_id, view=view)]
    if isinstance(message, p.QuizAnswer):
        correct, explanation = await off_loop(game.quiz_answer, message.table_id, message.token,
                                                       message.lesson_id, message.question, message.choice)
        session.changed = [message.table_id]  # a first answer may score: every seat sees the points
        _, view = await off_loop(game.resume, message.table_id, message.token)
        return [p.QuizResult(lesson_id=message.lesson_id, question=message.question, correct=correct,
                             explanation=explanation), p.View(table_id=message.table_id, view=view)]
    if isinstance(message, p.WorkbenchRun):
        value = await off_loop(game.workbench, message.table_id, message.token, message.op,
                                        message.args)
        return [p.WorkbenchResult(op=message.op, hex=value.hex(), bytes=len(value))]
    if isinstance(message, p.ReadCard):
        lesson = await off_loop(game.read_card, message.table_id, message.token, message.lesson_id)
        return [p.CardShown(table_id=message.table_id, lesson=lesson)]
    if isinstance(message, p.Join):
        seated = await off_loop(game.join, message.join_code, message.name)
        session.seats.add((seated.table_id, seated.seat))
        session.changed = [seated.table_id]
        return [p.Seated(table_id=seated.table_id, seat=seated.seat, token=seated.token,
                         class_session_id=seated.class_session_id),
                p.View(table_id=seated.table_id, view=seated.view)]
    if isinstance(message, p.CreateSession):
        room = await off_loop(game.create_session, message.token, message.variant, message.scenario,
                                       message.difficulty)
        session.watching.add(room.class_session_id)
        join_url, svg = join_link(public_url, room.join_code)
        return [p.SessionCreated(class_session_id=room.class_session_id, join_code=room.join_code,
                                 join_url=join_url, qr_svg=svg)]
    return await _instructor(game, session, message, public_url)


KEYS_WAIT = 60.0  # seconds ``start`` waits at most for a class's RSA keys


async def keys_made(game: GameServer, timeout: float = KEYS_WAIT) -> None:
    """Waits (on the event loop, holding no worker thread) until the key pool has made the keys
    the class's tables reserved, or ``timeout`` passed: a big class does not begin by making
    hundreds of RSA keys between its first moves."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not game.keys_ready():
        if asyncio.get_running_loop().time() > deadline:
            log.warning("a class starts before all its RSA keys are made")
            return
        await asyncio.sleep(0.1)


async def dashboard_message(game: GameServer, class_session_id: int, token: str,
                            public_url: str | None) -> p.Dashboard:
    """The whole class for its instructor: settings, join link, rounds, tables, students."""
    tables = await off_loop(game.dashboard, class_session_id, token)
    room = game.class_room(class_session_id)
    students = await off_loop(game.students, room)
    join_url, svg = join_link(public_url, room.join_code)
    return p.Dashboard(class_session_id=class_session_id, tables=tables, join_code=room.join_code,
                       join_url=join_url, qr_svg=svg,
                       variant=room.variant.value, scenario=room.scenario.value,
                       difficulty=room.difficulty.value, started=room.started, ended=room.ended,
                       round=room.rounds[-1].number,
                       rounds=[{"round": r.number, "variant": r.variant.value, "scenario": r.scenario.value,
                                "difficulty": r.difficulty.value, "started": r.started,
                                "tables": len(r.table_ids)} for r in room.rounds],
                       stuck_after=room.stuck_after, students=students)


async def _instructor(game: GameServer, session: Session, message: p.Resume | p.InstructorMessage,
                      public_url: str | None) -> list[p.ServerMessage]:
    """The instructor's actions: each checked against the session's instructor token (in
    ``GameServer``), stored, and only then acknowledged with ``done``."""
    if isinstance(message, p.ClassesRequest):
        return [p.ClassList(classes=await off_loop(game.classes, message.token))]
    class_session_id, token = message.class_session_id, message.token
    assert class_session_id is not None  # a player's resume was handled before
    changed: list[int]
    if isinstance(message, p.DashboardRequest):
        board = await dashboard_message(game, class_session_id, token, public_url)
        session.watching.add(class_session_id)
        return [board]
    if isinstance(message, p.StudentRequest):
        detail = await off_loop(game.student, class_session_id, token, message.player_id)
        return [p.StudentDetail(class_session_id=class_session_id, student=detail)]
    if isinstance(message, p.Settings):
        await off_loop(game.settings, class_session_id, token, message.stuck_after)
        session.watching.add(class_session_id)
        return [p.Done(action=message.type, class_session_id=class_session_id, table_ids=[]),
                await dashboard_message(game, class_session_id, token, public_url)]
    if isinstance(message, p.NextRound):
        changed, session.moved = await off_loop(game.next_round, class_session_id, token,
                                                         message.variant, message.scenario,
                                                         message.difficulty)
        session.watching.add(class_session_id)
        session.changed = changed
        return [p.Done(action=message.type, class_session_id=class_session_id, table_ids=changed),
                await dashboard_message(game, class_session_id, token, public_url)]
    if isinstance(message, p.Reveal):
        debrief = await off_loop(game.reveal, class_session_id, token, message.table_id)
        session.watching.add(class_session_id)
        session.changed = [message.table_id]  # the table's seats get their debrief too
        return [p.Debrief(table_id=message.table_id, debrief=debrief)]
    if isinstance(message, p.Start):
        game.check_instructor(token)
        await keys_made(game)
        changed = await off_loop(game.start, class_session_id, token, False)
    elif isinstance(message, p.Pause):
        changed = await off_loop(game.pause, class_session_id, token, message.table_id,
                                          message.table_ids)
    elif isinstance(message, p.Resume):
        changed = await off_loop(game.resume_tables, class_session_id, token, message.table_id,
                                          message.table_ids)
    elif isinstance(message, p.Inject):
        changed = await off_loop(game.inject, class_session_id, token, message.table_id,
                                          message.scenario, message.table_ids)
    elif isinstance(message, p.LeakKey):
        changed = await off_loop(game.leak_key, class_session_id, token, message.table_id,
                                          message.table_ids)
    elif isinstance(message, p.MoveSeat):
        changed, session.moved = await off_loop(game.move_seat, class_session_id, token,
                                                         message.table_id, message.seat,
                                                         message.to_table_id, message.to_seat)
    elif isinstance(message, p.RotateSeats):
        changed, session.moved = await off_loop(game.rotate_seats, class_session_id, token,
                                                         message.table_id)
    else:
        changed = await off_loop(game.end, class_session_id, token)
    session.watching.add(class_session_id)
    session.changed = changed
    return [p.Done(action=message.type, class_session_id=class_session_id, table_ids=changed)]


def join_link(public_url: str | None, join_code: str) -> tuple[str | None, str]:
    """The students' join URL (when the server knows its own) and its QR code; without a URL
    the QR code holds the bare join code."""
    join_url = f"{public_url}?join={join_code}" if public_url else None
    return join_url, qr_svg(join_url or join_code)


@functools.lru_cache(maxsize=256)
def qr_svg(text: str) -> str:
    """``text`` as a QR code, an SVG document to show on the projector. Cached: a dashboard
    asks again after every reconnect, and this runs on the event loop."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False, svgns=True)
    return buffer.getvalue().decode("utf-8")


_DOWNLOAD = re.compile(r"^/download/(?:(scores\.csv|report\.html)|table-(\d{1,12})\.(pcapng|keylog))$")


MAX_PATH = 2048  # an address longer than this is refused (414) before anything looks at it
HTTP_METHODS = ("GET", "HEAD")


def http_handler(game: GameServer, web: Path, limits: Limits | None = None) -> Callable[
        [ServerConnection, Request], Awaitable[Response | None]]:
    """Plain HTTP beside the websocket: the static front end, the step catalog the pages
    read their names from, a health check, and the instructor's downloads (each checked
    against the instructor token, sent in an ``Authorization: Bearer`` header, never in the
    address). Only GET and HEAD are served."""
    root = web.resolve()

    async def respond(connection: ServerConnection, request: Request) -> Response | None:
        # First of all: the client a trusted proxy speaks for, and whether it has room.
        if limits is not None and not limits.admit(connection, request.headers):
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE,
                                      "too many connections from your address\n")
        if request.method not in HTTP_METHODS:
            refused = connection.respond(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD are served\n")
            refused.headers["Allow"] = ", ".join(HTTP_METHODS)
            return refused
        if len(request.path) > MAX_PATH:
            return connection.respond(HTTPStatus.REQUEST_URI_TOO_LONG, "that address is too long\n")
        url = urlsplit(request.path)
        if url.path == "/ws":
            if request.method != "GET":
                return connection.respond(HTTPStatus.METHOD_NOT_ALLOWED, "the websocket opens with GET\n")
            return None  # the websocket handshake proceeds
        if url.path == "/healthz":
            response = await _health(connection, game)
        elif url.path == "/catalog.json":
            response = _catalog_response(connection, request)
        elif url.path.startswith("/download/"):
            response = await _download(connection, game, url.path, parse_qs(url.query), request.headers,
                                       limits)
        else:
            response = _static(connection, root, url.path)
        if request.method == "HEAD":
            response.body = b""  # the headers (Content-Length included) as for GET
        return response

    return respond


async def _health(connection: ServerConnection, game: GameServer) -> Response:
    """200 when the database answers and takes writes; 503, naming what failed, otherwise."""
    problem = await off_loop(database_problem, game.store)
    if problem is None:
        return connection.respond(HTTPStatus.OK, "ok\ndatabase: writable\n")
    return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, f"unhealthy\ndatabase: {problem}\n")


def database_problem(store: Store) -> str | None:
    """None when the database takes a write (a row of ``server_setting``); else what failed,
    in words for an operator (the exception's class, not its text: no paths or passwords)."""
    try:
        store.set_setting("health_checked_at", _utcnow().isoformat())
    except Exception as error:  # a read-only file, a full disk, a lost connection
        cause = error.__cause__ or error.__context__ or error
        text = str(getattr(error, "orig", "") or cause).lower()
        if "readonly" in text or "read-only" in text or "read only" in text:
            return "read-only: the server cannot store moves"
        return f"cannot write ({type(cause).__name__})"
    return None


# The catalog changes only with the server's code: a page may reuse it for a few minutes
# (and revalidate it with its ETag after that) instead of asking on every page load.
CATALOG_CACHE_CONTROL = "public, max-age=300"


@functools.cache
def catalog_body() -> tuple[bytes, str]:
    """``catalog_json()`` as the bytes ``/catalog.json`` sends, and their ETag: computed once,
    the first time a page asks."""
    body = json.dumps(catalog_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _catalog_response(connection: ServerConnection, request: Request) -> Response:
    body, etag = catalog_body()
    cache = {"Cache-Control": CATALOG_CACHE_CONTROL, "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return _file_response(connection, b"", "application/json", extra=cache,
                              status=HTTPStatus.NOT_MODIFIED)
    return _file_response(connection, body, "application/json", extra=cache)


def _static(connection: ServerConnection, root: Path, path: str) -> Response:
    relative = "index.html" if path in ("", "/") else path.lstrip("/")
    target = (root / relative).resolve()
    if (not target.is_relative_to(root) or not target.is_file() or target.suffix not in CONTENT_TYPES
            or any(part.startswith(".") for part in target.relative_to(root).parts)):
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
    return _file_response(connection, target.read_bytes(), CONTENT_TYPES[target.suffix])


def _file_response(connection: ServerConnection, body: bytes, content_type: str,
                   filename: str | None = None, extra: dict[str, str] | None = None,
                   status: HTTPStatus = HTTPStatus.OK) -> Response:
    """``body`` with the page headers; ``extra`` headers replace those of the same name."""
    response = connection.respond(status, "")
    headers = Headers(response.headers)
    del headers["Content-Type"]
    del headers["Content-Length"]
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    for name, value in (SECURITY_HEADERS | (extra or {})).items():
        headers[name] = value
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers = headers
    response.body = body
    return response


async def _download(connection: ServerConnection, game: GameServer, path: str,
                    query: dict[str, list[str]], headers: Headers, limits: Limits | None) -> Response:
    """Scores (CSV) of a class, or a table's capture (pcapng with the keys embedded) or key log.
    The token comes in ``Authorization: Bearer``; a missing or wrong one is 403 whatever the
    class, so that without it a missing class and another's cannot be told apart."""
    match = _DOWNLOAD.match(path)
    if match is None:
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    address = address_of(connection)
    if limits is not None and limits.guesses.full(address):
        return connection.respond(HTTPStatus.TOO_MANY_REQUESTS,
                                  "too many wrong instructor tokens; wait a minute\n")
    class_file, table_text, kind = match.groups()
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise NotInstructor("send the instructor token as Authorization: Bearer TOKEN")
        if class_file is not None:
            class_text = (query.get("class_session_id") or [""])[0]
            if not class_text.isdigit() or len(class_text) > 10 or int(class_text) >= 2**31:
                return connection.respond(HTTPStatus.BAD_REQUEST, "class_session_id must be a class number\n")
            class_session_id = int(class_text)
            if class_file == "report.html":
                body = await off_loop(_report, game, class_session_id, token.strip())
                return _file_response(connection, body, "text/html; charset=utf-8",
                                      f"handshake-class-{class_session_id}-report.html")
            body = await off_loop(_scores_csv, game, class_session_id, token.strip())
            return _file_response(connection, body, "text/csv; charset=utf-8",
                                  f"handshake-class-{class_session_id}-scores.csv")
        table_id = int(table_text)
        body = await off_loop(_table_file, game, table_id, token.strip(), kind)
    except GameError as error:
        forbidden = error.code == "bad_instructor_token"
        if forbidden and limits is not None:
            limits.guesses.add(address)
        return connection.respond(HTTPStatus.FORBIDDEN if forbidden else HTTPStatus.NOT_FOUND,
                                  error.message + "\n")
    if kind == "pcapng":
        return _file_response(connection, body, "application/vnd.tcpdump.pcap",
                              f"handshake-table-{table_id}.pcapng")
    return _file_response(connection, body, "text/plain; charset=utf-8", f"handshake-table-{table_id}.keylog")


def _scores_csv(game: GameServer, class_session_id: int, token: str) -> bytes:
    game.instructor_room(class_session_id, token)
    out = io.StringIO()
    export_scores(game.store, None, out, class_session_id=class_session_id)
    return out.getvalue().encode("utf-8")


def _report(game: GameServer, class_session_id: int, token: str) -> bytes:
    room = game.instructor_room(class_session_id, token)
    record = sessions.class_session(game.store, class_session_id)
    assert record is not None  # instructor_room found it
    created = record.created_at
    created = created if created.tzinfo is not None else created.replace(tzinfo=datetime.UTC)
    rounds = [{"round": r.number, "variant": r.variant.value, "scenario": r.scenario.value,
               "difficulty": r.difficulty.value} for r in room.rounds]
    rows = list(score_rows(game.store, class_session_id=class_session_id))
    return class_report(room.join_code, created, rounds, rows, _utcnow()).encode("utf-8")


def _table_file(game: GameServer, table_id: int, token: str, kind: str) -> bytes:
    game.check_instructor(token)  # first: without the token, missing and forbidden look alike
    class_session_id = game.class_session_of(table_id)
    if class_session_id is None:
        raise UnknownTableDownload(f"no class table {table_id}")
    game.instructor_room(class_session_id, token)
    state = game.state(table_id)
    if kind == "keylog":
        return "".join(f"{line}\n" for line in table_keylog(state)).encode("ascii")
    started = sessions.table_started(game.store, table_id)
    return table_capture(state, started=started).to_pcapng(table_keylog(state))


class UnknownTableDownload(GameError):
    code = "unknown_table"


def make_handler(game: GameServer, public_url: str | None = None, hub: Hub | None = None,
                 rate: float = RATE_PER_SECOND, limits: Limits | None = None,
                 hello_deadline: float = HELLO_DEADLINE) -> Callable[[ServerConnection], Awaitable[None]]:
    """The connection handler. ``public_url`` (``http://host:port/``) goes into join QR codes;
    ``rate`` is each connection's limit in messages per second; ``limits`` caps new tables and
    instructor guesses per address; a connection silent past ``hello_deadline`` is closed."""
    live = hub or Hub(game)

    async def handler(connection: ServerConnection) -> None:
        session = Session(rate)
        address = address_of(connection)  # a trusted proxy's client, else the peer
        # A connection that never says hello holds a descriptor for nothing: close it.
        def silent() -> None:
            if not session.greeted:
                log.info("connection from %s closed: no hello within %g s", address, hello_deadline)
                session.dropped = True
                asyncio.ensure_future(connection.close(1008, "say hello first"))

        deadline = asyncio.get_running_loop().call_later(hello_deadline, silent)
        try:
            outbox = live.outbox(connection)
            async for raw in connection:
                for reply in await reply_to(game, session, raw, public_url, limits, address):
                    await outbox.reply(p.encode(reply))
                live.subscribe(connection, session)
                if session.moved:
                    room = await off_loop(game.class_session_of, session.moved[0].to_table_id)
                    await live.reseat(session.moved, room or 0)
                mine = frozenset(seat for table_id, seat in session.seats if table_id in session.changed)
                for table_id in session.changed:
                    await live.publish(table_id, connection, mine)
        except ConnectionClosed as closed:
            # A dropped laptop or a closed tab: one line, no traceback.
            if not session.dropped:
                log.info("connection from %s closed abruptly (%s)", address,
                         closed.rcvd.code if closed.rcvd is not None else "no close frame")
        finally:
            deadline.cancel()
            live.drop(connection)

    return handler


def _print_flushed(line: str) -> None:
    print(line, flush=True)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


MIN_TOKEN = 16  # characters: an instructor token shorter than this is refused at start


class StartupError(Exception):
    """The server cannot start; the message says why, for the operator."""


def own_address() -> str:
    """This machine's address on its main network (the one a default route leaves by): what a
    classroom's laptops and phones can reach when the server listens on every address. No
    packet is sent: a UDP socket only picks its source address."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): routed, never answered
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def public_base(host: str, port: int, public_url: str | None,
                scheme: str = "http") -> tuple[str, str | None]:
    """The students' address (ending in /) and, when the server had to pick it, a note saying so."""
    if public_url:
        return (public_url if public_url.endswith("/") else public_url + "/"), None
    if host in ("0.0.0.0", "::", ""):
        picked = own_address()
        return (f"{scheme}://{picked}:{port}/",
                f"listening on every address; the join link uses this machine's own address {picked} "
                "(use --public-url to name another)")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/", None


def https_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    """The server's TLS context for HTTPS and wss (None for plain HTTP): TLS 1.2 at least, the
    certificate chain and key from PEM files. A file that cannot be read or does not match is
    a :class:`StartupError`, with the reason."""
    if certfile is None and keyfile is None:
        return None
    if certfile is None:
        raise StartupError("--keyfile needs --certfile")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as error:
        raise StartupError(f"the certificate or key cannot be used: {error}") from None
    return context


async def run(host: str, port: int, db_url: str, *, instructor_token: str | None = None,
              print_urls: Callable[[str], None] | None = None, rate: float = RATE_PER_SECOND,
              public_url: str | None = None, max_connections: int | None = None,
              hello_deadline: float = HELLO_DEADLINE, certfile: str | None = None,
              keyfile: str | None = None, per_address: int | None = None, workers: int = 1,
              worker: bool = False, share: bool = False, trusted_proxies: Sequence[str] = ()) -> None:
    """Serve until SIGINT/SIGTERM: upgrade the database, check it takes writes, replay the
    stored tables, listen.

    The instructor token's hash is kept in the database: a restart without
    ``instructor_token`` keeps the one from before (the instructor's browser still holds it),
    a first start makes and prints a fresh one, and a given one replaces the stored one.
    Raises :class:`StartupError` for a token under ``MIN_TOKEN`` characters or a database
    that does not take writes, or a ``trusted_proxies`` entry that is no address or network.

    With ``workers`` above 1 this process starts that many less one ``--worker`` processes
    on its port, replaces any that dies, and stops them when it stops."""
    print_urls = print_urls or _print_flushed
    if instructor_token is not None and len(instructor_token) < MIN_TOKEN:
        raise StartupError(f"the instructor token must be at least {MIN_TOKEN} characters long")
    tls = https_context(certfile, keyfile)
    throttle_library_logs()
    watch_collector()
    try:
        proxies = [trusted_proxy(text) for text in trusted_proxies]
    except ValueError as error:
        raise StartupError(f"--trusted-proxy: {error}") from None
    limits = Limits(connection_cap(max_connections or DEFAULT_MAX_CONNECTIONS),
                    per_address or PER_ADDRESS, proxies)
    store = Store(db_url)
    postgres = store.url.get_backend_name() == "postgresql"
    if (workers > 1 or share) and not postgres:
        store.dispose()
        raise StartupError("--workers above 1 and --shared need PostgreSQL (--db postgresql://…): SQLite "
                           "serves one process")
    coordinated = postgres and (workers > 1 or worker or share)
    # Two worker threads for the store, the crypto and the views: more only contend for the
    # GIL (bench/load.py at 250 tables: p99 448 ms with 2, 670 ms with 16, 1.3 s with 1). With
    # other processes a move also waits on PostgreSQL (its locks, the catch-up): more threads
    # keep the process busy while some wait.
    asyncio.get_running_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor(
        max_workers=SHARED_WORKER_THREADS if coordinated else WORKER_THREADS, thread_name_prefix="game"))
    try:
        await off_loop(store.upgrade)
        problem = await off_loop(database_problem, store)
    except Exception as error:
        store.dispose()
        raise StartupError(f"the database cannot be opened or upgraded ({type(error).__name__})") from None
    if problem is not None:
        store.dispose()
        raise StartupError(f"the database is {problem}: every move would be lost. Give the server a "
                           "database it can write (--db, or DATABASE_URL)")
    stored = store.setting(INSTRUCTOR_SETTING)
    replaced = (instructor_token is not None and stored is not None
                and not verify_token(instructor_token, stored))
    if instructor_token is None and stored is None:
        instructor_token = secrets.token_urlsafe(24)
    # A warm pool of RSA keys is ready before the first student arrives.
    pool = KeyPool(target=KEY_POOL_TARGET, kinds=(KeyKind.RSA_2048,), workers=2).start()
    await off_loop(pool.wait_until_full, 120)

    def rsa_key() -> rsa.RSAPrivateKey:
        key = pool.take(KeyKind.RSA_2048).key
        assert isinstance(key, rsa.RSAPrivateKey)  # the pool holds RSA keys only
        return key

    # With several processes (here, or --shared ones on other machines) on one PostgreSQL
    # database, every move is coordinated through it; one process alone needs none of that.
    shared = cluster.Postgres(store) if coordinated else cluster.Solo()
    game = GameServer(store, rng=secrets.token_bytes, now=_utcnow, key_source=rsa_key,
                      instructor_token=instructor_token,
                      reserve_keys=lambda count: pool.reserve(KeyKind.RSA_2048, count),
                      keys_ready=pool.wait_until_full, cluster=shared)
    shown_token = instructor_token
    del instructor_token  # the server keeps only the hash
    replayed = await off_loop(game.load)
    log.info("replayed %d stored tables", replayed)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    children: Workers | None = None
    collector: asyncio.Task[None] | None = None
    try:
        hub = Hub(game)
        loop = asyncio.get_running_loop()
        # Another process moved a table: catch it up and push the views to this process's seats.
        def told(table_id: int) -> None:  # on the listener's thread
            loop.call_soon_threadsafe(lambda: loop.create_task(hub.publish(table_id)))

        shared.listen(told)
        collector = loop.create_task(keep_collector())
        # The handler learns the bound port (for the join URL in QR codes) once listening.
        handler = make_handler(game, hub=hub, rate=rate, limits=limits, hello_deadline=hello_deadline)
        # No permessage-deflate: compressing every pushed view ran zlib on the event loop and
        # was the largest single cost under load (profiled with 20 tables); loopback and
        # classroom networks do not need it.
        async with serve(lambda connection: handler(connection), host, port,
                         process_request=http_handler(game, web_directory(), limits),
                         create_connection=limits.connection_class(), open_timeout=hello_deadline,
                         backlog=ACCEPT_BURST, ssl=tls, reuse_port=workers > 1 or worker,
                         max_size=FRAME_LIMIT, compression=None) as server:
            bound = next(iter(server.sockets)).getsockname()[1]
            if worker:  # started by the first process, which printed the addresses
                scheme = "https" if tls is not None else "http"
                handler = make_handler(game, public_url=public_base(host, bound, public_url, scheme)[0],
                                       hub=hub, rate=rate, limits=limits, hello_deadline=hello_deadline)
                log.info("worker %d serving on port %d", os.getpid(), bound)
                await stop.wait()
                return
            if workers > 1:
                children = Workers(worker_command(
                    host, bound, public_url=public_url, certfile=certfile, keyfile=keyfile, rate=rate,
                    hello_deadline=hello_deadline, per_address=per_address, max_connections=max_connections,
                    trusted_proxies=trusted_proxies), {"DATABASE_URL": db_url})
                children.start(workers - 1)
            base, note = public_base(host, bound, public_url, "https" if tls is not None else "http")
            handler = make_handler(game, public_url=base, hub=hub, rate=rate, limits=limits,
                                   hello_deadline=hello_deadline)
            ws_base = ("wss://" if base.startswith("https://") else "ws://") + base.split("://", 1)[1]
            print_urls(f"Handshake classroom server: {base}")
            if note:
                print_urls(f"Note: {note}")
            if public_url or note:
                listening = f"[{host}]" if ":" in host else host
                print_urls(f"Listening on {'https' if tls is not None else 'http'}://{listening}:{bound}/")
            print_urls(f"Students (join a class or play solo): {base}")
            print_urls(f"Websocket (bots and tools): {ws_base}ws")
            if shown_token is not None:
                if replaced:
                    print_urls("Note: this instructor token replaces the one before, which is refused "
                               "from now on; the classes are the same")
                # In the fragment: a browser never sends it to a server, nor in a Referer.
                print_urls(f"Instructor (keep this secret): {base}instructor.html#token={shown_token}")
            else:
                print_urls(f"Instructor: {base}instructor.html — with the token from the first start (only "
                           "its hash is kept; serve --instructor-token NEW replaces it)")
            del shown_token
            log.info("accepting at most %d connections (%d from one address)%s%s", limits.max_connections,
                     limits.per_address, f"; {workers} worker processes" if workers > 1 else "",
                     "; the client's address from X-Forwarded-For when the peer is " + ", ".join(
                         trusted_proxies) if trusted_proxies else "")
            await stop.wait()
    finally:
        if collector is not None:
            collector.cancel()
        if children is not None:
            await children.stop()
        shared.stop()
        pool.stop()
        store.dispose()


def worker_command(host: str, port: int, *, public_url: str | None, certfile: str | None,
                   keyfile: str | None, rate: float, hello_deadline: float, per_address: int | None,
                   max_connections: int | None, trusted_proxies: Sequence[str]) -> list[str]:
    """The command line of another server process on the same port (SO_REUSEPORT: the kernel
    shares the connections out), with the first one's options; it keeps the stored
    instructor token, and finds the database in ``DATABASE_URL`` (not on its command line,
    where ``ps`` would show the password)."""
    command = [sys.executable, "-m", "handshake_game", "serve", "--worker", "--host", host,
               "--port", str(port), "--rate-limit", str(rate), "--hello-timeout", str(hello_deadline)]
    command += ["--public-url", public_url] if public_url else []
    command += ["--certfile", certfile] if certfile else []
    command += ["--keyfile", keyfile] if keyfile else []
    command += ["--max-per-address", str(per_address)] if per_address else []
    command += ["--max-connections", str(max_connections)] if max_connections else []
    for proxy in trusted_proxies:
        command += ["--trusted-proxy", proxy]
    return command


# A worker that dies is replaced: at once after a long run, else after a pause that doubles
# with each death in a row soon after its start (one that cannot start must not loop hot).
RESTART_PAUSE = 1.0  # seconds before the first restart after an early death
RESTART_PAUSE_MAX = 60.0
RAN_LONG = 30.0  # seconds: a worker that ran this long did not die of its start
# Its own logger: the server's throttles repeated warnings, and each restart gets its line.
workers_log = logging.getLogger("handshake_game.server.workers")


def restart_pause(early_deaths: int) -> float:
    """Seconds to wait before replacing a worker, after ``early_deaths`` early deaths in a row."""
    if early_deaths <= 0:
        return 0.0
    return float(min(RESTART_PAUSE_MAX, RESTART_PAUSE * 2 ** (early_deaths - 1)))


class Workers:
    """The first process's ``--worker`` children, each kept running until :meth:`stop`: one
    that dies (killed, crashed) is replaced with one log line. ``sleep`` and ``clock`` are
    asyncio's and the monotonic clock, passed in for tests."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.command = list(command)
        self.env = {**os.environ, **(env or {})}
        self.sleep, self.clock = sleep, clock
        self.processes: dict[int, asyncio.subprocess.Process] = {}  # by slot: the one running now
        self.started = 0  # processes started, replacements included
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._keep(slot)) for slot in range(count)]

    async def _keep(self, slot: int) -> None:
        early_deaths = 0
        while True:
            began = self.clock()
            try:
                child = await asyncio.create_subprocess_exec(*self.command, env=self.env,
                                                             stdout=asyncio.subprocess.DEVNULL)
            except OSError as error:
                ended = f"could not start ({error.strerror or type(error).__name__})"
            else:
                self.processes[slot] = child
                self.started += 1
                status = await child.wait()
                ended = (f"{child.pid} was killed by {signal.Signals(-status).name}" if status < 0
                         else f"{child.pid} exited with status {status}")
            early_deaths = early_deaths + 1 if self.clock() - began < RAN_LONG else 0
            pause = restart_pause(early_deaths)
            workers_log.warning("worker %s; starting another%s", ended, f" in {pause:g} s" if pause else "")
            await self.sleep(pause)

    async def stop(self, timeout: float = 10.0) -> None:
        """No more replacements; each worker is asked to stop (SIGTERM), and killed after
        ``timeout`` seconds."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = [child for child in self.processes.values() if child.returncode is None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        for child in running:
            try:
                await asyncio.wait_for(child.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
