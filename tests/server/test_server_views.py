"""What the server adds to each seat's view (the lesson card filled in, the menu of moves,
the players) never carries another seat's secret, at any step of any variant."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handshake_game.game import actions as a
from handshake_game.game.guide import correct_action
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant, supports
from handshake_game.game.sharing import leaks
from handshake_game.server import GameServer

from .classroom import INSTRUCTOR_TOKEN

MakeGame = Callable[[], GameServer]
SCENARIOS = [Scenario.HONEST, Scenario.MITM_SELF_SIGNED, Scenario.KEY_LEAK, Scenario.ROGUE_CSR]


def assert_views_keep_secrets(game: GameServer, table_id: int) -> None:
    """Every seat's view as the server sends it, scanned for every secret the sharing table does
    not give that seat (even one that also sits in its own wallet)."""
    state = game.state(table_id)
    for seat in Seat:
        found = leaks(state, seat, game.seat_view(table_id, seat))
        assert not found, "; ".join(map(str, found))


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_seat_view_shows_another_seats_secret_at_any_step(make_class_game: MakeGame, variant: Variant,
                                                             scenario: Scenario) -> None:
    assert supports(variant, scenario)
    game = make_class_game()
    room = game.create_session(INSTRUCTOR_TOKEN, variant, scenario, Difficulty.GUIDED)
    players = {}
    for name in ("ana", "bo", "cy", "di"):
        seated = game.join(room.join_code, name)
        players[seated.seat] = seated
    table_id = players[Seat.CLIENT].table_id
    game.start(room.class_session_id, INSTRUCTOR_TOKEN)
    steps = 0
    while (step := game.state(table_id).current_step) is not None:
        assert_views_keep_secrets(game, table_id)
        move = correct_action(game.state(table_id), step.seat, game.now())
        assert move is not None
        if step.id == "client.check_certificate":  # click through: the relay runs, and is scanned too
            move = a.AcceptCertificate()
        game.move(table_id, players[step.seat].token, move)
        steps += 1
    assert_views_keep_secrets(game, table_id)
    assert steps >= 10
    if scenario is Scenario.KEY_LEAK:  # the key leaks after the session, to a human eavesdropper too
        assert game.state(table_id).key_leaked
