"""The menu of choices: what a seat can do now, as plain JSON data for the seat console.

Rules:

* ``choices(state, seat, now)`` lists the moves open to ``seat`` at the current step:
  the correct one *and* the plausible wrong ones the referee scores as teaching
  mistakes (accept a forged certificate, encrypt the premaster to the CA's key, swap
  the randoms in the PRF seed, issue a rogue CSR ...), then ``RequestHint``. It is
  empty when it is not the seat's turn or the table is paused; once the handshake is
  over, the eavesdropper alone may still try to decrypt what it recorded.
* Every field value offered is one the referee understands: a chosen value is either
  played (and scored, right or wrong) or refused with a teaching reason — never a
  value the referee would treat as malformed. Values the referee refuses as illegal
  (a suite the client did not offer, ``EncryptPremaster`` in an ECDHE handshake) are
  not offered at all.
* Choices, fields and options come in a fixed order that does not depend on which
  one is right. At guided difficulty each default is the correct value and the
  correct choice is ``recommended``; at standard and expert difficulty a select's
  default is its first option and nothing is recommended, so the menu gives nothing
  away (a table whose certificate is forged shows the same menu as an honest one).
* Nothing secret goes in: labels, names and public suite names only.

A choice is ``{"action", "label", "recommended", "fields"}``; ``action`` is the class
name in ``actions.py`` and each field's ``name`` is that dataclass's field, so a filled
choice is exactly what the server's ``build_action`` takes. A field is ``{"name",
"label", "kind", "default"}`` where ``kind`` is ``select`` (one of ``options``),
``multi`` (a list of ``options`` values, in the options' order), ``text``, ``number``
or ``hex``; selects carry ``options`` (``[{"value", "label"}]``), text a
``max_length``, numbers ``min``/``max``. A field whose default is ``null`` may be
left empty (sent as ``null``).
"""

from __future__ import annotations

import datetime
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..tls import messages as m
from ..tls.suites import CIPHER_SUITES, KeyExchange, suite_by_name
from . import actions as a
from .expert import derived_at
from .facts import MessageSent
from .guide import REQUEST, RESPONSE, TRANSFER, TRANSFER_DONE, certificate_problem, correct_action
from .handshake import is_ecdhe, is_mutual
from .model import Difficulty, Seat, Variant, suites_for
from .relay import open_held
from .rules import CLIENT_NAME, EAVESDROPPER_NAME, POINTS_HINT, Step
from .state import TableState
from .tls12 import suite_of
from .weakdh import strip_possible
from .wire import held

Choice = dict[str, Any]
Field = dict[str, Any]

# The longest texts the referee handles: an X.509 common name (RFC 5280 ub-common-name),
# and application data that fits one TLS record even at 4 UTF-8 bytes a character
# (RFC 5246 §6.2.1: 2^14 bytes of plaintext).
MAX_COMMON_NAME = 64
MAX_APPLICATION_TEXT = 2**14 // 4


def catalog(steps: Sequence[Step]) -> list[dict[str, str]]:
    """Steps as a seat console lists them: who acts, what happens, the lesson that explains it."""
    return [{"id": step.id, "seat": step.seat.value, "label": step.label, "act": step.act,
             "lesson": step.lesson} for step in steps]


def choices(state: TableState, seat: Seat, now: datetime.datetime) -> list[Choice]:
    """What ``seat`` can do now, as plain JSON data (see the module's rules)."""
    if state.paused:
        return []
    step = state.current_step
    if step is None:
        if seat is Seat.EAVESDROPPER:
            return [_choice(a.TryDecrypt, "Try to decrypt the recorded traffic with what you hold")]
        return []
    if step.seat is not seat:
        return []
    guided = state.difficulty is Difficulty.GUIDED
    move = correct_action(state, seat, now) if guided else None
    menu = step.menu(Context(state, step, move))
    if move is not None:
        for choice in menu:
            choice["recommended"] = choice["action"] == type(move).__name__
    else:
        menu = _unmarked(state, step, menu)
    cost = "free at guided difficulty" if guided else f"costs {-POINTS_HINT} points"
    menu.append(_choice(a.RequestHint, f"Ask for a hint ({cost})"))
    return menu


def describe_move(state: TableState, step: Step, move: a.Action | None, now: datetime.datetime) -> str:
    """A hint in words: the step, what the checks found where the step is a decision, and the
    right move as the menu names it (never the action's internal name)."""
    if move is None:
        return f"{step.act}. Nothing to do here."
    why = ""
    if step.id == "client.check_certificate":
        problem = certificate_problem(state, now)
        why = (" Every check passes: the chain leads to the root in your trust store, the name is "
               f"{state.server_name}, today is within the validity dates"
               + (", and the server's signature verifies." if state.variant is not Variant.TLS12_RSA
                  else ".")) if problem is None else f" The {problem[0]} check fails: {problem[1]}."
    menu = step.menu(Context(state, step, move))
    choice = next((c for c in menu if c["action"] == type(move).__name__), None)
    if choice is None:
        return f"{step.act}.{why}"
    values = []
    for field in choice["fields"]:
        value = getattr(move, field["name"], None)
        if value is None or field["kind"] not in ("select", "multi"):
            continue
        wanted = value if field["kind"] == "multi" else [value]
        words = [o["label"] for o in field["options"] if o["value"] in list(wanted)]
        if words:
            values.append(f"{field['label']}: {', '.join(words)}")
    how = f" ({'; '.join(values)})" if values else ""
    return f"{step.act}.{why} The move: {choice['label']}{how}."


def _unmarked(state: TableState, step: Step, menu: list[Choice]) -> list[Choice]:
    """Standard and expert: nothing on the menu points at the answer. The choices and the
    options of every list come in an order of this table's own (the same at every redraw),
    and no list has an option chosen in advance: the student picks."""
    # A seed of this table's (its CA's fresh root certificate) and this step.
    root = state.wallets[Seat.CA].get("ca_certificate")
    order = random.Random(hashlib.sha256((root.value if root else b"") + step.id.encode()).digest())
    menu = list(menu)
    order.shuffle(menu)
    for choice in menu:
        for field in choice["fields"]:
            if field["kind"] == "select":
                field["options"] = list(field["options"])
                order.shuffle(field["options"])
                field["default"] = None
    return menu


@dataclass(frozen=True)
class Context:
    state: TableState
    step: Step
    move: a.Action | None  # the correct move, known only at guided difficulty

    def default(self, action: type, name: str, neutral: Any) -> Any:
        """The correct value at guided difficulty; ``neutral`` otherwise (or when the
        correct move is another action, or leaves the field to the engine)."""
        if isinstance(self.move, action):
            value = getattr(self.move, name)
            if value is not None:
                return list(value) if isinstance(value, tuple) else value
        return neutral

    @property
    def expert(self) -> bool:
        return self.state.difficulty is Difficulty.EXPERT


def _choice(action: type, label: str, *fields: Field) -> Choice:
    return {"action": action.__name__, "label": label, "recommended": False, "fields": list(fields)}


def _option(value: Any, label: str) -> dict[str, Any]:
    return {"value": value, "label": label}


def _select(name: str, label: str, options: list[dict[str, Any]], default: Any) -> Field:
    return {"name": name, "label": label, "kind": "select", "options": options, "default": default}


# -- one menu per step -------------------------------------------------------------------------

def publish_root(ctx: Context) -> list[Choice]:
    name = ctx.default(a.PublishRoot, "common_name", a.PublishRoot().common_name)
    return [_choice(a.PublishRoot, "Create the root certificate and publish it as the client's trust store",
                    {"name": "common_name", "label": "the CA's name on its root certificate", "kind": "text",
                     "default": name, "max_length": MAX_COMMON_NAME})]


def generate_key(ctx: Context) -> list[Choice]:
    return [_choice(a.GenerateKeyPair, "Generate a key pair (the private half stays in your wallet)")]


def send_csr(ctx: Context) -> list[Choice]:
    state = ctx.state
    names = [_option(state.server_name, f"{state.server_name}: the server's host name")]
    if ctx.step.seat is not Seat.EAVESDROPPER:
        names.append(_option(CLIENT_NAME, f"{CLIENT_NAME}: the client's name"))
    # The CA's review of the eavesdropper's CSR knows two stories: its own name, or the server's.
    names.append(_option(EAVESDROPPER_NAME, f"{EAVESDROPPER_NAME}: the eavesdropper's own name"))
    name = ctx.default(a.SendCsr, "name", names[0]["value"])
    return [_choice(a.SendCsr, "Send a certificate signing request (CSR) to the CA, signed with your key",
                    _select("name", "for which name", names, name))]


def review(ctx: Context) -> list[Choice]:
    reason = ctx.default(a.RefuseCsr, "reason", "")
    return [_choice(a.IssueCertificate, "Issue the certificate: sign it with the CA's key"),
            _choice(a.RefuseCsr, "Refuse the request",
                    {"name": "reason", "label": "why (the requester is told)", "kind": "text",
                     "default": reason, "max_length": 200})]


def _suite_label(name: str) -> str:
    suite = suite_by_name(name)
    exchange = "" if suite.tls13 else f"{suite.key_exchange.name} key exchange, "
    return f"{name} ({exchange}{suite.aead} records, {suite.hash_name})"


def client_hello(ctx: Context) -> list[Choice]:
    names = list(suites_for(ctx.state.variant, ctx.state.scenario))
    suites = ctx.default(a.SendClientHello, "suites", names)
    what = ("a fresh client_random, an x25519 key share and the offered suites"
            if ctx.state.variant is Variant.TLS13 else "a fresh client_random and the offered suites")
    return [_choice(a.SendClientHello, f"Send the ClientHello: {what}",
                    {"name": "suites", "label": "the cipher suites to offer, strongest first",
                     "kind": "multi", "options": [_option(name, _suite_label(name)) for name in names],
                     "default": suites})]


_SERVER_FLIGHT = {
    Variant.TLS12_RSA: "ServerHello, Certificate and ServerHelloDone",
    Variant.TLS12_ECDHE: "ServerHello, Certificate, a signed ECDH share (ServerKeyExchange) and "
                         "ServerHelloDone",
    Variant.TLS12_MUTUAL: "ServerHello, Certificate, a signed ECDH share (ServerKeyExchange), "
                          "CertificateRequest and ServerHelloDone",
    Variant.TLS13: "ServerHello with a key share, then encrypted: EncryptedExtensions, Certificate, "
                   "CertificateVerify and Finished",
}


def _offer(state: TableState) -> list[str]:
    """The suites in the ClientHello that reached the server, in the client's order."""
    hello = next((msg for msg in state.decoded(Seat.SERVER) if isinstance(msg, m.ClientHello)), None)
    if hello is None:
        return []
    return [CIPHER_SUITES[code].name for code in hello.cipher_suites if code in CIPHER_SUITES]


def server_hello(ctx: Context) -> list[Choice]:
    offered = _offer(ctx.state)
    # The server may pick any offered suite; left to itself it takes its own strongest.
    own = next((name for name in suites_for(ctx.state.variant, ctx.state.scenario) if name in offered), None)
    neutral = own if ctx.move is not None else (offered[0] if offered else None)
    fields = [_select("suite", "the cipher suite to choose from the client's offer",
                      [_option(name, _suite_label(name)) for name in offered], neutral)] if offered else []
    return [_choice(a.SendServerHello, f"Send {_SERVER_FLIGHT[ctx.state.variant]}", *fields)]


def check_certificate(ctx: Context) -> list[Choice]:
    what = "the chain to the trusted CA, the name, the validity"
    if ctx.state.variant is Variant.TLS13:
        what += " and the CertificateVerify signature"
    elif suite_of(ctx.state, Seat.CLIENT).key_exchange is KeyExchange.DHE:
        what += ", the signature on the DH share and the size of its group (2048 bits at least)"
    elif is_ecdhe(ctx.state):
        what += " and the signature on the ECDH share"
    # TLS 1.3 at expert: the handshake traffic secrets that open the server's flight, either way.
    computed = _computed(ctx)
    return [_choice(a.AcceptCertificate, f"Accept the certificate: trust that {what} check out", *computed),
            _choice(a.RejectCertificate, "Reject the certificate and end the handshake", *computed)]


def key_exchange(ctx: Context) -> list[Choice]:
    state = ctx.state
    if is_mutual(state):
        present = ctx.default(a.SendKeyShare, "present_certificate", True)
        return [_choice(a.SendKeyShare, "Send your ECDH share (ClientKeyExchange)",
                        _select("present_certificate", "your certificate, which the server asked for",
                                [_option(True, "send it, and sign the handshake with your key "
                                               "(CertificateVerify)"),
                                 _option(False, "send no certificate")], present))]
    exchange = suite_of(state, Seat.CLIENT).key_exchange
    if exchange is not KeyExchange.RSA:
        kind = "ECDH" if exchange is KeyExchange.ECDHE else "DH"
        return [_choice(a.SendKeyShare, f"Send your {kind} share (ClientKeyExchange): both sides then "
                                        "compute the same premaster")]
    key = ctx.default(a.EncryptPremaster, "key", "server_certificate")
    return [_choice(a.EncryptPremaster, "Make a fresh premaster secret and send it encrypted "
                                        "(ClientKeyExchange)",
                    _select("key", "to which public key",
                            [_option("server_certificate", "the server certificate's public key"),
                             _option("trust_store", "the CA's public key (from your trust store)")], key))]


def _randoms(ctx: Context) -> Field:
    orders = [_option("client+server", "client_random, then server_random"),
              _option("server+client", "server_random, then client_random")]
    return _select("randoms", "the order of the two randoms in the master secret's PRF seed (RFC 5246 §8.1)",
                   orders,
                   ctx.default(a.DeriveAndSendFinished, "randoms", orders[0]["value"]))


def _computed(ctx: Context) -> list[Field]:
    """Expert difficulty: a hex field for every value the step derives (``game.expert``),
    labelled with how it is made, never with the value."""
    return [{"name": value.field, "kind": "hex", "default": None, "formula": value.formula,
             "label": f"{value.words}, as hex"}
            for value in derived_at(ctx.state, ctx.step)]


def client_finished(ctx: Context) -> list[Choice]:
    if ctx.state.variant is Variant.TLS13:
        return [_choice(a.DeriveAndSendFinished, "Check the server's Finished, derive the application "
                                                 "traffic secrets and send your Finished", *_computed(ctx))]
    # At expert the player's own master secret replaces the choice of the seed's order.
    fields = _computed(ctx) if ctx.expert else [_randoms(ctx)]
    return [_choice(a.DeriveAndSendFinished, "Derive the master secret and keys, send ChangeCipherSpec and "
                                             "Finished", *fields)]


def server_finished(ctx: Context) -> list[Choice]:
    # Per the suite the server chose (a weak-dh table can end on DHE in any TLS 1.2 variant):
    # RSA transports the premaster (RFC 5246 §7.4.7.1); (EC)DHE computes it from the shares.
    how = {KeyExchange.RSA: "Decrypt the premaster with the certificate's private key",
           KeyExchange.ECDHE: "Compute the premaster from your ECDH share and the client's",
           KeyExchange.DHE: "Compute the premaster from your DH share and the client's"}[
        suite_of(ctx.state, Seat.SERVER).key_exchange]
    fields = _computed(ctx) if ctx.expert else [_randoms(ctx)]
    return [_choice(a.DeriveAndSendFinished, f"{how}, derive the master secret and keys, check "
                                             "the client's Finished and send yours", *fields)]


def verify_finished(ctx: Context) -> list[Choice]:
    other = "client" if ctx.step.seat is Seat.SERVER else "server"
    return [_choice(a.VerifyFinished, f"Check the {other}'s Finished", *_computed(ctx))]


def send_data(ctx: Context) -> list[Choice]:
    default = REQUEST if ctx.step.seat is Seat.CLIENT else RESPONSE
    text = ctx.default(a.SendApplicationData, "text", default)
    what = "your request" if ctx.step.seat is Seat.CLIENT else "the answer"
    return [_choice(a.SendApplicationData, f"Send {what} in an encrypted record",
                    {"name": "text", "label": "the message", "kind": "text", "default": text,
                     "max_length": MAX_APPLICATION_TEXT})]


def read_data(ctx: Context) -> list[Choice]:
    return [_choice(a.ReadApplicationData, "Decrypt and read the server's answer")]


def reconnect(ctx: Context) -> list[Choice]:
    return [_choice(a.Reconnect, "Connect to the server again: a new session with fresh randoms")]


def _held_words(state: TableState) -> str:
    labels = list(dict.fromkeys(sent.label for sent in held(state)))
    return ", ".join(labels) if labels else "what you hold"


def _forward_or_drop(ctx: Context) -> list[Choice]:
    held = _held_words(ctx.state)
    return [_choice(a.Forward, f"Forward what you hold ({held}) unchanged"),
            _choice(a.Drop, f"Drop what you hold ({held}): it never arrives")]


def intercept(ctx: Context) -> list[Choice]:
    return [*_forward_or_drop(ctx),
            _choice(a.SwapCertificate, _SWAP[ctx.state.variant])]


_SWAP = {
    Variant.TLS12_RSA: "Swap the server's certificate for your own",
    Variant.TLS12_ECDHE: "Swap the server's certificate for your own, and its signed ECDH share for yours",
    Variant.TLS12_MUTUAL: "Swap the server's certificate for your own, and its signed ECDH share for yours",
    Variant.TLS13: "Answer the client yourself: your own key share, then your own encrypted flight with your "
                   "certificate, CertificateVerify and Finished",
}


def downgrade_to_dhe(ctx: Context) -> list[Choice]:
    what = ("Remove the client's x25519 key share and group from the ClientHello"
            if ctx.state.variant is Variant.TLS13 else
            "Remove every suite but the weak DHE one from the ClientHello (a downgrade to export grade)")
    if not strip_possible(ctx.state):  # the client offered no weak suite: nothing to downgrade to
        return _forward_or_drop(ctx)
    return [*_forward_or_drop(ctx), _choice(a.StripSuites, what)]


_RELAY = {
    "eavesdropper.break_dh": "Break the key exchange: compute the discrete logarithm of the server's DH "
                             "share, derive the master secret, and send the server a client Finished you "
                             "forge over its transcript",
    "eavesdropper.forge_finished": "Replace the server's Finished with one you forge over the client's "
                                   "transcript",
    "eavesdropper.answer_client": "Answer the client yourself: read the server's flight with the keys your "
                                  "share made, and send the client your own key share, certificate, "
                                  "CertificateVerify and Finished",
    "eavesdropper.relay_handshake": "Finish both handshakes: open the client's key exchange with your key, "
                                    "check its Finished, and run your own key exchange and Finished with the "
                                    "server",
    "eavesdropper.relay_finished": "Answer the server's Finished: send the client a Finished of your own "
                                   "over the client's handshake",
}


def relay(ctx: Context) -> list[Choice]:
    return [_choice(a.Relay, _RELAY[ctx.step.id]),
            _choice(a.Drop, f"Drop what you hold ({_held_words(ctx.state)}): it never arrives")]


def relay_data(ctx: Context) -> list[Choice]:
    sender = Seat.CLIENT if ctx.step.id == "eavesdropper.relay_request" else Seat.SERVER
    record = next(s.payload for s in held(ctx.state) if s.label == "application data" and s.sender is sender)
    read = open_held(ctx.state, sender, record).decode("utf-8", "replace")
    what, to = ("request", "server") if sender is Seat.CLIENT else ("answer", "client")
    text = ctx.default(a.Relay, "text", read)
    return [_choice(a.Relay, f"Pass the {what} on to the {to}, sealed again with the keys of your connection "
                             f"to it: as you read it, or changed",
                    {"name": "text", "label": f"the {what} the {to} gets (you read: {read!r})",
                     "kind": "text", "default": text, "max_length": MAX_APPLICATION_TEXT}),
            _choice(a.Drop, f"Drop the {what}: it never arrives")]


def tamper(ctx: Context) -> list[Choice]:
    return [*_forward_or_drop(ctx),
            _choice(a.Inject, "Forward it and slip in an extra ServerHelloDone of your own"),
            _choice(a.FlipByte, "Flip one bit of the ServerHello's server_random",
                    {"name": "offset", "label": "which byte of server_random (0 to 31)", "kind": "number",
                     "default": ctx.default(a.FlipByte, "offset", 0), "min": 0, "max": 31})]


def strip_suites(ctx: Context) -> list[Choice]:
    return [*_forward_or_drop(ctx),
            _choice(a.StripSuites, "Remove the strongest suite from the ClientHello (a downgrade)")]


def replay(ctx: Context) -> list[Choice]:
    return [*_forward_or_drop(ctx),
            _choice(a.ReplayOldFlight, f"Replace what you hold ({_held_words(ctx.state)}) with the same "
                                       "messages recorded in the first session")]


# -- the tls13 replay scenario: resumption and 0-RTT (``zerortt.py``) -----------------------------

def new_session_ticket(ctx: Context) -> list[Choice]:
    return [_choice(a.SendNewSessionTicket, "Send the client a NewSessionTicket to resume with later")]


_PSK_MODE_OPTIONS = {
    a.PSK_DHE_KE: "psk_dhe_ke: the PSK and a fresh x25519 exchange",
    a.PSK_KE: "psk_ke: the PSK alone, no key share",
}


def resume(ctx: Context) -> list[Choice]:
    mode = ctx.default(a.ResumeSession, "psk_mode", a.PSK_MODES[0])
    early = ctx.default(a.ResumeSession, "early_data", True)
    return [_choice(a.ResumeSession, "Connect again with your ticket: choose the key exchange mode, and "
                                     "whether the transfer request goes as 0-RTT early data",
                    _select("psk_mode", "the PSK key exchange mode (psk_key_exchange_modes)",
                            [_option(value, _PSK_MODE_OPTIONS[value]) for value in a.PSK_MODES], mode),
                    _select("early_data", "the transfer request",
                            [_option(True, "send it as 0-RTT early data, right behind the ClientHello"),
                             _option(False, "wait for the handshake, and send it under the 1-RTT keys")],
                            early))]


_EARLY_DATA_OPTIONS = {
    a.EARLY_DATA_SINGLE_USE: "accept 0-RTT, with single-use tickets (anti-replay)",
    a.EARLY_DATA_NO_ANTI_REPLAY: "accept 0-RTT, without anti-replay",
    a.EARLY_DATA_REFUSE: "refuse 0-RTT: the request waits for 1-RTT",
}


def answer_resumption(ctx: Context) -> list[Choice]:
    policy = ctx.default(a.AnswerResumption, "early_data", a.EARLY_DATA_POLICIES[0])
    return [_choice(a.AnswerResumption, "Open the ticket, check the binder, and answer without a certificate",
                    _select("early_data", "the client's 0-RTT early data",
                            [_option(value, _EARLY_DATA_OPTIONS[value]) for value in a.EARLY_DATA_POLICIES],
                            policy))]


def retry_request(ctx: Context) -> list[Choice]:
    text = ctx.default(a.SendApplicationData, "text", TRANSFER)
    sent_early = any(isinstance(f, MessageSent) and f.sender is Seat.CLIENT and f.label == "early data"
                     for f in ctx.state.wire)  # this session's 0-RTT data, which the server refused
    return [_choice(a.SendApplicationData, "Send your request " + ("again, " if sent_early else "")
                    + "under the 1-RTT application keys",
                    {"name": "text", "label": "the message", "kind": "text", "default": text,
                     "max_length": MAX_APPLICATION_TEXT})]


def answer_transfer(ctx: Context) -> list[Choice]:
    text = ctx.default(a.SendApplicationData, "text", TRANSFER_DONE)
    return [_choice(a.SendApplicationData, "Run the request and send the answer in an encrypted record",
                    {"name": "text", "label": "the answer", "kind": "text", "default": text,
                     "max_length": MAX_APPLICATION_TEXT})]


def replay_early_data(ctx: Context) -> list[Choice]:
    return [_choice(a.Forward, "Leave the recorded ClientHello and its early data alone"),
            _choice(a.ReplayEarlyData, "Send the recorded ClientHello and its 0-RTT early data to the server "
                                       "again, in a connection of your own")]
