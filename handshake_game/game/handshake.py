"""What the TLS 1.2 and TLS 1.3 phases and the eavesdropper share: keys loaded from
wallets, suite negotiation, the server's signed ECDH share, and the words for each
certificate check."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from cryptography.hazmat.primitives import serialization

from ..tls import messages as m
from ..tls import pki, weakdh
from ..tls.keyexchange import EcdhePrivateKey, sign
from ..tls.suites import CipherSuite, NamedGroup, SignatureScheme, suite_by_name
from .model import Variant, suites_for
from .rules import Code, Rejected
from .state import TableState

# Wallet item -> NSS key log label for the TLS 1.3 traffic secrets (what Wireshark reads).
TLS13_KEYLOG_LABELS = {"client_handshake_traffic_secret": "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                       "server_handshake_traffic_secret": "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                       "client_application_traffic_secret": "CLIENT_TRAFFIC_SECRET_0",
                       "server_application_traffic_secret": "SERVER_TRAFFIC_SECRET_0"}

# pki.CertificateRejected's problem -> the check that caught it, in words.
CHECK_WORDS = {
    "HOSTNAME_MISMATCH": "certificate hostname",
    "SELF_SIGNED": "certificate chain",
    "UNTRUSTED_ISSUER": "certificate chain",
    "EXPIRED": "certificate validity",
    "NOT_YET_VALID": "certificate validity",
    "BAD_SIGNATURE": "certificate signature",
    "WRONG_KEY_USAGE": "certificate usage",
    "MALFORMED": "certificate format",
}


def check_words(problem: pki.CertificateRejected, default: str = "certificate chain") -> str:
    return CHECK_WORDS.get(problem.problem.name, default)


def private_key_pem(key: Any) -> bytes:
    return bytes(pki.private_key_pem(key))


@functools.lru_cache(maxsize=64)
def load_key(pem: bytes) -> Any:
    # The table's own keys, made by this referee: OpenSSL's RSA key validation (a primality
    # check, ~80 ms) adds nothing here, so it is skipped; loaded keys are cached by PEM.
    return serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)


def is_ecdhe(state: TableState) -> bool:
    return state.variant in (Variant.TLS12_ECDHE, Variant.TLS12_MUTUAL)


def is_mutual(state: TableState) -> bool:
    return state.variant is Variant.TLS12_MUTUAL


def offered_suites(state: TableState, action: Any) -> tuple[int, ...]:
    """The client's offer: its choice of names, each a suite of the variant's kind."""
    allowed = suites_for(state.variant, state.scenario)
    names = action.suites or allowed
    unknown = [name for name in names if name not in allowed]
    if not names or unknown:
        raise Rejected(f"{state.variant.value} offers suites among {', '.join(allowed)}", Code.BAD_INPUT)
    return tuple(suite_by_name(name).code for name in names)


def chosen_suite(state: TableState, action: Any, offered: tuple[int, ...]) -> CipherSuite | None:
    """The server's choice: the player's, if offered; else its strongest that was offered."""
    if action.suite is not None:
        if action.suite not in suites_for(state.variant, state.scenario):
            raise Rejected(f"{action.suite} is not a suite this server supports", Code.BAD_INPUT)
        suite = suite_by_name(action.suite)
        if suite.code not in offered:
            raise Rejected(f"{action.suite} was not in the client's offer; a server may only pick from it",
                           Code.NOT_ALLOWED)
        return suite
    ours = [suite_by_name(name) for name in suites_for(state.variant, state.scenario)]
    return next((s for s in ours if s.code in offered), None)


def signed_dh_share(key: Any, client_random: bytes, server_random: bytes,
                    share: weakdh.FfdhePrivateKey) -> m.DhServerKeyExchange:
    """RFC 5246 §7.4.3: ServerDHParams (p, g, Ys), signed over both randoms and the params."""
    group = share.group
    unsigned = m.DhServerKeyExchange(group.p_bytes(), group.g_bytes(), share.public_bytes(),
                                     SignatureScheme.rsa_pss_rsae_sha256, b"")
    signed = client_random + server_random + unsigned.params()
    signature = sign(key, SignatureScheme.rsa_pss_rsae_sha256, signed)
    return dataclasses.replace(unsigned, signature=signature)


def signed_share(key: Any, client_random: bytes, server_random: bytes,
                 share: EcdhePrivateKey) -> m.ServerKeyExchange:
    """RFC 8422 §5.4: the share, signed over both randoms and the params."""
    unsigned = m.ServerKeyExchange(NamedGroup.x25519, share.public_bytes(),
                                   SignatureScheme.rsa_pss_rsae_sha256, b"")
    signed = client_random + server_random + unsigned.params()
    signature = sign(key, SignatureScheme.rsa_pss_rsae_sha256, signed)
    return dataclasses.replace(unsigned, signature=signature)
