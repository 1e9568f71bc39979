"""The classroom server under hostile and careless use, as its own process: descriptors that
run short, sockets that never speak, abrupt disconnects, odd HTTP, a SIGKILL and a restart
that must keep everything the instructor had, and an operator's mistakes at start."""

from __future__ import annotations

import json
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from websockets.sync.client import ClientConnection, connect

TOKEN = "first-instructor-token-0123"
NEW_TOKEN = "second-instructor-token-4567"


class Server:
    def __init__(self, tmp_path: Path, *args: str, limit_files: int | None = None,
                 db: str | None = None) -> None:
        self.log_path = tmp_path / f"server-{time.monotonic_ns()}.log"
        self.db = db or f"sqlite:///{tmp_path / 'hostile.db'}"

        def limit() -> None:
            if limit_files is not None:  # soft and hard: the server cannot raise it
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit_files, limit_files))

        self.log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "handshake_game", "serve", "--host", "127.0.0.1", "--port", "0",
             "--db", self.db, *args],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=self.log_file, text=True,
            preexec_fn=limit)
        assert self.process.stdout is not None
        self.printed: list[str] = []
        for line in self.process.stdout:
            self.printed.append(line)
            if line.startswith("Instructor"):
                break
        else:
            raise AssertionError(f"the server did not start: {self.log()}")
        self.base = next(w for line in self.printed for w in line.split() if w.startswith(("http://", "https://")))
        self.ws = next(w for line in self.printed for w in line.split() if w.startswith(("ws://", "wss://")))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, how: int = signal.SIGTERM) -> None:
        self.process.send_signal(how)
        self.process.wait(timeout=30)
        self.log_file.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


def http(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


PUSHES = {"table_update", "view", "reseated", "debrief"}


def ask(ws: ClientConnection, message: dict) -> dict:  # type: ignore[type-arg]
    """The reply to ``message``: the first message that is not a live push."""
    ws.send(json.dumps(message))
    while True:
        reply = json.loads(ws.recv(timeout=60))
        if reply["type"] not in PUSHES:
            return reply


def greeted(url: str) -> ClientConnection:
    ws = connect(url, max_size=None).__enter__()  # closed by the caller's ``with`` or ``close()``
    assert ask(ws, {"type": "hello", "protocol": 1})["type"] == "welcome"
    return ws


def test_a_sigkill_and_restarts_keep_the_instructor_and_a_new_token_replaces_the_old(tmp_path: Path) -> None:
    server = Server(tmp_path, f"--instructor-token={TOKEN}")
    with greeted(server.ws) as teacher:
        created = ask(teacher, {"type": "create_session", "token": TOKEN, "variant": "tls12-rsa"})
        class_id = created["class_session_id"]
        students = [greeted(server.ws) for _ in range(4)]
        tables = {ask(ws, {"type": "join", "join_code": created["join_code"], "name": f"s{n}"})["table_id"]
                  for n, ws in enumerate(students)}
        assert len(tables) == 1  # four humans at one table: no bot seated at the start
        assert ask(teacher, {"type": "start", "token": TOKEN, "class_session_id": class_id})["type"] == "done"
        assert ask(teacher, {"type": "pause", "token": TOKEN, "class_session_id": class_id})["type"] == "done"
        for ws in students:
            ws.close()
    server.stop(signal.SIGKILL)

    # Restarted with no token: the one from before is kept (only its hash is stored).
    server = Server(tmp_path)
    assert "instructor.html#token=" not in "".join(server.printed)
    assert "token from the first start" in "".join(server.printed)
    table_id = tables.pop()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    # A download works at once, before anyone opened the class's dashboard.
    status, body = http(f"{server.base}download/table-{table_id}.pcapng", headers=bearer)
    assert status == 200 and body[:4] == b"\x0a\x0d\x0d\x0a"
    with greeted(server.ws) as teacher:
        board = ask(teacher, {"type": "dashboard", "token": TOKEN, "class_session_id": class_id})
        assert board["type"] == "dashboard" and board["started"] is True and board["ended"] is False
        assert all(table["paused"] for table in board["tables"]), board["tables"]
        again = ask(teacher, {"type": "start", "token": TOKEN, "class_session_id": class_id})
        assert again["code"] == "already_started", again
        resumed = ask(teacher, {"type": "resume", "token": TOKEN, "class_session_id": class_id})
        assert resumed["type"] == "done", resumed
        assert ask(teacher, {"type": "end", "token": TOKEN, "class_session_id": class_id})["type"] == "done"
    server.stop()

    # A new token replaces the old: the old is refused, the new opens the same classes.
    server = Server(tmp_path, f"--instructor-token={NEW_TOKEN}")
    assert "replaces the one before" in "".join(server.printed)
    with greeted(server.ws) as teacher:
        old = ask(teacher, {"type": "dashboard", "token": TOKEN, "class_session_id": class_id})
        missing = ask(teacher, {"type": "dashboard", "token": TOKEN, "class_session_id": 999_999})
        assert old["code"] == missing["code"] == "bad_instructor_token"  # missing and forbidden look alike
        board = ask(teacher, {"type": "dashboard", "token": NEW_TOKEN, "class_session_id": class_id})
        assert board["ended"] is True and board["started"] is True
    assert http(f"{server.base}download/table-{table_id}.keylog", headers=bearer)[0] == 403
    status, _ = http(f"{server.base}download/table-{table_id}.keylog",
                     headers={"Authorization": f"Bearer {NEW_TOKEN}"})
    assert status == 200
    server.stop()
    assert "Traceback" not in server.log()


def test_descriptors_that_run_short_refuse_connections_cheaply_and_the_server_carries_on(
        tmp_path: Path) -> None:
    # 256 open files at most (hard): the server caps itself at 64 connections.
    server = Server(tmp_path, limit_files=256)
    port = int(server.base.rsplit(":", 1)[1].strip("/"))
    idle: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(400):
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            except OSError:  # reset while connecting: refused at once, as meant
                refused += 1
        time.sleep(1)
        assert server.process.poll() is None, server.log()
        # Most of the 400 were refused at once (closed by the server), not left hanging.
        for sock in idle:
            sock.settimeout(0.05)
            try:
                refused += sock.recv(1) == b""
            except ConnectionResetError:
                refused += 1
            except TimeoutError:
                pass
        assert refused >= 200, refused
        for sock in idle:
            sock.close()
        # Once the sockets are gone, a student is served at once, and the log did not flood.
        deadline = time.monotonic() + 10
        while True:
            try:
                assert http(server.base + "healthz")[0] == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not recover"
                time.sleep(0.2)
        with greeted(server.ws) as ws:
            seated = ask(ws, {"type": "solo", "variant": "tls12-rsa", "seat": "client", "name": "after"})
            assert seated["type"] == "seated"
    finally:
        for sock in idle:
            sock.close()
        server.stop()
    log = server.log()
    assert log.count("\n") < 80, log[-3000:]
    assert log.count("out of system resource") < 5
    assert "Traceback" not in log


def test_silent_sockets_are_closed_after_the_hello_deadline_and_abrupt_closes_log_one_line(
        tmp_path: Path) -> None:
    server = Server(tmp_path, "--hello-timeout", "1")
    port = int(server.base.rsplit(":", 1)[1].strip("/"))
    silent = socket.create_connection(("127.0.0.1", port), timeout=10)  # never sends a byte
    mute = connect(server.ws).__enter__()  # opens the websocket, never says hello
    started = time.monotonic()
    assert silent.recv(1) == b""
    try:
        mute.recv(timeout=10)
        raise AssertionError("a websocket that never said hello was kept open")
    except Exception as closed:  # ConnectionClosed, with the server's reason
        assert "hello" in str(closed), closed
    finally:
        mute.close()
        silent.close()
    assert time.monotonic() - started < 8
    # Ten students drop off mid-game (their TCP connections reset, no close frame).
    for n in range(10):
        ws = greeted(server.ws)
        ask(ws, {"type": "solo", "variant": "tls13", "seat": "client", "name": f"gone {n}"})
        ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        ws.socket.close()
    time.sleep(1)
    server.stop()
    log = server.log()
    assert log.count("closed abruptly") == 10, log[-2000:]
    assert "Traceback" not in log and "ERROR" not in log


def test_http_serves_get_and_head_only_and_refuses_monster_addresses(tmp_path: Path) -> None:
    server = Server(tmp_path)
    for method in ("DELETE", "POST", "PUT", "PATCH", "OPTIONS"):
        for path in ("", "download/scores.csv", "healthz"):
            status, _ = http(server.base + path, method=method)
            assert status == 405, (method, path)
    status, body = http(server.base, method="HEAD")
    assert status == 200 and body == b""
    assert http(server.base + "a" * 8000)[0] == 414
    status, body = http(server.base + "healthz")
    assert status == 200 and b"database: writable" in body
    for scores in ("1" * 30, "-5", "abc"):
        status, _ = http(f"{server.base}download/scores.csv?class_session_id={scores}",
                         headers={"Authorization": "Bearer whatever-token-here"})
        assert status in (400, 403), scores
    server.stop()
    assert "Traceback" not in server.log()


def test_wrong_instructor_tokens_are_rate_limited_per_address(tmp_path: Path) -> None:
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--rate-limit", "1000")
    with greeted(server.ws) as ws:
        codes = [ask(ws, {"type": "dashboard", "token": f"guess-{n:020d}", "class_session_id": 1})["code"]
                 for n in range(30)]
        assert codes[:20] == ["bad_instructor_token"] * 20 and set(codes[20:]) == {"rate_limited"}
        # From another connection of the same address too, and over HTTP.
        with greeted(server.ws) as other:
            assert ask(other, {"type": "create_session", "token": TOKEN, "variant": "tls13"})["code"] == \
                "rate_limited"
    assert http(f"{server.base}download/table-1.keylog", headers={"Authorization": "Bearer x" * 3})[0] == 429
    server.stop()


def test_operator_mistakes_at_start_get_a_clear_message_and_exit_1(tmp_path: Path) -> None:
    short = subprocess.run([sys.executable, "-m", "handshake_game", "serve", "--port", "0",
                            "--db", f"sqlite:///{tmp_path / 'a.db'}", "--instructor-token", "short"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert short.returncode == 1 and "at least 16 characters" in short.stderr
    # A database the server cannot write: every move would be lost, so it does not start.
    db = tmp_path / "ro.db"
    Server(tmp_path, db=f"sqlite:///{db}").stop()  # made, migrated
    read_only = subprocess.run([sys.executable, "-m", "handshake_game", "serve", "--port", "0",
                                "--db", f"sqlite:///file:{db}?mode=ro&uri=true"],
                               capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert read_only.returncode == 1, read_only.stderr
    assert "read-only" in read_only.stderr and "Traceback" not in read_only.stderr


def test_every_address_gets_a_join_link_it_can_use(tmp_path: Path) -> None:
    anywhere = Server(tmp_path, "--host", "0.0.0.0")
    printed = "".join(anywhere.printed)
    assert "0.0.0.0" not in anywhere.base and "machine's own address" in printed
    anywhere.stop()
    named = Server(tmp_path, "--public-url", "http://classroom.example:8765/", f"--instructor-token={TOKEN}")
    assert named.base == "http://classroom.example:8765/"
    listening = next(w for line in named.printed if line.startswith("Listening")
                     for w in line.split() if w.startswith("http://"))
    with greeted(listening.replace("http://", "ws://") + "ws") as teacher:
        created = ask(teacher, {"type": "create_session", "token": TOKEN, "variant": "tls13"})
        assert created["join_url"] == f"http://classroom.example:8765/?join={created['join_code']}"
        assert "classroom.example" in created["qr_svg"] or created["qr_svg"].startswith("<svg")
    named.stop()


def test_the_per_address_cap_spares_loopback_where_a_proxy_speaks_for_many(tmp_path: Path) -> None:
    from handshake_game.server.ws import own_address

    address = own_address()
    assert address != "127.0.0.1", "this test needs a network address besides loopback"
    server = Server(tmp_path, "--host", "0.0.0.0", "--max-per-address", "5")
    port = int(next(w for line in server.printed if line.startswith("Listening")
                    for w in line.split() if w.startswith("http://")).rsplit(":", 1)[1].strip("/"))
    held: list[socket.socket] = []
    try:
        # Loopback: twenty at once are all kept open (a reverse proxy on this machine).
        held += [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(20)]
        # From the machine's network address: the sixth and later are closed at once.
        remote = [socket.create_connection((address, port), timeout=10) for _ in range(8)]
        held += remote
        time.sleep(0.5)
        closed = 0
        for sock in held:
            sock.settimeout(0.2)
            try:
                closed += sock.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed += 1
        assert closed == 3, closed
        assert "caps" in server.log() and f"from {address}" in server.log()
    finally:
        for sock in held:
            sock.close()
        server.stop()
