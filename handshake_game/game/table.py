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
from cryptography.hazmat.primitives import serialization
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
from ..tls.suites import NamedGroup, SignatureScheme, suite_by_name
from . import actions as a
from .facts import (
    DecryptionTried,
    Fact,
    HandshakeFailed,
    ItemStored,
    MessageSent,
    ServerKeyLeaked,
    StepDone,
    TableOpened,
    Verdict,
)
from .model import CATALOG, SUITE_FOR_VARIANT, Difficulty, Scenario, Seat, Step, Variant

Rng = Callable[[int], bytes]
KeySource = Callable[[], rsa.RSAPrivateKey]  # a warm key pool in the server; fresh keys in tests

POINTS_STEP = 10
POINTS_MISTAKE = -5
POINTS_BAD_TRUST = -20  # accepting a certificate that fails its checks
POINTS_CAUGHT = 20  # refusing a certificate (or CSR) that deserved it
POINTS_ATTACK = 30  # the eavesdropper reads the traffic


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
    wire: tuple[MessageSent, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    scores: MappingProxyType[Seat, int] = field(
        default_factory=lambda: MappingProxyType({s: 0 for s in Seat}))
    failed: HandshakeFailed | None = None
    decryptions: tuple[DecryptionTried, ...] = ()
    key_leaked: bool = False

    @property
    def steps(self) -> tuple[Step, ...]:
        return CATALOG[self.variant]

    @property
    def current_step(self) -> Step | None:
        if self.failed is not None or self.step_index >= len(self.steps):
            return None
        return self.steps[self.step_index]

    @property
    def completed(self) -> bool:
        """The handshake finished and application data went both ways."""
        return self.failed is None and self.step_index >= len(self.steps)

    def item(self, seat: Seat, name: str) -> bytes:
        found = self.wallets[seat].get(name)
        if found is None:
            raise Rejected(f"the {seat.value} holds no {name.replace('_', ' ')}")
        return found.value


def open_table(variant: Variant, scenario: Scenario = Scenario.HONEST,
               difficulty: Difficulty = Difficulty.STANDARD,
               server_name: str = "shop.example") -> tuple[TableState, list[Fact]]:
    opened = TableOpened(variant, scenario, difficulty, server_name)
    return apply(initial_state(opened), opened), [opened]


def initial_state(opened: TableOpened) -> TableState:
    return TableState(opened.variant, opened.scenario, opened.difficulty, opened.server_name)


# -- apply: pure -----------------------------------------------------------------------------

def apply(state: TableState, fact: Fact) -> TableState:
    if isinstance(fact, TableOpened):
        return state
    if isinstance(fact, ItemStored):
        wallets = dict(state.wallets)
        wallet = dict(wallets[fact.seat])
        wallet[fact.name] = Item(fact.kind, fact.value, fact.secret)
        wallets[fact.seat] = MappingProxyType(wallet)
        return dataclasses.replace(state, wallets=MappingProxyType(wallets))
    if isinstance(fact, MessageSent):
        return dataclasses.replace(state, wire=state.wire + (fact,))
    if isinstance(fact, Verdict):
        scores = dict(state.scores)
        scores[fact.seat] += fact.points
        return dataclasses.replace(state, verdicts=state.verdicts + (fact,),
                                   scores=MappingProxyType(scores))
    if isinstance(fact, StepDone):
        return dataclasses.replace(state, step_index=state.step_index + 1)
    if isinstance(fact, HandshakeFailed):
        return dataclasses.replace(state, failed=fact)
    if isinstance(fact, ServerKeyLeaked):
        leaked = ItemStored(Seat.EAVESDROPPER, "leaked_server_key", "private_key", fact.private_key_pem, True)
        return dataclasses.replace(apply(state, leaked), key_leaked=True)
    if isinstance(fact, DecryptionTried):
        return dataclasses.replace(state, decryptions=state.decryptions + (fact,))
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
    "client.hello": (a.SendClientHello,),
    "server.hello": (a.SendServerHello,),
    "client.check_certificate": (a.AcceptCertificate, a.RejectCertificate),
    "client.key_exchange": (a.EncryptPremaster, a.SendKeyShare),
    "client.finished": (a.DeriveAndSendFinished,),
    "server.finished": (a.DeriveAndSendFinished,),
    "client.verify_finished": (a.VerifyFinished,),
    "client.send_data": (a.SendApplicationData,),
    "server.send_data": (a.SendApplicationData,),
    "client.read_data": (a.ReadApplicationData,),
}


def decide(state: TableState, seat: Seat, action: a.Action, referee: Referee) -> list[Fact]:
    """The facts that ``seat`` doing ``action`` produces, or :class:`Rejected`."""
    if isinstance(action, a.TryDecrypt):
        if seat is not Seat.EAVESDROPPER:
            raise Rejected("only the eavesdropper taps the wire")
        return _try_decrypt(state)
    step = state.current_step
    if step is None:
        raise Rejected("the handshake is over at this table")
    if seat is not step.seat:
        raise Rejected(f"it is the {step.seat.value}'s turn: {step.act}")
    allowed = ALLOWED[step.id]
    if not isinstance(action, allowed):
        names = " or ".join(t.__name__ for t in allowed)
        raise Rejected(f"{step.id} is done with {names}, not {type(action).__name__}")
    handler = _HANDLERS[step.id]
    facts = handler(state, step, action, referee)
    if not any(isinstance(f, HandshakeFailed) for f in facts):
        facts.append(StepDone(step.id))
    return facts


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
        _ok(step, "the root certificate is self-signed; the client will trust what it signs"),
    ]


def _generate_key(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    key = ref.rsa_keys()
    return [ItemStored(Seat.SERVER, "server_key", "private_key", _pem(key), True),
            _ok(step, "a 2048-bit RSA key pair: the private half never leaves the server")]


def _send_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    key = _load_key(state.item(Seat.SERVER, "server_key"))
    csr = pki.build_csr(key, action.name, [action.name])
    der = csr.public_bytes(serialization.Encoding.DER)
    facts: list[Fact] = [ItemStored(Seat.SERVER, "server_csr", "csr", der, False),
                         ItemStored(Seat.CA, "received_csr", "csr", der, False)]
    if action.name != state.server_name:
        facts.append(_mistake(step, f"the CSR asks for {action.name!r}, but this server is "
                                    f"{state.server_name!r}; clients will refuse that certificate"))
    else:
        facts.append(_ok(step, "the CSR names the server and is signed with its key: proof of "
                               "possession"))
    return facts


def _review_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    csr = pki.load_csr(state.item(Seat.CA, "received_csr"))
    info: pki.CsrInfo | None
    problem: str | None
    try:
        info = pki.check_csr(csr)
    except pki.CsrRejected as exc:
        info, problem = None, exc.reason
    else:
        problem = None if state.server_name in info.names else (
            f"the CSR asks for {', '.join(info.names)}, but the requester runs {state.server_name}")
    if isinstance(action, a.RefuseCsr):
        if problem is None:
            return [_mistake(step, "the CSR was sound (valid signature, the server's own name); "
                                   "without a certificate the server cannot take part", POINTS_MISTAKE * 2),
                    HandshakeFailed(Seat.CA, "ca refused", "the CA refused a valid request")]
        return [_ok(step, f"right to refuse: {problem}", POINTS_CAUGHT),
                HandshakeFailed(Seat.CA, "ca identity check", problem)]
    if info is None:
        raise Rejected(f"the CSR cannot be issued: {problem}")
    ca = pki.CertificateAuthority(x509.load_der_x509_certificate(state.item(Seat.CA, "ca_certificate")),
                                  _load_key(state.item(Seat.CA, "ca_key")))
    cert = pki.issue_from_csr(ca, csr, pki.Usage.SERVER, ref.now())
    der = cert.public_bytes(serialization.Encoding.DER)
    verdict = (_ok(step, "the CSR's signature proves key possession and the name is the server's: "
                         "issued for serverAuth") if problem is None
               else _mistake(step, f"issued although {problem}: a CA that skips the identity check "
                                   "signs lies", POINTS_MISTAKE * 2))
    return [ItemStored(Seat.SERVER, "server_certificate", "certificate", der, False), verdict]


# Handshake -------------------------------------------------------------------------------

def _suite(state: TableState) -> Any:
    return suite_by_name(SUITE_FOR_VARIANT[state.variant])


def _is_ecdhe(state: TableState) -> bool:
    return state.variant is Variant.TLS12_ECDHE


def _client_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    client_random = ref.rng(32)
    extensions = [m.server_name_extension(state.server_name),
                  m.signature_algorithms_extension((SignatureScheme.rsa_pss_rsae_sha256,
                                                    SignatureScheme.rsa_pkcs1_sha256)),
                  m.renegotiation_info_extension()]
    if _is_ecdhe(state):
        extensions[1:1] = [m.supported_groups_extension((NamedGroup.x25519,)),
                           m.ec_point_formats_extension()]
    hello = m.ClientHello(0x0303, client_random, b"", (_suite(state).code,), b"\x00", tuple(extensions))
    raw, sent = _plain_handshake(Seat.CLIENT, hello)
    return [ItemStored(Seat.CLIENT, "client_random", "random", client_random, False),
            ItemStored(Seat.CLIENT, "client_hello", "message", raw, False), sent,
            _ok(step, "32 fresh random bytes and the offered suite")]


def _server_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    server_random = ref.rng(32)
    suite = _suite(state)
    hello = m.ServerHello(0x0303, server_random, b"", suite.code, 0, (m.renegotiation_info_extension(),))
    chain = (state.item(Seat.SERVER, "server_certificate"),)
    facts: list[Fact] = [ItemStored(Seat.SERVER, "server_random", "random", server_random, False)]
    flight: list[m.HandshakeMessage] = [hello, m.Certificate(chain)]
    if _is_ecdhe(state):
        share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
        facts.append(ItemStored(Seat.SERVER, "ecdhe_private", "secret", share.private_bytes(), True))
        unsigned = m.ServerKeyExchange(NamedGroup.x25519, share.public_bytes(),
                                       SignatureScheme.rsa_pss_rsae_sha256, b"")
        key = _load_key(state.item(Seat.SERVER, "server_key"))
        signature = sign(key, SignatureScheme.rsa_pss_rsae_sha256,
                         _client_random(state) + server_random + unsigned.params())
        flight.append(dataclasses.replace(unsigned, signature=signature))
    flight.append(m.ServerHelloDone())
    for message in flight:
        facts.append(_plain_handshake(Seat.SERVER, message)[1])
    facts.append(_ok(step, "the server's random, the suite, and its certificate"
                           + (", and an ECDH share signed with the certificate key" if _is_ecdhe(state)
                              else "")))
    return facts


def _client_random(state: TableState) -> bytes:
    return state.item(Seat.CLIENT, "client_random")


def _handshake_messages(state: TableState) -> list[tuple[Seat, bytes]]:
    """The plaintext handshake messages on the wire, in order, with their senders."""
    out = []
    for sent in state.wire:
        if sent.content_type == ContentType.handshake and sent.label != "Finished":
            for record in _records(sent.payload):
                out.append((sent.sender, record[5:]))
    return out


def _records(data: bytes) -> list[bytes]:
    records = []
    while data:
        length = int.from_bytes(data[3:5], "big")
        records.append(data[: 5 + length])
        data = data[5 + length:]
    return records


def _received(state: TableState, label: type) -> Any:
    for message in _decoded(state.wire, _suite(state).key_exchange):
        if isinstance(message, label):
            return message
    raise Rejected(f"no {label.__name__} has arrived yet")


@functools.lru_cache(maxsize=256)
def _decoded(wire: tuple[MessageSent, ...], key_exchange: Any) -> tuple[m.HandshakeMessage, ...]:
    """The plaintext handshake messages on ``wire``, decoded once per wire state."""
    out = []
    for sent in wire:
        if sent.content_type == ContentType.handshake and sent.label != "Finished":
            for record in _records(sent.payload):
                out.append(m.decode_handshake(record[5:], key_exchange))
    return tuple(out)


def _check_certificate(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    certificate: m.Certificate = _received(state, m.Certificate)
    trust = [x509.load_der_x509_certificate(state.item(Seat.CLIENT, "trust_store"))]
    problem = None
    try:
        leaf = pki.verify_server_chain(certificate.certificate_list, trust, state.server_name, ref.now())
        if _is_ecdhe(state):
            exchange: m.ServerKeyExchange = _received(state, m.ServerKeyExchange)
            server_random = _received(state, m.ServerHello).random
            verify(leaf.public_key(), exchange.signature_scheme, exchange.signature,
                   _client_random(state) + server_random + exchange.params())
    except pki.CertificateRejected as exc:
        problem = ("certificate " + exc.problem.name.lower().replace("_", " "), exc.reason)
    except Alert as exc:
        problem = ("server key exchange signature", exc.reason)
    facts: list[Fact] = [ItemStored(Seat.CLIENT, "server_certificate", "certificate",
                                    certificate.certificate_list[0], False)]
    if isinstance(action, a.AcceptCertificate):
        if problem is None:
            return [*facts, _ok(step, "issued by the trusted CA, for this name, valid now")]
        return [*facts, _mistake(step, f"accepted a certificate that fails its checks: {problem[1]}",
                                 POINTS_BAD_TRUST)]
    if problem is None:
        return [_mistake(step, "the certificate passes every check; rejecting it ends a good connection"),
                HandshakeFailed(Seat.CLIENT, "client refused", "the client rejected a valid certificate")]
    return [_ok(step, f"right to refuse: {problem[1]}", POINTS_CAUGHT),
            HandshakeFailed(Seat.CLIENT, problem[0], problem[1])]


def _client_key_exchange(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    if _is_ecdhe(state):
        if not isinstance(action, a.SendKeyShare):
            raise Rejected("with ECDHE the client sends its own ECDH share (SendKeyShare)")
        exchange: m.ServerKeyExchange = _received(state, m.ServerKeyExchange)
        share = EcdhePrivateKey(NamedGroup(exchange.named_curve), ref.rng)
        pre_master = share.exchange(exchange.public)
        raw, sent = _plain_handshake(Seat.CLIENT, m.ClientKeyExchange(_suite(state).key_exchange,
                                                                      share.public_bytes()))
        return [ItemStored(Seat.CLIENT, "ecdhe_private", "secret", share.private_bytes(), True),
                ItemStored(Seat.CLIENT, "pre_master_secret", "secret", pre_master, True), sent,
                _ok(step, "the premaster is ECDH(client private, server share); only public shares "
                          "crossed the wire")]
    if not isinstance(action, a.EncryptPremaster):
        raise Rejected("with RSA key exchange the client encrypts a premaster (EncryptPremaster)")
    if action.key not in ("server_certificate", "trust_store"):
        raise Rejected(f"{action.key} is not a certificate in the client's wallet")
    certificate = x509.load_der_x509_certificate(state.item(Seat.CLIENT, action.key))
    pre_master = new_pre_master_secret(0x0303, ref.rng)
    encrypted = rsa_encrypt_pre_master(certificate.public_key(), pre_master)
    raw, sent = _plain_handshake(Seat.CLIENT, m.ClientKeyExchange(_suite(state).key_exchange, encrypted))
    facts: list[Fact] = [ItemStored(Seat.CLIENT, "pre_master_secret", "secret", pre_master, True), sent]
    if action.key == "server_certificate":
        facts.append(_ok(step, "encrypted to the server certificate's key: only the server can open it"))
    else:
        facts.append(_mistake(step, "the premaster was encrypted to the CA's public key; only the CA's "
                                    "private key could open it — the server cannot"))
    return facts


def _master(state: TableState, pre_master: bytes, order: str) -> bytes:
    client_random = _client_random(state)
    server_random = _received(state, m.ServerHello).random
    seed = client_random + server_random if order == "client+server" else server_random + client_random
    return prf(_suite(state).hash, pre_master, b"master secret", seed, 48)


def _keys(state: TableState, master: bytes) -> KeyBlock:
    return key_block(_suite(state), master, _client_random(state), _received(state, m.ServerHello).random)


def _transcript_hash(state: TableState) -> bytes:
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(_suite(state).hash)
    for _, raw in _handshake_messages(state):
        digest.update(raw)
    return digest.finalize()


def _protected(keys: KeyBlock, sender: Seat, state: TableState, sequence: int,
               content_type: ContentType, data: bytes) -> bytes:
    layer = RecordLayer()
    protection = RecordProtection(_suite(state), keys.client_write if sender is Seat.CLIENT
                                  else keys.server_write)
    protection.sequence_number = sequence
    layer.write_protection = protection
    return b"".join(layer.encode(content_type, data))


def _open(keys: KeyBlock, sender: Seat, state: TableState, sequence: int, record: bytes) -> bytes:
    protection = RecordProtection(_suite(state), keys.client_write if sender is Seat.CLIENT
                                  else keys.server_write)
    protection.sequence_number = sequence
    return protection.open(record[0], int.from_bytes(record[1:3], "big"), record[5:])


def _client_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    pre_master = state.item(Seat.CLIENT, "pre_master_secret")
    real = _master(state, pre_master, "client+server")
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
        master = _master(state, pre_master, action.randoms)
        facts.append(_ok(step, "master secret = PRF(premaster, \"master secret\", client_random + "
                               "server_random)") if action.randoms == "client+server" else
                     _mistake(step, "the randoms go client_random first (RFC 5246 §8.1); with the "
                                    "order swapped the keys differ from the server's"))
    keys = _keys(state, master)
    finished = m.encode_handshake(m.Finished(verify_data(_suite(state), master, CLIENT_FINISHED_LABEL,
                                                         _transcript_hash(state))))
    return [ItemStored(Seat.CLIENT, "master_secret", "secret", master, True),
            ItemStored(Seat.CLIENT, "client_write_key", "secret", keys.client_write.key, True),
            ItemStored(Seat.CLIENT, "server_write_key", "secret", keys.server_write.key, True),
            MessageSent(Seat.CLIENT, "ChangeCipherSpec", ContentType.change_cipher_spec,
                        b"".join(RecordLayer().encode(ContentType.change_cipher_spec, b"\x01"))),
            MessageSent(Seat.CLIENT, "Finished", ContentType.handshake,
                        _protected(keys, Seat.CLIENT, state, 0, ContentType.handshake, finished)),
            *facts]


def _server_pre_master(state: TableState, ref: Referee) -> bytes:
    exchange: m.ClientKeyExchange = _received(state, m.ClientKeyExchange)
    if _is_ecdhe(state):
        private = x25519.X25519PrivateKey.from_private_bytes(state.item(Seat.SERVER, "ecdhe_private"))
        return private.exchange(x25519.X25519PublicKey.from_public_bytes(exchange.exchange_keys))
    key = _load_key(state.item(Seat.SERVER, "server_key"))
    return rsa_decrypt_pre_master(key, exchange.exchange_keys, 0x0303, ref.rng)


def _wire_record(state: TableState, sender: Seat, label: str) -> bytes:
    for sent in state.wire:
        if sent.sender is sender and sent.label == label:
            return sent.payload
    raise Rejected(f"no {label} from the {sender.value} has arrived yet")


def _server_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    pre_master = _server_pre_master(state, ref)
    master = _master(state, pre_master, action.randoms)
    keys = _keys(state, master)
    facts: list[Fact] = [ItemStored(Seat.SERVER, "pre_master_secret", "secret", pre_master, True),
                         ItemStored(Seat.SERVER, "master_secret", "secret", master, True)]
    transcript = _transcript_hash(state)
    try:
        opened = _open(keys, Seat.CLIENT, state, 0, _wire_record(state, Seat.CLIENT, "Finished"))
    except Alert:
        why = _why_keys_differ(state, pre_master, action.randoms)
        # The server did its job: the Finished check is what stops a broken session.
        return [*facts, _ok(step, "the client's Finished record does not decrypt, so the server "
                                  "stops: " + why),
                HandshakeFailed(Seat.SERVER, "finished", "bad_record_mac: " + why)]
    expected = m.encode_handshake(m.Finished(verify_data(_suite(state), master, CLIENT_FINISHED_LABEL,
                                                         transcript)))
    if not hmac.compare_digest(opened, expected):
        return [*facts, HandshakeFailed(Seat.SERVER, "finished",
                                        "the client's verify_data differs: the two sides saw different "
                                        "handshake messages")]
    transcript_with_client = _hash_with(state, transcript, expected)
    finished = m.encode_handshake(m.Finished(verify_data(_suite(state), master, SERVER_FINISHED_LABEL,
                                                         transcript_with_client)))
    verdict = (_ok(step, "same premaster, same randoms: the client's Finished decrypts and verifies")
               if action.randoms == "client+server" else
               _mistake(step, "the randoms go client_random first (RFC 5246 §8.1)"))
    return [*facts, ItemStored(Seat.SERVER, "client_write_key", "secret", keys.client_write.key, True),
            ItemStored(Seat.SERVER, "server_write_key", "secret", keys.server_write.key, True),
            MessageSent(Seat.SERVER, "ChangeCipherSpec", ContentType.change_cipher_spec,
                        b"".join(RecordLayer().encode(ContentType.change_cipher_spec, b"\x01"))),
            MessageSent(Seat.SERVER, "Finished", ContentType.handshake,
                        _protected(keys, Seat.SERVER, state, 0, ContentType.handshake, finished)),
            verdict]


def _hash_with(state: TableState, _transcript: bytes, client_finished: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(_suite(state).hash)
    for _, raw in _handshake_messages(state):
        digest.update(raw)
    digest.update(client_finished)
    return digest.finalize()


def _why_keys_differ(state: TableState, server_pre_master: bytes, order: str) -> str:
    """The referee knows both sides; it names the cause the AEAD failure came from."""
    client_pre_master = state.item(Seat.CLIENT, "pre_master_secret")
    if client_pre_master != server_pre_master:
        return ("the server recovered a different premaster than the client chose — it was not "
                "encrypted to the server's key, so the two sides derived different keys")
    return "the two sides derived different master secrets (the randoms in a different order)"


def _verify_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    master = state.item(Seat.CLIENT, "master_secret")
    keys = _keys(state, master)
    try:
        opened = _open(keys, Seat.SERVER, state, 0, _wire_record(state, Seat.SERVER, "Finished"))
    except Alert:
        return [HandshakeFailed(Seat.CLIENT, "finished", "the server's Finished does not decrypt")]
    client_finished = m.encode_handshake(m.Finished(verify_data(_suite(state), master, CLIENT_FINISHED_LABEL,
                                                                _transcript_hash(state))))
    expected = m.encode_handshake(m.Finished(verify_data(
        _suite(state), master, SERVER_FINISHED_LABEL, _hash_with(state, b"", client_finished))))
    if not hmac.compare_digest(opened, expected):
        return [HandshakeFailed(Seat.CLIENT, "finished", "the server's verify_data differs")]
    return [_ok(step, "the server's Finished verifies: it holds the same keys and saw the same handshake")]


def _send_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    sender = step.seat
    keys = _keys(state, state.item(sender, "master_secret"))
    if sender is Seat.SERVER:
        request = _open(keys, Seat.CLIENT, state, 1, _wire_record(state, Seat.CLIENT, "application data"))
        facts: list[Fact] = [ItemStored(Seat.SERVER, "request", "text", request, True)]
    else:
        facts = []
    data = action.text.encode()
    record = _protected(keys, sender, state, 1, ContentType.application_data, data)
    return [*facts, ItemStored(sender, "sent_data", "text", data, True),
            MessageSent(sender, "application data", ContentType.application_data, record),
            _ok(step, "sealed with AES-GCM under the session keys")]


def _read_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    keys = _keys(state, state.item(Seat.CLIENT, "master_secret"))
    response = _open(keys, Seat.SERVER, state, 1, _wire_record(state, Seat.SERVER, "application data"))
    return [ItemStored(Seat.CLIENT, "response", "text", response, True),
            _ok(step, "the answer decrypts and authenticates: the session works")]


def _try_decrypt(state: TableState) -> list[Fact]:
    tap = WireObserver()
    for sent in state.wire:
        (tap.client_sent if sent.sender is Seat.CLIENT else tap.server_sent)(sent.payload)
    leaked = state.wallets[Seat.EAVESDROPPER].get("leaked_server_key")
    attempt = tap.try_decrypt(server_private_key=_load_key(leaked.value) if leaked else None)
    plaintext = attempt.application_data(Side.CLIENT) + attempt.application_data(Side.SERVER)
    facts: list[Fact] = [DecryptionTried(Seat.EAVESDROPPER, attempt.succeeded, attempt.reason, plaintext)]
    if attempt.succeeded:
        facts.append(Verdict(Seat.EAVESDROPPER, "eavesdropper.decrypt", True, POINTS_ATTACK,
                             attempt.reason, "key-leak"))
        if plaintext:
            facts.append(ItemStored(Seat.EAVESDROPPER, "decrypted_traffic", "text", plaintext, True))
    return facts


def leak_server_key(state: TableState) -> list[Fact]:
    """Instructor action: hand the server's private key to the eavesdropper."""
    return [ServerKeyLeaked(state.item(Seat.SERVER, "server_key"))]


_HANDLERS: dict[str, Callable[[TableState, Step, Any, Referee], list[Fact]]] = {
    "ca.publish_root": _publish_root,
    "server.generate_key": _generate_key,
    "server.send_csr": _send_csr,
    "ca.review_csr": _review_csr,
    "client.hello": _client_hello,
    "server.hello": _server_hello,
    "client.check_certificate": _check_certificate,
    "client.key_exchange": _client_key_exchange,
    "client.finished": _client_finished,
    "server.finished": _server_finished,
    "client.verify_finished": _verify_finished,
    "client.send_data": _send_data,
    "server.send_data": _send_data,
    "client.read_data": _read_data,
}


# -- view ----------------------------------------------------------------------------------

def view(state: TableState, seat: Seat) -> dict[str, Any]:
    """Everything ``seat`` may see, as plain data. Never another seat's secret."""
    wallet = {name: {"kind": item.kind, "value": item.value.hex(), "secret": item.secret}
              for name, item in state.wallets[seat].items()}
    if seat is Seat.EAVESDROPPER:
        wire = [_wire_entry(sent) for sent in state.wire]
    elif seat in (Seat.CLIENT, Seat.SERVER):
        wire = [_wire_entry(sent) for sent in state.wire]  # both ends see the whole conversation
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
        "verdicts": [dataclasses.asdict(v) | {"seat": v.seat.value}
                     for v in state.verdicts if v.seat is seat],
        "scores": {s.value: points for s, points in state.scores.items()},
        "failed": None if state.failed is None else {"seat": state.failed.seat.value,
                                                     "check": state.failed.check,
                                                     "reason": state.failed.reason},
        "completed": state.completed,
    }


def _wire_entry(sent: MessageSent) -> dict[str, Any]:
    return {"from": sent.sender.value, "label": sent.label, "content_type": sent.content_type,
            "bytes": sent.payload.hex()}
