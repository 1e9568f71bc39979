"""TLS 1.3 resumption with a ticket, 0-RTT early data, and (the tls13 replay scenario) its replay.

After the first session the server sends a NewSessionTicket (RFC 8446 §4.6.1): the ticket is
the PSK and its parameters, sealed with AES-GCM under the server's ticket key (the engine's
``tls.session.SessionTickets``, fed the key kept in the server's wallet). The client derives
the same PSK from ``resumption_master_secret`` and the ticket nonce, and connects again
(``resume``): a ClientHello offering the ticket in ``pre_shared_key`` with its binder
(§4.2.11.2), psk_dhe_ke with a fresh x25519 share, ``early_data``, and right behind it its
request, "POST /transfer …", sealed under client_early_traffic_secret (§2.3, §7.1).

The server seat answers (``server_resume``) with a policy for that early data: accept it with
single-use tickets (§8.1), accept it with no anti-replay at all, or refuse it so that the
request waits for 1-RTT (§4.2.10; RFC 8470 §5.2). The eavesdropper may then send the recorded
ClientHello and early data again, byte for byte, in a connection of its own
(``replay_early_data``); the server runs the same checks on it (``_admit``). The request runs
a second time only when the replayed early data really opens and is accepted.

The same moves make the second visit of an honest, passive or key-leak tls13 table, where the
client chooses psk_dhe_ke or psk_ke and whether to send its request as 0-RTT data at all.

**The ticket's age** (RFC 8446 §4.2.11.1, §8.3). Moves come at human pace, so ages are not read
off the wall clock between two moves: the resumption runs on the game's own timeline, the same
at every table (``ONE_WAY``, ``RETURN_AFTER``, ``COPY_AFTER``), anchored at the moment the server
sealed the ticket (a time the ticket carries). The client reports the age it measured since the
ticket reached it, obfuscated with ticket_age_add; the server subtracts ticket_age_add and
compares the result with its own clock when the ClientHello arrives, and takes 0-RTT data only
within ``FRESHNESS_WINDOW_MS`` (the engine's ``SessionTickets.fresh``).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import x25519

from ..tls import messages as m
from ..tls.alerts import Alert
from ..tls.keyexchange import EcdhePrivateKey
from ..tls.keyschedule13 import KeySchedule, psk_binder, resumption_psk
from ..tls.record import ContentType
from ..tls.session import Session, SessionTickets, TicketState
from ..tls.suites import CIPHER_SUITES, CipherSuite, NamedGroup, suite_by_name
from . import actions as a
from .facts import (
    AttackStopped,
    Fact,
    HandshakeFailed,
    ItemStored,
    MessageDelivered,
    MessageSent,
    SessionStarted,
)
from .guide import TRANSFER
from .model import SUITES_FOR_VARIANT, Seat
from .records import plain_handshake
from .rules import POINTS_ATTACK, POINTS_STEP, Code, Referee, Rejected, Step, mistake, ok
from .state import TableState
from .ticketleak import KEY_NAME, open_ticket
from .ticketleak import early_schedule as _early_schedule
from .ticketleak import open_record as _open
from .ticketleak import protection as _protection
from .tls13 import (
    app_protection,
    finished_bytes,
    hello_extensions,
    log_bytes,
    log_item,
    master_stage,
    secret_item,
    suite_of,
)
from .wire import delivered_all, find, post

CLIENT, SERVER, EAVESDROPPER = Seat.CLIENT, Seat.SERVER, Seat.EAVESDROPPER
TICKET_LIFETIME = 7200  # seconds (RFC 8446 §4.6.1 allows up to 7 days)
MAX_EARLY_DATA = 16384  # max_early_data_size announced in the ticket
_KEY = 32  # the ticket key: its name (``KEY_NAME`` bytes), then its AES-256 key (``SessionTickets``)

# The game's timeline for a resumption. A message takes ONE_WAY to cross; the client comes back
# RETURN_AFTER after the ticket reached it; whoever sends a recorded ClientHello again does it
# COPY_AFTER the original reached the server (at once, to stay inside the freshness window).
ONE_WAY = datetime.timedelta(milliseconds=50)
RETURN_AFTER = datetime.timedelta(minutes=10)
COPY_AFTER = datetime.timedelta(seconds=1)
FRESHNESS_WINDOW_MS = 10_000  # how far the two ages may differ for 0-RTT (RFC 8446 §8.3 leaves it open)


def _tickets(ticket_key: bytes, now: Callable[[], Any], nonce: bytes = b"") -> SessionTickets:
    """The engine's ticket sealer, holding exactly the server's ticket key (and the nonce to seal
    with): the key is wallet data here, so that the table is a fold of its facts."""
    chunks = [ticket_key[:KEY_NAME], ticket_key[KEY_NAME:], nonce]

    def rng(size: int) -> bytes:
        chunk = chunks.pop(0)
        assert len(chunk) == size
        return chunk
    return SessionTickets(rng=rng, now=now, lifetime=TICKET_LIFETIME,
                          freshness_window_ms=FRESHNESS_WINDOW_MS)


def _arrival(issued_at_ms: int, copy: bool) -> datetime.datetime:
    """The server's clock, on the game's timeline, when a ClientHello offering a ticket sealed at
    ``issued_at_ms`` arrives: the ticket's trip to the client, the client's wait, the hello's trip
    (and, for a copy, the time until it is sent again)."""
    sealed = datetime.datetime.fromtimestamp(issued_at_ms / 1000, datetime.UTC)
    return sealed + ONE_WAY + RETURN_AFTER + ONE_WAY + (COPY_AFTER if copy else datetime.timedelta(0))


# -- the first session ends: a ticket ------------------------------------------------------------

def issue_ticket(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    suite = suite_of(state, SERVER)
    # RFC 8446 §7.1: resumption_master_secret = Derive-Secret(master, "res master", CH..client Finished).
    schedule = master_stage(suite, log_bytes(state, SERVER), state.item(SERVER, "shared_secret"))
    resumption_master = schedule.derive_secret(b"res master")
    nonce = bytes(8)  # unique per ticket of this connection: it has one
    psk = resumption_psk(suite, resumption_master, nonce)
    ticket_key = ref.rng(KEY_NAME + _KEY)
    age_add = int.from_bytes(ref.rng(4), "big")
    tickets = _tickets(ticket_key, ref.now, ref.rng(12))
    ticket = tickets.seal(TicketState(suite.code, psk, tickets.now_ms(), age_add, MAX_EARLY_DATA,
                                      state.server_name))
    message = m.NewSessionTicket13(TICKET_LIFETIME, age_add, nonce, ticket,
                                   (m.early_data_extension(MAX_EARLY_DATA),))
    # Under the server's application keys; its answer went first, as record 0.
    record = app_protection(state, SERVER, "server_application_traffic_secret")
    record.sequence_number = 1
    sealed = record.seal(ContentType.handshake, m.encode_handshake(message))
    return [ItemStored(SERVER, "ticket_key", "secret", ticket_key, True),
            secret_item(SERVER, "resumption_master_secret", resumption_master),
            secret_item(SERVER, "resumption_psk", psk),
            *post(state, MessageSent(SERVER, "NewSessionTicket", ContentType.application_data, sealed)),
            ok(step, "a NewSessionTicket: the PSK sealed under the server's ticket key, the nonce the client "
                     "derives the same PSK with, a lifetime, an age_add, and max_early_data_size for 0-RTT")]


def resume(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    """The client opens the ticket's record, derives the PSK, and connects again with it, with
    the key exchange mode and the 0-RTT choice it made (RFC 8446 §4.2.9, §4.2.10). The ticket's
    age it reports is the time since the ticket reached it, on the game's timeline."""
    mode, early_data = action.psk_mode, action.early_data
    if mode not in a.PSK_MODES:
        raise Rejected(f"resume with one of {', '.join(a.PSK_MODES)}", Code.BAD_INPUT)
    dhe = mode == a.PSK_DHE_KE
    (record,) = delivered_all(state, CLIENT, ("NewSessionTicket",))[-1:]
    suite = suite_of(state, CLIENT)
    try:
        secret = state.item(CLIENT, "server_application_traffic_secret")
        raw = _open(_protection(suite, secret, 1), record.payload)
    except Alert:
        return [HandshakeFailed(CLIENT, "record protection", "bad_record_mac on the NewSessionTicket")]
    ticket = m.decode_handshake(raw, None, 0x0304)
    assert isinstance(ticket, m.NewSessionTicket13)
    schedule = master_stage(suite, log_bytes(state, CLIENT), state.item(CLIENT, "shared_secret"))
    resumption_master = schedule.derive_secret(b"res master")
    psk = resumption_psk(suite, resumption_master, ticket.ticket_nonce)
    received = ref.now()  # the ticket reached the client when the server sent it
    session = Session(state.server_name, suite.code, psk, ticket.ticket, ticket.ticket_age_add,
                      ticket.ticket_lifetime, received, ticket.max_early_data_size())
    share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
    client_random = ref.rng(32)
    # RFC 8446 §4.2.9: psk_ke carries no key_share (the server MUST NOT send one either).
    extensions = (*hello_extensions(state, share if dhe else None),
                  m.psk_key_exchange_modes_extension((m.PSK_DHE_KE if dhe else m.PSK_KE,)),
                  *((m.early_data_extension(),) if early_data else ()))
    offered = tuple(suite_by_name(name).code for name in SUITES_FOR_VARIANT[state.variant])
    hello = m.ClientHello(0x0303, client_random, b"", offered, b"\x00", extensions)
    # RFC 8446 §4.2.11.1: the ticket's age in ms, plus ticket_age_add, mod 2^32.
    # RFC 8446 §4.2.11.2: pre_shared_key comes last, its binder an HMAC over the hello without it.
    identity = m.PskIdentity(session.ticket, session.obfuscated_age(received + RETURN_AFTER))
    placeholder = m.pre_shared_key_client_extension((identity,), (bytes(suite.hash.digest_size),))
    unbound = m.encode_handshake(dataclasses.replace(hello, extensions=extensions + (placeholder,)))
    truncated = unbound[:len(unbound) - m.binders_length(placeholder.data)]
    binder = psk_binder(suite, psk, KeySchedule(suite).transcript_hash(truncated))
    hello = dataclasses.replace(hello, extensions=extensions + (
        m.pre_shared_key_client_extension((identity,), (binder,)),))
    raw_hello, sent = plain_handshake(CLIENT, hello)
    facts: list[Fact] = [secret_item(CLIENT, "resumption_master_secret", resumption_master),
                         secret_item(CLIENT, "resumption_psk", psk),
                         ItemStored(CLIENT, "session_ticket", "ticket", ticket.ticket, False),
                         SessionStarted(),
                         ItemStored(CLIENT, "client_random", "random", client_random, False)]
    if dhe:
        facts.append(ItemStored(CLIENT, "ecdhe_private", "secret", share.private_bytes(), True))
    facts += [log_item(CLIENT, raw_hello), *post(state, sent)]
    offer = ("psk_dhe_ke with a fresh x25519 share" if dhe else
             "psk_ke: the PSK alone, no key share, so no forward secrecy for this session "
             "(RFC 8446 §2.2, §4.2.9)")
    if not early_data:
        return [*facts, ok(step, "the PSK from resumption_master_secret and the ticket nonce; a ClientHello "
                                 f"offering the ticket with its binder and {offer}; no early data: the "
                                 "request waits for the 1-RTT keys")]
    early = _early_schedule(suite, psk, raw_hello).derive_secret(b"c e traffic")
    early_record = _protection(suite, early).seal(ContentType.application_data, TRANSFER.encode())
    return [*facts, secret_item(CLIENT, "client_early_traffic_secret", early),
            ItemStored(CLIENT, "sent_data", "text", TRANSFER.encode(), True),
            *post(state, MessageSent(CLIENT, "early data", ContentType.application_data, early_record)),
            mistake(step, "the PSK from resumption_master_secret and the ticket nonce; a ClientHello "
                          f"offering the ticket with its binder, {offer}, and early_data; then the request "
                          "as 0-RTT data under client_early_traffic_secret (from the PSK alone), before any "
                          "answer. But the request is POST /transfer, not a safe method: a client MUST NOT "
                          "send an unsafe method in early data (RFC 8470 §4), since whoever copies the "
                          "ClientHello and its early data can make the server run it again (RFC 8446 §8)")]


# -- the server's checks, for the client's connection and for a replayed one --------------------

@dataclasses.dataclass(frozen=True)
class _Admission:
    suite: CipherSuite
    psk: bytes | None  # None: the server refused the PSK (it would fall back to a full handshake)
    early: bytes | None  # the request in the early data, when the server accepted and read it
    early_secret: bytes
    why: str  # why the PSK or the early data was refused, when it was
    age: str = ""  # the ticket-age check on 0-RTT data, in words, when the server ran it


def _spent(state: TableState) -> bytes:
    found = state.wallets[SERVER].get("spent_tickets")
    return found.value if found is not None else b""


def _admit(state: TableState, raw_hello: bytes, early_record: bytes | None, policy: str,
           copy: bool = False) -> _Admission:
    """The server's real checks on a resuming ClientHello (RFC 8446 §4.2.10, §4.2.11, §8.1, §8.3):
    the ticket opens under its ticket key, the binder verifies with the ticket's PSK, the ticket is
    not spent (with single-use tickets), the policy takes early data at all, and the client's
    ticket age agrees with the server's clock (``copy``: a recorded hello sent again, later)."""
    hello = m.decode_handshake(raw_hello)
    assert isinstance(hello, m.ClientHello)
    extension = hello.extension(m.ExtensionType.pre_shared_key)
    if extension is None:
        raise Rejected("the ClientHello offers no ticket", Code.MISSING_ITEM)
    (identity, *_), (binder, *_) = m.parse_pre_shared_key_client(extension)
    ticket_key = state.item(SERVER, "ticket_key")
    sealed = open_ticket(ticket_key, identity.identity)
    arrival = _arrival(sealed.issued_at_ms if sealed is not None else 0, copy)
    tickets = _tickets(ticket_key, lambda: arrival)
    ticket = tickets.open(identity.identity)  # the engine's checks: its key, its tag, its lifetime
    if ticket is None or ticket.cipher_suite not in hello.cipher_suites:
        suite = suite_by_name(SUITES_FOR_VARIANT[state.variant][0])
        return _Admission(suite, None, None, b"", "the ticket does not open under the server's ticket key")
    suite = CIPHER_SUITES[ticket.cipher_suite]
    truncated = raw_hello[:len(raw_hello) - m.binders_length(extension)]
    expected = psk_binder(suite, ticket.psk, KeySchedule(suite).transcript_hash(truncated))
    if not hmac.compare_digest(binder, expected):
        return _Admission(suite, None, None, b"", "the PSK binder does not verify")
    early_secret = _early_schedule(suite, ticket.psk, raw_hello).derive_secret(b"c e traffic")
    digest = hashlib.sha256(identity.identity).digest()
    if policy == a.EARLY_DATA_SINGLE_USE and digest in _spent(state):
        return _Admission(suite, None, None, early_secret,
                          "single-use tickets: this ticket was already spent, so the server refuses the PSK "
                          "and never reads the early data (RFC 8446 §8.1)")
    if early_record is None:
        return _Admission(suite, ticket.psk, None, early_secret, "the client sent no early data")
    if policy == a.EARLY_DATA_REFUSE:
        return _Admission(suite, ticket.psk, None, early_secret,
                          "the server refuses 0-RTT: it skips the early data, and the request must come "
                          "again after the handshake, under 1-RTT keys (RFC 8446 §4.2.10)")
    # RFC 8446 §4.2.11.1, §8.3: the client's age for the ticket against the server's own clock.
    client_age = (identity.obfuscated_ticket_age - ticket.ticket_age_add) % 2**32
    server_age = tickets.now_ms() - ticket.issued_at_ms
    age = (f"the ticket's age as the client reports it (obfuscated_ticket_age minus ticket_age_add) is "
           f"{client_age} ms; by the server's own clock the ticket was sealed {server_age} ms before this "
           f"ClientHello arrived: {abs(server_age - client_age)} ms apart, ")
    if not tickets.fresh(ticket, identity.obfuscated_ticket_age):
        return _Admission(suite, ticket.psk, None, early_secret,
                          age + f"more than its {FRESHNESS_WINDOW_MS} ms window, so the server takes the PSK "
                          "but refuses the 0-RTT data (RFC 8446 §8.3)", age + "outside the window")
    age += f"within its {FRESHNESS_WINDOW_MS} ms window (RFC 8446 §8.3)"
    try:
        request = _open(_protection(suite, early_secret), early_record)
    except Alert:
        return _Admission(suite, ticket.psk, None, early_secret, "the early data does not open", age)
    return _Admission(suite, ticket.psk, request, early_secret, "", age)


_POLICY_WORDS = {
    a.EARLY_DATA_REFUSE: "refused the 0-RTT data (no early_data in EncryptedExtensions: for the whole "
                         "connection, RFC 8446 §4.2.10): the transfer waits for the 1-RTT data after the "
                         "handshake, which only a party holding the PSK can send, so a copied ClientHello "
                         "cannot run it (RFC 8446 §8)",
    a.EARLY_DATA_SINGLE_USE: "accepted the 0-RTT transfer with single-use tickets: a copy of this "
                             "ClientHello finds its ticket spent, but a copy that arrives first runs as "
                             "0-RTT and spends it, and the client then sends the request again in 1-RTT: a "
                             "request that is not idempotent can still run twice (RFC 8446 §8, §E.5)",
    a.EARLY_DATA_NO_ANTI_REPLAY: "accepted the 0-RTT transfer without anti-replay: anyone who copies "
                                 "this ClientHello and its early data can make the transfer run again "
                                 "(RFC 8446 §8)",
}

# When the client sent no early data, the server's 0-RTT setting did not act on this connection.
_NO_EARLY_DATA = ("the client sent no early data (no early_data extension in its ClientHello), so nothing "
                  "runs before the handshake is done: the request will come under the 1-RTT keys")
_SETTING_WORDS = {
    a.EARLY_DATA_REFUSE: "",
    a.EARLY_DATA_SINGLE_USE: "; with single-use tickets the server records this ticket as spent all the same "
                             "(RFC 8446 §8.1)",
    a.EARLY_DATA_NO_ANTI_REPLAY: "; but your setting, 0-RTT without anti-replay, is a mistake even unused: "
                                 "RFC 8446 §8 requires a server instance to accept the same 0-RTT handshake "
                                 "at most once, and a copy of a ClientHello that carries early data would "
                                 "run its request again",
}


def _early_data_words(policy: str, offered: bool, admission: _Admission) -> str:
    """What the server did with 0-RTT data on this connection, as it really happened."""
    if not offered:
        return _NO_EARLY_DATA + _SETTING_WORDS[policy]
    if policy == a.EARLY_DATA_REFUSE:
        return _POLICY_WORDS[policy]
    if admission.early is None:  # offered and the policy takes it, but a check refused it
        return admission.why
    return f"{_POLICY_WORDS[policy]}; {admission.age}"


def server_resume(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    policy = action.early_data
    if policy not in a.EARLY_DATA_POLICIES:
        raise Rejected(f"answer early data with one of {', '.join(a.EARLY_DATA_POLICIES)}", Code.BAD_INPUT)
    hello: m.ClientHello = find(state, SERVER, m.ClientHello)
    raw_hello = m.encode_handshake(hello)
    early_records = delivered_all(state, SERVER, ("early data",))
    admission = _admit(state, raw_hello, early_records[0].payload if early_records else None, policy)
    if admission.psk is None:
        return [HandshakeFailed(SERVER, "PSK binder", f"the resumption is refused: {admission.why}")]
    suite = admission.suite
    shares = dict(m.parse_key_share_client(hello.extension(m.ExtensionType.key_share) or b"\x00\x00"))
    offered_modes = hello.extension(m.ExtensionType.psk_key_exchange_modes)
    modes = m.parse_psk_key_exchange_modes(offered_modes) if offered_modes else ()
    # RFC 8446 §4.2.9: psk_dhe_ke when the client offers it with a share; else psk_ke, no key_share.
    dhe = m.PSK_DHE_KE in modes and NamedGroup.x25519 in shares
    share = EcdhePrivateKey(NamedGroup.x25519, ref.rng) if dhe else None
    shared = share.exchange(shares[NamedGroup.x25519]) if share is not None else None
    key_share = (m.key_share_server_extension(NamedGroup.x25519, share.public_bytes()),) if share else ()
    server_hello = m.ServerHello(0x0303, ref.rng(32), b"", suite.code, 0,
                                 (m.selected_version_extension(0x0304), *key_share,
                                  m.pre_shared_key_server_extension(0)))
    raw_server_hello, sent_hello = plain_handshake(SERVER, server_hello)
    schedule = _early_schedule(suite, admission.psk, raw_hello)
    schedule.update_hash(raw_server_hello)
    schedule.extract(shared)  # psk_dhe_ke: the handshake secret takes the fresh x25519 secret; psk_ke: zeros
    client_hs, server_hs = schedule.derive_secret(b"c hs traffic"), schedule.derive_secret(b"s hs traffic")
    accepted = admission.early is not None
    # RFC 8446 §4.2.10: early_data in EncryptedExtensions says the 0-RTT data was accepted.
    extensions = m.encode_handshake(m.EncryptedExtensions((m.early_data_extension(),) if accepted else ()))
    log = raw_hello + raw_server_hello + extensions
    finished = finished_bytes(suite, server_hs, log)  # no Certificate: the PSK stands for it (§2.2)
    schedule.update_hash(extensions + finished)
    schedule.extract(None)
    sealer = _protection(suite, server_hs)
    facts: list[Fact] = [
        ItemStored(SERVER, "early_data_policy", "setting", policy.encode(), False),
        ItemStored(SERVER, "server_random", "random", server_hello.random, False),
        *((ItemStored(SERVER, "ecdhe_private", "secret", share.private_bytes(), True),
           secret_item(SERVER, "shared_secret", shared)) if share is not None and shared is not None else ()),
        secret_item(SERVER, "client_handshake_traffic_secret", client_hs),
        secret_item(SERVER, "server_handshake_traffic_secret", server_hs),
        secret_item(SERVER, "master_secret", schedule.secret),
        secret_item(SERVER, "client_application_traffic_secret", schedule.derive_secret(b"c ap traffic")),
        secret_item(SERVER, "server_application_traffic_secret", schedule.derive_secret(b"s ap traffic")),
        log_item(SERVER, log + finished)]
    if policy == a.EARLY_DATA_SINGLE_USE:  # RFC 8446 §8.1: the server records the ticket as spent
        facts.append(ItemStored(SERVER, "spent_tickets", "record", _spent(state) + hashlib.sha256(
            _ticket_of(hello)).digest(), False))
    if accepted:
        assert admission.early is not None
        facts += [secret_item(SERVER, "client_early_traffic_secret", admission.early_secret),
                  ItemStored(SERVER, "transfer", "text", admission.early, True)]
    facts += [*post(state, sent_hello),
              *post(state, MessageSent(SERVER, "EncryptedExtensions", ContentType.application_data,
                                       sealer.seal(ContentType.handshake, extensions))),
              *post(state, MessageSent(SERVER, "Finished", ContentType.application_data,
                                       sealer.seal(ContentType.handshake, finished)))]
    words = ("the binder verifies with the ticket's PSK; " + ("" if dhe else "psk_ke, as the client asked: "
             "no key_share, every key of this session from the PSK alone; ")
             + _early_data_words(policy, bool(early_records), admission))
    if policy == a.EARLY_DATA_REFUSE:
        return [*facts, ok(step, words, POINTS_STEP)]
    if policy == a.EARLY_DATA_SINGLE_USE:
        return [*facts, ok(step, words, 0)]
    return [*facts, mistake(step, words)]


def _ticket_of(hello: m.ClientHello) -> bytes:
    extension = hello.extension(m.ExtensionType.pre_shared_key)
    assert extension is not None
    return m.parse_pre_shared_key_client(extension)[0][0].identity


def early_data_accepted(state: TableState) -> bool:
    """The server took the client's 0-RTT data in this connection (the transfer already ran)."""
    return "transfer" in state.wallets[SERVER]


# -- the client and the server finish the resumed handshake --------------------------------------

def client_resume_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    psk = state.item(CLIENT, "resumption_psk")
    server_hello: m.ServerHello = find(state, CLIENT, m.ServerHello)
    if server_hello.extension(m.ExtensionType.pre_shared_key) is None:
        return [HandshakeFailed(CLIENT, "resumption", "the server did not take the ticket")]
    suite = CIPHER_SUITES[server_hello.cipher_suite]
    shared: bytes | None = None  # psk_ke: no key_share in the ServerHello (RFC 8446 §4.2.9)
    if (key_share := server_hello.extension(m.ExtensionType.key_share)) is not None:
        _, server_share = m.parse_key_share_server(key_share)
        private = x25519.X25519PrivateKey.from_private_bytes(state.item(CLIENT, "ecdhe_private"))
        shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(server_share))
    raw_hello = log_bytes(state, CLIENT)
    raw_server_hello = m.encode_handshake(server_hello)
    schedule = _early_schedule(suite, psk, raw_hello)
    schedule.update_hash(raw_server_hello)
    schedule.extract(shared)
    client_hs, server_hs = schedule.derive_secret(b"c hs traffic"), schedule.derive_secret(b"s hs traffic")
    opener = _protection(suite, server_hs)
    try:
        extensions, finished = (_open(opener, record.payload) for record in
                                delivered_all(state, CLIENT, ("EncryptedExtensions", "Finished")))
    except Alert:
        return [HandshakeFailed(CLIENT, "handshake keys", "bad_record_mac on the server's flight")]
    log = raw_hello + raw_server_hello + extensions
    if not hmac.compare_digest(finished, finished_bytes(suite, server_hs, log)):
        return [HandshakeFailed(CLIENT, "finished", "the server's Finished does not verify")]
    log += finished
    schedule.update_hash(extensions + finished)
    schedule.extract(None)
    accepted = m.decode_handshake(extensions, None, 0x0304)
    assert isinstance(accepted, m.EncryptedExtensions)
    facts: list[Fact] = [*((secret_item(CLIENT, "shared_secret", shared),) if shared is not None else ()),
                         secret_item(CLIENT, "client_handshake_traffic_secret", client_hs),
                         secret_item(CLIENT, "server_handshake_traffic_secret", server_hs),
                         secret_item(CLIENT, "master_secret", schedule.secret),
                         secret_item(CLIENT, "client_application_traffic_secret",
                                     schedule.derive_secret(b"c ap traffic")),
                         secret_item(CLIENT, "server_application_traffic_secret",
                                     schedule.derive_secret(b"s ap traffic"))]
    took = any(e.type == m.ExtensionType.early_data for e in accepted.extensions)
    if took:  # RFC 8446 §4.5: EndOfEarlyData closes the 0-RTT data, under the early keys
        end = m.encode_handshake(m.EndOfEarlyData())
        sealed = _protection(suite, state.item(CLIENT, "client_early_traffic_secret"), 1).seal(
            ContentType.handshake, end)
        facts += post(state, MessageSent(CLIENT, "EndOfEarlyData", ContentType.application_data, sealed))
        log += end
    own = finished_bytes(suite, client_hs, log)
    facts += [log_item(CLIENT, log + own),
              *post(state, MessageSent(CLIENT, "Finished", ContentType.application_data,
                                       _protection(suite, client_hs).seal(ContentType.handshake, own))),
              ok(step, "the server's Finished verifies: it holds the PSK. " + _early_data_outcome(state,
                                                                                                 took))]
    return facts


def _early_data_outcome(state: TableState, took: bool) -> str:
    """What the client learns of its 0-RTT data from the server's EncryptedExtensions (§4.2.10)."""
    if took:
        return ("Its EncryptedExtensions carry early_data: the 0-RTT request was accepted, and "
                "EndOfEarlyData closes it")
    if any(isinstance(f, MessageSent) and f.sender is CLIENT and f.label == "early data" for f in state.wire):
        return ("No early_data in its EncryptedExtensions: the 0-RTT request was refused, and goes again "
                "under the 1-RTT keys")
    return "You sent no early data: the request goes under the 1-RTT keys, once the handshake is done"


def server_resume_verify(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    suite = suite_of(state, SERVER)
    log = log_bytes(state, SERVER)
    if early_data_accepted(state):
        (end,) = delivered_all(state, SERVER, ("EndOfEarlyData",))[-1:]
        log += _open(_protection(suite, state.item(SERVER, "client_early_traffic_secret"), 1), end.payload)
    (record,) = delivered_all(state, SERVER, ("Finished",))[-1:]
    client_hs = state.item(SERVER, "client_handshake_traffic_secret")
    try:
        finished = _open(_protection(suite, client_hs), record.payload)
    except Alert:
        return [HandshakeFailed(SERVER, "finished", "bad_record_mac on the client's Finished")]
    if not hmac.compare_digest(finished, finished_bytes(suite, client_hs, log)):
        return [HandshakeFailed(SERVER, "finished", "the client's verify_data differs")]
    return [log_item(SERVER, log + finished),
            ok(step, "the client's Finished verifies: same PSK, same transcript, same keys")]


def answer_transfer(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    facts: list[Fact] = []
    if not early_data_accepted(state):  # the request came again under the 1-RTT keys
        (record,) = delivered_all(state, SERVER, ("application data",))[-1:]
        try:
            opener = app_protection(state, SERVER, "client_application_traffic_secret")
            request = _open(opener, record.payload)
        except Alert:
            return [HandshakeFailed(SERVER, "record protection", "bad_record_mac on the client's request")]
        facts.append(ItemStored(SERVER, "transfer", "text", request, True))
    data = action.text.encode()
    sealer = app_protection(state, SERVER, "server_application_traffic_secret")
    sealed = sealer.seal(ContentType.application_data, data)
    return [*facts, ItemStored(SERVER, "sent_data", "text", data, True),
            *post(state, MessageSent(SERVER, "application data", ContentType.application_data, sealed)),
            ok(step, "ran the transfer once and answered under the application traffic keys")]


# -- the eavesdropper's replay ------------------------------------------------------------------

def replay_early_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    if isinstance(action, a.Forward):
        return [ok(step, "left the recording alone", 0)]
    recorded = {f.label: f for f in state.wire if isinstance(f, MessageSent) and f.sender is CLIENT
                and f.label in ("ClientHello", "early data")}
    facts: list[Fact] = []
    for sent in recorded.values():  # a connection of its own: the same bytes, to the server
        facts += [MessageSent(EAVESDROPPER, sent.label, sent.content_type, sent.payload),
                  MessageDelivered(SERVER, sent.label, sent.content_type, sent.payload, altered=True)]
    policy = state.item(SERVER, "early_data_policy").decode()
    early = recorded.get("early data")
    raw_hello = recorded["ClientHello"].payload[5:]
    admission = _admit(state, raw_hello, early.payload if early else None, policy, copy=True)
    if admission.early is not None:
        return [*facts, ItemStored(SERVER, "transfer_again", "text", admission.early, True),
                ok(step, "replayed the ClientHello and its 0-RTT data: the ticket opens, the binder verifies "
                         "(the bytes are the client's own), the early keys come from the PSK and the "
                         "ClientHello alone, so the server read the transfer again and ran it a second time. "
                         f"The freshness check let it through: {admission.age}; a copy sent at once stays "
                         "inside the window", POINTS_ATTACK)]
    unfinished = ("without the PSK" + (" and the client's x25519 private key" if _offers_key_share(raw_hello)
                                        else "") + " the eavesdropper cannot finish the handshake")
    if early is None:  # nothing ran before the handshake, so a copy has nothing to run again
        stopped = ("the client sent its request under the 1-RTT keys, not as 0-RTT data: the copied "
                   f"ClientHello carried no request to run again, and {unfinished} to send one (RFC 8446 §8)")
        return [*facts, AttackStopped(CLIENT, "no 0-RTT data", stopped),
                ok(step, "replayed the ClientHello (it carried no 0-RTT data): " + stopped, 0)]
    check = "single-use ticket" if policy == a.EARLY_DATA_SINGLE_USE else "early-data refusal"
    stopped = f"{admission.why}; the replayed request never ran, and {unfinished} to send it in 1-RTT"
    return [*facts, AttackStopped(SERVER, check, stopped),
            ok(step, "replayed the ClientHello and its 0-RTT data: " + admission.why, 0)]


def _offers_key_share(raw_hello: bytes) -> bool:
    hello = m.decode_handshake(raw_hello)
    assert isinstance(hello, m.ClientHello)
    return hello.extension(m.ExtensionType.key_share) is not None
