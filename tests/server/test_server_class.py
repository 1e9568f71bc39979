"""A class over real websockets on loopback: the instructor runs it, students play it live."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import serve

from handshake_game.server import GameServer
from handshake_game.server.ws import FRAME_LIMIT, _http, make_handler
from handshake_game.store import Store

from .conftest import utcnow

INSTRUCTOR_TOKEN = "teacher-secret-token"


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
    async with serve(handler, "127.0.0.1", 0, process_request=_http, max_size=FRAME_LIMIT) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield Classroom(game, f"ws://127.0.0.1:{port}/ws")
    store.dispose()


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


async def test_a_class_of_five_plays_live(classroom: Classroom) -> None:
    instructor = await open_peer(classroom.ws_url)
    await instructor.refused({"type": "create_session", "token": "guess", "variant": "tls12-rsa"},
                             "bad_instructor_token")
    created = await instructor.ask({"type": "create_session", "token": INSTRUCTOR_TOKEN,
                                    "variant": "tls12-rsa", "scenario": "honest", "difficulty": "guided"},
                                   "session_created")
    assert created["type"] == "session_created", created
    assert created["qr_svg"].lstrip().startswith(("<svg", "<?xml"))
    assert created["join_url"] == f"http://127.0.0.1:8765/?join={created['join_code']}"
    class_id, code = created["class_session_id"], created["join_code"]

    names = ["ana", "bo", "cy", "di", "ed"]
    students = [await open_peer(classroom.ws_url) for _ in names]
    await students[0].refused({"type": "join", "join_code": "NOPE99", "name": "x"}, "unknown_session")
    seated = []
    for student, name in zip(students, names, strict=True):
        seat = await student.ask({"type": "join", "join_code": code.lower(), "name": name}, "seated")
        assert seat["type"] == "seated" and seat["class_session_id"] == class_id, seat
        first = await student.receive()
        assert first["type"] == "view" and first["view"]["paused"]
        seated.append(seat)
    table_1, table_2 = seated[0]["table_id"], seated[4]["table_id"]
    assert [s["table_id"] for s in seated] == [table_1] * 4 + [table_2] and table_2 != table_1
    assert [s["seat"] for s in seated] == ["client", "server", "ca", "eavesdropper", "client"]

    # Before the start: waiting tables, typed refusals for students and for forged instructors.
    board = await instructor.ask(instructor_message("dashboard", class_id), "dashboard")
    assert [t["table_id"] for t in board["tables"]] == [table_1, table_2]
    assert board["tables"][1]["seats"] == {"client": {"player": "ed"}, "server": None, "ca": None,
                                           "eavesdropper": None}
    assert all(t["paused"] and t["steps_done"] == 0 for t in board["tables"])
    move = {"type": "move", "table_id": table_1, "action": {"name": "PublishRoot", "fields": {}}}
    await students[2].refused(move | {"token": "forged"}, "bad_token")
    await students[2].refused(move | {"token": seated[0]["token"], "seat": "ca"}, "wrong_seat")
    await students[2].refused(move | {"token": seated[2]["token"], "table_id": table_2}, "bad_token")
    await students[2].refused(move | {"token": seated[2]["token"]}, "rejected")  # paused until the start
    for kind, extra in [("start", {}), ("pause", {}), ("resume", {}), ("inject", {"table_id": table_1,
                        "scenario": "passive"}), ("leak_key", {"table_id": table_1}),
                        ("reveal", {"table_id": table_1}), ("end", {}), ("dashboard", {})]:
        await students[0].refused(instructor_message(kind, class_id, seated[0]["token"], **extra),
                                  "bad_instructor_token")
    await instructor.refused(instructor_message("resume", class_id), "not_started")

    players = [asyncio.create_task(play_seat(student, seat)) for student, seat in zip(students, seated,
                                                                                     strict=True)]
    started = await instructor.ask(instructor_message("start", class_id), "done")
    assert started == {"type": "done", "action": "start", "class_session_id": class_id,
                       "table_ids": [table_1, table_2]}
    await instructor.refused(instructor_message("start", class_id), "already_started")
    finals = await asyncio.gather(*players)

    for (final, moves), student in zip(finals, students, strict=True):
        assert final["completed"] and final["failed"] is None and not final["paused"]
        # Live: every seat saw the table move on while others played, not only its own replies.
        assert len(student.views) > moves + 1
    assert finals[3][1] == 0 and finals[0][1] >= 5  # the eavesdropper watched; the client played

    board = await instructor.ask(instructor_message("dashboard", class_id), "dashboard")
    entries = {t["table_id"]: t for t in board["tables"]}
    assert all(t["completed"] and t["step"] is None and t["failed"] is None for t in entries.values())
    assert entries[table_1]["seats"] == {"client": {"player": "ana"}, "server": {"player": "bo"},
                                         "ca": {"player": "cy"}, "eavesdropper": {"player": "di"}}
    assert entries[table_2]["seats"] == {"client": {"player": "ed"}, "server": {"bot": "honest"},
                                         "ca": {"bot": "honest"}, "eavesdropper": {"bot": "attacker"}}
    assert entries[table_1]["scores"] == finals[0][0]["scores"]
    # The instructor watched progress live: table 1's entries climb to completion.
    progress = [u["steps_done"] for u in instructor.updates if u["table_id"] == table_1]
    assert progress == sorted(progress) and progress[-1] == entries[table_1]["steps_total"]
    assert len(set(progress)) > 3 and instructor.updates[-1]["completed"]

    # The debrief: only to the instructor who asks with the right token.
    await instructor.refused(instructor_message("reveal", class_id, "guess", table_id=table_1),
                             "bad_instructor_token")
    debrief = await instructor.ask(instructor_message("reveal", class_id, table_id=table_1), "debrief")
    assert debrief["table_id"] == table_1 and debrief["debrief"]["completed"]
    wallets = debrief["debrief"]["wallets"]
    await instructor.ask(instructor_message("dashboard", class_id), "dashboard")
    for student, seat in zip(students[:4], seated[:4], strict=True):
        pong = await student.ask({"type": "hello", "protocol": 1}, "welcome", "debrief")
        assert pong["type"] == "welcome"  # nothing of the debrief came before it
        # Never another seat's secret: no secret value only others hold reached this seat.
        own = {item["value"] for item in wallets[seat["seat"]].values()}
        received = "".join(student.texts)
        for other, wallet in wallets.items():
            if other != seat["seat"]:
                for name, item in wallet.items():
                    if item["secret"] and item["value"] not in own:
                        assert item["value"] not in received, (seat["seat"], other, name)

    ended = await instructor.ask(instructor_message("end", class_id), "done")
    assert ended["action"] == "end"
    late = await open_peer(classroom.ws_url)
    await late.refused({"type": "join", "join_code": code, "name": "fay"}, "session_ended")
    for peer in [instructor, late, *students]:
        await peer.ws.close()
