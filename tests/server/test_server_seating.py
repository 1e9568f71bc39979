"""The instructor moves and rotates seats; a class's end, lesson cards and quizzes are kept
in the store and survive a restart."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import GameServer
from handshake_game.server.app import MoveRejected, NotInstructor, SessionEnded, UnknownLesson
from handshake_game.store.models import SeatAssignment

from .classroom import INSTRUCTOR_TOKEN as TOKEN

MakeGame = Callable[[], GameServer]


def stored_seats(game: GameServer, table_id: int) -> dict[Seat, SeatAssignment]:
    return game.store.seats(table_id)


def test_rotating_moves_every_player_one_seat_on_and_their_tokens_follow(make_class_game: MakeGame) -> None:
    game = make_class_game()
    room = game.create_session(TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    ana, bo = game.join(room.join_code, "ana"), game.join(room.join_code, "bo")
    assert (ana.seat, bo.seat) == (Seat.CLIENT, Seat.SERVER)
    with pytest.raises(NotInstructor):
        game.rotate_seats(room.class_session_id, "guess")

    changed, moved = game.rotate_seats(room.class_session_id, TOKEN)
    assert changed == [ana.table_id]
    assert {(m.seat, m.to_seat) for m in moved} == {(Seat.CLIENT, Seat.SERVER), (Seat.SERVER, Seat.CA)}
    seats = stored_seats(game, ana.table_id)
    assert Seat.CLIENT not in seats  # empty until the start: bots come then
    assert seats[Seat.SERVER].player_id is not None and seats[Seat.CA].player_id is not None
    assert game.resume(ana.table_id, ana.token)[0] is Seat.SERVER
    assert game.resume(bo.table_id, bo.token)[0] is Seat.CA

    game.start(room.class_session_id, TOKEN)
    assert stored_seats(game, ana.table_id)[Seat.CLIENT].bot_kind == "honest"
    # The first step is the CA's, now bo's: the table waits for bo.
    state = game.state(ana.table_id)
    assert state.current_step is not None and state.current_step.seat is Seat.CA


def test_moving_a_seat_swaps_players_between_tables_and_bots_take_over(make_class_game: MakeGame) -> None:
    game = make_class_game()
    room = game.create_session(TOKEN, Variant.TLS12_ECDHE, Scenario.HONEST, Difficulty.GUIDED)
    players = [game.join(room.join_code, name) for name in ("ana", "bo", "cy", "di", "ed")]
    first, second = players[0].table_id, players[4].table_id
    game.start(room.class_session_id, TOKEN)

    # ed (client of table 2) swaps with bo (server of table 1).
    changed, moved = game.move_seat(room.class_session_id, TOKEN, second, Seat.CLIENT, first, Seat.SERVER)
    assert sorted(changed) == sorted([first, second])
    assert {(m.player_id, m.to_table_id, m.to_seat) for m in moved} == {
        (moved[0].player_id, first, Seat.SERVER), (moved[1].player_id, second, Seat.CLIENT)}
    assert game.resume(first, players[4].token)[0] is Seat.SERVER
    assert game.resume(second, players[1].token)[0] is Seat.CLIENT
    entry = game.table_entry(first)
    assert entry["seats"]["server"]["player"] == "ed"

    # Moving a player onto a bot's seat leaves a bot where the player was.
    _, moved = game.move_seat(room.class_session_id, TOKEN, second, Seat.CLIENT, second, Seat.CA)
    assert [(m.to_table_id, m.to_seat) for m in moved] == [(second, Seat.CA)]
    assert stored_seats(game, second)[Seat.CLIENT].bot_kind == "honest"
    # The client bot played on: table 2 is no longer waiting for its client.
    step = game.state(second).current_step
    assert step is None or step.seat is not Seat.CLIENT
    with pytest.raises(MoveRejected):
        game.move_seat(room.class_session_id, TOKEN, second, Seat.CLIENT, second, Seat.SERVER)


def test_the_end_of_a_class_is_kept_across_a_restart(make_class_game: MakeGame) -> None:
    game = make_class_game()
    room = game.create_session(TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    game.join(room.join_code, "ana")
    game.start(room.class_session_id, TOKEN)
    game.end(room.class_session_id, TOKEN)
    with pytest.raises(SessionEnded):
        game.join(room.join_code, "late")

    restarted = make_class_game()
    with pytest.raises(SessionEnded):
        restarted.join(room.join_code, "later")
    assert restarted.class_room(room.class_session_id).ended


def test_views_carry_the_lesson_the_menu_and_the_players(make_class_game: MakeGame) -> None:
    game = make_class_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "<b>ana</b>")
    seen = seated.view
    assert seen["step"] == "client.hello"
    assert seen["lesson"]["id"] == "client-hello" and seen["lesson"]["markdown"].startswith("# ")
    assert seen["lesson"]["quiz"] and all(q["choices"] for q in seen["lesson"]["quiz"])
    assert "SendClientHello" in [choice["action"] for choice in seen["choices"]]
    assert [step["id"] for step in seen["steps"]][seen["step_index"]] == "client.hello"
    assert seen["players"] == {"client": "<b>ana</b>", "server": None, "ca": None, "eavesdropper": None}

    server_view = game.seat_view(seated.table_id, Seat.SERVER)
    assert server_view["choices"] == []  # not the server's turn


def test_quiz_choices_come_in_an_order_of_the_tables_own() -> None:
    from handshake_game import lessons
    from handshake_game.server.app import quiz_order

    questions = [q for card in lessons.load_cards().values() for q in card.quiz]
    # Over the catalogue, at a few tables, the right answer lands in every position.
    places = {quiz_order(table, Seat.CLIENT, "finished", n, len(q.choices)).index(q.correct)
              for table in range(1, 6) for n, q in enumerate(questions)}
    assert places == {0, 1, 2, 3}
    assert quiz_order(7, Seat.CLIENT, "finished", 0, 4) == quiz_order(7, Seat.CLIENT, "finished", 0, 4)


def test_quiz_answers_are_checked_and_stored(make_class_game: MakeGame) -> None:
    game = make_class_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    lesson = seated.view["lesson"]
    from handshake_game import lessons

    card = lessons.card(lesson["id"])
    # The seat sees each question's choices in its table's own order, and answers by position.
    shown = [q["choices"] for q in lesson["quiz"]]
    assert [sorted(c) for c in shown] == [sorted(q.choices) for q in card.quiz]

    def at(number: int, choice_index: int) -> int:  # where the card's choice sits on the page
        return shown[number].index(card.quiz[number].choices[choice_index])

    wrong = next(i for i in range(len(card.quiz[0].choices)) if i != card.quiz[0].correct)
    correct, explanation = game.quiz_answer(seated.table_id, seated.token, card.id, 0, at(0, wrong))
    assert not correct and explanation == card.quiz[0].explanation
    for number, question in enumerate(card.quiz):
        answer = at(number, question.correct)
        assert game.quiz_answer(seated.table_id, seated.token, card.id, number, answer)[0]
    player_id = game.store.seats(seated.table_id)[Seat.CLIENT].player_id
    assert player_id is not None
    progress = game.store.lesson_progress(player_id)[card.id]
    assert progress.completed
    # The first answer counts: question 0 was first answered wrong, and a retry does not change that.
    results = json.loads(progress.quiz_results)
    assert results["0"]["first_correct"] is False and results["0"]["correct"] is True
    assert all(results[str(n)]["first_correct"] for n in range(1, len(card.quiz)))
    # A reload keeps the order.
    assert game.seat_view(seated.table_id, Seat.CLIENT)["lesson"]["quiz"] == lesson["quiz"]
    with pytest.raises(UnknownLesson):
        game.quiz_answer(seated.table_id, seated.token, "no-such-card", 0, 0)
    with pytest.raises(UnknownLesson):
        game.quiz_answer(seated.table_id, seated.token, card.id, 60, 0)
