"""The game server's core, without websockets: live tables in memory, backed by the store.

Rules:

* A table lives in memory as its folded state plus the length of its stored log. Every
  change is decided (``game.decide``), appended to the store with the expected log
  position, and only then applied and acknowledged: a crash loses nothing acknowledged.
* A player acts only through the token issued when seated, and only for that seat.
* Bots play every seat no human holds, until a human must move or the table ends.
* On start every stored table is replayed, so a restart continues where it stopped.
* Class sessions: the instructor (holding the server's instructor token) creates one;
  students join with its code and are seated in tables of four in join order (client,
  server, CA, eavesdropper). A class table is opened paused, so nobody moves before the
  instructor starts; start fills the empty seats with bots and resumes every table. Every
  instructor action is checked against the session's instructor token (only its hash is
  stored, compared in constant time) and its facts are stored before it is acknowledged.

Methods are blocking (the store is synchronous, RSA work is CPU): the websocket adapter
calls them through ``asyncio.to_thread``. One lock per table keeps a table's moves serial.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from .. import game, lessons
from ..bots.players import house_bot
from ..game import (
    Referee,
    Rejected,
    TableState,
    apply,
    decide,
    finish_table,
    in_the_dark,
    leak_server_key,
    menu,
    open_table,
    view,
    visible_steps,
    workbench,
)
from ..game import actions as a
from ..game.catalog import rsa_keys_needed
from ..game.facts import Fact, ScenarioInjected, StepDone, TableOpened, TableResumed
from ..game.fold import initial_state
from ..game.instructor import attack_started, seat_record
from ..game.model import Difficulty, Scenario, Seat, Variant
from ..game.predictions import predictions
from ..store import Store
from ..store.repository import hash_token, verify_token
from . import cluster as cluster_
from . import sessions

log = logging.getLogger("handshake_game.server")

class GameError(Exception):
    """A request the game server refuses. ``code`` goes on the wire, ``message`` to the player."""

    code = "game_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownTable(GameError):
    code = "unknown_table"


class BadToken(GameError):
    code = "bad_token"


class WrongSeat(GameError):
    code = "wrong_seat"


class MoveRejected(GameError):
    """The referee refused the move (``game.Rejected``): its reason is a teaching text, and
    its code (``game.Code``: out_of_turn, not_allowed, bad_input, paused, …) goes on the
    wire as it is."""

    code = "not_allowed"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @classmethod
    def of(cls, rejected: Rejected) -> MoveRejected:
        return cls(rejected.reason, rejected.code.value)


class NotInstructor(GameError):
    code = "bad_instructor_token"


class UnknownSession(GameError):
    code = "unknown_session"


class SessionEnded(GameError):
    code = "session_ended"


class AlreadyStarted(GameError):
    code = "already_started"


class NotStarted(GameError):
    code = "not_started"


class UnknownLesson(GameError):
    code = "unknown_lesson"


class UnknownPlayer(GameError):
    code = "unknown_player"


class BadName(GameError):
    code = "bad_name"


def _player_name(name: str) -> str:
    cleaned = sessions.clean_name(name)
    if not cleaned:
        raise BadName("a name needs at least one visible character")
    return cleaned


@dataclass(frozen=True)
class Reseat:
    """A player the instructor moved: from one seat of the class to another."""

    player_id: int
    table_id: int
    seat: Seat
    to_table_id: int
    to_seat: Seat


DEFAULT_STUCK_AFTER = 90  # seconds without a move before a student whose turn it is is flagged


@dataclass
class LiveTable:
    table_id: int
    state: TableState
    seq: int  # length of the stored log: where the next fact goes
    humans: dict[Seat, int]  # seat -> player id
    lock: threading.Lock = field(default_factory=threading.Lock)
    # When the table last changed (a move, a bot's, a pause…), when the current turn began
    # (the last step done, or the table resumed), when a scenario was last injected, and how
    # long each step took its seat: the dashboard's stuck flag and timing figures.
    last_change: datetime.datetime | None = None
    turn_started: datetime.datetime | None = None
    injected_at: datetime.datetime | None = None
    step_seconds: list[tuple[str, Seat, float]] = field(default_factory=list)

    def timed(self, before: TableState, facts: list[Fact], when: datetime.datetime) -> None:
        """Notes what ``facts`` (stored at ``when``) did to the table's clock. A hint or a quiz
        answer is not a move: the turn's time runs on; a pause does not count."""
        step = before.current_step
        if any(isinstance(f, StepDone) for f in facts):
            if step is not None and self.turn_started is not None:
                took = max(0.0, (when - self.turn_started).total_seconds())
                self.step_seconds.append((step.id, step.seat, took))
            self.turn_started = when
        if self.turn_started is None or any(isinstance(f, TableResumed) for f in facts):
            self.turn_started = when
        if any(isinstance(f, ScenarioInjected) for f in facts):
            self.injected_at = when
        self.last_change = when


@dataclass(frozen=True)
class SeatedPlayer:
    table_id: int
    seat: Seat
    token: str
    view: dict[str, Any]
    class_session_id: int | None = None
    player_id: int | None = None


@dataclass
class Round:
    """One round of a class: what its tables play, its tables in opening order, and whether
    the instructor started it."""

    number: int
    variant: Variant
    scenario: Scenario
    difficulty: Difficulty
    table_ids: list[int] = field(default_factory=list)
    started: bool = False


@dataclass
class ClassRoom:
    """A class session in memory: its rounds (the last is the current one: what its tables
    play, its tables in join order, whether it started), and whether the class has ended."""

    class_session_id: int
    join_code: str
    rounds: list[Round]
    ended: bool = False
    stuck_after: int = DEFAULT_STUCK_AFTER
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def current(self) -> Round:
        return self.rounds[-1]

    @property
    def variant(self) -> Variant:
        return self.current.variant

    @property
    def scenario(self) -> Scenario:
        return self.current.scenario

    @property
    def difficulty(self) -> Difficulty:
        return self.current.difficulty

    @property
    def table_ids(self) -> list[int]:
        return self.current.table_ids

    @property
    def started(self) -> bool:
        return self.current.started

    def round_of(self, table_id: int) -> Round | None:
        return next((r for r in self.rounds if table_id in r.table_ids), None)

    def all_table_ids(self) -> list[int]:
        return [table_id for r in self.rounds for table_id in r.table_ids]


SEATING_ORDER = (Seat.CLIENT, Seat.SERVER, Seat.CA, Seat.EAVESDROPPER)
INSTRUCTOR_SETTING = "instructor_token_hash"
KEYS_READY_TIMEOUT = 60.0  # seconds ``start`` waits at most for the class's keys


class GameServer:
    def __init__(self, store: Store, *, rng: Callable[[int], bytes],
                 now: Callable[[], datetime.datetime],
                 key_source: Callable[[], rsa.RSAPrivateKey],
                 instructor_token: str | None = None,
                 reserve_keys: Callable[[int], None] | None = None,
                 keys_ready: Callable[[float], bool] | None = None,
                 cluster: cluster_.Solo | None = None) -> None:
        self.store = store
        # Other processes on the same PostgreSQL database (cluster.Postgres), or none.
        self.cluster = cluster or cluster_.Solo()
        # Told how many RSA keys a newly opened class table will take, so a warm pool can
        # make them while students are still joining instead of when the class starts.
        self._reserve_keys = reserve_keys or (lambda count: None)
        # Waits (up to the seconds given) until the reserved keys are made: ``start`` uses it,
        # so a big class does not begin by making hundreds of RSA keys between moves.
        self._keys_ready = keys_ready or (lambda timeout: True)
        self._token_hashes: dict[int, str] = {}
        # Only the hash of the server's instructor token is kept, in the store, so that the
        # instructor's identity (and every class it made) survives a restart. A token given
        # at start replaces the stored one, which is refused from then on.
        stored = store.setting(INSTRUCTOR_SETTING)
        self._instructor_hash = stored
        if instructor_token is not None and (stored is None or not verify_token(instructor_token, stored)):
            self._instructor_hash = hash_token(instructor_token)
            store.set_setting(INSTRUCTOR_SETTING, self._instructor_hash)
            log.info("instructor token %s", "set" if stored is None else "replaced: the old one is refused")
        self._classes: dict[int, ClassRoom] = {}
        self._classes_lock = threading.Lock()
        # With other processes: the classes another process changed since this one read them
        # (read again when next needed), and the class each table belongs to (it never changes).
        self._stale_classes: set[int] = set()
        self._stale_seats: set[int] = set()  # tables whose seats another process changed
        self._behind: set[int] = set()  # tables another process moved since this one caught up
        self._table_class: dict[int, int | None] = {}
        self.cluster.on_class(self._stale_classes.add)
        self.cluster.on_seats(self._stale_seats.add)
        self.cluster.on_table(self._behind.add)
        self.cluster.on_lost_word(self._doubt_everything)
        self._names: dict[int, str] = {}
        self.now = now
        self.referee = Referee(rng=rng, now=now, rsa_keys=key_source)
        self._tables: dict[int, LiveTable] = {}
        self._tables_lock = threading.Lock()

    # -- start -------------------------------------------------------------------------------

    def load(self) -> int:
        """Replay every stored table into memory; returns how many. Bots that owed a move when
        the server stopped make it now."""
        for record in self.store.tables():
            assert record.id is not None
            try:
                table = self._load_table(record.id)
                with self._moving(table):
                    self._play_bots(table)
            except Exception as error:  # one table the game can no longer replay: the others play on
                log.error("table %d could not be replayed (%s): left stored, not loaded", record.id,
                          type(error).__name__)
                with self._tables_lock:
                    self._tables.pop(record.id, None)
                continue
            log.info("table %d replayed at step %s", record.id, _step_name(table.state))
        return len(self._tables)

    def _load_table(self, table_id: int) -> LiveTable:
        """A stored table into memory (kept once there): its facts replayed one at a time with
        the time each was stored (the table's clock), its humans from the seat rows."""
        facts = sessions.timed_facts(self.store, table_id)
        if not facts:
            raise UnknownTable(f"no table {table_id}")
        opened = facts[0][0]
        assert isinstance(opened, TableOpened)
        table = LiveTable(table_id, initial_state(opened), len(facts), self._humans(table_id))
        for fact, when in facts:
            after = apply(table.state, fact)
            table.timed(table.state, [fact], when)
            table.state = after
        with self._tables_lock:
            return self._tables.setdefault(table_id, table)

    @contextlib.contextmanager
    def _reading(self, table: LiveTable, seats: bool = False) -> Iterator[None]:
        """The table, held in this process and caught up with what other processes stored
        (with ``seats``, who sits where read from the store whatever this process was told)."""
        with table.lock:
            self._catch_up(table, seats, reading=True)
            yield

    @contextlib.contextmanager
    def _moving(self, table: LiveTable, seats: bool = False) -> Iterator[None]:
        """The table, held in this process and (on PostgreSQL) in every other, caught up from
        the log; the other processes are told once what this move stored is committed. With
        ``seats`` (to seat or unseat someone, or to give the empty seats to bots) who sits where
        is read from the store: word of another process's seating may still be on its way."""
        with table.lock, self.cluster.table_lock(table.table_id) as held:
            self._catch_up(table, seats)
            before, humans = table.seq, dict(table.humans)
            try:
                yield
            finally:
                if table.seq != before or table.humans != humans:
                    held.table_changed(table.table_id, seats=table.humans != humans)

    def _catch_up(self, table: LiveTable, seats: bool = False, reading: bool = False) -> None:
        """Facts another process appended since this one last looked, and who sits where if
        another process said it seated someone there (``cluster``: a table's seats change
        only under its lock, and that process tells the others). To read, the log is asked
        only when another process said it moved the table (its word comes within
        milliseconds, and the views it brings are pushed then); to move, always: under the
        table's lock the log is the truth."""
        if not self.cluster.shared:
            return
        if reading and table.table_id not in self._behind and not seats \
                and table.table_id not in self._stale_seats:
            return
        self._behind.discard(table.table_id)  # before reading: later word marks it again
        facts = sessions.timed_facts(self.store, table.table_id, since=table.seq)
        for fact, when in facts:
            after = apply(table.state, fact)
            table.timed(table.state, [fact], when)
            table.state = after
        table.seq += len(facts)
        if seats or table.table_id in self._stale_seats:
            table.humans = self._humans(table.table_id)

    def _doubt_everything(self) -> None:
        """Word from the other processes may have been lost (the listening connection broke):
        every table and class in memory is read from the store again when next needed."""
        with self._tables_lock:
            self._behind.update(self._tables)
            self._stale_seats.update(self._tables)
        with self._classes_lock:
            self._stale_classes.update(self._classes)

    def _humans(self, table_id: int) -> dict[Seat, int]:
        """Who sits where at the table, from the store."""
        self._stale_seats.discard(table_id)  # before reading: a later change marks it again
        return {seat: row.player_id for seat, row in self.store.seats(table_id).items()
                if row.player_id is not None}

    @contextlib.contextmanager
    def _class_lock(self, room: ClassRoom) -> Iterator[None]:
        """The class, held here and (on PostgreSQL) in every process, refreshed from the store;
        the other processes are told afterwards that their copy is stale."""
        with room.lock, self.cluster.class_lock(room.class_session_id) as held:
            if self.cluster.shared:
                self.class_room(room.class_session_id, refresh=True)  # refreshes ``room`` in place
            try:
                yield
            finally:
                held.class_changed(room.class_session_id)

    # -- requests ----------------------------------------------------------------------------

    def solo(self, variant: Variant, scenario: Scenario, difficulty: Difficulty, seat: Seat,
             name: str) -> SeatedPlayer:
        """Open a table for one human at ``seat``; bots take the other seats and play up to the
        human's first turn."""
        try:
            state, facts = open_table(variant, scenario, difficulty)
        except Rejected as error:
            raise MoveRejected.of(error) from None
        name = _player_name(name)
        opened = facts[0]
        assert isinstance(opened, TableOpened) and len(facts) == 1
        table_id = self.store.create_table(opened)
        player, token = self.store.create_player(name)
        assert player.id is not None
        self._token_hashes[player.id] = player.reconnect_token_hash
        self.store.assign_seat(table_id, seat, player_id=player.id)
        for other in Seat:
            if other is not seat:
                self.store.assign_seat(table_id, other, bot_kind=_bot_kind(other))
        table = LiveTable(table_id, state, self.store.next_seq(table_id), {seat: player.id})
        log.info("table %d opened: %s %s %s, player %d at %s", table_id, variant.value, scenario.value,
                 difficulty.value, player.id, seat.value)
        with table.lock:
            with self._tables_lock:
                self._tables[table_id] = table
            self._play_bots(table)
            return SeatedPlayer(table_id, seat, token, self._view(table, seat), player_id=player.id)

    def move(self, table_id: int, token: str, action: a.Action, seat: Seat | None = None) -> dict[str, Any]:
        """The token holder's move at its seat; returns its view after the bots answered."""
        table = self._table(table_id)
        with self._moving(table):
            own = self._authenticate(table, token)
            if seat is not None and seat is not own:
                raise WrongSeat(f"your seat at table {table_id} is the {own.value}, not the {seat.value}")
            try:
                facts = decide(table.state, own, action, self.referee)
            except Rejected as error:
                raise MoveRejected.of(error) from None
            self._record(table, facts, f"{own.value} {type(action).__name__}")
            self._play_bots(table)
            return self._view(table, own)

    def resume(self, table_id: int, token: str) -> tuple[Seat, dict[str, Any]]:
        """The token holder's seat and view (after a reconnect or a server restart), from the
        log itself: the student may come from a process that died a moment ago."""
        table = self._table(table_id)
        with self._reading(table, seats=True):
            own = self._authenticate(table, token)
            return own, self._view(table, own)

    def state(self, table_id: int) -> TableState:
        return self._table(table_id).state

    def seat_view(self, table_id: int, seat: Seat) -> dict[str, Any]:
        """What ``seat`` sees now (for live updates to the connections holding it)."""
        return self.seat_views(table_id, [seat])[seat]

    def seat_views(self, table_id: int, seats: Iterable[Seat]) -> dict[Seat, dict[str, Any]]:
        """What each of ``seats`` sees now, from one look at the table."""
        table = self._table(table_id)
        with self._reading(table):
            return {seat: self._view(table, seat) for seat in seats}

    # -- class sessions ------------------------------------------------------------------------

    def create_session(self, token: str, variant: Variant, scenario: Scenario,
                       difficulty: Difficulty) -> ClassRoom:
        """A new class session; ``token`` must be the server's instructor token."""
        self.check_instructor(token)
        try:
            open_table(variant, scenario, difficulty)  # refuse a combination the game cannot stage
        except Rejected as error:
            raise MoveRejected.of(error) from None
        record, _ = self.store.create_class_session(variant, scenario, difficulty, instructor_token=token)
        assert record.id is not None
        sessions.add_round(self.store, record.id, 1, variant.value, scenario.value, difficulty.value)
        room = ClassRoom(record.id, record.join_code, [Round(1, variant, scenario, difficulty)])
        with self._classes_lock:
            self._classes[record.id] = room
        log.info("class session %d created: %s %s %s", record.id, variant.value, scenario.value,
                 difficulty.value)
        return room

    def join(self, join_code: str, name: str) -> SeatedPlayer:
        """Seat a student at the next free seat of the class's last table, or at a new table.
        After the start a late student gets a table of their own, bots in the other seats."""
        name = _player_name(name)
        code = join_code.strip().upper()
        # Join codes are letters and digits; anything else names no class (and never reaches
        # the database: PostgreSQL refuses a NUL in a string).
        record = self.store.class_session_by_code(code) if code.isascii() and code.isalnum() else None
        if record is None or record.id is None:
            raise UnknownSession("no class session has that join code")
        room = self.class_room(record.id)
        # The class is held for the seating only: a class of hundreds joining at once waits on
        # this lock (in every process, on PostgreSQL), so the joiner's view is built after it.
        with self._class_lock(room):
            if room.ended:
                raise SessionEnded("this class session has ended")
            # Two students typing the same name are told apart on the dashboard and the export.
            name = sessions.unique_name(name, sessions.class_player_names(self.store, room.class_session_id))
            table = self._table(room.table_ids[-1]) if room.table_ids else None
            full = False
            if table is not None and not room.started:
                with self._reading(table, seats=True):  # who sits there now, whichever process seated them
                    full = len(table.humans) >= len(SEATING_ORDER)
            if table is None or room.started or full:
                table = self._open_class_table(room)
            with self._moving(table, seats=True):
                seat = next((s for s in SEATING_ORDER if s not in table.humans), None)
                if seat is None:  # (the class lock keeps every other joiner out: never expected)
                    raise RuntimeError(f"table {table.table_id} filled up under the class lock")
                player, token = self.store.create_player(name, room.class_session_id)
                assert player.id is not None
                self._token_hashes[player.id] = player.reconnect_token_hash
                self.store.assign_seat(table.table_id, seat, player_id=player.id)
                table.humans[seat] = player.id
                self._names[player.id] = name
                log.info("class %d: player %d joins table %d at %s", room.class_session_id, player.id,
                         table.table_id, seat.value)
                if room.started:
                    self._fill_with_bots(table)
                    self._play_bots(table)
        with self._reading(table):
            return SeatedPlayer(table.table_id, seat, token, self._view(table, seat),
                                room.class_session_id, player.id)

    def keys_ready(self) -> bool:
        """Whether every RSA key the open tables reserved is made (no waiting)."""
        return self._keys_ready(0)

    def start(self, class_session_id: int, token: str, wait_for_keys: bool = True) -> list[int]:
        """Bots take every empty seat, and every table starts playing. With ``wait_for_keys``
        it first waits (at most ``KEYS_READY_TIMEOUT``) for the class's keys; the websocket
        edge waits without holding a worker thread, and passes False."""
        room = self._instructor(class_session_id, token)
        if wait_for_keys and not self._keys_ready(KEYS_READY_TIMEOUT):
            log.warning("class %d starts before all its RSA keys are made", class_session_id)
        with self._class_lock(room):
            if room.ended:
                raise SessionEnded("this class session has ended")
            if room.started:
                raise AlreadyStarted("the class has already started")
            for table_id in room.table_ids:
                table = self._table(table_id)
                with self._moving(table, seats=True):  # bots take the seats nobody holds
                    self._fill_with_bots(table)
                    if table.state.paused:
                        self._record(table, game.resume(table.state), "instructor starts")
                    self._play_bots(table)
            sessions.mark_started(self.store, class_session_id, self.now())
            sessions.mark_round_started(self.store, class_session_id, room.rounds[-1].number, self.now())
            room.current.started = True
            log.info("class %d started", class_session_id)
            return list(room.table_ids)

    def pause(self, class_session_id: int, token: str, table_id: int | None = None,
              table_ids: list[int] | None = None) -> list[int]:
        """Pause one table, a selection, or every table still playing."""
        return self._each_table(class_session_id, token, table_id, self._pause_one, table_ids)

    def resume_tables(self, class_session_id: int, token: str, table_id: int | None = None,
                      table_ids: list[int] | None = None) -> list[int]:
        """Resume one paused table, a selection, or every paused table; bots then play on."""
        room = self._instructor(class_session_id, token)
        if not room.started:
            raise NotStarted("start the class first")
        return self._each_table(class_session_id, token, table_id, self._resume_one, table_ids)

    def inject(self, class_session_id: int, token: str, table_id: int | None, scenario: Scenario,
               table_ids: list[int] | None = None) -> list[int]:
        """Inject ``scenario`` at one table (a refusal is an error), a selection or every table
        (tables past the point where the attack would begin are skipped)."""
        def inject_one(table: LiveTable, one: bool) -> bool:
            try:
                facts = game.inject_scenario(table.state, scenario)
            except Rejected:
                if one:
                    raise
                return False
            self._record(table, facts, f"instructor injects {scenario.value}")
            self._play_bots(table)
            return True

        return self._each_table(class_session_id, token, table_id, inject_one, table_ids)

    def leak_key(self, class_session_id: int, token: str, table_id: int | None,
                 table_ids: list[int] | None = None) -> list[int]:
        def leak_one(table: LiveTable, one: bool) -> bool:
            try:
                facts = leak_server_key(table.state)
            except Rejected:
                if one:
                    raise
                return False
            self._record(table, facts, "instructor leaks the server key")
            self._play_bots(table)
            return True

        return self._each_table(class_session_id, token, table_id, leak_one, table_ids)

    def next_round(self, class_session_id: int, token: str, variant: Variant, scenario: Scenario,
                   difficulty: Difficulty) -> tuple[list[int], list[Reseat]]:
        """A new round for the same students: one new table per table of the round before,
        waiting for the start, with every player moved one seat on (client to server, server
        to CA, CA to eavesdropper, eavesdropper to client)."""
        room = self._instructor(class_session_id, token)
        try:
            open_table(variant, scenario, difficulty)  # refuse a combination the game cannot stage
        except Rejected as error:
            raise MoveRejected.of(error) from None
        with self._class_lock(room):
            if room.ended:
                raise SessionEnded("this class session has ended")
            if not room.started:
                raise NotStarted("start this round before opening the next")
            previous = list(room.table_ids)
            number = room.rounds[-1].number + 1
            sessions.add_round(self.store, class_session_id, number, variant.value, scenario.value,
                               difficulty.value)
            room.rounds.append(Round(number, variant, scenario, difficulty))
            moved: list[Reseat] = []
            for old_id in previous:
                old = self._table(old_id)
                with self._reading(old, seats=True):
                    humans = dict(old.humans)
                if not humans:
                    continue
                table = self._open_class_table(room)
                with self._moving(table):
                    for seat, after in zip(SEATING_ORDER, SEATING_ORDER[1:] + SEATING_ORDER[:1], strict=True):
                        if seat in humans:
                            self._seat(room, table, after, humans[seat])
                            moved.append(Reseat(humans[seat], old_id, seat, table.table_id, after))
        log.info("class %d: round %d opened: %s %s %s, tables %s", class_session_id, number, variant.value,
                 scenario.value, difficulty.value, room.table_ids)
        return list(room.table_ids), moved

    def settings(self, class_session_id: int, token: str, stuck_after: int) -> None:
        room = self._instructor(class_session_id, token)
        sessions.set_stuck_after(self.store, class_session_id, stuck_after)
        room.stuck_after = stuck_after
        self.cluster.notify_class(class_session_id)
        log.info("class %d: a student is stuck after %d s", class_session_id, stuck_after)

    def classes(self, token: str) -> list[dict[str, Any]]:
        """Every class session, newest first, with its date, rounds, tables and students."""
        self.check_instructor(token)
        out = []
        for record in sessions.class_sessions(self.store):
            assert record.id is not None
            out.append({"class_session_id": record.id, "join_code": record.join_code,
                        "created_at": record.created_at.isoformat(), "ended": record.ended_at is not None,
                        "rounds": max(1, len(sessions.rounds(self.store, record.id))),
                        "tables": len(self.store.tables(record.id)),
                        "students": len(sessions.class_player_names(self.store, record.id)),
                        "variant": record.variant, "scenario": record.scenario})
        return out

    def students(self, room: ClassRoom) -> list[dict[str, Any]]:
        """The current round's students, each with its record here and its points in all rounds."""
        totals: dict[int, int] = {}
        for table_id in room.all_table_ids():
            table = self._table(table_id)
            for seat, player_id in table.humans.items():
                totals[player_id] = totals.get(player_id, 0) + table.state.scores[seat]
        out = []
        for number, table_id in enumerate(list(room.table_ids), start=1):
            table = self._table(table_id)
            for seat in SEATING_ORDER:
                held = table.humans.get(seat)
                if held is None:
                    continue
                out.append({"player_id": held, "name": self._names.get(held, "?"),
                            "table_id": table_id, "number": number, "seat": seat.value,
                            **_seat_figures(table, seat), "points_total": totals.get(held, 0)})
        return out

    def student(self, class_session_id: int, token: str, player_id: int) -> dict[str, Any]:
        """One student's detail over every round: each table's record, and each step it played
        with the time it took and the referee's verdict."""
        room = self._instructor(class_session_id, token)
        self._learn_names([player_id])
        rounds = []
        for played in room.rounds:
            for number, table_id in enumerate(played.table_ids, start=1):
                table = self._table(table_id)
                seat = next((s for s, p in table.humans.items() if p == player_id), None)
                if seat is None:
                    continue
                seconds = {step: took for step, who, took in table.step_seconds if who is seat}
                steps = [{"step": v.step, "ok": v.ok, "points": v.points, "reason": v.reason,
                          "seconds": seconds.get(v.step)}
                         for v in table.state.verdicts if v.seat is seat]
                rounds.append({"round": played.number, "table_id": table_id, "number": number,
                               "seat": seat.value, **_seat_figures(table, seat), "steps": steps})
        if not rounds:
            raise UnknownPlayer(f"no student {player_id} in class session {class_session_id}")
        return {"player_id": player_id, "name": self._names.get(player_id, "?"), "rounds": rounds}

    def reveal(self, class_session_id: int, token: str, table_id: int) -> dict[str, Any]:
        """The debrief of one table (``game.reveal``): every wallet, secrets included."""
        self._instructor(class_session_id, token)
        table = self._class_table(class_session_id, table_id)
        with self._moving(table):
            if not table.state.revealed:
                self._record(table, game.reveal_debrief(table.state), "debrief shown to the seats")
            return game.reveal(table.state)

    def end(self, class_session_id: int, token: str) -> list[int]:
        """End the class: no more joins, and every table still playing is paused."""
        room = self._instructor(class_session_id, token)
        with self._class_lock(room):
            if not room.ended:
                sessions.mark_ended(self.store, class_session_id, self.now())
                log.info("class %d ended", class_session_id)
            room.ended = True
        return self._each_table(class_session_id, token, None, self._pause_one)

    def dashboard(self, class_session_id: int, token: str) -> list[dict[str, Any]]:
        room = self._instructor(class_session_id, token)
        return [self.table_entry(table_id) for table_id in list(room.table_ids)]

    def table_entry(self, table_id: int) -> dict[str, Any]:
        """One table as the instructor's dashboard shows it (no wallets: see ``reveal``)."""
        table = self._table(table_id)
        with self._reading(table):
            state, humans = table.state, dict(table.humans)
            figures = {seat: _seat_figures(table, seat) for seat in humans}
            last_change, turn_started, injected_at = table.last_change, table.turn_started, table.injected_at
        self._learn_names(humans.values())
        room = self._room_of(table_id)
        played = room.round_of(table_id) if room is not None else None
        seats: dict[str, dict[str, Any] | None] = {}
        for seat in SEATING_ORDER:
            if seat in humans:
                seats[seat.value] = {"player": self._names.get(humans[seat], "?"), "player_id": humans[seat],
                                     **figures[seat]}
            elif room is None or (played.started if played is not None else room.started):
                seats[seat.value] = {"bot": _bot_kind(seat)}
            else:
                seats[seat.value] = None
        step = state.current_step
        now = self.now()
        stuck_after = room.stuck_after if room is not None else DEFAULT_STUCK_AFTER
        idle = (now - turn_started).total_seconds() if turn_started is not None else 0.0
        # A student whose turn it is and who has not moved for a while (bots never are).
        stuck = ({"seat": step.seat.value, "player": self._names.get(humans[step.seat], "?"),
                  "seconds": int(idle)}
                 if step is not None and step.seat in humans and not state.paused and idle >= stuck_after
                 else None)
        # An injected attack whose eavesdropper has not moved since (or never will: the table ended).
        waited = int((now - injected_at).total_seconds()) if injected_at is not None else 0
        pending = None if attack_started(state) else {"scenario": state.scenario.value, "seconds": waited}
        alerts = game.alerts(state)
        overdue = pending is not None and (state.over or waited >= stuck_after)
        trouble = (3 if stuck is not None else 2 if state.attack_succeeded or overdue
                   else 1 if state.failed is not None or pending is not None or alerts else 0)
        return {
            "table_id": table_id,
            "number": played.table_ids.index(table_id) + 1 if played is not None else None,
            "round": played.number if played is not None else None,
            "variant": state.variant.value,
            "difficulty": state.difficulty.value,
            "last_move_at": last_change.isoformat() if last_change is not None else None,
            "stuck": stuck,
            "attack_pending": pending,
            "trouble": trouble,
            "step": step.id if step else None,
            "turn": step.seat.value if step else None,
            "steps_done": state.step_index,
            "steps_total": len(state.steps),
            "scenario": state.scenario.value,
            "paused": state.paused,
            "completed": state.completed,
            "failed": None if state.failed is None else {"seat": state.failed.seat.value,
                                                         "check": state.failed.check,
                                                         "reason": state.failed.reason},
            "detected_by": state.detected_by,
            "attack_succeeded": state.attack_succeeded,
            "outcome": {"kind": state.outcome[0], "text": state.outcome[1]},
            "scores": {s.value: points for s, points in state.scores.items()},
            "seats": seats,
            "ladder": game.ladder(state),
            "alerts": alerts,
        }

    def move_seat(self, class_session_id: int, token: str, table_id: int, seat: Seat,
                  to_table_id: int, to_seat: Seat) -> tuple[list[int], list[Reseat]]:
        """Swap the occupants of two seats of the class (a player, a bot, or nobody before the
        start). A moved player keeps their token; the seat's wallet and turn stay with the seat."""
        room = self._instructor(class_session_id, token)
        first, second = self._class_table(class_session_id, table_id), self._class_table(class_session_id,
                                                                                          to_table_id)
        if first is second and seat is to_seat:
            raise MoveRejected("that is the same seat")
        with self._class_lock(room):
            tables = sorted({first.table_id: first, second.table_id: second}.items())
            guards = contextlib.ExitStack()
            for _, table in tables:
                guards.enter_context(self._moving(table, seats=True))
            try:
                one, other = first.humans.get(seat), second.humans.get(to_seat)
                if one is None and other is None:
                    raise MoveRejected("neither seat has a player to move")
                self._seat(room, first, seat, other)
                self._seat(room, second, to_seat, one)
                moved = []
                if one is not None:
                    moved.append(Reseat(one, first.table_id, seat, second.table_id, to_seat))
                if other is not None:
                    moved.append(Reseat(other, second.table_id, to_seat, first.table_id, seat))
                for _, table in tables:
                    self._play_bots(table)
            finally:
                guards.close()
        for move in moved:
            log.info("class %d: player %d moved from table %d %s to table %d %s", class_session_id,
                     move.player_id, move.table_id, move.seat.value, move.to_table_id, move.to_seat.value)
        return [t for t, _ in tables], moved

    def rotate_seats(self, class_session_id: int, token: str,
                     table_id: int | None = None) -> tuple[list[int], list[Reseat]]:
        """Every player at the table (or at every table) moves one seat on, in seating order:
        client -> server -> CA -> eavesdropper -> client."""
        room = self._instructor(class_session_id, token)
        ids = list(room.table_ids) if table_id is None else [table_id]
        tables = [self._class_table(class_session_id, one) for one in ids]
        moved: list[Reseat] = []
        changed = []
        with self._class_lock(room):
            for table in tables:
                with self._moving(table, seats=True):
                    if not table.humans:
                        continue
                    before = dict(table.humans)
                    for seat, after in zip(SEATING_ORDER, SEATING_ORDER[1:] + SEATING_ORDER[:1], strict=True):
                        self._seat(room, table, after, before.get(seat))
                        if seat in before:
                            moved.append(Reseat(before[seat], table.table_id, seat, table.table_id, after))
                    self._play_bots(table)
                    changed.append(table.table_id)
        log.info("class %d: seats rotated at tables %s", class_session_id, changed)
        return changed, moved

    def quiz_answer(self, table_id: int, token: str, lesson_id: str, question: int,
                    choice: int) -> tuple[bool, str]:
        """Check one quiz answer of a card this seat was offered at this table, store it in the
        player's lesson progress, and score the seat's first answer at the table."""
        table = self._table(table_id)
        with self._moving(table):
            seat = self._authenticate(table, token)
            player_id = table.humans[seat]
            card = self._offered_card(table, seat, lesson_id)
            asked = _questions(table.state, seat, card)
            if question >= len(asked) or choice >= len(asked[question].choices):
                raise UnknownLesson(f"lesson {lesson_id} has no question {question} with a choice {choice}")
            # ``choice`` is the position the seat saw: its table's own order of the choices.
            chosen = quiz_order(table_id, seat, lesson_id, question, len(asked[question].choices))[choice]
            correct = chosen == asked[question].correct
            progress = self.store.lesson_progress(player_id).get(lesson_id)
            results = json.loads(progress.quiz_results) if progress is not None else {}
            # A card's own question is the same at every table: only the player's first answer
            # ever counts. A prediction is built on this table's values: its first answer here.
            key = str(question) if question < len(card.quiz) else f"table {table_id} #{question}"
            first = results.get(key, {}).get("first_correct")
            results[key] = {"choice": chosen, "correct": correct,
                            "first_correct": correct if first is None else first}
            done = all(results.get(str(i), {}).get("correct") for i in range(len(card.quiz)))
            self.store.save_lesson_progress(player_id, lesson_id, results, done)
            scored = game.score_quiz(table.state, seat, lesson_id, question, correct) if first is None else []
            if scored:
                self._record(table, scored, f"{seat.value} quiz {lesson_id} #{question}")
            return correct, asked[question].explanation

    def read_card(self, table_id: int, token: str, lesson_id: str) -> dict[str, Any]:
        """A further-reading card (or any card this seat was offered here), filled from its view."""
        table = self._table(table_id)
        with self._reading(table):
            seat = self._authenticate(table, token)
            card = self._offered_card(table, seat, lesson_id)
            seen = view(table.state, seat, self.now(), dissect=True, revealed=table.state.revealed)
            return _card_payload(table.state, seat, card, seen, table_id)

    def workbench(self, table_id: int, token: str, op: str, args: dict[str, str]) -> bytes:
        """One workbench operation on the token holder's own values (``game.workbench``)."""
        table = self._table(table_id)
        with self._reading(table):
            seat = self._authenticate(table, token)
            try:
                return workbench.compute(table.state, seat, op, args, self.referee.rng)
            except Rejected as error:
                raise MoveRejected.of(error) from None

    def _offered_card(self, table: LiveTable, seat: Seat, lesson_id: str) -> lessons.Card:
        """A card the seat's console has offered at this table; a scenario's card (and its
        reading) only once the seat may know the scenario."""
        dark = in_the_dark(table.state, seat, table.state.revealed)
        if lesson_id not in _offered(table.state, seat, dark):
            raise UnknownLesson(f"no lesson card {lesson_id[:64]!r} at your seat")
        return _cards()[lesson_id]

    def class_session_of(self, table_id: int) -> int | None:
        """The class a table belongs to (None for a solo table), loaded from the store after a
        restart, so that a download works before anyone opens the class's dashboard."""
        room = self._room_of(table_id)
        if room is not None:
            return room.class_session_id
        record = sessions.game_table(self.store, table_id)
        if record is None or record.class_session_id is None:
            return None
        return self.class_room(record.class_session_id).class_session_id

    def class_room(self, class_session_id: int, refresh: bool = False) -> ClassRoom:
        """The class session in memory, rebuilt from the store after a restart. With other
        processes on the database it is read again when one of them changed it (or when
        ``refresh`` asks: under the class's lock, before changing it)."""
        with self._classes_lock:
            room = self._classes.get(class_session_id)
        if room is not None and not refresh and class_session_id not in self._stale_classes:
            return room
        self._stale_classes.discard(class_session_id)  # before reading: a later change marks it again
        record = sessions.class_session(self.store, class_session_id)
        if record is None:
            raise UnknownSession(f"no class session {class_session_id}")
        tables = [t for t in self.store.tables(class_session_id) if t.id is not None]
        # No stored round: a class from before rounds, whose one round is the class itself.
        stored: list[Any] = list(sessions.rounds(self.store, class_session_id)) or [None]
        rounds = []
        for entry in stored:
            number = 1 if entry is None else entry.number
            ids = [t.id for t in tables if t.round == number and t.id is not None]
            # Started when the instructor started it; a database from before ``started_at`` tells
            # by the bots that the start seated, or a table playing.
            started = (entry or record).started_at is not None
            if entry is None and not started:  # a class from before rounds and started_at
                started = (any(row.bot_kind is not None for t in ids for row in self.store.seats(t).values())
                           or any(not self._table(t).state.paused for t in ids))
            source = record if entry is None else entry
            rounds.append(Round(number, Variant(source.variant), Scenario(source.scenario),
                                Difficulty(source.difficulty), ids, started))
        room = ClassRoom(class_session_id, record.join_code, rounds, ended=record.ended_at is not None,
                         stuck_after=record.stuck_after)
        with self._classes_lock:
            cached = self._classes.setdefault(class_session_id, room)
        if cached is not room:  # another process may have changed it: the fresh fields, same lock
            cached.rounds, cached.ended, cached.stuck_after = room.rounds, room.ended, room.stuck_after
        return cached

    # -- internals -----------------------------------------------------------------------------

    def instructor_room(self, class_session_id: int, token: str) -> ClassRoom:
        """The class session, if ``token`` is its instructor's (for the HTTP downloads)."""
        return self._instructor(class_session_id, token)

    @property
    def has_instructor(self) -> bool:
        """Whether an instructor token is set (given now, or kept from an earlier start)."""
        return self._instructor_hash is not None

    def check_instructor(self, token: str) -> None:
        """Refuses (``bad_instructor_token``) anything but the server's instructor token."""
        if self._instructor_hash is None or not verify_token(token, self._instructor_hash):
            raise NotInstructor("that is not this server's instructor token")

    def _instructor(self, class_session_id: int, token: str) -> ClassRoom:
        """The class session, for the server's instructor. The token is checked first, so
        that without it a missing class and someone else's cannot be told apart."""
        self.check_instructor(token)
        return self.class_room(class_session_id)

    def _room_of(self, table_id: int) -> ClassRoom | None:
        if self.cluster.shared:
            if table_id not in self._table_class:
                record = sessions.game_table(self.store, table_id)
                if record is None:
                    return None
                self._table_class[table_id] = record.class_session_id
            class_session_id = self._table_class[table_id]
            if class_session_id is None:
                return None
            room = self.class_room(class_session_id)
            if room.round_of(table_id) is None:  # opened by another process since this one read the class
                room = self.class_room(class_session_id, refresh=True)
            return room
        with self._classes_lock:
            rooms = list(self._classes.values())
        return next((room for room in rooms if room.round_of(table_id) is not None), None)

    def _class_table(self, class_session_id: int, table_id: int) -> LiveTable:
        if self.class_room(class_session_id).round_of(table_id) is None:
            raise UnknownTable(f"no table {table_id} in class session {class_session_id}")
        return self._table(table_id)

    def _each_table(self, class_session_id: int, token: str, table_id: int | None,
                    act: Callable[[LiveTable, bool], bool], table_ids: list[int] | None = None) -> list[int]:
        """Apply an instructor action to one table (refusals are errors), to a selection or to
        all the current round's (tables it does not apply to are skipped). Returns the tables
        that changed."""
        room = self._instructor(class_session_id, token)
        ids = ([table_id] if table_id is not None else list(dict.fromkeys(table_ids)) if table_ids
               else list(room.table_ids))
        tables = [self._class_table(class_session_id, one) for one in ids]
        changed = []
        for table in tables:
            with self._moving(table):
                try:
                    if act(table, table_id is not None):
                        changed.append(table.table_id)
                except Rejected as error:
                    raise MoveRejected.of(error) from None
        return changed

    def _pause_one(self, table: LiveTable, one: bool) -> bool:
        if not one and (table.state.paused or table.state.current_step is None):
            return False
        self._record(table, game.pause(table.state), "instructor pauses")
        return True

    def _resume_one(self, table: LiveTable, one: bool) -> bool:
        if not one and not table.state.paused:
            return False
        self._record(table, game.resume(table.state), "instructor resumes")
        self._play_bots(table)
        return True

    def _open_class_table(self, room: ClassRoom) -> LiveTable:
        """A new table for the class, paused until the instructor starts (the pause is a
        stored fact, so a restart keeps the table waiting)."""
        try:
            state, facts = open_table(room.variant, room.scenario, room.difficulty)
        except Rejected as error:
            raise MoveRejected.of(error) from None
        opened = facts[0]
        assert isinstance(opened, TableOpened) and len(facts) == 1
        table_id = self.store.create_table(opened, class_session_id=room.class_session_id)
        if room.rounds[-1].number > 1:
            sessions.set_table_round(self.store, table_id, room.rounds[-1].number)
        self._reserve_keys(rsa_keys_needed(state.variant, state.scenario))
        table = LiveTable(table_id, state, self.store.next_seq(table_id), {})
        with table.lock:
            if not room.started:
                self._record(table, game.pause(table.state), "waiting for the instructor")
        with self._tables_lock:
            self._tables[table_id] = table
        room.table_ids.append(table_id)
        log.info("class %d: table %d opened", room.class_session_id, table_id)
        return table

    def _seat(self, room: ClassRoom, table: LiveTable, seat: Seat, player_id: int | None) -> None:
        """Put a player (or, when None, a bot after the start / nobody before it) at ``seat``."""
        if player_id is not None:
            table.humans[seat] = player_id
            self.store.assign_seat(table.table_id, seat, player_id=player_id)
            return
        table.humans.pop(seat, None)
        if room.started:
            self.store.assign_seat(table.table_id, seat, bot_kind=_bot_kind(seat))
        else:
            sessions.clear_seat(self.store, table.table_id, seat)

    def _fill_with_bots(self, table: LiveTable) -> None:
        for seat in SEATING_ORDER:
            if seat not in table.humans:
                self.store.assign_seat(table.table_id, seat, bot_kind=_bot_kind(seat))

    def _table(self, table_id: int) -> LiveTable:
        with self._tables_lock:
            table = self._tables.get(table_id)
        if table is None:
            if self.cluster.shared and 0 < table_id < 2**31:  # opened by another process
                return self._load_table(table_id)
            raise UnknownTable(f"no table {table_id}")
        return table

    def _authenticate(self, table: LiveTable, token: str) -> Seat:
        try:
            return self._token_seat(table, token)
        except BadToken:
            if not self.cluster.shared:
                raise
        # Seated a moment ago by another process, whose word has not arrived yet: ask the store.
        table.humans = self._humans(table.table_id)
        return self._token_seat(table, token)

    def _token_seat(self, table: LiveTable, token: str) -> Seat:
        # Check every human seat so the time taken does not tell which seat a token is near.
        found = None
        for seat, player_id in table.humans.items():
            if verify_token(token, self._token_hash(player_id)) and found is None:
                found = seat
        if found is None:
            raise BadToken(f"that token holds no seat at table {table.table_id}")
        return found

    def _token_hash(self, player_id: int) -> str:
        """A player's stored token hash, read once: a move is checked in memory, in constant
        time, instead of a database round trip per human seat."""
        cached = self._token_hashes.get(player_id)
        if cached is None:
            cached = sessions.player_token_hash(self.store, player_id) or ""
            self._token_hashes[player_id] = cached
        return cached

    def _learn_names(self, player_ids: Iterable[int]) -> None:
        """Players' names, read from the store once (after a restart) and kept in memory."""
        missing = [pid for pid in player_ids if pid not in self._names]
        if missing:
            self._names.update(sessions.player_names(self.store, missing))

    def _view(self, table: LiveTable, seat: Seat) -> dict[str, Any]:
        """The game's view of ``seat`` plus what the seat console shows around it: whether the
        table waits paused, the lesson card filled from this view, the menu of moves, the
        step list, and who plays each seat."""
        state = table.state
        now = self.now()
        seen = view(state, seat, now, dissect=True, revealed=state.revealed)
        self._learn_names(table.humans.values())
        # A seat in the dark knows the steps its party would know of (``visible_steps``).
        shown, done = visible_steps(state, seat, state.revealed)
        return seen | {
            "paused": state.paused,
            "lesson": _lesson(state, seat, seen, in_the_dark(state, seat, state.revealed), table.table_id),
            "choices": [] if state.paused else menu.choices(state, seat, now),
            "steps": menu.catalog(shown),
            "step_index": done,
            "players": {s.value: self._names.get(table.humans[s], "?") if s in table.humans else None
                        for s in SEATING_ORDER},
            # Expert difficulty: the workbench's operations and the names of the seat's own values.
            "workbench": workbench.listing(state, seat) if state.difficulty is Difficulty.EXPERT else None,
        }

    def _record(self, table: LiveTable, facts: list[Fact], what: str) -> None:
        """Store first, then apply: what is in memory is always what is committed."""
        after = table.state
        for fact in facts:
            after = apply(after, fact)
        # The score rows are a cache of the facts (the export replays the log): refreshed,
        # in the same transaction as the facts, when the table stops moving — it ends or
        # pauses — rather than at every move.
        settled = after.current_step is None or after.paused
        now = self.now()
        table.seq = self.store.append_facts(table.table_id, facts, expected_seq=table.seq,
                                            scores=dict(after.scores) if settled else None, at=now)
        before = _step_name(table.state)
        table.timed(table.state, facts, now)
        table.state = after
        log.info("table %d: %s, step %s -> %s", table.table_id, what, before, _step_name(table.state))

    def _play_bots(self, table: LiveTable) -> None:
        while (step := table.state.current_step) is not None and step.seat not in table.humans:
            if table.state.paused:
                return
            action = house_bot(table.state.scenario, step.seat).act(table.state, step.seat)
            self._record(table, decide(table.state, step.seat, action, self.referee),
                         f"bot {step.seat.value} {type(action).__name__}")
        bot_eavesdropper = Seat.EAVESDROPPER not in table.humans
        ending = finish_table(table.state, self.referee, eavesdropper_is_bot=bot_eavesdropper)
        if ending:
            self._record(table, ending, "the table ends")


def _seat_figures(table: LiveTable, seat: Seat) -> dict[str, Any]:
    """A seat's record at its table, and the mean seconds its steps took (None before any)."""
    took = [seconds for _step, who, seconds in table.step_seconds if who is seat]
    return {**seat_record(table.state, seat),
            "seconds_per_step": round(sum(took) / len(took), 1) if took else None}


def _bot_kind(seat: Seat) -> str:
    return "attacker" if seat is Seat.EAVESDROPPER else "honest"


@functools.cache
def _cards() -> dict[str, lessons.Card]:
    return lessons.load_cards()


def quiz_order(table_id: int, seat: Seat, lesson_id: str, question: int, count: int) -> list[int]:
    """The order in which ``seat`` at this table sees a question's choices: shuffled, so the
    right answer has no habitual place, and the same at every redraw and reload."""
    seed = hashlib.sha256(f"{table_id}:{seat.value}:{lesson_id}:{question}".encode()).digest()
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def _lesson_id(state: TableState, seat: Seat, seen: dict[str, Any], dark: bool) -> str:
    """The card for the seat's current step, else for its latest verdict, else the scenario's
    (or the variant's overview). A seat in the dark never gets the scenario's card before the
    debrief; at the end every seat gets it."""
    step = state.current_step
    if state.over and state.scenario is not Scenario.HONEST:
        return f"scenario-{state.scenario.value}"
    if step is not None and step.seat is seat:
        return step.lesson
    if seen["verdicts"]:
        return str(seen["verdicts"][-1]["lesson"])
    if state.scenario is not Scenario.HONEST and not dark:
        return f"scenario-{state.scenario.value}"
    return f"overview-{state.variant.value}"


def _reading(state: TableState, seat: Seat, seen: dict[str, Any], dark: bool) -> list[lessons.Card]:
    """Further reading beside the current card: the step's (or the latest verdict's step's),
    then the scenario's once the seat may know it."""
    step = state.current_step
    step_id = (step.id if step is not None and step.seat is seat else
               str(seen["verdicts"][-1]["step"]) if seen["verdicts"] else None)
    scenario = state.scenario if state.over or not dark else None
    return lessons.read_more(step_id, state.variant, scenario, _cards())


def _offered(state: TableState, seat: Seat, dark: bool) -> set[str]:
    """Every card this seat's console has offered at this table so far: its steps' cards up to
    now, the verdicts' cards, the overview, their further reading, and the scenario's card and
    reading once the seat may know the scenario."""
    step_ids = [step.id for step in state.steps[:state.step_index + 1] if step.seat is seat]
    step_ids += [verdict.step for verdict in state.verdicts if verdict.seat is seat]
    offered = {f"overview-{state.variant.value}"}
    offered |= {step.lesson for step in state.steps[:state.step_index + 1] if step.seat is seat}
    offered |= {verdict.lesson for verdict in state.verdicts if verdict.seat is seat}
    known = state.over or not dark
    if known:
        offered.add(f"scenario-{state.scenario.value}")
    for step_id in step_ids:
        offered |= {card.id for card in lessons.read_more(step_id, state.variant, None, _cards())}
    if known:
        offered |= {card.id for card in lessons.read_more(None, state.variant, state.scenario, _cards())}
    return offered & set(_cards())


def _questions(state: TableState, seat: Seat, card: lessons.Card) -> list[Any]:
    """The card's own questions, then its prediction questions built on the seat's values."""
    return [*card.quiz, *predictions(state, seat, card.id)]


def _card_payload(state: TableState, seat: Seat, card: lessons.Card, seen: dict[str, Any],
                  table_id: int) -> dict[str, Any]:
    questions = _questions(state, seat, card)
    return {"id": card.id, "title": card.title, "markdown": lessons.render(card, seen),
            "quiz": [{"question": q.question, "prediction": number >= len(card.quiz),
                      "choices": [q.choices[i] for i in quiz_order(table_id, seat, card.id, number,
                                                                    len(q.choices))]}
                     for number, q in enumerate(questions)]}


def _lesson(state: TableState, seat: Seat, seen: dict[str, Any], dark: bool,
            table_id: int = 0) -> dict[str, Any] | None:
    """The seat's current card filled from its own view, with its further reading."""
    card = _cards().get(_lesson_id(state, seat, seen, dark))
    if card is None:
        return None
    return _card_payload(state, seat, card, seen, table_id) | {
        "more": [{"id": more.id, "title": more.title} for more in _reading(state, seat, seen, dark)]}


def _step_name(state: TableState) -> str:
    step = state.current_step
    if step is not None:
        return step.id
    return "completed" if state.completed else "ended"
