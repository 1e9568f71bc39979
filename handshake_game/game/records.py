"""The wire as bytes: TLS records split, handshake messages framed and decoded, per seat.

These helpers work on a table's wire (a tuple of ``MessageSent`` / ``MessageDelivered``
facts) and know nothing of the table's other state, so the state itself can use them.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..tls import messages as m
from ..tls.record import ContentType, RecordLayer
from ..tls.suites import CIPHER_SUITES
from .facts import MessageDelivered, MessageSent
from .model import Seat

WireEvent = MessageSent | MessageDelivered


def other(seat: Seat) -> Seat:
    """The other end of the connection: client <-> server. What the eavesdropper sends in a
    connection of its own (a replayed ClientHello) goes to the server."""
    return Seat.CLIENT if seat is Seat.SERVER else Seat.SERVER


def mine(event: WireEvent, seat: Seat) -> bool:
    """Whether ``seat`` sent this event's bytes or received them."""
    if isinstance(event, MessageSent):
        return event.sender is seat
    return event.recipient is seat


def split_records(data: bytes) -> list[bytes]:
    """TLS records back to back -> each record, header included (RFC 5246 §6.2.1)."""
    records = []
    while data:
        length = int.from_bytes(data[3:5], "big")
        records.append(data[: 5 + length])
        data = data[5 + length:]
    return records


def send(sender: Seat, label: str, records: list[bytes]) -> MessageSent:
    return MessageSent(sender, label, records[0][0], b"".join(records))


def plain_handshake(sender: Seat, message: m.HandshakeMessage) -> tuple[bytes, MessageSent]:
    """A handshake message in plaintext records: its bytes, and the wire event sending it."""
    raw = m.encode_handshake(message)
    # The message's name in TLS (RFC 5246 §7.4), not the class that models its layout.
    label = "ServerKeyExchange" if isinstance(message, m.DhServerKeyExchange) else type(message).__name__
    return raw, send(sender, label, RecordLayer().encode(ContentType.handshake, raw))


def handshake_raws(wire: Iterable[WireEvent], seat: Seat) -> tuple[bytes, ...]:
    """The plaintext handshake messages ``seat`` sent or received, each framed (type, length,
    body), in order: the TLS 1.2 transcript as that seat has it."""
    out: list[bytes] = []
    for event in wire:
        if mine(event, seat) and event.content_type == ContentType.handshake and event.label != "Finished":
            out.extend(record[5:] for record in split_records(event.payload))
    return tuple(out)


def decode_seen(wire: Iterable[WireEvent], seat: Seat) -> tuple[m.HandshakeMessage, ...]:
    """The plaintext handshake messages ``seat`` has seen, decoded."""
    out: list[m.HandshakeMessage] = []
    key_exchange = None
    for raw in handshake_raws(wire, seat):
        message = m.decode_handshake(raw, key_exchange)
        if isinstance(message, m.ServerHello):
            key_exchange = CIPHER_SUITES[message.cipher_suite].key_exchange
        out.append(message)
    return tuple(out)
