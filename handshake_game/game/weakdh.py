"""The weak-dh scenario: a downgrade that really breaks (Logjam, in the game's small).

In this scenario only, the game's server still enables finite-field DHE with a deliberately
weak, export-grade group (``tls.weakdh``; the network tools never offer it). The
eavesdropper:

* ``downgrade_to_dhe`` — strips every suite but the DHE one from the ClientHello (TLS 1.3:
  it strips the client's x25519 key share, and there is no weak group left to agree on);
* ``break_dh`` — once the client has sent its Finished, computes the discrete logarithm of
  the server's public value, gets the premaster and the master secret, and sends the server
  a client Finished it forged over the server's transcript;
* ``forge_finished`` — answers the server's Finished with one forged over the client's
  transcript. Both Finished checks pass; the eavesdropper then reads the traffic.

The ServerKeyExchange signature covers the randoms and the DH parameters, not the suite list,
so it does not help. What stops the attack is a client that refuses the weak group (its
certificate check, ``tls12.server_identity_problem``), the client's CertificateVerify in
mutual TLS, and TLS 1.3, which has no such group.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..tls import messages as m
from ..tls import weakdh
from ..tls.keyschedule import CLIENT_FINISHED_LABEL
from ..tls.record import ContentType
from ..tls.suites import CIPHER_SUITES, KeyExchange
from . import tls12
from .eavesdropper import pass_or_drop
from .facts import Fact, ItemStored
from .model import Seat, Variant
from .records import plain_handshake
from .rules import Referee, Rejected, Step, ok
from .state import TableState
from .wire import deliver, held

EAVESDROPPER = Seat.EAVESDROPPER
WEAK_SUITE = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"


def _held_hello(state: TableState) -> m.ClientHello | None:
    sent = next((s for s in held(state) if s.label == "ClientHello"), None)
    if sent is None:
        return None
    hello = m.decode_handshake(sent.payload[5:])
    return hello if isinstance(hello, m.ClientHello) else None


def strip_possible(state: TableState) -> bool:
    """The held ClientHello has something to strip: a DHE suite to keep (TLS 1.2), or the
    key share to take away (TLS 1.3). A client that offered no DHE suite left nothing weak."""
    hello = _held_hello(state)
    if hello is None:
        return False
    if state.variant is Variant.TLS13:
        return True
    return any(code in CIPHER_SUITES and CIPHER_SUITES[code].key_exchange is KeyExchange.DHE
               for code in hello.cipher_suites)


def downgrade_to_dhe(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    waiting = held(state)
    if (passed := pass_or_drop(state, step, action, waiting)) is not None:
        return passed
    hello = _held_hello(state)
    assert hello is not None
    if state.variant is Variant.TLS13:
        # No weak group exists in TLS 1.3: all the eavesdropper can do is take the strong one away.
        kept = tuple(e for e in hello.extensions or () if e.type not in (m.ExtensionType.key_share,
                                                                        m.ExtensionType.supported_groups))
        stripped = dataclasses.replace(hello, extensions=kept)
        what = "removed the client's x25519 key share and group: TLS 1.3 has no weak group to offer instead"
    else:
        weak = tuple(code for code in hello.cipher_suites if CIPHER_SUITES.get(code) is not None
                     and CIPHER_SUITES[code].key_exchange is KeyExchange.DHE)
        if not weak:
            raise Rejected("the client offers no DHE suite: there is nothing weak to downgrade to")
        stripped = dataclasses.replace(hello, cipher_suites=weak)
        what = "removed every suite but the finite-field DHE one from the offer"
    payload = plain_handshake(Seat.CLIENT, stripped)[1].payload
    return [*deliver(waiting, {"ClientHello": payload}), ok(step, what, 0)]


def break_dh(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    waiting = held(state)
    if (passed := pass_or_drop(state, step, action, waiting)) is not None:
        return passed
    exchange = next(msg for msg in state.decoded(Seat.SERVER) if isinstance(msg, m.DhServerKeyExchange))
    client_share = next(msg for msg in state.decoded(Seat.SERVER) if isinstance(msg, m.ClientKeyExchange))
    private = weakdh.break_key(exchange.p, exchange.g, exchange.public)
    group = weakdh.DhGroup.from_bytes(exchange.p, exchange.g)
    key = weakdh.FfdhePrivateKey.from_private_bytes(group, private)
    pre_master = key.exchange(client_share.exchange_keys)
    master = tls12.master_from(state, Seat.SERVER, pre_master, "client+server")
    keys = tls12.session_keys(state, Seat.SERVER, master)
    # The server's transcript has the stripped ClientHello: a Finished over it, as the client.
    forged = tls12.finished_message(state, Seat.SERVER, master, CLIENT_FINISHED_LABEL)
    record = tls12.seal(state, Seat.CLIENT, keys, 0, ContentType.handshake, forged)
    bits = weakdh.group_bits(exchange.p)
    return [ItemStored(EAVESDROPPER, "recovered_dhe_private", "secret", private, True),
            ItemStored(EAVESDROPPER, "recovered_master_secret", "secret", master, True),
            *deliver(waiting, {"Finished": record}),
            ok(step, f"computed the discrete logarithm of the server's share in its {bits}-bit group, so the "
                     "premaster and the master secret; sent the server a client Finished forged over the "
                     "server's own transcript", 0)]


def forge_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    waiting = held(state)
    if (passed := pass_or_drop(state, step, action, waiting)) is not None:
        return passed
    record = tls12.server_finished_for_client(state, state.item(EAVESDROPPER, "recovered_master_secret"))
    return [*deliver(waiting, {"Finished": record}),
            ok(step, "replaced the server's Finished with one forged over the client's transcript: both "
                     "Finished checks pass, and the master secret is the eavesdropper's too", 0)]
