"""GameServer: a student alone at the eavesdropper's seat, against bots, in every scenario.

The eavesdropper's moves are the human's own, and the table does not end before them: where it
records the conversation to read it later (passive, key-leak, weak-dh) its last move is the
attempt to decrypt the recording, played by the student before the table ends (the key of the
key-leak scenario leaks just before that turn); in an honest table that attempt is its one move.
In expired-cert the careful bot client refuses the certificate, so the handshake ends before
the eavesdropper's turn: it watches a finished table and may still try to decrypt what it
recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from handshake_game.bots.players import AttackerBot
from handshake_game.game import actions as a
from handshake_game.game.catalog import steps_for
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant, supports
from handshake_game.game.recording import RECORDING_SCENARIOS
from handshake_game.server import GameServer

MakeGame = Callable[[], GameServer]
DECRYPT = "eavesdropper.try_decrypt"
# The scenarios whose table ends (a careful client's refusal) before the eavesdropper's move.
NO_PART = {Scenario.EXPIRED_CERT}
ACTING = [(variant, scenario) for variant in Variant for scenario in Scenario
          if supports(variant, scenario) and scenario not in NO_PART]


def play_as_the_attacker(game: GameServer, table_id: int, token: str,
                         first: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The human eavesdropper plays its attack at every turn; (step id, the view before the
    move) for each of its moves, until the table ends."""
    attacker = AttackerBot()
    played: list[tuple[str, dict[str, Any]]] = []
    seen = first
    while (step := game.state(table_id).current_step) is not None:
        assert step.seat is Seat.EAVESDROPPER  # the bots played every other seat up to here
        assert seen["your_turn"] and not seen["completed"] and seen["outcome"] is None
        assert seen["choices"], f"no choice offered at {step.id}"
        played.append((step.id, seen))
        seen = game.move(table_id, token, attacker.act(game.state(table_id), Seat.EAVESDROPPER))
        assert len(played) < 20
    return played


@pytest.mark.parametrize(("variant", "scenario"), ACTING, ids=lambda x: getattr(x, "value", str(x)))
def test_a_human_eavesdropper_moves_before_the_table_ends(make_game: MakeGame, variant: Variant,
                                                          scenario: Scenario) -> None:
    game = make_game()
    seated = game.solo(variant, scenario, Difficulty.STANDARD, Seat.EAVESDROPPER, "eve")
    # The first view: the table waits for the student, it has not ended without them.
    assert seated.view["your_turn"] and seated.view["debrief"] is None
    played = play_as_the_attacker(game, seated.table_id, seated.token, seated.view)
    ids = [step_id for step_id, _ in played]
    assert ids, "the eavesdropper never had a move"
    state = game.state(seated.table_id)
    assert state.over
    if scenario in RECORDING_SCENARIOS and not state.failed:
        # Its last move was its own attempt to read the recording: the table was not over before.
        assert ids[-1] == DECRYPT
        before = played[-1][1]
        assert [c["action"] for c in before["choices"] if c["action"] != "RequestHint"] == ["TryDecrypt"]
        assert len(state.decryptions) == 1  # made once, by the student: no bot tried in its place
        assert state.verdicts[-1].step == DECRYPT and state.verdicts[-1].seat is Seat.EAVESDROPPER
    else:
        assert DECRYPT not in ids


def test_passive_the_student_tries_and_the_recording_stays_closed(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_ECDHE, Scenario.PASSIVE, Difficulty.GUIDED, Seat.EAVESDROPPER, "eve")
    view = seated.view
    # The bots played the handshake up to the student's one move; the table is not over.
    assert view["step"] == DECRYPT and view["your_turn"]
    assert not view["completed"] and view["outcome"] is None and view["debrief"] is None
    assert [step["id"] for step in view["steps"]][-1] == DECRYPT
    assert view["step_index"] == len(view["steps"]) - 1
    assert view["offered"]["action"] == "TryDecrypt"  # guided: the move is suggested
    assert game.state(seated.table_id).decryptions == ()  # no bot tried in the student's place
    final = game.move(seated.table_id, seated.token, a.TryDecrypt())
    assert final["completed"] and final["debrief"] is not None
    assert final["verdicts"][-1]["step"] == DECRYPT and not final["verdicts"][-1]["ok"]
    assert "decrypted_traffic" not in final["wallet"]


def test_key_leak_the_key_is_in_hand_when_the_students_turn_comes(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.KEY_LEAK, Difficulty.STANDARD, Seat.EAVESDROPPER, "eve")
    view = seated.view
    assert view["step"] == DECRYPT and not view["completed"]
    assert "leaked_server_key" in view["wallet"]  # the leak came after the session, before this turn
    final = game.move(seated.table_id, seated.token, a.TryDecrypt())
    assert final["completed"] and final["verdicts"][-1]["ok"]
    assert "decrypted_traffic" in final["wallet"]  # RSA key transport: the recording opens
    assert game.state(seated.table_id).attack_succeeded


def test_the_table_waits_for_the_student_across_a_restart(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.PASSIVE, Difficulty.STANDARD, Seat.EAVESDROPPER, "eve")
    restarted = make_game()  # load() lets the bots play what they owe: none of them holds this step
    state = restarted.state(seated.table_id)
    assert state.current_step is not None and state.current_step.id == DECRYPT
    assert state.decryptions == ()
    _, view = restarted.resume(seated.table_id, seated.token)
    assert view["your_turn"] and not view["completed"]


def test_a_bot_eavesdropper_plays_the_same_step(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.KEY_LEAK, Difficulty.GUIDED, Seat.SERVER, "bo")
    while (step := game.state(seated.table_id).current_step) is not None:
        assert step.seat is Seat.SERVER
        game.move(seated.table_id, seated.token, AttackerBot().act(game.state(seated.table_id), Seat.SERVER))
    state = game.state(seated.table_id)
    assert state.completed and len(state.decryptions) == 1 and state.attack_succeeded


@pytest.mark.parametrize("scenario", sorted(NO_PART, key=str), ids=lambda s: getattr(s, "value", str(s)))
def test_without_a_part_the_eavesdropper_may_still_try_after_the_end(make_game: MakeGame,
                                                                     scenario: Scenario) -> None:
    # Its only step comes after the handshake, which the client's refusal ended first.
    assert [step.id for step in steps_for(Variant.TLS12_RSA, scenario)
            if step.seat is Seat.EAVESDROPPER] == [DECRYPT]
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, scenario, Difficulty.STANDARD, Seat.EAVESDROPPER, "eve")
    assert game.state(seated.table_id).over and game.state(seated.table_id).failed is not None
    assert [c["action"] for c in seated.view["choices"]] == ["TryDecrypt"]
    after = game.move(seated.table_id, seated.token, a.TryDecrypt())
    assert after["verdicts"][-1]["step"] == DECRYPT and not after["verdicts"][-1]["ok"]
