"""A class over real websockets on loopback: the instructor runs it, students play it live."""

from __future__ import annotations

import asyncio
from typing import Any

from handshake_game.game import Seat
from handshake_game.game.sharing import SHARING, client_session, server_session

from .classroom import INSTRUCTOR_TOKEN, instructor_message, open_peer, play_seat
from .conftest import Classroom


def names_at(entry: dict[str, Any]) -> dict[str, Any]:
    """A dashboard entry's seats: who holds each (player or bot), without ids or figures."""
    return {seat: None if who is None else {k: v for k, v in who.items() if k in ("player", "bot")}
            for seat, who in entry["seats"].items()}


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
    assert (board["join_code"], board["join_url"], board["started"], board["ended"]) == (
        code, created["join_url"], False, False)
    assert board["qr_svg"] == created["qr_svg"] and board["variant"] == "tls12-rsa"
    assert names_at(board["tables"][1]) == {"client": {"player": "ed"}, "server": None, "ca": None,
                                           "eavesdropper": None}
    assert all(t["paused"] and t["steps_done"] == 0 for t in board["tables"])
    move = {"type": "move", "table_id": table_1, "action": {"name": "PublishRoot", "fields": {}}}
    await students[2].refused(move | {"token": "forged"}, "bad_token")
    await students[2].refused(move | {"token": seated[0]["token"], "seat": "ca"}, "wrong_seat")
    await students[2].refused(move | {"token": seated[2]["token"], "table_id": table_2}, "bad_token")
    await students[2].refused(move | {"token": seated[2]["token"]}, "paused")  # paused until the start
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
    # The eavesdropper watched, then tried to decrypt its recording; the client played.
    assert finals[3][1] == 1 and finals[0][1] >= 5

    board = await instructor.ask(instructor_message("dashboard", class_id), "dashboard")
    entries = {t["table_id"]: t for t in board["tables"]}
    assert board["started"] and not board["ended"]
    assert all(t["completed"] and t["step"] is None and t["failed"] is None for t in entries.values())
    assert names_at(entries[table_1]) == {"client": {"player": "ana"}, "server": {"player": "bo"},
                                         "ca": {"player": "cy"}, "eavesdropper": {"player": "di"}}
    assert names_at(entries[table_2]) == {"client": {"player": "ed"}, "server": {"bot": "honest"},
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
        # Never another seat's secret: no secret value only others hold reached this seat — but the
        # two ends of this (honest or passively watched) session share its secrets (sharing.py):
        # the server's inspector opens the client's Finished with the keys it derived.
        own = {item["value"] for item in wallets[seat["seat"]].values()}
        received = "".join(student.texts)
        for other, wallet in wallets.items():
            if other != seat["seat"]:
                for name, item in wallet.items():
                    session = SHARING.get((Seat(other), name)) in (client_session, server_session)
                    if session and {seat["seat"], other} == {"client", "server"}:
                        continue
                    if item["secret"] and item["value"] not in own:
                        assert item["value"] not in received, (seat["seat"], other, name)

    ended = await instructor.ask(instructor_message("end", class_id), "done")
    assert ended["action"] == "end"
    late = await open_peer(classroom.ws_url)
    await late.refused({"type": "join", "join_code": code, "name": "fay"}, "session_ended")
    for peer in [instructor, late, *students]:
        await peer.ws.close()
