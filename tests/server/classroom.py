"""A classroom over real websockets on loopback for the server's tests: the game server
behind the real handler, and ``Peer``, a websocket client that keeps what it received."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

INSTRUCTOR_TOKEN = "teacher-secret-token"


class Peer:
    """One websocket client that keeps every message it received (as text and as JSON)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.texts: list[str] = []
        self.views: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        text = await asyncio.wait_for(self.ws.recv(), 60)
        assert isinstance(text, str)
        self.texts.append(text)
        message: dict[str, Any] = json.loads(text)
        if message["type"] == "view":
            self.views.append(message["view"])
        elif message["type"] == "table_update":
            self.updates.append(message["table"])
        return message

    async def ask(self, message: dict[str, Any], *wanted: str) -> dict[str, Any]:
        """Send ``message``; the first reply of a ``wanted`` type (or an error), live updates aside."""
        await self.ws.send(json.dumps(message))
        while True:
            reply = await self.receive()
            if reply["type"] in wanted or reply["type"] == "error":
                return reply

    async def refused(self, message: dict[str, Any], code: str) -> None:
        reply = await self.ask(message, "error")
        assert reply["type"] == "error" and reply["code"] == code, reply


async def open_peer(url: str) -> Peer:
    peer = Peer(await connect(url, max_size=None).__aenter__())
    welcome = await peer.ask({"type": "hello", "protocol": 1}, "welcome")
    assert welcome["type"] == "welcome"
    return peer


async def play_seat(peer: Peer, seated: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Play the seat from its live views at guided difficulty (the offered move) until the
    table ends; returns the last view and how many moves were made."""
    acted: set[tuple[Any, ...]] = set()
    moves = 0
    while True:
        message = await peer.receive()
        assert message["type"] == "view" and message["table_id"] == seated["table_id"], message
        seen = message["view"]
        assert seen["seat"] == seated["seat"]
        if seen["completed"] or seen["failed"] is not None:
            return seen, moves
        key = (seen["step"], len(seen["verdicts"]), len(seen["wire"]))
        if seen["your_turn"] and not seen["paused"] and key not in acted:
            acted.add(key)
            offered = seen["offered"]
            assert offered is not None
            await peer.ws.send(json.dumps({
                "type": "move", "table_id": seated["table_id"], "token": seated["token"],
                "action": {"name": offered["action"], "fields": offered["fields"]}}))
            moves += 1


def instructor_message(kind: str, class_session_id: int, token: str = INSTRUCTOR_TOKEN,
                       **fields: Any) -> dict[str, Any]:
    return {"type": kind, "token": token, "class_session_id": class_session_id, **fields}
