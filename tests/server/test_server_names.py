"""Players' names as the class sees them: NFC-normalised, without control, bidi-override or
zero-width characters, never blank, and told apart when two students type the same."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import GameServer
from handshake_game.server.app import BadName
from handshake_game.server.sessions import clean_name

from .classroom import INSTRUCTOR_TOKEN

MakeGame = Callable[[], GameServer]


@pytest.mark.parametrize(("typed", "shown"), [
    ("e\u0301lodie", "\u00e9lodie"),  # NFC: one é
    ("ana\x00", "ana"),
    ("\u202eevil\u202c", "evil"),  # a right-to-left override would flip the dashboard's text
    ("zero\u200bwidth\ufeff", "zerowidth"),
    ("  two   spaces\tand\na tab  ", "two spaces and a tab"),
    ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
    ("\x1b[31mred", "[31mred"),
])
def test_names_are_cleaned(typed: str, shown: str) -> None:
    assert clean_name(typed) == shown


def test_blank_names_are_refused_and_duplicates_in_a_class_are_told_apart(make_game: MakeGame) -> None:
    game = make_game()
    for blank in ("", "   ", "\u200b\u202e", "\x00\x01"):
        with pytest.raises(BadName):
            game.solo(Variant.TLS13, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, blank)
    room = game.create_session(INSTRUCTOR_TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    with pytest.raises(BadName):
        game.join(room.join_code, " \t ")
    names = [game.join(room.join_code, name).view["players"] for name in ("Ana", "ana", "ANA\u200b", "bo")]
    assert names[-1] == {"client": "Ana", "server": "ana (2)", "ca": "ANA (3)", "eavesdropper": "bo"}
    # Another class may have its own Ana.
    other = game.create_session(INSTRUCTOR_TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    assert game.join(other.join_code, "Ana").view["players"]["client"] == "Ana"
