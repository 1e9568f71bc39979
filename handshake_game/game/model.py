"""The game's vocabulary: seats, variants, difficulties, scenarios, and each variant's steps.

A variant's step catalog is the order in which the seats act. Each step names the seat
that acts, what it does in TLS or PKI terms, and the lesson that explains it. The table
(``table.py``) walks the catalog; the referee checks each move with real cryptography.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass


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


SCENARIO_STORIES: dict[Scenario, str] = {
    Scenario.HONEST: "everyone plays by the book",
    Scenario.PASSIVE: "the eavesdropper records every byte and tries to read them",
    Scenario.MITM_SELF_SIGNED: "the eavesdropper swaps the server's certificate for a self-signed one "
                               "for the same name",
    Scenario.MITM_WRONG_NAME: "the eavesdropper swaps in a genuine certificate the CA issued it — for "
                              "its own name",
    Scenario.EXPIRED_CERT: "the server's certificate expired long ago",
    Scenario.ROGUE_CSR: "the eavesdropper asks the CA for a certificate in the server's name",
    Scenario.TAMPER: "the eavesdropper changes one byte of the ServerHello in flight",
    Scenario.DOWNGRADE: "the eavesdropper strips the strongest cipher suite from the ClientHello",
    Scenario.REPLAY: "the client connects twice; in the second session the eavesdropper replays the "
                     "first session's ClientKeyExchange and Finished",
    Scenario.KEY_LEAK: "after the session, the server's private key leaks to the eavesdropper",
}


@dataclass(frozen=True)
class Step:
    id: str
    seat: Seat
    act: str  # what happens, in TLS or PKI terms
    lesson: str  # the lesson card that explains it


_PKI_STEPS = (
    Step("ca.publish_root", Seat.CA, "the CA creates its root certificate; it becomes the "
         "client's trust store", "pki-root"),
    Step("server.generate_key", Seat.SERVER, "the server generates its key pair", "key-pair"),
    Step("server.send_csr", Seat.SERVER, "the server sends a certificate signing request (CSR) "
         "for its name", "csr"),
    Step("ca.review_csr", Seat.CA, "the CA checks the CSR (its signature proves key possession; "
         "the name must be the server's) and issues or refuses", "ca-review"),
)

_TLS12_RSA = _PKI_STEPS + (
    Step("client.hello", Seat.CLIENT, "ClientHello: client_random and the offered suites",
         "client-hello"),
    Step("server.hello", Seat.SERVER, "ServerHello + Certificate + ServerHelloDone: "
         "server_random, the chosen suite, the certificate chain", "server-hello"),
    Step("client.check_certificate", Seat.CLIENT, "the client checks the chain, the name and "
         "the validity, and accepts or rejects", "certificate-check"),
    Step("client.key_exchange", Seat.CLIENT, "ClientKeyExchange: a fresh premaster secret, "
         "encrypted to the server certificate's public key", "rsa-key-exchange"),
    Step("client.finished", Seat.CLIENT, "the client derives the master secret and keys, sends "
         "ChangeCipherSpec and Finished", "finished"),
    Step("server.finished", Seat.SERVER, "the server decrypts the premaster, derives the same keys, "
         "checks the client's Finished and sends its own", "finished"),
    Step("client.verify_finished", Seat.CLIENT, "the client checks the server's Finished",
         "finished"),
    Step("client.send_data", Seat.CLIENT, "the client sends its request in an encrypted record",
         "application-data"),
    Step("server.send_data", Seat.SERVER, "the server reads the request and answers",
         "application-data"),
    Step("client.read_data", Seat.CLIENT, "the client decrypts the answer", "application-data"),
)

_TLS12_ECDHE = _PKI_STEPS + (
    _TLS12_RSA[4],
    Step("server.hello", Seat.SERVER, "ServerHello + Certificate + ServerKeyExchange (an "
         "ephemeral ECDH share signed with the certificate key) + ServerHelloDone",
         "server-key-exchange"),
    _TLS12_RSA[6],
    Step("client.key_exchange", Seat.CLIENT, "ClientKeyExchange: the client's ephemeral ECDH "
         "share; both sides compute the premaster from the two shares", "ecdhe-key-exchange"),
    *_TLS12_RSA[8:],
)

_TLS12_MUTUAL = _PKI_STEPS + (
    Step("client.generate_key", Seat.CLIENT, "the client generates its own key pair", "key-pair"),
    Step("client.send_csr", Seat.CLIENT, "the client asks the CA for a client certificate",
         "csr"),
    Step("ca.review_client_csr", Seat.CA, "the CA checks the client's CSR and issues a clientAuth "
         "certificate", "ca-review"),
    _TLS12_ECDHE[4],
    Step("server.hello", Seat.SERVER, "ServerHello + Certificate + ServerKeyExchange + "
         "CertificateRequest (the server wants the client's certificate too) + ServerHelloDone",
         "mutual-authentication"),
    _TLS12_ECDHE[6],
    Step("client.key_exchange", Seat.CLIENT, "the client's Certificate, its ECDH share, and "
         "CertificateVerify: a signature over the handshake with the client's key",
         "mutual-authentication"),
    *_TLS12_ECDHE[8:],
)

_TLS13 = _PKI_STEPS + (
    Step("client.hello", Seat.CLIENT, "ClientHello with supported_versions and an x25519 key_share: "
         "the client's half of the key exchange goes in the very first message", "tls13-client-hello"),
    Step("server.hello", Seat.SERVER, "ServerHello with the server's key_share; then, encrypted under "
         "the handshake keys: EncryptedExtensions, Certificate, CertificateVerify, Finished",
         "tls13-server-flight"),
    Step("client.check_certificate", Seat.CLIENT, "the client derives the handshake keys, decrypts the "
         "flight, checks the certificate and the CertificateVerify signature", "certificate-check"),
    Step("client.finished", Seat.CLIENT, "the client checks the server's Finished, derives the "
         "application keys (HKDF) and sends its Finished", "tls13-key-schedule"),
    Step("server.verify_finished", Seat.SERVER, "the server checks the client's Finished", "finished"),
    *_TLS12_RSA[11:],
)

CATALOG: dict[Variant, tuple[Step, ...]] = {
    Variant.TLS12_RSA: _TLS12_RSA,
    Variant.TLS12_ECDHE: _TLS12_ECDHE,
    Variant.TLS12_MUTUAL: _TLS12_MUTUAL,
    Variant.TLS13: _TLS13,
}

# What the client offers, strongest first; the server takes the first it supports.
SUITES_FOR_VARIANT: dict[Variant, tuple[str, ...]] = {
    Variant.TLS12_RSA: ("TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS12_ECDHE: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS12_MUTUAL: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS13: ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"),
}

# TLS 1.3 replay would need 0-RTT or resumption, which this engine does not speak; a full
# handshake's fresh key shares make a replayed flight meaningless from the first byte.
UNSUPPORTED: dict[Variant, frozenset[Scenario]] = {
    Variant.TLS13: frozenset({Scenario.REPLAY}),
}


def supports(variant: Variant, scenario: Scenario) -> bool:
    return scenario not in UNSUPPORTED.get(variant, frozenset())

_EAVESDROPPER_KEY = Step("eavesdropper.generate_key", Seat.EAVESDROPPER,
                         "the eavesdropper generates a key pair of its own", "key-pair")
_INTERCEPT_FLIGHT = Step("eavesdropper.intercept", Seat.EAVESDROPPER,
                         "the eavesdropper holds the server's flight: forward it, or swap the "
                         "certificate for its own", "mitm")


def _after(steps: tuple[Step, ...], step_id: str, *extra: Step) -> tuple[Step, ...]:
    index = next(i for i, step in enumerate(steps) if step.id == step_id) + 1
    return steps[:index] + extra + steps[index:]


@functools.cache
def steps_for(variant: Variant, scenario: Scenario) -> tuple[Step, ...]:
    """The variant's steps, with the eavesdropper's moves the scenario adds."""
    steps = CATALOG[variant]
    if scenario is Scenario.MITM_SELF_SIGNED:
        steps = _after(steps, "ca.review_csr", _EAVESDROPPER_KEY)
        return _after(steps, "server.hello", _INTERCEPT_FLIGHT)
    if scenario is Scenario.MITM_WRONG_NAME:
        steps = _after(steps, "ca.review_csr", _EAVESDROPPER_KEY,
                       Step("eavesdropper.send_csr", Seat.EAVESDROPPER,
                            "the eavesdropper asks the CA for a certificate for its own name", "csr"),
                       Step("ca.review_eavesdropper_csr", Seat.CA,
                            "the CA checks the eavesdropper's CSR", "ca-review"))
        return _after(steps, "server.hello", _INTERCEPT_FLIGHT)
    if scenario is Scenario.ROGUE_CSR:
        return _after(steps, "ca.review_csr", _EAVESDROPPER_KEY,
                      Step("eavesdropper.send_csr", Seat.EAVESDROPPER,
                           "the eavesdropper asks the CA for a certificate in the server's name",
                           "rogue-csr"),
                      Step("ca.review_eavesdropper_csr", Seat.CA,
                           "the CA checks a CSR that claims the server's name", "ca-review"))
    if scenario is Scenario.TAMPER:
        return _after(steps, "server.hello", Step(
            "eavesdropper.tamper", Seat.EAVESDROPPER,
            "the eavesdropper changes a byte of the ServerHello in flight", "tamper"))
    if scenario is Scenario.REPLAY:
        handshake = tuple(step for step in steps if step.id not in {p.id for p in _PKI_STEPS})
        second = tuple(step for step in handshake if not step.id.endswith("_data")
                       and step.id != "client.verify_finished")
        return (steps
                + (Step("client.reconnect", Seat.CLIENT, "later, the client connects again: a new "
                        "session, fresh randoms", "replay"),)
                + _after(second, "client.finished", Step(
                    "eavesdropper.replay", Seat.EAVESDROPPER, "the eavesdropper swaps in the "
                    "ClientKeyExchange and Finished it recorded in the first session", "replay")))
    if scenario is Scenario.DOWNGRADE:
        return _after(steps, "client.hello", Step(
            "eavesdropper.strip_suites", Seat.EAVESDROPPER,
            "the eavesdropper removes the strongest suite from the ClientHello", "downgrade"))
    return steps


# Which message the eavesdropper holds back (instead of it being delivered at once).
_SERVER_FLIGHT = ("ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest", "ServerHelloDone",
                  "EncryptedExtensions", "CertificateVerify", "Finished")
INTERCEPTED: dict[Scenario, tuple[str, ...]] = {
    Scenario.MITM_SELF_SIGNED: _SERVER_FLIGHT,
    Scenario.MITM_WRONG_NAME: _SERVER_FLIGHT,
    Scenario.TAMPER: _SERVER_FLIGHT,
    Scenario.DOWNGRADE: ("ClientHello",),
    Scenario.REPLAY: ("ClientKeyExchange", "Certificate", "CertificateVerify", "ChangeCipherSpec",
                      "Finished"),
}
