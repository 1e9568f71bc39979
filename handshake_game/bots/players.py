"""Bots for every seat: honest ones, careless ones that make the classic mistakes, and a
table runner that lets them play a whole handshake.

A bot sees what its seat sees (``game.view``) and answers with an action; it holds no
secret beyond its own wallet.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..game import Referee, TableState, apply, decide, finish_table, open_table
from ..game import actions as a
from ..game.facts import Fact
from ..game.guide import REQUEST, RESPONSE, correct_action
from ..game.model import Scenario, Seat, Variant

__all__ = ["REQUEST", "RESPONSE", "AttackerBot", "CarelessBot", "HonestBot", "HurriedClientBot",
           "ResumingBot", "TrustingBot", "house_bot", "play_table"]


class HonestBot:
    """Plays its seat by the book (``game.guide``), checking what a careful human would check."""

    def act(self, state: TableState, seat: Seat) -> a.Action:
        step = state.current_step
        assert step is not None and step.seat is seat
        return self.choose(step.id, state, seat)

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        action = correct_action(state, seat, _now())
        assert action is not None
        return action


class AttackerBot(HonestBot):
    """The eavesdropper: it plays its part in the scenario in force (``game.guide``), which
    is the attack — an injected scenario's included."""


class TrustingBot(HonestBot):
    """A client that accepts any certificate: what a user clicking through a warning does."""

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        if step_id == "client.check_certificate":
            return a.AcceptCertificate()
        return super().choose(step_id, state, seat)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class HurriedClientBot(HonestBot):
    """A client in a hurry: at a tls13 resumption it sends its request as 0-RTT early data, to
    save a round trip, although the request (a transfer) is not idempotent. The replay
    scenario's bot client: what the server does with such data is what that table is about."""

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        if step_id == "client.resume":
            return a.ResumeSession(a.PSK_DHE_KE, early_data=True)
        return super().choose(step_id, state, seat)


def house_bot(scenario: Scenario, seat: Seat) -> HonestBot:
    """The bot that plays ``seat`` when no one else does, at a table of ``scenario``: by the book,
    the eavesdropper attacking, and at a replay table a client in a hurry."""
    if seat is Seat.EAVESDROPPER:
        return AttackerBot()
    if seat is Seat.CLIENT and scenario is Scenario.REPLAY:
        return HurriedClientBot()
    return HonestBot()


@dataclass
class CarelessBot(HonestBot):
    """Makes the typical mistakes at a set rate; everything else by the book."""

    rate: float = 0.5
    random: random.Random = field(default_factory=random.Random)

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        slip = self.random.random() < self.rate
        if slip and step_id == "client.key_exchange" and state.variant is Variant.TLS12_RSA:
            return a.EncryptPremaster(key="trust_store")  # the CA's key instead of the server's
        if slip and step_id == "client.resume" and state.scenario is Scenario.KEY_LEAK:
            return a.ResumeSession(a.PSK_KE, early_data=True)  # no forward secrecy for this session
        if slip and step_id == "server.resume":  # 0-RTT for a transfer, and no anti-replay
            return a.AnswerResumption(a.EARLY_DATA_NO_ANTI_REPLAY)
        if slip and step_id in ("client.finished", "server.finished"):
            return a.DeriveAndSendFinished(randoms="server+client")
        return super().choose(step_id, state, seat)


@dataclass
class ResumingBot(HonestBot):
    """Plays its seat as ``inner`` does, except at a tls13 resumption, where it makes the choices
    it was given: the client's key exchange mode and whether it sends its request as 0-RTT data
    (RFC 8446 §4.2.9, §4.2.10), the server's answer to 0-RTT data (``None``: as ``inner``)."""

    psk_mode: str = a.PSK_DHE_KE
    early_data: bool | None = False
    early_data_policy: str | None = None
    inner: HonestBot = field(default_factory=HonestBot)

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        if step_id == "client.resume":
            early = self.early_data
            if early is None:  # as ``inner`` would
                inner = self.inner.choose(step_id, state, seat)
                early = isinstance(inner, a.ResumeSession) and inner.early_data
            return a.ResumeSession(self.psk_mode, early)
        if step_id == "server.resume" and self.early_data_policy is not None:
            return a.AnswerResumption(self.early_data_policy)
        return self.inner.choose(step_id, state, seat)


@dataclass
class TableRun:
    state: TableState
    facts: list[Fact]


def play_table(variant: Variant, scenario: Scenario, referee: Referee,
               bots: dict[Seat, HonestBot] | None = None,
               on_fact: Callable[[Fact], None] | None = None) -> TableRun:
    """Four bots play one table to its end; the eavesdropper attacks as the scenario says,
    and then tries to read what it recorded."""
    state, facts = open_table(variant, scenario)
    players = {seat: house_bot(scenario, seat) for seat in Seat} | (bots or {})

    def record(new: list[Fact]) -> None:
        nonlocal state
        for fact in new:
            state = apply(state, fact)
            facts.append(fact)
            if on_fact is not None:
                on_fact(fact)

    while (step := state.current_step) is not None:
        record(decide(state, step.seat, players[step.seat].act(state, step.seat), referee))
    record(finish_table(state, referee, eavesdropper_is_bot=True))
    return TableRun(state, facts)
