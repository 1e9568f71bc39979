"""Random messages at a live server (its own process, real websockets): every one gets a
typed reply, the connection stays open, and afterwards a normal table still completes.
Also the per-connection rate limit, at the server's default rate."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

SERVER_TYPES = {"welcome", "seated", "reseated", "view", "error", "session_created", "done", "dashboard",
                "table_update", "debrief", "quiz_result", "card"}
CLIENT_TYPES = ["hello", "solo", "resume", "move", "hint", "quiz_answer", "read_card", "create_session",
                "join", "start", "pause", "inject", "leak_key", "reveal", "end", "dashboard", "move_seat",
                "rotate_seats"]
MARKER_TABLE = -7_777_777
FIELDS = ["protocol", "variant", "scenario", "difficulty", "seat", "name", "table_id", "token", "action",
          "class_session_id", "join_code", "lesson_id", "question", "choice", "to_table_id", "to_seat"]


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "handshake_game", "serve", "--host", "127.0.0.1", "--port", "0",
         "--db", f"sqlite:///{tmp_path / 'fuzz.db'}", *extra],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        url = next((word for word in line.split() if word.startswith("ws://")), None)
        if url:
            return process, url
    raise AssertionError("the server did not start")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start(tmp_path_factory.mktemp("fuzz"), "--rate-limit", "100000")
    yield url
    process.terminate()
    assert process.wait(timeout=30) == 0


@pytest.fixture(scope="module")
def fuzzed(server: str) -> Iterator[ClientConnection]:
    with connect(server, max_size=None) as ws:
        ws.send(json.dumps({"type": "hello", "protocol": 1}))
        assert json.loads(ws.recv(timeout=30))["type"] == "welcome"
        yield ws


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
shaped = st.fixed_dictionaries(
    {"type": st.sampled_from(CLIENT_TYPES)},
    optional={name: json_values | st.integers(0, 5) | st.sampled_from(["client", "tls12-rsa", "x"])
              for name in FIELDS})
messages = st.one_of(
    shaped.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.just("[" * 100_000),
    st.just(json.dumps({"type": "join", "join_code": "X" * 70_000, "name": "n"})),
)


def replies_to(ws: ClientConnection, raw: str | bytes) -> list[dict[str, Any]]:
    """Send ``raw`` then a marker (a resume of a table that cannot exist): everything before the
    marker's error replied to ``raw``."""
    ws.send(raw)
    ws.send(json.dumps({"type": "resume", "table_id": MARKER_TABLE, "token": "marker"}))
    replies = []
    while True:
        reply = json.loads(ws.recv(timeout=60))
        assert reply["type"] in SERVER_TYPES, reply
        if reply["type"] == "error" and reply["message"] == f"no table {MARKER_TABLE}":
            return replies
        replies.append(reply)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=messages)
def test_random_messages_get_typed_replies(fuzzed: ClientConnection, raw: str | bytes) -> None:
    replies = replies_to(fuzzed, raw)
    assert replies, "every message gets a reply"
    for reply in replies:
        if reply["type"] == "error":
            assert reply["code"] != "internal", reply  # nothing the server did not expect
            assert "Traceback" not in reply["message"]


def test_a_normal_table_completes_after_the_fuzz(server: str, fuzzed: ClientConnection) -> None:
    assert fuzzed.protocol.state.name == "OPEN"  # the fuzzed connection was never closed
    with connect(server, max_size=None) as ws:
        ws.send(json.dumps({"type": "hello", "protocol": 1}))
        ws.send(json.dumps({"type": "solo", "variant": "tls12-rsa", "difficulty": "guided", "seat": "client",
                            "name": "after the storm"}))
        messages = [json.loads(ws.recv(timeout=60)) for _ in range(3)]
        assert [m["type"] for m in messages] == ["welcome", "seated", "view"]
        seated, seen = messages[1], messages[2]["view"]
        while not seen["completed"]:
            assert seen["failed"] is None and seen["your_turn"], seen
            offered = seen["offered"]
            ws.send(json.dumps({"type": "move", "table_id": seated["table_id"], "token": seated["token"],
                                "action": {"name": offered["action"], "fields": offered["fields"]}}))
            reply = json.loads(ws.recv(timeout=60))
            assert reply["type"] == "view", reply
            seen = reply["view"]
        assert seen["completed"] and seen["scores"]["client"] > 0


def test_a_flood_is_rate_limited_and_the_connection_carries_on(tmp_path: Path) -> None:
    process, url = start(tmp_path)  # the default limit: 20 a second, bursts of 40
    try:
        with connect(url) as ws:
            for _ in range(200):
                ws.send(json.dumps({"type": "hello", "protocol": 1}))
            replies = [json.loads(ws.recv(timeout=60)) for _ in range(200)]
            welcomed = sum(reply["type"] == "welcome" for reply in replies)
            limited = [reply for reply in replies if reply["type"] == "error"]
            assert all(reply["code"] == "rate_limited" for reply in limited)
            assert 40 <= welcomed < 100 and len(limited) == 200 - welcomed
            # The limit refills: once the bucket has room, the next message is handled.
            while True:
                ws.send(json.dumps({"type": "hello", "protocol": 1}))
                if json.loads(ws.recv(timeout=60))["type"] == "welcome":
                    break
    finally:
        process.terminate()
        process.wait(timeout=30)
