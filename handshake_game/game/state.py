"""A table's state: what the fold of its facts (``fold.py``) has built so far.

The state is plain, frozen data with a few questions it can answer about itself (whose
turn, how it ended, what a seat holds). It never runs cryptography and never changes;
``fold.apply`` makes the next state from a fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from ..tls import messages as m
from .facts import (
    AttackStopped,
    DecryptionTried,
    ForgeryAccepted,
    HandshakeFailed,
    MessageDelivered,
    MessageSent,
    Verdict,
)
from .model import Difficulty, Scenario, Seat, Variant
from .records import decode_seen
from .rules import Code, Rejected, Step


@dataclass(frozen=True)
class Item:
    kind: str
    value: bytes
    secret: bool


@dataclass(frozen=True)
class TableState:
    variant: Variant
    scenario: Scenario
    difficulty: Difficulty
    server_name: str
    steps: tuple[Step, ...]  # the catalog's steps for this variant and scenario
    step_index: int = 0
    wallets: MappingProxyType[Seat, MappingProxyType[str, Item]] = field(
        default_factory=lambda: MappingProxyType({s: MappingProxyType({}) for s in Seat}))
    wire: tuple[MessageSent | MessageDelivered, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    scores: MappingProxyType[Seat, int] = field(
        default_factory=lambda: MappingProxyType({s: 0 for s in Seat}))
    failed: HandshakeFailed | None = None
    stopped: AttackStopped | None = None
    forgery_accepted: ForgeryAccepted | None = None
    decryptions: tuple[DecryptionTried, ...] = ()
    key_leaked: bool = False
    paused: bool = False
    past_sessions: tuple[tuple[MessageSent | MessageDelivered, ...], ...] = ()

    @property
    def current_step(self) -> Step | None:
        if self.failed is not None or self.step_index >= len(self.steps):
            return None
        return self.steps[self.step_index]

    @property
    def over(self) -> bool:
        """No step is left to play: the handshake completed or stopped."""
        return self.current_step is None

    @property
    def detected_by(self) -> str | None:
        """The real check that stopped an attack (or a broken handshake), in words."""
        if self.failed is not None:
            return self.failed.check
        return self.stopped.check if self.stopped is not None else None

    @property
    def attack_succeeded(self) -> bool:
        return self.forgery_accepted is not None or any(d.succeeded for d in self.decryptions)

    @property
    def completed(self) -> bool:
        """The handshake finished and application data went both ways."""
        return self.failed is None and self.step_index >= len(self.steps)

    def decoded(self, seat: Seat) -> tuple[m.HandshakeMessage, ...]:
        """The plaintext handshake messages ``seat`` has seen, decoded once per state."""
        cache: dict[Seat, tuple[m.HandshakeMessage, ...]] = self.__dict__.setdefault("_decoded", {})
        if seat not in cache:
            cache[seat] = decode_seen(self.wire, seat)
        return cache[seat]

    def item(self, seat: Seat, name: str) -> bytes:
        found = self.wallets[seat].get(name)
        if found is None:
            raise Rejected(f"the {seat.value} holds no {name.replace('_', ' ')}", Code.MISSING_ITEM)
        return found.value
