"""The fold: a table is the fold of its facts.

``apply(state, fact)`` is pure and runs no cryptography — facts carry every value that
randomness and cryptography produced — so ``replay(facts)`` rebuilds the exact table.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from .catalog import steps_for
from .facts import (
    AttackStopped,
    DebriefRevealed,
    DecryptionTried,
    Fact,
    ForgeryAccepted,
    HandshakeFailed,
    ItemStored,
    MessageDelivered,
    MessageSent,
    QuizScored,
    ScenarioInjected,
    ServerKeyLeaked,
    SessionStarted,
    StepDone,
    TableOpened,
    TablePaused,
    TableResumed,
    Verdict,
)
from .model import Seat
from .rules import Step
from .state import Item, TableState


def initial_state(opened: TableOpened) -> TableState:
    return TableState(opened.variant, opened.scenario, opened.difficulty, opened.server_name,
                      steps_for(opened.variant, opened.scenario))


def _evolve(state: TableState, **changes: Any) -> TableState:
    """``dataclasses.replace`` without re-running ``__init__``: a table folds thousands of
    facts, and this is the hot path. Per-state caches are not carried over."""
    new = object.__new__(TableState)
    fields = {k: v for k, v in state.__dict__.items() if k != "_decoded"}
    fields.update(changes)
    new.__dict__.update(fields)
    return new


def apply(state: TableState, fact: Fact) -> TableState:
    if isinstance(fact, TableOpened):
        return state
    if isinstance(fact, ItemStored):
        wallets = dict(state.wallets)
        wallet = dict(wallets[fact.seat])
        wallet[fact.name] = Item(fact.kind, fact.value, fact.secret)
        wallets[fact.seat] = MappingProxyType(wallet)
        return _evolve(state, wallets=MappingProxyType(wallets))
    if isinstance(fact, MessageSent | MessageDelivered):
        return _evolve(state, wire=state.wire + (fact,), event_steps=state.event_steps + (state.step_index,))
    if isinstance(fact, ForgeryAccepted):
        return _evolve(state, forgery_accepted=fact)
    if isinstance(fact, AttackStopped):
        return _evolve(state, stopped=fact)
    if isinstance(fact, SessionStarted):
        return _evolve(state, past_sessions=state.past_sessions + (state.wire,),
                       past_wallets=state.past_wallets + (state.wallets,), wire=())
    if isinstance(fact, TablePaused | TableResumed):
        return _evolve(state, paused=isinstance(fact, TablePaused))
    if isinstance(fact, DebriefRevealed):
        return _evolve(state, revealed=True)
    if isinstance(fact, ScenarioInjected):
        return _evolve(state, scenario=fact.scenario, steps=steps_for(state.variant, fact.scenario),
                       injected_after=len(state.verdicts))
    if isinstance(fact, Verdict):
        scores = dict(state.scores)
        scores[fact.seat] += fact.points
        return _evolve(state, verdicts=state.verdicts + (fact,), scores=MappingProxyType(scores))
    if isinstance(fact, QuizScored):
        scores = dict(state.scores)
        scores[fact.seat] += fact.points
        return _evolve(state, quizzes=state.quizzes + (fact,), scores=MappingProxyType(scores))
    if isinstance(fact, StepDone):
        index, skipped = state.step_index + 1, state.skipped
        while index < len(state.steps) and not _plays(state.steps[index], state):
            index, skipped = index + 1, (*skipped, index)
        return _evolve(state, step_index=index, skipped=skipped)
    if isinstance(fact, HandshakeFailed):
        return _evolve(state, failed=fact)
    if isinstance(fact, ServerKeyLeaked):
        leaked = ItemStored(Seat.EAVESDROPPER, "leaked_server_key", "private_key", fact.private_key_pem, True)
        return _evolve(apply(state, leaked), key_leaked=True)
    if isinstance(fact, DecryptionTried):
        return _evolve(state, decryptions=state.decryptions + (fact,))
    raise TypeError(f"not a fact: {fact!r}")


def _plays(step: Step, state: TableState) -> bool:
    return step.only_if is None or bool(step.only_if(state))


def replay(facts: list[Fact]) -> TableState:
    opened = facts[0]
    assert isinstance(opened, TableOpened)
    state = initial_state(opened)
    for fact in facts:
        state = apply(state, fact)
    return state
