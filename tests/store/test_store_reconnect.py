"""A PostgreSQL server that drops the game's connections (a restart, a failover): the next
store call gets a fresh connection instead of failing, because a pooled connection that sat
idle is tested before it is handed out (``repository._ping_if_idle``)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from handshake_game.game.model import Difficulty, Scenario, Variant
from handshake_game.store import Store, repository


def _drop_connections(url: str) -> int:
    """Ends every server process connected to the database (as a restart would)."""
    name = sa.make_url(url).database
    admin = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            return len(connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}).all())
    finally:
        admin.dispose()


def test_a_dropped_connection_is_replaced_before_the_next_call(postgres_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(postgres_url)
    try:
        store.upgrade()
        record, _ = store.create_class_session(Variant.TLS13, Scenario.HONEST, Difficulty.GUIDED,
                                               instructor_token="t" * 20)
        assert _drop_connections(postgres_url) >= 1  # the pooled connection is gone server-side
        monkeypatch.setattr(repository, "IDLE_BEFORE_PING", 0.0)  # it has sat idle long enough
        assert record.id is not None
        assert store.class_session_by_code(record.join_code) is not None
    finally:
        store.dispose()


def test_without_the_idle_ping_the_next_call_fails(postgres_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side: a connection trusted as recently used is not tested, and the call that
    gets it fails (so the test above shows the ping at work, not luck)."""
    store = Store(postgres_url)
    try:
        store.upgrade()
        store.class_session_by_code("NOSUCH")
        assert _drop_connections(postgres_url) >= 1
        monkeypatch.setattr(repository, "IDLE_BEFORE_PING", 3600.0)
        with pytest.raises(sa.exc.OperationalError):
            store.class_session_by_code("NOSUCH")
    finally:
        store.dispose()
