"""GameServer: solo tables played through ``move``, refusals that change nothing, restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from handshake_game.game import actions as a
from handshake_game.game.guide import correct_action
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import GameServer
from handshake_game.server.app import BadToken, MoveRejected, UnknownTable, WrongSeat

from .conftest import utcnow

MakeGame = Callable[[], GameServer]


def play_by_the_book(game: GameServer, table_id: int, token: str, seat: Seat) -> dict[str, Any]:
    """Send the guide's correct move for every turn of ``seat`` until the table ends."""
    seen: dict[str, Any] = {}
    while (step := game.state(table_id).current_step) is not None:
        assert step.seat is seat  # the bots played every other seat up to here
        action = correct_action(game.state(table_id), seat, utcnow())
        assert action is not None
        seen = game.move(table_id, token, action)
        assert seen["seat"] == seat.value
    return seen


@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS13])
def test_solo_client_plays_to_completion(make_game: MakeGame, variant: Variant) -> None:
    game = make_game()
    seated = game.solo(variant, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    assert seated.view["your_turn"] and seated.view["step"] == "client.hello"
    final = play_by_the_book(game, seated.table_id, seated.token, Seat.CLIENT)
    assert final["completed"] and final["failed"] is None
    assert final["scores"]["client"] > 0
    assert all(v["ok"] for v in final["verdicts"])
    # Everything in memory is in the store: the log replays to the same table.
    assert game.store.replay_table(seated.table_id) == game.state(seated.table_id)
    assert game.store.scores(seated.table_id)[Seat.CLIENT] == final["scores"]["client"]


def test_solo_server_seat_against_an_attacker(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_ECDHE, Scenario.PASSIVE, Difficulty.GUIDED, Seat.SERVER, "bo")
    assert seated.view["offered"]["action"] == "GenerateKeyPair"  # guided: the next move is offered
    final = play_by_the_book(game, seated.table_id, seated.token, Seat.SERVER)
    assert final["completed"]
    state = game.state(seated.table_id)
    assert state.decryptions and not state.attack_succeeded  # the eavesdropper bot tried, and failed


def test_refusals_are_typed_and_change_nothing(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    other = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "bo")
    table_id = seated.table_id
    before, seq = game.state(table_id), game.store.next_seq(table_id)

    with pytest.raises(BadToken):
        game.move(table_id, "forged", a.SendClientHello())
    with pytest.raises(BadToken):  # a real token, for another table
        game.move(table_id, other.token, a.SendClientHello())
    with pytest.raises(WrongSeat):
        game.move(table_id, seated.token, a.SendServerHello(), seat=Seat.SERVER)
    with pytest.raises(MoveRejected) as rejected:  # the right turn, the wrong action
        game.move(table_id, seated.token, a.SendServerHello())
    assert "client.hello" in rejected.value.message and rejected.value.code == "not_allowed"
    with pytest.raises(UnknownTable):
        game.move(9999, seated.token, a.SendClientHello())

    assert game.state(table_id) == before and game.store.next_seq(table_id) == seq

    game.move(table_id, seated.token, a.SendClientHello())
    assert game.state(table_id).current_step.id == "client.check_certificate"  # type: ignore[union-attr]


def test_out_of_turn_when_the_human_does_not_hold_the_step(make_game: MakeGame) -> None:
    game = make_game()
    # Two humans at one table: the server seat waits while the client is to move.
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    player, token = game.store.create_player("bo")
    assert player.id is not None
    game.store.assign_seat(seated.table_id, Seat.SERVER, player_id=player.id)
    restarted = make_game()  # seats are read from the store on load
    before = restarted.state(seated.table_id)
    with pytest.raises(MoveRejected) as refused:
        restarted.move(seated.table_id, token, a.SendServerHello())
    assert refused.value.code == "out_of_turn"
    assert restarted.state(seated.table_id) == before


def test_hint_is_a_move_that_costs_points_in_standard(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    seen = game.move(seated.table_id, seated.token, a.RequestHint())
    assert seen["verdicts"][-1]["reason"].startswith("hint:") and seen["scores"]["client"] < 0
    assert seen["step"] == "client.hello"


def test_restart_resumes_at_the_same_step_with_the_same_view(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    for _ in range(3):
        action = correct_action(game.state(seated.table_id), Seat.CLIENT, utcnow())
        assert action is not None
        last = game.move(seated.table_id, seated.token, action)
    seat, before = game.resume(seated.table_id, seated.token)
    assert seat is Seat.CLIENT and before == last and before["step"] == "client.finished"

    restarted = make_game()
    seat, after = restarted.resume(seated.table_id, seated.token)
    assert seat is Seat.CLIENT and after == before
    assert restarted.state(seated.table_id) == game.state(seated.table_id)
    final = play_by_the_book(restarted, seated.table_id, seated.token, Seat.CLIENT)
    assert final["completed"]


def test_restart_lets_bots_make_the_moves_they_owed(make_game: MakeGame) -> None:
    """A crash after a human's move was stored but before the bots answered."""
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    table_id = seated.table_id
    from handshake_game.game import decide

    facts = decide(game.state(table_id), Seat.CLIENT, a.SendClientHello(), game.referee)
    game.store.append_facts(table_id, facts, expected_seq=game.store.next_seq(table_id))
    restarted = make_game()
    assert restarted.state(table_id).current_step.id == "client.check_certificate"  # type: ignore[union-attr]


def test_views_carry_no_other_seat_secrets(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD, Seat.EAVESDROPPER, "eve")
    # In an honest table the eavesdropper's one move is its attempt to read the recording.
    assert game.state(seated.table_id).current_step.id == "eavesdropper.try_decrypt"
    assert seated.view["your_turn"]
    final = game.move(seated.table_id, seated.token, a.TryDecrypt())
    state = game.state(seated.table_id)
    assert state.completed and state.decryptions and not state.decryptions[0].succeeded
    text = str(seated.view) + str(final)
    for seat in (Seat.CLIENT, Seat.SERVER, Seat.CA):
        for item in state.wallets[seat].values():
            if item.secret:
                assert item.value.hex() not in text
