"""Fixtures for the store's tests: a deterministic referee and fresh databases."""

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


@pytest.fixture
def memory_store() -> Iterator[Store]:
    store = Store("sqlite://")
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'handshake.db'}"
