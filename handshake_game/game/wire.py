"""The wire between client and server, through the eavesdropper's seat.

A message put on the wire (``post``) is delivered at once unless the scenario's
eavesdropper holds that kind of message for its next move, or sits in the middle and
holds everything; what it holds (``held``) it
later forwards, changes or drops (``deliver``). Each side then works only from what it
sent and what reached it (``seen``, ``find``) — as in real TLS, where the two can differ.
"""

from __future__ import annotations

from typing import Any

from ..tls import messages as m
from ..tls.suites import CIPHER_SUITES, KeyExchange
from .facts import Fact, MessageDelivered, MessageSent
from .model import Scenario, Seat, intercepted
from .records import WireEvent, mine, other
from .rules import Code, Rejected
from .state import TableState

# The eavesdropper's moves that do not touch the wire: after one of the others it has acted.
_OFF_THE_WIRE = frozenset({"eavesdropper.generate_key", "eavesdropper.send_csr"})


def post(state: TableState, sent: MessageSent) -> list[Fact]:
    """Puts a message on the wire; it is delivered at once unless the scenario's
    eavesdropper holds that kind of message for its next move."""
    held = in_the_middle(state) or (sent.label in intercepted(state.variant, state.scenario)
                                    and not intercepted_already(state))
    held = held or (sent.label in ("ChangeCipherSpec", "Finished") and breaking(state))
    if state.scenario is Scenario.REPLAY:  # the replay waits for the second session's client flight
        held = held and bool(state.past_sessions) and sent.sender is Seat.CLIENT
    if held:
        return [sent]
    delivered = MessageDelivered(other(sent.sender), sent.label, sent.content_type, sent.payload)
    return [sent, delivered]


def dhe_chosen(state: TableState) -> bool:
    """The server picked a finite-field DHE suite (the weak-dh scenario's weak group)."""
    for message in state.decoded(Seat.SERVER):
        if isinstance(message, m.ServerHello):
            suite = CIPHER_SUITES.get(message.cipher_suite)
            return suite is not None and suite.key_exchange is KeyExchange.DHE
    return False


def breaking(state: TableState) -> bool:
    """The weak-dh attack is under way: the server agreed to the weak group, so the
    eavesdropper holds both Finished flights to swap them for forged ones (``weakdh.py``)."""
    return state.scenario is Scenario.WEAK_DH and dhe_chosen(state)


def in_the_middle(state: TableState) -> bool:
    """The eavesdropper answered the client with its own certificate (and, with ECDHE or
    TLS 1.3, its own key share): the client's session now ends at the eavesdropper, which
    holds everything either side sends and relays it (``relay.py``)."""
    return "forged_certificate" in state.wallets[Seat.EAVESDROPPER]


def intercepted_already(state: TableState) -> bool:
    """The eavesdropper acts once per scenario; later messages pass."""
    return any(isinstance(f, MessageDelivered) and f.altered for f in state.wire) or any(
        v.seat is Seat.EAVESDROPPER for v in state.verdicts
        if v.step.startswith("eavesdropper.") and v.step not in _OFF_THE_WIRE)


def seen(state: TableState, seat: Seat) -> list[WireEvent]:
    """What ``seat`` sent and what reached it, in order."""
    return [f for f in state.wire if mine(f, seat)]


def find(state: TableState, seat: Seat, label: type) -> Any:
    """The first handshake message of type ``label`` that ``seat`` has seen in plaintext."""
    for message in state.decoded(seat):
        if isinstance(message, label):
            return message
    raise Rejected(f"the {seat.value} has no {label.__name__} yet", Code.MISSING_ITEM)


def held(state: TableState) -> list[MessageSent]:
    """Messages on the wire that have not been delivered: what the eavesdropper holds.

    Each delivery answers the oldest undelivered message with its label and direction.
    """
    waiting: list[MessageSent] = []
    for f in state.wire:
        if isinstance(f, MessageSent):
            waiting.append(f)
        else:
            match = next(s for s in waiting if s.label == f.label and other(s.sender) is f.recipient)
            waiting.remove(match)
    return waiting


def deliver(waiting: list[MessageSent], replace: dict[str, bytes]) -> list[Fact]:
    """Delivers what was held; the messages named in ``replace`` arrive changed."""
    return [MessageDelivered(other(s.sender), s.label, s.content_type, replace.get(s.label, s.payload),
                             altered=s.label in replace) for s in waiting]


def delivered_payload(state: TableState, recipient: Seat, label: str) -> bytes:
    """The bytes of the first ``label`` message that reached ``recipient``."""
    for f in state.wire:
        if isinstance(f, MessageDelivered) and f.recipient is recipient and f.label == label:
            return f.payload
    raise Rejected(f"no {label} has reached the {recipient.value} yet", Code.MISSING_ITEM)


def delivered_all(state: TableState, recipient: Seat, labels: tuple[str, ...]) -> list[MessageDelivered]:
    """Every message with one of ``labels`` that reached ``recipient``, in order."""
    return [f for f in state.wire if isinstance(f, MessageDelivered) and f.recipient is recipient
            and f.label in labels]
