"""GameServer's class sessions without websockets: instructor actions are stored facts,
refused without the token, confined to the class's tables, and survive a restart."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handshake_game.game import actions as a
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import GameServer
from handshake_game.server.app import (
    AlreadyStarted,
    MoveRejected,
    NotInstructor,
    SessionEnded,
    UnknownSession,
    UnknownTable,
)

from .classroom import INSTRUCTOR_TOKEN

TOKEN = INSTRUCTOR_TOKEN
MakeGame = Callable[[], GameServer]


def test_instructor_actions_are_stored_before_they_are_acknowledged(make_class_game: MakeGame) -> None:
    game = make_class_game()
    room = game.create_session(TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD)
    ana = game.join(room.join_code, "ana")
    assert ana.seat is Seat.CLIENT and ana.view["paused"]
    table_id = ana.table_id

    assert game.start(room.class_session_id, TOKEN) == [table_id]
    state = game.state(table_id)
    assert not state.paused and state.current_step is not None and state.current_step.seat is Seat.CLIENT
    assert {seat.value: row.bot_kind for seat, row in game.store.seats(table_id).items()} == {
        "client": None, "server": "honest", "ca": "honest", "eavesdropper": "attacker"}

    assert game.pause(room.class_session_id, TOKEN, table_id) == [table_id]
    assert game.store.replay_table(table_id).paused
    with pytest.raises(MoveRejected):
        game.move(table_id, ana.token, a.SendClientHello())
    with pytest.raises(MoveRejected):
        game.pause(room.class_session_id, TOKEN, table_id)  # already paused: a typed refusal
    assert game.resume_tables(room.class_session_id, TOKEN) == [table_id]

    assert game.leak_key(room.class_session_id, TOKEN, table_id) == [table_id]
    assert game.store.replay_table(table_id) == game.state(table_id)
    assert game.state(table_id).key_leaked
    with pytest.raises(MoveRejected):
        game.leak_key(room.class_session_id, TOKEN, table_id)

    debrief = game.reveal(room.class_session_id, TOKEN, table_id)
    assert "server_key" in debrief["wallets"]["server"]
    assert "server_key" not in game.seat_view(table_id, Seat.CLIENT)["wallet"]

    assert game.end(room.class_session_id, TOKEN) == [table_id]
    assert game.store.replay_table(table_id).paused
    with pytest.raises(SessionEnded):
        game.join(room.join_code, "late")


def test_inject_before_the_start_and_tables_stay_in_their_class(make_class_game: MakeGame) -> None:
    game = make_class_game()
    first = game.create_session(TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    other = game.create_session(TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    mine = game.join(first.join_code, "ana").table_id
    theirs = game.join(other.join_code, "bo").table_id

    assert game.inject(first.class_session_id, TOKEN, mine, Scenario.PASSIVE) == [mine]
    assert game.store.replay_table(mine).scenario is Scenario.PASSIVE
    with pytest.raises(UnknownTable):
        game.inject(first.class_session_id, TOKEN, theirs, Scenario.PASSIVE)
    with pytest.raises(UnknownTable):
        game.reveal(first.class_session_id, TOKEN, theirs)
    for refused in (lambda: game.start(first.class_session_id, "guess"),
                    lambda: game.reveal(first.class_session_id, "guess", mine),
                    lambda: game.dashboard(first.class_session_id, ""),
                    lambda: game.create_session("guess", Variant.TLS12_RSA, Scenario.HONEST,
                                                Difficulty.GUIDED)):
        with pytest.raises(NotInstructor):
            refused()
    with pytest.raises(UnknownSession):
        game.join("ZZZZZZ", "cy")
    with pytest.raises(UnknownSession):
        game.start(999, TOKEN)


def test_a_class_survives_a_restart(make_class_game: MakeGame) -> None:
    game = make_class_game()
    room = game.create_session(TOKEN, Variant.TLS12_ECDHE, Scenario.HONEST, Difficulty.GUIDED)
    ana, bo = game.join(room.join_code, "ana"), game.join(room.join_code, "bo")

    restarted = make_class_game()
    cy = restarted.join(room.join_code, "cy")
    assert (cy.table_id, cy.seat) == (ana.table_id, Seat.CA)  # the waiting table, the next seat
    assert restarted.state(ana.table_id).paused  # still waiting for the instructor
    restarted.start(room.class_session_id, TOKEN)
    entry = restarted.dashboard(room.class_session_id, TOKEN)[0]
    who = {seat: {k: v for k, v in held.items() if k in ("player", "player_id", "bot")}
           for seat, held in entry["seats"].items()}
    assert who == {"client": {"player": "ana", "player_id": ana.player_id},
                   "server": {"player": "bo", "player_id": bo.player_id},
                   "ca": {"player": "cy", "player_id": cy.player_id},
                   "eavesdropper": {"bot": "attacker"}}

    again = make_class_game()
    with pytest.raises(AlreadyStarted):
        again.start(room.class_session_id, TOKEN)
    seat, seen = again.resume(bo.table_id, bo.token)
    assert seat is Seat.SERVER and not seen["paused"]
