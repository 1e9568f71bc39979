"""The eavesdropper's last step where it recorded the conversation to read it later: try to
decrypt the recording (passive sniffing, a key leaked after the session, a broken weak
group). A catalog step of its own, so a human eavesdropper makes the attempt as a move
before the table ends, and a bot makes the same move in turn.

Where the server's key leaks "after the session" (key-leak), the referee leaks it as the
session's last step is done (``referee.decide``): the eavesdropper holds it when its turn comes.
"""

from __future__ import annotations

from typing import Any

from . import actions as a
from .eavesdropper import DECRYPT_STEP, decrypt_lesson, try_decrypt
from .facts import Fact
from .guide import always
from .model import Scenario, Seat
from .rules import Step
from .state import TableState

# The scenarios where the eavesdropper only records, and tries to read afterwards: in an honest
# table (and one whose client clicks through an expired certificate) that is its one move, so a
# student at its seat always has one. (A relaying man in the middle reads as it relays; the
# other attacks are moves of their own.)
RECORDING_SCENARIOS = frozenset({Scenario.HONEST, Scenario.PASSIVE, Scenario.EXPIRED_CERT, Scenario.KEY_LEAK,
                                 Scenario.WEAK_DH})


def _decrypt(state: TableState, step: Step, action: a.Action, referee: Any) -> list[Fact]:
    return try_decrypt(state)


def _menu(ctx: Any) -> list[dict[str, Any]]:
    return [{"action": a.TryDecrypt.__name__, "recommended": False, "fields": [],
             "label": "Try to decrypt the recorded traffic with what you hold"}]


def decrypt_step(scenario: Scenario) -> Step:
    return Step(DECRYPT_STEP, Seat.EAVESDROPPER, "the eavesdropper tries to decrypt the recording",
                "the eavesdropper runs every recorded byte through a real TLS decoder with every key it "
                "holds", decrypt_lesson(scenario), (a.TryDecrypt,), _decrypt, always(a.TryDecrypt()), _menu)
