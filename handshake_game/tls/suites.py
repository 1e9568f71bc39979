"""Cipher suites, named groups and signature schemes, by their IANA names.

RFC 5288 (AES-GCM, and DHE + AES-GCM), RFC 5289 (ECDHE + AES-GCM), RFC 7905
(ChaCha20-Poly1305), RFC 8422 (ECC groups), RFC 8446 §4.2.3 (signature schemes, shared
with TLS 1.2).

The two DHE suites are the game's only (its weak-dh scenario, ``weakdh``): they are
real entries so that the key schedule and the record layer serve them as any other suite,
but they are in no default list, and the network tools never offer or accept them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305


class KeyExchange(enum.Enum):
    RSA = "RSA"  # premaster encrypted to the server certificate's RSA key
    ECDHE = "ECDHE"  # ephemeral elliptic-curve Diffie-Hellman, signed by the server
    # Ephemeral finite-field Diffie-Hellman, signed by the server (RFC 5246 §7.4.3): the
    # game's weak-dh scenario only, never the network tools.
    DHE = "DHE"


class Authentication(enum.Enum):
    RSA = "RSA"
    ECDSA = "ECDSA"
    ANY = "any"  # TLS 1.3: the suite names only the AEAD and the hash


@dataclass(frozen=True)
class CipherSuite:
    """What one suite code commits both sides to (TLS 1.2 semantics)."""

    code: int
    name: str
    key_exchange: KeyExchange
    authentication: Authentication
    aead: str  # "AES-128-GCM", "AES-256-GCM" or "CHACHA20-POLY1305"
    key_length: int
    fixed_iv_length: int  # RFC 5288 §3: 4-byte salt; RFC 7905 §2: 12-byte IV
    record_iv_length: int  # explicit nonce carried in each record (8 for GCM, 0 for ChaCha)
    hash_name: str  # the PRF hash (HKDF hash in TLS 1.3)
    tls13: bool = False

    @property
    def hash(self) -> hashes.HashAlgorithm:
        return hashes.SHA384() if self.hash_name == "SHA384" else hashes.SHA256()

    @property
    def openssl_name(self) -> str:
        return OPENSSL_NAMES[self.name]

    def aead_class(self) -> type[AESGCM] | type[ChaCha20Poly1305]:
        return ChaCha20Poly1305 if self.aead == "CHACHA20-POLY1305" else AESGCM


def _suite(code: int, name: str) -> CipherSuite:
    kx = (KeyExchange.ECDHE if name.startswith("TLS_ECDHE_")
          else KeyExchange.DHE if name.startswith("TLS_DHE_") else KeyExchange.RSA)
    auth = Authentication.ECDSA if "_ECDSA_" in name else Authentication.RSA
    if "CHACHA20_POLY1305" in name:
        return CipherSuite(code, name, kx, auth, "CHACHA20-POLY1305", 32, 12, 0, "SHA256")
    if "AES_256_GCM" in name:
        return CipherSuite(code, name, kx, auth, "AES-256-GCM", 32, 4, 8, "SHA384")
    return CipherSuite(code, name, kx, auth, "AES-128-GCM", 16, 4, 8, "SHA256")


def _suite13(code: int, name: str) -> CipherSuite:
    """RFC 8446 §B.4: (EC)DHE is always used here; the suite fixes AEAD and hash."""
    if "CHACHA20" in name:
        return CipherSuite(code, name, KeyExchange.ECDHE, Authentication.ANY, "CHACHA20-POLY1305",
                           32, 12, 0, "SHA256", tls13=True)
    if "AES_256" in name:
        return CipherSuite(code, name, KeyExchange.ECDHE, Authentication.ANY, "AES-256-GCM", 32, 12, 0,
                           "SHA384", tls13=True)
    return CipherSuite(code, name, KeyExchange.ECDHE, Authentication.ANY, "AES-128-GCM", 16, 12, 0,
                       "SHA256", tls13=True)


CIPHER_SUITES: dict[int, CipherSuite] = {
    s.code: s
    for s in (
        _suite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        _suite(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        _suite(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        _suite(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        _suite(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
        _suite(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        _suite(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
        _suite(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
        # The game's weak-dh scenario only (RFC 5288 §3); see the module docstring.
        _suite(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
        _suite(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
        _suite13(0x1301, "TLS_AES_128_GCM_SHA256"),
        _suite13(0x1302, "TLS_AES_256_GCM_SHA384"),
        _suite13(0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    )
}
SUITES_BY_NAME: dict[str, CipherSuite] = {s.name: s for s in CIPHER_SUITES.values()}

OPENSSL_NAMES: dict[str, str] = {
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256": "DHE-RSA-AES128-GCM-SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": "DHE-RSA-AES256-GCM-SHA384",
    "TLS_AES_128_GCM_SHA256": "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384": "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256": "TLS_CHACHA20_POLY1305_SHA256",
}

# Signalling value, not a suite: RFC 5746 §3.3.
TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF

# What a browser-like client offers, strongest forward-secret suites first. No DHE suite:
# those are the game's weak-dh scenario's only.
# TLS 1.3 suites first, as browsers order them; the TLS 1.2 ones follow. The server walks
# the same list and skips suites its certificate key cannot serve.
DEFAULT_TLS13_CIPHER_SUITES: tuple[str, ...] = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
)
DEFAULT_CIPHER_SUITES: tuple[str, ...] = DEFAULT_TLS13_CIPHER_SUITES + (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
)


def suite_by_name(name: str) -> CipherSuite:
    """Looks up an IANA name (or its OpenSSL spelling)."""
    if name in SUITES_BY_NAME:
        return SUITES_BY_NAME[name]
    for iana, openssl in OPENSSL_NAMES.items():
        if openssl == name:
            return SUITES_BY_NAME[iana]
    raise KeyError(f"unknown cipher suite {name!r}; known: {', '.join(SUITES_BY_NAME)}")


# Names of suites this engine does not implement, so traces of real clients read well.
OTHER_SUITE_NAMES: dict[int, str] = {
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x5600: "TLS_FALLBACK_SCSV",
}


def suite_name(code: int) -> str:
    known = CIPHER_SUITES.get(code)
    if known is not None:
        return known.name
    if code in OTHER_SUITE_NAMES:
        return OTHER_SUITE_NAMES[code]
    if code & 0x0F0F == 0x0A0A and code >> 8 == code & 0xFF:
        return "GREASE"  # RFC 8701
    return f"unknown_0x{code:04x}"


class NamedGroup(enum.IntEnum):
    """RFC 8422 §5.1.1 / RFC 8446 §4.2.7."""

    secp256r1 = 23
    secp384r1 = 24
    secp521r1 = 25
    x25519 = 29
    x448 = 30
    ffdhe2048 = 256
    ffdhe3072 = 257
    ffdhe4096 = 258
    ffdhe6144 = 259
    ffdhe8192 = 260


SUPPORTED_GROUPS: tuple[NamedGroup, ...] = (NamedGroup.x25519, NamedGroup.secp256r1)


def group_name(code: int) -> str:
    try:
        return NamedGroup(code).name
    except ValueError:
        return f"unknown_0x{code:04x}"


class SignatureScheme(enum.IntEnum):
    """RFC 8446 §4.2.3; the same code points serve TLS 1.2's signature_algorithms."""

    rsa_pkcs1_sha1 = 0x0201
    ecdsa_sha1 = 0x0203
    rsa_pkcs1_sha256 = 0x0401
    rsa_pkcs1_sha384 = 0x0501
    rsa_pkcs1_sha512 = 0x0601
    ecdsa_secp256r1_sha256 = 0x0403
    ecdsa_secp384r1_sha384 = 0x0503
    ecdsa_secp521r1_sha512 = 0x0603
    rsa_pss_rsae_sha256 = 0x0804
    rsa_pss_rsae_sha384 = 0x0805
    rsa_pss_rsae_sha512 = 0x0806
    ed25519 = 0x0807
    ed448 = 0x0808
    rsa_pss_pss_sha256 = 0x0809
    rsa_pss_pss_sha384 = 0x080A
    rsa_pss_pss_sha512 = 0x080B
    # Legacy TLS 1.2 pairs (hash, signature) that real clients still list.
    rsa_sha224 = 0x0301
    dsa_sha224 = 0x0302
    ecdsa_sha224 = 0x0303
    dsa_sha256 = 0x0402
    dsa_sha384 = 0x0502
    dsa_sha512 = 0x0602


def scheme_name(code: int) -> str:
    try:
        return SignatureScheme(code).name
    except ValueError:
        return f"unknown_0x{code:04x}"


# What we sign with and accept, in our order of preference.
SUPPORTED_SIGNATURE_SCHEMES: tuple[SignatureScheme, ...] = (
    SignatureScheme.rsa_pss_rsae_sha256,
    SignatureScheme.ecdsa_secp256r1_sha256,
    SignatureScheme.rsa_pss_rsae_sha384,
    SignatureScheme.ecdsa_secp384r1_sha384,
    SignatureScheme.rsa_pss_rsae_sha512,
    SignatureScheme.rsa_pkcs1_sha256,
    SignatureScheme.rsa_pkcs1_sha384,
    SignatureScheme.rsa_pkcs1_sha512,
)


class ProtocolVersion(enum.IntEnum):
    TLSv1_0 = 0x0301
    TLSv1_1 = 0x0302
    TLSv1_2 = 0x0303
    TLSv1_3 = 0x0304


def version_name(code: int) -> str:
    try:
        return ProtocolVersion(code).name.replace("v", " ").replace("_", ".")
    except ValueError:
        return f"unknown 0x{code:04x}"


# RFC 8446 §4.4.3: RSASSA-PKCS1-v1_5 and SHA-1 may not sign a TLS 1.3 CertificateVerify.
NOT_IN_TLS13_SIGNATURES = frozenset({
    SignatureScheme.rsa_pkcs1_sha1, SignatureScheme.rsa_pkcs1_sha256, SignatureScheme.rsa_pkcs1_sha384,
    SignatureScheme.rsa_pkcs1_sha512, SignatureScheme.ecdsa_sha1,
})

# RFC 8446 §4.1.3: the last 8 bytes of server_random when a TLS 1.3 server negotiates an
# older version; a TLS 1.3 client that sees them knows someone removed TLS 1.3 from its offer.
DOWNGRADE_SENTINEL_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_SENTINEL_TLS11 = b"DOWNGRD\x00"
