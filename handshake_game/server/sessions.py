"""Small store look-ups the class sessions need that ``store.Store`` does not offer yet.

They go through the Store's own sessions and models. The only writes are the class's end
and emptying a seat before the start.
"""

from __future__ import annotations

import datetime
import json
import unicodedata
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import col, select

from ..game.facts import Fact
from ..game.model import Seat
from ..store import Store
from ..store.codec import fact_from_json
from ..store.models import ClassRound, ClassSession, FactRecord, GameTable, Player, SeatAssignment

MAX_NAME = 64
# Format characters kept in a name: the zero-width joiner and non-joiner that some scripts
# (Persian, Indic) and emoji sequences need. Every other format character — bidi overrides and
# isolates, zero-width spaces, the byte-order mark — is removed, as are control characters.
_KEPT_FORMAT = {"\u200c", "\u200d"}


def clean_name(name: str) -> str:
    """A player's name as shown to the class: NFC-normalised, without control characters, bidi
    overrides or zero-width spaces, runs of white space made one space. Empty when nothing
    visible is left (the caller refuses it)."""
    text = unicodedata.normalize("NFC", name)
    kept = "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or (unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn")
                                       and (unicodedata.category(ch) != "Cf" or ch in _KEPT_FORMAT)))
    return " ".join(kept.split())[:MAX_NAME]


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)``… when the class already has it (ignoring case)."""
    used = {other.casefold() for other in taken}
    if name.casefold() not in used:
        return name
    number = 2
    while f"{name} ({number})".casefold() in used:
        number += 1
    return f"{name[:MAX_NAME - 6]} ({number})"


def class_player_names(store: Store, class_session_id: int) -> list[str]:
    with store.session() as session:
        rows = session.exec(select(Player).where(Player.class_session_id == class_session_id))
        return [row.name for row in rows]


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


def mark_started(store: Store, class_session_id: int, when: datetime.datetime) -> None:
    """Record that the instructor started the class (a restart keeps it started, even paused)."""
    with store.writing() as db:
        db.execute(sa.update(ClassSession).where(col(ClassSession.id) == class_session_id)
                   .values(started_at=when))


def game_table(store: Store, table_id: int) -> GameTable | None:
    with store.session() as db:
        return db.get(GameTable, table_id)


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


# -- rounds, settings, and what the reports read -------------------------------------------------

def rounds(store: Store, class_session_id: int) -> list[ClassRound]:
    with store.session() as db:
        query = select(ClassRound).where(ClassRound.class_session_id == class_session_id)
        return list(db.exec(query.order_by(col(ClassRound.number))).all())


def add_round(store: Store, class_session_id: int, number: int, variant: str, scenario: str,
              difficulty: str) -> None:
    with store.writing() as db:
        db.add(ClassRound(class_session_id=class_session_id, number=number, variant=variant,
                          scenario=scenario, difficulty=difficulty))


def mark_round_started(store: Store, class_session_id: int, number: int, when: datetime.datetime) -> None:
    with store.writing() as db:
        db.execute(sa.update(ClassRound).where(col(ClassRound.class_session_id) == class_session_id,
                                               col(ClassRound.number) == number).values(started_at=when))


def set_table_round(store: Store, table_id: int, number: int) -> None:
    with store.writing() as db:
        db.execute(sa.update(GameTable).where(col(GameTable.id) == table_id).values(round=number))


def set_stuck_after(store: Store, class_session_id: int, seconds: int) -> None:
    with store.writing() as db:
        db.execute(sa.update(ClassSession).where(col(ClassSession.id) == class_session_id)
                   .values(stuck_after=seconds))


def class_sessions(store: Store) -> list[ClassSession]:
    with store.session() as db:
        return list(db.exec(select(ClassSession).order_by(col(ClassSession.id).desc())).all())


def seats_of_player(store: Store, player_id: int) -> list[tuple[int, Seat]]:
    """Every (table, seat) the player has held, oldest table first."""
    with store.session() as db:
        rows = db.exec(select(SeatAssignment).where(SeatAssignment.player_id == player_id)).all()
    return sorted((row.table_id, Seat(row.seat)) for row in rows)


def timed_facts(store: Store, table_id: int, since: int = 0) -> list[tuple[Fact, datetime.datetime]]:
    """The table's facts from position ``since``, in log order, each with when it was stored
    (timezone-aware): one query."""
    with store.session() as db:
        rows = db.exec(select(FactRecord.payload, FactRecord.created_at)
                       .where(FactRecord.table_id == table_id, FactRecord.seq >= since)
                       .order_by(col(FactRecord.seq))).all()
    return [(fact_from_json(json.loads(payload)),
             at if at.tzinfo is not None else at.replace(tzinfo=datetime.UTC)) for payload, at in rows]
