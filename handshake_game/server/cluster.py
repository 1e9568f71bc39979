"""Several server processes on one PostgreSQL database: who may move a table, and how the
others hear of it.

A table's fact log is the only truth. Each process keeps a cache of the tables it touched;
to move one it takes the table's lock in PostgreSQL (a session-level advisory lock, so a
process that dies releases it with its connection), catches its cache up from the log,
decides, appends and commits, then tells the other processes with ``NOTIFY handshake`` in
the statement that releases the lock (the payload: its process id and the table, with an
``s`` after it when someone was seated or unseated there). Each process listens on its own
connection and, told of a table, catches it up (who sits where too, after an ``s``) and pushes
the new views to its own connections.

A class (its rounds, tables, start and end) changes under its own lock, the same way; the
payload ``<pid>:c<class>`` then tells the others that their copy of the class is stale, so
that they read it again when they next need it instead of on every push.

With SQLite (one process) :class:`Solo` does nothing: the in-process locks are enough.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from ..store import Store

log = logging.getLogger("handshake_game.server")

CHANNEL = "handshake"
_CLASS_KEYS = 1 << 40  # a class's lock keys sit above every table id (PostgreSQL's ids are int4)


class Held:
    """A lock held: what the other processes are told as it is released (nothing, unless a
    change is noted here)."""

    def __init__(self) -> None:
        self.news: str | None = None

    def table_changed(self, table_id: int, seats: bool = False) -> None:
        self.news = f"{table_id}s" if seats else str(table_id)

    def class_changed(self, class_session_id: int) -> None:
        self.news = f"c{class_session_id}"


class Solo:
    """One process: nothing to coordinate."""

    shared = False

    def table_lock(self, table_id: int) -> contextlib.AbstractContextManager[Held]:
        return contextlib.nullcontext(Held())

    def class_lock(self, class_session_id: int) -> contextlib.AbstractContextManager[Held]:
        return contextlib.nullcontext(Held())

    def notify_class(self, class_session_id: int) -> None:
        """Tells the other processes that the class changed (outside its lock)."""

    def on_class(self, told: Callable[[int], None]) -> None:
        """``told(class_session_id)`` is called when another process changed that class."""

    def on_seats(self, told: Callable[[int], None]) -> None:
        """``told(table_id)`` is called when another process seated or unseated someone there
        (before the table's own news)."""

    def on_table(self, told: Callable[[int], None]) -> None:
        """``told(table_id)`` is called first when another process changed that table (before
        ``listen``'s own callback)."""

    def on_lost_word(self, told: Callable[[], None]) -> None:
        """``told()`` is called when the listening connection came back after a break: what the
        others said meanwhile is lost."""

    def listen(self, told: Callable[[int], None]) -> None:
        pass

    def stop(self) -> None:
        pass


class Postgres(Solo):
    """Advisory locks and LISTEN/NOTIFY on the store's PostgreSQL database."""

    shared = True

    def __init__(self, store: Store) -> None:
        if store.url.get_backend_name() != "postgresql":
            raise ValueError("several server processes need PostgreSQL")
        self.store = store
        self.me = os.getpid()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._class_told: list[Callable[[int], None]] = []
        self._seats_told: list[Callable[[int], None]] = []
        self._table_told: list[Callable[[int], None]] = []
        self._lost_told: list[Callable[[], None]] = []

    @contextlib.contextmanager
    def _lock(self, key: int) -> Iterator[Held]:
        """The advisory lock, on a connection of its own in autocommit (each statement its own
        transaction: no commit round trips); released together with the news, if any, in one
        statement, once what was changed under it is committed."""
        with self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            held = Held()
            try:
                yield held
            finally:
                if held.news is None:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                else:
                    connection.execute(
                        sa.text("SELECT pg_notify(:channel, :payload), pg_advisory_unlock(:key)"),
                        {"channel": CHANNEL, "payload": f"{self.me}:{held.news}", "key": key})

    def table_lock(self, table_id: int) -> contextlib.AbstractContextManager[Held]:
        return self._lock(table_id)

    def class_lock(self, class_session_id: int) -> contextlib.AbstractContextManager[Held]:
        return self._lock(_CLASS_KEYS + class_session_id)

    def notify_class(self, class_session_id: int) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(sa.text("SELECT pg_notify(:channel, :payload)"),
                               {"channel": CHANNEL, "payload": f"{self.me}:c{class_session_id}"})

    def on_class(self, told: Callable[[int], None]) -> None:
        self._class_told.append(told)

    def on_seats(self, told: Callable[[int], None]) -> None:
        self._seats_told.append(told)

    def on_table(self, told: Callable[[int], None]) -> None:
        self._table_told.append(told)

    def on_lost_word(self, told: Callable[[], None]) -> None:
        self._lost_told.append(told)

    def listen(self, told: Callable[[int], None]) -> None:
        """Calls ``told(table_id)`` (on a thread of its own) for every table another process
        changed."""
        import psycopg  # noqa: PLC0415 (only a PostgreSQL deployment needs it)

        url = self.store.url.set(drivername="postgresql").render_as_string(hide_password=False)

        def run() -> None:
            listened = False
            while not self._stop.is_set():
                try:
                    with psycopg.connect(url, autocommit=True) as connection:
                        connection.execute(f"LISTEN {CHANNEL}")
                        if listened:  # listening again: what was said in between is lost
                            for lost in self._lost_told:
                                lost()
                        listened = True
                        while not self._stop.is_set():  # wakes each second to see if it should stop
                            for note in connection.notifies(timeout=1.0):
                                pid, _, what = note.payload.partition(":")
                                if pid == str(self.me):
                                    continue
                                table = what.removesuffix("s")
                                if table.isdigit():
                                    for first in (self._seats_told if what.endswith("s") else []) \
                                            + self._table_told:
                                        first(int(table))
                                    told(int(table))
                                elif what[:1] == "c" and what[1:].isdigit():
                                    for class_told in self._class_told:
                                        class_told(int(what[1:]))
                except Exception as error:  # a lost connection: listen again
                    log.warning("listening for other processes failed (%s); listening again",
                                type(error).__name__)
                    self._stop.wait(1.0)

        self._listener = threading.Thread(target=run, name="listen", daemon=True)
        self._listener.start()

    def stop(self) -> None:
        self._stop.set()
