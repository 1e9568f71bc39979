"""The store's tables (SQLModel): class sessions, players, game tables and their seats, the
append-only fact log, scores and lesson progress.

Enums are stored as their string values (``"tls12-rsa"``), so a new variant or scenario
needs no migration. Only hashes of tokens are stored (``repository.hash_token``). The
schema changes only through Alembic (``alembic/versions``); a test checks that the
migrations and these models agree.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Every constraint gets a predictable name (on SQLite and PostgreSQL alike), so a migration
# can drop or alter one by name; 0001 spells the same names with ``op.f``. Must be set
# before the tables below attach their constraints. "ix" is SQLAlchemy's default.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _created_at() -> datetime.datetime:
    created: datetime.datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True),
                                       nullable=False)
    return created


class ClassSession(SQLModel, table=True):
    """A class run by an instructor; students join it with ``join_code``."""

    __tablename__ = "class_session"

    id: int | None = Field(default=None, primary_key=True)
    join_code: str = Field(max_length=32, unique=True, index=True)
    variant: str = Field(max_length=32)
    scenario: str = Field(max_length=32)
    difficulty: str = Field(max_length=32)
    instructor_token_hash: str = Field(max_length=64)
    created_at: datetime.datetime = _created_at()
    # Set by the instructor's ``end``: no more joins, kept across restarts.
    ended_at: datetime.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True),
                                               nullable=True)
    # Set by the instructor's ``start``: a restart knows the class began, paused or not.
    started_at: datetime.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True),
                                                 nullable=True)
    # Seconds without a move before the dashboard flags a student whose turn it is as stuck.
    stuck_after: int = Field(default=90, sa_column_kwargs={"server_default": "90"})


class ClassRound(SQLModel, table=True):
    """One round of a class: its tables play this variant, scenario and difficulty."""

    __tablename__ = "class_round"

    class_session_id: int = Field(foreign_key="class_session.id", primary_key=True)
    number: int = Field(primary_key=True)
    variant: str = Field(max_length=32)
    scenario: str = Field(max_length=32)
    difficulty: str = Field(max_length=32)
    created_at: datetime.datetime = _created_at()
    started_at: datetime.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True),
                                                 nullable=True)


class ServerSetting(SQLModel, table=True):
    """What the server keeps about itself across restarts: the hash of its instructor token."""

    __tablename__ = "server_setting"

    name: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=256)


class Player(SQLModel, table=True):
    """A student (or a network bot joining as one); no class session when playing solo."""

    __tablename__ = "player"

    id: int | None = Field(default=None, primary_key=True)
    class_session_id: int | None = Field(default=None, foreign_key="class_session.id", index=True)
    name: str = Field(max_length=64)
    reconnect_token_hash: str = Field(max_length=64)
    created_at: datetime.datetime = _created_at()


class GameTable(SQLModel, table=True):
    """One table of four seats; its state is the replay of its ``FactRecord`` rows."""

    __tablename__ = "game_table"

    id: int | None = Field(default=None, primary_key=True)
    class_session_id: int | None = Field(default=None, foreign_key="class_session.id", index=True)
    variant: str = Field(max_length=32)
    scenario: str = Field(max_length=32)
    difficulty: str = Field(max_length=32)
    created_at: datetime.datetime = _created_at()
    round: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # of its class


class SeatAssignment(SQLModel, table=True):
    """Who plays a seat: a player, or a bot of ``bot_kind`` when ``player_id`` is empty."""

    __tablename__ = "seat_assignment"

    table_id: int = Field(foreign_key="game_table.id", primary_key=True)
    seat: str = Field(max_length=16, primary_key=True)
    player_id: int | None = Field(default=None, foreign_key="player.id", index=True)
    bot_kind: str | None = Field(default=None, max_length=32)


class FactRecord(SQLModel, table=True):
    """One fact of a table's log, at position ``seq`` (0 is the ``TableOpened`` fact).

    Append-only: rows are inserted, never updated or deleted. ``(table_id, seq)`` is the
    primary key, so two writers can never both commit the same position.
    """

    __tablename__ = "fact_record"

    table_id: int = Field(foreign_key="game_table.id", primary_key=True)
    seq: int = Field(primary_key=True)
    type: str = Field(max_length=64)
    payload: str = Field(sa_type=sa.Text)  # codec.fact_to_json, as JSON text
    created_at: datetime.datetime = _created_at()


class Score(SQLModel, table=True):
    """A seat's points at a table: a cache of the fact log, refreshed when the table ends or
    pauses (the scores export replays the log, so it is current even mid-table)."""

    __tablename__ = "score"

    table_id: int = Field(foreign_key="game_table.id", primary_key=True)
    seat: str = Field(max_length=16, primary_key=True)
    points: int = 0


class LessonProgress(SQLModel, table=True):
    """A player's quiz answers and completion of one lesson card."""

    __tablename__ = "lesson_progress"

    player_id: int = Field(foreign_key="player.id", primary_key=True)
    lesson_id: str = Field(max_length=64, primary_key=True)
    quiz_results: str = Field(default="{}", sa_type=sa.Text)  # JSON text: question id -> answer/correct
    completed: bool = False
    updated_at: datetime.datetime = _created_at()
