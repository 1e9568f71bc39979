"""End to end: `python -m handshake_game serve` as its own process, played over real websockets."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from handshake_game.server.protocol import MAX_MESSAGE_BYTES
from handshake_game.server.ws import web_directory


class Served:
    def __init__(self, process: asyncio.subprocess.Process, http_url: str, ws_url: str,
                 log: IO[bytes]) -> None:
        self.process, self.http_url, self.ws_url, self.log = process, http_url, ws_url, log


async def start_server(tmp_path: Path) -> Served:
    """Start the server on a port the OS picks and wait for the URLs it prints."""
    log = (tmp_path / "server.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handshake_game", "serve", "--host", "127.0.0.1", "--port", "0",
        "--db", f"sqlite:///{tmp_path / 'e2e.db'}", "--rate-limit", "1000", cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=log)
    assert process.stdout is not None
    urls: list[str] = []
    while not any(url.startswith("ws://") for url in urls):
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line, f"the server exited: {(tmp_path / 'server.log').read_text()}"
        urls += [word for word in line.split() if word.startswith(("http://", "ws://"))]
    http_url = next(url for url in urls if url.startswith("http://"))
    ws_url = next(url for url in urls if url.startswith("ws://"))
    assert ws_url.endswith("/ws") and http_url.endswith("/")
    return Served(process, http_url, ws_url, log)


async def stop_server(served: Served) -> int:
    served.process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(served.process.wait(), 30)
    finally:
        served.log.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Served]:
    served = await start_server(tmp_path)
    yield served
    if served.process.returncode is None:
        assert await stop_server(served) == 0


async def ask(ws: ClientConnection, message: dict[str, Any] | str) -> dict[str, Any]:
    await ws.send(message if isinstance(message, str) else json.dumps(message))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 60))
    return reply


async def expect_error(ws: ClientConnection, message: dict[str, Any] | str, code: str) -> None:
    reply = await ask(ws, message)
    assert reply["type"] == "error" and reply["code"] == code, reply


def http_get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


async def test_solo_table_over_websockets_survives_bad_input(server: Served, tmp_path: Path) -> None:
    status, _, body = await asyncio.to_thread(http_get, server.http_url + "healthz")
    assert (status, body.splitlines()[:2]) == (200, ["ok", "database: writable"])
    status, content_type, page = await asyncio.to_thread(http_get, server.http_url)
    assert status == 200 and content_type.startswith("text/html")
    assert page == (web_directory() / "index.html").read_text(encoding="utf-8")

    async with connect(server.ws_url, max_size=None) as ws:
        await expect_error(ws, {"type": "solo", "variant": "tls12-rsa", "seat": "client", "name": "a"},
                           "hello_required")
        welcome = await ask(ws, {"type": "hello", "protocol": 1})
        assert welcome["type"] == "welcome" and welcome["protocol"] == 1

        await ws.send(json.dumps({"type": "solo", "variant": "tls12-rsa", "scenario": "honest",
                                  "difficulty": "guided", "seat": "client", "name": "ana"}))
        seated = json.loads(await asyncio.wait_for(ws.recv(), 60))
        first = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert seated["type"] == "seated" and seated["seat"] == "client"
        assert first["type"] == "view" and first["view"]["step"] == "client.hello"
        table_id, token = seated["table_id"], seated["token"]

        seen = first["view"]
        moves = 0
        while not seen["completed"]:
            # Bad input between the moves: each gets its error, and the table carries on.
            await expect_error(ws, "{garbage", "malformed_json")
            await expect_error(ws, "x" * (MAX_MESSAGE_BYTES + 10), "too_large")
            await expect_error(ws, {"type": "teleport"}, "unknown_type")
            await expect_error(ws, {"type": "move", "table_id": table_id, "token": "forged",
                                    "action": {"name": "Forward", "fields": {}}}, "bad_token")
            await expect_error(ws, {"type": "move", "table_id": table_id, "token": token,
                                    "action": {"name": "Nope", "fields": {}}}, "unknown_action")
            await expect_error(ws, {"type": "move", "table_id": table_id, "token": token, "seat": "server",
                                    "action": {"name": "Forward", "fields": {}}}, "wrong_seat")
            offered = seen["offered"]
            assert offered is not None and seen["your_turn"]
            reply = await ask(ws, {"type": "move", "table_id": table_id, "token": token,
                                   "action": {"name": offered["action"], "fields": offered["fields"]}})
            assert reply["type"] == "view", reply
            seen = reply["view"]
            moves += 1
        assert moves == 7 and seen["failed"] is None
        assert all(v["ok"] for v in seen["verdicts"])
        await expect_error(ws, {"type": "move", "table_id": table_id, "token": token,
                                "action": {"name": "VerifyFinished", "fields": {}}}, "table_over")

    # A new connection resumes with the token; after a restart on the same database too.
    async with connect(server.ws_url, max_size=None) as ws:
        await ask(ws, {"type": "hello", "protocol": 1})
        resumed = await ask(ws, {"type": "resume", "table_id": table_id, "token": token})
        assert resumed["view"]["completed"] and resumed["view"]["scores"] == seen["scores"]
    assert await stop_server(server) == 0

    restarted = await start_server(tmp_path)
    try:
        async with connect(restarted.ws_url, max_size=None) as ws:
            await ask(ws, {"type": "hello", "protocol": 1})
            again = await ask(ws, {"type": "resume", "table_id": table_id, "token": token})
            assert again["view"]["scores"] == seen["scores"] and again["view"]["completed"]
            assert again["view"]["wallet"] == seen["wallet"]
    finally:
        assert await stop_server(restarted) == 0
