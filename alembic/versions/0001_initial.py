"""initial schema: class sessions, players, tables, seats, the fact log, scores, lesson progress

Every constraint is named as the naming convention in ``store/models.py`` names it
(``pk_player``, ``fk_player_class_session_id_class_session``), on SQLite and PostgreSQL
alike, so a later migration can drop or alter it by name.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "class_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("join_code", _string(32), nullable=False),
        sa.Column("variant", _string(32), nullable=False),
        sa.Column("scenario", _string(32), nullable=False),
        sa.Column("difficulty", _string(32), nullable=False),
        sa.Column("instructor_token_hash", _string(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_session")),
    )
    op.create_index(op.f("ix_class_session_join_code"), "class_session", ["join_code"], unique=True)

    op.create_table(
        "player",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("class_session_id", sa.Integer(), nullable=True),
        sa.Column("name", _string(64), nullable=False),
        sa.Column("reconnect_token_hash", _string(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["class_session_id"], ["class_session.id"],
                                name=op.f("fk_player_class_session_id_class_session")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_player")),
    )
    op.create_index(op.f("ix_player_class_session_id"), "player", ["class_session_id"], unique=False)

    op.create_table(
        "game_table",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("class_session_id", sa.Integer(), nullable=True),
        sa.Column("variant", _string(32), nullable=False),
        sa.Column("scenario", _string(32), nullable=False),
        sa.Column("difficulty", _string(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["class_session_id"], ["class_session.id"],
                                name=op.f("fk_game_table_class_session_id_class_session")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_game_table")),
    )
    op.create_index(op.f("ix_game_table_class_session_id"), "game_table", ["class_session_id"], unique=False)

    op.create_table(
        "seat_assignment",
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("seat", _string(16), nullable=False),
        sa.Column("player_id", sa.Integer(), nullable=True),
        sa.Column("bot_kind", _string(32), nullable=True),
        sa.ForeignKeyConstraint(["table_id"], ["game_table.id"],
                                name=op.f("fk_seat_assignment_table_id_game_table")),
        sa.ForeignKeyConstraint(["player_id"], ["player.id"],
                                name=op.f("fk_seat_assignment_player_id_player")),
        sa.PrimaryKeyConstraint("table_id", "seat", name=op.f("pk_seat_assignment")),
    )
    op.create_index(op.f("ix_seat_assignment_player_id"), "seat_assignment", ["player_id"], unique=False)

    # The append-only fact log: (table_id, seq) is the key, so a position is written once.
    op.create_table(
        "fact_record",
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", _string(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["table_id"], ["game_table.id"],
                                name=op.f("fk_fact_record_table_id_game_table")),
        sa.PrimaryKeyConstraint("table_id", "seq", name=op.f("pk_fact_record")),
    )

    op.create_table(
        "score",
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("seat", _string(16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["table_id"], ["game_table.id"],
                                name=op.f("fk_score_table_id_game_table")),
        sa.PrimaryKeyConstraint("table_id", "seat", name=op.f("pk_score")),
    )

    op.create_table(
        "lesson_progress",
        sa.Column("player_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", _string(64), nullable=False),
        sa.Column("quiz_results", sa.Text(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["player_id"], ["player.id"],
                                name=op.f("fk_lesson_progress_player_id_player")),
        sa.PrimaryKeyConstraint("player_id", "lesson_id", name=op.f("pk_lesson_progress")),
    )


def downgrade() -> None:
    op.drop_table("lesson_progress")
    op.drop_table("score")
    op.drop_table("fact_record")
    op.drop_index(op.f("ix_seat_assignment_player_id"), table_name="seat_assignment")
    op.drop_table("seat_assignment")
    op.drop_index(op.f("ix_game_table_class_session_id"), table_name="game_table")
    op.drop_table("game_table")
    op.drop_index(op.f("ix_player_class_session_id"), table_name="player")
    op.drop_table("player")
    op.drop_index(op.f("ix_class_session_join_code"), table_name="class_session")
    op.drop_table("class_session")

