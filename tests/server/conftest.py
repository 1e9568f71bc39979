"""Fixtures for the server's tests: a game server on a fresh SQLite file, RSA keys made once."""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.asyncio.server import serve

from handshake_game.server import GameServer
from handshake_game.server.ws import FRAME_LIMIT, http_handler, make_handler, web_directory
from handshake_game.store import Store
from handshake_game.tls.pki import generate_rsa_key

from .classroom import INSTRUCTOR_TOKEN

MakeGame = Callable[[], GameServer]


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [generate_rsa_key() for _ in range(4)]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'handshake.db'}"


@pytest.fixture
def make_game(db_url: str, rsa_keys: list[rsa.RSAPrivateKey]) -> Iterator[MakeGame]:
    """A new GameServer (with its own Store) on the same database each call: a "restart".
    Its instructor token is INSTRUCTOR_TOKEN."""
    stores: list[Store] = []

    def make() -> GameServer:
        store = Store(db_url)
        store.upgrade()
        stores.append(store)
        keys = itertools.cycle(rsa_keys)
        game = GameServer(store, rng=random.Random(len(stores)).randbytes, now=utcnow,
                          key_source=lambda: next(keys), instructor_token=INSTRUCTOR_TOKEN)
        game.load()
        return game

    yield make
    for store in stores:
        store.dispose()


class Classroom:
    def __init__(self, game: GameServer, ws_url: str) -> None:
        self.game, self.ws_url = game, ws_url


@pytest.fixture
async def classroom(db_url: str, rsa_keys: list[rsa.RSAPrivateKey]) -> AsyncIterator[Classroom]:
    store = Store(db_url)
    store.upgrade()
    keys = itertools.cycle(rsa_keys)
    game = GameServer(store, rng=random.Random(7).randbytes, now=utcnow, key_source=lambda: next(keys),
                      instructor_token=INSTRUCTOR_TOKEN)
    handler = make_handler(game, public_url="http://127.0.0.1:8765/")
    async with serve(handler, "127.0.0.1", 0, process_request=http_handler(game, web_directory()),
                     max_size=FRAME_LIMIT) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield Classroom(game, f"ws://127.0.0.1:{port}/ws")
    store.dispose()


@pytest.fixture
def make_class_game(make_game: MakeGame) -> MakeGame:
    """``make_game``, named for the class-session tests (its servers hold INSTRUCTOR_TOKEN)."""
    return make_game
