"""A classroom behind a reverse proxy: Debian's nginx terminates TLS in front of the server
and passes the websocket upgrade on; students play through it, and the join link names the
proxy's address (``--public-url``). The configuration is README.md's own block, read from
there: in front of one process on SQLite, and of two (``--workers 2``) on PostgreSQL, whose
processes both serve students. With ``--trusted-proxy`` the server counts each student by
the address nginx appends to ``X-Forwarded-For``, not by what a client wrote there itself."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from .test_server_cluster import view_of
from .test_server_hostile import TOKEN, Server, ask

README = Path(__file__).resolve().parents[2] / "README.md"

# What the test adds around README's block: a foreground nginx that keeps its files in the
# test's directory.
PREFIX = """
daemon off;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
"""


def readme_config(run: Path, upstream: int, port: int, cert: Path, key: Path) -> str:
    """README's nginx block, with this test's ports and files in place of its examples."""
    block = re.search(r"```nginx\n(.*?)```", README.read_text(), re.S)
    assert block is not None, "README.md shows no nginx configuration"
    config = block.group(1)
    for example, value in [("server 127.0.0.1:8765;", f"server 127.0.0.1:{upstream};"),
                           ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
                           ("/etc/ssl/classroom.pem;", f"{cert};"), ("/etc/ssl/classroom.key;", f"{key};")]:
        assert config.count(example) == 1, f"README's nginx block no longer has {example!r}"
        config = config.replace(example, value)
    return PREFIX.format(run=run) + config + "}\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Proxy:
    """nginx from README.md in front of ``server``, at ``public`` (https://localhost:PORT/)."""

    def __init__(self, tmp_path: Path, port: int, upstream: int) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        assert Path(nginx).exists(), "nginx is missing: apt-get install nginx-light"
        self.port = port
        self.public = f"https://localhost:{port}/"
        self.cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(self.cert)], check=True, capture_output=True)
        self.run = tmp_path / "nginx"
        self.run.mkdir()
        conf = self.run / "nginx.conf"
        conf.write_text(readme_config(self.run, upstream, port, self.cert, key))
        self.process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(self.run), "-e",
                                         str(self.run / "error.log")],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.trusted = ssl.create_default_context(cafile=str(self.cert))
        deadline = time.monotonic() + 20
        while True:  # nginx is up once it answers through to the server
            try:
                with urllib.request.urlopen(f"{self.public}healthz", context=self.trusted,
                                            timeout=5) as health:
                    assert health.status == 200 and b"database: writable" in health.read()
                    return
            except OSError:
                assert self.process.poll() is None, self.process.stderr.read() if self.process.stderr else ""
                assert time.monotonic() < deadline, (self.run / "error.log").read_text()
                time.sleep(0.2)

    def student(self, source: str = "127.0.0.1", forwarded: str | None = None) -> ClientConnection:
        """A greeted wss connection through nginx from the loopback address ``source``, sending
        its own ``X-Forwarded-For`` when given."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30, source_address=(source, 0))
        ws = connect(self.public.replace("https://", "wss://") + "ws", sock=sock, ssl=self.trusted,
                     server_hostname="localhost", max_size=None,
                     additional_headers={"X-Forwarded-For": forwarded} if forwarded else None).__enter__()
        assert ask(ws, {"type": "hello", "protocol": 1})["type"] == "welcome"
        return ws

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@contextlib.contextmanager
def proxied(tmp_path: Path, *args: str, db: str | None = None) -> Iterator[tuple[Server, Proxy]]:
    """The server (its join link naming the proxy) and nginx in front of it; both stopped after."""
    port = free_port()
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--public-url", f"https://localhost:{port}/",
                    *args, db=db)
    try:
        upstream = int(next(w for line in server.printed if line.startswith("Listening")
                            for w in line.split() if w.startswith("http://")).rsplit(":", 1)[1].strip("/"))
        proxy = Proxy(tmp_path, port, upstream)
        try:
            yield server, proxy
        finally:
            proxy.stop()
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def drop(ws: ClientConnection) -> None:
    """Gone without a close frame: a laptop's lid shut (the TCP connection reset)."""
    ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    ws.socket.close()


def test_students_play_through_nginx_terminating_tls(tmp_path: Path) -> None:
    with proxied(tmp_path) as (_, proxy):
        with urllib.request.urlopen(proxy.public, context=proxy.trusted, timeout=10) as page:
            assert b"Handshake" in page.read()
        with proxy.student() as teacher:
            created = ask(teacher, {"type": "create_session", "token": TOKEN, "variant": "tls13"})
            assert created["join_url"] == f"{proxy.public}?join={created['join_code']}"
            with proxy.student() as student:
                assert ask(student, {"type": "join", "join_code": created["join_code"],
                                     "name": "ana"})["type"] == "seated"
                assert json.loads(student.recv(timeout=30))["type"] == "view"


def test_a_trusted_nginx_names_each_student_and_a_header_a_client_wrote_does_not_count(
        tmp_path: Path) -> None:
    with proxied(tmp_path, "--trusted-proxy", "127.0.0.1", "--rate-limit", "1000") as (server, proxy):
        # Mallory, at 127.0.0.2, guesses the instructor token, claiming to be the teacher's
        # address: nginx appends her own, and that is the one counted.
        with proxy.student("127.0.0.2", forwarded="127.0.0.3") as mallory:
            codes = [ask(mallory, {"type": "dashboard", "token": f"guess-{n:020d}",
                                   "class_session_id": 1})["code"] for n in range(21)]
            assert codes == ["bad_instructor_token"] * 20 + ["rate_limited"]
        with proxy.student("127.0.0.2", forwarded="198.51.100.7") as again:  # another claim: still her
            assert ask(again, {"type": "create_session", "token": TOKEN, "variant": "tls13"})["code"] == \
                "rate_limited"
        # The teacher, at 127.0.0.3 behind the same proxy, is not locked out with her.
        teacher = proxy.student("127.0.0.3")
        assert ask(teacher, {"type": "create_session", "token": TOKEN, "variant": "tls13"})["type"] == \
            "session_created"
        drop(teacher)
        deadline = time.monotonic() + 20
        while "connection from 127.0.0.3 closed abruptly" not in server.log():  # the log names the teacher
            assert time.monotonic() < deadline, server.log()[-2000:]
            time.sleep(0.05)


def play_table(students: list[tuple[ClientConnection, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The four seats of one started table play the offered moves to the end; the last views."""
    views = {}
    for ws, seated in students:
        while (seen := view_of(ws))["paused"]:  # the pushes from before the start
            pass
        views[seated["seat"]] = seen
    while not any(v["completed"] or v["failed"] for v in views.values()):
        turn = next(s for s, v in views.items() if v["your_turn"])
        ws, seated = next(entry for entry in students if entry[1]["seat"] == turn)
        offered = views[turn]["offered"]
        ws.send(json.dumps({"type": "move", "table_id": seated["table_id"], "token": seated["token"],
                            "action": {"name": offered["action"], "fields": offered["fields"]}}))
        for other_ws, other in students:  # one view each: the reply, or the push
            views[other["seat"]] = view_of(other_ws)
    return views


def test_two_workers_on_postgresql_behind_nginx_both_serve_students(tmp_path: Path,
                                                                     postgres_url: str) -> None:
    with proxied(tmp_path, "--workers", "2", "--trusted-proxy", "127.0.0.1", "--rate-limit", "1000",
                 db=postgres_url) as (server, proxy):
        first = server.process.pid
        deadline = time.monotonic() + 60
        while (found := re.search(r"worker (\d+) serving on port", server.log())) is None:
            assert time.monotonic() < deadline, server.log()[-2000:]
            time.sleep(0.1)
        pids = {first, int(found.group(1))}
        # A class of two tables, its students each at an address of their own behind nginx.
        with proxy.student() as teacher:
            created = ask(teacher, {"type": "create_session", "token": TOKEN, "variant": "tls12-rsa",
                                    "difficulty": "guided"})
            students = []
            try:
                for n in range(8):
                    ws = proxy.student(f"127.0.0.{10 + n}")
                    seated = ask(ws, {"type": "join", "join_code": created["join_code"], "name": f"s{n}"})
                    assert seated["type"] == "seated", seated
                    students.append((ws, seated))
                tables = sorted({seated["table_id"] for _, seated in students})
                assert len(tables) == 2
                assert ask(teacher, {"type": "start", "token": TOKEN,
                                     "class_session_id": created["class_session_id"]})["type"] == "done"
                for table_id in tables:
                    views = play_table([entry for entry in students if entry[1]["table_id"] == table_id])
                    assert all(v["completed"] for v in views.values()), views["client"]["outcome"]
            finally:
                for ws, _ in students:
                    ws.close()
        # The kernel shares connections out between the two processes: solo students arrive
        # (and leave abruptly) until each process has opened a table for one of them.
        served: set[int] = set()
        for n in range(40):
            ws = proxy.student(f"127.0.0.{100 + n}")
            seated = ask(ws, {"type": "solo", "variant": "tls13", "seat": "client", "name": f"solo{n}"})
            drop(ws)
            opened = re.search(rf"\[(\d+)\]: table {seated['table_id']} opened", server.log())
            assert opened is not None, server.log()[-2000:]
            served.add(int(opened.group(1)))
            if served == pids:
                break
        assert served == pids, f"only {served} of {pids} served students through nginx"
        # Both processes name the students by the address nginx saw, not by nginx's own.
        deadline = time.monotonic() + 20
        while {int(pid) for pid in re.findall(r"\[(\d+)\]: connection from 127\.0\.0\.1\d\d closed abruptly",
                                             server.log())} != pids:
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(0.05)
        assert "connection from 127.0.0.1 " not in server.log()
