"""Issue 18 in Chromium: a process of ``serve --workers 2`` (on PostgreSQL) SIGKILLed mid-class.

The student's page notices, says it is reconnecting, reconnects by itself after a delay (no
reload: a marker set in the page before the kill is still there), resumes its seat on the
process that is left and shows the same step, with every acknowledged move still in its
verdicts and ladder; the student's next move is played there, and the instructor's dashboard
shows it. Which process holds the student's websocket is read from the log: the process that
logged the student's move is the one the move arrived at.

Every wait is on something the page or the log shows, bounded (60 s at most); nothing sleeps.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from playwright.sync_api import Page, expect

from .test_web_class import create_class, join

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60  # the longest any one wait may take (a loaded CI machine, a PostgreSQL restart)

# Installed in a page before its own scripts run: records each websocket the page opens and
# closes, and each text its status lines take, with the page's clock. A reload would replace
# it with an empty one, and the marker the test sets would be gone.
PROBE = """(() => {
  const probe = { opened: [], closed: [], texts: [], mark: null };
  window.__probe = probe;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      probe.opened.push(performance.now());
      this.addEventListener("close", () => probe.closed.push(performance.now()));
    }
  };
  addEventListener("DOMContentLoaded", () => {
    for (const id of ["status", "connection"]) {
      const node = document.getElementById(id);
      if (!node) continue;
      new MutationObserver(() => probe.texts.push({ id, at: performance.now(), text: node.textContent }))
        .observe(node, { childList: true, characterData: true, subtree: true });
    }
  });
})();"""

LOST = "⚠ Connection lost — reconnecting…"  # web/js/play.js, when its websocket closes
# After a view drawn on a live connection (web/js/play.js `render`).
UPDATED = re.compile(r"^● connected · updated ")


class Log:
    """The merged output of the server's processes, read on a thread so the pipe never fills;
    :meth:`wait_for` wakes on each new line."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.grew = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self.grew:
                self.lines.append(line)
                self.grew.notify_all()

    def text(self) -> str:
        with self.grew:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = WAIT_S) -> re.Match[str]:
        """The first match of ``pattern`` in the log, once a line brings it."""
        deadline = time.monotonic() + timeout
        with self.grew:
            while (found := re.search(pattern, "".join(self.lines))) is None:
                left = deadline - time.monotonic()
                assert left > 0, f"no {pattern!r} in the log:\n{''.join(self.lines)[-3000:]}"
                self.grew.wait(left)
            return found

    def all(self, pattern: str) -> list[re.Match[str]]:
        return list(re.finditer(pattern, self.text()))


@dataclass
class Cluster:
    process: subprocess.Popen[str]  # the first process, which spawned the worker
    log: Log
    base: str  # http://127.0.0.1:PORT/
    token: str
    worker: int = 0  # the worker's process id

    @property
    def instructor_url(self) -> str:
        return f"{self.base}instructor.html#token={self.token}"


def wait_until_gone(pid: int, pidfd: int, timeout: float = WAIT_S) -> None:
    """Waits until process ``pid`` has ended (its pidfd becomes readable: any process, not
    only a child of ours)."""
    readable, _, _ = select.select([pidfd], [], [], timeout)
    assert readable, f"process {pid} still runs after {timeout} s"


def is_our_worker(pid: int) -> bool:
    """Whether ``pid`` is (still) a ``handshake_game serve --worker`` process, not a reused id."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"handshake_game" in command and b"--worker" in command


def stop_worker(pid: int) -> None:
    """SIGTERM, then SIGKILL after a minute: a worker left behind when its parent was killed."""
    if not is_our_worker(pid):
        return
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        for how in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, how)
            if select.select([pidfd], [], [], WAIT_S)[0]:
                return
    finally:
        os.close(pidfd)


@pytest.fixture
def cluster(postgres_url: str) -> Iterator[Cluster]:
    """``serve --workers 2`` on a fresh PostgreSQL database, both processes serving."""
    token = secrets.token_urlsafe(16)
    process = subprocess.Popen(
        [sys.executable, "-m", "handshake_game", "serve", "--host", "127.0.0.1", "--port", "0",
         "--workers", "2", "--db", postgres_url, f"--instructor-token={token}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    log = Log(process.stdout)
    try:
        base = log.wait_for(r"Handshake classroom server: (\S+)").group(1)
        served = Cluster(process, log, base, token)
        served.worker = int(log.wait_for(r"worker (\d+) serving on port ").group(1))
        yield served
    finally:
        if process.poll() is None:  # it stops its workers (and any replacement it started)
            process.terminate()
            try:
                process.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=WAIT_S)
        # A worker outlives a killed first process: stop every one the log named.
        for pid in {int(m.group(1)) for m in log.all(r"worker (\d+) serving on port ")}:
            stop_worker(pid)


def play(page: Page, action: str) -> None:
    """Click the suggested move and wait for the referee's verdict on it (acknowledged)."""
    verdicts = page.get_by_test_id("verdicts")
    count = int(verdicts.get_attribute("data-count") or "0")
    form = page.get_by_test_id(f"choice-form-{action}")
    expect(form).to_have_attribute("data-recommended", "true")
    page.get_by_test_id(f"choice-{action}").click()
    expect(verdicts).to_have_attribute("data-count", str(count + 1))
    expect(page.get_by_test_id("feedback")).to_contain_text("✓ ok")
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", "turn")


def probe(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("window.__probe")
    return found


def test_a_sigkilled_process_its_student_reconnects_and_carries_on_at_its_step(
        cluster: Cluster, new_page: Callable[..., Page], shot: Callable[[Page, str], Path]) -> None:
    teacher = new_page("laptop")
    teacher.add_init_script(PROBE)
    code = create_class(teacher, cluster.instructor_url)
    student = new_page("phone")
    student.add_init_script(PROBE)
    join(student, cluster.base, code, "ana")
    expect(student.get_by_test_id("seat")).to_contain_text("ana: the client")

    expect(teacher.get_by_test_id("tables").locator("article")).to_have_count(1)
    table_id = int(teacher.get_by_test_id("tables").locator("article").get_attribute("data-table-id") or "")
    progress = teacher.get_by_test_id(f"table-{table_id}-progress")
    teacher.get_by_test_id("start").click()  # the bots take the other seats and play up to the client
    expect(teacher.get_by_test_id("status")).to_contain_text("started")
    expect(progress).to_have_text("4 / 15 steps")

    # Two moves, each acknowledged (a verdict came back).
    play(student, "SendClientHello")
    play(student, "AcceptCertificate")
    step = student.get_by_test_id("step")
    expect(step).to_have_attribute("data-step", "client.key_exchange")
    expect(progress).to_have_text("7 / 15 steps")
    ladder = student.get_by_test_id("ladder").inner_text()
    verdicts = student.get_by_test_id("verdicts").inner_text()
    assert "ServerHello" in ladder and "Certificate" in ladder, ladder

    # The process the student's moves arrived at holds its websocket.
    movers = {int(m.group(1)) for m in cluster.log.all(
        rf"\[(\d+)\]: table {table_id}: client (?:SendClientHello|AcceptCertificate), step ")}
    assert len(movers) == 1, cluster.log.text()[-3000:]
    victim = movers.pop()
    first = cluster.process.pid
    assert victim in {first, cluster.worker}, (victim, first, cluster.worker)
    student.evaluate("window.__probe.mark = 'before the kill'")
    teacher.evaluate("window.__probe.mark = 'before the kill'")
    before = probe(student)
    assert len(before["opened"]) == 1 and before["closed"] == [], before  # one websocket, still open

    started = time.monotonic()
    pidfd = os.pidfd_open(victim)
    try:
        os.kill(victim, signal.SIGKILL)
        wait_until_gone(victim, pidfd)
    finally:
        os.close(pidfd)
    if victim == first:
        cluster.process.wait(timeout=WAIT_S)  # reaped; its worker serves on alone
        assert is_our_worker(cluster.worker)
    else:  # the first process serves on, and starts another worker
        cluster.log.wait_for(rf"\[{first}\]: worker {victim} was killed by SIGKILL; starting another")

    # The page says it lost the connection, then reconnects by itself and draws a fresh view.
    student.wait_for_function("""([lost, updated]) => {
        const texts = window.__probe.texts.filter((t) => t.id === "status").map((t) => t.text);
        const at = texts.indexOf(lost);
        return at >= 0 && texts.slice(at + 1).some((text) => new RegExp(updated).test(text));
    }""", arg=[LOST, UPDATED.pattern], timeout=WAIT_S * 1000)
    reconnected = time.monotonic() - started
    seen = probe(student)
    assert seen["mark"] == "before the kill", "the page was reloaded"
    opened, closed = seen["opened"], seen["closed"]
    assert len(opened) >= 2 and len(closed) == len(opened) - 1, seen  # every attempt but the last closed
    # A delay before each new attempt (web/js/net.js: 250 ms first, doubling, each jittered by ±50 %,
    # so one is never less than 2 × 0.5 / 1.5 of the one before).
    waits = [opened[n + 1] - closed[n] for n in range(len(closed))]
    assert waits[0] >= 100, waits
    assert all(b >= a * 0.6 for a, b in zip(waits, waits[1:], strict=False)), waits
    expect(student.get_by_test_id("status")).to_have_text(UPDATED)

    # The same step, nothing acknowledged lost: both verdicts and the ladder as before.
    expect(step).to_have_attribute("data-step", "client.key_exchange")
    expect(student.get_by_test_id("verdicts")).to_have_attribute("data-count", "2")
    expect(student.get_by_test_id("verdicts")).to_have_text(verdicts, use_inner_text=True)
    expect(student.get_by_test_id("ladder")).to_have_text(ladder, use_inner_text=True)
    expect(student.get_by_test_id("table-state")).to_have_attribute("data-kind", "turn")
    shot(student, "student-reconnected-after-sigkill")

    # The next move is played on a process that lives, and the table advances.
    play(student, "EncryptPremaster")
    expect(step).to_have_attribute("data-step", "client.finished")
    moved = cluster.log.wait_for(rf"\[(\d+)\]: table {table_id}: client EncryptPremaster, step ")
    assert int(moved.group(1)) != victim

    # The instructor's dashboard carries on (by itself too, if it was on the killed process).
    expect(progress).to_have_text("8 / 15 steps")
    expect(teacher.get_by_test_id("connection")).to_have_text("● connected")
    assert probe(teacher)["mark"] == "before the kill", "the dashboard was reloaded"
    shot(teacher, "instructor-after-sigkill")
    killed = "first process" if victim == first else "worker"
    print(f"killed the {killed} {victim}; the page was back {reconnected:.1f} s later after waits {waits}")
    assert "Traceback" not in cluster.log.text()
