"""Small store look-ups the class sessions need that ``store.Store`` does not offer yet.

They go through the Store's own sessions and models. The only writes are the class's end
and emptying a seat before the start.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import col, select

from ..game.model import Seat
from ..store import Store
from ..store.models import ClassSession, GameTable, Player, SeatAssignment


def class_session(store: Store, class_session_id: int) -> ClassSession | None:
    with store.session() as session:
        return session.get(ClassSession, class_session_id)


def player_names(store: Store, player_ids: Iterable[int]) -> dict[int, str]:
    """Each player's name, by id (ids that name no player are left out)."""
    wanted = sorted(set(player_ids))
    if not wanted:
        return {}
    with store.session() as session:
        rows = session.exec(select(Player).where(col(Player.id).in_(wanted))).all()
    return {row.id: row.name for row in rows if row.id is not None}


def player_token_hash(store: Store, player_id: int) -> str | None:
    """The stored hash of a player's reconnect token (never the token itself)."""
    with store.session() as db:
        record = db.get(Player, player_id)
    return record.reconnect_token_hash if record is not None else None


def mark_ended(store: Store, class_session_id: int, when: datetime.datetime) -> None:
    """Record that the instructor ended the class (no more joins, kept across restarts)."""
    with store.writing() as db:
        db.execute(sa.update(ClassSession).where(col(ClassSession.id) == class_session_id)
                   .values(ended_at=when))


def clear_seat(store: Store, table_id: int, seat: Seat) -> None:
    """Nobody at ``seat`` (before the start, when bots have not taken the empty seats yet)."""
    with store.writing() as db:
        db.execute(sa.delete(SeatAssignment).where(col(SeatAssignment.table_id) == table_id,
                                                   col(SeatAssignment.seat) == seat.value))


def table_started(store: Store, table_id: int) -> datetime.datetime:
    """When the table was opened (a capture's first packet), timezone-aware."""
    with store.session() as db:
        record = db.get(GameTable, table_id)
    opened = record.created_at if record is not None else datetime.datetime.now(datetime.UTC)
    return opened if opened.tzinfo is not None else opened.replace(tzinfo=datetime.UTC)
