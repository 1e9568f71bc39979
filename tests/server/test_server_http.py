"""HTTP beside the websocket: the static front end (and nothing else from the disk), the step
catalog the pages take their names from, and the instructor's downloads, each checked against
the class's instructor token; and the players the instructor moves, told over their own
connections."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from wireshark_helpers import http_seen

from handshake_game.game import catalog_json
from handshake_game.server.ws import web_directory

from .classroom import INSTRUCTOR_TOKEN, Peer, instructor_message, open_peer, play_seat
from .conftest import Classroom


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def http_base(classroom: Classroom) -> str:
    return classroom.ws_url.replace("ws://", "http://").removesuffix("ws")


async def test_static_files_come_from_web_and_only_from_there(classroom: Classroom) -> None:
    base = http_base(classroom)
    status, headers, body = await asyncio.to_thread(http_get, base)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert body == (web_directory() / "index.html").read_bytes()
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = await asyncio.to_thread(http_get, base + "js/net.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert body == (web_directory() / "js" / "net.js").read_bytes()
    for path in ("../pyproject.toml", "%2e%2e/pyproject.toml", "js/../../pyproject.toml", "README.md",
                 "nope.html", "js/"):
        status, _, body = await asyncio.to_thread(http_get, base + path)
        assert status == 404, path
        assert b"[project]" not in body


async def test_the_catalog_is_served_whole_and_names_every_step(classroom: Classroom) -> None:
    base = http_base(classroom)
    status, headers, body = await asyncio.to_thread(http_get, base + "catalog.json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert "max-age" in headers["Cache-Control"] and "no-cache" not in headers["Cache-Control"]
    served = json.loads(body)
    assert served == catalog_json()

    # Every step a page can meet (a variant's own, or one a scenario adds) has a label, and
    # every scenario a variant plays is one the scenario list stages for it.
    labels = served["step_labels"]
    stories = {scenario["id"]: scenario for scenario in served["scenarios"]}
    seats = {seat["id"] for seat in served["seats"]}
    for variant in served["variants"]:
        assert variant["name"] and variant["steps"] and variant["scenarios"]
        for step in variant["steps"]:
            assert labels.get(step["id"]) and step["seat"] in seats, step
        for scenario, step_ids in variant["scenarios"].items():
            assert variant["id"] in stories[scenario]["variants"], (variant["id"], scenario)
            missing = [step_id for step_id in step_ids if not labels.get(step_id)]
            assert step_ids and not missing, (variant["id"], scenario, missing)
    for scenario in served["scenarios"]:
        staged = {v["id"] for v in served["variants"] if scenario["id"] in v["scenarios"]}
        assert scenario["story"] and set(scenario["variants"]) == staged, scenario["id"]

    # Computed once, and a page that holds it revalidates it for nothing.
    status, headers, again = await asyncio.to_thread(http_get, base + "catalog.json",
                                                     {"If-None-Match": headers["ETag"]})
    assert status == 304 and again == b""
    status, _, again = await asyncio.to_thread(http_get, base + "catalog.json", {"If-None-Match": '"stale"'})
    assert status == 200 and again == body


async def play_a_class_table(classroom: Classroom) -> tuple[Peer, int, int]:
    """A class of one student (the client; bots play the rest), played to the end."""
    instructor = await open_peer(classroom.ws_url)
    created = await instructor.ask({"type": "create_session", "token": INSTRUCTOR_TOKEN,
                                    "variant": "tls12-rsa", "difficulty": "guided"}, "session_created")
    student = await open_peer(classroom.ws_url)
    seated = await student.ask({"type": "join", "join_code": created["join_code"], "name": "ana"}, "seated")
    await student.receive()  # the waiting view
    await instructor.ask(instructor_message("start", created["class_session_id"]), "done")
    last, _ = await play_seat(student, seated)
    assert last["completed"]
    return instructor, created["class_session_id"], seated["table_id"]


async def test_the_instructor_downloads_scores_and_a_capture_that_decrypts(classroom: Classroom,
                                                                          tmp_path: Path) -> None:
    _, class_id, table_id = await play_a_class_table(classroom)
    base = http_base(classroom)

    bearer = {"Authorization": f"Bearer {INSTRUCTOR_TOKEN}"}
    status, headers, body = await asyncio.to_thread(
        http_get, f"{base}download/scores.csv?class_session_id={class_id}", bearer)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert list(rows[0]) == ["classroom", "round", "variant", "scenario", "difficulty", "table", "seat",
                             "player", "points", "mistakes", "hints", "quiz_correct", "quiz_answered",
                             "completed", "outcome", "time"]
    (ana,) = [row for row in rows if row["player"] == "ana"]
    assert (ana["round"], ana["table"], ana["seat"], ana["completed"], ana["outcome"]) == (
        "1", "1", "client", "yes", "completed")
    status, headers, report = await asyncio.to_thread(
        http_get, f"{base}download/report.html?class_session_id={class_id}", bearer)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"<script" not in report and b"ana" in report and b"The whole class" in report

    status, headers, keylog = await asyncio.to_thread(
        http_get, f"{base}download/table-{table_id}.keylog", bearer)
    assert status == 200 and keylog.startswith(b"CLIENT_RANDOM ")
    status, headers, capture = await asyncio.to_thread(
        http_get, f"{base}download/table-{table_id}.pcapng", bearer)
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    path = tmp_path / "table.pcapng"
    path.write_bytes(capture)
    seen = await asyncio.to_thread(http_seen, path)  # the keys are embedded: tshark decrypts it
    assert "GET /grades HTTP/1.1" in seen.stream_text

    # The token never travels in the address: one there is ignored, as is a wrong one; and
    # without the right token a missing class and an existing one get the same answer.
    wrong = {"Authorization": "Bearer guess-guess-guess-guess"}
    in_the_address = f"download/scores.csv?class_session_id={class_id}&token={INSTRUCTOR_TOKEN}"
    for url, headers_sent in [(in_the_address, {}),
                              (f"download/scores.csv?class_session_id={class_id}", wrong),
                              ("download/scores.csv?class_session_id=99999", wrong),
                              (f"download/table-{table_id}.pcapng", wrong),
                              ("download/table-99999.pcapng", wrong),
                              (f"download/table-{table_id}.keylog", {"Authorization": INSTRUCTOR_TOKEN})]:
        status, _, body = await asyncio.to_thread(http_get, base + url, headers_sent)
        assert status == 403 and b"CLIENT_RANDOM" not in body, url
    status, _, _ = await asyncio.to_thread(http_get, f"{base}download/table-999.keylog", bearer)
    assert status == 404
    for bad in ("x", "1" * 30, "-1"):
        status, _, _ = await asyncio.to_thread(http_get, f"{base}download/scores.csv?class_session_id={bad}",
                                               bearer)
        assert status == 400, bad


@pytest.mark.parametrize("how", ["rotate_seats", "move_seat"])
async def test_moved_players_are_told_on_their_own_connections(classroom: Classroom, how: str) -> None:
    instructor = await open_peer(classroom.ws_url)
    created = await instructor.ask({"type": "create_session", "token": INSTRUCTOR_TOKEN,
                                    "variant": "tls12-rsa", "difficulty": "guided"}, "session_created")
    class_id = created["class_session_id"]
    ana = await open_peer(classroom.ws_url)
    seated = await ana.ask({"type": "join", "join_code": created["join_code"], "name": "ana"}, "seated")
    assert seated["seat"] == "client"
    await ana.receive()
    if how == "rotate_seats":
        request = instructor_message("rotate_seats", class_id)
    else:
        request = instructor_message("move_seat", class_id, table_id=seated["table_id"], seat="client",
                                     to_table_id=seated["table_id"], to_seat="eavesdropper")
    done = await instructor.ask(request, "done")
    assert done["type"] == "done" and done["table_ids"] == [seated["table_id"]], done
    reseated = await ana.ask({"type": "resume", "table_id": seated["table_id"], "token": seated["token"]},
                             "reseated")
    wanted = "server" if how == "rotate_seats" else "eavesdropper"
    assert reseated == {"type": "reseated", "table_id": seated["table_id"], "seat": wanted,
                        "class_session_id": class_id}
    view = await ana.ask({"type": "resume", "table_id": seated["table_id"], "token": seated["token"]}, "view")
    assert view["view"]["seat"] == wanted
    board = await instructor.ask(instructor_message("dashboard", class_id), "dashboard")
    assert board["tables"][0]["seats"][wanted]["player"] == "ana"
