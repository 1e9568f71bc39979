"""A class joining all at once across two processes on PostgreSQL: every student is seated,
four to a table, with no seat given twice and no request left unanswered. (A process that
read the class's last table as it stood before the other process filled it once picked a seat
from a full table: the join raised inside a worker thread and its reply never came.)"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server.app import GameServer
from handshake_game.server.cluster import Postgres
from handshake_game.store import Store
from handshake_game.tools.netbots import SEATS_PER_TABLE, seat_class

from .classroom import INSTRUCTOR_TOKEN
from .conftest import utcnow
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
    processes = {line.split("[", 1)[1].split("]", 1)[0] for line in log.splitlines()
                 if " joins table " in line}
    assert len(processes) == 2, "both processes seated students"
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]


@pytest.fixture
def process(postgres_url: str, rsa_keys: list[rsa.RSAPrivateKey]) -> Iterator[Callable[[], GameServer]]:
    """A new GameServer on the same PostgreSQL database each call, as another process would be
    (its stored tables replayed), but hearing nothing from the others: no listener runs."""
    stores: list[Store] = []

    def make() -> GameServer:
        store = Store(postgres_url)
        store.upgrade()
        stores.append(store)
        keys = itertools.cycle(rsa_keys)
        game = GameServer(store, rng=random.Random(len(stores)).randbytes, now=utcnow,
                          key_source=lambda: next(keys), instructor_token=INSTRUCTOR_TOKEN,
                          cluster=Postgres(store))
        game.load()
        return game

    yield make
    for store in stores:
        store.dispose()


def test_seating_reads_the_seats_from_the_store_not_from_word_still_on_its_way(
        process: Callable[[], GameServer]) -> None:
    """Two processes whose word to each other never arrives (no listener: the worst delay).
    The first seats a client, the second a server at the same table; the first, seating the
    next student, must not give away the server's seat it has not heard of — nor give it to
    a bot at the start."""
    first, second = process(), process()
    room = first.create_session(INSTRUCTOR_TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    one = first.join(room.join_code, "Ada")
    two = second.join(room.join_code, "Grace")
    three = first.join(room.join_code, "Alan")
    assert one.table_id == two.table_id == three.table_id
    assert (one.seat, two.seat, three.seat) == (Seat.CLIENT, Seat.SERVER, Seat.CA)
    first.start(room.class_session_id, INSTRUCTOR_TOKEN, wait_for_keys=False)
    # Every student still holds their seat (the start gave bots only the empty one).
    for seated in (one, two, three):
        seat, _ = second.resume(seated.table_id, seated.token)
        assert seat is seated.seat
    rows = first.store.seats(one.table_id)
    assert rows[Seat.EAVESDROPPER].bot_kind is not None
    assert all(rows[s.seat].player_id == s.player_id for s in (one, two, three))


def test_the_instructors_reveal_is_in_the_tables_log_for_every_process_and_a_restart(
        process: Callable[[], GameServer]) -> None:
    """The debrief shown to a table's seats mid-play is a fact of the table: a student held by
    another process sees it too, and so does every process after a restart."""
    first, second = process(), process()
    room = first.create_session(INSTRUCTOR_TOKEN, Variant.TLS12_RSA, Scenario.MITM_SELF_SIGNED,
                                Difficulty.GUIDED)
    student = first.join(room.join_code, "Ada")
    first.start(room.class_session_id, INSTRUCTOR_TOKEN, wait_for_keys=False)
    _, before = second.resume(student.table_id, student.token)
    assert before["debrief"] is None and before["scenario"] is None  # the client is in the dark
    first.reveal(room.class_session_id, INSTRUCTOR_TOKEN, student.table_id)
    _, after = second.resume(student.table_id, student.token)
    assert after["debrief"] is not None and after["scenario"] == "mitm-self-signed"
    restarted = process()
    _, again = restarted.resume(student.table_id, student.token)
    assert again["debrief"] is not None and again["scenario"] == "mitm-self-signed"
