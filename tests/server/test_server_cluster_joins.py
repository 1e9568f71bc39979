"""A class joining all at once across two processes on PostgreSQL: every student is seated,
four to a table, with no seat given twice and no request left unanswered. (A process that
read the class's last table as it stood before the other process filled it once picked a seat
from a full table: the join raised inside a worker thread and its reply never came.)"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from handshake_game.tools.netbots import SEATS_PER_TABLE, seat_class

from .test_server_hostile import TOKEN, Server

TABLES = 25


def test_a_class_of_a_hundred_joins_at_once_through_two_processes(tmp_path: Path, postgres_url: str) -> None:
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--workers", "2", "--rate-limit", "1000",
                    db=postgres_url)
    try:
        deadline = time.monotonic() + 60
        while " serving on port " not in server.log():  # the second process is listening too
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)

        async def join_all() -> list[tuple[int, str]]:
            seated = await seat_class(server.ws, TOKEN, TABLES, "tls12-rsa", connect_limit=100)
            try:
                return [(student.table_id, student.seat) for student in seated.students]
            finally:
                await seated.close()

        seats = asyncio.run(asyncio.wait_for(join_all(), 120))
        log = server.log()
    finally:
        server.stop()
    assert len(seats) == SEATS_PER_TABLE * TABLES
    assert len(set(seats)) == len(seats)  # no seat given twice
    per_table = Counter(table_id for table_id, _ in seats)
    assert len(per_table) == TABLES and set(per_table.values()) == {SEATS_PER_TABLE}
    processes = {line.split("[", 1)[1].split("]", 1)[0] for line in log.splitlines() if " joins table " in line}
    assert len(processes) == 2, "both processes seated students"
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
