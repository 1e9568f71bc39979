"""A class at a glance and in rounds: each table's number within its class, who is stuck, an
injected attack that never began, each student's record, a selection of tables, rounds with
the seats rotated and the points adding up, and the list of classes — kept across restarts."""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from handshake_game.game import actions as a
from handshake_game.game.guide import correct_action
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import GameServer
from handshake_game.server.app import NotStarted
from handshake_game.store import Store

from .classroom import INSTRUCTOR_TOKEN as TOKEN
from .classroom import instructor_message, open_peer
from .conftest import Classroom


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 12, 5, 9, 0, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clocked(db_url: str, rsa_keys: list[rsa.RSAPrivateKey]) -> Callable[[Clock], GameServer]:
    stores: list[Store] = []

    def make(clock: Clock) -> GameServer:
        store = Store(db_url)
        store.upgrade()
        stores.append(store)
        keys = itertools.cycle(rsa_keys)
        game = GameServer(store, rng=random.Random(len(stores)).randbytes, now=clock,
                          key_source=lambda: next(keys), instructor_token=TOKEN)
        game.load()
        return game

    yield make  # type: ignore[misc]
    for store in stores:
        store.dispose()


def play(game: GameServer, table_id: int, token: str, seat: Seat, clock: Clock) -> None:
    """The careful move for ``seat`` now."""
    action = correct_action(game.state(table_id), seat, clock())
    assert action is not None
    game.move(table_id, token, action)


def test_the_overview_flags_who_is_stuck_and_an_attack_that_never_began(clocked) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    game = clocked(clock)
    room = game.create_session(TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD)
    students = [game.join(room.join_code, name) for name in ("ana", "bo", "cy", "di", "ed")]
    assert [s.table_id for s in students[:4]] == [students[0].table_id] * 4
    first, second = students[0].table_id, students[4].table_id
    game.start(room.class_session_id, TOKEN)
    entries = {e["table_id"]: e for e in game.dashboard(room.class_session_id, TOKEN)}
    assert (entries[first]["number"], entries[second]["number"]) == (1, 2)  # within the class
    assert entries[first]["round"] == 1 and entries[first]["trouble"] == 0
    assert entries[first]["stuck"] is None
    # The CA (cy) has the first move at table 1 and does not make it.
    clock.wait(95)
    entry = game.table_entry(first)
    assert entry["stuck"] == {"seat": "ca", "player": "cy", "seconds": 95} and entry["trouble"] == 3
    game.settings(room.class_session_id, TOKEN, 120)
    assert game.table_entry(first)["stuck"] is None
    # An attack injected at table 1, whose eavesdropper (di) is a student: pending until di moves.
    game.inject(room.class_session_id, TOKEN, first, Scenario.MITM_SELF_SIGNED)
    assert game.table_entry(first)["attack_pending"] == {"scenario": "mitm-self-signed", "seconds": 0}
    clock.wait(130)
    entry = game.table_entry(first)
    assert entry["attack_pending"]["seconds"] == 130 and entry["stuck"]["seconds"] == 95 + 130
    cy, di = students[2], students[3]
    while (step := game.state(first).current_step) is not None and step.seat is not Seat.EAVESDROPPER:
        token = {Seat.CLIENT: students[0].token, Seat.SERVER: students[1].token, Seat.CA: cy.token}[step.seat]
        play(game, first, token, step.seat, clock)
    assert game.table_entry(first)["attack_pending"] is not None
    play(game, first, di.token, Seat.EAVESDROPPER, clock)
    assert game.table_entry(first)["attack_pending"] is None


def test_a_selection_a_students_record_and_rounds_that_add_up(clocked) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    game = clocked(clock)
    room = game.create_session(TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    ana, bo, cy, di, ed = (game.join(room.join_code, name) for name in ("ana", "bo", "cy", "di", "ed"))
    with pytest.raises(NotStarted):
        game.next_round(room.class_session_id, TOKEN, Variant.TLS13, Scenario.PASSIVE, Difficulty.STANDARD)
    game.start(room.class_session_id, TOKEN)
    # A selection: only table 2 pauses.
    assert game.pause(room.class_session_id, TOKEN, table_ids=[ed.table_id]) == [ed.table_id]
    assert not game.state(ana.table_id).paused and game.state(ed.table_id).paused
    game.resume_tables(room.class_session_id, TOKEN, table_ids=[ed.table_id])
    # The CA asks for a hint (free when guided), then plays; it took 40 seconds.
    clock.wait(40)
    game.move(cy.table_id, cy.token, a.RequestHint())
    play(game, cy.table_id, cy.token, Seat.CA, clock)
    cy_entry = game.table_entry(cy.table_id)["seats"]["ca"]
    assert cy_entry["hints"] == 1 and cy_entry["mistakes"] == 0 and cy_entry["points"] == 10
    assert cy_entry["seconds_per_step"] == 40.0
    detail = game.student(room.class_session_id, TOKEN, cy.player_id)
    assert detail["name"] == "cy" and [r["round"] for r in detail["rounds"]] == [1]
    assert [s["step"] for s in detail["rounds"][0]["steps"]] == ["ca.publish_root", "ca.publish_root"]
    assert detail["rounds"][0]["steps"][-1]["seconds"] == 40.0

    # Round 2: another handshake, each student one seat on, the points adding up.
    first_round = list(room.table_ids)
    new_tables, moved = game.next_round(room.class_session_id, TOKEN, Variant.TLS13, Scenario.PASSIVE,
                                        Difficulty.STANDARD)
    assert len(new_tables) == 2 and not set(new_tables) & set(first_round)
    assert {(m.player_id, m.to_seat) for m in moved} == {
        (ana.player_id, Seat.SERVER), (bo.player_id, Seat.CA), (cy.player_id, Seat.EAVESDROPPER),
        (di.player_id, Seat.CLIENT), (ed.player_id, Seat.SERVER)}
    assert all(game.state(t).paused for t in new_tables) and not room.started
    assert game.resume(new_tables[0], ana.token)[0] is Seat.SERVER  # ana's token follows her
    game.start(room.class_session_id, TOKEN)
    entries = game.dashboard(room.class_session_id, TOKEN)
    assert [(e["number"], e["round"], e["variant"]) for e in entries] == [(1, 2, "tls13"), (2, 2, "tls13")]
    students = {s["name"]: s for s in game.students(room)}
    assert students["cy"]["seat"] == "eavesdropper" and students["cy"]["points_total"] >= 10
    assert len(game.student(room.class_session_id, TOKEN, cy.player_id)["rounds"]) == 2

    listed = game.classes(TOKEN)
    assert listed[0]["class_session_id"] == room.class_session_id and listed[0]["rounds"] == 2
    assert listed[0]["students"] == 5 and listed[0]["tables"] == 4

    # A restart keeps the rounds, which is current, the numbers and the start of round 2.
    restarted = clocked(clock)
    back = restarted.class_room(room.class_session_id)
    assert [r.number for r in back.rounds] == [1, 2] and back.table_ids == new_tables and back.started
    assert back.rounds[0].table_ids == first_round and back.variant is Variant.TLS13
    assert [e["number"] for e in restarted.dashboard(room.class_session_id, TOKEN)] == [1, 2]
    assert restarted.table_entry(cy.table_id)["seats"]["ca"]["seconds_per_step"] == 40.0


async def test_a_new_round_tells_each_student_where_they_sit_now(classroom: Classroom) -> None:
    instructor = await open_peer(classroom.ws_url)
    created = await instructor.ask({"type": "create_session", "token": TOKEN, "variant": "tls12-rsa",
                                    "difficulty": "guided"}, "session_created")
    class_id = created["class_session_id"]
    ana = await open_peer(classroom.ws_url)
    seated = await ana.ask({"type": "join", "join_code": created["join_code"], "name": "ana"}, "seated")
    await ana.receive()
    await instructor.ask(instructor_message("start", class_id), "done")
    done = await instructor.ask(instructor_message("next_round", class_id, variant="tls13",
                                                   scenario="passive"), "done")
    (new_table,) = done["table_ids"]
    board = await instructor.ask(instructor_message("dashboard", class_id), "dashboard")
    assert board["round"] == 2 and [r["variant"] for r in board["rounds"]] == ["tls12-rsa", "tls13"]
    assert board["students"][0]["name"] == "ana" and board["students"][0]["seat"] == "server"
    reseated = await ana.ask({"type": "resume", "table_id": seated["table_id"], "token": seated["token"]},
                             "reseated")
    assert reseated == {"type": "reseated", "table_id": new_table, "seat": "server",
                        "class_session_id": class_id}
    listed = await instructor.ask({"type": "classes", "token": TOKEN}, "classes")
    assert listed["classes"][0]["class_session_id"] == class_id
    detail = await instructor.ask(instructor_message("student", class_id,
                                                     player_id=board["students"][0]["player_id"]), "student")
    assert [r["round"] for r in detail["student"]["rounds"]] == [1, 2]
    await instructor.refused(instructor_message("settings", class_id, stuck_after=5), "invalid_fields")
    await instructor.ask(instructor_message("settings", class_id, stuck_after=30), "done")
