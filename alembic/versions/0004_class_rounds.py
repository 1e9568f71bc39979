"""a class plays in rounds: each table belongs to one, each round has its variant and scenario

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "class_round",
        sa.Column("class_session_id", sa.Integer(), sa.ForeignKey("class_session.id"), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("scenario", sa.String(length=32), nullable=False),
        sa.Column("difficulty", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    )
    with op.batch_alter_table("game_table") as batch:
        batch.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("class_session") as batch:
        batch.add_column(sa.Column("stuck_after", sa.Integer(), nullable=False, server_default="90"))


def downgrade() -> None:
    with op.batch_alter_table("class_session") as batch:
        batch.drop_column("stuck_after")
    with op.batch_alter_table("game_table") as batch:
        batch.drop_column("round")
    op.drop_table("class_round")
