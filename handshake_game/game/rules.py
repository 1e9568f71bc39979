"""The referee's vocabulary, shared by every phase of a table: the typed rejection of an
illegal move (with the code the server sends on), what the referee needs from the outside
world, the points, a step's record in the catalog, and the verdicts a move earns.

Everything here is plain data or a small constructor; the moves themselves live in one
module per phase (``ca``, ``tls12``, ``tls13``, ``eavesdropper``).
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from . import actions as a
from .facts import Fact, Verdict
from .model import Seat

Rng = Callable[[int], bytes]
KeySource = Callable[[], rsa.RSAPrivateKey]  # a warm key pool in the server; fresh keys in tests

POINTS_STEP = 10
POINTS_MISTAKE = -5
POINTS_BAD_TRUST = -20  # accepting a certificate, or what its key signed, that fails its checks
POINTS_CAUGHT = 20  # refusing a certificate (or CSR) that deserved it
POINTS_ATTACK = 30  # the eavesdropper reads the traffic
POINTS_HINT = -2  # standard and expert difficulty; hints are free when guided
POINTS_QUIZ = 3  # a quiz question answered right the first time (a wrong first answer scores 0)

# Names a party may rightfully hold a certificate for.
CLIENT_NAME = "alice.students.example"  # the client needs a certificate only in tls12-mutual
EAVESDROPPER_NAME = "eve.example"


class Code(enum.Enum):
    """Why a move is illegal; the server sends the value on as its wire error code."""

    OUT_OF_TURN = "out_of_turn"  # another seat acts at this step
    WRONG_SEAT = "wrong_seat"  # no turn ever lets this seat do that
    NOT_ALLOWED = "not_allowed"  # the step is not done with this action
    BAD_INPUT = "bad_input"  # a value no real TLS stack or CA would take
    MISSING_ITEM = "missing_item"  # the seat does not hold what the move needs
    PAUSED = "paused"  # the instructor paused the table
    TABLE_OVER = "table_over"  # the table has ended
    NOT_STAGED = "not_staged"  # this scenario is not staged for this variant
    TOO_LATE = "too_late"  # the table is past the point where an injection would begin
    ALREADY = "already"  # the instructor asks for what is already so


class Rejected(Exception):
    """An illegal move (wrong seat, wrong time, missing item). Nothing changes.

    ``code`` says which rule refused it (the server's wire error code); ``reason`` is the
    teaching text for the player."""

    def __init__(self, reason: str, code: Code = Code.NOT_ALLOWED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class Referee:
    """What ``decide`` needs from the outside world: randomness, the clock, RSA keys."""

    rng: Rng
    now: Callable[[], datetime.datetime]
    rsa_keys: KeySource


# A move handler: (state, step, action, referee) -> facts. Typed loosely here because the
# table's state sits above this module; ``referee.decide`` calls it with the real types.
Handler = Callable[..., list[Fact]]
# The move a careful player makes at a step: (state, seat, now) -> action.
Guide = Callable[..., a.Action]
# The menu of moves at a step: (menu context) -> JSON choices.
MenuBuilder = Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class Step:
    """One step of a variant, as the catalog (``catalog.py``) defines it, once.

    ``label`` is a short name for people ("the CA reviews the CSR"); ``act`` is the
    sentence that says what happens in TLS or PKI terms. ``actions`` are the action
    classes the step is done with; ``handler`` runs the real cryptography for them;
    ``guide`` gives the careful player's move; ``menu`` builds the choices a seat
    console offers; ``attack`` is the eavesdropper's attacking move, when the step has
    one; ``makes_key`` says whether the move draws a fresh RSA key pair from
    ``Referee.rsa_keys`` (the server reserves one per such step); ``only_if`` (state ->
    bool), when set, makes the step conditional: play passes over it when it is false
    as the step comes up (the man in the middle's relay steps, once the client refused).
    """

    id: str
    seat: Seat
    label: str
    act: str
    lesson: str
    actions: tuple[type, ...]
    handler: Handler
    guide: Guide
    menu: MenuBuilder
    attack: Guide | None = None
    makes_key: bool = False
    only_if: Callable[..., bool] | None = None


def ok(step: Step, reason: str, points: int = POINTS_STEP) -> Verdict:
    return Verdict(step.seat, step.id, True, points, reason, step.lesson)


def mistake(step: Step, reason: str, points: int = POINTS_MISTAKE) -> Verdict:
    return Verdict(step.seat, step.id, False, points, reason, step.lesson)
