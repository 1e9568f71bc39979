"""Several server processes on one PostgreSQL database: the four seats of one table on two
processes, each seeing the others' moves pushed; a process killed mid-class, its students
carrying on at another with nothing acknowledged lost; ``serve --workers``; and SQLite
refusing more than one process; a killed ``--workers`` child replaced, with a pause that
doubles when one keeps dying at start."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection

from handshake_game.server.ws import Workers

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


def wait_for_log(server: Server, pattern: str, timeout: float = 60) -> re.Match[str]:
    """The first match of ``pattern`` in the server's log (its workers write there too)."""
    deadline = time.monotonic() + timeout
    while (found := re.search(pattern, server.log())) is None:
        assert time.monotonic() < deadline, f"no {pattern!r} in the log: {server.log()[-3000:]}"
        time.sleep(0.1)
    return found


def workers_of(pid: int) -> set[int]:
    """The ``serve --worker`` processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"--worker" in command and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.add(int(entry.name))
    return found


def test_a_killed_worker_is_replaced_on_the_same_port_and_serves(tmp_path: Path, postgres_url: str) -> None:
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--workers", "2", db=postgres_url)
    first = server.process.pid
    try:
        killed = int(wait_for_log(server, r"worker (\d+) serving on port").group(1))
        assert workers_of(first) == {killed}
        os.kill(killed, signal.SIGKILL)
        wait_for_log(server, rf"\[{first}\]: worker {killed} was killed by SIGKILL; starting another")
        fresh = int(wait_for_log(server, rf"worker (?!{killed}\b)(\d+) serving on port").group(1))
        assert workers_of(first) == {fresh}  # two processes again: the first and one worker
        # The kernel hands the new worker its share of new connections, and it serves them.
        for n in range(60):
            with greeted(server.ws) as ws:
                seated = ask(ws, {"type": "solo", "variant": "tls13", "seat": "client", "name": f"r{n}"})
                assert seated["type"] == "seated", seated
            if re.search(rf"\[{fresh}\]: table {seated['table_id']} opened", server.log()):
                break
        else:
            raise AssertionError(f"the new worker {fresh} served none of 60 connections")
    finally:
        server.stop()
    # Stopping the first process stops its worker.
    assert workers_of(first) == set() and not Path(f"/proc/{fresh}").exists()
    log = server.log()
    assert log.count("starting another") == 1 and "Traceback" not in log


def test_a_worker_that_keeps_dying_is_restarted_after_a_doubling_pause() -> None:
    async def play(clock: Callable[[], float]) -> list[float]:
        pauses: list[float] = []
        enough = asyncio.Event()

        async def sleep(seconds: float) -> None:  # records the pause instead of waiting it out
            pauses.append(seconds)
            if len(pauses) == 8:
                enough.set()
            await asyncio.sleep(0)

        workers = Workers([sys.executable, "-c", "raise SystemExit(3)"], sleep=sleep, clock=clock)
        workers.start(1)
        await asyncio.wait_for(enough.wait(), 60)
        await workers.stop()
        assert workers.started >= 8
        return pauses[:8]

    # Dying at start, again and again: 1 s, then twice as long each time, up to a minute.
    assert asyncio.run(play(time.monotonic)) == [1, 2, 4, 8, 16, 32, 60, 60]
    # Dying after a long run (the clock jumps an hour per reading): replaced at once.
    hours = itertools.count(step=3600)
    assert asyncio.run(play(lambda: float(next(hours)))) == [0] * 8
