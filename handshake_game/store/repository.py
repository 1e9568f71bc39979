"""The repository: the one place that reads and writes the database.

A table's facts are appended in one transaction per move, and ``append_facts`` returns
only after the commit: the position it returns is what a move may acknowledge, and a
crash afterwards loses nothing acknowledged. ``replay_table`` rebuilds a table's state
from its log (``game.replay``). Tokens are never stored, only their SHA-256, compared
with ``hmac.compare_digest``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, col, select

from ..game import TableState, replay
from ..game.facts import Fact, TableOpened
from ..game.model import Difficulty, Scenario, Seat, Variant
from ..resources import resource_directory
from .codec import fact_from_json, fact_to_json
from .models import (
    ClassSession,
    FactRecord,
    GameTable,
    LessonProgress,
    Player,
    Score,
    SeatAssignment,
    ServerSetting,
    utcnow,
)

DEFAULT_URL = "sqlite:///handshake.db"
ALEMBIC_DIR = resource_directory("alembic")
"""The project's migrations (``alembic/`` at the project root, next to ``alembic.ini``; in an
installed wheel, its data files)."""


class StoreError(Exception):
    """Base of the store's errors."""


class SeqConflict(StoreError):
    """The table's log is not as long as the caller expected, so nothing was appended.
    ``actual > expected``: another writer appended first, and the move must be decided
    again on the committed log. ``actual < expected``: the caller counted facts that were
    never committed, and appending would have left a gap."""

    def __init__(self, table_id: int, expected: int, actual: int) -> None:
        super().__init__(f"table {table_id}: expected to append at {expected}, the log is at {actual}")
        self.table_id, self.expected, self.actual = table_id, expected, actual


class UnknownTable(StoreError):
    pass


def hash_token(token: str) -> str:
    """The SHA-256 of a token, hex: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def verify_token(token: str, token_hash: str) -> bool:
    """Whether ``token`` hashes to ``token_hash``, in time independent of where they differ."""
    return hmac.compare_digest(hash_token(token).encode(), token_hash.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_join_code() -> str:
    # Unambiguous letters and digits (no 0/O, 1/I/L): a class types this from a projector.
    return "".join(secrets.choice("ABCDEFGHJKMNPQRSTUVWXYZ23456789") for _ in range(6))


def database_url(url: str | sa.URL) -> sa.URL:
    """``url`` as SQLAlchemy takes it. A PostgreSQL URL that names no driver
    (``postgresql://``, or ``postgres://`` as hosting services write DATABASE_URL) gets
    psycopg 3, the driver the project installs, instead of SQLAlchemy's psycopg2 default."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers do not block the writer, and a commit is one append to the log.
        # An in-memory database answers "memory" and stays so.
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL still writes every commit to the log before it returns, so a
        # killed server process (even SIGKILL) loses nothing it acknowledged; only a crash
        # of the whole machine can lose the last commits. FULL's fsync per commit serialised
        # every move of a class behind the disk (measured in bench/load.py).
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    # timestamptz values come back in the session's time zone: make it UTC, as they are
    # written (and as SQLite, which keeps no zone, returns them). Committed, or the
    # pool's first rollback would undo the SET.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET TIME ZONE 'UTC'")
    finally:
        cursor.close()
    dbapi_connection.commit()


IDLE_BEFORE_PING = 2.0  # seconds a pooled connection may sit unused and still be trusted


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle_since = record.info.get("checked_in")
    if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
        return  # new, or used a moment ago
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as error:  # the pool drops this connection and tries another (or a new one)
        raise sa.exc.DisconnectionError("a pooled connection no longer answers") from error


class Store:
    """The database behind the game. ``url`` is any SQLAlchemy URL: SQLite (the default,
    a file in WAL mode; ``sqlite://`` is an in-memory database shared by all of this
    Store's sessions, for tests) or PostgreSQL (``postgresql+psycopg://user:pw@host/db``)."""

    def __init__(self, url: str = DEFAULT_URL, *, echo: bool = False) -> None:
        self.url = database_url(url)
        backend = self.url.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if backend == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False}
            if self.url.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool  # one connection: the in-memory DB lives in it
        else:  # room for every worker thread to hold a table's lock and query beside it
            kwargs["pool_size"], kwargs["max_overflow"] = 10, 20
        self.engine: Engine = sa.create_engine(self.url, **kwargs)
        if backend != "sqlite":
            # A database server can restart under a long-running game server: a pooled
            # connection that sat idle is tested before it is handed out, instead of failing
            # the move that gets it. One in use a moment ago is not (a ping for every checkout,
            # ``pool_pre_ping``, was a fifth of a move's time with several processes).
            sa.event.listen(self.engine, "checkin", _checked_in)
            sa.event.listen(self.engine, "checkout", _ping_if_idle)
        self._writer: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if backend == "sqlite" else contextlib.nullcontext())
        if backend == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        elif backend == "postgresql":
            sa.event.listen(self.engine, "connect", _postgresql_session)

    # -- schema -------------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` on this Store's database."""
        from alembic.config import Config

        from alembic import command

        config = Config()
        config.set_main_option("script_location", str(ALEMBIC_DIR))
        config.set_main_option("sqlalchemy.url",
                               self.url.render_as_string(hide_password=False).replace("%", "%%"))
        with self.engine.begin() as connection:
            # env.py migrates on this connection, so an in-memory database is the one we use.
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def create_all(self) -> None:
        """Create the tables straight from the models (tests only; real databases ``upgrade``)."""
        SQLModel.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """A session in a transaction that writes, committed on leaving. On SQLite one writer
        at a time in this process: threads queue on a lock here instead of in SQLite's busy
        handler, which sleeps in steps of up to 100 ms and made the slow tail under load."""
        with self._writer, self.session() as session, session.begin():
            yield session

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- class sessions and players -------------------------------------------------------------

    def create_class_session(self, variant: Variant, scenario: Scenario = Scenario.HONEST,
                             difficulty: Difficulty = Difficulty.STANDARD, *,
                             instructor_token: str | None = None,
                             join_code: str | None = None) -> tuple[ClassSession, str]:
        """A new class session and its instructor token (the only time the token is seen)."""
        token = instructor_token or new_token()
        record = ClassSession(join_code=join_code or new_join_code(), variant=variant.value,
                              scenario=scenario.value, difficulty=difficulty.value,
                              instructor_token_hash=hash_token(token))
        with self.writing() as session:
            session.add(record)
        return record, token

    def class_session_by_code(self, join_code: str) -> ClassSession | None:
        with self.session() as session:
            return session.exec(select(ClassSession).where(ClassSession.join_code == join_code)).first()

    def verify_instructor(self, class_session_id: int, token: str) -> bool:
        with self.session() as session:
            record = session.get(ClassSession, class_session_id)
        return record is not None and verify_token(token, record.instructor_token_hash)

    def setting(self, name: str) -> str | None:
        """A value the server keeps about itself (``server_setting``), or None."""
        with self.session() as session:
            record = session.get(ServerSetting, name)
        return None if record is None else record.value

    def set_setting(self, name: str, value: str) -> None:
        with self.writing() as session:
            session.merge(ServerSetting(name=name, value=value))

    def create_player(self, name: str, class_session_id: int | None = None) -> tuple[Player, str]:
        """A new player (solo when ``class_session_id`` is None) and their reconnect token."""
        token = new_token()
        record = Player(class_session_id=class_session_id, name=name, reconnect_token_hash=hash_token(token))
        with self.writing() as session:
            session.add(record)
        return record, token

    def verify_player(self, player_id: int, token: str) -> bool:
        with self.session() as session:
            record = session.get(Player, player_id)
        return record is not None and verify_token(token, record.reconnect_token_hash)

    # -- tables and their fact logs -----------------------------------------------------------

    def create_table(self, opened: TableOpened, *, class_session_id: int | None = None) -> int:
        """A new table whose log starts with ``opened`` (seq 0), in one transaction, so every
        stored table replays. Returns the table id."""
        with self.writing() as session:
            table = GameTable(class_session_id=class_session_id, variant=opened.variant.value,
                              scenario=opened.scenario.value, difficulty=opened.difficulty.value)
            session.add(table)
            session.flush()
            assert table.id is not None
            session.add(_record(table.id, 0, opened))
            return table.id

    def append_facts(self, table_id: int, facts: Iterable[Fact], *, expected_seq: int | None = None,
                     scores: dict[Seat, int] | None = None, at: datetime.datetime | None = None) -> int:
        """Append ``facts`` to the table's log in one transaction (all or none) and return the
        next free position, i.e. the length of the committed log. With ``scores``, the
        table's score rows are replaced in the same transaction (one commit per move).

        What is enforced, on SQLite and PostgreSQL alike: a row goes in only at the end of
        the log as it stands when that row is inserted (the insert itself checks, see
        ``_APPEND``), and ``(table_id, seq)`` is the primary key. So no append leaves a gap
        or writes a position twice, whatever position the caller names.

        With ``expected_seq`` the facts go at ``expected_seq``, ``expected_seq + 1``, ...:
        unless the committed log is exactly ``expected_seq`` long, nothing is written and
        ``SeqConflict`` says how long it is (shorter: the caller is ahead of the log, a
        gap; longer: behind it, an overlap). This is the hot path of every move, and it
        costs no read beyond the insert's own. Without ``expected_seq`` (or with no facts)
        the log's length is read in the same transaction first. Two writers that both
        start from the same length race for the same position: one commits, the other
        gets ``SeqConflict``, whether or not it passed ``expected_seq``. ``at`` is the time
        stored with the facts (the game's clock; now by default).
        """
        facts = list(facts)
        start: int | None = None
        try:
            with self.writing() as session:
                if expected_seq is not None and facts:
                    start = expected_seq  # checked by the insert, row by row
                else:
                    start = self._next_seq(session, table_id)
                    if expected_seq is not None and expected_seq != start:
                        raise SeqConflict(table_id, expected_seq, start)
                now = at or utcnow()
                rows = [_row(table_id, seq, fact, now) for seq, fact in enumerate(facts, start)]
                if rows:  # one Core executemany: the ORM's bookkeeping cost more than the commit
                    session.connection().execute(_APPEND, rows)
                if scores is not None:
                    self._replace_scores(session, table_id, scores)
        except sa.exc.IntegrityError as error:
            # A row not at the log's end (the guard's NULL seq, or the primary key) or any
            # other refusal by the database (a foreign key, a trigger): only the first
            # leaves the log at another length than the one we appended at. An unknown
            # table raises UnknownTable here.
            actual = self.next_seq(table_id)
            if start is None or actual == start:
                raise
            raise SeqConflict(table_id, start, actual) from error
        return start + len(facts)

    def next_seq(self, table_id: int) -> int:
        with self.session() as session:
            return self._next_seq(session, table_id)

    @staticmethod
    def _next_seq(session: Session, table_id: int) -> int:
        last = session.exec(select(sa.func.max(FactRecord.seq)).where(FactRecord.table_id == table_id)).one()
        if last is None:
            if session.get(GameTable, table_id) is None:
                raise UnknownTable(f"no table {table_id}")
            return 0
        return int(last) + 1

    def load_facts(self, table_id: int, since: int = 0) -> list[Fact]:
        """The table's facts in log order, from position ``since``."""
        with self.session() as session:
            payloads = session.exec(
                select(FactRecord.payload)
                .where(FactRecord.table_id == table_id, FactRecord.seq >= since)
                .order_by(col(FactRecord.seq))).all()
        return [fact_from_json(json.loads(payload)) for payload in payloads]

    def replay_table(self, table_id: int) -> TableState:
        facts = self.load_facts(table_id)
        if not facts:
            raise UnknownTable(f"no facts for table {table_id}")
        return replay(facts)

    def table(self, table_id: int) -> GameTable | None:
        with self.session() as session:
            return session.get(GameTable, table_id)

    def tables(self, class_session_id: int | None = None) -> list[GameTable]:
        with self.session() as session:
            query = select(GameTable).order_by(col(GameTable.id))
            if class_session_id is not None:
                query = query.where(GameTable.class_session_id == class_session_id)
            return list(session.exec(query).all())

    # -- seats, scores, lessons -------------------------------------------------------------------

    def assign_seat(self, table_id: int, seat: Seat, *, player_id: int | None = None,
                    bot_kind: str | None = None) -> None:
        """Seat a player (or a bot of ``bot_kind``) at ``seat``, replacing whoever sat there."""
        if (player_id is None) == (bot_kind is None):
            raise ValueError("a seat is taken by a player or by a bot, exactly one")
        with self.writing() as session:
            session.merge(SeatAssignment(table_id=table_id, seat=seat.value, player_id=player_id,
                                         bot_kind=bot_kind))

    def seats(self, table_id: int) -> dict[Seat, SeatAssignment]:
        with self.session() as session:
            rows = session.exec(select(SeatAssignment).where(SeatAssignment.table_id == table_id)).all()
        return {Seat(row.seat): row for row in rows}

    def save_scores(self, table_id: int, scores: dict[Seat, int]) -> None:
        """Replace the table's score rows in one transaction (portable: no dialect upsert)."""
        with self.writing() as session:
            self._replace_scores(session, table_id, scores)

    @staticmethod
    def _replace_scores(session: Session, table_id: int, scores: dict[Seat, int]) -> None:
        connection = session.connection()
        connection.execute(_SCORES.delete().where(_SCORES.c.table_id == table_id))
        connection.execute(_SCORES.insert(), [{"table_id": table_id, "seat": seat.value, "points": points}
                                              for seat, points in scores.items()])

    def scores(self, table_id: int) -> dict[Seat, int]:
        with self.session() as session:
            rows = session.exec(select(Score).where(Score.table_id == table_id)).all()
        return {Seat(row.seat): row.points for row in rows}

    def save_lesson_progress(self, player_id: int, lesson_id: str, quiz_results: dict[str, Any],
                             completed: bool) -> None:
        with self.writing() as session:
            session.merge(LessonProgress(player_id=player_id, lesson_id=lesson_id,
                                         quiz_results=json.dumps(quiz_results, sort_keys=True),
                                         completed=completed, updated_at=utcnow()))

    def lesson_progress(self, player_id: int) -> dict[str, LessonProgress]:
        with self.session() as session:
            rows = session.exec(select(LessonProgress).where(LessonProgress.player_id == player_id)).all()
        return {row.lesson_id: row for row in rows}


_FACTS: sa.Table = FactRecord.__table__  # type: ignore[attr-defined]
_SCORES: sa.Table = Score.__table__  # type: ignore[attr-defined]


def _append_statement() -> sa.Insert:
    """``_APPEND``: inserts one row of a fact log per parameter set, at ``seq`` only if that
    is where the log ends when the row goes in; anywhere else the row's seq is NULL, which
    the NOT NULL key column refuses (an IntegrityError, and the transaction rolls back).

    The check is part of the insert, so a move pays no separate read (measured: a read
    added a statement's cost to every append, a round trip on PostgreSQL). Each row of an
    executemany sees the rows before it, so every row of a batch is checked, not only the
    first. A writer whose check passes on a snapshot that another writer's uncommitted
    row is missing from (PostgreSQL) is stopped by the primary key instead."""
    log = _FACTS.alias("log")
    log_end = (sa.select(sa.func.coalesce(sa.func.max(log.c.seq) + 1, 0))
               .where(log.c.table_id == sa.bindparam("table_id")).scalar_subquery())

    def param(name: str) -> sa.BindParameter[Any]:  # the value of column ``name`` in a row
        return sa.bindparam(name, type_=_FACTS.c[name].type)

    seq = param("seq")
    return _FACTS.insert().from_select(
        ["table_id", "seq", "type", "payload", "created_at"],
        sa.select(param("table_id"), sa.case((log_end == seq, seq), else_=sa.null()),
                  param("type"), param("payload"), param("created_at")))


_APPEND = _append_statement()


def _record(table_id: int, seq: int, fact: Fact) -> FactRecord:
    return FactRecord(**_row(table_id, seq, fact, utcnow()))


def _row(table_id: int, seq: int, fact: Fact, now: datetime.datetime) -> dict[str, Any]:
    payload = fact_to_json(fact)
    return {"table_id": table_id, "seq": seq, "type": payload["type"],
            "payload": json.dumps(payload, separators=(",", ":")), "created_at": now}
