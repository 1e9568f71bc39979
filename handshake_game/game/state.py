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
    QuizScored,
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
    quizzes: tuple[QuizScored, ...] = ()  # first answers to quiz questions, scored
    injected_after: int | None = None  # the number of verdicts when a scenario was last injected
    key_leaked: bool = False
    paused: bool = False
    revealed: bool = False  # the instructor showed the debrief to the seats (``DebriefRevealed``)
    past_sessions: tuple[tuple[MessageSent | MessageDelivered, ...], ...] = ()
    # Every seat's wallet as each past session ended (before the next overwrote its randoms and
    # secrets): what exports that session's key log lines (``export.py``).
    past_wallets: tuple[MappingProxyType[Seat, MappingProxyType[str, Item]], ...] = ()
    # The indexes of the steps play passed over because they did not apply (``Step.only_if``:
    # the relay when no one sits in the middle, the 1-RTT request when 0-RTT carried it).
    skipped: tuple[int, ...] = ()
    # The step each wire event came at (``step_index`` then), every session's in order: what
    # draws each message under the step that really sent it.
    event_steps: tuple[int, ...] = ()

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
    def attacker_read(self) -> tuple[bytes, ...]:
        """The application data the eavesdropper really opened: what it read while relaying,
        and what a decryption of its recording read."""
        wallet = self.wallets[Seat.EAVESDROPPER]
        read = [wallet[name].value for name in ("relayed_request", "relayed_response") if name in wallet]
        return tuple(read + [d.plaintext for d in self.decryptions if d.succeeded and d.plaintext])

    @property
    def attacked(self) -> bool:
        """The eavesdropper changed what reached a side, or asked the CA for a name not its own."""
        return (any(isinstance(f, MessageDelivered) and f.altered for f in self.wire)
                or any(isinstance(f, MessageDelivered) and f.altered for s in self.past_sessions for f in s)
                or self.stopped is not None or self.forgery_accepted is not None)

    @property
    def request_replayed(self) -> bool:
        """The server really ran the client's request a second time: the replayed 0-RTT data
        opened and was accepted (tls13 replay, ``zerortt.py``)."""
        return "transfer_again" in self.wallets[Seat.SERVER]

    @property
    def attack_succeeded(self) -> bool:
        """The eavesdropper read or changed the traffic, or holds a trust it must not have (a
        certificate in the server's name) at a table no check stopped."""
        if self.attacker_read or self.request_replayed:  # keys alone, with no traffic to open, read nothing
            return True
        return self.forgery_accepted is not None and self.failed is None

    @property
    def outcome(self) -> tuple[str, str]:
        """How the table ended, as (kind, words): ``attack_succeeded``, ``attack_stopped``,
        ``refused`` (a correct refusal with no attacker), ``mistake`` (a seat's own mistake
        broke the handshake), ``completed``, or ``playing``. A student's own mistake is never
        called an attack."""
        if self.request_replayed:
            return "attack_succeeded", ("the attack succeeded: the replayed 0-RTT early data was accepted, "
                                        "and the server ran the request a second time")
        if self.attack_succeeded:
            read = " and read the traffic" if self.attacker_read else ""
            return "attack_succeeded", f"the attack succeeded: the eavesdropper got in{read}"
        if self.stopped is not None:
            stopper = check_words(self.stopped.seat, self.stopped.check)
            return "attack_stopped", f"the attack was stopped by {stopper}"
        if self.failed is not None:
            by = check_words(self.failed.seat, self.failed.check)
            if self.failed.check == "timeout":
                return "dropped", f"the handshake never finished: {self.failed.reason}"
            if self.failed.check in ("client refused", "ca refused"):
                return "mistake", f"the handshake ended on a mistake: {self.failed.reason}"
            if self.attacked:
                return "attack_stopped", f"the attack was stopped by {by}"
            if self.failed.check.startswith(("certificate", "client certificate", "ca ")):
                return "refused", f"{by} refused what deserved it: {self.failed.reason}"
            return "mistake", f"the handshake broke on a mistake, caught by {by}: {self.failed.reason}"
        if self.over:
            return "completed", "the handshake completed and the data went both ways"
        return "playing", "the table is still playing"

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


def check_words(seat: Seat, check: str) -> str:
    """"the client's certificate chain check", "the CA's identity check": a check named after
    its seat, or ending in "check", is not said twice."""
    owner = "CA" if seat is Seat.CA else seat.value
    name = check.removeprefix(f"{seat.value} ").removesuffix(" check")
    return f"the {owner}'s {name} check"
