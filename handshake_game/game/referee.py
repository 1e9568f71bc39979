"""The referee: ``decide(state, seat, action, referee)`` checks that a move is legal and
runs its step's handler (the real cryptography), returning the facts it produced.

Rules (the shape of DESIGN.md):

* It checks, in order: the table is not paused; the table is not over; it is ``seat``'s
  turn; the action is one the step is done with (from the catalog); the typed inputs are
  ones a real TLS stack or CA would take. Each refusal is a :class:`Rejected` with its
  ``Code``, and changes nothing.
* The move's facts end with ``StepDone`` unless the handshake failed.
* ``finish_table`` is the end of every table, for the server and the bots alike.
"""

from __future__ import annotations

from . import actions as a
from .eavesdropper import DECRYPT_STEP, try_decrypt
from .facts import Fact, HandshakeFailed, QuizScored, StepDone, TableOpened, Verdict
from .fold import apply, initial_state
from .guide import correct_action
from .instructor import leaked_keys
from .menu import describe_move
from .model import Difficulty, Scenario, Seat, Variant, supports
from .rules import POINTS_HINT, POINTS_QUIZ, Code, Referee, Rejected, Step
from .state import TableState

MAX_NAME = 64  # X.509 caps a common name at 64 characters (RFC 5280, ub-common-name)
MAX_APPLICATION_TEXT = 2**14  # one TLS record's plaintext

# The scenarios after which an eavesdropper bot tries to read what it recorded.
# (A relaying man in the middle reads as it relays: it has no recording left to open.)
TRY_DECRYPT = frozenset({Scenario.PASSIVE, Scenario.KEY_LEAK, Scenario.WEAK_DH})


def open_table(variant: Variant, scenario: Scenario = Scenario.HONEST,
               difficulty: Difficulty = Difficulty.STANDARD,
               server_name: str = "shop.example") -> tuple[TableState, list[Fact]]:
    if not supports(variant, scenario):
        raise Rejected(f"{scenario.value} is not staged for {variant.value} yet", Code.NOT_STAGED)
    opened = TableOpened(variant, scenario, difficulty, server_name)
    return apply(initial_state(opened), opened), [opened]


def decide(state: TableState, seat: Seat, action: a.Action, referee: Referee) -> list[Fact]:
    """The facts that ``seat`` doing ``action`` produces, or :class:`Rejected`."""
    if state.paused:
        raise Rejected("the instructor has paused this table", Code.PAUSED)
    step = state.current_step
    if isinstance(action, a.TryDecrypt) and not (step is not None and isinstance(action, step.actions)):
        # Off its step (after a failed handshake, or before its turn): an attempt, no step done.
        if seat is not Seat.EAVESDROPPER:
            raise Rejected("only the eavesdropper taps the wire", Code.WRONG_SEAT)
        return try_decrypt(state)
    if step is None:
        raise Rejected("the handshake is over at this table", Code.TABLE_OVER)
    if seat is not step.seat:
        raise Rejected(f"it is the {step.seat.value}'s turn: {step.act}", Code.OUT_OF_TURN)
    if isinstance(action, a.RequestHint):
        return [_hint(state, step, referee)]
    if not isinstance(action, step.actions):
        names = " or ".join(t.__name__ for t in step.actions)
        raise Rejected(f"{step.id} is done with {names}, not {type(action).__name__}", Code.NOT_ALLOWED)
    check_inputs(action)
    facts = step.handler(state, step, action, referee)
    if not any(isinstance(f, HandshakeFailed) for f in facts):
        facts.append(StepDone(step.id))
        facts += _leak_before_decrypt(state, facts)
    return facts


def _leak_before_decrypt(state: TableState, facts: list[Fact]) -> list[Fact]:
    """key-leak: the server's key leaks after the session, as the table reaches the
    eavesdropper's attempt to decrypt the recording, so it holds the key when its turn comes."""
    if state.scenario is not Scenario.KEY_LEAK:
        return []
    after = state
    for fact in facts:
        after = apply(after, fact)
    step = after.current_step
    if step is None or step.id != DECRYPT_STEP or after.wallets[Seat.SERVER].get("server_key") is None:
        return []
    return leaked_keys(after)  # the server's key, and its ticket key (tls13), unless leaked already


def check_inputs(action: a.Action) -> None:
    """Refuse typed inputs no real TLS stack would take, before any crypto runs on them."""
    if isinstance(action, a.PublishRoot | a.SendCsr):
        name = action.common_name if isinstance(action, a.PublishRoot) else action.name
        if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
            raise Rejected(f"a certificate name is 1 to {MAX_NAME} printable characters "
                           "(RFC 5280's limit for a common name)", Code.BAD_INPUT)
    if isinstance(action, a.SendApplicationData) and len(action.text.encode()) > MAX_APPLICATION_TEXT:
        raise Rejected(f"send at most {MAX_APPLICATION_TEXT} bytes: the plaintext of one TLS record",
                       Code.BAD_INPUT)


def _hint(state: TableState, step: Step, referee: Referee) -> Verdict:
    move = correct_action(state, step.seat, referee.now())
    cost = 0 if state.difficulty is Difficulty.GUIDED else POINTS_HINT
    return Verdict(step.seat, step.id, True, cost, f"hint: {describe_move(state, step, move, referee.now())}",
                   step.lesson)


def score_quiz(state: TableState, seat: Seat, lesson: str, question: int, correct: bool) -> list[Fact]:
    """The seat's first answer to a quiz question at this table scores (``POINTS_QUIZ`` when
    right, nothing when wrong); later answers to the same question score nothing. Whether
    the answer is right is the lesson card's business (the caller checks it)."""
    if any(q.seat is seat and q.lesson == lesson and q.question == question for q in state.quizzes):
        return []
    return [QuizScored(seat, lesson, question, correct, POINTS_QUIZ if correct else 0)]


def finish_table(state: TableState, referee: Referee, eavesdropper_is_bot: bool) -> list[Fact]:
    """The end of a table, once its last step is played: the server's key leaks where the
    scenario says, then an eavesdropper bot tries to read what it recorded (a human
    eavesdropper tries when it chooses). Nothing when the table is not over, or already
    finished."""
    if not state.over or state.paused:
        return []
    facts: list[Fact] = []
    if state.scenario is Scenario.KEY_LEAK and state.wallets[Seat.SERVER].get("server_key") is not None:
        facts += leaked_keys(state)
        for fact in facts:
            state = apply(state, fact)
    if eavesdropper_is_bot and not state.decryptions and state.scenario in TRY_DECRYPT:
        facts += decide(state, Seat.EAVESDROPPER, a.TryDecrypt(), referee)
    return facts
