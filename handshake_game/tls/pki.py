"""Certificates: a small real CA, issuance, and chain checks.

Issuing builds X.509 v3 certificates with the extensions browsers and curl
demand (basicConstraints, keyUsage, extendedKeyUsage, subjectAltName, SKI/AKI).
Checking goes through ``cryptography``'s X.509 verification API — never
hand-written chain logic — and every failure is classified into a plain reason
and the TLS alert it maps to (RFC 5246 §7.2.2).
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from .alerts import (
    Alert,
    AlertBadCertificate,
    AlertCertificateExpired,
    AlertCertificateUnknown,
    AlertUnknownCa,
    AlertUnsupportedCertificate,
)


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str = "Handshake classroom") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _general_name(host: str) -> x509.DNSName | x509.IPAddress:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    private_key: CertificateIssuerPrivateKeyTypes

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def create_root_ca(common_name: str, now: datetime.datetime,
                   key: CertificateIssuerPrivateKeyTypes | None = None,
                   days: int = 3650) -> CertificateAuthority:
    """A self-signed root: basicConstraints CA:TRUE, keyCertSign + cRLSign."""
    key = key or generate_rsa_key()
    name = _name(common_name)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert, key)


def issue_server_certificate(ca: CertificateAuthority, hostname: str,
                             public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
                             now: datetime.datetime, days: int = 90) -> x509.Certificate:
    """A leaf for ``hostname`` with serverAuth, signed by ``ca``."""
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(hostname))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(hostname)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.private_key.public_key()), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )


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


class CertificateRejected(Alert):
    """A chain check failed; carries the classified problem and its alert code."""

    def __init__(self, problem: CertificateProblem, detail: str = "") -> None:
        self.problem = problem
        self.description = _PROBLEM_ALERTS[problem].description
        super().__init__(f"{problem.value}" + (f" ({detail})" if detail else ""))


def load_certificates(der_chain: tuple[bytes, ...]) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(der) for der in der_chain]
    except ValueError as exc:
        raise CertificateRejected(CertificateProblem.MALFORMED, str(exc)) from None


def _classify(leaf: x509.Certificate, trust: list[x509.Certificate], host: str,
              now: datetime.datetime, message: str) -> CertificateProblem:
    """Turns a verifier's refusal into the reason a student should be told.

    The verifier answers in its own words; we look at the certificate itself to
    name the cause, checking the most specific problems first.
    """
    if now > leaf.not_valid_after_utc:
        return CertificateProblem.EXPIRED
    if now < leaf.not_valid_before_utc:
        return CertificateProblem.NOT_YET_VALID
    lowered = message.lower()
    if "signature" in lowered and "invalid" in lowered:
        return CertificateProblem.BAD_SIGNATURE
    if leaf.issuer == leaf.subject and not any(leaf == t for t in trust):
        return CertificateProblem.SELF_SIGNED
    if "extendedkeyusage" in lowered or "keyusage" in lowered or "key usage" in lowered:
        return CertificateProblem.WRONG_KEY_USAGE
    if "subject" in lowered or "san" in lowered or "name" in lowered:
        trusted_issuers = {t.subject for t in trust}
        if leaf.issuer in trusted_issuers:
            return CertificateProblem.HOSTNAME_MISMATCH
    issuer_known = any(t.subject == leaf.issuer for t in trust)
    if not issuer_known:
        return CertificateProblem.UNTRUSTED_ISSUER
    return CertificateProblem.BAD_SIGNATURE


def verify_server_chain(der_chain: tuple[bytes, ...], trust: list[x509.Certificate],
                        host: str, now: datetime.datetime) -> x509.Certificate:
    """Checks a server's chain as a browser would: trust, validity, name, usage."""
    if not der_chain:
        raise CertificateRejected(CertificateProblem.MALFORMED, "empty certificate chain")
    certs = load_certificates(der_chain)
    leaf, intermediates = certs[0], certs[1:]
    if not trust:
        raise CertificateRejected(CertificateProblem.UNTRUSTED_ISSUER, "empty trust store")
    verifier = (
        PolicyBuilder().store(Store(trust)).time(now).build_server_verifier(_general_name(host))
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        raise CertificateRejected(_classify(leaf, trust, host, now, str(exc)), str(exc)) \
            from None
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
