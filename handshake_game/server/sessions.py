"""Small store look-ups the class sessions need that ``store.Store`` does not offer yet.

They read through the Store's own sessions and models; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select

from ..store import Store
from ..store.models import ClassSession, Player


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
