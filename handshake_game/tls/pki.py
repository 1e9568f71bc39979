"""Certificates: a small real CA, CSRs, issuance, and chain checks.

What the CA seat runs: a root CA and an optional intermediate (RFC 5280 §4.2.1.9
basicConstraints, §4.2.1.3 keyUsage), certificate signing requests checked for
proof of possession (RFC 2986 §3: the CSR is signed by the key it certifies), and
X.509 v3 leaves with the extensions browsers and curl demand (basicConstraints,
keyUsage, extendedKeyUsage, subjectAltName, SKI/AKI). For the game's scenarios the
CA can also be asked for a deliberately bad certificate (:class:`Flaw`).

What the client seat runs: chain checks through ``cryptography``'s X.509
verification API (the webpki rules browsers apply) — never hand-written chain
logic. Only *after* the verifier has refused a chain do we look at the
certificates ourselves, to name the cause in words a student can act on
(:class:`CertificateProblem`) and pick the TLS alert it maps to (RFC 5246 §7.2.2).
The diagnosis never accepts anything the verifier refused.

Times come in as ``now`` (timezone-aware; a naive datetime is taken as UTC), so
tests are deterministic.
"""

from __future__ import annotations

import datetime
import enum
import functools
import ipaddress
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from .alerts import (
    Alert,
    AlertBadCertificate,
    AlertCertificateExpired,
    AlertCertificateUnknown,
    AlertUnknownCa,
    AlertUnsupportedCertificate,
)

LeafPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
LeafPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# The verifier's default (and webpki's) limit on intermediates + anchor.
MAX_CHAIN_DEPTH = 8
# Browsers refuse RSA moduli under 2048 bits (CA/Browser Forum Baseline Requirements §6.1.5).
MIN_RSA_BITS = 2048
# The curves webpki accepts for end-entity keys.
ACCEPTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")
# A name nobody can own (RFC 6761 §6.4) and an address nobody routes (RFC 5737 TEST-NET-1),
# used for certificates deliberately issued for the wrong name.
ELSEWHERE_DNS = "elsewhere.invalid"
ELSEWHERE_IP = "192.0.2.1"
# What ``cryptography`` raises for bytes that are not a well-formed certificate or CSR; it parses
# lazily, so these can come from reading a field as well as from loading.
_PARSE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension,
                 x509.UnsupportedGeneralNameType, x509.InvalidVersion)
# Real CAs backdate notBefore a little so a client whose clock lags still accepts the certificate.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _utc(now: datetime.datetime) -> datetime.datetime:
    if now.tzinfo is None:
        return now.replace(tzinfo=datetime.UTC)
    return now.astimezone(datetime.UTC)


def _name(common_name: str, organization: str = "Handshake classroom") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    if common_name:  # an empty CN is not encodable (RFC 5280 §4.1.2.6 ub-common-name 1..64)
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _general_name(host: str) -> x509.DNSName | x509.IPAddress:
    if ":" not in host and not host.replace(".", "").isdigit():
        return x509.DNSName(host)  # not an IP literal: skip the failing parse
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = values[0].value if values else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _describe(cert: x509.Certificate) -> str:
    """How a certificate is named in feedback: its CN, or its whole subject."""
    common_name = _common_name(cert.subject)
    return f'"{common_name}"' if common_name else cert.subject.rfc4514_string()


_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def host_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be put in a subjectAltName, or None if it can.

    A name is an IP address or a DNS name of letter-digit-hyphen labels (RFC 5280
    §4.2.1.6 refers to RFC 1034 §3.5's preferred syntax), optionally with a wildcard
    as its whole leftmost label (RFC 6125 §6.4.3).
    """
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    if not name:
        return "an empty name"
    if not name.isascii():
        return f"{name!r} is not ASCII (internationalised names must be given as xn-- A-labels)"
    if len(name) > 253:
        return f"{name!r} is longer than 253 characters"
    labels = name.lower().split(".")
    if labels[0] == "*":
        labels = labels[1:]
        if len(labels) < 2:
            return f"{name!r}: a wildcard must stand for one label under a registered domain"
    for label in labels:
        if not _LABEL.fullmatch(label):
            return f"{name!r} is not a host name (labels are letters, digits and inner hyphens)"
    return None


def _signing_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    # Ed25519/Ed448 sign the message itself (RFC 8410 §6); everything else signs SHA-256.
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


_Ext = TypeVar("_Ext", bound=x509.ExtensionType)


def _extension(cert: x509.Certificate | x509.CertificateSigningRequest,
               kind: type[_Ext]) -> _Ext | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """AKI pointing at the issuer's own SKI (RFC 5280 §4.2.1.1), so chain builders match them."""
    ski = _extension(issuer, x509.SubjectKeyIdentifier)
    if ski is not None:
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    issuer_key = issuer.public_key()
    if not isinstance(issuer_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
                      | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        raise IssuanceError(f"unsupported issuer key type {type(issuer_key).__name__}")
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key)


# -- the certificate authority ---------------------------------------------------------------------


class IssuanceError(ValueError):
    """The CA was asked for something it cannot (or must never) sign; ``reason`` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA's certificate and signing key.

    ``chain`` holds the certificates a server sends *after* its own leaf: this CA's
    certificate and every intermediate above it, nearest first, but never the root —
    RFC 5246 §7.4.2 lets the self-signed root be omitted, since the client must
    already hold it in its trust store. So a root's ``chain`` is empty and an
    intermediate's is ``(its certificate,)``.
    """

    certificate: x509.Certificate
    private_key: CertificateIssuerPrivateKeyTypes
    chain: tuple[x509.Certificate, ...] = ()

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def chain_pem(self) -> bytes:
        """The intermediates as PEM, nearest first (what ``openssl verify -untrusted`` takes)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def certificate_list(self, leaf: x509.Certificate) -> tuple[bytes, ...]:
        """The DER ``certificate_list`` of a Certificate message: leaf first (RFC 5246 §7.4.2)."""
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in (leaf, *self.chain))


def _ca_key_usage() -> x509.KeyUsage:
    # RFC 5280 §4.2.1.3: keyCertSign to sign certificates, cRLSign to sign revocation lists.
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False)


def create_root_ca(common_name: str, now: datetime.datetime,
                   key: CertificateIssuerPrivateKeyTypes | None = None,
                   days: int = 3650) -> CertificateAuthority:
    """A self-signed root: basicConstraints CA:TRUE, keyCertSign + cRLSign."""
    now = _utc(now)
    key = key or generate_rsa_key()
    name = _name(common_name)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, _signing_hash(key))
    )
    return CertificateAuthority(cert, key)


def create_intermediate_ca(parent: CertificateAuthority, common_name: str, now: datetime.datetime,
                           key: CertificateIssuerPrivateKeyTypes | None = None,
                           days: int = 1825) -> CertificateAuthority:
    """An intermediate CA signed by ``parent``: CA:TRUE with pathlen 0, so it may
    issue leaves but no further CAs (RFC 5280 §4.2.1.9).

    Its validity ends no later than its parent's. The result's ``chain`` is its own
    certificate followed by the parent's ``chain``.
    """
    now = _utc(now)
    constraints = _extension(parent.certificate, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise IssuanceError(f"{_describe(parent.certificate)} is not a CA certificate")
    if constraints.path_length == 0:
        raise IssuanceError(f"{_describe(parent.certificate)} has pathlen 0: it may issue "
                            "leaf certificates only, not another CA")
    key = key or generate_ec_key()
    public = key.public_key()
    not_after = min(now + datetime.timedelta(days=days), parent.certificate.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(parent.certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(_authority_key_identifier(parent.certificate), critical=False)
        .sign(parent.private_key, _signing_hash(parent.private_key))
    )
    return CertificateAuthority(cert, key, (cert, *parent.chain))


class Usage(enum.Enum):
    """Which side of the handshake a leaf certificate is for (RFC 5280 §4.2.1.12)."""

    SERVER = "serverAuth"
    CLIENT = "clientAuth"

    @property
    def oid(self) -> x509.ObjectIdentifier:
        return ExtendedKeyUsageOID.SERVER_AUTH if self is Usage.SERVER else ExtendedKeyUsageOID.CLIENT_AUTH

    @property
    def other(self) -> Usage:
        return Usage.CLIENT if self is Usage.SERVER else Usage.SERVER


class Flaw(enum.Enum):
    """A deliberate defect the game's scenarios can ask the CA for."""

    EXPIRED = "its validity period lies entirely in the past"
    NOT_YET_VALID = "its validity period starts in the future"
    WRONG_NAME = "it is issued for a different name"
    WRONG_USAGE = "its extendedKeyUsage is for the other side of the handshake"
    SELF_SIGNED = "it is signed by its subject's own key, not by a CA"
    BAD_SIGNATURE = "one byte of its signature was changed after signing"

    @property
    def problem(self) -> CertificateProblem:
        """What a verifier must report for a certificate with this flaw."""
        return _FLAW_PROBLEMS[self]


def _validity(now: datetime.datetime, days: int, not_before: datetime.datetime | None,
              flaw: Flaw | None) -> tuple[datetime.datetime, datetime.datetime]:
    if days <= 0:
        raise IssuanceError(f"a certificate must be valid for at least one day, not {days}")
    period = datetime.timedelta(days=days)
    if flaw is Flaw.EXPIRED:  # ended a day ago
        return now - period - datetime.timedelta(days=1), now - datetime.timedelta(days=1)
    if flaw is Flaw.NOT_YET_VALID:  # starts tomorrow
        return now + datetime.timedelta(days=1), now + datetime.timedelta(days=1) + period
    if not_before is None:
        return now - CLOCK_SKEW, now + period
    start = _utc(not_before)
    return start, start + period


def _wrong_names(names: Sequence[str]) -> list[str]:
    """One name of the same kind (IP or DNS) as the first requested, but none of them."""
    requested = {name.lower() for name in names}
    if _is_ip(names[0]):
        base = int(ipaddress.ip_address(ELSEWHERE_IP))
        candidates = (str(ipaddress.ip_address(base + i)) for i in range(254))
    else:
        candidates = (f"{'x' * i}{ELSEWHERE_DNS}" for i in range(254))
    return [next(c for c in candidates if c not in requested)]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _leaf_builder(*, subject: x509.Name, issuer: x509.Name, public_key: LeafPublicKey,
                  names: Sequence[str], usage: Usage, not_before: datetime.datetime,
                  not_after: datetime.datetime, serial: int,
                  authority_key_identifier: x509.AuthorityKeyIdentifier) -> x509.CertificateBuilder:
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        # RFC 5280 §4.2.1.9: an end entity is not a CA.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # RFC 5246 §7.4.2: ECDHE needs digitalSignature; RSA key transport needs keyEncipherment.
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage.oid]), critical=False)
        # RFC 6125 §6.4.4 / CA/B BR §7.1.4.2.1: clients match names in the SAN only.
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(authority_key_identifier, critical=False)
    )


def _check_leaf_request(public_key: object, common_name: str, names: Sequence[str],
                        serial: int | None) -> None:
    if len(common_name) > 64:  # RFC 5280 §4.1.2.6: ub-common-name
        raise IssuanceError(f"the common name {common_name!r} is longer than 64 characters")
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise IssuanceError(f"this CA certifies RSA and EC keys only, not {type(public_key).__name__}")
    if not names:
        raise IssuanceError("a certificate needs at least one name for its subjectAltName")
    for name in names:
        problem = host_name_problem(name)
        if problem is not None:
            raise IssuanceError(problem)
    # RFC 5280 §4.1.2.2: a positive integer of at most 20 octets.
    if serial is not None and not 0 < serial < 1 << 159:
        raise IssuanceError(f"serial number {serial} is not a positive integer of at most 20 octets")


def _tamper_signature(cert: x509.Certificate) -> x509.Certificate:
    """The same certificate with the last byte of its signature flipped.

    The signatureValue BIT STRING is the last field of the DER (RFC 5280 §4.1.1.3),
    so its final byte is the DER's final byte; changing it keeps the encoding valid
    (for ECDSA it is the low byte of INTEGER s) but breaks the signature.
    """
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    assert der.endswith(cert.signature)
    der[-1] ^= 0x01
    return x509.load_der_x509_certificate(bytes(der))


def issue_certificate(ca: CertificateAuthority, *, public_key: LeafPublicKey, common_name: str,
                      names: Sequence[str], usage: Usage, now: datetime.datetime, days: int = 90,
                      not_before: datetime.datetime | None = None, serial: int | None = None,
                      flaw: Flaw | None = None) -> x509.Certificate:
    """A leaf certificate for ``public_key``, signed by ``ca``.

    Serial ``serial`` (random if None); valid from ``not_before`` (default: ``now``
    minus five minutes of clock skew) for ``days``, but never past the CA's own
    expiry; subjectAltName ``names`` (DNS names or IP addresses); keyUsage
    digitalSignature (+ keyEncipherment for RSA); extendedKeyUsage for ``usage``;
    basicConstraints CA:FALSE; SKI and AKI.

    ``flaw`` asks for a deliberately bad certificate (see :class:`Flaw`); a flawed
    validity period overrides ``not_before``. ``Flaw.SELF_SIGNED`` needs the
    subject's private key, so it is :func:`self_signed_certificate`'s job.
    Raises :class:`IssuanceError` for what no CA may sign.
    """
    if flaw is Flaw.SELF_SIGNED:
        raise IssuanceError("a self-signed certificate is signed with the subject's own private "
                            "key, which the CA does not hold: use self_signed_certificate()")
    _check_leaf_request(public_key, common_name, names, serial)
    now = _utc(now)
    start, end = _validity(now, days, not_before, flaw)
    end = min(end, ca.certificate.not_valid_after_utc)  # no certificate outlives its issuer
    if end <= start:
        raise IssuanceError(f"{_describe(ca.certificate)} expires on "
                            f"{_timestamp(ca.certificate.not_valid_after_utc)}: it cannot issue a "
                            "certificate valid after that")
    if flaw is Flaw.WRONG_NAME:
        names = _wrong_names(names)
        common_name = names[0]
    builder = _leaf_builder(
        subject=_name(common_name), issuer=ca.certificate.subject, public_key=public_key,
        names=names, usage=usage.other if flaw is Flaw.WRONG_USAGE else usage,
        not_before=start, not_after=end, serial=serial or x509.random_serial_number(),
        authority_key_identifier=_authority_key_identifier(ca.certificate))
    cert = builder.sign(ca.private_key, _signing_hash(ca.private_key))
    return _tamper_signature(cert) if flaw is Flaw.BAD_SIGNATURE else cert


def issue_server_certificate(ca: CertificateAuthority, hostname: str,
                             public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
                             now: datetime.datetime, days: int = 90) -> x509.Certificate:
    """A leaf for ``hostname`` with serverAuth, signed by ``ca``."""
    return issue_certificate(ca, public_key=public_key, common_name=hostname, names=[hostname],
                             usage=Usage.SERVER, now=now, days=days)


def self_signed_certificate(key: LeafPrivateKey, name: str, now: datetime.datetime, *,
                            usage: Usage = Usage.SERVER, days: int = 90) -> x509.Certificate:
    """A leaf for ``name`` signed by its own key — what an impostor can always make.

    It has every extension a CA-issued leaf has (CA:FALSE, SAN, EKU, SKI and an AKI
    naming itself); only a trust store that already holds it would accept it.
    """
    public_key = key.public_key()
    _check_leaf_request(public_key, name, [name], None)
    now = _utc(now)
    subject = _name(name)
    builder = _leaf_builder(
        subject=subject, issuer=subject, public_key=public_key, names=[name], usage=usage,
        not_before=now - CLOCK_SKEW, not_after=now + datetime.timedelta(days=days),
        serial=x509.random_serial_number(),
        authority_key_identifier=x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key))
    return builder.sign(key, hashes.SHA256())


# -- certificate signing requests (RFC 2986) -------------------------------------------------------


class CsrRejected(Exception):
    """A CSR the CA must not sign; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CsrInfo:
    """What a checked CSR asks for."""

    common_name: str
    names: tuple[str, ...]
    public_key: LeafPublicKey
    key_description: str  # "RSA 2048", "EC secp256r1"
    requested_usage: Usage | None  # from a requested extendedKeyUsage, if the CSR carries one


def build_csr(key: LeafPrivateKey, common_name: str, names: Sequence[str],
              client: bool = False) -> x509.CertificateSigningRequest:
    """A CSR for ``key``, signed by ``key`` (the proof of possession, RFC 2986 §3).

    ``names`` go in a requested subjectAltName (omitted when empty), and the
    requested extendedKeyUsage is clientAuth if ``client`` else serverAuth. Nothing
    is checked here — a requester may ask for anything; :func:`check_csr` is the
    CA's side.
    """
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(common_name))
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
    usage = Usage.CLIENT if client else Usage.SERVER
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage.oid]), critical=False)
    return builder.sign(key, hashes.SHA256())


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def load_csr(pem_or_der: bytes) -> x509.CertificateSigningRequest:
    """Parses a CSR in PEM or DER; anything else is :class:`CsrRejected`."""
    try:
        if pem_or_der.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(pem_or_der)
        return x509.load_der_x509_csr(pem_or_der)
    except _PARSE_ERRORS as exc:
        raise CsrRejected(f"this is not a certificate signing request ({exc})") from None


def describe_key(key: CertificatePublicKeyTypes) -> str:
    """A key in a word and a number: "RSA 2048", "EC secp256r1", "Ed25519"."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__.removeprefix("_").removesuffix("PublicKey") or "unknown"


def _csr_names(csr: x509.CertificateSigningRequest, common_name: str) -> tuple[str, ...]:
    san = _extension(csr, x509.SubjectAlternativeName)
    if san is None:
        # Like public CAs, take a lone CN as the name asked for (it is copied into the SAN).
        return (common_name,) if common_name else ()
    names: list[str] = []
    for general_name in san:
        if isinstance(general_name, x509.DNSName):
            names.append(general_name.value)
        elif isinstance(general_name, x509.IPAddress) and not isinstance(
                general_name.value, ipaddress.IPv4Network | ipaddress.IPv6Network):
            names.append(str(general_name.value))
        else:
            raise CsrRejected(f"the CSR asks for {general_name}; this CA certifies only DNS names "
                              "and IP addresses")
    return tuple(names)


def _requested_usage(csr: x509.CertificateSigningRequest) -> Usage | None:
    eku = _extension(csr, x509.ExtendedKeyUsage)
    if eku is None:
        return None
    if ExtendedKeyUsageOID.SERVER_AUTH in eku:
        return Usage.SERVER
    if ExtendedKeyUsageOID.CLIENT_AUTH in eku:
        return Usage.CLIENT
    return None


def check_csr(csr: x509.CertificateSigningRequest) -> CsrInfo:
    """The CA's technical checks of a CSR; raises :class:`CsrRejected` in plain words.

    The signature must verify with the CSR's own public key — proof that the
    requester holds the private key (RFC 2986 §3). It must name at least one valid
    host, and its key must be one browsers accept. Whether the requester really owns
    those names is the CA seat's decision, not a check on bytes.
    """
    try:
        signature_valid = csr.is_signature_valid
        public_key = csr.public_key()
        common_name = _common_name(csr.subject)
        names = _csr_names(csr, common_name)
        requested_usage = _requested_usage(csr)
    except _PARSE_ERRORS as exc:
        raise CsrRejected(f"the CSR could not be read ({exc})") from None
    if not signature_valid:
        raise CsrRejected("the CSR's signature does not verify with the public key inside it, so "
                          "there is no proof the requester holds the private key")
    description = describe_key(public_key)
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CsrRejected(f"the CSR's key is {description}; this CA certifies RSA and EC keys only")
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        raise CsrRejected(f"the CSR's key is {description}: browsers refuse RSA keys under "
                          f"{MIN_RSA_BITS} bits")
    if isinstance(public_key, ec.EllipticCurvePublicKey) and (
            public_key.curve.name not in ACCEPTED_CURVES):
        raise CsrRejected(f"the CSR's key is {description}: browsers accept only "
                          f"{', '.join(ACCEPTED_CURVES)}")
    if not names:
        raise CsrRejected("the CSR names no host: it has no subjectAltName and no common name")
    for name in names:
        problem = host_name_problem(name)
        if problem is not None:
            raise CsrRejected(f"the CSR asks for a name no CA may certify: {problem}")
    if len(common_name) > 64:
        raise CsrRejected("the CSR's common name is longer than 64 characters (RFC 5280 §4.1.2.6)")
    return CsrInfo(common_name, names, public_key, description, requested_usage)


def issue_from_csr(ca: CertificateAuthority, csr: x509.CertificateSigningRequest, usage: Usage,
                   now: datetime.datetime, *, days: int = 90,
                   not_before: datetime.datetime | None = None, serial: int | None = None,
                   flaw: Flaw | None = None) -> x509.Certificate:
    """Checks ``csr`` (:func:`check_csr`) and issues what it asks for, for ``usage``.

    The usage is the CA's choice; the CSR's requested usage is only a request.
    """
    info = check_csr(csr)
    return issue_certificate(ca, public_key=info.public_key, common_name=info.common_name,
                             names=info.names, usage=usage, now=now, days=days,
                             not_before=not_before, serial=serial, flaw=flaw)


# -- checking chains ---------------------------------------------------------------------------------


class CertificateProblem(enum.Enum):
    """Why a chain was refused, in words a student can act on."""

    UNTRUSTED_ISSUER = "the certificate was not issued by a CA the client trusts"
    SELF_SIGNED = "the certificate is self-signed and not in the trust store"
    EXPIRED = "the certificate has expired"
    NOT_YET_VALID = "the certificate is not valid yet"
    HOSTNAME_MISMATCH = "the certificate is for a different name"
    WRONG_KEY_USAGE = "the certificate may not be used for this purpose"
    BAD_SIGNATURE = "the certificate's signature does not verify"
    MALFORMED = "the certificate could not be parsed"


# The alert each problem is answered with. RFC 5246 §7.2.2:
#   unknown_ca (48)              "the CA certificate could not be located or couldn't be matched
#                                 with a known, trusted CA" — an unknown, missing or non-CA issuer,
#                                 and a self-signed certificate (its own CA, unknown).
#   certificate_expired (45)     "a certificate has expired or is not currently valid" — both ends
#                                 of the validity period.
#   certificate_unknown (46)     "some other (unspecified) issue arose in processing the
#                                 certificate" — a sound certificate, but for another name.
#                                 (OpenSSL sends bad_certificate here; either is allowed.)
#   unsupported_certificate (43) "a certificate was of an unsupported type" — its keyUsage /
#                                 extendedKeyUsage / basicConstraints forbid this use (OpenSSL
#                                 does the same for X509_V_ERR_INVALID_PURPOSE).
#   bad_certificate (42)         "a certificate was corrupt, contained signatures that did not
#                                 verify correctly, etc." — bad signatures and unparseable or
#                                 rule-breaking certificates.
_PROBLEM_ALERTS: dict[CertificateProblem, type[Alert]] = {
    CertificateProblem.UNTRUSTED_ISSUER: AlertUnknownCa,
    CertificateProblem.SELF_SIGNED: AlertUnknownCa,
    CertificateProblem.EXPIRED: AlertCertificateExpired,
    CertificateProblem.NOT_YET_VALID: AlertCertificateExpired,
    CertificateProblem.HOSTNAME_MISMATCH: AlertCertificateUnknown,
    CertificateProblem.WRONG_KEY_USAGE: AlertUnsupportedCertificate,
    CertificateProblem.BAD_SIGNATURE: AlertBadCertificate,
    CertificateProblem.MALFORMED: AlertBadCertificate,
}

_FLAW_PROBLEMS: dict[Flaw, CertificateProblem] = {
    Flaw.EXPIRED: CertificateProblem.EXPIRED,
    Flaw.NOT_YET_VALID: CertificateProblem.NOT_YET_VALID,
    Flaw.WRONG_NAME: CertificateProblem.HOSTNAME_MISMATCH,
    Flaw.WRONG_USAGE: CertificateProblem.WRONG_KEY_USAGE,
    Flaw.SELF_SIGNED: CertificateProblem.SELF_SIGNED,
    Flaw.BAD_SIGNATURE: CertificateProblem.BAD_SIGNATURE,
}


class CertificateRejected(Alert):
    """A chain check failed; carries the classified problem, its alert code and a detail
    naming the certificate and the fact that decided it."""

    def __init__(self, problem: CertificateProblem, detail: str = "") -> None:
        self.problem = problem
        self.detail = detail
        self.description = _PROBLEM_ALERTS[problem].description
        super().__init__(f"{problem.value}" + (f" ({detail})" if detail else ""))


def _parse_fully(cert: x509.Certificate) -> None:
    """Parses every field the checks read. ``cryptography`` parses lazily, so a damaged
    name, validity, extension or key would otherwise surface later as a stray ValueError."""
    cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc  # noqa: B018
    cert.extensions  # noqa: B018
    cert.public_key()


@functools.lru_cache(maxsize=256)
def _load_fully(der: bytes) -> x509.Certificate:
    # A server sends the same chain on every connection: parse (and check) each DER
    # certificate once. The parsed object also keeps its public key and OpenSSL's
    # precomputation for it. Failures are not cached (lru_cache skips exceptions).
    cert = x509.load_der_x509_certificate(der)
    _parse_fully(cert)
    _check_signature_encoding(cert, der)
    return cert


def _check_signature_encoding(cert: x509.Certificate, der: bytes) -> None:
    """RFC 5280 §4.1.1.3: signatureValue is a BIT STRING of whole octets.

    The signature is outside what it signs, so its BIT STRING header is not protected
    by it: a changed "unused bits" count leaves the signature bytes — and the verifier's
    verdict — unchanged. OpenSSL refuses such a certificate (invalid bit string bits
    left); so do we, or an attacker could alter a certificate and keep it "valid".
    """
    signature = cert.signature
    unused_bits_at = len(der) - len(signature) - 1
    if unused_bits_at < 0 or der[unused_bits_at] != 0 or not der.endswith(signature):
        raise ValueError("the signature BIT STRING must have no unused bits")


# Chains that passed the full check, by (certificate_list, host, trust store). Only the
# clock can change the verdict for the same inputs, so a hit re-checks the validity of
# every certificate on the verified path and otherwise skips path building; any
# doubt falls through to the full check (and its classified refusal).
_verified_paths: dict[tuple[tuple[bytes, ...], str, tuple[x509.Certificate, ...]],
                      tuple[x509.Certificate, ...]] = {}
_VERIFIED_PATHS_MAX = 256


_verified_paths_lock = threading.Lock()  # listen serves each connection on its own thread


def _remember_path(key: tuple[tuple[bytes, ...], str, tuple[x509.Certificate, ...]],
                   path: tuple[x509.Certificate, ...]) -> None:
    with _verified_paths_lock:
        if len(_verified_paths) >= _VERIFIED_PATHS_MAX:
            _verified_paths.pop(next(iter(_verified_paths)))
        _verified_paths[key] = path


@functools.lru_cache(maxsize=32)
def _store(trust: tuple[x509.Certificate, ...]) -> Store:
    # A fresh Store re-indexes the roots and re-parses their keys on first use.
    return Store(list(trust))


def clear_caches() -> None:
    """Forgets every parsed certificate and verified path (the trust stores stay indexed).

    The next chain check parses each certificate and builds and verifies the path in
    full, as a peer without these caches does on every connection; a benchmark that
    compares the two calls this before each connection.
    """
    _load_fully.cache_clear()
    with _verified_paths_lock:
        _verified_paths.clear()


def load_certificates(der_chain: tuple[bytes, ...]) -> list[x509.Certificate]:
    """Parses a DER certificate_list (RFC 5246 §7.4.2) completely, or raises MALFORMED."""
    certs = []
    for position, der in enumerate(der_chain):
        try:
            cert = _load_fully(der)
        except _PARSE_ERRORS as exc:
            which = "the leaf" if position == 0 else f"certificate {position + 1} of the chain"
            raise CertificateRejected(CertificateProblem.MALFORMED, f"{which}: {exc}") from None
        certs.append(cert)
    return certs


def _load_chain(der_chain: tuple[bytes, ...]) -> list[x509.Certificate]:
    if not der_chain:
        raise CertificateRejected(CertificateProblem.MALFORMED, "empty certificate chain")
    return load_certificates(der_chain)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s public key verifies ``cert``'s signature (names must match too)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _named_issuers(cert: x509.Certificate, pool: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Certificates in ``pool`` that could be ``cert``'s issuer: subject equals its issuer
    name, and the key identifiers agree where both are present (RFC 5280 §4.2.1.1)."""
    aki = _extension(cert, x509.AuthorityKeyIdentifier)
    wanted = aki.key_identifier if aki is not None else None
    found = []
    for candidate in pool:
        if candidate is cert or candidate.subject != cert.issuer:
            continue
        ski = _extension(candidate, x509.SubjectKeyIdentifier)
        if wanted is not None and ski is not None and ski.digest != wanted:
            continue  # same name, different key: another CA that merely shares the name
        found.append(candidate)
    return found


def _trace_to_trust(certs: list[x509.Certificate], trust: list[x509.Certificate],
                    ) -> list[x509.Certificate] | tuple[CertificateProblem, str]:
    """Follows issuers from the leaf to a trust anchor, or says where the trail breaks.

    Returns the path (leaf first, anchor last), or the problem found. Issuers are
    looked up by name among the trust store and the certificates the peer sent,
    and each link is proved with the issuer's public key.
    """
    leaf, presented = certs[0], certs[1:]
    path = [leaf]
    cert = leaf
    while len(path) <= MAX_CHAIN_DEPTH:
        if cert in trust:
            return path
        trusted = _named_issuers(cert, trust)
        sent = [c for c in _named_issuers(cert, presented) if c not in path]
        signers = [c for c in trusted + sent if _signed_by(cert, c)]
        if not signers:
            if cert.issuer == cert.subject and _signed_by(cert, cert):
                if cert is leaf:
                    return CertificateProblem.SELF_SIGNED, f"{_describe(cert)} signed itself"
                return (CertificateProblem.UNTRUSTED_ISSUER,
                        f"the chain ends at {_describe(cert)}, a root the client does not trust")
            if trusted or sent:
                return (CertificateProblem.BAD_SIGNATURE,
                        f"{_describe(cert)}'s signature does not verify with the public key of "
                        f"its issuer {_describe((trusted + sent)[0])}")
            issuer = _common_name(cert.issuer) or cert.issuer.rfc4514_string()
            where = ("its intermediate certificate is missing from the chain, or "
                     if not presented and cert is leaf else "")
            return (CertificateProblem.UNTRUSTED_ISSUER,
                    f'{_describe(cert)} was issued by "{issuer}": {where}that CA is neither in the '
                    "trust store nor in the chain sent")
        issuer_cert = signers[0]
        constraints = _extension(issuer_cert, x509.BasicConstraints)
        key_usage = _extension(issuer_cert, x509.KeyUsage)
        if constraints is None or not constraints.ca:
            return (CertificateProblem.UNTRUSTED_ISSUER,
                    f"{_describe(cert)} was signed by {_describe(issuer_cert)}, which is not a CA "
                    "(no basicConstraints CA:TRUE), so it may not issue certificates")
        if key_usage is not None and not key_usage.key_cert_sign:
            return (CertificateProblem.UNTRUSTED_ISSUER,
                    f"{_describe(issuer_cert)}'s keyUsage lacks keyCertSign: it may not issue "
                    "certificates")
        # RFC 5280 §4.2.1.9: pathlen counts the intermediate CAs that may follow this one.
        if constraints.path_length is not None and len(path) - 1 > constraints.path_length:
            return (CertificateProblem.UNTRUSTED_ISSUER,
                    f"{_describe(issuer_cert)} has pathlen {constraints.path_length}: it may not "
                    "issue the CA certificates below it")
        path.append(issuer_cert)
        if issuer_cert in trust:
            return path
        cert = issuer_cert
    return CertificateProblem.UNTRUSTED_ISSUER, f"the chain is longer than {MAX_CHAIN_DEPTH} certificates"


def _timestamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _validity_problem(path: list[x509.Certificate], now: datetime.datetime,
                      ) -> tuple[CertificateProblem, str] | None:
    for cert in path:  # RFC 5280 §4.1.2.5: every certificate of the path must be valid now
        if now > cert.not_valid_after_utc:
            return (CertificateProblem.EXPIRED,
                    f"{_describe(cert)} expired on {_timestamp(cert.not_valid_after_utc)}")
        if now < cert.not_valid_before_utc:
            return (CertificateProblem.NOT_YET_VALID,
                    f"{_describe(cert)} is valid from {_timestamp(cert.not_valid_before_utc)}")
    return None


_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def _usage_problem(path: list[x509.Certificate], usage: Usage) -> tuple[CertificateProblem, str] | None:
    leaf = path[0]
    side = "server" if usage is Usage.SERVER else "client"
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        return (CertificateProblem.WRONG_KEY_USAGE,
                f"{_describe(leaf)} is a CA certificate, not a {side} certificate")
    key_usage = _extension(leaf, x509.KeyUsage)
    if key_usage is not None and key_usage.key_cert_sign:
        return (CertificateProblem.WRONG_KEY_USAGE,
                f"{_describe(leaf)}'s keyUsage allows signing certificates, which a {side} "
                "certificate must not")
    for cert in path:  # RFC 5280 §4.2.1.12: an extendedKeyUsage, if present, must allow the use
        eku = _extension(cert, x509.ExtendedKeyUsage)
        if eku is None or usage.oid in eku:
            continue
        if cert is not leaf and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
            continue
        allowed = ", ".join(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku) or "nothing"
        return (CertificateProblem.WRONG_KEY_USAGE,
                f"{_describe(cert)}'s extendedKeyUsage allows {allowed}, not {usage.value}")
    return None


def _names_in(cert: x509.Certificate) -> list[x509.GeneralName]:
    san = _extension(cert, x509.SubjectAlternativeName)
    return list(san) if san is not None else []


def _name_matches(cert: x509.Certificate, wanted: str) -> bool:
    """RFC 6125 §6.4: the wanted name against the SAN (never the CN); a wildcard stands
    for exactly one whole leftmost label; IP addresses match IP entries only."""
    general_names = _names_in(cert)
    if _is_ip(wanted):
        address = ipaddress.ip_address(wanted)
        return any(isinstance(g, x509.IPAddress) and g.value == address for g in general_names)
    host = wanted.lower().rstrip(".")
    first, _, rest = host.partition(".")
    for general_name in general_names:
        if not isinstance(general_name, x509.DNSName):
            continue
        pattern = general_name.value.lower().rstrip(".")
        if pattern == host or (pattern.startswith("*.") and first and rest == pattern[2:]):
            return True
    return False


def _name_problem(leaf: x509.Certificate, wanted: str) -> tuple[CertificateProblem, str] | None:
    if _name_matches(leaf, wanted):
        return None
    listed = [str(g.value) for g in _names_in(leaf)]
    if not listed:
        return (CertificateProblem.HOSTNAME_MISMATCH,
                f"{_describe(leaf)} has no subjectAltName, and clients match names only there "
                f"(not in the common name), so it cannot be for {wanted}")
    return (CertificateProblem.HOSTNAME_MISMATCH,
            f"it is issued for {', '.join(listed)}, not {wanted}")


def _classify(certs: list[x509.Certificate], trust: list[x509.Certificate], now: datetime.datetime,
              usage: Usage, name: str | None, message: str) -> tuple[CertificateProblem, str]:
    """Names the reason a verifier refused a chain, from what the certificates say.

    Most fundamental first, so a certificate with several faults gets the one that
    matters most: who issued it (self-signed; an unknown, missing or non-CA issuer; a
    signature that does not verify with the issuer's public key), then the validity
    period of every certificate on the path, then what the leaf may be used for, then
    its name. When none of these explains the refusal, the certificate breaks some
    other rule of the profile (a missing AKI, a weak key...): that is reported as
    MALFORMED, with the verifier's own words (``message``) as the detail.
    """
    traced = _trace_to_trust(certs, trust)
    if isinstance(traced, tuple):
        return traced
    found = _validity_problem(traced, now) or _usage_problem(traced, usage)
    if found is None and name is not None:
        found = _name_problem(certs[0], name)
    return found or (CertificateProblem.MALFORMED,
                     f"it breaks a rule browsers enforce; the verifier says: {message}")


def _refuse(problem: tuple[CertificateProblem, str]) -> CertificateRejected:
    return CertificateRejected(*problem)


def _refuse_untrusted(certs: list[x509.Certificate]) -> CertificateRejected:
    """With an empty trust store nothing verifies; still say whose chain it was."""
    traced = _trace_to_trust(certs, [])
    problem, detail = traced if isinstance(traced, tuple) else (CertificateProblem.UNTRUSTED_ISSUER, "")
    return CertificateRejected(problem, f"the trust store is empty; {detail}")


def verify_server_chain(der_chain: tuple[bytes, ...], trust: list[x509.Certificate],
                        host: str, now: datetime.datetime) -> x509.Certificate:
    """Checks a server's chain as a browser would: trust, validity, name, serverAuth usage.

    ``der_chain`` is the Certificate message's certificate_list, leaf first
    (RFC 5246 §7.4.2). Returns the leaf; raises :class:`CertificateRejected`.
    """
    now = _utc(now)
    certs = _load_chain(der_chain)
    leaf, intermediates = certs[0], certs[1:]
    if not trust:
        raise _refuse_untrusted(certs)
    trust_key = tuple(trust)
    cache_key = (der_chain, host, trust_key)
    path = _verified_paths.get(cache_key)
    if path is not None and all(c.not_valid_before_utc <= now <= c.not_valid_after_utc for c in path):
        return leaf
    try:
        verifier = PolicyBuilder().store(_store(trust_key)).time(now).build_server_verifier(
            _general_name(host))
    except ValueError:
        raise CertificateRejected(CertificateProblem.HOSTNAME_MISMATCH,
                                  f"{host!r} is not a server name a certificate can be checked "
                                  "against") from None
    try:
        verified = verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        raise _refuse(_classify(certs, trust, now, Usage.SERVER, host, str(exc))) from None
    _remember_path(cache_key, tuple(verified))
    return leaf


# webpki's rules for a leaf, except that a client certificate may lack a subjectAltName: RFC 5280
# requires one only when the subject name is empty (§4.2.1.6), and client certificates that name
# their holder in the subject's CN alone are common. A server that expects a name still needs it
# in the SAN (``expected_name``).
_CLIENT_LEAF_POLICY = ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)


def verify_client_chain(der_chain: tuple[bytes, ...], trust: list[x509.Certificate],
                        now: datetime.datetime, expected_name: str | None = None) -> x509.Certificate:
    """Checks a client's chain (mutual authentication): trust, validity, clientAuth usage.

    A client has no host name to be checked against, and its certificate need not have a
    subjectAltName; when the server knows whom it expects, ``expected_name`` must then be
    among the leaf's subjectAltNames.
    Returns the leaf; raises :class:`CertificateRejected`.
    """
    now = _utc(now)
    certs = _load_chain(der_chain)
    leaf, intermediates = certs[0], certs[1:]
    if not trust:
        raise _refuse_untrusted(certs)
    verifier = (PolicyBuilder().store(_store(tuple(trust))).time(now)
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=_CLIENT_LEAF_POLICY)
                .build_client_verifier())
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        raise _refuse(_classify(certs, trust, now, Usage.CLIENT, expected_name, str(exc))) from None
    if expected_name is not None:
        mismatch = _name_problem(leaf, expected_name)
        if mismatch is not None:
            raise _refuse(mismatch)
    return leaf


def load_pem_certificates(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate file: {exc}") from None


def load_pem_private_key(pem: bytes) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(pem, password=None)


def private_key_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
