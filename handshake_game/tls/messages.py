"""TLS 1.2 handshake messages: byte-exact encode, decode, and dissection.

Each message is a frozen dataclass with ``body()`` (its encoding, RFC 5246 §7.4)
and ``pull(reader)`` (its decoding). The same ``pull`` code run with a dissecting
:class:`Reader` yields the field tree the byte inspector shows, so what a
student sees explained is exactly what was parsed.

Extensions are kept as raw ``(type, data)`` pairs so that re-encoding is always
byte-exact; typed accessors read the ones the engine acts on.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from cryptography import x509

from ._codec import DecodeError, Field, Reader, Writer, encode_vector, short_hex
from .alerts import AlertDescription, AlertIllegalParameter, AlertLevel, describe_alert
from .suites import (
    CIPHER_SUITES,
    KeyExchange,
    group_name,
    scheme_name,
    suite_name,
    version_name,
)


class HandshakeType(enum.IntEnum):
    """RFC 5246 §7.4 (and RFC 8446 §4 for the shared code points)."""

    hello_request = 0
    client_hello = 1
    server_hello = 2
    new_session_ticket = 4
    end_of_early_data = 5
    encrypted_extensions = 8
    certificate = 11
    server_key_exchange = 12
    certificate_request = 13
    server_hello_done = 14
    certificate_verify = 15
    client_key_exchange = 16
    finished = 20
    key_update = 24
    message_hash = 254


class ExtensionType(enum.IntEnum):
    server_name = 0
    status_request = 5
    supported_groups = 10
    ec_point_formats = 11
    signature_algorithms = 13
    application_layer_protocol_negotiation = 16
    signed_certificate_timestamp = 18
    padding = 21
    encrypt_then_mac = 22
    extended_master_secret = 23
    record_size_limit = 28
    session_ticket = 35
    pre_shared_key = 41
    early_data = 42
    supported_versions = 43
    cookie = 44
    psk_key_exchange_modes = 45
    certificate_authorities = 47
    signature_algorithms_cert = 50
    post_handshake_auth = 49
    key_share = 51
    renegotiation_info = 0xFF01


def extension_name(code: int) -> str:
    try:
        return ExtensionType(code).name
    except ValueError:
        return f"unknown_{code}"


EXTENSION_EXPLANATIONS: dict[int, str] = {
    ExtensionType.server_name: "SNI: the host name the client wants (RFC 6066 §3)",
    ExtensionType.supported_groups: "elliptic curves the client can do (EC)DHE on (RFC 8422 §5.1.1)",
    ExtensionType.ec_point_formats: "how EC points are encoded; uncompressed only (RFC 8422 §5.1.2)",
    ExtensionType.signature_algorithms: "signature schemes the peer accepts (RFC 5246 §7.4.1.4.1)",
    ExtensionType.extended_master_secret: "bind the master secret to the whole handshake (RFC 7627)",
    ExtensionType.renegotiation_info: "secure renegotiation signal (RFC 5746)",
    ExtensionType.session_ticket: "stateless session resumption (RFC 5077)",
    ExtensionType.supported_versions: "TLS versions offered, or the one chosen (RFC 8446 §4.2.1)",
    ExtensionType.cookie: "state the server asks the client to echo after HelloRetryRequest",
    ExtensionType.pre_shared_key: "resume with a pre-shared key (RFC 8446 §4.2.11)",
    ExtensionType.early_data: "0-RTT data (RFC 8446 §4.2.10)",
    ExtensionType.key_share: "TLS 1.3 (EC)DHE public keys (RFC 8446 §4.2.8)",
    ExtensionType.application_layer_protocol_negotiation: "ALPN: http/1.1, h2… (RFC 7301)",
    ExtensionType.encrypt_then_mac: "MAC after encryption for CBC suites (RFC 7366)",
    ExtensionType.status_request: "ask for an OCSP staple (RFC 6066 §8)",
    ExtensionType.padding: "padding to dodge buggy middleboxes (RFC 7685)",
    ExtensionType.psk_key_exchange_modes: "TLS 1.3 resumption modes (RFC 8446 §4.2.9)",
    ExtensionType.post_handshake_auth: "TLS 1.3 client auth after the handshake",
    ExtensionType.record_size_limit: "largest record the sender will accept (RFC 8449)",
    ExtensionType.signed_certificate_timestamp: "certificate transparency (RFC 6962)",
}


@dataclass(frozen=True)
class Extension:
    type: int
    data: bytes


def _version(code: int) -> str:
    return f"0x{code:04x} ({version_name(code)})"


def _suite(code: int) -> str:
    return f"0x{code:04x} ({suite_name(code)})"


def _group(code: int) -> str:
    return f"{code} ({group_name(code)})"


def _scheme(code: int) -> str:
    return f"0x{code:04x} ({scheme_name(code)})"


def _extension(code: int) -> str:
    return f"{code} ({extension_name(code)})"


# -- extension builders (RFC 6066, RFC 8422, RFC 5246, RFC 7627, RFC 5746) --------


def server_name_extension(host: str) -> Extension:
    name = host.encode("idna")
    entry = b"\x00" + encode_vector(2, name)  # name_type host_name(0)
    return Extension(ExtensionType.server_name, encode_vector(2, entry))


def supported_groups_extension(groups: tuple[int, ...]) -> Extension:
    body = b"".join(g.to_bytes(2, "big") for g in groups)
    return Extension(ExtensionType.supported_groups, encode_vector(2, body))


def ec_point_formats_extension() -> Extension:
    return Extension(ExtensionType.ec_point_formats, b"\x01\x00")  # [uncompressed]


def signature_algorithms_extension(schemes: tuple[int, ...]) -> Extension:
    body = b"".join(s.to_bytes(2, "big") for s in schemes)
    return Extension(ExtensionType.signature_algorithms, encode_vector(2, body))


def extended_master_secret_extension() -> Extension:
    return Extension(ExtensionType.extended_master_secret, b"")


def renegotiation_info_extension(renegotiated_connection: bytes = b"") -> Extension:
    return Extension(ExtensionType.renegotiation_info, encode_vector(1, renegotiated_connection))


def supported_versions_extension(versions: tuple[int, ...]) -> Extension:
    """ClientHello form: a list (RFC 8446 §4.2.1)."""
    body = b"".join(v.to_bytes(2, "big") for v in versions)
    return Extension(ExtensionType.supported_versions, encode_vector(1, body))


def selected_version_extension(version: int) -> Extension:
    """ServerHello form: the one version chosen."""
    return Extension(ExtensionType.supported_versions, version.to_bytes(2, "big"))


def key_share_client_extension(shares: tuple[tuple[int, bytes], ...]) -> Extension:
    """RFC 8446 §4.2.8: client_shares<0..2^16-1> of KeyShareEntry."""
    body = b"".join(group.to_bytes(2, "big") + encode_vector(2, key) for group, key in shares)
    return Extension(ExtensionType.key_share, encode_vector(2, body))


def key_share_server_extension(group: int, key: bytes) -> Extension:
    return Extension(ExtensionType.key_share, group.to_bytes(2, "big") + encode_vector(2, key))


def key_share_retry_extension(group: int) -> Extension:
    """HelloRetryRequest form: only the group the server wants (RFC 8446 §4.2.8)."""
    return Extension(ExtensionType.key_share, group.to_bytes(2, "big"))


# RFC 8446 §4.2.9: PskKeyExchangeMode.
PSK_KE = 0  # resumption with the PSK alone: no (EC)DHE, no forward secrecy for this session
PSK_DHE_KE = 1  # the PSK and a fresh (EC)DHE exchange


def psk_key_exchange_modes_extension(modes: tuple[int, ...] = (PSK_DHE_KE,)) -> Extension:
    return Extension(ExtensionType.psk_key_exchange_modes, encode_vector(1, bytes(modes)))


def parse_psk_key_exchange_modes(data: bytes) -> tuple[int, ...]:
    r = Reader(data)
    modes = r.vector(1, "ke_modes", minimum=1)
    r.expect_end("psk_key_exchange_modes")
    return tuple(modes)


@dataclass(frozen=True)
class PskIdentity:
    """RFC 8446 §4.2.11: a ticket (or external PSK label) and its obfuscated age."""

    identity: bytes
    obfuscated_ticket_age: int


def session_ticket_extension(ticket: bytes = b"") -> Extension:
    """RFC 5077 §3.2: empty to ask for a ticket; the ticket itself to resume with it."""
    return Extension(ExtensionType.session_ticket, ticket)


def pre_shared_key_client_extension(identities: tuple[PskIdentity, ...],
                                    binders: tuple[bytes, ...]) -> Extension:
    """RFC 8446 §4.2.11: OfferedPsks = identities<7..2^16-1>, binders<33..2^16-1>."""
    listed = b"".join(encode_vector(2, i.identity) + i.obfuscated_ticket_age.to_bytes(4, "big")
                      for i in identities)
    binder_list = b"".join(encode_vector(1, b) for b in binders)
    return Extension(ExtensionType.pre_shared_key, encode_vector(2, listed) + encode_vector(2, binder_list))


def parse_pre_shared_key_client(data: bytes) -> tuple[tuple[PskIdentity, ...], tuple[bytes, ...]]:
    r = Reader(data)
    identities = []
    with r.bounded(2, "identities", minimum=7):
        while not r.eof():
            identity = r.vector(2, "identity", minimum=1)
            age = int.from_bytes(r.fixed(4, "obfuscated_ticket_age"), "big")
            identities.append(PskIdentity(identity, age))
    binders = []
    with r.bounded(2, "binders", minimum=33):
        while not r.eof():
            binders.append(r.vector(1, "binder", minimum=32))
    r.expect_end("pre_shared_key")
    if len(binders) != len(identities):
        # RFC 8446 §4.2.11: one binder per identity, else illegal_parameter.
        raise AlertIllegalParameter(f"{len(identities)} PSK identities but {len(binders)} binders")
    return tuple(identities), tuple(binders)


def binders_length(data: bytes) -> int:
    """The bytes the binders list takes at the end of a ClientHello (its 2-byte length included):
    the binders are computed over the ClientHello without them (RFC 8446 §4.2.11.2)."""
    r = Reader(data)
    r.vector(2, "identities", minimum=7)
    return r.remaining()


def pre_shared_key_server_extension(selected_identity: int) -> Extension:
    return Extension(ExtensionType.pre_shared_key, selected_identity.to_bytes(2, "big"))


def parse_pre_shared_key_server(data: bytes) -> int:
    r = Reader(data)
    selected = r.uint16("selected_identity")
    r.expect_end("pre_shared_key")
    return selected


def early_data_extension(max_early_data_size: int | None = None) -> Extension:
    """RFC 8446 §4.2.10: empty in ClientHello and EncryptedExtensions; in a NewSessionTicket,
    the most 0-RTT data the server will take with the ticket."""
    data = b"" if max_early_data_size is None else max_early_data_size.to_bytes(4, "big")
    return Extension(ExtensionType.early_data, data)


def parse_supported_versions(data: bytes) -> tuple[int, ...]:
    r = Reader(data)
    versions = []
    with r.bounded(1, "versions", minimum=2):
        while not r.eof():
            versions.append(r.uint16("version"))
    r.expect_end("supported_versions")
    return tuple(versions)


def parse_selected_version(data: bytes) -> int:
    r = Reader(data)
    version = r.uint16("selected_version")
    r.expect_end("supported_versions")
    return version


# RFC 8446 §4.2.8 declares key_exchange<1..2^16-1>, but an empty one is a share that is not a
# valid point rather than a broken structure: it decodes, and the key exchange refuses it with
# illegal_parameter (§4.2.8.2), as OpenSSL and the conformance suites expect.


def parse_key_share_client(data: bytes) -> tuple[tuple[int, bytes], ...]:
    r = Reader(data)
    shares = []
    with r.bounded(2, "client_shares"):
        while not r.eof():
            group = r.uint16("group")
            shares.append((group, r.vector(2, "key_exchange")))
    r.expect_end("key_share")
    return tuple(shares)


def parse_key_share_server(data: bytes) -> tuple[int, bytes]:
    r = Reader(data)
    group = r.uint16("group")
    key = r.vector(2, "key_exchange")
    r.expect_end("key_share")
    return group, key


def parse_key_share_retry(data: bytes) -> int:
    r = Reader(data)
    group = r.uint16("selected_group")
    r.expect_end("key_share")
    return group


# -- extension contents: decoded (and dissected) by type ---------------------------


def _pull_u16_list(r: Reader, name: str, explain: str, describe: Callable[[int], str],
                   minimum: int = 2) -> list[int]:
    values = []
    with r.bounded(2, name, explain, minimum=minimum):
        while not r.eof():
            values.append(r.uint16("entry", describe=describe))
        if r.dissecting:
            r.annotate(", ".join(describe(v) for v in values))
    return values


CLIENT_HELLO = "client_hello"
SERVER_HELLO = "server_hello"
HELLO_RETRY_REQUEST = "hello_retry_request"
NEW_SESSION_TICKET = "new_session_ticket"
OTHER = "other"

# RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def _pull_key_share_entry(r: Reader) -> None:
    with r.group("KeyShareEntry", "one (EC)DHE public key for one group"):
        group = r.uint16("group", describe=_group)
        r.vector(2, "key_exchange", "the sender's ephemeral public key")
        r.annotate(group_name(group))


def _pull_extension_contents(r: Reader, ext_type: int, context: str) -> None:
    in_client_hello = context == CLIENT_HELLO
    if ext_type == ExtensionType.key_share:
        if context == CLIENT_HELLO:
            with r.bounded(2, "client_shares", "one share per group the client guessed"):
                while not r.eof():
                    _pull_key_share_entry(r)
        elif context == HELLO_RETRY_REQUEST:
            r.uint16("selected_group", "the group the server wants a share for", describe=_group)
        else:
            _pull_key_share_entry(r)
    elif ext_type == ExtensionType.supported_versions and context in (SERVER_HELLO,
                                                                      HELLO_RETRY_REQUEST):
        r.uint16("selected_version", "the version the server chose", describe=_version)
    elif ext_type == ExtensionType.psk_key_exchange_modes:
        r.vector(1, "ke_modes", "0 = psk_ke: the PSK alone; 1 = psk_dhe_ke: resumption still does (EC)DHE",
                 minimum=1)
    elif ext_type == ExtensionType.pre_shared_key and context == CLIENT_HELLO and r.dissecting:
        # Decoded for the engine by parse_pre_shared_key_client, once the server has checked that
        # it is the last extension (RFC 8446 §4.2.11 names that check's alert, illegal_parameter).
        with r.bounded(2, "identities", "the tickets offered, each with its obfuscated age", minimum=7):
            while not r.eof():
                with r.group("PskIdentity"):
                    r.vector(2, "identity", "the ticket, opaque to the client", minimum=1)
                    r.fixed(4, "obfuscated_ticket_age", "ticket age in ms + ticket_age_add, mod 2^32")
        with r.bounded(2, "binders", "an HMAC over the ClientHello so far, per identity: proves "
                       "the client holds the PSK", minimum=33):
            while not r.eof():
                r.vector(1, "binder", minimum=32)
    elif ext_type == ExtensionType.pre_shared_key and context == SERVER_HELLO:
        r.uint16("selected_identity", "the index of the PSK the server accepted")
    elif ext_type == ExtensionType.early_data and context == NEW_SESSION_TICKET:
        r.fixed(4, "max_early_data_size", "the most 0-RTT data the server takes with this ticket")
    elif ext_type == ExtensionType.early_data:
        if not r.eof():
            raise DecodeError(f"early_data carries {r.remaining()} bytes here; it must be empty")
    elif ext_type == ExtensionType.cookie:
        r.vector(2, "cookie", "opaque state to echo in the second ClientHello", minimum=1)
    elif ext_type == ExtensionType.server_name and in_client_hello:
        with r.bounded(2, "server_name_list", minimum=1):
            while not r.eof():
                r.uint8("name_type", "0 = host_name")
                name = r.vector(2, "host_name", "the DNS name the client asks for", minimum=1)
                if r.dissecting:
                    r.annotate(name.decode("ascii", "replace"))
    elif ext_type == ExtensionType.supported_groups:
        _pull_u16_list(r, "named_group_list", "curves in the client's preference order",
                       group_name)
    elif ext_type == ExtensionType.ec_point_formats:
        r.vector(1, "ec_point_format_list", "0 = uncompressed", minimum=1)
    elif ext_type == ExtensionType.signature_algorithms:
        _pull_u16_list(r, "supported_signature_algorithms",
                       "hash + signature pairs the peer will verify", scheme_name)
    elif ext_type == ExtensionType.renegotiation_info:
        r.vector(1, "renegotiated_connection", "empty on a first handshake (RFC 5746 §3.2)")
    elif ext_type == ExtensionType.extended_master_secret:
        # RFC 7627 §5.1: "The "extension_data" field of this extension SHALL be empty."
        if not r.eof():
            raise DecodeError(f"extended_master_secret carries {r.remaining()} bytes; it must be empty")
    elif ext_type == ExtensionType.supported_versions and in_client_hello:
        with r.bounded(1, "versions", minimum=2):
            names = []
            while not r.eof():
                names.append(version_name(r.uint16("version", describe=_version)))
            if r.dissecting:
                r.annotate(", ".join(names))
    elif ext_type == ExtensionType.application_layer_protocol_negotiation:
        with r.bounded(2, "protocol_name_list", minimum=2):
            protocols = []
            while not r.eof():
                protocols.append(r.vector(1, "protocol_name", minimum=1).decode("ascii", "replace"))
            if r.dissecting:
                r.annotate(", ".join(protocols))
    elif not r.eof():
        r.rest("extension_data", "contents not interpreted by this engine")


def _pull_extensions(r: Reader, context: str) -> tuple[Extension, ...] | None:
    """RFC 5246 §7.4.1.2: the extensions block is optional; absent means None."""
    if r.eof():
        return None
    extensions: list[Extension] = []
    seen: set[int] = set()
    with r.bounded(2, "extensions", "optional capabilities the sender announces"):
        while not r.eof():
            with r.group("extension", "one extension: a type and its data"):
                ext_type = r.uint16("extension_type", describe=_extension)
                if r.dissecting:
                    r.annotate(extension_name(ext_type))
                if ext_type in seen:
                    raise DecodeError(f"extension {extension_name(ext_type)} appears twice")
                seen.add(ext_type)
                with r.bounded(2, "extension_data",
                               EXTENSION_EXPLANATIONS.get(ext_type, "")):
                    start = r.position
                    _pull_extension_contents(r, ext_type, context)
                    extensions.append(Extension(ext_type, r.raw_since(start)))
    return tuple(extensions)


def _push_extensions(w: Writer, extensions: tuple[Extension, ...] | None) -> None:
    if extensions is None:
        return
    inner = Writer()
    for ext in extensions:
        inner.uint16(ext.type)
        inner.vector(2, ext.data)
    w.vector(2, inner.getvalue())


def _find_extension(extensions: tuple[Extension, ...] | None, ext_type: int) -> bytes | None:
    for ext in extensions or ():
        if ext.type == ext_type:
            return ext.data
    return None


def parse_u16_list(data: bytes) -> tuple[int, ...]:
    r = Reader(data)
    values = []
    with r.bounded(2, "list", minimum=2):
        while not r.eof():
            values.append(r.uint16("entry"))
    r.expect_end("list")
    return tuple(values)


HOST_NAME = 0  # NameType host_name (RFC 6066 §3)


def server_name_entries(data: bytes) -> tuple[tuple[int, bytes], ...]:
    """The ServerNameList as sent, (name_type, name) pairs; only the structure is checked."""
    r = Reader(data)
    entries = []
    with r.bounded(2, "server_name_list", minimum=1):
        while not r.eof():
            name_type = r.uint8("name_type")
            entries.append((name_type, r.vector(2, "host_name", minimum=1)))
    r.expect_end("server_name")
    return tuple(entries)


def parse_server_name(data: bytes) -> str | None:
    """The host_name a ClientHello asks for; other name types are ignored (RFC 6066 §3).

    RFC 6066 §3: "The ServerNameList MUST NOT contain more than one name of the same
    name_type", and a HostName is a DNS name in ASCII. Two host names, or one holding a
    control byte, a space or a non-ASCII byte, are illegal_parameter (as OpenSSL and the
    conformance suites answer), so no such name ever reaches a log or a page.
    """
    hosts = [name for name_type, name in server_name_entries(data) if name_type == HOST_NAME]
    if len(hosts) > 1:
        raise AlertIllegalParameter(f"server_name lists {len(hosts)} host names; RFC 6066 allows one")
    if not hosts:
        return None
    if any(not 0x21 <= byte <= 0x7E for byte in hosts[0]):
        raise AlertIllegalParameter("the server_name host_name holds a control, space or non-ASCII byte")
    return hosts[0].decode("ascii")


# -- messages -------------------------------------------------------------------


@dataclass(frozen=True)
class ClientHello:
    """RFC 5246 §7.4.1.2; RFC 8446 §4.1.2."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.client_hello

    client_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: bytes = b"\x00"
    extensions: tuple[Extension, ...] | None = ()

    def extension(self, ext_type: int) -> bytes | None:
        return _find_extension(self.extensions, ext_type)

    def body(self) -> bytes:
        w = Writer()
        w.uint16(self.client_version)
        w.raw(self.random)
        w.vector(1, self.session_id)
        w.vector(2, b"".join(c.to_bytes(2, "big") for c in self.cipher_suites))
        w.vector(1, self.compression_methods)
        _push_extensions(w, self.extensions)
        return w.getvalue()

    @classmethod
    def pull(cls, r: Reader) -> ClientHello:
        version = r.uint16("client_version",
                           "TLS 1.2: the highest version the client supports (RFC 5246 §7.4.1.2); "
                           "TLS 1.3: legacy_version, frozen at 0x0303, the versions offered are in "
                           "supported_versions (RFC 8446 §4.1.2)",
                           describe=_version)
        random = r.fixed(32, "random",
                         "client_random: 32 fresh bytes; both sides mix them into every key")
        session_id = r.vector(1, "session_id", "non-empty to ask to resume a session",
                              maximum=32)
        suites = []
        with r.bounded(2, "cipher_suites", "suites the client offers, most preferred first",
                       minimum=2):
            while not r.eof():
                code = r.uint16("cipher_suite", describe=_suite)
                suites.append(code)
            if r.dissecting:
                r.annotate(f"{len(suites)} suites: " + ", ".join(suite_name(c) for c in suites))
        compression = r.vector(1, "compression_methods", "always [null] today", minimum=1)
        extensions = _pull_extensions(r, CLIENT_HELLO)
        r.expect_end("ClientHello")
        return cls(version, random, session_id, tuple(suites), compression, extensions)


@dataclass(frozen=True)
class ServerHello:
    """RFC 5246 §7.4.1.3; RFC 8446 §4.1.3 (also the HelloRetryRequest form)."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.server_hello

    server_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int = 0
    extensions: tuple[Extension, ...] | None = ()

    def extension(self, ext_type: int) -> bytes | None:
        return _find_extension(self.extensions, ext_type)

    def body(self) -> bytes:
        w = Writer()
        w.uint16(self.server_version)
        w.raw(self.random)
        w.vector(1, self.session_id)
        w.uint16(self.cipher_suite)
        w.uint8(self.compression_method)
        _push_extensions(w, self.extensions)
        return w.getvalue()

    @classmethod
    def pull(cls, r: Reader) -> ServerHello:
        version = r.uint16("server_version",
                           "TLS 1.2: the version the server chose (RFC 5246 §7.4.1.3); TLS 1.3: "
                           "legacy_version, frozen at 0x0303, the version chosen is in "
                           "supported_versions (RFC 8446 §4.1.3)",
                           describe=_version)
        random = r.fixed(32, "random",
                         "server_random: 32 fresh bytes from the server; stops replays")
        session_id = r.vector(1, "session_id", "the server's name for this session",
                              maximum=32)
        suite = r.uint16("cipher_suite", "the one suite the server picked from the offer",
                         describe=_suite)
        compression = r.uint8("compression_method", "0 = null")
        context = HELLO_RETRY_REQUEST if random == HELLO_RETRY_REQUEST_RANDOM else SERVER_HELLO
        extensions = _pull_extensions(r, context)
        r.expect_end("ServerHello")
        return cls(version, random, session_id, suite, compression, extensions)

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HELLO_RETRY_REQUEST_RANDOM


def _describe_certificate(der: bytes) -> str:
    try:
        cert = x509.load_der_x509_certificate(der)
        return f"subject {cert.subject.rfc4514_string()}; issuer {cert.issuer.rfc4514_string()}"
    except Exception:  # any parse failure: the byte inspector shows it as unparseable
        return f"{len(der)} bytes (not a parseable X.509 certificate)"


@dataclass(frozen=True)
class Certificate:
    """RFC 5246 §7.4.2: the sender's chain, leaf first, as DER."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.certificate

    certificate_list: tuple[bytes, ...]

    def body(self) -> bytes:
        inner = b"".join(encode_vector(3, cert) for cert in self.certificate_list)
        return encode_vector(3, inner)

    @classmethod
    def pull(cls, r: Reader) -> Certificate:
        certs = []
        with r.bounded(3, "certificate_list", "the chain, the sender's own certificate first"):
            while not r.eof():
                der = r.vector(3, "ASN.1Cert", "one DER-encoded X.509 certificate", minimum=1)
                certs.append(der)
        r.expect_end("Certificate")
        return cls(tuple(certs))

    def describe(self) -> list[str]:
        return [_describe_certificate(der) for der in self.certificate_list]


@dataclass(frozen=True)
class ServerKeyExchange:
    """RFC 8422 §5.4: the server's ephemeral ECDH share, signed over both randoms."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.server_key_exchange

    named_curve: int
    public: bytes
    signature_scheme: int
    signature: bytes
    curve_type: int = 3  # named_curve

    def params(self) -> bytes:
        """ServerECDHParams, the bytes the signature covers after the randoms."""
        return bytes([self.curve_type]) + self.named_curve.to_bytes(2, "big") + encode_vector(
            1, self.public
        )

    def body(self) -> bytes:
        return (self.params() + self.signature_scheme.to_bytes(2, "big")
                + encode_vector(2, self.signature))

    @classmethod
    def pull(cls, r: Reader) -> ServerKeyExchange:
        with r.group("params", "ServerECDHParams: the curve and the server's public share"):
            curve_type = r.uint8("curve_type", "3 = named_curve")
            if curve_type != 3:
                raise DecodeError(f"curve_type {curve_type} is not named_curve")
            curve = r.uint16("named_curve", "the curve for this key exchange",
                             describe=_group)
            public = r.vector(1, "public", "the server's ephemeral public key", minimum=1)
        scheme = r.uint16("signature_algorithm", "how the params were signed",
                          describe=_scheme)
        signature = r.vector(2, "signature",
                             "signature by the certificate key over client_random + "
                             "server_random + params")
        r.expect_end("ServerKeyExchange")
        return cls(curve, public, scheme, signature, curve_type)


def _pull_dh_integer(r: Reader, name: str, explain: str) -> bytes:
    """opaque name<1..2^16-1> holding a big-endian integer (RFC 5246 §7.4.3), shown with
    its size in bits: a DH group's strength is plain to see on the wire."""
    with r.bounded(2, name, explain, minimum=1):
        value = r.rest("value", "the integer, big-endian")
        if r.dissecting:
            number = int.from_bytes(value, "big")
            # Small numbers in decimal (the game's weak group), real-sized ones in hex.
            shown = str(number) if len(value) <= 8 else short_hex(value)
            r.annotate(f"{shown} ({number.bit_length()} bits)")
    return value


@dataclass(frozen=True)
class DhServerKeyExchange:
    """RFC 5246 §7.4.3: the server's finite-field DH group and share, signed over both randoms.

    Only the game's weak-dh scenario sends it (``weakdh``): the network tools never
    negotiate a DHE suite.
    """

    handshake_type: ClassVar[HandshakeType] = HandshakeType.server_key_exchange

    p: bytes
    g: bytes
    public: bytes
    signature_scheme: int
    signature: bytes

    def params(self) -> bytes:
        """ServerDHParams, the bytes the signature covers after the randoms."""
        return encode_vector(2, self.p) + encode_vector(2, self.g) + encode_vector(2, self.public)

    def body(self) -> bytes:
        return (self.params() + self.signature_scheme.to_bytes(2, "big")
                + encode_vector(2, self.signature))

    @classmethod
    def pull(cls, r: Reader) -> DhServerKeyExchange:
        with r.group("params", "ServerDHParams: the group (p, g) and the server's public value"):
            p = _pull_dh_integer(r, "dh_p", "the prime modulus p: its size is the group's strength")
            g = _pull_dh_integer(r, "dh_g", "the generator g")
            public = _pull_dh_integer(r, "dh_Ys", "the server's public value g^x mod p; x stays "
                                                  "with the server")
        scheme = r.uint16("signature_algorithm", "how the params were signed",
                          describe=_scheme)
        signature = r.vector(2, "signature",
                             "signature by the certificate key over client_random + "
                             "server_random + params")
        r.expect_end("ServerKeyExchange")
        return cls(p, g, public, scheme, signature)


@dataclass(frozen=True)
class CertificateRequest:
    """RFC 5246 §7.4.4: the server asks the client for its certificate."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.certificate_request

    certificate_types: bytes
    signature_schemes: tuple[int, ...]
    certificate_authorities: tuple[bytes, ...] = ()

    def body(self) -> bytes:
        w = Writer()
        w.vector(1, self.certificate_types)
        w.vector(2, b"".join(s.to_bytes(2, "big") for s in self.signature_schemes))
        w.vector(2, b"".join(encode_vector(2, dn) for dn in self.certificate_authorities))
        return w.getvalue()

    @classmethod
    def pull(cls, r: Reader) -> CertificateRequest:
        types = r.vector(1, "certificate_types", "1 = rsa_sign, 64 = ecdsa_sign", minimum=1)
        schemes = _pull_u16_list(r, "supported_signature_algorithms",
                                 "schemes the server accepts in CertificateVerify", scheme_name)
        cas = []
        with r.bounded(2, "certificate_authorities", "CAs whose certificates are welcome"):
            while not r.eof():
                cas.append(r.vector(2, "DistinguishedName", minimum=1))
        r.expect_end("CertificateRequest")
        return cls(types, tuple(schemes), tuple(cas))


@dataclass(frozen=True)
class ServerHelloDone:
    """RFC 5246 §7.4.5: the server's first flight is complete."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.server_hello_done

    def body(self) -> bytes:
        return b""

    @classmethod
    def pull(cls, r: Reader) -> ServerHelloDone:
        r.expect_end("ServerHelloDone")
        return cls()


@dataclass(frozen=True)
class HelloRequest:
    """RFC 5246 §7.4.1.1: the server invites renegotiation (we always refuse)."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.hello_request

    def body(self) -> bytes:
        return b""

    @classmethod
    def pull(cls, r: Reader) -> HelloRequest:
        r.expect_end("HelloRequest")
        return cls()


@dataclass(frozen=True)
class ClientKeyExchange:
    """RFC 5246 §7.4.7: RSA-encrypted premaster, the ECDH share (RFC 8422 §5.7), or the DH
    public value (RFC 5246 §7.4.7.2, always explicit: DH certificates are not supported)."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.client_key_exchange

    key_exchange: KeyExchange
    exchange_keys: bytes

    def body(self) -> bytes:
        if self.key_exchange is KeyExchange.ECDHE:
            return encode_vector(1, self.exchange_keys)
        return encode_vector(2, self.exchange_keys)  # EncryptedPreMasterSecret, dh_Yc

    @classmethod
    def pull_with(cls, r: Reader, key_exchange: KeyExchange) -> ClientKeyExchange:
        if key_exchange is KeyExchange.RSA:
            value = r.vector(2, "EncryptedPreMasterSecret",
                             "the 48-byte premaster, RSA-encrypted to the server "
                             "certificate's public key", minimum=1)
        elif key_exchange is KeyExchange.DHE:
            value = _pull_dh_integer(r, "dh_Yc", "the client's public value g^y mod p in the "
                                                 "server's group; y stays with the client")
        else:
            value = r.vector(1, "ecdh_Yc", "the client's ephemeral ECDH public key", minimum=1)
        r.expect_end("ClientKeyExchange")
        return cls(key_exchange, value)


@dataclass(frozen=True)
class CertificateVerify:
    """RFC 5246 §7.4.8: the client signs the transcript with its certificate key."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.certificate_verify

    signature_scheme: int
    signature: bytes

    def body(self) -> bytes:
        return self.signature_scheme.to_bytes(2, "big") + encode_vector(2, self.signature)

    @classmethod
    def pull(cls, r: Reader) -> CertificateVerify:
        scheme = r.uint16("signature_algorithm", "the scheme used to sign", describe=_scheme)
        signature = r.vector(2, "signature", "signature over every handshake message so far")
        r.expect_end("CertificateVerify")
        return cls(scheme, signature)


@dataclass(frozen=True)
class Finished:
    """RFC 5246 §7.4.9: PRF(master_secret, label, Hash(transcript))[0..11]."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.finished

    verify_data: bytes

    def body(self) -> bytes:
        return self.verify_data

    @classmethod
    def pull(cls, r: Reader) -> Finished:
        value = r.rest("verify_data",
                       "proves the sender saw the same handshake and holds the same "
                       "master secret")
        if not value:
            raise DecodeError("empty Finished")
        return cls(value)


@dataclass(frozen=True)
class EncryptedExtensions:
    """RFC 8446 §4.3.1: the server's extensions that need no key, sent encrypted."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.encrypted_extensions

    extensions: tuple[Extension, ...] = ()

    def body(self) -> bytes:
        w = Writer()
        _push_extensions(w, self.extensions)
        return w.getvalue()

    @classmethod
    def pull(cls, r: Reader) -> EncryptedExtensions:
        extensions = _pull_extensions(r, OTHER)
        if extensions is None:
            raise DecodeError("EncryptedExtensions needs its extensions block")
        r.expect_end("EncryptedExtensions")
        return cls(extensions)


@dataclass(frozen=True)
class Certificate13:
    """RFC 8446 §4.4.2: a request context, then each certificate with its own extensions."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.certificate

    certificate_list: tuple[bytes, ...]
    certificate_request_context: bytes = b""
    entry_extensions: tuple[bytes, ...] | None = None  # raw, one per certificate; None = all empty

    def body(self) -> bytes:
        extensions = self.entry_extensions or tuple(b"" for _ in self.certificate_list)
        entries = b"".join(encode_vector(3, cert) + encode_vector(2, ext)
                           for cert, ext in zip(self.certificate_list, extensions, strict=True))
        return encode_vector(1, self.certificate_request_context) + encode_vector(3, entries)

    @classmethod
    def pull(cls, r: Reader) -> Certificate13:
        context = r.vector(1, "certificate_request_context",
                           "empty in the server's Certificate; echoes the request for a client")
        certs, extensions = [], []
        with r.bounded(3, "certificate_list", "the chain, the sender's own certificate first"):
            while not r.eof():
                with r.group("CertificateEntry"):
                    certs.append(r.vector(3, "cert_data", "one DER-encoded X.509 certificate",
                                          minimum=1))
                    # RFC 8446 §4.4.2: Extension extensions<0..2^16-1>, decoded so that a
                    # malformed block is a decode_error; kept raw (the block's contents).
                    start = r.position
                    if _pull_extensions(r, OTHER) is None:
                        raise DecodeError("CertificateEntry without its extensions block")
                    extensions.append(r.raw_since(start)[2:])
        r.expect_end("Certificate")
        keep = tuple(extensions) if any(extensions) else None
        return cls(tuple(certs), context, keep)


@dataclass(frozen=True)
class CertificateRequest13:
    """RFC 8446 §4.3.2: the server asks for a certificate; signature_algorithms required."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.certificate_request

    extensions: tuple[Extension, ...]
    certificate_request_context: bytes = b""

    def extension(self, ext_type: int) -> bytes | None:
        return _find_extension(self.extensions, ext_type)

    def body(self) -> bytes:
        w = Writer()
        w.vector(1, self.certificate_request_context)
        _push_extensions(w, self.extensions)
        return w.getvalue()

    @classmethod
    def pull(cls, r: Reader) -> CertificateRequest13:
        context = r.vector(1, "certificate_request_context", "echoed in the client's Certificate")
        extensions = _pull_extensions(r, OTHER)
        if extensions is None:
            raise DecodeError("CertificateRequest needs its extensions block")
        r.expect_end("CertificateRequest")
        return cls(extensions, context)


@dataclass(frozen=True)
class NewSessionTicket13:
    """RFC 8446 §4.6.1: a ticket for resuming later, and the nonce its PSK is derived with."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.new_session_ticket

    ticket_lifetime: int
    ticket_age_add: int
    ticket_nonce: bytes
    ticket: bytes
    extensions: tuple[Extension, ...] = ()

    def body(self) -> bytes:
        w = Writer()
        w.raw(self.ticket_lifetime.to_bytes(4, "big"))
        w.raw(self.ticket_age_add.to_bytes(4, "big"))
        w.vector(1, self.ticket_nonce)
        w.vector(2, self.ticket)
        _push_extensions(w, self.extensions)
        return w.getvalue()

    @classmethod
    def pull(cls, r: Reader) -> NewSessionTicket13:
        lifetime = int.from_bytes(r.fixed(4, "ticket_lifetime", "seconds the ticket may be used"), "big")
        age_add = int.from_bytes(r.fixed(4, "ticket_age_add", "obscures the ticket's age"), "big")
        nonce = r.vector(1, "ticket_nonce")
        ticket = r.vector(2, "ticket", "opaque to the client", minimum=1)
        extensions = _pull_extensions(r, NEW_SESSION_TICKET)
        if extensions is None:
            raise DecodeError("NewSessionTicket needs its extensions block")
        r.expect_end("NewSessionTicket")
        return cls(lifetime, age_add, nonce, ticket, extensions)

    def max_early_data_size(self) -> int:
        """0 unless the ticket allows 0-RTT data (RFC 8446 §4.6.1, early_data)."""
        data = _find_extension(self.extensions, ExtensionType.early_data)
        return int.from_bytes(data, "big") if data is not None else 0


@dataclass(frozen=True)
class NewSessionTicket12:
    """RFC 5077 §3.3: the server's sealed session state, sent before its ChangeCipherSpec."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.new_session_ticket

    ticket_lifetime_hint: int
    ticket: bytes

    def body(self) -> bytes:
        w = Writer()
        w.raw(self.ticket_lifetime_hint.to_bytes(4, "big"))
        w.vector(2, self.ticket)
        return w.getvalue()

    @classmethod
    def pull(cls, r: Reader) -> NewSessionTicket12:
        hint = int.from_bytes(r.fixed(4, "ticket_lifetime_hint", "seconds the client may keep it; 0 = "
                                      "unspecified"), "big")
        ticket = r.vector(2, "ticket", "the session state, sealed with a key only the server holds")
        r.expect_end("NewSessionTicket")
        return cls(hint, ticket)


@dataclass(frozen=True)
class EndOfEarlyData:
    """RFC 8446 §4.5: the client's 0-RTT data ends here; sent under the early traffic keys."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.end_of_early_data

    def body(self) -> bytes:
        return b""

    @classmethod
    def pull(cls, r: Reader) -> EndOfEarlyData:
        r.expect_end("EndOfEarlyData")
        return cls()


@dataclass(frozen=True)
class KeyUpdate:
    """RFC 8446 §4.6.3: the sender switches to its next traffic secret."""

    handshake_type: ClassVar[HandshakeType] = HandshakeType.key_update

    request_update: int = 0  # 1 = update_requested: the peer should update too

    def body(self) -> bytes:
        return bytes([self.request_update])

    @classmethod
    def pull(cls, r: Reader) -> KeyUpdate:
        value = r.uint8("request_update", "1 asks the peer to update its keys too")
        if value not in (0, 1):
            # RFC 8446 §4.6.3: "any other value ... MUST terminate the connection with an
            # "illegal_parameter" alert."
            raise AlertIllegalParameter(f"request_update {value} is neither 0 nor 1")
        r.expect_end("KeyUpdate")
        return cls(value)


HandshakeMessage = (
    ClientHello | ServerHello | Certificate | ServerKeyExchange | DhServerKeyExchange | CertificateRequest
    | ServerHelloDone | HelloRequest | ClientKeyExchange | CertificateVerify | Finished
    | EncryptedExtensions | Certificate13 | CertificateRequest13 | NewSessionTicket13 | KeyUpdate
    | EndOfEarlyData | NewSessionTicket12
)

_PULLERS: dict[int, Callable[[Reader], HandshakeMessage]] = {
    HandshakeType.hello_request: HelloRequest.pull,
    HandshakeType.client_hello: ClientHello.pull,
    HandshakeType.server_hello: ServerHello.pull,
    HandshakeType.certificate: Certificate.pull,
    HandshakeType.server_key_exchange: ServerKeyExchange.pull,
    HandshakeType.certificate_request: CertificateRequest.pull,
    HandshakeType.server_hello_done: ServerHelloDone.pull,
    HandshakeType.certificate_verify: CertificateVerify.pull,
    HandshakeType.finished: Finished.pull,
    HandshakeType.new_session_ticket: NewSessionTicket12.pull,
}

# RFC 8446 §4: the messages whose layout differs in TLS 1.3, and those new in it.
_PULLERS_13: dict[int, Callable[[Reader], HandshakeMessage]] = {
    HandshakeType.client_hello: ClientHello.pull,
    HandshakeType.server_hello: ServerHello.pull,
    HandshakeType.encrypted_extensions: EncryptedExtensions.pull,
    HandshakeType.certificate: Certificate13.pull,
    HandshakeType.certificate_request: CertificateRequest13.pull,
    HandshakeType.certificate_verify: CertificateVerify.pull,
    HandshakeType.finished: Finished.pull,
    HandshakeType.new_session_ticket: NewSessionTicket13.pull,
    HandshakeType.key_update: KeyUpdate.pull,
    HandshakeType.end_of_early_data: EndOfEarlyData.pull,
}

TLS13 = 0x0304

HANDSHAKE_HEADER_LENGTH = 4

MESSAGE_EXPLANATIONS: dict[int, str] = {
    HandshakeType.hello_request: "the server asks the client to start a new handshake",
    HandshakeType.client_hello: "the client opens: its random, the suites and extensions it offers",
    HandshakeType.server_hello: "the server answers: its random and the suite it chose",
    HandshakeType.certificate: "a certificate chain that binds a name to a public key",
    HandshakeType.server_key_exchange: "the server's ephemeral (EC)DH share, signed with its "
    "certificate key",
    HandshakeType.certificate_request: "the server asks the client to authenticate too",
    HandshakeType.server_hello_done: "the server has sent its whole first flight",
    HandshakeType.client_key_exchange: "the client's contribution to the premaster secret",
    HandshakeType.certificate_verify: "a signature over the transcript with the client's key",
    HandshakeType.finished: "a MAC over the whole handshake under the new keys",
    HandshakeType.encrypted_extensions: "TLS 1.3: the server's remaining extensions, already encrypted",
    HandshakeType.new_session_ticket: "a ticket the client may use to resume later",
    HandshakeType.key_update: "TLS 1.3: the sender moves to fresh traffic keys",
    HandshakeType.end_of_early_data: "TLS 1.3: the client's 0-RTT data is over",
}


def handshake_name(code: int) -> str:
    try:
        return HandshakeType(code).name
    except ValueError:
        return f"unknown_{code}"


def encode_handshake(message: HandshakeMessage) -> bytes:
    """msg_type(1) + length(3) + body: RFC 5246 §7.4."""
    body = message.body()
    return bytes([message.handshake_type]) + len(body).to_bytes(3, "big") + body


def _pull_handshake(r: Reader, key_exchange: KeyExchange | None, version: int) -> HandshakeMessage:
    msg_type = r.uint8("msg_type", "which handshake message follows",
                       describe=lambda n: f"{n} ({handshake_name(n)})")
    with r.bounded(3, "body", MESSAGE_EXPLANATIONS.get(msg_type, "")):
        if version == TLS13:
            puller13 = _PULLERS_13.get(msg_type)
            if puller13 is None:
                raise DecodeError(f"handshake message type {msg_type} does not exist in TLS 1.3")
            return puller13(r)
        if msg_type == HandshakeType.client_key_exchange:
            if key_exchange is None:
                raise DecodeError("ClientKeyExchange needs the negotiated key exchange")
            return ClientKeyExchange.pull_with(r, key_exchange)
        if msg_type == HandshakeType.server_key_exchange and key_exchange is KeyExchange.DHE:
            # The layout follows the suite (RFC 5246 §7.4.3): ServerDHParams, not ServerECDHParams.
            return DhServerKeyExchange.pull(r)
        puller = _PULLERS.get(msg_type)
        if puller is None:
            raise DecodeError(f"unknown handshake message type {msg_type}")
        return puller(r)


def decode_handshake(raw: bytes, key_exchange: KeyExchange | None = None,
                     version: int = 0x0303) -> HandshakeMessage:
    """Decodes one whole handshake message (header included); DecodeError otherwise.

    ``version`` picks the layout where TLS 1.3 changed it (Certificate,
    CertificateRequest, NewSessionTicket) and admits the messages new in 1.3.
    ``key_exchange`` (the negotiated suite's) picks the layout of ClientKeyExchange, which
    it requires, and of ServerKeyExchange: DhServerKeyExchange for DHE, else the ECDHE form.
    """
    r = Reader(raw)
    message = _pull_handshake(r, key_exchange, version)
    r.expect_end("handshake message")
    return message


def dissect_handshake(raw: bytes, key_exchange: KeyExchange | None = None,
                      base_offset: int = 0, version: int = 0x0303) -> Field:
    """The field tree of one handshake message, offsets relative to ``base_offset``."""
    r = Reader(raw, dissect=True, base_offset=base_offset)
    name = handshake_name(raw[0]) if raw else "handshake"
    with r.group(name, MESSAGE_EXPLANATIONS.get(raw[0] if raw else -1, "")):
        _pull_handshake(r, key_exchange, version)
    # As strict as decode_handshake: bytes past the message would be shown as nothing.
    r.expect_end("handshake message")
    return r.fields()[0]


# -- non-handshake content types ----------------------------------------------------


@dataclass(frozen=True)
class ChangeCipherSpec:
    """RFC 5246 §7.1: from the next record on, this direction is encrypted."""

    def encode(self) -> bytes:
        return b"\x01"

    @classmethod
    def decode(cls, data: bytes) -> ChangeCipherSpec:
        if data != b"\x01":
            raise DecodeError("ChangeCipherSpec must be the single byte 0x01")
        return cls()


@dataclass(frozen=True)
class AlertMessage:
    """RFC 5246 §7.2."""

    level: int
    description: int

    def encode(self) -> bytes:
        return bytes([self.level, self.description])

    @classmethod
    def decode(cls, data: bytes) -> AlertMessage:
        if len(data) != 2:
            raise DecodeError(f"alert of {len(data)} bytes; must be 2")
        return cls(data[0], data[1])

    def dissect(self, base_offset: int = 0) -> Field:
        level = "warning" if self.level == AlertLevel.WARNING else "fatal"
        return Field("Alert", base_offset, 2, describe_alert(self.description),
                     "the sender reports a problem or closes the connection", (
                         Field("level", base_offset, 1, f"{self.level} ({level})"),
                         Field("description", base_offset + 1, 1,
                               describe_alert(self.description)),
                     ))


def alert_for(description: AlertDescription, fatal: bool = True) -> AlertMessage:
    return AlertMessage(AlertLevel.FATAL if fatal else AlertLevel.WARNING, description)


def summarize(message: HandshakeMessage) -> str:
    """A one-line summary of a message's key fields, for traces and ladders."""
    if isinstance(message, ClientHello):
        return (f"ClientHello {version_name(message.client_version)}, "
                f"client_random={message.random.hex()[:16]}…, "
                f"{len(message.cipher_suites)} suites")
    if isinstance(message, ServerHello):
        return (f"ServerHello {version_name(message.server_version)}, "
                f"{suite_name(message.cipher_suite)}, "
                f"server_random={message.random.hex()[:16]}…")
    if isinstance(message, Certificate):
        return f"Certificate chain of {len(message.certificate_list)}"
    if isinstance(message, ServerKeyExchange):
        return (f"ServerKeyExchange {group_name(message.named_curve)} "
                f"public={short_hex(message.public, 8)} signed {scheme_name(message.signature_scheme)}")
    if isinstance(message, DhServerKeyExchange):
        return (f"ServerKeyExchange DH group of {int.from_bytes(message.p, 'big').bit_length()} bits "
                f"public={short_hex(message.public, 8)} signed {scheme_name(message.signature_scheme)}")
    if isinstance(message, ClientKeyExchange):
        what = {KeyExchange.RSA: "encrypted premaster", KeyExchange.ECDHE: "ECDH public",
                KeyExchange.DHE: "DH public"}[message.key_exchange]
        return f"ClientKeyExchange {what} ({len(message.exchange_keys)} bytes)"
    if isinstance(message, Finished):
        return f"Finished verify_data={message.verify_data.hex()}"
    if isinstance(message, CertificateVerify):
        return f"CertificateVerify {scheme_name(message.signature_scheme)}"
    return type(message).__name__


__all__ = [
    "CIPHER_SUITES",
    "AlertMessage",
    "Certificate",
    "CertificateRequest",
    "CertificateVerify",
    "ChangeCipherSpec",
    "ClientHello",
    "ClientKeyExchange",
    "DhServerKeyExchange",
    "Extension",
    "ExtensionType",
    "Finished",
    "HandshakeMessage",
    "HandshakeType",
    "HelloRequest",
    "ServerHello",
    "ServerHelloDone",
    "ServerKeyExchange",
    "decode_handshake",
    "dissect_handshake",
    "encode_handshake",
]
