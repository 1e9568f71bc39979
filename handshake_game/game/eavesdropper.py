"""The eavesdropper's seat: it sits on the wire between client and server. Passive, it
records every byte and tries to read it with what it holds; active (as the scenario
allows), it holds a flight and forwards, drops, changes or replays it, or answers with a
certificate of its own. Every attack then meets the real check that stops it — or not.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cryptography.hazmat.primitives import serialization

from ..tls import messages as m
from ..tls import pki
from ..tls.keyexchange import EcdhePrivateKey
from ..tls.observer import Side, WireObserver
from ..tls.record import ContentType
from ..tls.suites import NamedGroup, suite_name
from . import actions as a
from .facts import (
    DecryptionTried,
    Fact,
    HandshakeFailed,
    ItemStored,
    MessageDelivered,
    MessageSent,
    SessionStarted,
    Verdict,
)
from .handshake import TLS13_KEYLOG_LABELS, is_ecdhe, load_key, signed_share
from .model import Scenario, Seat, Variant
from .records import other, plain_handshake
from .rules import POINTS_ATTACK, Referee, Step, ok
from .state import TableState
from .ticketleak import read_resumed, resumed_hello
from .wire import deliver, find, held

# The step and lessons under which the referee judges a decryption attempt (it is not a step
# of the catalog: the eavesdropper may try whenever it likes). The card is the one that says
# why the recording opens or stays closed in this scenario: a leaked key, a broken weak group,
# a relay's own keys; elsewhere, the passive eavesdropper's (it has every byte but no key).
DECRYPT_STEP = "eavesdropper.try_decrypt"
DECRYPT_LESSONS = {Scenario.KEY_LEAK: "key-leak", Scenario.WEAK_DH: "weak-dh",
                   Scenario.MITM_SELF_SIGNED: "mitm", Scenario.MITM_WRONG_NAME: "mitm"}
DECRYPT_LESSON = "scenario-passive"


def decrypt_lesson(scenario: Scenario) -> str:
    return DECRYPT_LESSONS.get(scenario, DECRYPT_LESSON)


def drop(state: TableState, step: Step) -> list[Fact]:
    """TLS protects what arrives, not that it arrives: a dropped flight just never comes."""
    waiting = held(state)
    recipient = other(waiting[0].sender) if waiting else Seat.CLIENT
    awaited = waiting[0].label if waiting else "the peer"
    return [ok(step, "dropped what it held: " + ", ".join(s.label for s in waiting), 0),
            HandshakeFailed(recipient, "timeout", f"the {recipient.value} waited for {awaited} and gave up: "
                                                  "TLS guarantees secrecy and integrity, not delivery")]


def inject(state: TableState, step: Step, waiting: list[MessageSent]) -> list[Fact]:
    forged = plain_handshake(Seat.SERVER, m.ServerHelloDone())[1].payload
    injected = MessageDelivered(Seat.CLIENT, "ServerHelloDone", ContentType.handshake, forged, altered=True)
    facts: list[Fact] = [*deliver(waiting, {}), injected,
                         ok(step, "slipped an extra ServerHelloDone into the server's flight", 0)]
    if state.variant is Variant.TLS13:
        # RFC 8446 §5: after the ServerHello, handshake messages come encrypted; a plaintext
        # one is refused on arrival.
        facts.append(HandshakeFailed(Seat.CLIENT, "unexpected message",
                                     "unexpected_message: a plaintext handshake message after the "
                                     "ServerHello"))
    return facts


def pass_or_drop(state: TableState, step: Step, action: Any, waiting: list[MessageSent]) -> list[Fact] | None:
    """The two moves every interception step allows; None when the action is the attack."""
    if isinstance(action, a.Drop):
        return drop(state, step)
    if isinstance(action, a.Forward):
        return [*deliver(waiting, {}), ok(step, "forwarded unchanged", 0)]
    return None


def forged_certificate(state: TableState, key: Any, now: Any) -> bytes:
    """The certificate the eavesdropper presents: the one the CA issued it, or else one it
    signs itself for the server's name."""
    own = state.wallets[Seat.EAVESDROPPER].get("eavesdropper_certificate")
    if own is not None:
        return own.value
    return pki.self_signed_certificate(key, state.server_name, now).public_bytes(serialization.Encoding.DER)


def intercept(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    waiting = held(state)
    if (passed := pass_or_drop(state, step, action, waiting)) is not None:
        return passed
    key = load_key(state.item(Seat.EAVESDROPPER, "eavesdropper_key"))
    forged = forged_certificate(state, key, ref.now())
    replace = {"Certificate": plain_handshake(Seat.SERVER, m.Certificate((forged,)))[1].payload}
    facts: list[Fact] = [ItemStored(Seat.EAVESDROPPER, "forged_certificate", "certificate", forged, False)]
    if is_ecdhe(state):
        client_random = find(state, Seat.SERVER, m.ClientHello).random
        server_random = find(state, Seat.SERVER, m.ServerHello).random
        share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
        facts.append(ItemStored(Seat.EAVESDROPPER, "ecdhe_private", "secret", share.private_bytes(), True))
        signed = signed_share(key, client_random, server_random, share)
        replace["ServerKeyExchange"] = plain_handshake(Seat.SERVER, signed)[1].payload
    return [*facts, *deliver(waiting, replace),
            ok(step, "swapped in its own certificate" + (" and its own signed ECDH share"
                                                         if is_ecdhe(state) else ""), 0)]


def tamper(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    waiting = held(state)
    if (passed := pass_or_drop(state, step, action, waiting)) is not None:
        return passed
    if isinstance(action, a.Inject):
        return inject(state, step, waiting)
    hello = next(s for s in waiting if s.label == "ServerHello")
    offset = 5 + 4 + 2 + action.offset % 32  # record header, handshake header, version, then random
    payload = bytearray(hello.payload)
    payload[offset] ^= 0x01
    return [*deliver(waiting, {"ServerHello": bytes(payload)}),
            ok(step, "flipped one bit of server_random in flight", 0)]


def strip_suites(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    waiting = held(state)
    if (passed := pass_or_drop(state, step, action, waiting)) is not None:
        return passed
    hello_sent = next(s for s in waiting if s.label == "ClientHello")
    hello = m.decode_handshake(hello_sent.payload[5:])
    assert isinstance(hello, m.ClientHello)
    weaker = dataclasses.replace(hello, cipher_suites=hello.cipher_suites[1:] or hello.cipher_suites)
    payload = plain_handshake(Seat.CLIENT, weaker)[1].payload
    return [*deliver(waiting, {"ClientHello": payload}),
            ok(step, f"removed {suite_name(hello.cipher_suites[0])} from the offer", 0)]


def reconnect(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    return [SessionStarted(), ok(step, "a new session: new randoms, so new keys, whatever was recorded", 0)]


def replay(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    waiting = held(state)
    if (passed := pass_or_drop(state, step, action, waiting)) is not None:
        return passed
    old = {f.label: f.payload for f in state.past_sessions[-1]
           if isinstance(f, MessageSent) and f.sender is Seat.CLIENT}
    labels: tuple[str, ...] = ("ClientKeyExchange", "Certificate", "CertificateVerify", "ChangeCipherSpec",
                               "Finished")
    replace: dict[str, bytes] = {label: old[label] for label in labels if label in old}
    return [*deliver(waiting, replace),
            ok(step, "replayed the first session's ClientKeyExchange and Finished, byte for byte", 0)]


def try_decrypt(state: TableState) -> list[Fact]:
    """The eavesdropper runs its recording through a real TLS observer with every key it
    holds; it reads only what those keys really open. When the client resumed with a ticket
    (tls13), the recording is two connections: the full handshake, read as any other, and the
    resumption, which only the server's ticket key opens (``ticketleak``)."""
    hello = resumed_hello(state)
    first = state.past_sessions[-1] if hello is not None and state.past_sessions else state.wire
    succeeded, reason, plaintext = _read(state, first)
    if hello is not None:
        resumed = read_resumed(state, hello)
        reason = f"the first session, a full handshake: {reason}. The resumed session: {resumed.reason}"
        succeeded = succeeded or resumed.succeeded
        plaintext += resumed.client + resumed.server
    facts: list[Fact] = [DecryptionTried(Seat.EAVESDROPPER, succeeded, reason, plaintext)]
    if succeeded:
        facts.append(_verdict(state.scenario, True, POINTS_ATTACK, reason))
        if plaintext:
            facts.append(ItemStored(Seat.EAVESDROPPER, "decrypted_traffic", "text", plaintext, True))
    else:  # the student learns why the recording stayed closed (no points either way)
        facts.append(_verdict(state.scenario, False, 0, f"the recording stays closed: {reason}"))
    return facts


def _read(state: TableState, wire: tuple[MessageSent | MessageDelivered, ...]) -> tuple[bool, str, bytes]:
    """One recorded connection, through the observer with every key the eavesdropper holds."""
    tap = WireObserver()
    for f in wire:  # the conversation as the client had it: its bytes, and what reached it
        if isinstance(f, MessageSent) and f.sender is Seat.CLIENT:
            tap.client_sent(f.payload)
        elif isinstance(f, MessageDelivered) and f.recipient is Seat.CLIENT:
            tap.server_sent(f.payload)
    wallet = state.wallets[Seat.EAVESDROPPER]
    attempt = tap.try_decrypt()
    if tap.client_hello is not None and all(name in wallet for name in TLS13_KEYLOG_LABELS):
        # A TLS 1.3 man in the middle knows the secrets of its half of the connection.
        lines = [f"{label} {tap.client_hello.random.hex()} {wallet[name].value.hex()}"
                 for name, label in TLS13_KEYLOG_LABELS.items()]
        attempt = tap.try_decrypt(keylog_lines=lines)
    recovered = wallet.get("recovered_master_secret")
    if tap.client_hello is not None and recovered is not None and not attempt.succeeded:
        # weak-dh: the master secret the eavesdropper computed from the broken key exchange.
        attempt = tap.try_decrypt(keylog_lines=[f"CLIENT_RANDOM {tap.client_hello.random.hex()} "
                                                f"{recovered.value.hex()}"])
    for name in ("leaked_server_key", "eavesdropper_key"):
        if not attempt.succeeded and name in wallet:
            attempt = tap.try_decrypt(server_private_key=load_key(wallet[name].value))
    if not attempt.succeeded and "ecdhe_private" in wallet:
        attempt = tap.try_decrypt(ecdhe_private=wallet["ecdhe_private"].value)
    plaintext = attempt.application_data(Side.CLIENT) + attempt.application_data(Side.SERVER)
    # Reading back what it encrypted itself proves nothing, and keys that open only a Finished
    # read nothing: the attack works when it opens application data the client sealed.
    succeeded = attempt.succeeded and bool(attempt.application_data(Side.CLIENT))
    reason = attempt.reason if succeeded or not attempt.succeeded else (
        "the keys work, but the client sealed no application data: the handshake stopped before "
        "there was anything to read")
    return succeeded, reason, plaintext


def _verdict(scenario: Scenario, succeeded: bool, points: int, reason: str) -> Verdict:
    return Verdict(Seat.EAVESDROPPER, DECRYPT_STEP, succeeded, points, reason, decrypt_lesson(scenario))
