"""Key exchange and signatures for TLS 1.2, on ``cryptography``.

RSA key transport (RFC 5246 §7.4.7.1), ephemeral ECDH on x25519 and secp256r1
(RFC 8422 §5.10), and the signature schemes of ServerKeyExchange and
CertificateVerify (RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3). Private randomness —
the premaster, ECDH private keys — comes from the caller's ``rng`` so a replay of
the same inputs rebuilds the same keys; padding randomness stays inside OpenSSL.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .alerts import (
    AlertDecryptError,
    AlertHandshakeFailure,
    AlertIllegalParameter,
)
from .suites import NamedGroup, SignatureScheme

Rng = Callable[[int], bytes]

PRE_MASTER_SECRET_LENGTH = 48

# secp256r1's group order (SEC 2 §2.4.2), to map random bytes onto a valid scalar.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class EcdhePrivateKey:
    """One side's ephemeral ECDH key on a named group."""

    def __init__(self, group: NamedGroup, rng: Rng) -> None:
        self.group = group
        self._x25519: x25519.X25519PrivateKey | None = None
        self._p256: ec.EllipticCurvePrivateKey | None = None
        if group == NamedGroup.x25519:
            self._x25519 = x25519.X25519PrivateKey.from_private_bytes(rng(32))
        elif group == NamedGroup.secp256r1:
            scalar = int.from_bytes(rng(40), "big") % (_P256_ORDER - 1) + 1
            self._p256 = ec.derive_private_key(scalar, ec.SECP256R1())
        else:
            raise AlertHandshakeFailure(f"group {group!r} is not supported")

    def public_bytes(self) -> bytes:
        if self._x25519 is not None:
            return self._x25519.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert self._p256 is not None
        return self._p256.public_key().public_bytes(Encoding.X962,
                                                    PublicFormat.UncompressedPoint)

    def private_bytes(self) -> bytes:
        """The raw private value — for the game's wallet and the debrief only."""
        if self._x25519 is not None:
            from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

            return self._x25519.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        assert self._p256 is not None
        return self._p256.private_numbers().private_value.to_bytes(32, "big")

    def exchange(self, peer_public: bytes) -> bytes:
        """The shared secret: the premaster of ECDHE suites (RFC 8422 §5.10)."""
        try:
            if self._x25519 is not None:
                if len(peer_public) != 32:
                    raise AlertIllegalParameter("an x25519 public key is 32 bytes")
                peer = x25519.X25519PublicKey.from_public_bytes(peer_public)
                return self._x25519.exchange(peer)
            assert self._p256 is not None
            if len(peer_public) != 65 or peer_public[0] != 4:
                raise AlertIllegalParameter("a secp256r1 share must be an uncompressed point")
            point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_public)
            return self._p256.exchange(ec.ECDH(), point)
        except ValueError as exc:
            raise AlertIllegalParameter(f"the peer's ECDH share is not a valid point: {exc}")\
                from None


def new_pre_master_secret(client_version: int, rng: Rng) -> bytes:
    """RFC 5246 §7.4.7.1: client_version (2 bytes) + 46 random bytes."""
    return client_version.to_bytes(2, "big") + rng(PRE_MASTER_SECRET_LENGTH - 2)


def rsa_encrypt_pre_master(public_key: CertificatePublicKeyTypes, pre_master: bytes) -> bytes:
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise AlertHandshakeFailure("RSA key exchange needs an RSA certificate key")
    return public_key.encrypt(pre_master, padding.PKCS1v15())


def rsa_decrypt_pre_master(private_key: PrivateKeyTypes, encrypted: bytes,
                           client_version: int, rng: Rng) -> bytes:
    """RFC 5246 §7.4.7.1: on any failure, continue with a random premaster.

    Reporting a padding failure would give an attacker Bleichenbacher's oracle, so
    a bad ciphertext simply leads to a Finished that does not verify.
    """
    substitute = new_pre_master_secret(client_version, rng)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        return substitute
    try:
        decrypted = private_key.decrypt(encrypted, padding.PKCS1v15())
    except ValueError:
        return substitute
    if len(decrypted) != PRE_MASTER_SECRET_LENGTH or decrypted[:2] != substitute[:2]:
        return substitute
    return decrypted


# -- signatures ------------------------------------------------------------------

_HASHES: dict[SignatureScheme, type[hashes.HashAlgorithm]] = {
    SignatureScheme.rsa_pkcs1_sha1: hashes.SHA1,
    SignatureScheme.rsa_pkcs1_sha256: hashes.SHA256,
    SignatureScheme.rsa_pkcs1_sha384: hashes.SHA384,
    SignatureScheme.rsa_pkcs1_sha512: hashes.SHA512,
    SignatureScheme.rsa_pss_rsae_sha256: hashes.SHA256,
    SignatureScheme.rsa_pss_rsae_sha384: hashes.SHA384,
    SignatureScheme.rsa_pss_rsae_sha512: hashes.SHA512,
    SignatureScheme.ecdsa_secp256r1_sha256: hashes.SHA256,
    SignatureScheme.ecdsa_secp384r1_sha384: hashes.SHA384,
    SignatureScheme.ecdsa_secp521r1_sha512: hashes.SHA512,
}

_RSA_PSS = {SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_rsae_sha384,
            SignatureScheme.rsa_pss_rsae_sha512}
_RSA_PKCS1 = {SignatureScheme.rsa_pkcs1_sha1, SignatureScheme.rsa_pkcs1_sha256,
              SignatureScheme.rsa_pkcs1_sha384, SignatureScheme.rsa_pkcs1_sha512}
_ECDSA_CURVES = {
    SignatureScheme.ecdsa_secp256r1_sha256: "secp256r1",
    SignatureScheme.ecdsa_secp384r1_sha384: "secp384r1",
    SignatureScheme.ecdsa_secp521r1_sha512: "secp521r1",
}


def scheme_fits_key(scheme: int, key: PrivateKeyTypes | CertificatePublicKeyTypes, *,
                    tls12: bool = False) -> bool:
    """Whether a key of this type (and curve) can make or check ``scheme``.

    TLS 1.3 binds each ECDSA scheme to one curve (RFC 8446 §4.2.3). In TLS 1.2 the same
    code points are (hash, signature) pairs, ecdsa_secp384r1_sha384 being (sha384, ecdsa):
    any hash goes with any curve (RFC 5246 §7.4.1.4.1, RFC 8422 §5.10). ``tls12`` asks
    for that reading.
    """
    if scheme in _RSA_PSS or scheme in _RSA_PKCS1:
        return isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey)
    curve = _ECDSA_CURVES.get(SignatureScheme(scheme)) if scheme in _ECDSA_CURVES else None
    if curve is not None and isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return tls12 or key.curve.name == curve
    return False


def choose_signature_scheme(key: PrivateKeyTypes, ours: tuple[int, ...],
                            theirs: tuple[int, ...], *, tls12: bool = False) -> SignatureScheme:
    """Our first preference that the peer accepts and our key can make."""
    for scheme in ours:
        if scheme in theirs and scheme_fits_key(scheme, key, tls12=tls12):
            return SignatureScheme(scheme)
    raise AlertHandshakeFailure("no signature scheme in common that fits the certificate key")


def sign(key: PrivateKeyTypes, scheme: int, data: bytes) -> bytes:
    known = SignatureScheme(scheme)
    algorithm = _HASHES[known]()
    if known in _RSA_PSS and isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
        return key.sign(data, pss, algorithm)
    if known in _RSA_PKCS1 and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    if known in _ECDSA_CURVES and isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm))
    raise AlertHandshakeFailure(f"cannot sign {known.name} with this key")


def verify(key: CertificatePublicKeyTypes, scheme: int, signature: bytes, data: bytes, *,
           tls12: bool = False) -> None:
    """Raises ``decrypt_error`` (RFC 5246 §7.2.2) when the signature does not verify.

    ``tls12``: the scheme names a hash, not a curve (see :func:`scheme_fits_key`).
    """
    if scheme not in _HASHES or not scheme_fits_key(scheme, key, tls12=tls12):
        raise AlertIllegalParameter(
            f"signature scheme 0x{scheme:04x} does not match the certificate key")
    known = SignatureScheme(scheme)
    algorithm = _HASHES[known]()
    try:
        if known in _RSA_PSS and isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
            key.verify(signature, data, pss, algorithm)
        elif known in _RSA_PKCS1 and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise AlertIllegalParameter("signature scheme does not match the key")
    except InvalidSignature:
        raise AlertDecryptError(
            f"the {known.name} signature does not verify with the certificate's key") from None
