"""The Alembic migrations build exactly the schema the SQLModel models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import handshake_game.store.models  # noqa: F401  (the tables on SQLModel.metadata)
from handshake_game.store import Store

TABLES = {"class_session", "player", "game_table", "seat_assignment", "fact_record", "score",
          "lesson_progress"}


def _differences(store: Store, metadata: sa.MetaData) -> list:
    with store.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def test_upgrading_an_empty_database_matches_the_models(db_url: str) -> None:
    store = Store(db_url)
    store.upgrade()
    assert set(sa.inspect(store.engine).get_table_names()) == TABLES | {"alembic_version"}
    assert set(SQLModel.metadata.tables) >= TABLES
    assert _differences(store, SQLModel.metadata) == []
    store.dispose()


def test_the_comparison_sees_a_model_the_migrations_lack(memory_store: Store) -> None:
    # Guards the test above: a column missing from the migrations is a difference.
    metadata = sa.MetaData()
    for table in SQLModel.metadata.tables.values():
        table.to_metadata(metadata)
    metadata.tables["player"].append_column(sa.Column("nickname", sa.String(32), nullable=True))
    differences = _differences(memory_store, metadata)
    assert [(d[0], d[3].name) for d in differences] == [("add_column", "nickname")]


def test_downgrade_to_base_and_back(db_url: str) -> None:
    from alembic.config import Config

    from alembic import command
    from handshake_game.store.repository import ALEMBIC_DIR

    store = Store(db_url)
    store.upgrade()
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", db_url)
    command.downgrade(config, "base")
    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.upgrade()
    assert _differences(store, SQLModel.metadata) == []
    store.dispose()
