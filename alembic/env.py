"""Alembic environment: migrates the database the Store (or alembic.ini) names.

``Store.upgrade`` passes its own connection in ``config.attributes["connection"]``, so an
in-memory SQLite database is migrated in place; run by hand (``alembic upgrade head``),
the URL comes from DATABASE_URL or alembic.ini. A ``Config`` built in code without an
ini file keeps the URL it was given. The same migrations run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os

from sqlalchemy import engine_from_config, pool
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import handshake_game.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from alembic import context
from handshake_game.store.repository import database_url

config = context.config
target_metadata = SQLModel.metadata

# DATABASE_URL stands in for alembic.ini's default URL, never for one set in code.
if (os.environ.get("DATABASE_URL") and config.config_file_name is not None
        and config.attributes.get("connection") is None):
    config.set_main_option("sqlalchemy.url", os.environ["DATABASE_URL"].replace("%", "%%"))
if config.get_main_option("sqlalchemy.url"):  # postgresql:// means psycopg 3, as in the Store
    url = database_url(config.get_main_option("sqlalchemy.url") or "")
    config.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
