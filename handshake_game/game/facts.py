"""Facts: what happened at a table (past tense, frozen, carrying every generated value).

A table's state is the fold of its facts (``table.apply``). Facts carry the values that
randomness and cryptography produced — randoms, keys, ciphertexts, message bytes — so
replaying them rebuilds the exact table without running any crypto again.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Difficulty, Scenario, Seat, Variant


@dataclass(frozen=True)
class TableOpened:
    variant: Variant
    scenario: Scenario
    difficulty: Difficulty
    server_name: str


@dataclass(frozen=True)
class ItemStored:
    """A value enters a seat's wallet. ``secret`` items never leave that seat's view."""

    seat: Seat
    name: str
    kind: str  # "private_key", "certificate", "csr", "random", "secret", "text"
    value: bytes
    secret: bool


@dataclass(frozen=True)
class MessageSent:
    """Bytes put on the wire between client and server (the eavesdropper sees them all)."""

    sender: Seat
    label: str  # "ClientHello", "ServerHello", "application data", …
    content_type: int  # 22 handshake, 20 ChangeCipherSpec, 23 application data
    payload: bytes  # the handshake message, or the whole protected record


@dataclass(frozen=True)
class MessageDelivered:
    """What reached ``recipient``: the sender's bytes, or what the eavesdropper made of them."""

    recipient: Seat
    label: str
    content_type: int
    payload: bytes
    altered: bool = False  # the eavesdropper changed, swapped or injected it


@dataclass(frozen=True)
class ForgeryAccepted:
    """The client trusted a certificate that is not the server's: the attacker is in."""

    reason: str


@dataclass(frozen=True)
class Verdict:
    """The referee's judgement of one move: points, and the reason a student can follow."""

    seat: Seat
    step: str
    ok: bool
    points: int
    reason: str
    lesson: str


@dataclass(frozen=True)
class StepDone:
    step: str


@dataclass(frozen=True)
class HandshakeFailed:
    """The handshake stopped, by a real check (``check``) on one side."""

    seat: Seat
    check: str  # "certificate signature", "certificate hostname", "finished", …
    reason: str


@dataclass(frozen=True)
class AttackStopped:
    """A check stopped an attack without ending the session (e.g. the CA's identity check)."""

    seat: Seat
    check: str
    reason: str


@dataclass(frozen=True)
class SessionStarted:
    """The client connects again: a new session with fresh randoms; the last one is archived."""


@dataclass(frozen=True)
class TablePaused:
    pass


@dataclass(frozen=True)
class TableResumed:
    pass


@dataclass(frozen=True)
class DebriefRevealed:
    """The instructor shows the table's debrief to its seats before the table is over (the
    scenario, the attacker's moves, every wallet): kept in the log, so that every server
    process and a restart show it too."""


@dataclass(frozen=True)
class ScenarioInjected:
    """The instructor turns the table into another scenario before its attack would begin."""

    scenario: Scenario


@dataclass(frozen=True)
class ServerKeyLeaked:
    """The instructor leaks the server's private key to the eavesdropper (after the session)."""

    private_key_pem: bytes


@dataclass(frozen=True)
class DecryptionTried:
    seat: Seat
    succeeded: bool
    reason: str
    plaintext: bytes  # what was read, empty when nothing was


@dataclass(frozen=True)
class QuizScored:
    """A seat's first answer to one quiz question, scored once per table (retries teach but
    never score). ``lesson`` and ``question`` name the card and its question."""

    seat: Seat
    lesson: str
    question: int
    correct: bool
    points: int


Fact = (TableOpened | ItemStored | MessageSent | MessageDelivered | ForgeryAccepted | Verdict | StepDone
        | HandshakeFailed | AttackStopped | SessionStarted | TablePaused | TableResumed | ScenarioInjected
        | ServerKeyLeaked | DecryptionTried | QuizScored | DebriefRevealed)
