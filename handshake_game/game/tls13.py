"""The tls13 variant's moves (RFC 8446): key shares in the hellos, the HKDF key schedule,
the server's flight encrypted under handshake keys, CertificateVerify, 1-RTT.

Each side keeps a ``handshake_log`` in its wallet: the handshake messages as it saw them
in the clear (the hellos on the wire, the rest after decrypting them). Its key schedule
runs over that log, so a message changed in flight gives that side different keys —
and the first encrypted record then fails its AEAD tag, for real.
"""

from __future__ import annotations

import datetime
import hmac
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import x25519

from ..tls import messages as m
from ..tls import pki
from ..tls.alerts import Alert
from ..tls.keyexchange import EcdhePrivateKey, sign, verify
from ..tls.keyschedule13 import KeySchedule, finished_verify_data, traffic_keys
from ..tls.record import ContentType, RecordProtection13
from ..tls.suites import CIPHER_SUITES, CipherSuite, NamedGroup, SignatureScheme, suite_by_name
from . import actions as a
from . import expert
from .facts import Fact, ForgeryAccepted, HandshakeFailed, ItemStored, MessageSent
from .handshake import check_words, chosen_suite, load_key, offered_suites
from .model import SUITES_FOR_VARIANT, Difficulty, Seat
from .records import plain_handshake
from .rules import POINTS_BAD_TRUST, POINTS_CAUGHT, Referee, Step, mistake, ok
from .state import TableState
from .wire import delivered_all, find, post

SCHEME = SignatureScheme.rsa_pss_rsae_sha256


def suite_of(state: TableState, seat: Seat) -> CipherSuite:
    for message in handshake_log(state, seat):
        if isinstance(message, m.ServerHello):
            return CIPHER_SUITES[message.cipher_suite]
    return suite_by_name(SUITES_FOR_VARIANT[state.variant][0])


def handshake_log(state: TableState, seat: Seat) -> list[m.HandshakeMessage]:
    log = state.wallets[seat].get("handshake_log")
    if log is None:
        return []
    out, data = [], log.value
    while data:
        end = 4 + int.from_bytes(data[1:4], "big")
        out.append(m.decode_handshake(data[:end], None, 0x0304))
        data = data[end:]
    return out


def log_bytes(state: TableState, seat: Seat) -> bytes:
    item = state.wallets[seat].get("handshake_log")
    return item.value if item is not None else b""


def secret_item(seat: Seat, name: str, value: bytes) -> ItemStored:
    return ItemStored(seat, name, "secret", value, True)


def log_item(seat: Seat, data: bytes) -> ItemStored:
    return ItemStored(seat, "handshake_log", "transcript", data, False)


def schedule_over(suite: CipherSuite, transcript: bytes) -> KeySchedule:
    schedule = KeySchedule(suite)
    schedule.update_hash(transcript)
    return schedule


def master_stage(suite: CipherSuite, transcript: bytes, shared: bytes) -> KeySchedule:
    """RFC 8446 §7.1 walked to the master secret, which comes from ``shared`` alone (no transcript),
    with ``transcript`` (through server Finished) hashed in for the application traffic secrets."""
    schedule = schedule_over(suite, transcript)
    schedule.extract(None)
    schedule.extract(shared)
    schedule.extract(None)
    return schedule


def hello_extensions(state: TableState, share: EcdhePrivateKey | None) -> tuple[m.Extension, ...]:
    """A TLS 1.3 ClientHello's extensions: the server's name, x25519, the signature scheme,
    TLS 1.3, and the x25519 key share (``share`` None: none, as psk_ke resumption sends)."""
    shares = (m.key_share_client_extension(((NamedGroup.x25519, share.public_bytes()),)),) if share else ()
    return (m.server_name_extension(state.server_name),
            m.supported_groups_extension((NamedGroup.x25519,)),
            m.signature_algorithms_extension((SCHEME,)),
            m.supported_versions_extension((0x0304,)), *shares)


def client_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
    client_random = ref.rng(32)
    extensions = hello_extensions(state, share)
    suites = offered_suites(state, action)
    hello = m.ClientHello(0x0303, client_random, b"", suites, b"\x00", extensions)
    raw, sent = plain_handshake(Seat.CLIENT, hello)
    return [ItemStored(Seat.CLIENT, "client_random", "random", client_random, False),
            ItemStored(Seat.CLIENT, "ecdhe_private", "secret", share.private_bytes(), True),
            log_item(Seat.CLIENT, raw), *post(state, sent),
            ok(step, "a fresh random, the offered suites, and an x25519 key share already: TLS 1.3 "
                      "guesses the group to save a round trip")]


def server_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    hello_in: m.ClientHello = find(state, Seat.SERVER, m.ClientHello)
    raw_in = m.encode_handshake(hello_in)
    suite = chosen_suite(state, action, hello_in.cipher_suites)
    shares = dict(m.parse_key_share_client(hello_in.extension(m.ExtensionType.key_share) or b"\x00\x00"))
    if suite is None or NamedGroup.x25519 not in shares:
        return [HandshakeFailed(Seat.SERVER, "suite negotiation", "no suite or key share in common")]
    share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
    shared = share.exchange(shares[NamedGroup.x25519])
    hello = m.ServerHello(0x0303, ref.rng(32), b"", suite.code, 0,
                          (m.selected_version_extension(0x0304),
                           m.key_share_server_extension(NamedGroup.x25519, share.public_bytes())))
    raw_hello, sent_hello = plain_handshake(Seat.SERVER, hello)
    schedule = schedule_over(suite, raw_in + raw_hello)
    schedule.extract(None)
    schedule.extract(shared)
    client_hs = schedule.derive_secret(b"c hs traffic")
    server_hs = schedule.derive_secret(b"s hs traffic")
    log = raw_in + raw_hello
    protection = RecordProtection13(suite, traffic_keys(suite, server_hs))
    facts: list[Fact] = [secret_item(Seat.SERVER, "shared_secret", shared),
                         secret_item(Seat.SERVER, "client_handshake_traffic_secret", client_hs),
                         secret_item(Seat.SERVER, "server_handshake_traffic_secret", server_hs),
                         *post(state, sent_hello)]
    key = load_key(state.item(Seat.SERVER, "server_key"))
    chain = (state.item(Seat.SERVER, "server_certificate"),)

    def seal(label: str, message: m.HandshakeMessage) -> None:
        nonlocal log
        raw = m.encode_handshake(message)
        log += raw
        record = protection.seal(ContentType.handshake, raw)
        facts.extend(post(state, MessageSent(Seat.SERVER, label, ContentType.application_data, record)))

    seal("EncryptedExtensions", m.EncryptedExtensions(()))
    seal("Certificate", m.Certificate13(chain))
    # RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the transcript hash.
    content = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00" + transcript_hash(suite, log)
    seal("CertificateVerify", m.CertificateVerify(SCHEME, sign(key, SCHEME, content)))
    seal("Finished", m.Finished(finished_verify_data(suite, server_hs, transcript_hash(suite, log))))
    schedule = master_stage(suite, log, shared)
    facts += [ItemStored(Seat.SERVER, "master_secret", "secret", schedule.secret, True),
              ItemStored(Seat.SERVER, "client_application_traffic_secret", "secret",
                         schedule.derive_secret(b"c ap traffic"), True),
              ItemStored(Seat.SERVER, "server_application_traffic_secret", "secret",
                         schedule.derive_secret(b"s ap traffic"), True),
              log_item(Seat.SERVER, log),
              ok(step, f"{suite.name}, its own x25519 share, then EncryptedExtensions, Certificate, "
                        "CertificateVerify and Finished, already encrypted under the handshake keys")]
    return facts


def finished_bytes(suite: CipherSuite, base_key: bytes, transcript: bytes) -> bytes:
    """A Finished message keyed by ``base_key`` over ``transcript`` (RFC 8446 §4.4.4)."""
    verify_data = finished_verify_data(suite, base_key, transcript_hash(suite, transcript))
    return m.encode_handshake(m.Finished(verify_data))


def transcript_hash(suite: CipherSuite, transcript: bytes) -> bytes:
    return schedule_over(suite, transcript).transcript_hash()


@dataclass(frozen=True)
class _Flight:
    """What the client learns from the server's flight, with its own keys."""

    shared: bytes
    client_hs: bytes
    server_hs: bytes
    log: bytes  # the client's transcript, hellos and decrypted flight up to CertificateVerify
    messages: tuple[bytes, ...]  # EncryptedExtensions, Certificate, CertificateVerify, Finished
    problem: tuple[str, str] | None  # (check, reason) when the certificate or its proof fails
    unreadable: bool = False


def inspect_flight(state: TableState, now: datetime.datetime) -> _Flight:
    """The client derives the handshake keys from its transcript, opens the server's flight,
    and checks the certificate and the CertificateVerify signature (RFC 8446 §4.4)."""
    hello: m.ServerHello = find(state, Seat.CLIENT, m.ServerHello)
    suite = CIPHER_SUITES[hello.cipher_suite]
    _, server_share = m.parse_key_share_server(hello.extension(m.ExtensionType.key_share) or b"")
    private = x25519.X25519PrivateKey.from_private_bytes(state.item(Seat.CLIENT, "ecdhe_private"))
    shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(server_share))
    log = log_bytes(state, Seat.CLIENT) + m.encode_handshake(hello)
    schedule = schedule_over(suite, log)
    schedule.extract(None)
    schedule.extract(shared)
    client_hs, server_hs = schedule.derive_secret(b"c hs traffic"), schedule.derive_secret(b"s hs traffic")
    opener = RecordProtection13(suite, traffic_keys(suite, server_hs))
    flight = []
    for record in delivered_all(state, Seat.CLIENT, ("EncryptedExtensions", "Certificate",
                                                    "CertificateVerify", "Finished")):
        try:
            _, plaintext = opener.open(record.payload[:5], record.payload[5:])
        except Alert:
            return _Flight(shared, client_hs, server_hs, log, (), None, unreadable=True)
        flight.append(plaintext)
    certificate = m.decode_handshake(flight[1], None, 0x0304)
    proof = m.decode_handshake(flight[2], None, 0x0304)
    assert isinstance(certificate, m.Certificate13) and isinstance(proof, m.CertificateVerify)
    trust = [x509.load_der_x509_certificate(state.item(Seat.CLIENT, "trust_store"))]
    problem = None
    try:
        leaf = pki.verify_server_chain(certificate.certificate_list, trust, state.server_name, now)
        signed_over = transcript_hash(suite, log + flight[0] + flight[1])
        content = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00" + signed_over
        verify(leaf.public_key(), proof.signature_scheme, proof.signature, content)
    except pki.CertificateRejected as exc:
        problem = (check_words(exc), exc.reason)
    except Alert as exc:
        problem = ("certificate verify", exc.reason)
    return _Flight(shared, client_hs, server_hs, log + flight[0] + flight[1] + flight[2], tuple(flight),
                   problem)


def expert_values(state: TableState, step: Step, now: datetime.datetime | None = None) -> dict[str, bytes]:
    """The real values ``step``'s seat derives (``game.expert``), from its own inputs: its
    x25519 share and the peer's, its transcript, and the secrets already in its wallet."""
    if step.id == "client.check_certificate":
        hello: m.ServerHello = find(state, Seat.CLIENT, m.ServerHello)
        suite = CIPHER_SUITES[hello.cipher_suite]
        _, server_share = m.parse_key_share_server(hello.extension(m.ExtensionType.key_share) or b"")
        private = x25519.X25519PrivateKey.from_private_bytes(state.item(Seat.CLIENT, "ecdhe_private"))
        schedule = schedule_over(suite, log_bytes(state, Seat.CLIENT) + m.encode_handshake(hello))
        schedule.extract(None)
        schedule.extract(private.exchange(x25519.X25519PublicKey.from_public_bytes(server_share)))
        return {"client_handshake_traffic_secret_hex": schedule.derive_secret(b"c hs traffic"),
                "server_handshake_traffic_secret_hex": schedule.derive_secret(b"s hs traffic")}
    seat = step.seat
    suite = suite_of(state, seat)
    log = log_bytes(state, seat)
    client_hs = state.item(seat, "client_handshake_traffic_secret")
    if step.id == "server.verify_finished":
        return {"verify_data_hex": finished_verify_data(suite, client_hs, transcript_hash(suite, log))}
    log += state.item(Seat.CLIENT, "server_finished")
    schedule = master_stage(suite, log, state.item(Seat.CLIENT, "shared_secret"))
    return {"master_secret_hex": schedule.secret,
            "client_application_traffic_secret_hex": schedule.derive_secret(b"c ap traffic"),
            "server_application_traffic_secret_hex": schedule.derive_secret(b"s ap traffic"),
            "verify_data_hex": finished_verify_data(suite, client_hs, transcript_hash(suite, log))}


def check_certificate(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    flight = inspect_flight(state, ref.now())
    # At expert difficulty the client's own handshake secrets are played, right or wrong: a
    # wrong one seals a Finished the server cannot open, or fails the server Finished's check.
    judged, played = expert.judge(state, step, action, {
        "client_handshake_traffic_secret_hex": flight.client_hs,
        "server_handshake_traffic_secret_hex": flight.server_hs})
    facts: list[Fact] = [secret_item(Seat.CLIENT, "shared_secret", flight.shared),
                         secret_item(Seat.CLIENT, "client_handshake_traffic_secret",
                                     played["client_handshake_traffic_secret_hex"]),
                         secret_item(Seat.CLIENT, "server_handshake_traffic_secret",
                                     played["server_handshake_traffic_secret_hex"]),
                         *judged]
    if flight.unreadable:  # no certificate to judge: a real client aborts with bad_record_mac
        verdict = (ok(step, "right to abort: the server's flight does not decrypt under your handshake keys, "
                            "so there is no certificate to accept (the two sides hashed different hellos)",
                      POINTS_CAUGHT) if isinstance(action, a.RejectCertificate) else
                   mistake(step, "accepted a flight that does not decrypt under your handshake keys: there "
                                 "is no certificate to accept, and a client aborts with bad_record_mac"))
        return [*facts, verdict,
                HandshakeFailed(Seat.CLIENT, "handshake keys",
                                "bad_record_mac: the handshake keys come from the transcript of the "
                                "hellos, and the client's differs from the server's")]
    certificate = m.decode_handshake(flight.messages[1], None, 0x0304)
    assert isinstance(certificate, m.Certificate13)
    problem = flight.problem
    facts += [log_item(Seat.CLIENT, flight.log),
              ItemStored(Seat.CLIENT, "server_finished", "message", flight.messages[3], False),
              ItemStored(Seat.CLIENT, "server_certificate", "certificate", certificate.certificate_list[0],
                         False)]
    if isinstance(action, a.AcceptCertificate):
        if problem is None:
            facts.append(ok(step, "trusted CA, right name, valid now, and the CertificateVerify signature "
                                   "proves the server holds the certificate's key"))
        else:
            # Name what failed: the CertificateVerify signature is not the certificate's fault.
            words = (f"a CertificateVerify that fails its check: the server's signature over the "
                     f"transcript hash does not verify ({problem[1]})" if problem[0] == "certificate verify"
                     else f"a certificate that fails its checks: {problem[1]}")
            facts.append(mistake(step, f"accepted {words}", POINTS_BAD_TRUST))
        if certificate.certificate_list[0] != state.item(Seat.SERVER, "server_certificate"):
            facts.append(ForgeryAccepted("the client trusted a certificate that is not the server's"))
        return facts
    if problem is None:
        return [*facts, mistake(step, "the certificate passes every check; rejecting it ends a good "
                                       "connection"),
                HandshakeFailed(Seat.CLIENT, "client refused", "the client rejected a valid certificate")]
    return [*facts, ok(step, f"right to refuse: {problem[1]}", POINTS_CAUGHT),
            HandshakeFailed(Seat.CLIENT, *problem)]


def client_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    suite = suite_of(state, Seat.CLIENT)
    log = log_bytes(state, Seat.CLIENT)
    server_hs = state.item(Seat.CLIENT, "server_handshake_traffic_secret")
    client_hs = state.item(Seat.CLIENT, "client_handshake_traffic_secret")
    received = m.decode_handshake(state.item(Seat.CLIENT, "server_finished"), None, 0x0304)
    assert isinstance(received, m.Finished)
    expected = finished_verify_data(suite, server_hs, transcript_hash(suite, log))
    if not hmac.compare_digest(expected, received.verify_data):
        return [HandshakeFailed(Seat.CLIENT, "finished", "the server's Finished does not verify")]
    log += state.item(Seat.CLIENT, "server_finished")
    facts: list[Fact]
    if state.difficulty is Difficulty.EXPERT:  # the player's own values, right or wrong, are played
        verdicts, played = expert.judge(state, step, action, expert_values(state, step))
        facts = list(verdicts)
    else:
        schedule = master_stage(suite, log, state.item(Seat.CLIENT, "shared_secret"))
        played = {"master_secret_hex": schedule.secret,
                  "client_application_traffic_secret_hex": schedule.derive_secret(b"c ap traffic"),
                  "server_application_traffic_secret_hex": schedule.derive_secret(b"s ap traffic")}
        facts = [ok(step, "the server's Finished verifies; the master secret follows from the shared "
                          "secret, and the application traffic secrets from it and the transcript "
                          "hash through the server's Finished")]
    finished = (m.encode_handshake(m.Finished(played["verify_data_hex"])) if "verify_data_hex" in played
                else finished_bytes(suite, client_hs, log))
    record = RecordProtection13(suite, traffic_keys(suite, client_hs)).seal(ContentType.handshake, finished)
    return [ItemStored(Seat.CLIENT, "master_secret", "secret", played["master_secret_hex"], True),
            ItemStored(Seat.CLIENT, "client_application_traffic_secret", "secret",
                       played["client_application_traffic_secret_hex"], True),
            ItemStored(Seat.CLIENT, "server_application_traffic_secret", "secret",
                       played["server_application_traffic_secret_hex"], True),
            log_item(Seat.CLIENT, log + finished),
            *post(state, MessageSent(Seat.CLIENT, "Finished", ContentType.application_data, record)),
            *facts]


def server_verify_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    suite = suite_of(state, Seat.SERVER)
    log = log_bytes(state, Seat.SERVER)
    client_hs = state.item(Seat.SERVER, "client_handshake_traffic_secret")
    (record,) = delivered_all(state, Seat.SERVER, ("Finished",))[-1:]
    try:
        _, plaintext = RecordProtection13(suite, traffic_keys(suite, client_hs)).open(record.payload[:5],
                                                                                      record.payload[5:])
    except Alert:
        return [ok(step, "the client's Finished does not decrypt: the two sides derived different "
                          "handshake keys", 0),
                HandshakeFailed(Seat.SERVER, "finished", "bad_record_mac on the client's Finished")]
    verdicts, played = expert.judge(state, step, action, expert_values(state, step))
    expected = m.encode_handshake(m.Finished(played["verify_data_hex"]))
    if not hmac.compare_digest(plaintext, expected):
        return [*verdicts, HandshakeFailed(Seat.SERVER, "finished", "the client's verify_data differs")]
    return [log_item(Seat.SERVER, log + plaintext), *verdicts,
            ok(step, "the client's Finished verifies: same transcript, same keys")]


def app_protection(state: TableState, seat: Seat, secret_name: str) -> RecordProtection13:
    suite = suite_of(state, seat)
    return RecordProtection13(suite, traffic_keys(suite, state.item(seat, secret_name)))


def send_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    sender = step.seat
    facts: list[Fact] = []
    if sender is Seat.SERVER:
        (record,) = delivered_all(state, Seat.SERVER, ("application data",))[-1:]
        try:
            _, request = app_protection(state, sender, "client_application_traffic_secret").open(
                record.payload[:5], record.payload[5:])
        except Alert:  # the client sealed under an application secret of its own making (expert)
            return [ok(step, "the request does not decrypt, so the server stops: the two sides hold "
                             "different application traffic secrets", 0),
                    HandshakeFailed(Seat.SERVER, "record protection", "bad_record_mac on the client's "
                                    "request: its client_application_traffic_secret differs")]
        facts.append(ItemStored(Seat.SERVER, "request", "text", request, True))
    own = f"{sender.value}_application_traffic_secret"
    data = action.text.encode()
    record_out = app_protection(state, sender, own).seal(ContentType.application_data, data)
    return [*facts, ItemStored(sender, "sent_data", "text", data, True),
            *post(state, MessageSent(sender, "application data", ContentType.application_data, record_out)),
            ok(step, "sealed under the application traffic keys")]


def read_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    (record,) = delivered_all(state, Seat.CLIENT, ("application data",))[-1:]
    try:
        _, response = app_protection(state, Seat.CLIENT, "server_application_traffic_secret").open(
            record.payload[:5], record.payload[5:])
    except Alert:  # the client derived a server application secret of its own making (expert)
        return [mistake(step, "the answer does not decrypt: your server_application_traffic_secret "
                              "differs from the one the server sealed with"),
                HandshakeFailed(Seat.CLIENT, "record protection", "bad_record_mac on the server's answer")]
    return [ItemStored(Seat.CLIENT, "response", "text", response, True),
            ok(step, "the answer decrypts and its tag verifies under the session's keys: it came from "
                     "whoever holds them, the party whose certificate you accepted")]
