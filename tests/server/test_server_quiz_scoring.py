"""Quizzes that count: a seat's first answer scores at its table (and survives a restart),
further-reading cards are offered beside the step's card, and prediction questions are built
on the seat's own values."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography import x509

from handshake_game import lessons
from handshake_game.game import actions as a
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.game.rules import POINTS_QUIZ
from handshake_game.server import GameServer
from handshake_game.server.app import UnknownLesson

MakeGame = Callable[[], GameServer]


def _position(lesson: dict, number: int, text: str) -> int:
    """Where a choice sits in the seat's own order of the question's choices."""
    return lesson["quiz"][number]["choices"].index(text)


def test_the_first_answer_scores_once_and_a_restart_keeps_it(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    lesson = seated.view["lesson"]
    card = lessons.card(lesson["id"])
    before = game.state(seated.table_id).scores[Seat.CLIENT]
    right0 = _position(lesson, 0, card.quiz[0].choices[card.quiz[0].correct])
    wrong1 = next(i for i, c in enumerate(lesson["quiz"][1]["choices"])
                  if c != card.quiz[1].choices[card.quiz[1].correct])
    right1 = _position(lesson, 1, card.quiz[1].choices[card.quiz[1].correct])

    assert game.quiz_answer(seated.table_id, seated.token, card.id, 0, right0)[0]
    assert game.quiz_answer(seated.table_id, seated.token, card.id, 0, right0)[0]  # a retry: no points
    assert not game.quiz_answer(seated.table_id, seated.token, card.id, 1, wrong1)[0]
    assert game.quiz_answer(seated.table_id, seated.token, card.id, 1, right1)[0]  # right, but not first
    state = game.state(seated.table_id)
    assert state.scores[Seat.CLIENT] - before == POINTS_QUIZ
    assert [(q.question, q.correct, q.points) for q in state.quizzes] == [(0, True, POINTS_QUIZ),
                                                                          (1, False, 0)]
    # The scores travel with the table's facts: a restarted server has them.
    restarted = make_game()
    assert restarted.state(seated.table_id).scores[Seat.CLIENT] == state.scores[Seat.CLIENT]
    assert restarted.seat_view(seated.table_id, Seat.CLIENT)["scores"]["client"] == state.scores[Seat.CLIENT]


def test_further_reading_is_offered_beside_the_steps_card_and_scores_like_it(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS13, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "bo")
    lesson = seated.view["lesson"]
    assert lesson["id"] == "tls13-client-hello"
    assert [more["id"] for more in lesson["more"]] == ["what-tls-hides"]
    shown = game.read_card(seated.table_id, seated.token, "what-tls-hides")
    assert shown["id"] == "what-tls-hides" and "ECH" in shown["markdown"] and shown["quiz"]
    card = lessons.card("what-tls-hides")
    right = _position(shown, 0, card.quiz[0].choices[card.quiz[0].correct])
    assert game.quiz_answer(seated.table_id, seated.token, "what-tls-hides", 0, right)[0]
    assert game.state(seated.table_id).quizzes[-1].lesson == "what-tls-hides"
    # A card the seat was not offered here is refused: not a later step's, nor another's.
    for other in ("resumption", "scenario-mitm-self-signed", "csr", "no-such-card"):
        with pytest.raises(UnknownLesson):
            game.read_card(seated.table_id, seated.token, other)
        with pytest.raises(UnknownLesson):
            game.quiz_answer(seated.table_id, seated.token, other, 0, 0)


def test_a_victim_gets_the_scenarios_reading_only_at_the_debrief(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_ECDHE, Scenario.TAMPER, Difficulty.STANDARD, Seat.CLIENT, "cy")
    # The tamper scenario links the record layer; the ClientHello step links only what TLS hides.
    assert [more["id"] for more in seated.view["lesson"]["more"]] == ["what-tls-hides"]
    for hidden in ("record-layer", "scenario-tamper"):
        with pytest.raises(UnknownLesson):
            game.read_card(seated.table_id, seated.token, hidden)
    view = game.move(seated.table_id, seated.token, a.SendClientHello())
    view = game.move(seated.table_id, seated.token, a.AcceptCertificate())
    view = game.move(seated.table_id, seated.token, a.SendKeyShare())
    view = game.move(seated.table_id, seated.token, a.DeriveAndSendFinished())
    assert view["failed"], "the tampered ServerHello fails a Finished check"
    assert view["lesson"]["id"] == "scenario-tamper"
    assert "record-layer" in [more["id"] for more in view["lesson"]["more"]]
    assert game.read_card(seated.table_id, seated.token, "record-layer")["id"] == "record-layer"


def test_a_prediction_is_built_on_the_seats_own_certificate(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "di")
    view = seated.view
    view = game.move(seated.table_id, seated.token, a.SendClientHello())
    view = game.move(seated.table_id, seated.token, a.AcceptCertificate())
    lesson = view["lesson"]
    assert lesson["id"] == "rsa-key-exchange"
    predictions = [q for q in lesson["quiz"] if q["prediction"]]
    assert len(predictions) == 1
    certificate = x509.load_der_x509_certificate(
        game.state(seated.table_id).wallets[Seat.CLIENT]["server_certificate"].value)
    size = certificate.public_key().key_size
    assert f"{size}-bit" in predictions[0]["question"]
    number = lesson["quiz"].index(predictions[0])
    right = predictions[0]["choices"].index(f"{size // 8} bytes")
    correct, explanation = game.quiz_answer(seated.table_id, seated.token, lesson["id"], number, right)
    assert correct and "modulus" in explanation
    assert game.state(seated.table_id).quizzes[-1].points == POINTS_QUIZ
