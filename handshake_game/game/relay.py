"""The man in the middle that relays: two handshakes, client <-> eavesdropper with a forged
certificate and eavesdropper <-> server with the real one, and the application data
carried across (read, and changed if it likes).

Once the eavesdropper answers the client with its own certificate (``in_the_middle``),
everything either side sends is held for it (``wire.post``), and each of its relay steps
answers what it holds with bytes of its own making, as a real interception proxy does:

* TLS 1.2 — ``relay_handshake``: it opens the client's key exchange with its own key (RSA)
  or its own ECDH share, checks the client's Finished, runs its own key exchange with the
  server and sends the server a Finished over the server's transcript; ``relay_finished``:
  it answers the server's Finished with one of its own for the client.
* TLS 1.3 — ``intercept_hello``: it swaps the client's key share for its own before the
  server sees it; ``answer_client``: it opens the server's flight with its server-side keys
  and answers the client with a flight of its own (its share, its certificate, its
  CertificateVerify, its Finished); ``relay_handshake``: it checks the client's Finished
  and sends the server its own.
* Both — ``relay_request`` and ``relay_response``: each record is opened with one side's
  keys and sealed again with the other's.

Both Finished checks then pass: each side's Finished is computed over the handshake it had
with the eavesdropper. Only the client's certificate checks (chain, name, validity) stop
this — and, in mutual TLS, the server's check of the client's CertificateVerify, which
signs the client's transcript, not the one the server saw.
"""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import x25519

from ..tls import messages as m
from ..tls.alerts import Alert
from ..tls.keyexchange import (
    EcdhePrivateKey,
    new_pre_master_secret,
    rsa_decrypt_pre_master,
    rsa_encrypt_pre_master,
    sign,
)
from ..tls.keyschedule import CLIENT_FINISHED_LABEL
from ..tls.keyschedule13 import traffic_keys
from ..tls.record import ContentType, RecordProtection13
from ..tls.suites import CIPHER_SUITES, NamedGroup
from . import actions as a
from . import tls12, tls13
from .eavesdropper import forged_certificate, pass_or_drop
from .facts import Fact, HandshakeFailed, ItemStored, MessageSent
from .handshake import is_ecdhe, load_key
from .model import Seat, Variant
from .records import plain_handshake, split_records
from .rules import POINTS_ATTACK, Referee, Rejected, Step, ok
from .state import TableState
from .wire import deliver, held, in_the_middle

EAVESDROPPER = Seat.EAVESDROPPER
SIDES = ("client", "server")  # the eavesdropper's two connections


def _item(name: str, value: bytes, kind: str = "secret") -> ItemStored:
    return ItemStored(EAVESDROPPER, name, kind, value, kind != "certificate")


def _decode(sent: MessageSent, key_exchange: Any = None) -> m.HandshakeMessage:
    return m.decode_handshake(sent.payload[5:], key_exchange)


def _one(waiting: list[MessageSent], label: str, sender: Seat) -> MessageSent:
    return next(s for s in waiting if s.label == label and s.sender is sender)


def _stopped(step: Step, reason: str) -> list[Fact]:
    """The client's own Finished does not verify at the eavesdropper (a mistake of the
    client's, such as the randoms in the wrong order): the eavesdropper, in the server's
    place, stops as a server would."""
    return [ok(step, f"the client's Finished does not verify with its keys either: {reason}", 0),
            HandshakeFailed(EAVESDROPPER, "finished", f"the client's Finished does not verify: {reason}")]


def _not_relaying(state: TableState, step: Step, action: Any) -> list[Fact] | None:
    """Every relay step allows Drop; Relay is the move. Without the client's trust there is
    nothing to relay (the step is skipped then; this guards a direct call)."""
    if isinstance(action, a.Drop):
        return pass_or_drop(state, step, action, held(state))
    if not in_the_middle(state):
        raise Rejected("the eavesdropper is not in the middle of this connection")
    return None


# -- TLS 1.2 ---------------------------------------------------------------------------------

def relay_handshake(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    if state.variant is Variant.TLS13:
        return _relay_handshake13(state, step, action, ref)
    if (dropped := _not_relaying(state, step, action)) is not None:
        return dropped
    waiting = held(state)
    suite = tls12.suite_of(state, Seat.CLIENT)
    exchange = _decode(_one(waiting, "ClientKeyExchange", Seat.CLIENT), suite.key_exchange)
    assert isinstance(exchange, m.ClientKeyExchange)
    facts: list[Fact] = []
    # The client's session ends here: its premaster was made for the eavesdropper.
    if is_ecdhe(state):
        mine = x25519.X25519PrivateKey.from_private_bytes(state.item(EAVESDROPPER, "ecdhe_private"))
        try:
            pre_master = mine.exchange(x25519.X25519PublicKey.from_public_bytes(exchange.exchange_keys))
        except ValueError:
            pre_master = b""
    else:
        key = load_key(state.item(EAVESDROPPER, "eavesdropper_key"))
        pre_master = rsa_decrypt_pre_master(key, exchange.exchange_keys, 0x0303, ref.rng)
    master = tls12.master_from(state, Seat.CLIENT, pre_master, "client+server")
    facts += [_item("pre_master_secret_with_client", pre_master), _item("master_secret_with_client", master)]
    keys = tls12.session_keys(state, Seat.CLIENT, master)
    try:
        finished_in = _one(waiting, "Finished", Seat.CLIENT).payload
        opened = tls12.open_record(state, Seat.SERVER, keys, 0, finished_in)
    except Alert:
        return [*facts, *_stopped(step, "its record does not decrypt under the keys of the client's session")]
    expected = tls12.finished_message(state, Seat.CLIENT, master, CLIENT_FINISHED_LABEL)
    if not hmac.compare_digest(opened, expected):
        return [*facts, *_stopped(step, "its verify_data differs")]

    # The server's session: the eavesdropper's own key exchange, to the real certificate.
    if is_ecdhe(state):
        server_exchange: m.ServerKeyExchange = next(
            msg for msg in state.decoded(Seat.SERVER) if isinstance(msg, m.ServerKeyExchange))
        share = EcdhePrivateKey(NamedGroup(server_exchange.named_curve), ref.rng)
        pre_master_out = share.exchange(server_exchange.public)
        exchange_out = m.ClientKeyExchange(suite.key_exchange, share.public_bytes())
        facts.append(_item("ecdhe_private_with_server", share.private_bytes()))
    else:
        certificate = next(msg for msg in state.decoded(Seat.SERVER) if isinstance(msg, m.Certificate))
        real = x509.load_der_x509_certificate(certificate.certificate_list[0])
        pre_master_out = new_pre_master_secret(0x0303, ref.rng)
        exchange_out = m.ClientKeyExchange(suite.key_exchange,
                                           rsa_encrypt_pre_master(real.public_key(), pre_master_out))
    raw_exchange, sent_exchange = plain_handshake(Seat.CLIENT, exchange_out)
    # What reaches the server, in order: the client's Certificate (mutual TLS: passed on as
    # it is, since the eavesdropper has no certificate the server's CA would vouch for), the
    # eavesdropper's ClientKeyExchange, the client's CertificateVerify (passed on: it cannot
    # sign for the client), ChangeCipherSpec, the eavesdropper's Finished.
    handshake_out = b""
    for sent in waiting:
        if sent.label == "ClientKeyExchange":
            handshake_out += raw_exchange
        elif sent.content_type == ContentType.handshake and sent.label != "Finished":
            handshake_out += b"".join(record[5:] for record in split_records(sent.payload))
    master_out = tls12.master_from(state, Seat.SERVER, pre_master_out, "client+server")
    keys_out = tls12.session_keys(state, Seat.SERVER, master_out)
    finished_out = tls12.finished_message(state, Seat.SERVER, master_out, CLIENT_FINISHED_LABEL,
                                          handshake_out)
    record = tls12.seal(state, Seat.CLIENT, keys_out, 0, ContentType.handshake, finished_out)
    facts += [_item("pre_master_secret_with_server", pre_master_out),
              _item("master_secret_with_server", master_out)]
    how = ("its own ECDH share against the server's" if is_ecdhe(state)
           else "a premaster of its own, encrypted to the server's real certificate")
    return [*facts, *deliver(waiting, {"ClientKeyExchange": sent_exchange.payload, "Finished": record}),
            ok(step, "opened the client's key exchange with its own key, and its Finished verifies; then ran "
                     f"its own key exchange with the server ({how}) and sent a Finished over the server's "
                     "handshake", 0)]


def relay_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    """TLS 1.2: the server's Finished ends the server's session; the client gets one the
    eavesdropper computed over the client's own handshake."""
    if (dropped := _not_relaying(state, step, action)) is not None:
        return dropped
    waiting = held(state)
    record = tls12.server_finished_for_client(state, state.item(EAVESDROPPER, "master_secret_with_client"))
    return [*deliver(waiting, {"Finished": record}),
            ok(step, "the server's Finished verifies on its own side; the client gets a Finished over the "
                     "client's handshake, made with the client's session keys: both handshakes are complete",
               0)]


# -- TLS 1.3 ---------------------------------------------------------------------------------

def intercept_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    """TLS 1.3: the key share travels in the ClientHello, so a man in the middle must act
    there: the server gets the client's hello with the eavesdropper's share instead."""
    waiting = held(state)
    if (passed := pass_or_drop(state, step, action, waiting)) is not None:
        return passed
    hello = _decode(_one(waiting, "ClientHello", Seat.CLIENT))
    assert isinstance(hello, m.ClientHello)
    share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
    extensions = tuple(
        m.key_share_client_extension(((NamedGroup.x25519, share.public_bytes()),))
        if extension.type == m.ExtensionType.key_share else extension for extension in hello.extensions or ())
    _, sent = plain_handshake(Seat.CLIENT, dataclasses.replace(hello, extensions=extensions))
    key = load_key(state.item(EAVESDROPPER, "eavesdropper_key"))
    forged = forged_certificate(state, key, ref.now())
    return [_item("ecdhe_private_with_server", share.private_bytes()),
            _item("forged_certificate", forged, "certificate"),
            *deliver(waiting, {"ClientHello": sent.payload}),
            ok(step, "passed the ClientHello on with its own key share instead of the client's: the server "
                     "will make its handshake keys with the eavesdropper", 0)]


def answer_client(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    """TLS 1.3: open the server's flight with the server-side keys (the eavesdropper's share
    made them), then answer the client with a flight of its own."""
    if (dropped := _not_relaying(state, step, action)) is not None:
        return dropped
    waiting = held(state)
    server_hello = _decode(_one(waiting, "ServerHello", Seat.SERVER))
    assert isinstance(server_hello, m.ServerHello)
    suite = CIPHER_SUITES[server_hello.cipher_suite]
    _, server_share = m.parse_key_share_server(server_hello.extension(m.ExtensionType.key_share) or b"")
    mine = x25519.X25519PrivateKey.from_private_bytes(state.item(EAVESDROPPER, "ecdhe_private_with_server"))
    shared = mine.exchange(x25519.X25519PublicKey.from_public_bytes(server_share))
    hello_to_server = next(f.payload[5:] for f in state.wire if f.label == "ClientHello"
                           and getattr(f, "recipient", None) is Seat.SERVER)
    log = hello_to_server + server_hello_raw(waiting)
    schedule = tls13.schedule_over(suite, log)
    schedule.extract(None)
    schedule.extract(shared)
    client_hs, server_hs = schedule.derive_secret(b"c hs traffic"), schedule.derive_secret(b"s hs traffic")
    opener = RecordProtection13(suite, traffic_keys(suite, server_hs))
    for label in ("EncryptedExtensions", "Certificate", "CertificateVerify", "Finished"):
        record = _one(waiting, label, Seat.SERVER).payload
        _, plaintext = opener.open(record[:5], record[5:])
        log += plaintext
    after = tls13.master_stage(suite, log, shared)
    facts: list[Fact] = [
        _item("client_handshake_traffic_secret_with_server", client_hs),
        _item("server_handshake_traffic_secret_with_server", server_hs),
        _item("client_application_traffic_secret_with_server", after.derive_secret(b"c ap traffic")),
        _item("server_application_traffic_secret_with_server", after.derive_secret(b"s ap traffic")),
        ItemStored(EAVESDROPPER, "handshake_log_with_server", "transcript", log, True)]
    return [*facts, *_answer_client13(state, step, waiting, server_hello, ref)]


def server_hello_raw(waiting: list[MessageSent]) -> bytes:
    return _one(waiting, "ServerHello", Seat.SERVER).payload[5:]


def _answer_client13(state: TableState, step: Step, waiting: list[MessageSent], server_hello: m.ServerHello,
                     ref: Referee) -> list[Fact]:
    """The client's connection: the eavesdropper's own share, certificate, CertificateVerify
    and Finished, encrypted under handshake keys it shares with the client."""
    client_hello = _decode(next(f for f in state.wire if isinstance(f, MessageSent)
                                and f.sender is Seat.CLIENT and f.label == "ClientHello"))
    assert isinstance(client_hello, m.ClientHello)
    suite = CIPHER_SUITES[server_hello.cipher_suite]
    shares = dict(m.parse_key_share_client(client_hello.extension(m.ExtensionType.key_share) or b"\x00\x00"))
    share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
    shared = share.exchange(shares[NamedGroup.x25519])
    own_share = m.key_share_server_extension(NamedGroup.x25519, share.public_bytes())
    extensions = (m.selected_version_extension(0x0304), own_share)
    forged_hello = dataclasses.replace(server_hello, extensions=extensions)
    raw_hello, sent_hello = plain_handshake(Seat.SERVER, forged_hello)
    log = m.encode_handshake(client_hello) + raw_hello
    schedule = tls13.schedule_over(suite, log)
    schedule.extract(None)
    schedule.extract(shared)
    client_hs, server_hs = schedule.derive_secret(b"c hs traffic"), schedule.derive_secret(b"s hs traffic")
    key = load_key(state.item(EAVESDROPPER, "eavesdropper_key"))
    forged = state.item(EAVESDROPPER, "forged_certificate")
    protection = RecordProtection13(suite, traffic_keys(suite, server_hs))
    replace = {"ServerHello": sent_hello.payload}

    def seal(label: str, message: m.HandshakeMessage) -> None:
        nonlocal log
        raw = m.encode_handshake(message)
        log += raw
        replace[label] = protection.seal(ContentType.handshake, raw)

    seal("EncryptedExtensions", m.EncryptedExtensions(()))
    seal("Certificate", m.Certificate13((forged,)))
    content = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00" + tls13.transcript_hash(suite, log)
    seal("CertificateVerify", m.CertificateVerify(tls13.SCHEME, sign(key, tls13.SCHEME, content)))
    raw_finished = tls13.finished_bytes(suite, server_hs, log)
    log += raw_finished
    replace["Finished"] = protection.seal(ContentType.handshake, raw_finished)
    after = tls13.master_stage(suite, log, shared)
    return [_item("ecdhe_private", share.private_bytes()),
            _item("client_handshake_traffic_secret", client_hs),
            _item("server_handshake_traffic_secret", server_hs),
            _item("client_application_traffic_secret", after.derive_secret(b"c ap traffic")),
            _item("server_application_traffic_secret", after.derive_secret(b"s ap traffic")),
            ItemStored(EAVESDROPPER, "handshake_log_with_client", "transcript", log, True),
            *deliver(waiting, replace),
            ok(step, "read the server's flight with the keys its own share made, and answered the client "
                     "with its own: its key share, its certificate, its CertificateVerify, its Finished", 0)]


def _relay_handshake13(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    if (dropped := _not_relaying(state, step, action)) is not None:
        return dropped
    waiting = held(state)
    suite = tls13.suite_of(state, Seat.SERVER)
    client_log = state.item(EAVESDROPPER, "handshake_log_with_client")
    client_hs = state.item(EAVESDROPPER, "client_handshake_traffic_secret")
    record = _one(waiting, "Finished", Seat.CLIENT).payload
    try:
        _, opened = RecordProtection13(suite, traffic_keys(suite, client_hs)).open(record[:5], record[5:])
    except Alert:
        return _stopped(step, "its record does not decrypt under the client's handshake keys")
    if not hmac.compare_digest(opened, tls13.finished_bytes(suite, client_hs, client_log)):
        return _stopped(step, "its verify_data differs")
    server_log = state.item(EAVESDROPPER, "handshake_log_with_server")
    server_side_hs = state.item(EAVESDROPPER, "client_handshake_traffic_secret_with_server")
    finished = tls13.finished_bytes(suite, server_side_hs, server_log)
    sealer = RecordProtection13(suite, traffic_keys(suite, server_side_hs))
    sealed = sealer.seal(ContentType.handshake, finished)
    return [ItemStored(EAVESDROPPER, "handshake_log_with_client", "transcript", client_log + opened, True),
            ItemStored(EAVESDROPPER, "handshake_log_with_server", "transcript", server_log + finished, True),
            *deliver(waiting, {"Finished": sealed}),
            ok(step, "the client's Finished verifies with the keys of the client's connection; the server "
                     "gets a Finished of the eavesdropper's own, over the server's handshake", 0)]


# -- application data, both versions ------------------------------------------------------------

def relay_request(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    return _relay_data(state, step, action, Seat.CLIENT)


def relay_response(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    return _relay_data(state, step, action, Seat.SERVER)


def _relay_data(state: TableState, step: Step, action: Any, sender: Seat) -> list[Fact]:
    if (dropped := _not_relaying(state, step, action)) is not None:
        return dropped
    waiting = held(state)
    record = _one(waiting, "application data", sender).payload
    plaintext = open_held(state, sender, record)
    text = plaintext if action.text is None else action.text.encode()
    if state.variant is Variant.TLS13:
        name = f"{sender.value}_application_traffic_secret"
        # Sealed for the other side with the keys of the eavesdropper's connection to it.
        secret = state.item(EAVESDROPPER, name + ("_with_server" if sender is Seat.CLIENT else ""))
        suite = tls13.suite_of(state, Seat.SERVER)
        sealer = RecordProtection13(suite, traffic_keys(suite, secret))
        sealed = sealer.seal(ContentType.application_data, text)
    else:
        other_side = "server" if sender is Seat.CLIENT else "client"
        keys = tls12.session_keys(state, Seat.SERVER if sender is Seat.CLIENT else Seat.CLIENT,
                                  state.item(EAVESDROPPER, f"master_secret_with_{other_side}"))
        # The eavesdropper seals as `sender` would for the other end.
        sealed = tls12.seal(state, sender, keys, 1, ContentType.application_data, text)
    what = "request" if sender is Seat.CLIENT else "answer"
    read = ItemStored(EAVESDROPPER, f"relayed_{'request' if sender is Seat.CLIENT else 'response'}", "text",
                      plaintext, True)
    facts: list[Fact] = [read]
    if text != plaintext:
        verdict = ok(step, f"read the {what} ({_short(plaintext)}) and passed on a changed one "
                           f"({_short(text)}): the {other_name(sender)} cannot tell", POINTS_ATTACK // 2)
    else:
        verdict = ok(step, f"read the {what}: {_short(plaintext)} — and passed it on, sealed again for the "
                           f"{other_name(sender)}", POINTS_ATTACK if sender is Seat.CLIENT else 0)
    return [*facts, *deliver(waiting, {"application data": sealed}), verdict]


def other_name(seat: Seat) -> str:
    return "server" if seat is Seat.CLIENT else "client"


def _short(data: bytes, limit: int = 60) -> str:
    """A record's text in a few words: an HTTP message's body, else its start."""
    text = data.decode("utf-8", "replace")
    if "\r\n\r\n" in text.rstrip():
        text = text.split("\r\n\r\n", 1)[1]
    text = text.replace("\r\n", " ").strip()
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def open_held(state: TableState, sender: Seat, record: bytes) -> bytes:
    """The plaintext of a held application-data record from ``sender``, opened with the keys
    of the eavesdropper's connection to that side."""
    if state.variant is Variant.TLS13:
        name = f"{sender.value}_application_traffic_secret"
        secret = state.item(EAVESDROPPER, name + ("" if sender is Seat.CLIENT else "_with_server"))
        suite = tls13.suite_of(state, Seat.SERVER)
        _, plaintext = RecordProtection13(suite, traffic_keys(suite, secret)).open(record[:5], record[5:])
        return plaintext
    side = "client" if sender is Seat.CLIENT else "server"
    seat = Seat.SERVER if sender is Seat.CLIENT else Seat.CLIENT  # the eavesdropper opens as the peer
    keys = tls12.session_keys(state, sender, state.item(EAVESDROPPER, f"master_secret_with_{side}"))
    return tls12.open_record(state, seat, keys, 1, record)
