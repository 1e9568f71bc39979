"""The instructor's operations on a table: pause, resume, inject a scenario, leak the
server's key. Each returns facts (or raises ``Rejected``), like a move."""

from __future__ import annotations

from .catalog import steps_for
from .facts import Fact, MessageSent, ScenarioInjected, ServerKeyLeaked, TablePaused, TableResumed
from .model import INTERCEPTED, Scenario, Seat, supports
from .rules import Code, Rejected
from .state import TableState


def leak_server_key(state: TableState) -> list[Fact]:
    """Hand the server's private key to the eavesdropper."""
    if state.key_leaked:
        raise Rejected("the server key has already been leaked at this table", Code.ALREADY)
    return [ServerKeyLeaked(state.item(Seat.SERVER, "server_key"))]


def pause(state: TableState) -> list[Fact]:
    if state.paused:
        raise Rejected("the table is already paused", Code.ALREADY)
    return [TablePaused()]


def resume(state: TableState) -> list[Fact]:
    if not state.paused:
        raise Rejected("the table is not paused", Code.ALREADY)
    return [TableResumed()]


def inject_scenario(state: TableState, scenario: Scenario) -> list[Fact]:
    """Turns the table into ``scenario``, if play has not yet passed where it would differ."""
    if not supports(state.variant, scenario):
        raise Rejected(f"{scenario.value} is not staged for {state.variant.value} yet", Code.NOT_STAGED)
    done = state.steps[: state.step_index]
    if steps_for(state.variant, scenario)[: state.step_index] != done:
        raise Rejected(f"too late for {scenario.value}: the table is past the point where it begins",
                       Code.TOO_LATE)
    if any(isinstance(f, MessageSent) for f in state.wire) and scenario in INTERCEPTED and not any(
            label in INTERCEPTED[scenario] for label in _pending_labels(state, scenario)):
        raise Rejected(f"too late for {scenario.value}: the messages it targets are already delivered",
                       Code.TOO_LATE)
    return [ScenarioInjected(scenario)]


def _pending_labels(state: TableState, scenario: Scenario) -> list[str]:
    sent = {f.label for f in state.wire if isinstance(f, MessageSent)}
    return [label for label in INTERCEPTED[scenario] if label not in sent]
