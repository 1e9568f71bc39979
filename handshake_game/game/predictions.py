"""Prediction questions: quiz questions built on one seat's own values, asked before the
step shows the answer.

A lesson card's quiz is the same for everyone; a prediction is made from what this seat
holds at this table — its randoms, the suite it negotiated, the certificate it received, the
record waiting for it — so it cannot be looked up, only worked out. Each is built from
``state.wallets[seat]`` and the messages ``seat`` has seen (never another seat's values),
and is None until the seat holds what the question is about.

The right choice is computed the way the referee computes the real value (RFC 5246 §6.3,
§6.2.3.3, §7.4.7.1, §8.1; RFC 8446 §5.2), so the debrief and the question always agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from ..tls import messages as m
from ..tls.suites import CIPHER_SUITES, CipherSuite
from .facts import MessageDelivered
from .model import Seat, Variant
from .state import TableState

RECORD_HEADER = 5
AEAD_TAG = 16


@dataclass(frozen=True)
class Prediction:
    question: str
    choices: tuple[str, ...]
    correct: int
    explanation: str


def _suite(state: TableState, seat: Seat) -> CipherSuite | None:
    for message in state.decoded(seat):
        if isinstance(message, m.ServerHello):
            return CIPHER_SUITES.get(message.cipher_suite)
    return None


def _client_hello(state: TableState, seat: Seat) -> m.ClientHello | None:
    return next((message for message in state.decoded(seat) if isinstance(message, m.ClientHello)), None)


def _server_hello(state: TableState, seat: Seat) -> m.ServerHello | None:
    return next((message for message in state.decoded(seat) if isinstance(message, m.ServerHello)), None)


def _ordered(right: str, wrong: list[str], salt: bytes) -> tuple[tuple[str, ...], int]:
    """The choices in a stable order that depends on the seat's own values (``salt``), so the
    right answer has no fixed place; the server shuffles the displayed order again."""
    choices = sorted({right, *wrong} - {""}, key=lambda c: hashlib.sha256(salt + c.encode()).digest())
    return tuple(choices), choices.index(right)


def _key_block(suite: CipherSuite) -> int:
    # RFC 5246 §6.3: AEAD suites have no MAC keys; two write keys and two implicit IVs.
    return 2 * suite.key_length + 2 * suite.fixed_iv_length


def key_block_length(state: TableState, seat: Seat) -> Prediction | None:
    suite = _suite(state, seat)
    hello = _client_hello(state, seat)
    if suite is None or suite.tls13 or hello is None:
        return None
    right = _key_block(suite)
    others = sorted({_key_block(s) for s in CIPHER_SUITES.values() if not s.tls13} | {48, 2 * right})
    wrong = [f"{n} bytes" for n in others if n != right][:3]
    choices, correct = _ordered(f"{right} bytes", wrong, hello.random)
    return Prediction(
        f"Your table negotiated {suite.name}. How many bytes of key block will you take from "
        "PRF(master_secret, \"key expansion\", server_random + client_random)?",
        choices, correct,
        f"{suite.aead} is an AEAD: no MAC keys. Two {suite.key_length}-byte write keys and two "
        f"{suite.fixed_iv_length}-byte implicit IVs (RFC 5246 §6.3, RFC 5288 §3) make {right} bytes; "
        "the PRF is simply run until it has produced that many.")


def master_seed(state: TableState, seat: Seat) -> Prediction | None:
    client_hello = _client_hello(state, seat)
    server_hello = _server_hello(state, seat)
    if state.variant is Variant.TLS13 or client_hello is None or server_hello is None:
        return None
    client, server = client_hello.random.hex()[:8], server_hello.random.hex()[:8]
    wrong = [f"{server}… (the server_random)", "the premaster secret's first bytes",
             "the hash of the handshake messages so far"]
    choices, correct = _ordered(f"{client}… (the client_random)", wrong, client_hello.random)
    return Prediction(
        f"Your client_random begins {client} and your server_random begins {server}. Right after "
        "the label \"master secret\", which bytes open the seed of the master secret's PRF?",
        choices, correct,
        "RFC 5246 §8.1: master_secret = PRF(pre_master_secret, \"master secret\", ClientHello.random + "
        "ServerHello.random). The client's random comes first; the premaster is the PRF's secret, not "
        "its seed. (With the extended master secret of RFC 7627 the seed is the session hash instead.)")


def rsa_ciphertext_length(state: TableState, seat: Seat) -> Prediction | None:
    certificate = state.wallets[seat].get("server_certificate")
    if seat is not Seat.CLIENT or certificate is None:
        return None
    key = x509.load_der_x509_certificate(certificate.value).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    right = key.key_size // 8
    wrong = ["48 bytes, the premaster's own length", "32 bytes", f"{right * 2} bytes"]
    choices, correct = _ordered(f"{right} bytes", wrong, certificate.value[-16:])
    return Prediction(
        f"The server's certificate holds a {key.key_size}-bit RSA key. How long will the encrypted "
        "premaster in your ClientKeyExchange be?",
        choices, correct,
        f"RSA encryption (PKCS #1 v1.5) always yields a number as long as the modulus: {right} bytes "
        f"for a {key.key_size}-bit key, whatever the 48-byte premaster inside (RFC 5246 §7.4.7.1).")


def answer_length(state: TableState, seat: Seat) -> Prediction | None:
    suite = _suite(state, seat)
    hello = _client_hello(state, seat)
    records = [fact for fact in state.wire if isinstance(fact, MessageDelivered) and fact.recipient is seat
               and fact.label == "application data"]
    if seat is not Seat.CLIENT or suite is None or hello is None or not records:
        return None
    length = len(records[-1].payload)
    if suite.tls13:
        right = length - RECORD_HEADER - AEAD_TAG - 1
        how = (f"{RECORD_HEADER} bytes of header, the {AEAD_TAG}-byte tag and one byte of inner content "
               "type (no padding here) come off (RFC 8446 §5.2)")
    else:
        right = length - RECORD_HEADER - suite.record_iv_length - AEAD_TAG
        how = (f"{RECORD_HEADER} bytes of header, the {suite.record_iv_length}-byte explicit nonce and the "
               f"{AEAD_TAG}-byte tag come off (RFC 5246 §6.2.3.3, RFC 5288 §3)")
    wrong = [f"{length} bytes", f"{length - RECORD_HEADER} bytes", f"{right - 16} bytes"]
    choices, correct = _ordered(f"{right} bytes", wrong, hello.random)
    return Prediction(
        f"The server's answer reached you as a {length}-byte record. Before you decrypt it: how many "
        "bytes of plaintext does it hold?",
        choices, correct,
        f"Encryption hides the content, not its length: {how}, leaving {right} bytes. That is why an "
        "eavesdropper learns sizes from a capture it cannot read.")


# Which predictions go with which card (the card shown for the step they are asked at).
PREDICTIONS: dict[str, tuple[Callable[[TableState, Seat], Prediction | None], ...]] = {
    "finished": (master_seed, key_block_length),
    "rsa-key-exchange": (rsa_ciphertext_length,),
    "application-data": (answer_length,),
}


def predictions(state: TableState, seat: Seat, lesson: str) -> list[Prediction]:
    """The prediction questions for ``lesson``, built on what ``seat`` holds now."""
    made = (build(state, seat) for build in PREDICTIONS.get(lesson, ()))
    return [p for p in made if p is not None]
