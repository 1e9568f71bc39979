"""Certificates and CSRs decoded for people: what a seat's documents say, in words.

A student at the client seat decides whether to trust the server from what its certificate
says: who it is for, who signed it, until when, with what key. This module turns the DER a
seat really holds into plain data (``describe_certificate``, ``describe_csr``) and says
how a certificate chains up to the seat's trust store (``describe_chain``). Everything is
read through ``cryptography``'s x509; nothing here decides whether to trust: the referee's
check is ``pki.verify_server_chain`` (through ``tls12.server_identity_problem`` and
``tls13.inspect_flight``), and ``seat_documents`` only words what that check found, at
guided difficulty.

Rules:

* Sans-I/O and deterministic: the clock comes in as ``now`` (the table's clock); without
  it a certificate's status is ``None`` (not judged).
* Bytes that are not a certificate or CSR give a ``{"kind": "malformed", ...}`` entry with
  a clear problem in words, never an exception.
* A document says only what its bytes say and what the seat can compute from them: never
  which certificate is forged, never the scenario, never a private key (none is read here).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, x448, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..tls import messages as m
from ..tls import weakdh
from ..tls.alerts import Alert
from ..tls.record import ContentType
from ..tls.suites import KeyExchange
from . import tls12, tls13
from .facts import MessageDelivered, MessageSent
from .model import Difficulty, Seat, Variant
from .records import split_records
from .rules import Rejected
from .state import TableState
from .wire import find

__all__ = ["describe_certificate", "describe_chain", "describe_csr", "describe_document", "seat_documents",
           "status_at"]

# What ``cryptography`` raises for bytes that are not a well-formed certificate or CSR; it
# parses lazily, so reading a field can raise as well as loading.
_PARSE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension,
                 x509.UnsupportedGeneralNameType, x509.InvalidVersion)

VALID, EXPIRED, NOT_YET_VALID = "valid", "expired", "not yet valid"

_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_HASHES = {"sha1": "SHA-1", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
           "sha512": "SHA-512", "md5": "MD5"}
# RFC 5280 §4.2.1.3, in words.
_KEY_USAGES = (("digital_signature", "digital signature"), ("content_commitment", "content commitment"),
               ("key_encipherment", "key encipherment"), ("data_encipherment", "data encipherment"),
               ("key_agreement", "key agreement"), ("key_cert_sign", "signing certificates"),
               ("crl_sign", "signing revocation lists"))
# RFC 5280 §4.2.1.12, in words.
_EXTENDED_USAGES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "TLS server authentication (serverAuth)",
    ExtendedKeyUsageOID.CLIENT_AUTH: "TLS client authentication (clientAuth)",
    ExtendedKeyUsageOID.CODE_SIGNING: "code signing",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "e-mail protection",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSP signing",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "any purpose",
}


def _utc(now: datetime.datetime) -> datetime.datetime:
    return now.replace(tzinfo=datetime.UTC) if now.tzinfo is None else now.astimezone(datetime.UTC)


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _name_words(name: x509.Name) -> str:
    """A distinguished name as people read it: its common name, else the whole name."""
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return _text(common[0].value) if common else (name.rfc4514_string() or "(no name)")


def _extension(document: x509.Certificate | x509.CertificateSigningRequest,
               kind: type[x509.ExtensionType]) -> Any:
    try:
        return document.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _key_words(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}-bit"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_CURVES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, x25519.X25519PublicKey | x448.X448PublicKey):
        return type(key).__name__.removesuffix("PublicKey")
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}-bit"
    return "an unknown kind of key"


def _signature_words(document: x509.Certificate | x509.CertificateSigningRequest) -> str:
    """The signature algorithm as ``cryptography`` reports it, in words."""
    oid = document.signature_algorithm_oid
    digest = document.signature_hash_algorithm
    hash_words = _HASHES.get(digest.name, digest.name.upper()) if digest is not None else None
    if oid in (x509.SignatureAlgorithmOID.ED25519, x509.SignatureAlgorithmOID.ED448):
        return "Ed25519" if oid == x509.SignatureAlgorithmOID.ED25519 else "Ed448"
    parameters = document.signature_algorithm_parameters
    if isinstance(parameters, padding.PSS):
        scheme = "RSA-PSS"
    elif isinstance(parameters, padding.PKCS1v15):
        scheme = "RSA PKCS#1 v1.5"
    elif isinstance(parameters, ec.ECDSA):
        scheme = "ECDSA"
    else:
        scheme = getattr(oid, "_name", oid.dotted_string)
    return f"{scheme} with {hash_words}" if hash_words else scheme


def _key_usage_words(usage: x509.KeyUsage | None) -> list[str]:
    if usage is None:
        return []
    words = [text for attribute, text in _KEY_USAGES if getattr(usage, attribute)]
    if usage.key_agreement:  # encipher_only / decipher_only are defined only with key agreement
        words += [text for attribute, text in (("encipher_only", "encipher only"),
                                                ("decipher_only", "decipher only"))
                  if getattr(usage, attribute)]
    return words


def _san(document: x509.Certificate | x509.CertificateSigningRequest) -> list[str]:
    names = _extension(document, x509.SubjectAlternativeName)
    if names is None:
        return []
    return [str(general.value) for general in names if isinstance(general, x509.DNSName | x509.IPAddress)]


def _signed_by(document: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key verifies ``document``'s signature (and the names match)."""
    try:
        document.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def status_at(not_before: datetime.datetime, not_after: datetime.datetime,
              now: datetime.datetime) -> str:
    """RFC 5280 §4.1.2.5: valid from notBefore through notAfter, both inclusive."""
    now = _utc(now)
    if now > not_after:
        return EXPIRED
    if now < not_before:
        return NOT_YET_VALID
    return VALID


def _malformed(what: str, reason: str) -> dict[str, Any]:
    return {"kind": "malformed", "problem": f"this is not a {what}: {reason}"}


def _load_certificate(der: bytes) -> x509.Certificate | str:
    """The certificate, fully read (its fields parse lazily), or why it is not one."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.subject, certificate.issuer, certificate.extensions  # noqa: B018 (parse now)
        certificate.public_key()
    except _PARSE_ERRORS as exc:
        return str(exc) or type(exc).__name__
    return certificate


def describe_certificate(der: bytes, now: datetime.datetime | None = None) -> dict[str, Any]:
    """A certificate as plain data for people; ``{"kind": "malformed", ...}`` for bytes that
    are not one. With ``now`` (the table's clock) its status: valid, expired, not yet valid."""
    described = _describe_certificate(bytes(der))
    if described["kind"] != "certificate":
        return dict(described)
    out = dict(described)
    if now is None:
        out["status"] = None
    else:
        certificate = x509.load_der_x509_certificate(der)
        out["status"] = status_at(certificate.not_valid_before_utc, certificate.not_valid_after_utc, now)
        out["now"] = _when(_utc(now))
    return out


@functools.lru_cache(maxsize=512)
def _describe_certificate(der: bytes) -> dict[str, Any]:
    """The clock-free part of ``describe_certificate``; cached per DER (views repeat it)."""
    loaded = _load_certificate(der)
    if isinstance(loaded, str):
        return _malformed("certificate", loaded)
    certificate = loaded
    try:
        constraints = _extension(certificate, x509.BasicConstraints)
        extended = _extension(certificate, x509.ExtendedKeyUsage)
        is_ca = bool(constraints is not None and constraints.ca)
        if is_ca:
            limit = "" if constraints.path_length is None else f" (at most {constraints.path_length} CA " \
                                                              "below it)"
            ca_words = f"a CA: it may sign other certificates{limit}"
        else:
            ca_words = "not a CA: it may not sign other certificates"
        self_signed = certificate.issuer == certificate.subject and _signed_by(certificate, certificate)
        fingerprint = certificate.fingerprint(hashes.SHA256())
        return {
            "kind": "certificate",
            "name": _name_words(certificate.subject),
            "subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "issuer_name": _name_words(certificate.issuer),
            "san": _san(certificate),
            "not_before": _when(certificate.not_valid_before_utc),
            "not_after": _when(certificate.not_valid_after_utc),
            "key": _key_words(certificate.public_key()),
            "signature_algorithm": _signature_words(certificate),
            "key_usage": _key_usage_words(_extension(certificate, x509.KeyUsage)),
            "extended_key_usage": [_EXTENDED_USAGES.get(oid, oid.dotted_string) for oid in extended or ()],
            "ca": is_ca,
            "ca_words": ca_words,
            "self_signed": self_signed,
            "serial": f"{certificate.serial_number:x}",
            "fingerprint_sha256": ":".join(f"{byte:02X}" for byte in fingerprint),
        }
    except _PARSE_ERRORS as exc:
        return _malformed("certificate", str(exc) or type(exc).__name__)


@functools.lru_cache(maxsize=256)
def describe_csr(der: bytes) -> dict[str, Any]:
    """A certificate signing request (RFC 2986) as plain data: who asks, for which names, with
    which key, and whether its signature verifies with that key (proof of possession)."""
    try:
        csr = x509.load_der_x509_csr(bytes(der))
        signature_valid = csr.is_signature_valid
        key = _key_words(csr.public_key())
        return {
            "kind": "csr",
            "name": _name_words(csr.subject),
            "subject": csr.subject.rfc4514_string(),
            "san": _san(csr),
            "key": key,
            "signature_algorithm": _signature_words(csr),
            "signature_valid": signature_valid,
            "signature_words": ("its signature verifies with the key it carries: the requester holds the "
                                "private key (proof of possession)" if signature_valid else
                                "its signature does not verify with the key it carries: no proof that the "
                                "requester holds the private key"),
        }
    except _PARSE_ERRORS as exc:
        return _malformed("certificate signing request", str(exc) or type(exc).__name__)


def describe_document(kind: str, der: bytes, now: datetime.datetime | None = None) -> dict[str, Any]:
    """A wallet item of ``kind`` "certificate" or "csr", described."""
    return describe_csr(bytes(der)) if kind == "csr" else describe_certificate(der, now)


def describe_chain(chain: Sequence[bytes], trust: Sequence[bytes], *,
                   trust_words: str = "your trust store") -> dict[str, Any]:
    """How ``chain`` (leaf first, as a Certificate message carries it) climbs towards the
    roots in ``trust``: one link per certificate, in words, and whether it reaches one.

    Each link is proved with the issuer's public key; a certificate whose issuer is neither
    in the chain nor trusted ends the climb. This describes; it does not decide (the
    referee's check is ``pki.verify_server_chain``, which also judges names, dates, usages).
    """
    return _describe_chain(tuple(bytes(d) for d in chain), tuple(bytes(d) for d in trust), trust_words)


@functools.lru_cache(maxsize=256)
def _describe_chain(chain: tuple[bytes, ...], trust: tuple[bytes, ...], trust_words: str) -> dict[str, Any]:
    loaded = [_load_certificate(der) for der in chain]
    anchors = [c for c in (_load_certificate(der) for der in trust) if not isinstance(c, str)]
    links: list[dict[str, Any]] = []
    reaches = False
    for position, certificate in enumerate(loaded):
        if isinstance(certificate, str):
            links.append({"name": "(unreadable)", "words": f"this is not a certificate: {certificate}"})
            break
        name = _name_words(certificate.subject)
        if chain[position] in trust:
            links.append({"name": name, "words": f"{name} is a root {trust_words} holds"})
            reaches = True
            break
        issuer = _name_words(certificate.issuer)
        trusted = [a for a in anchors if _signed_by(certificate, a)]
        if trusted:
            links.append({"name": name, "words": f"signed by {_name_words(trusted[0].subject)}, which "
                                                  f"{trust_words} holds"})
            links.append({"name": _name_words(trusted[0].subject), "words": "a root you trust", "root": True})
            reaches = True
            break
        sent = [c for c in loaded[position + 1:] if not isinstance(c, str) and _signed_by(certificate, c)]
        if sent:
            links.append({"name": name, "words": f"signed by {issuer}, sent along in the chain"})
            continue
        if certificate.issuer == certificate.subject and _signed_by(certificate, certificate):
            links.append({"name": name, "words": f"self-signed: signed by its own key; {name} is not in "
                                                  f"{trust_words}"})
        elif any(a.subject == certificate.issuer for a in anchors):
            links.append({"name": name, "words": f"names {issuer} as its signer, but the signature does not "
                                                  f"verify with the key of the {issuer} in {trust_words}"})
        else:
            links.append({"name": name, "words": f"signed by {issuer}, which is not in {trust_words}"})
        break
    return {"links": links, "reaches_trust": reaches}


# -- what a seat sees ----------------------------------------------------------------------------

# Wallet item -> what people call it.
_LABELS = {
    "trust_store": "your trust store (the root you trust)",
    "ca_certificate": "your root certificate",
    "server_certificate": "server certificate",
    "client_certificate": "client certificate",
    "server_csr": "server CSR",
    "client_csr": "client CSR",
    "received_csr": "CSR received",
    "received_client_csr": "client CSR received",
    "received_second_csr": "second CSR received",
    "eavesdropper_certificate": "your own certificate",
    "forged_certificate": "the certificate you sent the client",
}
# The CA's review steps -> the CSR the CA has before it.
_REVIEWED = {"ca.review_csr": "received_csr", "ca.review_client_csr": "received_client_csr",
             "ca.review_second_csr": "received_second_csr"}
_NOT_CHECKED = "not checked: a careful client stops at its first failed check"
_CHECK_ROWS = ("certificate chain", "certificate validity", "certificate usage", "certificate hostname")
# The referee's check names (``handshake.CHECK_WORDS``) -> the row they belong to.
_ROW_OF = {"certificate signature": "certificate chain", "certificate format": "certificate chain"}


def seat_documents(state: TableState, seat: Seat, now: datetime.datetime | None) -> dict[str, Any]:
    """The certificates and CSRs ``seat`` really holds or received, described (``cards``; those its
    move is about now, ``at_hand``, first: the certificate to accept or reject, the CSR to review), and
    at the client's certificate decision at guided difficulty the careful client's checks
    with pass/fail (``checks``; None otherwise: at standard and expert the student checks).

    What it holds: the certificates and CSRs in its wallet. What it received: the plaintext
    Certificate messages that reached it (TLS 1.2; the eavesdropper sees every one on the
    wire); in TLS 1.3 the certificate travels encrypted, so the client reads it only at its
    decision, from the flight it opens with its own handshake keys.
    """
    trust, trust_words = _trust_of(state, seat)
    cards: list[dict[str, Any]] = []
    by_der: dict[bytes, dict[str, Any]] = {}

    def add(der: bytes, kind: str, source: str, chain: Sequence[bytes] | None = None) -> None:
        card = by_der.get(der)
        if card is None:
            card = {"label": source, "sources": [], **describe_document(kind, der, now)}
            if card["kind"] == "certificate":
                card["chain"] = describe_chain(chain or (der,), trust, trust_words=trust_words)
            by_der[der] = card
            cards.append(card)
        elif chain is not None and len(chain) > len(card.get("chain", {}).get("links", ())):
            card["chain"] = describe_chain(chain, trust, trust_words=trust_words)
        if source not in card["sources"]:
            card["sources"].append(source)

    for chain, source in _received_chains(state, seat, now):
        for position, der in enumerate(chain):
            add(der, "certificate", source if position == 0 else f"{source}, sent along with the first",
                chain[position:])
    for name, item in state.wallets[seat].items():
        if item.kind in ("certificate", "csr") and not item.secret:
            add(item.value, item.kind, f"in your wallet: {_LABELS.get(name, name.replace('_', ' '))}")
    step = state.current_step
    # The documents the seat's move now is about: open first, the rest folded on the page.
    moving = step.id if step is not None and step.seat is seat else None
    deciding = moving == "client.check_certificate"
    reviewed = state.wallets[seat].get(_REVIEWED.get(moving or "", ""))
    for card in cards:
        card["at_hand"] = bool((deciding and not card["label"].startswith("in your wallet"))
                               or (reviewed is not None and card is by_der.get(reviewed.value)))
    if deciding and state.variant is Variant.TLS13 and now is not None and _flight_unreadable(state, now):
        # What the client really learns when it tries: its keys do not open the flight.
        cards.insert(0, {"kind": "malformed", "label": "the server's encrypted flight", "sources": [],
                         "name": "the server's encrypted flight", "at_hand": True,
                         "problem": "it does not decrypt under the handshake keys your transcript gives "
                                    "(the AEAD tag check fails: bad_record_mac), so there is no certificate "
                                    "to read: the two sides did not hash the same hellos"})
    cards.sort(key=lambda card: not card["at_hand"])
    checks = None
    if (now is not None and seat is Seat.CLIENT and step is not None and step.id == "client.check_certificate"
            and state.difficulty is Difficulty.GUIDED):
        checks = _client_checks(state, now)
    return {"cards": cards, "checks": checks}


def _trust_of(state: TableState, seat: Seat) -> tuple[tuple[bytes, ...], str]:
    wallet = state.wallets[seat]
    if "trust_store" in wallet:
        return (wallet["trust_store"].value,), "your trust store"
    if "ca_certificate" in wallet:
        return (wallet["ca_certificate"].value,), "your own wallet"
    return (), "your trust store (you keep none)"


def _received_chains(state: TableState, seat: Seat,
                     now: datetime.datetime | None) -> list[tuple[tuple[bytes, ...], str]]:
    """The certificate_lists that reached ``seat`` in plaintext, and where from, in words."""
    chains: list[tuple[tuple[bytes, ...], str]] = []
    for event in state.wire:
        if event.label != "Certificate" or event.content_type != ContentType.handshake:
            continue
        if seat is Seat.EAVESDROPPER:
            if isinstance(event, MessageSent):
                source = f"seen on the wire: the {event.sender.value}'s Certificate message"
            else:
                source = f"seen on the wire: the Certificate message delivered to the {event.recipient.value}"
        elif isinstance(event, MessageDelivered) and event.recipient is seat:
            source = "the Certificate message that reached you"
        else:
            continue
        raw = b"".join(record[5:] for record in split_records(event.payload))
        try:
            message = m.decode_handshake(raw)
        except (Alert, ValueError, IndexError):
            continue  # not a Certificate message at all: the byte inspector shows its bytes
        if isinstance(message, m.Certificate) and message.certificate_list:
            chains.append((tuple(message.certificate_list), source))
    step = state.current_step
    if (seat is Seat.CLIENT and state.variant is Variant.TLS13 and now is not None and step is not None
            and step.id == "client.check_certificate" and "server_certificate" not in state.wallets[seat]):
        opened = _tls13_certificate(state, now)
        if opened:
            chains.append((opened, "the server's encrypted flight, opened with your handshake keys"))
    return chains


def _flight_unreadable(state: TableState, now: datetime.datetime) -> bool:
    try:
        return tls13.inspect_flight(state, now).unreadable
    except (Alert, Rejected, ValueError, IndexError):
        return False


def _tls13_certificate(state: TableState, now: datetime.datetime) -> tuple[bytes, ...]:
    try:
        flight = tls13.inspect_flight(state, now)
        if flight.unreadable:
            return ()
        certificate = m.decode_handshake(flight.messages[1], None, 0x0304)
    except (Alert, Rejected, ValueError, IndexError):
        return ()
    return tuple(certificate.certificate_list) if isinstance(certificate, m.Certificate13) else ()


def _client_checks(state: TableState, now: datetime.datetime) -> list[dict[str, Any]]:
    """The careful client's checks, in the order the referee runs them, with pass/fail: each
    check up to the first failure passed, that one failed (with the referee's own reason),
    the rest were not reached. The verdict is the referee's (``tls12.server_identity_problem``,
    ``tls13.inspect_flight``); this only words it."""
    rows = list(_CHECK_ROWS)
    details = {"certificate chain": "it leads to a root your trust store holds",
               "certificate validity": "the table's clock lies within its validity period",
               "certificate usage": "it is a server certificate (not a CA), allowed for TLS server "
                                    "authentication",
               "certificate hostname": f"it is issued for {state.server_name}, the name you asked for"}
    try:
        if state.variant is Variant.TLS13:
            flight = tls13.inspect_flight(state, now)
            if flight.unreadable:
                return [{"check": "handshake keys", "ok": False,
                         "detail": "the server's flight does not decrypt with your handshake keys"}]
            rows.append("certificate verify")
            details["certificate verify"] = ("the CertificateVerify signature over the transcript verifies "
                                             "with the certificate's key (RFC 8446 §4.4.3)")
            problem = flight.problem
        else:
            exchange = tls12.suite_of(state, Seat.CLIENT).key_exchange
            if exchange is not KeyExchange.RSA:
                rows.append(tls12.SKE_SIGNATURE)
                details[tls12.SKE_SIGNATURE] = ("the ServerKeyExchange signature over both randoms and the "
                                                "share verifies with the certificate's key (RFC 5246 §7.4.3)")
            if exchange is KeyExchange.DHE:
                rows.append(tls12.WEAK_GROUP)
                dh = find(state, Seat.CLIENT, m.DhServerKeyExchange)
                details[tls12.WEAK_GROUP] = (f"the DH group is {weakdh.group_bits(dh.p)} bits, at least "
                                             f"{tls12.MIN_DH_BITS}")
            problem = tls12.server_identity_problem(state, now)
    except (Rejected, Alert) as exc:
        return [{"check": "certificate message", "ok": False, "detail": str(exc)}]
    failed = None if problem is None else _ROW_OF.get(problem[0], problem[0])
    if failed is not None and failed not in rows:
        rows.insert(0, failed)
    out: list[dict[str, Any]] = []
    reached = True
    for row in rows:
        if not reached:
            out.append({"check": row, "ok": None, "detail": _NOT_CHECKED})
        elif row == failed and problem is not None:
            out.append({"check": row, "ok": False, "detail": problem[1]})
            reached = False
        else:
            out.append({"check": row, "ok": True, "detail": details.get(row, "passed")})
    return out
