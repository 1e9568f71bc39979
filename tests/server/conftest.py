"""Fixtures for the server's tests: a game server on a fresh SQLite file, RSA keys made once."""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from handshake_game.server import GameServer
from handshake_game.store import Store
from handshake_game.tls.pki import generate_rsa_key


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [generate_rsa_key() for _ in range(4)]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'handshake.db'}"


@pytest.fixture
def make_game(db_url: str, rsa_keys: list[rsa.RSAPrivateKey]) -> Iterator[Callable[[], GameServer]]:
    """A new GameServer (with its own Store) on the same database each call: a "restart"."""
    stores: list[Store] = []

    def make() -> GameServer:
        store = Store(db_url)
        store.upgrade()
        stores.append(store)
        keys = itertools.cycle(rsa_keys)
        game = GameServer(store, rng=random.Random(len(stores)).randbytes, now=utcnow,
                          key_source=lambda: next(keys))
        game.load()
        return game

    yield make
    for store in stores:
        store.dispose()
