"""A table's handshake as a packet capture and an NSS key log, for Wireshark.

The capture is the conversation as the **client** had it: the records the client sent,
and the records delivered to the client — so with an eavesdropper that altered messages
it shows what the client saw, not what the server sent. The game has no network, so the
TCP connections are synthetic: documentation addresses (RFC 5737 TEST-NET-1), one message
per millisecond after ``started``. No clock is read here: the same table and the same
``started`` give the same bytes.

A client that connects again (a TLS 1.3 resumption with its ticket, the TLS 1.2 replay
scenario's second handshake) opens a new TCP connection: each session of the table is one
connection of the capture, from the next client port, after the one before has closed.

The key log holds what the client's wallet held at the end of each session: its
``client_random`` and, once it has derived one, its ``master_secret`` (TLS 1.2, the
``CLIENT_RANDOM`` line of the NSS SSLKEYLOGFILE format) or its traffic secrets (TLS 1.3,
with ``CLIENT_EARLY_TRAFFIC_SECRET`` when it sent 0-RTT data) — all Wireshark needs to
decrypt the records. Wireshark finds each session's lines by its client random.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from ..tls.capture import Capture
from .facts import MessageDelivered, MessageSent
from .handshake import TLS13_KEYLOG_LABELS
from .model import Seat, Variant
from .state import Item, TableState

CLIENT_ADDRESS = ("192.0.2.10", 50000)
SERVER_ADDRESS = ("192.0.2.20", 443)
MESSAGE_INTERVAL = datetime.timedelta(milliseconds=1)
# RFC 8446 §7.5: a resumed connection's 0-RTT data is keyed by its own secret.
_TLS13_LABELS = {"client_early_traffic_secret": "CLIENT_EARLY_TRAFFIC_SECRET", **TLS13_KEYLOG_LABELS}


class TableCapture(Capture):
    """Several TCP connections between the client and the server, one after the other, written
    as one file. It writes like a :class:`Capture` (``to_pcap``, ``to_pcapng``) with every
    connection's frames in turn; ``connections`` holds each one whole."""

    def __init__(self, connections: list[Capture]) -> None:
        first = connections[0]
        super().__init__((first.client.ip, first.client.port), (first.server.ip, first.server.port),
                         opened_at=first.opened_at)
        self.connections = tuple(connections)

    def frames(self) -> list[tuple[int, bytes]]:
        return [frame for connection in self.connections for frame in connection.frames()]


def _sessions(state: TableState) -> list[tuple[tuple[MessageSent | MessageDelivered, ...],
                                               Mapping[str, Item]]]:
    """Each session of the table, oldest first: its wire, and the client's wallet as it ended."""
    past = [(wire, wallets[Seat.CLIENT]) for wire, wallets in zip(state.past_sessions, state.past_wallets,
                                                                   strict=True)]
    return [*past, (state.wire, state.wallets[Seat.CLIENT])]


def table_capture(state: TableState, *, started: datetime.datetime) -> TableCapture:
    """The client's side of the table's wire, one TCP connection per session, the first opened
    at ``started`` (timezone-aware); each message, then the close, one millisecond after the
    one before, and the next connection one millisecond after that."""
    connections = []
    at = started
    host, port = CLIENT_ADDRESS
    for number, (wire, _) in enumerate(_sessions(state)):
        capture = Capture((host, port + number), SERVER_ADDRESS, opened_at=at)
        for fact in wire:
            if isinstance(fact, MessageSent) and fact.sender is Seat.CLIENT:
                at += MESSAGE_INTERVAL
                capture.client_sent(fact.payload, at)
            elif isinstance(fact, MessageDelivered) and fact.recipient is Seat.CLIENT:
                at += MESSAGE_INTERVAL
                capture.server_sent(fact.payload, at)
        at += MESSAGE_INTERVAL
        capture.client_closed(at)
        capture.server_closed(at)
        connections.append(capture)
        at += MESSAGE_INTERVAL
    return TableCapture(connections)


def table_keylog(state: TableState) -> list[str]:
    """NSS key log lines from the client's wallet, session by session; none for a session
    before the client holds a key for it."""
    lines: list[str] = []
    before: Mapping[str, Item] = {}
    for _, wallet in _sessions(state):
        # A secret still left from the session before (the new one has not derived its own yet)
        # belongs to that session, not to this one's client random.
        fresh = {name: item for name, item in wallet.items()
                 if name not in before or before[name].value != item.value}
        lines += _session_keylog(state.variant, fresh)
        before = wallet
    return lines


def _session_keylog(variant: Variant, wallet: Mapping[str, Item]) -> list[str]:
    client_random, master_secret = wallet.get("client_random"), wallet.get("master_secret")
    if client_random is None:
        return []
    if variant is Variant.TLS13:  # the traffic secrets, as RFC 8446 keys are derived from them
        return [f"{label} {client_random.value.hex()} {wallet[name].value.hex()}"
                for name, label in _TLS13_LABELS.items() if name in wallet]
    if master_secret is None:
        return []
    return [f"CLIENT_RANDOM {client_random.value.hex()} {master_secret.value.hex()}"]
