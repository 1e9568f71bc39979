"""A table's handshake as a packet capture and an NSS key log, for Wireshark.

The capture is the conversation as the **client** had it: the records the client sent,
and the records delivered to the client — so with an eavesdropper that altered messages
it shows what the client saw, not what the server sent. The game has no network, so the
TCP connection is synthetic: documentation addresses (RFC 5737 TEST-NET-1), one message
per millisecond after ``started``. No clock is read here: the same table and the same
``started`` give the same bytes.

The key log holds what the client's wallet holds: its ``client_random`` and, once it
has derived one, its ``master_secret`` — the TLS 1.2 ``CLIENT_RANDOM`` line of the NSS
SSLKEYLOGFILE format, which is all Wireshark needs to decrypt the records.
"""

from __future__ import annotations

import datetime

from ..tls.capture import Capture
from .facts import MessageDelivered, MessageSent
from .handshake import TLS13_KEYLOG_LABELS
from .model import Seat, Variant
from .state import TableState

CLIENT_ADDRESS = ("192.0.2.10", 50000)
SERVER_ADDRESS = ("192.0.2.20", 443)
MESSAGE_INTERVAL = datetime.timedelta(milliseconds=1)


def table_capture(state: TableState, *, started: datetime.datetime) -> Capture:
    """The client's side of the table's wire as a TCP connection opened at ``started``
    (timezone-aware); each message, then the close, one millisecond after the one before."""
    capture = Capture(CLIENT_ADDRESS, SERVER_ADDRESS, opened_at=started)
    at = started
    for fact in state.wire:
        if isinstance(fact, MessageSent) and fact.sender is Seat.CLIENT:
            at += MESSAGE_INTERVAL
            capture.client_sent(fact.payload, at)
        elif isinstance(fact, MessageDelivered) and fact.recipient is Seat.CLIENT:
            at += MESSAGE_INTERVAL
            capture.server_sent(fact.payload, at)
    at += MESSAGE_INTERVAL
    capture.client_closed(at)
    capture.server_closed(at)
    return capture


def table_keylog(state: TableState) -> list[str]:
    """NSS key log lines from the client's wallet; none before it holds a master secret."""
    wallet = state.wallets[Seat.CLIENT]
    client_random, master_secret = wallet.get("client_random"), wallet.get("master_secret")
    if client_random is None:
        return []
    if state.variant is Variant.TLS13:  # the traffic secrets, as RFC 8446 keys are derived from them
        # A resumed connection's 0-RTT data has its own (tls13 replay, ``zerortt.py``).
        labels = {"client_early_traffic_secret": "CLIENT_EARLY_TRAFFIC_SECRET", **TLS13_KEYLOG_LABELS}
        return [f"{label} {client_random.value.hex()} {wallet[name].value.hex()}"
                for name, label in labels.items() if name in wallet]
    if master_secret is None:
        return []
    return [f"CLIENT_RANDOM {client_random.value.hex()} {master_secret.value.hex()}"]
