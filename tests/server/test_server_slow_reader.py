"""A connection that stops reading never stalls its table: its messages wait in a bounded
outbox of its own, and when that is full it is dropped while the others play on."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from websockets.sync.client import connect

from .test_server_hostile import TOKEN, Server, ask, greeted


def test_a_reader_that_stops_is_dropped_and_its_table_plays_on(tmp_path: Path) -> None:
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--rate-limit", "100000")
    try:
        with greeted(server.ws) as teacher:
            created = ask(teacher, {"type": "create_session", "token": TOKEN, "variant": "tls12-rsa",
                                    "difficulty": "guided"})
            port = int(server.base.rsplit(":", 1)[1].strip("/"))
            # The stalled student reads nothing once seated, through a tiny receive buffer.
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect(("127.0.0.1", port))
            stalled = connect(server.ws, sock=raw).__enter__()
            assert ask(stalled, {"type": "hello", "protocol": 1})["type"] == "welcome"
            ask(stalled, {"type": "join", "join_code": created["join_code"], "name": "asleep"})
            with greeted(server.ws) as awake:
                seated = ask(awake, {"type": "join", "join_code": created["join_code"], "name": "awake"})
                view = json.loads(awake.recv(timeout=60))["view"]
                assert ask(teacher, {"type": "start", "token": TOKEN,
                                     "class_session_id": created["class_session_id"]})["type"] == "done"
                lesson = view["lesson"]["id"]
                # Every answer pushes the table's views, the stalled student's too (~10 KB each).
                for _ in range(600):
                    reply = ask(awake, {"type": "quiz_answer", "table_id": seated["table_id"],
                                        "token": seated["token"], "lesson_id": lesson, "question": 0,
                                        "choice": 0})
                    assert reply["type"] == "quiz_result", reply
                    if "dropped" in server.log():
                        break
                assert "connection from 127.0.0.1 dropped: it left" in server.log(), server.log()[-2000:]
                # The table never waited for the sleeper: the awake student still gets its answers.
                reply = ask(awake, {"type": "quiz_answer", "table_id": seated["table_id"],
                                    "token": seated["token"], "lesson_id": lesson, "question": 0,
                                    "choice": 0})
                assert reply["type"] == "quiz_result"
                board = ask(teacher, {"type": "dashboard", "token": TOKEN,
                                      "class_session_id": created["class_session_id"]})
                assert board["type"] == "dashboard"
            stalled.socket.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log()
