"""The instructor's operations on a table: pause, resume, inject a scenario, leak the
server's key. Each returns facts (or raises ``Rejected``), like a move."""

from __future__ import annotations

from .catalog import steps_for
from .facts import (
    DebriefRevealed,
    Fact,
    ItemStored,
    MessageSent,
    ScenarioInjected,
    ServerKeyLeaked,
    TablePaused,
    TableResumed,
)
from .model import Scenario, Seat, intercepted, supports
from .rules import Code, Rejected
from .state import TableState


def leak_server_key(state: TableState) -> list[Fact]:
    """Hand the server's private key to the eavesdropper (and its ticket key, once it has one)."""
    facts = leaked_keys(state)
    if not facts:
        raise Rejected("the server key has already been leaked at this table", Code.ALREADY)
    return facts


def leaked_keys(state: TableState) -> list[Fact]:
    """What a leak of the server's keys hands the eavesdropper that it does not hold yet: the
    certificate's private key, and the key the server seals its session tickets under (tls13,
    ``zerortt.py``): a stolen server gives up both, and the ticket key opens every ticket it
    sealed (RFC 8446 §4.6.1)."""
    facts: list[Fact] = []
    if not state.key_leaked:
        facts.append(ServerKeyLeaked(state.item(Seat.SERVER, "server_key")))
    ticket_key = state.wallets[Seat.SERVER].get("ticket_key")
    if ticket_key is not None and "leaked_ticket_key" not in state.wallets[Seat.EAVESDROPPER]:
        facts.append(ItemStored(Seat.EAVESDROPPER, "leaked_ticket_key", "secret", ticket_key.value, True))
    return facts


def pause(state: TableState) -> list[Fact]:
    if state.paused:
        raise Rejected("the table is already paused", Code.ALREADY)
    return [TablePaused()]


def resume(state: TableState) -> list[Fact]:
    if not state.paused:
        raise Rejected("the table is not paused", Code.ALREADY)
    return [TableResumed()]


def reveal_debrief(state: TableState) -> list[Fact]:
    """The seats see the debrief from now on (nothing when they already do)."""
    return [] if state.revealed else [DebriefRevealed()]


def inject_scenario(state: TableState, scenario: Scenario) -> list[Fact]:
    """Turns the table into ``scenario``, if play has not yet passed where it would differ."""
    if not supports(state.variant, scenario):
        raise Rejected(f"{scenario.value} is not staged for {state.variant.value} yet", Code.NOT_STAGED)
    done = state.steps[: state.step_index]
    if steps_for(state.variant, scenario)[: state.step_index] != done:
        raise Rejected(f"too late for {scenario.value}: the table is past the point where it begins",
                       Code.TOO_LATE)
    targets = intercepted(state.variant, scenario)
    # The attack begins by holding the first message it targets (a replay's, in a later session):
    # once that message is on its way, the attack can no longer begin at this table.
    sent = {f.label for f in state.wire if isinstance(f, MessageSent)}
    if targets and scenario is not Scenario.REPLAY and targets[0] in sent:
        raise Rejected(f"too late for {scenario.value}: the {targets[0]} it targets is already on its way",
                       Code.TOO_LATE)
    return [ScenarioInjected(scenario)]


def seat_record(state: TableState, seat: Seat) -> dict[str, int]:
    """What the instructor sees of one seat's play at this table: its points, its mistakes (the
    referee's verdicts against its moves), the hints it asked for, and its quiz questions
    answered the first time (right, and in all)."""
    own = [verdict for verdict in state.verdicts if verdict.seat is seat]
    hints = sum(1 for verdict in own if verdict.reason.startswith("hint:"))
    quizzes = [quiz for quiz in state.quizzes if quiz.seat is seat]
    return {"points": state.scores[seat], "mistakes": sum(1 for verdict in own if not verdict.ok),
            "hints": hints, "quiz_first_right": sum(1 for quiz in quizzes if quiz.correct),
            "quiz_answered": len(quizzes)}


def attack_started(state: TableState) -> bool:
    """Whether the eavesdropper has moved since the last injection (True when none was made)."""
    if state.injected_after is None:
        return True
    return any(verdict.seat is Seat.EAVESDROPPER for verdict in state.verdicts[state.injected_after:])
