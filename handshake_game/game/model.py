"""The game's vocabulary: seats, variants, difficulties, scenarios, which scenarios are
staged for which variant, the suites each variant offers, and which messages a scenario's
eavesdropper holds back. The steps themselves are in ``catalog.py``."""

from __future__ import annotations

import enum


class Seat(enum.Enum):
    CLIENT = "client"
    SERVER = "server"
    CA = "ca"
    EAVESDROPPER = "eavesdropper"


class Variant(enum.Enum):
    TLS12_RSA = "tls12-rsa"
    TLS12_ECDHE = "tls12-ecdhe"
    TLS12_MUTUAL = "tls12-mutual"
    TLS13 = "tls13"


class Difficulty(enum.Enum):
    GUIDED = "guided"  # the next correct operation is offered
    STANDARD = "standard"  # free choice; hints cost points
    EXPERT = "expert"  # values computed outside the game are submitted as hex


class Scenario(enum.Enum):
    HONEST = "honest"
    PASSIVE = "passive"
    MITM_SELF_SIGNED = "mitm-self-signed"
    MITM_WRONG_NAME = "mitm-wrong-name"
    EXPIRED_CERT = "expired-cert"
    ROGUE_CSR = "rogue-csr"
    TAMPER = "tamper"
    DOWNGRADE = "downgrade"
    REPLAY = "replay"
    KEY_LEAK = "key-leak"
    WEAK_DH = "weak-dh"


# What the client offers, strongest first; the server takes the first it supports.
SUITES_FOR_VARIANT: dict[Variant, tuple[str, ...]] = {
    Variant.TLS12_RSA: ("TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS12_ECDHE: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS12_MUTUAL: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS13: ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"),
}

# Every scenario is staged for every variant (TLS 1.3 replay: resumption and 0-RTT, ``zerortt.py``).
UNSUPPORTED: dict[Variant, frozenset[Scenario]] = {}


# The weak-dh scenario's server (and client) still enable finite-field DHE with an export-grade
# group, last in the offer as browsers had it in 2015; never in TLS 1.3, which has no such suite.
WEAK_DH_SUITE = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"


def suites_for(variant: Variant, scenario: Scenario) -> tuple[str, ...]:
    """What the client offers (and the server supports) at a table of this variant and scenario."""
    if scenario is Scenario.WEAK_DH and variant is not Variant.TLS13:
        return SUITES_FOR_VARIANT[variant] + (WEAK_DH_SUITE,)
    return SUITES_FOR_VARIANT[variant]


def supports(variant: Variant, scenario: Scenario) -> bool:
    return scenario not in UNSUPPORTED.get(variant, frozenset())

# Which message the eavesdropper holds back (instead of it being delivered at once).
_SERVER_FLIGHT = ("ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest", "ServerHelloDone",
                  "EncryptedExtensions", "CertificateVerify", "Finished")
# (TLS 1.3 puts the client's key share in its hello: a man in the middle holds that first.)
INTERCEPTED: dict[Scenario, tuple[str, ...]] = {
    Scenario.MITM_SELF_SIGNED: _SERVER_FLIGHT,
    Scenario.MITM_WRONG_NAME: _SERVER_FLIGHT,
    Scenario.TAMPER: _SERVER_FLIGHT,
    Scenario.DOWNGRADE: ("ClientHello",),
    Scenario.WEAK_DH: ("ClientHello",),
    Scenario.REPLAY: ("ClientKeyExchange", "Certificate", "CertificateVerify", "ChangeCipherSpec",
                      "Finished"),
}


def intercepted(variant: Variant, scenario: Scenario) -> tuple[str, ...]:
    """The messages the scenario's eavesdropper holds for its first move at this variant."""
    if variant is Variant.TLS13 and scenario in (Scenario.MITM_SELF_SIGNED, Scenario.MITM_WRONG_NAME):
        return ("ClientHello",)
    if variant is Variant.TLS13 and scenario is Scenario.REPLAY:  # it records, and replays later
        return ()
    return INTERCEPTED.get(scenario, ())
