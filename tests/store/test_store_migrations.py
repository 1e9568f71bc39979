"""The Alembic migrations build exactly the schema the SQLModel models describe, on SQLite
and on PostgreSQL, down to the names of the constraints."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import handshake_game.store.models  # noqa: F401  (the tables on SQLModel.metadata)
from alembic import command
from handshake_game.store import Store
from handshake_game.store.repository import ALEMBIC_DIR

TABLES = {"class_session", "player", "game_table", "seat_assignment", "fact_record", "score",
          "lesson_progress", "server_setting", "class_round"}


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


def _constraint_names(inspector: sa.Inspector, table: str) -> set[str]:
    names = {inspector.get_pk_constraint(table)["name"]}
    names |= {fk["name"] for fk in inspector.get_foreign_keys(table)}
    names |= {ix["name"] for ix in inspector.get_indexes(table)}
    return {name for name in names if name is not None}


def test_constraints_carry_the_naming_conventions_names(db_url: str) -> None:
    # compare_metadata matches foreign keys by their columns, not their names: check the
    # names here, since later migrations will drop and alter constraints by name.
    store = Store(db_url)
    store.upgrade()
    inspector = sa.inspect(store.engine)
    for name in TABLES:
        table = SQLModel.metadata.tables[name]
        expected = {str(c.name) for c in table.constraints} | {str(ix.name) for ix in table.indexes}
        assert _constraint_names(inspector, name) == expected
    assert inspector.get_pk_constraint("fact_record")["name"] == "pk_fact_record"
    store.dispose()


def test_the_comparison_sees_a_model_the_migrations_lack(store: Store) -> None:
    # Guards the test above: a column missing from the migrations is a difference.
    metadata = sa.MetaData()
    for table in SQLModel.metadata.tables.values():
        table.to_metadata(metadata)
    metadata.tables["player"].append_column(sa.Column("nickname", sa.String(32), nullable=True))
    differences = _differences(store, metadata)
    assert [(d[0], d[3].name) for d in differences] == [("add_column", "nickname")]


def test_downgrade_to_base_and_back(db_url: str) -> None:
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


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_postgresql_url_without_a_driver_means_psycopg(db_url: str) -> None:
    # DATABASE_URL as hosting services write it; SQLAlchemy alone would pick psycopg2.
    bare = db_url.replace("postgresql+psycopg://", "postgres://")
    store = Store(bare)
    assert store.engine.dialect.driver == "psycopg"
    store.upgrade()
    assert _differences(store, SQLModel.metadata) == []
    config = Config()  # alembic run by hand, on the same URL
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", bare)
    command.downgrade(config, "base")
    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.dispose()
