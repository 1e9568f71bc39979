"""Several server processes on one PostgreSQL database: the four seats of one table on two
processes, each seeing the others' moves pushed; a process killed mid-class, its students
carrying on at another with nothing acknowledged lost; ``serve --workers``; and SQLite
refusing more than one process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection

from .test_server_hostile import TOKEN, Server, ask, greeted


def view_of(ws: ClientConnection, timeout: float = 60) -> dict[str, Any]:
    """The next pushed view (skipping anything else)."""
    while True:
        message = json.loads(ws.recv(timeout=timeout))
        assert message["type"] != "error", message
        if message["type"] == "view":
            return message["view"]


def test_one_table_played_across_two_processes_and_one_of_them_killed(tmp_path: Path,
                                                                      postgres_url: str) -> None:
    first = Server(tmp_path, f"--instructor-token={TOKEN}", "--rate-limit", "1000", "--shared",
                   db=postgres_url)
    second = Server(tmp_path, "--rate-limit", "1000", "--shared", db=postgres_url)  # keeps the stored token
    students: list[tuple[ClientConnection, dict[str, Any], Server]] = []
    try:
        with greeted(first.ws) as teacher:
            created = ask(teacher, {"type": "create_session", "token": TOKEN, "variant": "tls12-rsa",
                                    "difficulty": "guided"})
            # Two students join through each process: one table, its seats on two processes.
            for n, server in enumerate([first, second, first, second]):
                ws = greeted(server.ws)
                seated = ask(ws, {"type": "join", "join_code": created["join_code"], "name": f"s{n}"})
                assert seated["type"] == "seated", seated
                view_of(ws)
                students.append((ws, seated, server))
            assert len({seated["table_id"] for _, seated, _ in students}) == 1
            # The instructor starts through the other process.
            with greeted(second.ws) as other_teacher:
                done = ask(other_teacher, {"type": "start", "token": TOKEN,
                                           "class_session_id": created["class_session_id"]})
                assert done["type"] == "done", done
            table_id = students[0][1]["table_id"]
            # Each student plays its turns as the pushes tell it, whichever process it is on
            # (first the views pushed as the others joined, then the started table's).
            views = {}
            for ws, seated, _ in students:
                while (seen := view_of(ws))["paused"]:
                    pass
                views[seated["seat"]] = seen
            moves = 0
            while not any(v["completed"] or v["failed"] for v in views.values()):
                turn = next((s for s, v in views.items() if v["your_turn"]), None)
                assert turn is not None, "nobody's turn and the table not over"
                ws, seated, _ = next(entry for entry in students if entry[1]["seat"] == turn)
                offered = views[turn]["offered"]
                ws.send(json.dumps({"type": "move", "table_id": table_id, "token": seated["token"],
                                    "action": {"name": offered["action"], "fields": offered["fields"]}}))
                moves += 1
                for other_ws, other, _ in students:  # one view each: the reply, or the push
                    views[other["seat"]] = view_of(other_ws)
                if moves == 6:
                    break  # halfway: kill the first process
            acknowledged = views[turn]["wire"]
            first.stop(signal.SIGKILL)
            # Its students reconnect to the other process and carry on at their step.
            for index, (ws, seated, server) in enumerate(students):
                if server is first:
                    ws.close()
                    fresh = greeted(second.ws)
                    fresh.send(json.dumps({"type": "resume", "table_id": table_id, "token": seated["token"]}))
                    views[seated["seat"]] = view_of(fresh)
                    students[index] = (fresh, seated, second)
            assert len(views["client"]["wire"]) >= len(acknowledged)  # nothing acknowledged was lost
            while not any(v["completed"] or v["failed"] for v in views.values()):
                turn = next(s for s, v in views.items() if v["your_turn"])
                ws, seated, _ = next(entry for entry in students if entry[1]["seat"] == turn)
                offered = views[turn]["offered"]
                ws.send(json.dumps({"type": "move", "table_id": table_id, "token": seated["token"],
                                    "action": {"name": offered["action"], "fields": offered["fields"]}}))
                for other_ws, other, _ in students:
                    views[other["seat"]] = view_of(other_ws)
            assert all(v["completed"] for v in views.values()), views["client"]["outcome"]
            with greeted(second.ws) as teacher_again:
                board = ask(teacher_again, {"type": "dashboard", "token": TOKEN,
                                            "class_session_id": created["class_session_id"]})
                assert board["tables"][0]["completed"] and board["started"]
    finally:
        for ws, _, _ in students:
            ws.close()
        if first.process.poll() is None:
            first.stop()
        second.stop()
    assert "Traceback" not in second.log()


def test_serve_workers_shares_one_port_on_postgresql_and_refuses_sqlite(tmp_path: Path,
                                                                         postgres_url: str) -> None:
    refused = subprocess.run([sys.executable, "-m", "handshake_game", "serve", "--port", "0",
                              "--workers", "2", "--db", f"sqlite:///{tmp_path / 'one.db'}"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert refused.returncode == 1 and "need PostgreSQL" in refused.stderr
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--workers", "2", db=postgres_url)
    try:
        deadline = time.monotonic() + 60
        while "worker" not in server.log() or "serving on port" not in server.log():
            assert time.monotonic() < deadline, server.log()[-2000:]
            time.sleep(0.2)
        # Every connection is served, whichever process the kernel hands it to.
        for n in range(12):
            with greeted(server.ws) as ws:
                seated = ask(ws, {"type": "solo", "variant": "tls13", "seat": "client", "name": f"w{n}"})
                assert seated["type"] == "seated", seated
    finally:
        server.stop()
    assert "Traceback" not in server.log()
