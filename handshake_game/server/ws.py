"""The asyncio edge: websockets at /ws, a few plain HTTP pages, and nothing else.

The adapter only moves JSON: it parses with ``protocol.parse``, hands the request to
``GameServer`` on a worker thread (the store and the crypto block), and sends the typed
reply. :func:`reply_to` is the one place errors become ``error`` messages; unexpected
exceptions are logged and the client gets a generic error, never their text. The
connection stays open after any error.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .. import __version__
from ..game import actions as a
from ..store import Store
from ..tls.keypool import KeyKind, KeyPool
from . import protocol as p
from .app import GameError, GameServer

log = logging.getLogger("handshake_game.server")

# Frames up to this size reach ``protocol.parse``, which refuses anything over 64 KiB with
# an error reply; only beyond this does the websockets layer close the connection (1009).
FRAME_LIMIT = 1024 * 1024

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Handshake</title></head>
<body>
<h1>Handshake — the TLS handshake game</h1>
<p>The classroom UI is coming. Until then you can play solo over the websocket at
<code>/ws</code> with JSON messages (see <code>docs/protocol.md</code>):</p>
<ol>
<li><code>{"type": "hello", "protocol": 1}</code></li>
<li><code>{"type": "solo", "variant": "tls12-rsa", "scenario": "honest", "difficulty": "guided",
"seat": "client", "name": "alice"}</code> &rarr; you get a <code>seated</code> message with your
table and token, and a <code>view</code> of your seat</li>
<li><code>{"type": "move", "table_id": 1, "token": "...", "action": {"name": "SendClientHello",
"fields": {}}}</code> for each of your steps; bots play the other seats</li>
</ol>
</body></html>
"""


class Session:
    """One connection's protocol state: whether it said hello."""

    def __init__(self) -> None:
        self.greeted = False


async def reply_to(game: GameServer, session: Session, raw: str | bytes) -> list[p.ServerMessage]:
    """The replies to one incoming frame; every failure becomes an ``error`` message here."""
    try:
        message = p.parse(raw)
        return await _dispatch(game, session, message)
    except (p.ProtocolError, GameError) as error:
        return [p.Error(code=error.code, message=error.message)]
    except Exception:
        log.exception("unexpected error while handling a message")
        return [p.Error(code="internal", message="the server could not handle that message")]


async def _dispatch(game: GameServer, session: Session,
                    message: p.Hello | p.Solo | p.Resume | p.Move | p.Hint) -> list[p.ServerMessage]:
    if isinstance(message, p.Hello):
        session.greeted = True
        return [p.Welcome(server=f"handshake-game {__version__}")]
    if not session.greeted:
        return [p.Error(code="hello_required", message='say {"type": "hello", "protocol": 1} first')]
    if isinstance(message, p.Solo):
        seated = await asyncio.to_thread(game.solo, message.variant, message.scenario, message.difficulty,
                                         message.seat, message.name)
        return [p.Seated(table_id=seated.table_id, seat=seated.seat, token=seated.token),
                p.View(table_id=seated.table_id, view=seated.view)]
    if isinstance(message, p.Resume):
        seat, view = await asyncio.to_thread(game.resume, message.table_id, message.token)
        return [p.View(table_id=message.table_id, view=view)]
    if isinstance(message, p.Move):
        action = p.build_action(message.action)
        view = await asyncio.to_thread(game.move, message.table_id, message.token, action, message.seat)
        return [p.View(table_id=message.table_id, view=view)]
    view = await asyncio.to_thread(game.move, message.table_id, message.token, a.RequestHint())
    return [p.View(table_id=message.table_id, view=view)]


def _http(connection: ServerConnection, request: Request) -> Response | None:
    path = request.path.split("?", 1)[0]
    if path == "/ws":
        return None  # the websocket handshake proceeds
    if path == "/healthz":
        return connection.respond(HTTPStatus.OK, "ok\n")
    if path == "/":
        response = connection.respond(HTTPStatus.OK, INDEX_HTML)
        headers = Headers(response.headers)
        del headers["Content-Type"]
        headers["Content-Type"] = "text/html; charset=utf-8"
        response.headers = headers
        return response
    return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")


def make_handler(game: GameServer) -> Callable[[ServerConnection], Awaitable[None]]:
    async def handler(connection: ServerConnection) -> None:
        session = Session()
        async for raw in connection:
            for reply in await reply_to(game, session, raw):
                await connection.send(p.encode(reply))

    return handler


def _print_flushed(line: str) -> None:
    print(line, flush=True)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def run(host: str, port: int, db_url: str, *, print_urls: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM: upgrade the database, replay the stored tables, listen."""
    print_urls = print_urls or _print_flushed
    store = Store(db_url)
    await asyncio.to_thread(store.upgrade)
    pool = KeyPool(target=4, kinds=(KeyKind.RSA_2048,)).start()

    def rsa_key() -> rsa.RSAPrivateKey:
        key = pool.take(KeyKind.RSA_2048).key
        assert isinstance(key, rsa.RSAPrivateKey)  # the pool holds RSA keys only
        return key

    game = GameServer(store, rng=secrets.token_bytes, now=_utcnow, key_source=rsa_key)
    replayed = await asyncio.to_thread(game.load)
    log.info("replayed %d stored tables", replayed)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        async with serve(make_handler(game), host, port, process_request=_http,
                         max_size=FRAME_LIMIT) as server:
            bound = next(iter(server.sockets)).getsockname()[1]
            shown = f"[{host}]" if ":" in host else host
            print_urls(f"Handshake classroom server: http://{shown}:{bound}/")
            print_urls(f"Solo play over the websocket: ws://{shown}:{bound}/ws")
            await stop.wait()
    finally:
        pool.stop()
        store.dispose()
