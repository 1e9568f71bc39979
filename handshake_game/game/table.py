"""A table: four seats playing one real handshake, event-sourced.

Rules (the shape of DESIGN.md):

* ``decide(state, seat, action, ...)`` checks that it is ``seat``'s turn and that the
  action fits the current step, runs the real cryptography of ``handshake_game.tls``
  for it, and returns facts carrying every value it produced. An illegal move raises
  :class:`Rejected` and changes nothing.
* ``apply(state, fact)`` is pure: the state is the fold of the facts, so replaying a
  table's facts rebuilds it exactly.
* ``view(state, seat)`` is all a seat may see: its own wallet, the messages it sent and
  received (the eavesdropper: every byte on the wire), its verdicts, the scores.

Wrong choices are allowed. Their consequences are real: a premaster encrypted to the
wrong key is not what the server recovers, so the keys differ and the Finished record
does not authenticate; the referee explains why, but the failure is the AEAD's.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa, x25519

from ..tls import messages as m
from ..tls import pki
from ..tls.alerts import Alert
from ..tls.keyexchange import (
    EcdhePrivateKey,
    new_pre_master_secret,
    rsa_decrypt_pre_master,
    rsa_encrypt_pre_master,
    sign,
    verify,
)
from ..tls.keyschedule import (
    CLIENT_FINISHED_LABEL,
    SERVER_FINISHED_LABEL,
    KeyBlock,
    key_block,
    prf,
    verify_data,
)
from ..tls.observer import Side, WireObserver
from ..tls.record import ContentType, RecordLayer, RecordProtection
from ..tls.suites import (
    CIPHER_SUITES,
    CipherSuite,
    KeyExchange,
    NamedGroup,
    SignatureScheme,
    suite_by_name,
    suite_name,
)
from . import actions as a
from .facts import (
    AttackStopped,
    DecryptionTried,
    Fact,
    ForgeryAccepted,
    HandshakeFailed,
    ItemStored,
    MessageDelivered,
    MessageSent,
    ScenarioInjected,
    ServerKeyLeaked,
    SessionStarted,
    StepDone,
    TableOpened,
    TablePaused,
    TableResumed,
    Verdict,
)
from .model import (
    INTERCEPTED,
    SUITES_FOR_VARIANT,
    Difficulty,
    Scenario,
    Seat,
    Step,
    Variant,
    steps_for,
    supports,
)

Rng = Callable[[int], bytes]
KeySource = Callable[[], rsa.RSAPrivateKey]  # a warm key pool in the server; fresh keys in tests

POINTS_STEP = 10
POINTS_MISTAKE = -5
POINTS_BAD_TRUST = -20  # accepting a certificate that fails its checks
POINTS_CAUGHT = 20  # refusing a certificate (or CSR) that deserved it
POINTS_ATTACK = 30  # the eavesdropper reads the traffic
POINTS_HINT = -2  # standard and expert difficulty; hints are free when guided


class Rejected(Exception):
    """An illegal move (wrong seat, wrong time, missing item). Nothing changes."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
    def steps(self) -> tuple[Step, ...]:
        return steps_for(self.variant, self.scenario)

    @property
    def current_step(self) -> Step | None:
        if self.failed is not None or self.step_index >= len(self.steps):
            return None
        return self.steps[self.step_index]

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
            cache[seat] = _decoded(self.wire, seat)
        return cache[seat]

    def item(self, seat: Seat, name: str) -> bytes:
        found = self.wallets[seat].get(name)
        if found is None:
            raise Rejected(f"the {seat.value} holds no {name.replace('_', ' ')}")
        return found.value


def open_table(variant: Variant, scenario: Scenario = Scenario.HONEST,
               difficulty: Difficulty = Difficulty.STANDARD,
               server_name: str = "shop.example") -> tuple[TableState, list[Fact]]:
    if not supports(variant, scenario):
        raise Rejected(f"{scenario.value} is not staged for {variant.value} yet")
    opened = TableOpened(variant, scenario, difficulty, server_name)
    return apply(initial_state(opened), opened), [opened]


def initial_state(opened: TableOpened) -> TableState:
    return TableState(opened.variant, opened.scenario, opened.difficulty, opened.server_name)


# -- apply: pure -----------------------------------------------------------------------------

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
        return _evolve(state, wire=state.wire + (fact,))
    if isinstance(fact, ForgeryAccepted):
        return _evolve(state, forgery_accepted=fact)
    if isinstance(fact, AttackStopped):
        return _evolve(state, stopped=fact)
    if isinstance(fact, SessionStarted):
        return _evolve(state, past_sessions=state.past_sessions + (state.wire,), wire=())
    if isinstance(fact, TablePaused | TableResumed):
        return _evolve(state, paused=isinstance(fact, TablePaused))
    if isinstance(fact, ScenarioInjected):
        return _evolve(state, scenario=fact.scenario)
    if isinstance(fact, Verdict):
        scores = dict(state.scores)
        scores[fact.seat] += fact.points
        return _evolve(state, verdicts=state.verdicts + (fact,),
                                   scores=MappingProxyType(scores))
    if isinstance(fact, StepDone):
        return _evolve(state, step_index=state.step_index + 1)
    if isinstance(fact, HandshakeFailed):
        return _evolve(state, failed=fact)
    if isinstance(fact, ServerKeyLeaked):
        leaked = ItemStored(Seat.EAVESDROPPER, "leaked_server_key", "private_key", fact.private_key_pem, True)
        return _evolve(apply(state, leaked), key_leaked=True)
    if isinstance(fact, DecryptionTried):
        return _evolve(state, decryptions=state.decryptions + (fact,))
    raise TypeError(f"not a fact: {fact!r}")


def replay(facts: list[Fact]) -> TableState:
    opened = facts[0]
    assert isinstance(opened, TableOpened)
    state = initial_state(opened)
    for fact in facts:
        state = apply(state, fact)
    return state


# -- decide: the referee ------------------------------------------------------------------

@dataclass
class Referee:
    """What ``decide`` needs from the outside world: randomness, the clock, RSA keys."""

    rng: Rng
    now: Callable[[], datetime.datetime]
    rsa_keys: KeySource


ALLOWED: dict[str, tuple[type, ...]] = {
    "ca.publish_root": (a.PublishRoot,),
    "server.generate_key": (a.GenerateKeyPair,),
    "server.send_csr": (a.SendCsr,),
    "ca.review_csr": (a.IssueCertificate, a.RefuseCsr),
    "client.generate_key": (a.GenerateKeyPair,),
    "client.send_csr": (a.SendCsr,),
    "ca.review_client_csr": (a.IssueCertificate, a.RefuseCsr),
    "client.hello": (a.SendClientHello,),
    "server.hello": (a.SendServerHello,),
    "client.check_certificate": (a.AcceptCertificate, a.RejectCertificate),
    "client.key_exchange": (a.EncryptPremaster, a.SendKeyShare),
    "client.finished": (a.DeriveAndSendFinished,),
    "server.finished": (a.DeriveAndSendFinished,),
    "client.verify_finished": (a.VerifyFinished,),
    "server.verify_finished": (a.VerifyFinished,),
    "client.send_data": (a.SendApplicationData,),
    "server.send_data": (a.SendApplicationData,),
    "client.read_data": (a.ReadApplicationData,),
    "eavesdropper.generate_key": (a.GenerateKeyPair,),
    "eavesdropper.send_csr": (a.SendCsr,),
    "ca.review_eavesdropper_csr": (a.IssueCertificate, a.RefuseCsr),
    "eavesdropper.intercept": (a.Forward, a.Drop, a.SwapCertificate),
    "eavesdropper.tamper": (a.Forward, a.Drop, a.Inject, a.FlipByte),
    "eavesdropper.strip_suites": (a.Forward, a.Drop, a.StripSuites),
    "client.reconnect": (a.Reconnect,),
    "eavesdropper.replay": (a.Forward, a.Drop, a.ReplayOldFlight),
}


def decide(state: TableState, seat: Seat, action: a.Action, referee: Referee) -> list[Fact]:
    """The facts that ``seat`` doing ``action`` produces, or :class:`Rejected`."""
    if state.paused:
        raise Rejected("the instructor has paused this table")
    if isinstance(action, a.TryDecrypt):
        if seat is not Seat.EAVESDROPPER:
            raise Rejected("only the eavesdropper taps the wire")
        return _try_decrypt(state)
    step = state.current_step
    if step is None:
        raise Rejected("the handshake is over at this table")
    if seat is not step.seat:
        raise Rejected(f"it is the {step.seat.value}'s turn: {step.act}")
    if isinstance(action, a.RequestHint):
        return [_hint(state, step, referee)]
    allowed = ALLOWED[step.id]
    if not isinstance(action, allowed):
        names = " or ".join(t.__name__ for t in allowed)
        raise Rejected(f"{step.id} is done with {names}, not {type(action).__name__}")
    _check_inputs(action)
    handler: Callable[[TableState, Step, Any, Referee], list[Fact]] = _HANDLERS[step.id]
    if state.variant is Variant.TLS13 and step.id in _TLS13_STEPS:
        from .tls13 import HANDLERS as TLS13_HANDLERS  # the 1.3 moves build on this module

        handler = TLS13_HANDLERS[step.id]
    facts = handler(state, step, action, referee)
    if not any(isinstance(f, HandshakeFailed) for f in facts):
        facts.append(StepDone(step.id))
    return facts


MAX_NAME = 64  # X.509 caps a common name at 64 characters (RFC 5280, ub-common-name)
MAX_APPLICATION_TEXT = 2**14  # one TLS record's plaintext


def _check_inputs(action: a.Action) -> None:
    """Refuse typed inputs no real TLS stack would take, before any crypto runs on them."""
    if isinstance(action, a.PublishRoot | a.SendCsr):
        name = action.common_name if isinstance(action, a.PublishRoot) else action.name
        if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
            raise Rejected(f"a certificate name is 1 to {MAX_NAME} printable characters "
                           "(RFC 5280's limit for a common name)")
    if isinstance(action, a.SendApplicationData) and len(action.text.encode()) > MAX_APPLICATION_TEXT:
        raise Rejected(f"send at most {MAX_APPLICATION_TEXT} bytes: the plaintext of one TLS record")


def _hint(state: TableState, step: Step, referee: Referee) -> Verdict:
    from .guide import correct_action  # the guide reads views; it sits above this module

    move = correct_action(state, step.seat, referee.now())
    cost = 0 if state.difficulty is Difficulty.GUIDED else POINTS_HINT
    return Verdict(step.seat, step.id, True, cost,
                   f"hint: {step.act}. The move: {describe_action(move)}", step.lesson)


def describe_action(action: a.Action | None) -> str:
    if action is None:
        return "none"
    fields = ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(action).items())
    return f"{type(action).__name__}({fields})"


_TLS13_STEPS = frozenset({"client.hello", "server.hello", "client.check_certificate", "client.finished",
                          "server.verify_finished", "client.send_data", "server.send_data",
                          "client.read_data", "eavesdropper.intercept"})


def _ok(step: Step, reason: str, points: int = POINTS_STEP) -> Verdict:
    return Verdict(step.seat, step.id, True, points, reason, step.lesson)


def _mistake(step: Step, reason: str, points: int = POINTS_MISTAKE) -> Verdict:
    return Verdict(step.seat, step.id, False, points, reason, step.lesson)


def _pem(key: Any) -> bytes:
    return bytes(pki.private_key_pem(key))


@functools.lru_cache(maxsize=64)
def _load_key(pem: bytes) -> Any:
    # The table's own keys, made by this referee: OpenSSL's RSA key validation (a primality
    # check, ~80 ms) adds nothing here, so it is skipped; loaded keys are cached by PEM.
    return serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)


def _send(sender: Seat, label: str, records: list[bytes]) -> MessageSent:
    return MessageSent(sender, label, records[0][0], b"".join(records))


def _plain_handshake(sender: Seat, message: m.HandshakeMessage) -> tuple[bytes, MessageSent]:
    raw = m.encode_handshake(message)
    label = type(message).__name__
    return raw, _send(sender, label, RecordLayer().encode(ContentType.handshake, raw))


# PKI phase ---------------------------------------------------------------------------------

def _publish_root(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    ca = pki.create_root_ca(action.common_name, ref.now(), key=ref.rsa_keys())
    der = ca.certificate.public_bytes(serialization.Encoding.DER)
    return [
        ItemStored(Seat.CA, "ca_key", "private_key", _pem(ca.private_key), True),
        ItemStored(Seat.CA, "ca_certificate", "certificate", der, False),
        ItemStored(Seat.CLIENT, "trust_store", "certificate", der, False),
        ItemStored(Seat.SERVER, "trust_store", "certificate", der, False),  # for client certificates
        _ok(step, "the root certificate is self-signed; the client will trust what it signs"),
    ]


# The client only needs a certificate of its own in tls12-mutual.
CLIENT_NAME = "alice.students.example"

_IDENTITY = {  # seat -> (its name, its wallet's key item, the CA's inbox item, its certificate item)
    Seat.SERVER: ("server", "server_key", "received_csr", "server_certificate"),
    Seat.CLIENT: ("client", "client_key", "received_client_csr", "client_certificate"),
}


def _rightful_name(state: TableState, seat: Seat) -> str:
    return state.server_name if seat is Seat.SERVER else CLIENT_NAME


def _generate_key(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    who, key_item, _, _ = _IDENTITY[step.seat]
    return [ItemStored(step.seat, key_item, "private_key", _pem(ref.rsa_keys()), True),
            _ok(step, f"a 2048-bit RSA key pair: the private half never leaves the {who}")]


def _send_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    who, key_item, inbox, _ = _IDENTITY[step.seat]
    key = _load_key(state.item(step.seat, key_item))
    csr = pki.build_csr(key, action.name, [action.name], client=step.seat is Seat.CLIENT)
    der = csr.public_bytes(serialization.Encoding.DER)
    facts: list[Fact] = [ItemStored(step.seat, f"{who}_csr", "csr", der, False),
                         ItemStored(Seat.CA, inbox, "csr", der, False)]
    rightful = _rightful_name(state, step.seat)
    if action.name != rightful:
        facts.append(_mistake(step, f"the CSR asks for {action.name!r}, but this {who} is {rightful!r}; "
                                    "peers will refuse that certificate"))
    else:
        facts.append(_ok(step, f"the CSR names the {who} and is signed with its key: proof of possession"))
    return facts


def _review_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    requester = Seat.CLIENT if step.id == "ca.review_client_csr" else Seat.SERVER
    who, _, inbox, certificate_item = _IDENTITY[requester]
    rightful = _rightful_name(state, requester)
    csr = pki.load_csr(state.item(Seat.CA, inbox))
    info: pki.CsrInfo | None
    problem: str | None
    try:
        info = pki.check_csr(csr)
    except pki.CsrRejected as exc:
        info, problem = None, exc.reason
    else:
        problem = None if set(info.names) == {rightful} else (
            f"the CSR asks for {', '.join(info.names)}, but the requester is {rightful}")
    if isinstance(action, a.RefuseCsr):
        if problem is None:
            return [_mistake(step, f"the CSR was sound (valid signature, the {who}'s own name); without "
                                   f"a certificate the {who} cannot take part", POINTS_MISTAKE * 2),
                    HandshakeFailed(Seat.CA, "ca refused", "the CA refused a valid request")]
        return [_ok(step, f"right to refuse: {problem}", POINTS_CAUGHT),
                HandshakeFailed(Seat.CA, "ca identity check", problem)]
    if info is None:
        raise Rejected(f"the CSR cannot be issued: {problem}")
    ca = pki.CertificateAuthority(x509.load_der_x509_certificate(state.item(Seat.CA, "ca_certificate")),
                                  _load_key(state.item(Seat.CA, "ca_key")))
    # The expired-cert scenario: the server runs on a certificate whose time has passed.
    flaw = pki.Flaw.EXPIRED if state.scenario is Scenario.EXPIRED_CERT and requester is Seat.SERVER else None
    usage = pki.Usage.CLIENT if requester is Seat.CLIENT else pki.Usage.SERVER
    cert = pki.issue_from_csr(ca, csr, usage, ref.now(), flaw=flaw)
    der = cert.public_bytes(serialization.Encoding.DER)
    verdict = (_ok(step, f"the CSR's signature proves key possession and the name is the {who}'s: "
                         f"issued for {'clientAuth' if requester is Seat.CLIENT else 'serverAuth'}")
               if problem is None
               else _mistake(step, f"issued although {problem}: a CA that skips the identity check "
                                   "signs lies", POINTS_MISTAKE * 2))
    return [ItemStored(requester, certificate_item, "certificate", der, False), verdict]


# Handshake -------------------------------------------------------------------------------
#
# Each side works only from what it sent and what was delivered to it: with an
# eavesdropper on the wire the two can differ, and every check below then runs on the
# receiving side's own copy — as in real TLS.

EAVESDROPPER_NAME = "eve.example"  # the name the eavesdropper may rightfully hold a certificate for

# Wallet item -> NSS key log label for the TLS 1.3 traffic secrets (what Wireshark reads).
TLS13_KEYLOG_LABELS = {"client_handshake_traffic_secret": "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                       "server_handshake_traffic_secret": "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                       "client_application_traffic_secret": "CLIENT_TRAFFIC_SECRET_0",
                       "server_application_traffic_secret": "SERVER_TRAFFIC_SECRET_0"}


def _other(seat: Seat) -> Seat:
    return Seat.SERVER if seat is Seat.CLIENT else Seat.CLIENT


def _post(state: TableState, sent: MessageSent) -> list[Fact]:
    """Puts a message on the wire; it is delivered at once unless the scenario's
    eavesdropper holds that kind of message for its next move."""
    held = sent.label in INTERCEPTED.get(state.scenario, ()) and not _intercepted_already(state, sent)
    if state.scenario is Scenario.REPLAY:  # the replay waits for the second session's client flight
        held = held and bool(state.past_sessions) and sent.sender is Seat.CLIENT
    if held:
        return [sent]
    delivered = MessageDelivered(_other(sent.sender), sent.label, sent.content_type, sent.payload)
    return [sent, delivered]


def _intercepted_already(state: TableState, sent: MessageSent) -> bool:
    """The eavesdropper acts once per scenario; later messages pass."""
    return any(isinstance(f, MessageDelivered) and f.altered for f in state.wire) or any(
        v.seat is Seat.EAVESDROPPER for v in state.verdicts if v.step.startswith("eavesdropper.")
        and v.step != "eavesdropper.generate_key" and v.step != "eavesdropper.send_csr")


def _seen(state: TableState, seat: Seat) -> list[MessageSent | MessageDelivered]:
    """What ``seat`` sent and what reached it, in order."""
    return [f for f in state.wire
            if (isinstance(f, MessageSent) and f.sender is seat)
            or (isinstance(f, MessageDelivered) and f.recipient is seat)]


def _handshake_raws(wire: tuple[Any, ...], seat: Seat) -> tuple[bytes, ...]:
    out: list[bytes] = []
    for f in wire:
        mine = (isinstance(f, MessageSent) and f.sender is seat) or (
            isinstance(f, MessageDelivered) and f.recipient is seat)
        if mine and f.content_type == ContentType.handshake and f.label != "Finished":
            out.extend(record[5:] for record in _records(f.payload))
    return tuple(out)


def _records(data: bytes) -> list[bytes]:
    records = []
    while data:
        length = int.from_bytes(data[3:5], "big")
        records.append(data[: 5 + length])
        data = data[5 + length:]
    return records


def _decoded(wire: tuple[Any, ...], seat: Seat) -> tuple[m.HandshakeMessage, ...]:
    """The plaintext handshake messages ``seat`` has seen, decoded once per wire state."""
    out: list[m.HandshakeMessage] = []
    key_exchange = None
    for raw in _handshake_raws(wire, seat):
        message = m.decode_handshake(raw, key_exchange)
        if isinstance(message, m.ServerHello):
            key_exchange = CIPHER_SUITES[message.cipher_suite].key_exchange
        out.append(message)
    return tuple(out)


def _find(state: TableState, seat: Seat, label: type) -> Any:
    for message in state.decoded(seat):
        if isinstance(message, label):
            return message
    raise Rejected(f"the {seat.value} has no {label.__name__} yet")


def _suite(state: TableState, seat: Seat) -> CipherSuite:
    """The suite ``seat`` believes in: from the ServerHello it sent or received."""
    for message in state.decoded(seat):
        if isinstance(message, m.ServerHello):
            return CIPHER_SUITES[message.cipher_suite]
    return suite_by_name(SUITES_FOR_VARIANT[state.variant][0])


def _randoms(state: TableState, seat: Seat) -> tuple[bytes, bytes]:
    return _find(state, seat, m.ClientHello).random, _find(state, seat, m.ServerHello).random


def offered_suites(state: TableState, action: Any) -> tuple[int, ...]:
    """The client's offer: its choice of names, each a suite of the variant's kind."""
    allowed = SUITES_FOR_VARIANT[state.variant]
    names = action.suites or allowed
    unknown = [name for name in names if name not in allowed]
    if not names or unknown:
        raise Rejected(f"{state.variant.value} offers suites among {', '.join(allowed)}")
    return tuple(suite_by_name(name).code for name in names)


def chosen_suite(state: TableState, action: Any, offered: tuple[int, ...]) -> CipherSuite | None:
    """The server's choice: the player's, if offered; else its strongest that was offered."""
    if action.suite is not None:
        suite = suite_by_name(action.suite)
        if suite.code not in offered:
            raise Rejected(f"{action.suite} was not in the client's offer; a server may only pick from it")
        return suite
    ours = [suite_by_name(name) for name in SUITES_FOR_VARIANT[state.variant]]
    return next((s for s in ours if s.code in offered), None)


def _is_ecdhe(state: TableState) -> bool:
    return state.variant in (Variant.TLS12_ECDHE, Variant.TLS12_MUTUAL)


def _is_mutual(state: TableState) -> bool:
    return state.variant is Variant.TLS12_MUTUAL


def _client_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    client_random = ref.rng(32)
    extensions = [m.server_name_extension(state.server_name),
                  m.signature_algorithms_extension((SignatureScheme.rsa_pss_rsae_sha256,
                                                    SignatureScheme.rsa_pkcs1_sha256)),
                  m.renegotiation_info_extension()]
    if _is_ecdhe(state):
        extensions[1:1] = [m.supported_groups_extension((NamedGroup.x25519,)),
                           m.ec_point_formats_extension()]
    suites = offered_suites(state, action)
    hello = m.ClientHello(0x0303, client_random, b"", suites, b"\x00", tuple(extensions))
    raw, sent = _plain_handshake(Seat.CLIENT, hello)
    return [ItemStored(Seat.CLIENT, "client_random", "random", client_random, False), *_post(state, sent),
            _ok(step, "32 fresh random bytes and the offered suites, strongest first")]


def _server_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    hello_in: m.ClientHello = _find(state, Seat.SERVER, m.ClientHello)
    suite = chosen_suite(state, action, hello_in.cipher_suites)
    if suite is None:
        return [HandshakeFailed(Seat.SERVER, "suite negotiation", "no cipher suite in common")]
    server_random = ref.rng(32)
    hello = m.ServerHello(0x0303, server_random, b"", suite.code, 0, (m.renegotiation_info_extension(),))
    chain = (state.item(Seat.SERVER, "server_certificate"),)
    facts: list[Fact] = [ItemStored(Seat.SERVER, "server_random", "random", server_random, False)]
    flight: list[m.HandshakeMessage] = [hello, m.Certificate(chain)]
    if _is_ecdhe(state):
        share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
        facts.append(ItemStored(Seat.SERVER, "ecdhe_private", "secret", share.private_bytes(), True))
        key = _load_key(state.item(Seat.SERVER, "server_key"))
        flight.append(_signed_share(key, hello_in.random, server_random, share))
    if _is_mutual(state):
        ca_name = x509.load_der_x509_certificate(state.item(Seat.SERVER, "server_certificate")).issuer
        flight.append(m.CertificateRequest(bytes([1]), (SignatureScheme.rsa_pss_rsae_sha256,),
                                           (ca_name.public_bytes(),)))  # RFC 5246 §7.4.4
    flight.append(m.ServerHelloDone())
    for message in flight:
        facts.extend(_post(state, _plain_handshake(Seat.SERVER, message)[1]))
    facts.append(_ok(step, f"server_random, {suite.name}, and the certificate"
                           + (", and an ECDH share signed with the certificate key" if _is_ecdhe(state)
                              else "")))
    return facts


def _signed_share(key: Any, client_random: bytes, server_random: bytes,
                  share: EcdhePrivateKey) -> m.ServerKeyExchange:
    """RFC 8422 §5.4: the share, signed over both randoms and the params."""
    unsigned = m.ServerKeyExchange(NamedGroup.x25519, share.public_bytes(),
                                   SignatureScheme.rsa_pss_rsae_sha256, b"")
    signed = client_random + server_random + unsigned.params()
    signature = sign(key, SignatureScheme.rsa_pss_rsae_sha256, signed)
    return dataclasses.replace(unsigned, signature=signature)


_CHECK_WORDS = {
    "HOSTNAME_MISMATCH": "certificate hostname",
    "SELF_SIGNED": "certificate chain",
    "UNTRUSTED_ISSUER": "certificate chain",
    "EXPIRED": "certificate validity",
    "NOT_YET_VALID": "certificate validity",
    "BAD_SIGNATURE": "certificate signature",
    "WRONG_KEY_USAGE": "certificate usage",
    "MALFORMED": "certificate format",
}


def _check_certificate(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    certificate: m.Certificate = _find(state, Seat.CLIENT, m.Certificate)
    trust = [x509.load_der_x509_certificate(state.item(Seat.CLIENT, "trust_store"))]
    problem = None
    try:
        leaf = pki.verify_server_chain(certificate.certificate_list, trust, state.server_name, ref.now())
        if _is_ecdhe(state):
            exchange: m.ServerKeyExchange = _find(state, Seat.CLIENT, m.ServerKeyExchange)
            client_random, server_random = _randoms(state, Seat.CLIENT)
            verify(leaf.public_key(), exchange.signature_scheme, exchange.signature,
                   client_random + server_random + exchange.params())
    except pki.CertificateRejected as exc:
        problem = (_CHECK_WORDS.get(exc.problem.name, "certificate chain"), exc.reason)
    except Alert as exc:
        problem = ("server key exchange signature", exc.reason)
    facts: list[Fact] = [ItemStored(Seat.CLIENT, "server_certificate", "certificate",
                                    certificate.certificate_list[0], False)]
    genuine = certificate.certificate_list[0] == state.item(Seat.SERVER, "server_certificate")
    if isinstance(action, a.AcceptCertificate):
        if problem is None:
            facts.append(_ok(step, "issued by the trusted CA, for this name, valid now"))
        else:
            facts.append(_mistake(step, f"accepted a certificate that fails its checks: {problem[1]}",
                                  POINTS_BAD_TRUST))
        if not genuine:
            facts.append(ForgeryAccepted("the client trusted a certificate that is not the server's"))
        return facts
    if problem is None:
        return [_mistake(step, "the certificate passes every check; rejecting it ends a good connection"),
                HandshakeFailed(Seat.CLIENT, "client refused", "the client rejected a valid certificate")]
    return [_ok(step, f"right to refuse: {problem[1]}", POINTS_CAUGHT),
            HandshakeFailed(Seat.CLIENT, problem[0], problem[1])]


def _client_key_exchange(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    suite = _suite(state, Seat.CLIENT)
    if _is_ecdhe(state):
        if not isinstance(action, a.SendKeyShare):
            raise Rejected("with ECDHE the client sends its own ECDH share (SendKeyShare)")
        exchange: m.ServerKeyExchange = _find(state, Seat.CLIENT, m.ServerKeyExchange)
        share = EcdhePrivateKey(NamedGroup(exchange.named_curve), ref.rng)
        pre_master = share.exchange(exchange.public)
        exchange_out = m.ClientKeyExchange(suite.key_exchange, share.public_bytes())
        facts: list[Fact] = [ItemStored(Seat.CLIENT, "ecdhe_private", "secret", share.private_bytes(), True),
                             ItemStored(Seat.CLIENT, "pre_master_secret", "secret", pre_master, True)]
        present = _is_mutual(state) and action.present_certificate
        messages: list[bytes] = []
        if _is_mutual(state):
            chain = (state.item(Seat.CLIENT, "client_certificate"),) if present else ()
            raw_certificate, sent_certificate = _plain_handshake(Seat.CLIENT, m.Certificate(chain))
            messages.append(raw_certificate)
            facts.extend(_post(state, sent_certificate))
        raw, sent = _plain_handshake(Seat.CLIENT, exchange_out)
        messages.append(raw)
        facts.extend(_post(state, sent))
        if present:
            # RFC 5246 §7.4.8: sign every handshake message so far, ClientKeyExchange included.
            transcript = b"".join(_handshake_raws(state.wire, Seat.CLIENT)) + b"".join(messages)
            key = _load_key(state.item(Seat.CLIENT, "client_key"))
            signature = sign(key, SignatureScheme.rsa_pss_rsae_sha256, transcript)
            facts.extend(_post(state, _plain_handshake(
                Seat.CLIENT, m.CertificateVerify(SignatureScheme.rsa_pss_rsae_sha256, signature))[1]))
        reason = ("the premaster is ECDH(client private, server share); only public shares crossed the wire"
                  + ("; the client's certificate and a signature over the handshake prove who it is"
                     if present else ""))
        if _is_mutual(state) and not present:
            return [*facts, _mistake(step, "the server asked for a certificate and the client sent none")]
        return [*facts, _ok(step, reason)]
    if not isinstance(action, a.EncryptPremaster):
        raise Rejected("with RSA key exchange the client encrypts a premaster (EncryptPremaster)")
    if action.key not in ("server_certificate", "trust_store"):
        raise Rejected(f"{action.key} is not a certificate in the client's wallet")
    certificate = x509.load_der_x509_certificate(state.item(Seat.CLIENT, action.key))
    pre_master = new_pre_master_secret(0x0303, ref.rng)
    encrypted = rsa_encrypt_pre_master(certificate.public_key(), pre_master)
    raw, sent = _plain_handshake(Seat.CLIENT, m.ClientKeyExchange(suite.key_exchange, encrypted))
    rsa_facts: list[Fact] = [ItemStored(Seat.CLIENT, "pre_master_secret", "secret", pre_master, True),
                             *_post(state, sent)]
    if action.key == "server_certificate":
        rsa_facts.append(_ok(step, "encrypted to the server certificate's key: only its owner can open it"))
    else:
        rsa_facts.append(_mistake(step, "the premaster was encrypted to the CA's public key; only the CA's "
                                    "private key could open it — the server cannot"))
    return rsa_facts


def _master(state: TableState, seat: Seat, pre_master: bytes, order: str) -> bytes:
    client_random, server_random = _randoms(state, seat)
    seed = client_random + server_random if order == "client+server" else server_random + client_random
    return prf(_suite(state, seat).hash, pre_master, b"master secret", seed, 48)


def _keys(state: TableState, seat: Seat, master: bytes) -> KeyBlock:
    client_random, server_random = _randoms(state, seat)
    return key_block(_suite(state, seat), master, client_random, server_random)


def _transcript_hash(state: TableState, seat: Seat, extra: bytes = b"") -> bytes:
    digest = hashes.Hash(_suite(state, seat).hash)
    for raw in _handshake_raws(state.wire, seat):
        digest.update(raw)
    digest.update(extra)
    return digest.finalize()


def _finished(state: TableState, seat: Seat, master: bytes, label: bytes, extra: bytes = b"") -> bytes:
    return m.encode_handshake(m.Finished(verify_data(_suite(state, seat), master, label,
                                                     _transcript_hash(state, seat, extra))))


def _protection(state: TableState, seat: Seat, keys: KeyBlock, sender: Seat,
                sequence: int) -> RecordProtection:
    protection = RecordProtection(_suite(state, seat), keys.client_write if sender is Seat.CLIENT
                                  else keys.server_write)
    protection.sequence_number = sequence
    return protection


def _seal(state: TableState, seat: Seat, keys: KeyBlock, sequence: int, content_type: ContentType,
          data: bytes) -> bytes:
    layer = RecordLayer()
    layer.write_protection = _protection(state, seat, keys, seat, sequence)
    return b"".join(layer.encode(content_type, data))


def _open(state: TableState, seat: Seat, keys: KeyBlock, sequence: int, record: bytes) -> bytes:
    protection = _protection(state, seat, keys, _other(seat), sequence)
    return protection.open(record[0], int.from_bytes(record[1:3], "big"), record[5:])


def _delivered(state: TableState, recipient: Seat, label: str) -> bytes:
    for f in state.wire:
        if isinstance(f, MessageDelivered) and f.recipient is recipient and f.label == label:
            return f.payload
    raise Rejected(f"no {label} has reached the {recipient.value} yet")


def _change_cipher_spec(state: TableState, sender: Seat) -> list[Fact]:
    record = b"".join(RecordLayer().encode(ContentType.change_cipher_spec, b"\x01"))
    return _post(state, MessageSent(sender, "ChangeCipherSpec", ContentType.change_cipher_spec, record))


def _client_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    pre_master = state.item(Seat.CLIENT, "pre_master_secret")
    real = _master(state, Seat.CLIENT, pre_master, "client+server")
    facts: list[Fact] = []
    if action.master_secret_hex is not None:  # expert: the player's own computation
        try:
            master = bytes.fromhex(action.master_secret_hex)
        except ValueError:
            raise Rejected("master_secret_hex must be hexadecimal") from None
        facts.append(_ok(step, "your master secret is right") if hmac.compare_digest(master, real) else
                     _mistake(step, "your master secret differs from PRF(pre_master_secret, "
                                    "\"master secret\", client_random + server_random)"))
    else:
        master = _master(state, Seat.CLIENT, pre_master, action.randoms)
        facts.append(_ok(step, "master secret = PRF(premaster, \"master secret\", client_random + "
                               "server_random)") if action.randoms == "client+server" else
                     _mistake(step, "the randoms go client_random first (RFC 5246 §8.1); with the "
                                    "order swapped the keys differ from the server's"))
    keys = _keys(state, Seat.CLIENT, master)
    finished = _finished(state, Seat.CLIENT, master, CLIENT_FINISHED_LABEL)
    sent = MessageSent(Seat.CLIENT, "Finished", ContentType.handshake,
                       _seal(state, Seat.CLIENT, keys, 0, ContentType.handshake, finished))
    return [ItemStored(Seat.CLIENT, "master_secret", "secret", master, True),
            ItemStored(Seat.CLIENT, "client_write_key", "secret", keys.client_write.key, True),
            ItemStored(Seat.CLIENT, "server_write_key", "secret", keys.server_write.key, True),
            ItemStored(Seat.CLIENT, "client_finished", "secret", finished, True),
            *_change_cipher_spec(state, Seat.CLIENT), *_post(state, sent), *facts]


def _server_pre_master(state: TableState, ref: Referee) -> bytes:
    exchange: m.ClientKeyExchange = _find(state, Seat.SERVER, m.ClientKeyExchange)
    if _is_ecdhe(state):
        private = x25519.X25519PrivateKey.from_private_bytes(state.item(Seat.SERVER, "ecdhe_private"))
        try:
            return private.exchange(x25519.X25519PublicKey.from_public_bytes(exchange.exchange_keys))
        except ValueError:
            return b""
    key = _load_key(state.item(Seat.SERVER, "server_key"))
    return rsa_decrypt_pre_master(key, exchange.exchange_keys, 0x0303, ref.rng)


def _check_client_identity(state: TableState, ref: Referee) -> HandshakeFailed | None:
    """Mutual TLS, on the server: the client's chain, then its CertificateVerify (RFC 5246 §7.4.8)."""
    messages = state.decoded(Seat.SERVER)
    client_certificates = [msg for msg in messages if isinstance(msg, m.Certificate)][1:]
    if not client_certificates or not client_certificates[0].certificate_list:
        return HandshakeFailed(Seat.SERVER, "client certificate",
                               "handshake_failure: the server requires a client certificate and got none")
    chain = client_certificates[0].certificate_list
    trust = [x509.load_der_x509_certificate(state.item(Seat.SERVER, "trust_store"))]
    try:
        leaf = pki.verify_client_chain(chain, trust, ref.now())
    except pki.CertificateRejected as exc:
        return HandshakeFailed(Seat.SERVER, "client " + _CHECK_WORDS.get(exc.problem.name, "certificate"),
                               exc.reason)
    raws = _handshake_raws(state.wire, Seat.SERVER)
    verify_index = next((i for i, msg in enumerate(messages) if isinstance(msg, m.CertificateVerify)), None)
    if verify_index is None:
        return HandshakeFailed(Seat.SERVER, "client certificate verify", "no CertificateVerify arrived")
    proof = messages[verify_index]
    assert isinstance(proof, m.CertificateVerify)
    try:
        verify(leaf.public_key(), proof.signature_scheme, proof.signature, b"".join(raws[:verify_index]))
    except Alert as exc:
        return HandshakeFailed(Seat.SERVER, "client certificate verify", exc.reason)
    return None


def _server_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    if _is_mutual(state):
        refused = _check_client_identity(state, ref)
        if refused is not None:
            return [_ok(step, f"the server checks who the client is and stops: {refused.reason}"), refused]
    pre_master = _server_pre_master(state, ref)
    master = _master(state, Seat.SERVER, pre_master, action.randoms)
    keys = _keys(state, Seat.SERVER, master)
    facts: list[Fact] = [ItemStored(Seat.SERVER, "pre_master_secret", "secret", pre_master, True),
                         ItemStored(Seat.SERVER, "master_secret", "secret", master, True)]
    try:
        opened = _open(state, Seat.SERVER, keys, 0, _delivered(state, Seat.SERVER, "Finished"))
    except Alert:
        why = _why_keys_differ(state, pre_master, master)
        # The server did its job: the Finished check is what stops a broken session.
        return [*facts, _ok(step, "the client's Finished record does not decrypt, so the server stops: "
                                  + why),
                HandshakeFailed(Seat.SERVER, "finished", "bad_record_mac: " + why)]
    expected = _finished(state, Seat.SERVER, master, CLIENT_FINISHED_LABEL)
    if not hmac.compare_digest(opened, expected):
        return [*facts, _ok(step, "the client's verify_data differs from the server's: the two sides "
                                  "hashed different handshake messages, so the server stops"),
                HandshakeFailed(Seat.SERVER, "finished", "verify_data differs: a handshake message was "
                                                         "changed between client and server")]
    finished = _finished(state, Seat.SERVER, master, SERVER_FINISHED_LABEL, expected)
    verdict = (_ok(step, "same premaster, same randoms, same transcript: the client's Finished verifies")
               if action.randoms == "client+server" else
               _mistake(step, "the randoms go client_random first (RFC 5246 §8.1)"))
    sent = MessageSent(Seat.SERVER, "Finished", ContentType.handshake,
                       _seal(state, Seat.SERVER, keys, 0, ContentType.handshake, finished))
    return [*facts, ItemStored(Seat.SERVER, "client_write_key", "secret", keys.client_write.key, True),
            ItemStored(Seat.SERVER, "server_write_key", "secret", keys.server_write.key, True),
            *_change_cipher_spec(state, Seat.SERVER), *_post(state, sent), verdict]


def _why_keys_differ(state: TableState, server_pre_master: bytes, server_master: bytes) -> str:
    """The referee knows both sides; it names the cause the AEAD failure came from."""
    client = state.wallets[Seat.CLIENT]
    if state.scenario is Scenario.REPLAY and state.past_sessions:
        return ("the server worked from the first session's recorded key exchange but this session's "
                "fresh randoms, so its keys differ from the ones that sealed the replayed Finished")
    if "pre_master_secret" in client and client["pre_master_secret"].value != server_pre_master:
        return ("the server recovered a different premaster than the client chose, so the two sides "
                "derived different keys")
    if "master_secret" in client and client["master_secret"].value != server_master:
        return ("the two sides derived different master secrets from the same premaster (different "
                "randoms, or in a different order)")
    return "the record was not sealed with the keys the server derived"


def _verify_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    master = state.item(Seat.CLIENT, "master_secret")
    keys = _keys(state, Seat.CLIENT, master)
    try:
        opened = _open(state, Seat.CLIENT, keys, 0, _delivered(state, Seat.CLIENT, "Finished"))
    except Alert:
        return [HandshakeFailed(Seat.CLIENT, "finished", "the server's Finished does not decrypt")]
    expected = _finished(state, Seat.CLIENT, master, SERVER_FINISHED_LABEL,
                         state.item(Seat.CLIENT, "client_finished"))
    if not hmac.compare_digest(opened, expected):
        return [HandshakeFailed(Seat.CLIENT, "finished", "the server's verify_data differs")]
    return [_ok(step, "the server's Finished verifies: it holds the same keys and saw the same handshake")]


def _send_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    sender = step.seat
    keys = _keys(state, sender, state.item(sender, "master_secret"))
    facts: list[Fact] = []
    if sender is Seat.SERVER:
        request = _open(state, Seat.SERVER, keys, 1, _delivered(state, Seat.SERVER, "application data"))
        facts.append(ItemStored(Seat.SERVER, "request", "text", request, True))
    data = action.text.encode()
    record = _seal(state, sender, keys, 1, ContentType.application_data, data)
    return [*facts, ItemStored(sender, "sent_data", "text", data, True),
            *_post(state, MessageSent(sender, "application data", ContentType.application_data, record)),
            _ok(step, "sealed with AES-GCM under the session keys")]


def _read_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    keys = _keys(state, Seat.CLIENT, state.item(Seat.CLIENT, "master_secret"))
    response = _open(state, Seat.CLIENT, keys, 1, _delivered(state, Seat.CLIENT, "application data"))
    return [ItemStored(Seat.CLIENT, "response", "text", response, True),
            _ok(step, "the answer decrypts and authenticates: the session works")]


# The eavesdropper ----------------------------------------------------------------------

def _eavesdropper_key(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    return [ItemStored(Seat.EAVESDROPPER, "eavesdropper_key", "private_key", _pem(ref.rsa_keys()), True),
            _ok(step, "a key pair of its own", 0)]


def _eavesdropper_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    key = _load_key(state.item(Seat.EAVESDROPPER, "eavesdropper_key"))
    csr = pki.build_csr(key, action.name, [action.name])
    der = csr.public_bytes(serialization.Encoding.DER)
    return [ItemStored(Seat.CA, "received_eavesdropper_csr", "csr", der, False),
            _ok(step, f"a CSR for {action.name}, signed with its own key", 0)]


def _review_eavesdropper_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    csr = pki.load_csr(state.item(Seat.CA, "received_eavesdropper_csr"))
    try:
        names = pki.check_csr(csr).names
    except pki.CsrRejected as exc:
        raise Rejected(f"the CSR cannot be issued: {exc.reason}") from None
    rightful = EAVESDROPPER_NAME in names and state.server_name not in names
    if isinstance(action, a.RefuseCsr):
        if rightful:
            return [_mistake(step, f"the requester owns {EAVESDROPPER_NAME}; refusing it was not needed")]
        return [_ok(step, f"right to refuse: the requester is not {state.server_name}'s owner",
                    POINTS_CAUGHT),
                AttackStopped(Seat.CA, "ca identity check",
                              f"the CA refused a certificate for {state.server_name} to someone else")]
    ca = pki.CertificateAuthority(x509.load_der_x509_certificate(state.item(Seat.CA, "ca_certificate")),
                                  _load_key(state.item(Seat.CA, "ca_key")))
    cert = pki.issue_from_csr(ca, csr, pki.Usage.SERVER, ref.now())
    der = cert.public_bytes(serialization.Encoding.DER)
    facts: list[Fact] = [ItemStored(Seat.EAVESDROPPER, "eavesdropper_certificate", "certificate", der, False)]
    if rightful:
        return [*facts, _ok(step, f"the requester owns {EAVESDROPPER_NAME}: issued for that name only")]
    return [*facts, _mistake(step, f"issued a certificate for {state.server_name} to someone who does "
                                   "not run it: anyone holding it can impersonate the server",
                             POINTS_MISTAKE * 2),
            ForgeryAccepted(f"the CA issued the eavesdropper a certificate for {state.server_name}")]


def _held(state: TableState) -> list[MessageSent]:
    """Messages on the wire that have not been delivered: what the eavesdropper holds.

    Each delivery answers the oldest undelivered message with its label and direction.
    """
    waiting: list[MessageSent] = []
    for f in state.wire:
        if isinstance(f, MessageSent):
            waiting.append(f)
        else:
            match = next(s for s in waiting if s.label == f.label and _other(s.sender) is f.recipient)
            waiting.remove(match)
    return waiting


def _drop(state: TableState, step: Step) -> list[Fact]:
    """TLS protects what arrives, not that it arrives: a dropped flight just never comes."""
    held = _held(state)
    recipient = _other(held[0].sender) if held else Seat.CLIENT
    awaited = held[0].label if held else "the peer"
    return [_ok(step, "dropped what it held: " + ", ".join(s.label for s in held), 0),
            HandshakeFailed(recipient, "timeout", f"the {recipient.value} waited for {awaited} and gave up: "
                                                  "TLS guarantees secrecy and integrity, not delivery")]


def _inject(state: TableState, step: Step, held: list[MessageSent]) -> list[Fact]:
    forged = _plain_handshake(Seat.SERVER, m.ServerHelloDone())[1].payload
    injected = MessageDelivered(Seat.CLIENT, "ServerHelloDone", ContentType.handshake, forged, altered=True)
    facts: list[Fact] = [*_deliver(held, {}), injected,
                         _ok(step, "slipped an extra ServerHelloDone into the server's flight", 0)]
    if state.variant is Variant.TLS13:
        # RFC 8446 §5: after the ServerHello, handshake messages come encrypted; a plaintext
        # one is refused on arrival.
        facts.append(HandshakeFailed(Seat.CLIENT, "unexpected message",
                                     "unexpected_message: a plaintext handshake message after the "
                                     "ServerHello"))
    return facts


def pass_or_drop(state: TableState, step: Step, action: Any, held: list[MessageSent]) -> list[Fact] | None:
    """The two moves every interception step allows; None when the action is the attack."""
    if isinstance(action, a.Drop):
        return _drop(state, step)
    if isinstance(action, a.Forward):
        return [*_deliver(held, {}), _ok(step, "forwarded unchanged", 0)]
    return None


def _deliver(held: list[MessageSent], replace: dict[str, bytes]) -> list[Fact]:
    return [MessageDelivered(_other(s.sender), s.label, s.content_type, replace.get(s.label, s.payload),
                             altered=s.label in replace) for s in held]


def _intercept(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    held = _held(state)
    if (passed := pass_or_drop(state, step, action, held)) is not None:
        return passed
    if not isinstance(action, a.SwapCertificate):
        raise Rejected("the held flight can be forwarded or have its certificate swapped")
    key = _load_key(state.item(Seat.EAVESDROPPER, "eavesdropper_key"))
    own = state.wallets[Seat.EAVESDROPPER].get("eavesdropper_certificate")
    if own is not None:
        forged = own.value
    else:
        forged = pki.self_signed_certificate(key, state.server_name, ref.now()).public_bytes(
            serialization.Encoding.DER)
    replace = {"Certificate": _plain_handshake(Seat.SERVER, m.Certificate((forged,)))[1].payload}
    facts: list[Fact] = [ItemStored(Seat.EAVESDROPPER, "forged_certificate", "certificate", forged, False)]
    if _is_ecdhe(state):
        client_random = _find(state, Seat.SERVER, m.ClientHello).random
        server_random = _find(state, Seat.SERVER, m.ServerHello).random
        share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
        facts.append(ItemStored(Seat.EAVESDROPPER, "ecdhe_private", "secret", share.private_bytes(), True))
        signed = _signed_share(key, client_random, server_random, share)
        replace["ServerKeyExchange"] = _plain_handshake(Seat.SERVER, signed)[1].payload
    return [*facts, *_deliver(held, replace),
            _ok(step, "swapped in its own certificate" + (" and its own signed ECDH share"
                                                          if _is_ecdhe(state) else ""), 0)]


def _tamper(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    held = _held(state)
    if (passed := pass_or_drop(state, step, action, held)) is not None:
        return passed
    if isinstance(action, a.Inject):
        return _inject(state, step, held)
    if not isinstance(action, a.FlipByte):
        raise Rejected("the held ServerHello can be forwarded or have a byte flipped")
    hello = next(s for s in held if s.label == "ServerHello")
    offset = 5 + 4 + 2 + action.offset % 32  # record header, handshake header, version, then random
    payload = bytearray(hello.payload)
    payload[offset] ^= 0x01
    return [*_deliver(held, {"ServerHello": bytes(payload)}),
            _ok(step, "flipped one bit of server_random in flight", 0)]


def _strip_suites(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    held = _held(state)
    if (passed := pass_or_drop(state, step, action, held)) is not None:
        return passed
    if not isinstance(action, a.StripSuites):
        raise Rejected("the held ClientHello can be forwarded or have suites stripped")
    hello_sent = next(s for s in held if s.label == "ClientHello")
    hello = m.decode_handshake(hello_sent.payload[5:])
    assert isinstance(hello, m.ClientHello)
    weaker = dataclasses.replace(hello, cipher_suites=hello.cipher_suites[1:] or hello.cipher_suites)
    payload = _plain_handshake(Seat.CLIENT, weaker)[1].payload
    return [*_deliver(held, {"ClientHello": payload}),
            _ok(step, f"removed {suite_name(hello.cipher_suites[0])} from the offer", 0)]


def _reconnect(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    return [SessionStarted(), _ok(step, "a new session: new randoms, so new keys, whatever was recorded", 0)]


def _replay(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    held = _held(state)
    if (passed := pass_or_drop(state, step, action, held)) is not None:
        return passed
    if not isinstance(action, a.ReplayOldFlight):
        raise Rejected("the held client flight can be forwarded or replaced by a recorded one")
    old = {f.label: f.payload for f in state.past_sessions[-1]
           if isinstance(f, MessageSent) and f.sender is Seat.CLIENT}
    labels: tuple[str, ...] = ("ClientKeyExchange", "Certificate", "CertificateVerify", "ChangeCipherSpec",
                               "Finished")
    replace: dict[str, bytes] = {label: old[label] for label in labels if label in old}
    return [*_deliver(held, replace),
            _ok(step, "replayed the first session's ClientKeyExchange and Finished, byte for byte", 0)]


def _try_decrypt(state: TableState) -> list[Fact]:
    tap = WireObserver()
    for f in state.wire:  # the conversation as the client had it: its bytes, and what reached it
        if isinstance(f, MessageSent) and f.sender is Seat.CLIENT:
            tap.client_sent(f.payload)
        elif isinstance(f, MessageDelivered) and f.recipient is Seat.CLIENT:
            tap.server_sent(f.payload)
    wallet = state.wallets[Seat.EAVESDROPPER]
    attempt = tap.try_decrypt()
    labels = TLS13_KEYLOG_LABELS
    if tap.client_hello is not None and all(name in wallet for name in labels):
        # A TLS 1.3 man in the middle knows the secrets of its half of the connection.
        lines = [f"{label} {tap.client_hello.random.hex()} {wallet[name].value.hex()}"
                 for name, label in labels.items()]
        attempt = tap.try_decrypt(keylog_lines=lines)
    for name in ("leaked_server_key", "eavesdropper_key"):
        if not attempt.succeeded and name in wallet:
            attempt = tap.try_decrypt(server_private_key=_load_key(wallet[name].value))
    if not attempt.succeeded and "ecdhe_private" in wallet:
        attempt = tap.try_decrypt(ecdhe_private=wallet["ecdhe_private"].value)
    plaintext = attempt.application_data(Side.CLIENT) + attempt.application_data(Side.SERVER)
    # Reading back what it encrypted itself proves nothing: the attack works when it opens
    # something the client sealed.
    succeeded = attempt.succeeded and any(r.sender is Side.CLIENT for r in attempt.records)
    reason = attempt.reason if succeeded or not attempt.succeeded else (
        "the client sealed nothing the eavesdropper can open: it stopped before sending a record")
    facts: list[Fact] = [DecryptionTried(Seat.EAVESDROPPER, succeeded, reason, plaintext)]
    if succeeded:
        facts.append(Verdict(Seat.EAVESDROPPER, "eavesdropper.decrypt", True, POINTS_ATTACK,
                             reason, "key-leak"))
        if plaintext:
            facts.append(ItemStored(Seat.EAVESDROPPER, "decrypted_traffic", "text", plaintext, True))
    else:  # the student learns why the recording stayed closed (no points either way)
        facts.append(Verdict(Seat.EAVESDROPPER, "eavesdropper.decrypt", False, 0,
                             f"the recording stays closed: {reason}", "key-leak"))
    return facts


# -- the instructor --------------------------------------------------------------------------

def leak_server_key(state: TableState) -> list[Fact]:
    """Instructor action: hand the server's private key to the eavesdropper."""
    return [ServerKeyLeaked(state.item(Seat.SERVER, "server_key"))]


def pause(state: TableState) -> list[Fact]:
    if state.paused:
        raise Rejected("the table is already paused")
    return [TablePaused()]


def resume(state: TableState) -> list[Fact]:
    if not state.paused:
        raise Rejected("the table is not paused")
    return [TableResumed()]


def inject_scenario(state: TableState, scenario: Scenario) -> list[Fact]:
    """Turns the table into ``scenario``, if play has not yet passed where it would differ."""
    if not supports(state.variant, scenario):
        raise Rejected(f"{scenario.value} is not staged for {state.variant.value} yet")
    done = state.steps[: state.step_index]
    if steps_for(state.variant, scenario)[: state.step_index] != done:
        raise Rejected(f"too late for {scenario.value}: the table is past the point where it begins")
    if any(isinstance(f, MessageSent) for f in state.wire) and scenario in INTERCEPTED and not any(
            label in INTERCEPTED[scenario] for label in _pending_labels(state, scenario)):
        raise Rejected(f"too late for {scenario.value}: the messages it targets are already delivered")
    return [ScenarioInjected(scenario)]


def _pending_labels(state: TableState, scenario: Scenario) -> list[str]:
    sent = {f.label for f in state.wire if isinstance(f, MessageSent)}
    return [label for label in INTERCEPTED[scenario] if label not in sent]


def reveal(state: TableState) -> dict[str, Any]:
    """The debrief: every seat's wallet, secrets included, and how the table ended."""
    return {
        "variant": state.variant.value,
        "scenario": state.scenario.value,
        "completed": state.completed,
        "detected_by": state.detected_by,
        "attack_succeeded": state.attack_succeeded,
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
    the instructor's small ladder. No bytes, so no secrets."""
    rows: list[dict[str, Any]] = []
    for f in state.wire:
        if isinstance(f, MessageSent):
            rows.append({"event": "sent", "from": f.sender.value, "label": f.label})
        else:
            rows.append({"event": "delivered", "to": f.recipient.value, "label": f.label,
                         "altered": f.altered})
    return rows


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
        what = "attack stopped" if state.scenario is not Scenario.HONEST else "handshake failed"
        notes.append(f"{what} by the {state.failed.seat.value}: {state.failed.check} ({state.failed.reason})")
    if state.key_leaked:
        notes.append("the server's private key leaked to the eavesdropper")
    for attempt in state.decryptions:
        outcome = "read the traffic" if attempt.succeeded else "could not read the traffic"
        notes.append(f"the eavesdropper {outcome}: {attempt.reason}")
    return notes


_HANDLERS: dict[str, Callable[[TableState, Step, Any, Referee], list[Fact]]] = {
    "ca.publish_root": _publish_root,
    "server.generate_key": _generate_key,
    "server.send_csr": _send_csr,
    "ca.review_csr": _review_csr,
    "client.generate_key": _generate_key,
    "client.send_csr": _send_csr,
    "ca.review_client_csr": _review_csr,
    "client.hello": _client_hello,
    "server.hello": _server_hello,
    "client.check_certificate": _check_certificate,
    "client.key_exchange": _client_key_exchange,
    "client.finished": _client_finished,
    "server.finished": _server_finished,
    "client.verify_finished": _verify_finished,
    "server.verify_finished": _verify_finished,  # TLS 1.3 only; replaced by the 1.3 handler
    "client.send_data": _send_data,
    "server.send_data": _send_data,
    "client.read_data": _read_data,
    "eavesdropper.generate_key": _eavesdropper_key,
    "eavesdropper.send_csr": _eavesdropper_csr,
    "ca.review_eavesdropper_csr": _review_eavesdropper_csr,
    "eavesdropper.intercept": _intercept,
    "eavesdropper.tamper": _tamper,
    "eavesdropper.strip_suites": _strip_suites,
    "client.reconnect": _reconnect,
    "eavesdropper.replay": _replay,
}


# -- view ----------------------------------------------------------------------------------

def view(state: TableState, seat: Seat, now: datetime.datetime | None = None,
         dissect: bool = False) -> dict[str, Any]:
    """Everything ``seat`` may see, as plain data. Never another seat's secret.

    At guided difficulty, with the clock given, it also offers the next correct move.
    With ``dissect`` each plaintext handshake message on the wire comes with its field
    tree (the byte inspector's); encrypted records stay opaque bytes.
    """
    wallet = {name: {"kind": item.kind, "value": item.value.hex(), "secret": item.secret}
              for name, item in state.wallets[seat].items()}
    if seat is Seat.EAVESDROPPER:  # every byte on the wire, both as sent and as delivered
        wire = [_wire_entry(f, dissect) for f in state.wire]
    elif seat in (Seat.CLIENT, Seat.SERVER):
        wire = [_wire_entry(f, dissect) for f in _seen(state, seat)]
    else:
        wire = []
    step = state.current_step
    return {
        "seat": seat.value,
        "variant": state.variant.value,
        "scenario": state.scenario.value,
        "step": step.id if step else None,
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
        "offered": _offered(state, seat, now),
    }


def _offered(state: TableState, seat: Seat, now: datetime.datetime | None) -> dict[str, Any] | None:
    step = state.current_step
    if now is None or state.difficulty is not Difficulty.GUIDED or step is None or step.seat is not seat:
        return None
    from .guide import correct_action

    move = correct_action(state, seat, now)
    if move is None:
        return None
    return {"action": type(move).__name__, "fields": dataclasses.asdict(move), "why": step.act}


def _verdict_entry(v: Verdict) -> dict[str, Any]:
    return {"seat": v.seat.value, "step": v.step, "ok": v.ok, "points": v.points, "reason": v.reason,
            "lesson": v.lesson}


@functools.lru_cache(maxsize=8192)
def _wire_entry(f: MessageSent | MessageDelivered, dissect: bool = False) -> dict[str, Any]:
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
        entry["dissection"] = [_dissect(record[5:]) for record in _records(f.payload)]
    return entry


@functools.lru_cache(maxsize=4096)
def _dissect(raw: bytes) -> dict[str, Any] | None:
    """The field tree of one handshake message; cached, since every view of every seat shows
    the same messages again. Callers serialise the result and never change it."""
    return _dissect_uncached(raw)


def _dissect_uncached(raw: bytes) -> dict[str, Any] | None:
    key_exchange = None
    if raw[:1] == bytes([m.HandshakeType.client_key_exchange]) and len(raw) > 4:
        # Its layout depends on the suite: an ECDH point has a one-byte length prefix.
        key_exchange = KeyExchange.ECDHE if raw[4] == len(raw) - 5 else KeyExchange.RSA
    try:
        return m.dissect_handshake(raw, key_exchange, base_offset=5).to_dict()
    except Alert:
        return None  # garbage on the wire is shown as bytes only
