"""What the server adds to each seat's view (the lesson card filled in, the menu of moves,
the players) never carries another seat's secret, at any step of any variant."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from handshake_game.game.guide import correct_action
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant, supports
from handshake_game.server import GameServer

from .classroom import INSTRUCTOR_TOKEN

MakeGame = Callable[[], GameServer]
SCENARIOS = [Scenario.HONEST, Scenario.MITM_SELF_SIGNED, Scenario.KEY_LEAK, Scenario.ROGUE_CSR]


def foreign_secrets(game: GameServer, table_id: int, seat: Seat) -> list[tuple[Seat, str, bytes]]:
    """Secrets other seats hold that ``seat`` does not hold itself."""
    state = game.state(table_id)
    own = {item.value for item in state.wallets[seat].values()}
    found = []
    for owner in Seat:
        for name, item in state.wallets[owner].items():
            if owner is not seat and item.secret and len(item.value) >= 8 and item.value not in own:
                found.append((owner, name, item.value))
    return found


def assert_views_keep_secrets(game: GameServer, table_id: int) -> None:
    state = game.state(table_id)
    for seat in Seat:
        if seat is Seat.EAVESDROPPER and any(d.succeeded for d in state.decryptions):
            continue  # the attack really worked: reading the traffic is the lesson
        text = json.dumps(game.seat_view(table_id, seat))
        for owner, name, value in foreign_secrets(game, table_id, seat):
            assert value.hex() not in text, f"the {owner.value}'s {name} in the {seat.value}'s view"
            readable = value.decode("utf-8", "ignore")
            if len(readable) >= 12 and readable.isprintable():
                assert readable not in text, f"the {owner.value}'s {name} (text) in the {seat.value}'s view"


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
        game.move(table_id, players[step.seat].token, move)
        steps += 1
    assert_views_keep_secrets(game, table_id)
    assert steps >= 10
    if scenario is Scenario.KEY_LEAK:  # the key leaks after the session, to a human eavesdropper too
        assert game.state(table_id).key_leaked
