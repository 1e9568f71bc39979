"""key-leak, tls13: what the server's leaked ticket key opens in a recorded resumption.

A resumed connection (``zerortt.resume``) starts its key schedule from the PSK, and the PSK
travels in the ClientHello, sealed in the ticket under the server's ticket key. Whoever holds
that key opens the recorded ticket and has the PSK (RFC 8446 §4.6.1, §8.1). What the PSK opens:

* the 0-RTT early data, in every mode: client_early_traffic_secret comes from the PSK and the
  ClientHello alone (§2.3: early data "is not forward secret", §7.1);
* with psk_ke, the whole resumed session: no key_share, so the handshake secret takes zeros
  where an (EC)DHE secret would go, and every key follows from the PSK and the transcript
  (§2.2, §4.2.9);
* with psk_dhe_ke, nothing more: the handshake secret also takes the x25519 secret of two
  ephemeral keys that never crossed the wire (§2.2: "thus providing forward secrecy").

``read_resumed`` does that with the real cryptography, over the recorded bytes.
"""

from __future__ import annotations

import dataclasses

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..tls import messages as m
from ..tls.alerts import Alert
from ..tls.keyschedule13 import KeySchedule, traffic_keys
from ..tls.record import RecordProtection13
from ..tls.session import TicketState
from ..tls.suites import CIPHER_SUITES, CipherSuite
from .facts import MessageSent
from .model import Seat
from .state import TableState

# A ticket (``SessionTickets.seal``): the ticket key's name, an AES-GCM nonce, the sealed state.
# The ticket key itself is the name, then the AES-256 key.
KEY_NAME, _NONCE = 16, 12


def early_schedule(suite: CipherSuite, psk: bytes, client_hello: bytes) -> KeySchedule:
    """RFC 8446 §7.1: the early secret from the PSK, over the ClientHello (both ends of a
    resumption, ``zerortt``, and whoever holds the PSK)."""
    schedule = KeySchedule(suite)
    schedule.update_hash(client_hello)
    schedule.extract(psk)
    return schedule


def protection(suite: CipherSuite, secret: bytes, sequence_number: int = 0) -> RecordProtection13:
    sealer = RecordProtection13(suite, traffic_keys(suite, secret))
    sealer.sequence_number = sequence_number
    return sealer


def open_record(protection: RecordProtection13, record: bytes) -> bytes:
    return protection.open(record[:5], record[5:])[1]


@dataclasses.dataclass(frozen=True)
class ResumedReading:
    succeeded: bool  # the client's own words opened (its early data, or its 1-RTT request)
    reason: str
    client: bytes  # what opened of the client's data: early data, then 1-RTT
    server: bytes


def resumed_hello(state: TableState) -> m.ClientHello | None:
    """The client's ClientHello of the current session when it resumes with a ticket."""
    for fact in state.wire:
        if isinstance(fact, MessageSent) and fact.sender is Seat.CLIENT and fact.label == "ClientHello":
            hello = m.decode_handshake(fact.payload[5:])
            if isinstance(hello, m.ClientHello) and hello.extension(m.ExtensionType.pre_shared_key):
                return hello
    return None


def _records(state: TableState, sender: Seat) -> list[MessageSent]:
    """What ``sender`` put on the wire of the current session (what a passive tap records)."""
    return [f for f in state.wire if isinstance(f, MessageSent) and f.sender is sender]


def open_ticket(ticket_key: bytes, ticket: bytes) -> TicketState | None:
    """The ticket's sealed state, opened with a ticket key (the leaked one, or the server's own to
    read when it sealed the ticket). No lifetime check: expiry is the server's policy, and the key
    opens an old ticket just as well."""
    name, nonce = ticket[:KEY_NAME], ticket[KEY_NAME:KEY_NAME + _NONCE]
    if name != ticket_key[:KEY_NAME]:
        return None
    try:
        return TicketState.decode(AESGCM(ticket_key[KEY_NAME:]).decrypt(
            nonce, ticket[KEY_NAME + _NONCE:], name))
    except (InvalidTag, ValueError):
        return None


def read_resumed(state: TableState, hello: m.ClientHello) -> ResumedReading:
    leaked = state.wallets[Seat.EAVESDROPPER].get("leaked_ticket_key")
    if leaked is None:
        return ResumedReading(False, "its keys start from the PSK, which never crossed the wire: the ticket "
                                     "in the ClientHello carries it only sealed under the server's ticket "
                                     "key, which the eavesdropper does not hold", b"", b"")
    extension = hello.extension(m.ExtensionType.pre_shared_key)
    assert extension is not None
    (identity, *_), _ = m.parse_pre_shared_key_client(extension)
    ticket = open_ticket(leaked.value, identity.identity)
    if ticket is None or ticket.cipher_suite not in CIPHER_SUITES:
        return ResumedReading(False, "the recorded ticket does not open under the leaked ticket key",
                              b"", b"")
    suite = CIPHER_SUITES[ticket.cipher_suite]
    client, server = _records(state, Seat.CLIENT), _records(state, Seat.SERVER)
    raw_hello = next(f.payload[5:] for f in client if f.label == "ClientHello")
    schedule = early_schedule(suite, ticket.psk, raw_hello)
    early = b""
    early_records = [f for f in client if f.label == "early data"]
    if early_records:  # RFC 8446 §2.3: the early data is sealed under keys from the PSK alone
        try:
            opener = protection(suite, schedule.derive_secret(b"c e traffic"))
            early = open_record(opener, early_records[0].payload)
        except Alert:
            return ResumedReading(False, "the early data does not open under the ticket's PSK", b"", b"")
    opened = ("the leaked ticket key opens the recorded ticket, and with it the PSK"
              + ("; the 0-RTT early data was sealed under client_early_traffic_secret, derived from the PSK "
                 "and the ClientHello alone, so it opens: early data is not forward secret with respect to "
                 "the PSK (RFC 8446 §2.3)"
                 if early_records else ""))
    server_hello = next((f for f in server if f.label == "ServerHello"), None)
    if server_hello is None:
        return ResumedReading(bool(early), opened, early, b"")
    raw_server_hello = server_hello.payload[5:]
    decoded = m.decode_handshake(raw_server_hello)
    assert isinstance(decoded, m.ServerHello)
    if decoded.extension(m.ExtensionType.key_share) is not None:
        return ResumedReading(bool(early), opened + (
            "; but the client chose psk_dhe_ke, and the server's key_share answered it: the handshake "
            "secret also took the x25519 secret of two ephemeral keys that never crossed the wire, so "
            + ("the rest of the resumed session" if early_records else
               "with no 0-RTT data sent, the PSK opens nothing: the resumed session")
            + " stays closed: forward secrecy (RFC 8446 §2.2, §4.2.9)"), early, b"")
    return _read_psk_ke(suite, schedule, raw_server_hello, client, server, early, opened)


def _read_psk_ke(suite: CipherSuite, schedule: KeySchedule, raw_server_hello: bytes,
                 client: list[MessageSent], server: list[MessageSent], early: bytes,
                 opened: str) -> ResumedReading:
    """psk_ke: the key schedule with zeros for the (EC)DHE input, over the recorded transcript."""
    schedule.update_hash(raw_server_hello)
    schedule.extract(None)  # psk_ke: no key_share, so zeros (RFC 8446 §7.1)
    try:
        opener = protection(suite, schedule.derive_secret(b"s hs traffic"))
        flight = [open_record(opener, f.payload) for f in server
                  if f.label in ("EncryptedExtensions", "Finished")]
        schedule.update_hash(b"".join(flight))
        schedule.extract(None)
        client_ap = protection(suite, schedule.derive_secret(b"c ap traffic"))
        server_ap = protection(suite, schedule.derive_secret(b"s ap traffic"))
        said = b"".join(open_record(client_ap, f.payload) for f in client if f.label == "application data")
        answer = b"".join(open_record(server_ap, f.payload) for f in server if f.label == "application data")
    except Alert:
        return ResumedReading(bool(early), opened + "; the resumed handshake does not open under its keys",
                              early, b"")
    return ResumedReading(bool(early or said), opened + (
        "; and the client chose psk_ke: no key_share, so the handshake and application keys come from the "
        "PSK and the recorded transcript alone, and the whole resumed session opens: psk_ke gives up "
        "forward secrecy (RFC 8446 §2.2, §4.2.9)"), early + said, answer)
