"""Fixtures for the store's tests: a deterministic referee and fresh databases.

Every test that takes ``db_url`` or ``store`` runs once per backend: on SQLite (a file,
or in memory) and on PostgreSQL (a database of its own, see ``postgres_url`` in
tests/conftest.py). A test for one backend only says so with
``@pytest.mark.parametrize("backend", ["sqlite"])``.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handshake_game.game import Referee
from handshake_game.store import Store
from handshake_game.tls.pki import generate_rsa_key


@pytest.fixture(scope="session")
def make_referee() -> Callable[[int], Referee]:
    """A referee with seeded randomness and four RSA keys generated once (as in tests/game)."""
    keys = [generate_rsa_key() for _ in range(4)]

    def make(seed: int = 0) -> Referee:
        pool = iter(keys * 4)
        return Referee(rng=random.Random(seed).randbytes, now=lambda: datetime.datetime.now(datetime.UTC),
                       rsa_keys=lambda: next(pool))

    return make


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database's URL: a SQLite file, or a PostgreSQL database of its own."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'handshake.db'}"


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated, empty Store: SQLite in memory, or a PostgreSQL database of its own."""
    url = "sqlite://" if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    store = Store(url)
    store.upgrade()
    yield store
    store.dispose()
