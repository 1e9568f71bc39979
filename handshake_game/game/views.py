"""What people see of a table: each seat's view, the instructor's label-only ladder and
alerts, and the debrief (``reveal``) with every wallet.

``view(state, seat)`` is all a seat may see: its own wallet, the messages it sent and
received (the eavesdropper: every byte on the wire), its verdicts, the scores. Never
another seat's secret (``sharing.py`` says who may know what, and the tests scan every
view for every secret).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from typing import Any

from ..tls import messages as m
from ..tls.alerts import Alert
from ..tls.record import ContentType
from ..tls.suites import CIPHER_SUITES, KeyExchange
from .catalog import steps_for
from .certview import seat_documents
from .facts import MessageDelivered, MessageSent, Verdict
from .guide import correct_action
from .inspector import annotate_versions, inspect_records, keys_of
from .model import Difficulty, Scenario, Seat
from .records import mine, split_records
from .rules import Step
from .state import TableState


def reveal(state: TableState) -> dict[str, Any]:
    """The debrief: every seat's wallet, secrets included, and how the table ended."""
    return {
        "variant": state.variant.value,
        "scenario": state.scenario.value,
        "completed": state.completed,
        "detected_by": state.detected_by,
        "attack_succeeded": state.attack_succeeded,
        "outcome": _outcome(state),
        "attacker_read": [text.decode("utf-8", "replace") for text in state.attacker_read],
        "failed": None if state.failed is None else dataclasses.asdict(state.failed) | {
            "seat": state.failed.seat.value},
        "wallets": {seat.value: {name: {"kind": item.kind, "value": item.value.hex(), "secret": item.secret}
                                 for name, item in state.wallets[seat].items()} for seat in Seat},
        "eavesdropper_attempts": [{"succeeded": d.succeeded, "reason": d.reason} for d in state.decryptions],
        "scores": {seat.value: points for seat, points in state.scores.items()},
        "alerts": alerts(state),
        "ladder": ladder(state),
    }


def ladder(state: TableState) -> list[dict[str, Any]]:
    """The table's wire as labels only (who sent what, what reached whom, what was altered):
    the instructor's small ladder. No bytes, so no secrets. A table whose client connected again
    (a tls13 resumption, the tls12 replay's second handshake) shows its earlier sessions first."""
    rows: list[dict[str, Any]] = []
    copies = _replayable(state)
    for f in (*(f for session in state.past_sessions for f in session), *state.wire):
        if isinstance(f, MessageSent):
            rows.append({"event": "sent", "from": f.sender.value, "label": f.label})
        else:
            rows.append({"event": "delivered", "to": f.recipient.value, "label": f.label,
                         "altered": f.altered} | _replayed(f, copies))
    return rows


def _places(state: TableState, positions: list[int | None]) -> list[dict[str, int]]:
    """For every wire event, ``{"at": n}``: its place on the seat's list of steps, the step that
    sent or delivered it. In the dark a delivery made at a step the seat does not see (the
    eavesdropper's) sits where the client or the server sent that kind of message last, where
    an honest table would have it; anything else with no place of its own, under the last step
    the seat sees before it."""
    events = [*(f for session in state.past_sessions for f in session), *state.wire]
    if not positions:
        return [{} for _ in events]
    nearest, last = [], 0  # each step's own place, or the last place the seat sees before it
    for position in positions:
        last = position if position is not None else last
        nearest.append(last)
    places: list[dict[str, int]] = []
    sent_at: dict[str, int] = {}  # label -> the step at which the client or the server last sent one
    for f, index in zip(events, state.event_steps, strict=True):
        if isinstance(f, MessageSent) and f.sender in (Seat.CLIENT, Seat.SERVER):
            sent_at[f.label] = index
        index = min(index, len(positions) - 1)
        if positions[index] is None and isinstance(f, MessageDelivered) and f.label in sent_at:
            index = min(sent_at[f.label], len(positions) - 1)
        places.append({"at": nearest[index]})
    return places


def _replayable(state: TableState) -> frozenset[bytes]:
    """What the client and the server put on the wire, in any session of the table: a delivery
    the eavesdropper made of the same bytes is a replay, not an alteration."""
    return frozenset(f.payload for session in (*state.past_sessions, state.wire) for f in session
                     if isinstance(f, MessageSent) and f.sender in (Seat.CLIENT, Seat.SERVER))


def _replayed(f: MessageSent | MessageDelivered, copies: frozenset[bytes]) -> dict[str, bool]:
    """``{"replayed": True}`` for a delivery the eavesdropper made of a message the client or the
    server really sent (the same bytes, sent again, as the tls12 and tls13 replays do)."""
    return {"replayed": True} if isinstance(f, MessageDelivered) and f.altered and f.payload in copies else {}


_ATTACK_WON = {
    Scenario.MITM_SELF_SIGNED: "the client accepted a forged (self-signed) certificate: the eavesdropper "
                               "sits in the middle",
    Scenario.MITM_WRONG_NAME: "the client accepted a certificate for another name: the eavesdropper sits "
                              "in the middle",
    Scenario.EXPIRED_CERT: "the client accepted an expired certificate",
    Scenario.ROGUE_CSR: "the CA issued a certificate in the server's name to the eavesdropper",
}


def alerts(state: TableState) -> list[str]:
    """What an instructor should notice at this table, in words: an attack that got through,
    where an attack (or a broken handshake) was stopped, a leaked key, what the eavesdropper read."""
    notes = []
    if state.forgery_accepted is not None:
        notes.append(_ATTACK_WON.get(state.scenario, "the client trusted a certificate that is not the "
                                     "server's") + f" ({state.forgery_accepted.reason})")
    if state.stopped is not None:
        notes.append(f"attack stopped by the {state.stopped.seat.value}: {state.stopped.check} "
                     f"({state.stopped.reason})")
    if state.failed is not None:
        notes.append(f"{state.outcome[1]} ({state.failed.reason})"
                     if state.outcome[0] not in ("mistake", "refused", "dropped") else state.outcome[1])
    relayed, wallets = state.wallets[Seat.EAVESDROPPER], state.wallets
    for read, got, what in (("relayed_request", (Seat.SERVER, "request"), "request"),
                            ("relayed_response", (Seat.CLIENT, "response"), "answer")):
        received = wallets[got[0]].get(got[1])
        if read in relayed and received is not None and received.value != relayed[read].value:
            notes.append(f"the eavesdropper changed the {what} in transit")
    if state.request_replayed:
        notes.append("the eavesdropper replayed the client's 0-RTT early data, and the server ran the "
                     "request a second time")
    if state.key_leaked:
        notes.append("the server's private key leaked to the eavesdropper")
    for attempt in state.decryptions:
        outcome = "read the traffic" if attempt.succeeded else "could not read the traffic"
        notes.append(f"the eavesdropper {outcome}: {attempt.reason}")
    return notes


def in_the_dark(state: TableState, seat: Seat, revealed: bool = False) -> bool:
    """A seat other than the eavesdropper, while its table plays and before the instructor's
    reveal: it knows what its party would know, so not the scenario's name, not which message
    was altered, not the eavesdropper's moves. The debrief tells it all afterwards."""
    return seat is not Seat.EAVESDROPPER and not (state.over or revealed)


def visible_steps(state: TableState, seat: Seat, revealed: bool = False) -> tuple[list[Step], int]:
    """The steps ``seat`` may know of, and how many of them are behind it.

    The eavesdropper, and every seat after the debrief, knows the steps played (not those play
    passed over) and those to come. A seat in the dark knows what its party could: the steps
    played so far and the current one, less the eavesdropper's and another seat's that no
    honest table has (a second CSR at the CA); and ahead, what the protocol leads it to expect,
    the honest table's steps. So its ladder and its step count are an honest table's until
    something really happens at its end of the wire."""
    steps, done, _ = _shown(state, seat, revealed)
    return steps, done


def _shown(state: TableState, seat: Seat, revealed: bool) -> tuple[list[Step], int, list[int | None]]:
    """``visible_steps``, and for each of the table's steps up to the current one its position
    in that list (None for a step the seat does not see)."""
    skipped = set(state.skipped)
    dark = in_the_dark(state, seat, revealed)
    honest = steps_for(state.variant, Scenario.HONEST) if dark else ()
    known = {step.id: i for i, step in enumerate(honest)}

    def knows(i: int, step: Step) -> bool:
        if i in skipped:
            return False
        return not dark or step.seat is seat or (step.seat is not Seat.EAVESDROPPER and step.id in known)

    upto = len(state.steps) if not dark else min(state.step_index + 1, len(state.steps))
    shown: list[Step] = []
    positions: list[int | None] = []
    done = 0
    for i, step in enumerate(state.steps[:upto]):
        seen = knows(i, step)
        if seen:
            shown.append(step)
            done += i < state.step_index
        positions.append(len(shown) - 1 if seen else None)
    if dark:
        last = max((known[step.id] for step in shown[-1:] if step.id in known), default=-1)
        if last < 0:  # its own step no honest table has: after the last step both have
            last = max((known[step.id] for step in shown if step.id in known), default=-1)
        shown += [step for step in honest[last + 1:] if step.seat is not Seat.EAVESDROPPER]
    return shown, done, positions


def debrief(state: TableState) -> dict[str, Any]:
    """What every seat learns when its table ends (or the instructor reveals it): the scenario,
    the whole ladder with the alterations marked, where the attack was stopped and by which
    check (or that it was not), what the eavesdropper read, and every seat's score. No wallet:
    a seat's secrets stay its own (the instructor's ``reveal`` has them)."""
    return {
        "variant": state.variant.value,
        "scenario": state.scenario.value,
        "difficulty": state.difficulty.value,
        "outcome": _outcome(state),
        "completed": state.completed,
        "detected_by": state.detected_by,
        "stopped": _stopped_by(state),
        "attack_succeeded": state.attack_succeeded,
        "attacker_read": [text.decode("utf-8", "replace") for text in state.attacker_read],
        "scores": {seat.value: points for seat, points in state.scores.items()},
        "alerts": alerts(state),
        "ladder": ladder(state),
    }


def _stopped_by(state: TableState) -> dict[str, str] | None:
    """The check that stopped the attack: a refusal the referee recorded, or the failed check
    that ended an attacked handshake."""
    stop = state.stopped or (state.failed if state.outcome[0] == "attack_stopped" else None)
    return None if stop is None else {"seat": stop.seat.value, "check": stop.check, "reason": stop.reason}


def view(state: TableState, seat: Seat, now: datetime.datetime | None = None,
         dissect: bool = False, revealed: bool = False) -> dict[str, Any]:
    """Everything ``seat`` may see, as plain data. Never another seat's secret.

    At guided difficulty, with the clock given, it also offers the next correct move.
    With ``dissect`` each plaintext handshake message on the wire comes with its field
    tree (the byte inspector's), and every entry with its ``records``: each header dissected,
    and each encrypted record opened with the keys this seat holds (``inspector.py``). A seat in the dark
    (``in_the_dark``) gets no scenario name, no alteration mark and no eavesdropper's step;
    once the table is over, or ``revealed`` by the instructor, every seat gets the debrief.
    """
    dark = in_the_dark(state, seat, revealed)
    # A text from an earlier session (the first visit's request or answer, at the second) says so.
    before = state.past_wallets[-1][seat] if state.past_wallets else {}
    wallet = {name: {"kind": item.kind, "value": item.value.hex(), "secret": item.secret}
              | ({"earlier": True} if item.kind == "text" and name in before and before[name] == item else {})
              for name, item in state.wallets[seat].items()}
    dhe = dissect and _finite_field(state)
    # Every session of the table, earlier ones first (a client that connected again: a tls13
    # resumption, the tls12 replay's second handshake), each entry marked with its session.
    sessions = [*zip(state.past_sessions, state.past_wallets, strict=True), (state.wire, state.wallets)]
    copies = _replayable(state)
    places = _places(state, _shown(state, seat, revealed)[2])
    wire = []
    offset = 0
    for number, (session, wallets) in enumerate(sessions, start=1):
        numbered = list(enumerate(session, start=offset))
        offset += len(session)
        if seat is not Seat.EAVESDROPPER:  # the eavesdropper: every byte
            numbered = [(n, f) for n, f in numbered if seat in (Seat.CLIENT, Seat.SERVER) and mine(f, seat)]
        events = [f for _, f in numbered]
        # as sent and as delivered; a delivery of bytes the client or the server sent marked as a replay
        entries = [_wire_entry(f, dissect, dhe) | _replayed(f, copies) | places[n] for n, f in numbered]
        if dissect and events:  # each record's header, and what this seat's keys of that session open
            keys = keys_of(state, seat, events, wallets[seat])
            entries = [{**entry, "records": list(inspect_records(f.payload, f.label, keys))}
                       for entry, f in zip(entries, events, strict=True)]
        wire += [{**entry, "session": number} for entry in entries] if len(sessions) > 1 else entries
    if dark:  # what reached it is simply what it received
        wire = [{k: v for k, v in entry.items() if k not in ("altered", "replayed")} for entry in wire]
    step = state.current_step
    return {
        "seat": seat.value,
        "variant": state.variant.value,
        "scenario": None if dark else state.scenario.value,
        "step": step.id if step and not (dark and step.seat is Seat.EAVESDROPPER) else None,
        "your_turn": step is not None and step.seat is seat,
        "wallet": wallet,
        "wire": wire,
        "verdicts": [_verdict_entry(v) for v in state.verdicts if v.seat is seat],
        "scores": {s.value: points for s, points in state.scores.items()},
        "failed": None if state.failed is None else {"seat": state.failed.seat.value,
                                                     "check": state.failed.check,
                                                     "reason": state.failed.reason},
        "completed": state.completed,
        "detected_by": state.detected_by,
        "outcome": _outcome(state) if state.over else None,
        "offered": _offered(state, seat, now),
        "documents": seat_documents(state, seat, now),  # its certificates and CSRs, decoded
        "debrief": debrief(state) if state.over or revealed else None,
    }


def _outcome(state: TableState) -> dict[str, str]:
    kind, words = state.outcome
    return {"kind": kind, "text": words}


def _offered(state: TableState, seat: Seat, now: datetime.datetime | None) -> dict[str, Any] | None:
    step = state.current_step
    if now is None or state.difficulty is not Difficulty.GUIDED or step is None or step.seat is not seat:
        return None
    move = correct_action(state, seat, now)
    if move is None:
        return None
    return {"action": type(move).__name__, "fields": dataclasses.asdict(move), "why": step.act}


def _verdict_entry(v: Verdict) -> dict[str, Any]:
    return {"seat": v.seat.value, "step": v.step, "ok": v.ok, "points": v.points, "reason": v.reason,
            "lesson": v.lesson}


def _finite_field(state: TableState) -> bool:
    """The server chose a finite-field DHE suite (weak-dh): its key exchange messages have
    their own layout, which the bytes alone do not tell."""
    hello = next((msg for msg in state.decoded(Seat.SERVER) if isinstance(msg, m.ServerHello)), None)
    suite = CIPHER_SUITES.get(hello.cipher_suite) if hello is not None else None
    return suite is not None and suite.key_exchange is KeyExchange.DHE


@functools.lru_cache(maxsize=8192)
def _wire_entry(f: MessageSent | MessageDelivered, dissect: bool = False,
                dhe: bool = False) -> dict[str, Any]:
    """One wire event as plain data. Cached (facts are immutable, and every view of a table
    shows the same events): callers must not change the dict they get."""
    entry: dict[str, Any]
    if isinstance(f, MessageSent):
        entry = {"event": "sent", "from": f.sender.value, "label": f.label,
                 "content_type": f.content_type, "bytes": f.payload.hex()}
    else:
        entry = {"event": "delivered", "to": f.recipient.value, "label": f.label,
                 "content_type": f.content_type, "bytes": f.payload.hex(), "altered": f.altered}
    if dissect and f.content_type == ContentType.handshake and f.label != "Finished":
        entry["dissection"] = [_dissect(record[5:], dhe) for record in split_records(f.payload)]
    return entry


@functools.lru_cache(maxsize=4096)
def _dissect(raw: bytes, dhe: bool = False) -> dict[str, Any] | None:
    """The field tree of one handshake message; cached, since every view of every seat shows
    the same messages again. Callers serialise the result and never change it."""
    return _dissect_uncached(raw, dhe)


def _dissect_uncached(raw: bytes, dhe: bool = False) -> dict[str, Any] | None:
    key_exchange = None
    if dhe and raw[:1] in (bytes([m.HandshakeType.client_key_exchange]),
                           bytes([m.HandshakeType.server_key_exchange])):
        key_exchange = KeyExchange.DHE
    elif raw[:1] == bytes([m.HandshakeType.client_key_exchange]) and len(raw) > 4:
        # Its layout depends on the suite: an ECDH point has a one-byte length prefix.
        key_exchange = KeyExchange.ECDHE if raw[4] == len(raw) - 5 else KeyExchange.RSA
    try:
        return annotate_versions(raw, m.dissect_handshake(raw, key_exchange, base_offset=5).to_dict())
    except Alert:
        return None  # garbage on the wire is shown as bytes only
