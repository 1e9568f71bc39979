"""The reference TLS 1.2 server, as a state machine (RFC 5246 §7.3).

It answers a ClientHello with ServerHello, Certificate, ServerKeyExchange (for
ECDHE suites, signed over both randoms) and ServerHelloDone; takes the client's
ClientKeyExchange, ChangeCipherSpec and Finished; and closes the handshake with
its own ChangeCipherSpec and Finished. Suite choice follows the server's order
of preference among the suites the client offered and its certificate can serve.

With ``ServerConfig.session_tickets`` it also resumes: a TLS 1.2 session by its id or an
RFC 5077 ticket (the abbreviated handshake, RFC 5246 §7.3; a ticket is renewed each time,
RFC 5077 §3.1), and in TLS 1.3 a ticket's PSK (binder checked, psk_dhe_ke or psk_ke, 0-RTT
data if allowed and fresh, single-use tickets or a ClientHello record against replay;
RFC 8446 §2.2, §4.2.10, §4.2.11, §8).
"""

from __future__ import annotations

import enum
import hmac
import os
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from . import pki
from ._endpoint import Clock, Endpoint, TLSUsageError, utc_now
from .alerts import (
    AlertCertificateRequired,
    AlertDecryptError,
    AlertDescription,
    AlertHandshakeFailure,
    AlertIllegalParameter,
    AlertLevel,
    AlertMissingExtension,
    AlertProtocolVersion,
    AlertUnexpectedMessage,
    AlertUnsupportedExtension,
)
from .events import CheckPassed, EarlyDataReceived, HandshakeCompleted, HandshakeMessageReceived
from .keyexchange import (
    EcdhePrivateKey,
    Rng,
    choose_signature_scheme,
    rsa_decrypt_pre_master,
    sign,
    verify,
)
from .keyschedule import CLIENT_FINISHED_LABEL, SERVER_FINISHED_LABEL
from .keyschedule13 import KeySchedule, psk_binder, resumption_psk
from .messages import (
    HELLO_RETRY_REQUEST_RANDOM,
    PSK_DHE_KE,
    PSK_KE,
    AlertMessage,
    Certificate,
    Certificate13,
    CertificateRequest,
    CertificateRequest13,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    EncryptedExtensions,
    EndOfEarlyData,
    Extension,
    ExtensionType,
    Finished,
    HandshakeType,
    KeyUpdate,
    NewSessionTicket12,
    NewSessionTicket13,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    binders_length,
    decode_handshake,
    early_data_extension,
    ec_point_formats_extension,
    extended_master_secret_extension,
    handshake_name,
    key_share_retry_extension,
    key_share_server_extension,
    parse_key_share_client,
    parse_pre_shared_key_client,
    parse_psk_key_exchange_modes,
    parse_server_name,
    parse_supported_versions,
    parse_u16_list,
    pre_shared_key_server_extension,
    renegotiation_info_extension,
    selected_version_extension,
    session_ticket_extension,
    signature_algorithms_extension,
)
from .record import ContentType
from .session import SessionTickets, TicketState
from .suites import (
    CIPHER_SUITES,
    DEFAULT_CIPHER_SUITES,
    DOWNGRADE_SENTINEL_TLS12,
    NOT_IN_TLS13_SIGNATURES,
    SUPPORTED_GROUPS,
    SUPPORTED_SIGNATURE_SCHEMES,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    Authentication,
    CipherSuite,
    KeyExchange,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
    group_name,
    scheme_name,
    suite_by_name,
)


class ServerState(enum.Enum):
    SERVER_EXPECT_CLIENT_HELLO = enum.auto()
    SERVER_EXPECT_CLIENT_CERTIFICATE = enum.auto()
    SERVER_EXPECT_CLIENT_KEY_EXCHANGE = enum.auto()
    SERVER_EXPECT_CERTIFICATE_VERIFY = enum.auto()
    SERVER_EXPECT_CHANGE_CIPHER_SPEC = enum.auto()
    SERVER_EXPECT_FINISHED = enum.auto()
    # TLS 1.3 (RFC 8446 §A.2), after the server's flight:
    SERVER_EXPECT_END_OF_EARLY_DATA = enum.auto()
    SERVER_EXPECT_CLIENT_CERTIFICATE13 = enum.auto()
    SERVER_EXPECT_CERTIFICATE_VERIFY13 = enum.auto()
    SERVER_EXPECT_FINISHED13 = enum.auto()
    SERVER_CONNECTED = enum.auto()
    SERVER_ERROR = enum.auto()


# RFC 5246 §7.4.1.4.1: a client that sends no signature_algorithms accepts SHA-1.
_DEFAULT_PEER_SCHEMES = (SignatureScheme.rsa_pkcs1_sha1, SignatureScheme.ecdsa_sha1)


# ClientCertificateType, RFC 5246 §7.4.4 and RFC 8422 §5.5.
_RSA_SIGN = 1
_ECDSA_SIGN = 64

_CURVE_GROUPS = {"secp256r1": NamedGroup.secp256r1, "secp384r1": NamedGroup.secp384r1,
                 "secp521r1": NamedGroup.secp521r1}

# RFC 8422 §5.1.1-5.1.2: the elliptic-curve groups, and ECPointFormat uncompressed(0).
_EC_GROUPS = frozenset({NamedGroup.secp256r1, NamedGroup.secp384r1, NamedGroup.secp521r1,
                        NamedGroup.x25519, NamedGroup.x448})
_UNCOMPRESSED = 0
_SSL3 = 0x0300

# What the server skips of a client's refused 0-RTT data (RFC 8446 §4.2.10): OpenSSL's
# default recv_max_early_data, whatever max_early_data_size the ticket announced.
MAX_SKIPPED_EARLY_DATA = 1 << 14


@dataclass(frozen=True)
class _Resumption:
    """The PSK the server accepted from a ClientHello, and how it is used."""

    ticket: bytes
    state: TicketState
    obfuscated_age: int
    index: int
    mode: int
    binder: bytes  # verified: the key of the ClientHello record (RFC 8446 §8.2)


class ClientAuthentication(enum.Enum):
    """Whether the server sends a CertificateRequest (RFC 5246 §7.4.4)."""

    NONE = "none"
    OPTIONAL = "optional"  # ask; a client without a certificate may still connect
    REQUIRED = "required"  # ask; no certificate means handshake_failure


@dataclass(frozen=True)
class ServerConfig:
    """What the server serves, and whether (and whom) it asks for client certificates.

    ``client_trust_store`` lists the CAs whose client certificates are accepted;
    ``None`` accepts any certificate whose CertificateVerify proves key possession.
    """

    certificate_chain: tuple[bytes, ...]  # DER, leaf first
    private_key: PrivateKeyTypes = field(hash=False)
    cipher_suites: tuple[str, ...] = DEFAULT_CIPHER_SUITES
    groups: tuple[NamedGroup, ...] = SUPPORTED_GROUPS
    signature_schemes: tuple[int, ...] = tuple(SUPPORTED_SIGNATURE_SCHEMES)
    client_auth: ClientAuthentication = ClientAuthentication.NONE
    client_trust_store: list[x509.Certificate] | None = field(default=None, hash=False)
    # Versions the server will negotiate; TLS 1.3 needs a TLS 1.3 suite in cipher_suites.
    versions: tuple[int, ...] = (ProtocolVersion.TLSv1_3, ProtocolVersion.TLSv1_2)
    # Resumption: TLS 1.3 tickets (RFC 8446 §2.2), TLS 1.2 session ids and RFC 5077 tickets, all
    # from one SessionTickets shared by the server's connections. None issues no ticket, gives no
    # TLS 1.2 session id, and resumes nothing.
    session_tickets: SessionTickets | None = field(default=None, hash=False, compare=False)
    tickets_per_handshake: int = 1
    # The PSK modes the server accepts, preferred first (RFC 8446 §4.2.9).
    psk_modes: tuple[int, ...] = (PSK_DHE_KE, PSK_KE)
    # 0-RTT data taken with a ticket issued from now on (RFC 8446 §4.6.1); 0 refuses early data.
    max_early_data_size: int = 0




class TLSServer(Endpoint):
    is_client = False

    def __init__(self, config: ServerConfig, rng: Rng = os.urandom, now: Clock = utc_now) -> None:
        super().__init__(rng, now)
        self.config = config
        self.state = ServerState.SERVER_EXPECT_CLIENT_HELLO
        self._client_version = 0
        self._ecdhe: EcdhePrivateKey | None = None
        self.named_group: int | None = None
        self.server_name: str | None = None
        self.client_certificate: x509.Certificate | None = None
        self._requested_schemes: tuple[int, ...] = ()
        self._retry_group: int | None = None
        self._retry_suite: int | None = None
        self._client_handshake_secret = b""
        self._client_application_secret = b""
        self.resumed = False
        self.early_data_accepted = False
        self._early_data_left = 0
        if any(suite_by_name(n).key_exchange is KeyExchange.DHE for n in config.cipher_suites):
            # The game's weak-dh scenario only (weakdh.py): a server of real clients never selects DHE.
            raise TLSUsageError("the DHE suites are the game's weak-dh scenario's only")
        self._tls13_suites = tuple(suite_by_name(n) for n in config.cipher_suites
                                   if suite_by_name(n).tls13)
        self._supports13 = ProtocolVersion.TLSv1_3 in config.versions and bool(self._tls13_suites)
        leaf = x509.load_der_x509_certificate(config.certificate_chain[0])
        self.certificate = leaf
        self._key_is_rsa = isinstance(config.private_key, rsa.RSAPrivateKey)
        self._certificate_group: int | None = None
        if isinstance(config.private_key, ec.EllipticCurvePrivateKey):
            self._certificate_group = _CURVE_GROUPS.get(config.private_key.curve.name)

    # -- state hooks ---------------------------------------------------------------
    def _expecting_change_cipher_spec(self) -> bool:
        return self.state is ServerState.SERVER_EXPECT_CHANGE_CIPHER_SPEC

    def _on_change_cipher_spec(self) -> None:
        self._activate_read_keys()
        self.state = ServerState.SERVER_EXPECT_FINISHED

    def _set_error(self) -> None:
        self.state = ServerState.SERVER_ERROR

    def _is_connected(self) -> bool:
        return self.state is ServerState.SERVER_CONNECTED

    def _on_early_data(self, data: bytes) -> bool:
        if self.state is not ServerState.SERVER_EXPECT_END_OF_EARLY_DATA:
            return False
        self._early_data_left -= len(data)
        if self._early_data_left < 0:
            # RFC 8446 §4.2.10: more 0-RTT data than max_early_data_size is unexpected_message.
            raise AlertUnexpectedMessage("more early data than the ticket's max_early_data_size")
        self._events.append(EarlyDataReceived(data))
        return True

    def _on_post_handshake(self, msg_type: int, raw: bytes) -> bool:
        if self.version == ProtocolVersion.TLSv1_3:
            if msg_type != HandshakeType.key_update:
                # Refused by type before decoding: KeyUpdate is the only message a TLS 1.3
                # client may send after its Finished here (RFC 8446 §4.6), and a malformed
                # ClientHello would otherwise be decode_error rather than unexpected_message.
                raise AlertUnexpectedMessage(
                    f"{handshake_name(msg_type)} is not allowed after a TLS 1.3 handshake")
            message = decode_handshake(raw, None, ProtocolVersion.TLSv1_3)
            self._events.append(HandshakeMessageReceived(message, raw))
            if isinstance(message, KeyUpdate):
                self._client_application_secret = self._key_update_received(
                    message, self._client_application_secret)
                return True
            raise AlertUnexpectedMessage(f"{type(message).__name__} after the handshake")
        if msg_type == HandshakeType.client_hello:
            self._write_records(ContentType.alert, AlertMessage(
                AlertLevel.WARNING, AlertDescription.no_renegotiation).encode())
            return True
        return False

    # -- negotiation -----------------------------------------------------------------
    def _suite_problem(self, suite: CipherSuite, groups: tuple[int, ...], schemes: tuple[int, ...],
                       schemes_sent: bool) -> str | None:
        """Why this server cannot serve ``suite`` to this client in TLS 1.2; None if it can."""
        if suite.tls13:
            return "a TLS 1.3 suite, and this is a TLS 1.2 handshake"
        if suite.authentication is Authentication.RSA and not self._key_is_rsa:
            return "needs an RSA certificate key"
        if suite.authentication is Authentication.ECDSA:
            if self._certificate_group is None:
                return "needs an ECDSA certificate key"
            # RFC 8422 §5.1: an ECDSA certificate's curve must be one the client listed.
            if self._certificate_group not in groups:
                return (f"the certificate's curve {group_name(self._certificate_group)} is not in "
                        "supported_groups")
        if suite.key_exchange is KeyExchange.ECDHE:
            if not any(g in groups for g in self.config.groups):
                return "no ECDHE group in common"
            try:
                choose_signature_scheme(self.config.private_key, self.config.signature_schemes,
                                        schemes, tls12=True)
            except AlertHandshakeFailure:
                if not schemes_sent:
                    return ("the client sent no signature_algorithms, which means it verifies SHA-1 "
                            "signatures only (RFC 5246 §7.4.1.4.1), and this server does not sign with SHA-1")
                return "no signature scheme in common that the certificate key can make"
        return None

    def _choose_suite12(self, hello: ClientHello, groups: tuple[int, ...], schemes: tuple[int, ...],
                        schemes_sent: bool) -> CipherSuite:
        """The first suite in the server's order that the client offered and the server can serve."""
        problems: dict[str, list[str]] = {}
        for name in self.config.cipher_suites:
            suite = suite_by_name(name)
            if suite.code not in hello.cipher_suites:
                continue
            problem = self._suite_problem(suite, groups, schemes, schemes_sent)
            if problem is None:
                return suite
            problems.setdefault(problem, []).append(suite.name)
        if not problems:
            raise AlertHandshakeFailure("no cipher suite in common with the client")
        # The suites in common, and why each cannot be served: the alert says what really failed.
        raise AlertHandshakeFailure("; ".join(f"{', '.join(names)}: {problem}"
                                              for problem, names in problems.items()))

    def _recv_client_hello(self, hello: ClientHello, raw: bytes) -> None:
        versions_ext = hello.extension(ExtensionType.supported_versions)
        offered = parse_supported_versions(versions_ext) if versions_ext is not None else ()
        if self._retry_group is not None:
            if ProtocolVersion.TLSv1_3 not in offered:
                raise AlertIllegalParameter("the second ClientHello dropped TLS 1.3")
            self._recv_client_hello13(hello, raw)
            return
        if self._supports13 and ProtocolVersion.TLSv1_3 in offered:
            self._recv_client_hello13(hello, raw)
            return
        if offered and ProtocolVersion.TLSv1_2 not in offered:
            raise AlertProtocolVersion("the client offers only versions this server does not speak")
        if ProtocolVersion.TLSv1_2 not in self.config.versions:
            raise AlertProtocolVersion("this server speaks only TLS 1.3 and the client did not offer it")
        self.transcript.add(raw)
        self.version = ProtocolVersion.TLSv1_2
        if hello.client_version < ProtocolVersion.TLSv1_2:
            raise AlertProtocolVersion(
                f"client offers at most 0x{hello.client_version:04x}; this server needs TLS 1.2")
        if 0 not in hello.compression_methods:
            raise AlertIllegalParameter("the client did not offer null compression")
        groups_ext = hello.extension(ExtensionType.supported_groups)
        # RFC 8422 §4: without supported_groups, any curve the server likes.
        groups = parse_u16_list(groups_ext) if groups_ext is not None else tuple(
            int(g) for g in self.config.groups)
        schemes_ext = hello.extension(ExtensionType.signature_algorithms)
        schemes = (parse_u16_list(schemes_ext) if schemes_ext is not None
                   else tuple(int(s) for s in _DEFAULT_PEER_SCHEMES))
        sni = hello.extension(ExtensionType.server_name)
        self.server_name = parse_server_name(sni) if sni is not None else None
        point_formats = hello.extension(ExtensionType.ec_point_formats)
        if point_formats is not None and _UNCOMPRESSED not in point_formats[1:] and (
                groups_ext is None or any(g in _EC_GROUPS for g in groups)):
            # RFC 8422 §5.1.2: a client that does ECC must list the uncompressed format.
            raise AlertIllegalParameter("ec_point_formats lacks the uncompressed format (RFC 8422 §5.1.2)")
        renegotiation = hello.extension(ExtensionType.renegotiation_info)
        if renegotiation is not None and renegotiation != b"\x00":
            raise AlertHandshakeFailure("renegotiation_info must be empty on a first handshake")
        secure_renegotiation = (renegotiation is not None
                                or TLS_EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites)

        self.client_random = hello.random
        kept = self._resumable12(hello)
        if kept is not None:
            self._resume12(hello, kept, secure_renegotiation)
            return
        chosen = self._choose_suite12(hello, groups, schemes, schemes_ext is not None)
        self.suite = chosen
        self._client_version = hello.client_version
        self.client_random = hello.random
        self.use_extended_master_secret = (
            hello.extension(ExtensionType.extended_master_secret) is not None)

        extensions: list[Extension] = []
        if secure_renegotiation:
            extensions.append(renegotiation_info_extension())
        if self.use_extended_master_secret:
            extensions.append(extended_master_secret_extension())
        if (chosen.key_exchange is KeyExchange.ECDHE
                and hello.extension(ExtensionType.ec_point_formats) is not None):
            extensions.append(ec_point_formats_extension())
        if self.config.session_tickets is not None:
            # RFC 5246 §7.4.1.3: a session id to resume by; RFC 5077 §3.2: an empty session_ticket
            # says a NewSessionTicket will follow the client's Finished.
            self._session_id12 = self._rng(32)
            if hello.extension(ExtensionType.session_ticket) is not None:
                extensions.append(session_ticket_extension())
                self._issue_ticket12 = True

        self.server_random = self._rng(32)
        if self._supports13:
            self.server_random = self.server_random[:24] + DOWNGRADE_SENTINEL_TLS12
        self._send_handshake(ServerHello(
            server_version=ProtocolVersion.TLSv1_2,
            random=self.server_random,
            session_id=self._session_id12,
            cipher_suite=chosen.code,
            compression_method=0,
            extensions=tuple(extensions),
        ))
        self._send_handshake(Certificate(self.config.certificate_chain))
        if chosen.key_exchange is KeyExchange.ECDHE:
            group = next(g for g in self.config.groups if g in groups)
            self.named_group = int(group)
            self._ecdhe = EcdhePrivateKey(group, self._rng)
            scheme = choose_signature_scheme(self.config.private_key,
                                             self.config.signature_schemes, schemes, tls12=True)
            unsigned = ServerKeyExchange(int(group), self._ecdhe.public_bytes(), scheme, b"")
            signed = self.client_random + self.server_random + unsigned.params()
            signature = sign(self.config.private_key, scheme, signed)
            self._send_handshake(ServerKeyExchange(int(group), self._ecdhe.public_bytes(),
                                                   scheme, signature))
            self._events.append(CheckPassed(
                "ServerKeyExchange signed",
                f"{group_name(group)} share signed with {scheme_name(scheme)}"))
        if self.config.client_auth is not ClientAuthentication.NONE:
            self._send_certificate_request()
            self._send_handshake(ServerHelloDone())
            self.state = ServerState.SERVER_EXPECT_CLIENT_CERTIFICATE
        else:
            self._send_handshake(ServerHelloDone())
            self.state = ServerState.SERVER_EXPECT_CLIENT_KEY_EXCHANGE

    _session_id12 = b""
    _issue_ticket12 = False
    _resumed_by_ticket = False

    # -- TLS 1.2 resumption (RFC 5246 §7.3, RFC 5077) ------------------------------------
    def _resumable12(self, hello: ClientHello) -> TicketState | None:
        """The session a TLS 1.2 ClientHello asks to resume, by ticket or by session id, if this
        server sealed or cached it and it still fits; None: a full handshake."""
        tickets = self.config.session_tickets
        if tickets is None:
            return None
        ticket = hello.extension(ExtensionType.session_ticket)
        self._resumed_by_ticket = bool(ticket)
        if ticket:
            state = tickets.open(ticket)
            how = "the session ticket (RFC 5077) opens with the server's ticket key"
        elif hello.session_id:
            state = tickets.recall(hello.session_id)
            how = "the session id is in the server's session cache"
        else:
            return None
        ems = hello.extension(ExtensionType.extended_master_secret) is not None
        if (state is None or state.version != ProtocolVersion.TLSv1_2
                or state.cipher_suite not in hello.cipher_suites  # RFC 5246 §7.4.1.2
                or state.extended_master_secret != ems  # RFC 7627 §5.3: only alike; else a full handshake
                or state.server_name != (self.server_name or "")):
            return None
        self._events.append(CheckPassed("session resumption", how))
        return state

    def _resume12(self, hello: ClientHello, kept: TicketState, secure_renegotiation: bool) -> None:
        """RFC 5246 §7.3, abbreviated handshake: ServerHello echoing the session id, then at once
        ChangeCipherSpec and Finished, from the master secret kept; no certificate, no key exchange."""
        self.suite = CIPHER_SUITES[kept.cipher_suite]
        self._client_version = hello.client_version
        self.use_extended_master_secret = kept.extended_master_secret
        self.resumed = True
        extensions: list[Extension] = []
        if secure_renegotiation:
            extensions.append(renegotiation_info_extension())
        if self.use_extended_master_secret:
            extensions.append(extended_master_secret_extension())
        self.server_random = self._rng(32)
        if self._supports13:
            self.server_random = self.server_random[:24] + DOWNGRADE_SENTINEL_TLS12
        self._session_id12 = hello.session_id  # RFC 5077 §3.4: echoed for a ticket too
        # RFC 5077 §3.1 (figure 2): a server resuming from a ticket may renew it. This one always does,
        # as Go's and GnuTLS's do: the renewed ticket is sealed under the current ticket key, and its
        # bytes differ from the ones just sent in the clear, which a client would otherwise send again
        # on its next visit, linking the two. §3.2: the empty session_ticket extension announces it.
        renew = self._resumed_by_ticket
        if renew:
            extensions.append(session_ticket_extension())
        self._send_handshake(ServerHello(
            server_version=ProtocolVersion.TLSv1_2,
            random=self.server_random,
            session_id=hello.session_id,
            cipher_suite=self.suite.code,
            compression_method=0,
            extensions=tuple(extensions),
        ))
        if renew:
            self._renew_ticket12(kept)
        self.master_secret = kept.psk
        self._derive("master_secret", self.master_secret, "kept from the session being resumed")
        self._derive_key_block()
        self._send_change_cipher_spec()
        own = self._verify_data(SERVER_FINISHED_LABEL)
        covered = "ClientHello + ServerHello + NewSessionTicket" if renew else "ClientHello + ServerHello"
        self._derive("server_verify_data", own,
                     f"PRF(master_secret, \"server finished\", Hash({covered}))[0..11]")
        self._send_handshake(Finished(own))
        self.state = ServerState.SERVER_EXPECT_CHANGE_CIPHER_SPEC

    def _renew_ticket12(self, kept: TicketState) -> None:
        """RFC 5077 §3.3: the NewSessionTicket goes before the server's ChangeCipherSpec. It seals the
        same session: the master secret and the time of the full handshake that made it, so that
        renewing never stretches a session past its lifetime; the hint says how long it has left."""
        tickets = self.config.session_tickets
        assert tickets is not None
        left_ms = tickets.lifetime * 1000 - (tickets.now_ms() - kept.issued_at_ms)
        self._send_handshake(NewSessionTicket12(max(1, left_ms // 1000), tickets.seal(kept)))

    def _keep_session12(self) -> None:
        """After a full TLS 1.2 handshake: the session in the cache, and a ticket if one was asked for
        (RFC 5077 §3.3: NewSessionTicket goes before the server's ChangeCipherSpec)."""
        tickets = self.config.session_tickets
        assert tickets is not None and self.suite is not None
        state = TicketState(self.suite.code, self.master_secret, tickets.now_ms(), 0, 0,
                            self.server_name or "", ProtocolVersion.TLSv1_2, self.use_extended_master_secret)
        tickets.remember(self._session_id12, state)
        if self._issue_ticket12:
            self._send_handshake(NewSessionTicket12(tickets.lifetime, tickets.seal(state)))

    def _send_certificate_request(self) -> None:
        """RFC 5246 §7.4.4: the certificate types, schemes and CAs the server accepts."""
        self._requested_schemes = tuple(self.config.signature_schemes)
        authorities = tuple(
            cert.subject.public_bytes() for cert in self.config.client_trust_store or ())
        self._send_handshake(CertificateRequest(
            certificate_types=bytes([_RSA_SIGN, _ECDSA_SIGN]),
            signature_schemes=self._requested_schemes,
            certificate_authorities=authorities,
        ))

    def _recv_client_certificate(self, message: Certificate, raw: bytes) -> None:
        self.transcript.add(raw)
        chain = message.certificate_list
        if not chain:
            if self.config.client_auth is ClientAuthentication.REQUIRED:
                # RFC 5246 §7.4.6: a server that insists may answer with handshake_failure.
                raise AlertHandshakeFailure(
                    "the server requires a client certificate and the client sent none")
            self._events.append(CheckPassed("client certificate", "none sent; the server allows that"))
            self.state = ServerState.SERVER_EXPECT_CLIENT_KEY_EXCHANGE
            return
        self._accept_client_chain(chain)
        self.state = ServerState.SERVER_EXPECT_CLIENT_KEY_EXCHANGE

    def _accept_client_chain(self, chain: tuple[bytes, ...]) -> None:
        trust = self.config.client_trust_store
        if trust is not None:
            self.client_certificate = pki.verify_client_chain(chain, trust, self._now())
            self._events.append(CheckPassed(
                "client certificate chain",
                "issued by a CA the server trusts, valid now, usable for clientAuth"))
        else:
            self.client_certificate = pki.load_certificates(chain)[0]
            self._events.append(CheckPassed("client certificate chain", "not checked (no client CA set)"))

    def _recv_certificate_verify(self, message: CertificateVerify, raw: bytes) -> None:
        assert self.client_certificate is not None
        if message.signature_scheme not in self._requested_schemes:
            raise AlertIllegalParameter(
                f"the client signed with {scheme_name(message.signature_scheme)}, "
                "which the CertificateRequest did not offer")
        # RFC 5246 §7.4.8: the signature covers every handshake message before this one.
        verify(self.client_certificate.public_key(), message.signature_scheme, message.signature,
               self.transcript.data(), tls12=True)
        self._events.append(CheckPassed(
            "client CertificateVerify",
            f"{scheme_name(message.signature_scheme)} signature over the transcript verifies with "
            "the client certificate's key: the client holds its private key"))
        self.transcript.add(raw)
        self.state = ServerState.SERVER_EXPECT_CHANGE_CIPHER_SPEC

    def _recv_client_key_exchange(self, message: ClientKeyExchange, raw: bytes) -> None:
        self.transcript.add(raw)
        if self._ecdhe is not None:
            self.pre_master_secret = self._ecdhe.exchange(message.exchange_keys)
            self._derive("pre_master_secret", self.pre_master_secret,
                         f"ECDH on {group_name(self._ecdhe.group)}: the server's private key "
                         "with the client's public share")
        else:
            # Bleichenbacher countermeasure: a bad ciphertext is never reported here.
            self.pre_master_secret = rsa_decrypt_pre_master(
                self.config.private_key, message.exchange_keys, self._client_version, self._rng)
            self._derive("pre_master_secret", self.pre_master_secret,
                         "decrypted from ClientKeyExchange with the server's private RSA key")
        self._compute_keys()
        self.state = (ServerState.SERVER_EXPECT_CERTIFICATE_VERIFY
                      if self.client_certificate is not None
                      else ServerState.SERVER_EXPECT_CHANGE_CIPHER_SPEC)

    def _recv_finished(self, message: Finished, raw: bytes) -> None:
        assert self.suite is not None
        self._check_finished(CLIENT_FINISHED_LABEL, message.verify_data, "client")
        self._events.append(CheckPassed(
            "client Finished", "verify_data matches: same transcript, same master secret"))
        self.transcript.add(raw)
        if not self.resumed:
            if self.config.session_tickets is not None:
                self._keep_session12()
            self._send_change_cipher_spec()
            own = self._verify_data(SERVER_FINISHED_LABEL)
            self._derive("server_verify_data", own,
                         "PRF(master_secret, \"server finished\", Hash(handshake))[0..11]")
            self._send_handshake(Finished(own))
        self.state = ServerState.SERVER_CONNECTED
        self._events.append(HandshakeCompleted(
            version=ProtocolVersion.TLSv1_2,
            cipher_suite=self.suite,
            named_group=self.named_group,
            extended_master_secret=self.use_extended_master_secret,
            server_name=self.server_name,
            peer_certificate=self.client_certificate,
            resumed=self.resumed,
        ))

    # -- TLS 1.3 (RFC 8446) ------------------------------------------------------------
    def _recv_client_hello13(self, hello: ClientHello, raw: bytes) -> None:
        if hello.client_version <= _SSL3:
            # RFC 8446 Appendix D.5: "Any endpoint receiving a Hello message with
            # ClientHello.legacy_version ... set to 0x0300 MUST abort the handshake with a
            # "protocol_version" alert" (and anything lower is older still).
            raise AlertProtocolVersion(
                f"legacy_version 0x{hello.client_version:04x} is SSL 3.0 or older")
        early_data = hello.extension(ExtensionType.early_data) is not None
        if early_data and self._retry_group is not None:
            # RFC 8446 §4.2.10: "A client MUST NOT include the "early_data" extension in its
            # followup ClientHello."
            raise AlertIllegalParameter("early_data in the ClientHello after a HelloRetryRequest")
        if hello.compression_methods != b"\x00":
            raise AlertIllegalParameter("TLS 1.3 needs legacy_compression_methods = [null]")
        extensions = hello.extensions or ()
        if any(e.type == ExtensionType.pre_shared_key for e in extensions[:-1]):
            # RFC 8446 §4.2.11: "Servers MUST check that it is the last extension and otherwise
            # fail the handshake with an "illegal_parameter" alert."
            raise AlertIllegalParameter("pre_shared_key must be the last extension of the ClientHello")
        groups_ext = hello.extension(ExtensionType.supported_groups)
        shares_ext = hello.extension(ExtensionType.key_share)
        schemes_ext = hello.extension(ExtensionType.signature_algorithms)
        psk_ext = hello.extension(ExtensionType.pre_shared_key)
        modes_ext = hello.extension(ExtensionType.psk_key_exchange_modes)
        if psk_ext is not None and modes_ext is None:
            # RFC 8446 §4.2.9: "a client that offers pre_shared_key MUST also send
            # psk_key_exchange_modes"; the server aborts otherwise.
            raise AlertMissingExtension("pre_shared_key without psk_key_exchange_modes")
        # RFC 8446 §9.2: without a PSK, all three are needed; with one, key_share and
        # supported_groups go together.
        if (psk_ext is None and (groups_ext is None or shares_ext is None or schemes_ext is None)) or (
                (groups_ext is None) != (shares_ext is None)):
            raise AlertMissingExtension(
                "a TLS 1.3 ClientHello needs supported_groups, key_share and signature_algorithms")
        groups = parse_u16_list(groups_ext) if groups_ext is not None else ()
        shares = dict(parse_key_share_client(shares_ext)) if shares_ext is not None else {}
        schemes = tuple(s for s in parse_u16_list(schemes_ext) if s not in NOT_IN_TLS13_SIGNATURES) if (
            schemes_ext is not None) else ()
        modes = parse_psk_key_exchange_modes(modes_ext) if modes_ext is not None else ()
        sni = hello.extension(ExtensionType.server_name)
        self.server_name = parse_server_name(sni) if sni is not None else None

        suite = next((s for s in self._tls13_suites if s.code in hello.cipher_suites), None)
        if suite is None:
            raise AlertHandshakeFailure("no TLS 1.3 cipher suite in common with the client")
        resumption = (self._accept_psk(psk_ext, raw, suite, modes, groups_ext is not None)
                      if psk_ext is not None else None)
        if resumption is not None:
            # Single-use tickets (RFC 8446 §8.1) are spent only by the ClientHello that resumes:
            # not by one that a HelloRetryRequest answers.
            retry = (resumption.mode == PSK_DHE_KE and self._retry_group is None
                     and not any(g in shares for g in self.config.groups))
            if not retry and not self._first_use(resumption):
                resumption = None
        scheme: SignatureScheme | None = None
        if resumption is None:
            if schemes_ext is None or groups_ext is None:
                raise AlertHandshakeFailure(
                    "the client offers only a PSK (no certificate handshake) and this server takes none")
            try:
                scheme = choose_signature_scheme(self.config.private_key, tuple(
                    s for s in self.config.signature_schemes if s not in NOT_IN_TLS13_SIGNATURES), schemes)
            except AlertHandshakeFailure:
                raise AlertHandshakeFailure(
                    "the client accepts no signature scheme the certificate key can make") from None
        dhe = resumption is None or resumption.mode == PSK_DHE_KE
        group: int | None = next((int(g) for g in self.config.groups if g in shares), None)

        if not dhe:
            group = None
        elif self._retry_group is not None:
            # The second ClientHello must now carry the share that was asked for.
            if hello.cipher_suites and suite.code != self._retry_suite:
                raise AlertIllegalParameter("the second ClientHello no longer offers the chosen suite")
            if set(shares) != {self._retry_group}:
                raise AlertIllegalParameter("the second ClientHello lacks the share the server asked for")
            group = self._retry_group
        elif group is None:
            wanted = next((g for g in self.config.groups if g in groups), None)
            if wanted is None:
                raise AlertHandshakeFailure("no (EC)DHE group in common with the client")
            self._send_hello_retry_request(hello, raw, suite, wanted)
            if early_data:
                # RFC 8446 §4.2.10: after a HelloRetryRequest the server skips every encrypted
                # record up to the second ClientHello.
                self._records.skip_early_data(MAX_SKIPPED_EARLY_DATA)
            return

        for g in shares:
            if g not in groups:
                raise AlertIllegalParameter(f"a key share for {group_name(g)}, absent from supported_groups")
        self.version = ProtocolVersion.TLSv1_3
        self.suite = suite
        self.client_random = hello.random
        self.named_group = int(group) if group is not None else None
        if self.key_schedule is None:
            self.key_schedule = KeySchedule(suite)
        ks = self.key_schedule
        ks.update_hash(raw)
        self.transcript.add(raw)
        accept_early = early_data and resumption is not None and self._accept_early_data(resumption, suite)

        # RFC 8446 §7.1: the early secret, from the PSK when resuming.
        ks.extract(resumption.state.psk if resumption is not None else None)
        if resumption is not None:
            self.resumed = True
            self._events.append(CheckPassed(
                "PSK binder", "the binder over the ClientHello verifies with the ticket's PSK: the client "
                "holds the resumption secret of an earlier session"))
        client_early_secret = b""
        if accept_early:
            client_early_secret = self._secret13(
                "CLIENT_EARLY_TRAFFIC_SECRET", "client_early_traffic_secret",
                ks.derive_secret(b"c e traffic"), "Derive-Secret(early_secret, \"c e traffic\", ClientHello)")
        shared = b""
        server_extensions = [selected_version_extension(ProtocolVersion.TLSv1_3)]
        if group is not None:
            ecdhe = EcdhePrivateKey(NamedGroup(group), self._rng)
            shared = ecdhe.exchange(shares[group])
            server_extensions.append(key_share_server_extension(int(group), ecdhe.public_bytes()))
        if resumption is not None:
            server_extensions.append(pre_shared_key_server_extension(resumption.index))

        self.server_random = self._rng(32)
        self._send_handshake(ServerHello(
            server_version=ProtocolVersion.TLSv1_2,  # legacy_version (RFC 8446 §4.1.3)
            random=self.server_random,
            session_id=hello.session_id,  # legacy_session_id_echo
            cipher_suite=suite.code,
            compression_method=0,
            extensions=tuple(server_extensions),
        ))
        if hello.session_id and self._retry_group is None:
            # RFC 8446 D.4: the compatibility CCS right after the first ServerHello.
            self._write_records(ContentType.change_cipher_spec, b"\x01")
        if group is not None:
            self._derive("shared_secret", shared,
                         f"ECDHE on {group_name(group)}: the server's private key with the client's share")
        ks.extract(shared or None)  # psk_ke: no (EC)DHE, the handshake secret takes zeros
        self._client_handshake_secret = self._secret13(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "client_handshake_traffic_secret",
            ks.derive_secret(b"c hs traffic"), "Derive-Secret(handshake_secret, \"c hs traffic\", CH..SH)")
        server_handshake_secret = self._secret13(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET", "server_handshake_traffic_secret",
            ks.derive_secret(b"s hs traffic"), "Derive-Secret(handshake_secret, \"s hs traffic\", CH..SH)")
        self._protect13("write", server_handshake_secret)
        if accept_early:
            assert resumption is not None
            # RFC 8446 §4.2.10: the 0-RTT records, then EndOfEarlyData, come under the early keys.
            self._protect13("read", client_early_secret)
            self.early_data_accepted = True
            self._early_data_left = resumption.state.max_early_data_size
        else:
            self._protect13("read", self._client_handshake_secret)
        if early_data and not accept_early:
            # RFC 8446 §4.2.10: early data refused (no early_data in EncryptedExtensions): the
            # client's 0-RTT records, sealed with keys the server does not use, are skipped until
            # one opens with the handshake keys.
            self._records.skip_early_data(MAX_SKIPPED_EARLY_DATA)

        self._send_handshake(EncryptedExtensions((early_data_extension(),) if accept_early else ()))
        # RFC 8446 §4.3.2: a server authenticating with a PSK sends no CertificateRequest, and
        # no Certificate of its own (§2.2): the PSK stands for the first handshake's certificate.
        ask_certificate = resumption is None and self.config.client_auth is not ClientAuthentication.NONE
        if ask_certificate:
            self._requested_schemes = tuple(
                s for s in self.config.signature_schemes if s not in NOT_IN_TLS13_SIGNATURES)
            self._send_handshake(CertificateRequest13((
                signature_algorithms_extension(self._requested_schemes),)))
        if scheme is not None and resumption is None:
            self._send_handshake(Certificate13(self.config.certificate_chain))
            signature = sign(self.config.private_key, scheme, self._certificate_verify_content("server"))
            self._send_handshake(CertificateVerify(scheme, signature))
            self._events.append(CheckPassed(
                "CertificateVerify signed",
                f"{scheme_name(scheme)} over the transcript with the certificate key"))
        own = self._finished13(server_handshake_secret)
        covered = "CH..CertificateVerify" if resumption is None else "CH..EncryptedExtensions"
        self._derive("server_verify_data", own, f"HMAC(finished_key, Transcript-Hash({covered}))")
        self._send_handshake(Finished(own))

        self._client_application_secret, self._own_application_secret = self._application_secrets13(ks)
        self._protect13("write", self._own_application_secret)
        if accept_early:
            self.state = ServerState.SERVER_EXPECT_END_OF_EARLY_DATA
        elif ask_certificate:
            self.state = ServerState.SERVER_EXPECT_CLIENT_CERTIFICATE13
        else:
            self.state = ServerState.SERVER_EXPECT_FINISHED13

    # -- TLS 1.3 resumption (RFC 8446 §2.2, §4.2.11, §4.6.1, §8) -------------------------
    def _accept_psk(self, psk_ext: bytes, raw: bytes, suite: CipherSuite, modes: tuple[int, ...],
                    can_dhe: bool) -> _Resumption | None:
        """The first offered ticket this server sealed, still valid, for this suite's hash, with a
        PSK mode both sides accept; its binder must verify (else decrypt_error). None: a full
        handshake."""
        tickets = self.config.session_tickets
        identities, binders = parse_pre_shared_key_client(psk_ext)
        if tickets is None:
            return None
        mode = next((m for m in self.config.psk_modes if m in modes and (m == PSK_KE or can_dhe)), None)
        if mode is None:
            return None
        for index, identity in enumerate(identities):
            state = tickets.open(identity.identity)
            if state is None or state.cipher_suite not in CIPHER_SUITES:
                continue
            if CIPHER_SUITES[state.cipher_suite].hash.name != suite.hash.name:
                continue  # RFC 8446 §4.2.11: the PSK's hash must be the suite's
            if state.server_name != (self.server_name or ""):
                continue  # RFC 8446 §4.6.1: resumed only for the name it was issued to
            self._check_binder(state, raw, psk_ext, binders[index], suite)
            return _Resumption(identity.identity, state, identity.obfuscated_ticket_age, index, mode,
                               binders[index])
        return None

    def _check_binder(self, state: TicketState, raw: bytes, psk_ext: bytes, binder: bytes,
                      suite: CipherSuite) -> None:
        """RFC 8446 §4.2.11.2: HMAC over the ClientHello up to the binders (after a HelloRetryRequest,
        over message_hash(ClientHello1), the HelloRetryRequest and that)."""
        truncated = raw[:len(raw) - binders_length(psk_ext)]
        if self.key_schedule is not None:
            transcript_hash = self.key_schedule.transcript_hash(truncated)
        else:
            transcript_hash = KeySchedule(suite).transcript_hash(truncated)
        expected = psk_binder(suite, state.psk, transcript_hash)
        if not hmac.compare_digest(expected, binder):
            # RFC 8446 §6.2: decrypt_error, "unable to ... validate ... a PSK binder".
            raise AlertDecryptError("the PSK binder does not verify: the client does not hold the "
                                    "ticket's PSK, or the ClientHello was changed")

    def _first_use(self, resumption: _Resumption) -> bool:
        tickets = self.config.session_tickets
        assert tickets is not None
        if tickets.first_use(resumption.ticket, resumption.state):
            return True
        self._events.append(CheckPassed(
            "anti-replay", "this ticket was already used (RFC 8446 §8.1, single-use tickets): no "
            "resumption, and any 0-RTT data is left unread"))
        return False

    def _accept_early_data(self, resumption: _Resumption, suite: CipherSuite) -> bool:
        """RFC 8446 §4.2.10: 0-RTT only with the first PSK, the ticket's own suite, a ticket that
        allows it, and a ClientHello that is fresh (§8.3)."""
        tickets = self.config.session_tickets
        assert tickets is not None
        state = resumption.state
        if (resumption.index != 0 or state.cipher_suite != suite.code or state.max_early_data_size == 0
                or self.config.max_early_data_size == 0):
            return False
        if not tickets.fresh(state, resumption.obfuscated_age):
            self._events.append(CheckPassed(
                "0-RTT freshness", "the ticket age the client claims is far from the server's clock "
                "(RFC 8446 §8.3): the ClientHello may be an old one replayed; early data refused"))
            return False
        if not tickets.first_hello(resumption.binder, state, resumption.obfuscated_age):
            self._events.append(CheckPassed(
                "anti-replay", "this ClientHello already brought its 0-RTT data within the freshness window "
                "(RFC 8446 §8.2, ClientHello recording, by its PSK binder): the session resumes in 1-RTT, "
                "and the copy's early data is left unread"))
            return False
        return True

    def _recv_end_of_early_data(self, message: EndOfEarlyData, raw: bytes) -> None:
        assert self.key_schedule is not None
        self.key_schedule.update_hash(raw)
        self._protect13("read", self._client_handshake_secret)
        self.state = ServerState.SERVER_EXPECT_FINISHED13

    def _send_session_tickets(self) -> None:
        """RFC 8446 §4.6.1: after the client's Finished, tickets for the next connection."""
        tickets = self.config.session_tickets
        assert tickets is not None and self.key_schedule is not None and self.suite is not None
        resumption_master_secret = self._secret13(
            "RESUMPTION_MASTER_SECRET", "resumption_master_secret",
            self.key_schedule.derive_secret(b"res master"),
            "Derive-Secret(master_secret, \"res master\", CH..client Finished)")
        self._tls13_secrets.pop()  # not a key log label Wireshark knows
        for number in range(self.config.tickets_per_handshake):
            nonce = number.to_bytes(8, "big")
            age_add = int.from_bytes(self._rng(4), "big")
            state = TicketState(self.suite.code, resumption_psk(self.suite, resumption_master_secret, nonce),
                                tickets.now_ms(), age_add, self.config.max_early_data_size,
                                self.server_name or "")
            extensions = ((early_data_extension(self.config.max_early_data_size),)
                          if self.config.max_early_data_size else ())
            self._send_handshake(NewSessionTicket13(tickets.lifetime, age_add, nonce, tickets.seal(state),
                                                    extensions))

    def _send_hello_retry_request(self, hello: ClientHello, raw: bytes, suite: CipherSuite,
                                  group: int) -> None:
        """RFC 8446 §4.1.4: no usable share; ask for one on ``group``."""
        self._retry_group = group
        self._retry_suite = suite.code
        self.version = ProtocolVersion.TLSv1_3
        self.suite = suite
        self.key_schedule = KeySchedule(suite)
        self.key_schedule.restart_with_message_hash(raw)
        self._events.append(CheckPassed(
            "HelloRetryRequest",
            f"the client sent no share the server accepts; asking for {group_name(group)}"))
        self._send_handshake(ServerHello(
            server_version=ProtocolVersion.TLSv1_2,
            random=HELLO_RETRY_REQUEST_RANDOM,
            session_id=hello.session_id,
            cipher_suite=suite.code,
            compression_method=0,
            extensions=(selected_version_extension(ProtocolVersion.TLSv1_3),
                        key_share_retry_extension(group)),
        ))
        if hello.session_id:
            self._write_records(ContentType.change_cipher_spec, b"\x01")
        self.state = ServerState.SERVER_EXPECT_CLIENT_HELLO

    def _recv_client_certificate13(self, message: Certificate13, raw: bytes) -> None:
        assert self.key_schedule is not None
        if message.certificate_request_context:
            raise AlertIllegalParameter("the request context must echo the CertificateRequest's (empty)")
        if message.entry_extensions is not None:
            # RFC 8446 §4.4.2: a client's CertificateEntry extensions answer the CertificateRequest's,
            # and this server's asks for none (no status_request, no signed_certificate_timestamp).
            raise AlertUnsupportedExtension("CertificateEntry extensions the server never asked for")
        chain = message.certificate_list
        self.key_schedule.update_hash(raw)
        if not chain:
            if self.config.client_auth is ClientAuthentication.REQUIRED:
                raise AlertCertificateRequired(
                    "the server requires a client certificate and the client sent none")
            self._events.append(CheckPassed("client certificate", "none sent; the server allows that"))
            self.state = ServerState.SERVER_EXPECT_FINISHED13
            return
        self._accept_client_chain(chain)
        self.state = ServerState.SERVER_EXPECT_CERTIFICATE_VERIFY13

    def _recv_certificate_verify13(self, message: CertificateVerify, raw: bytes) -> None:
        assert self.key_schedule is not None and self.client_certificate is not None
        if message.signature_scheme not in self._requested_schemes:
            raise AlertIllegalParameter(
                f"the client signed with {scheme_name(message.signature_scheme)}, which the "
                "CertificateRequest did not offer")
        verify(self.client_certificate.public_key(), message.signature_scheme, message.signature,
               self._certificate_verify_content("client"))
        self._events.append(CheckPassed(
            "client CertificateVerify",
            f"{scheme_name(message.signature_scheme)} signature over the transcript verifies with the "
            "client certificate's key: the client holds its private key"))
        self.key_schedule.update_hash(raw)
        self.state = ServerState.SERVER_EXPECT_FINISHED13

    def _recv_finished13(self, message: Finished, raw: bytes) -> None:
        assert self.key_schedule is not None and self.suite is not None
        self._check_finished13(self._client_handshake_secret, message.verify_data, "client")
        self._events.append(CheckPassed(
            "client Finished", "verify_data matches: same transcript, same handshake secret"))
        self.key_schedule.update_hash(raw)
        self._protect13("read", self._client_application_secret)
        self.state = ServerState.SERVER_CONNECTED
        self._events.append(HandshakeCompleted(
            version=ProtocolVersion.TLSv1_3,
            cipher_suite=self.suite,
            named_group=self.named_group,
            extended_master_secret=True,
            server_name=self.server_name,
            peer_certificate=self.client_certificate,
            resumed=self.resumed,
            early_data_accepted=self.early_data_accepted,
        ))
        if self.config.session_tickets is not None:
            self._send_session_tickets()

    _transitions = {
        (ServerState.SERVER_EXPECT_CLIENT_HELLO, HandshakeType.client_hello): _recv_client_hello,
        (ServerState.SERVER_EXPECT_CLIENT_CERTIFICATE,
         HandshakeType.certificate): _recv_client_certificate,
        (ServerState.SERVER_EXPECT_CLIENT_KEY_EXCHANGE,
         HandshakeType.client_key_exchange): _recv_client_key_exchange,
        (ServerState.SERVER_EXPECT_CERTIFICATE_VERIFY,
         HandshakeType.certificate_verify): _recv_certificate_verify,
        (ServerState.SERVER_EXPECT_FINISHED, HandshakeType.finished): _recv_finished,
        (ServerState.SERVER_EXPECT_CLIENT_CERTIFICATE13,
         HandshakeType.certificate): _recv_client_certificate13,
        (ServerState.SERVER_EXPECT_CERTIFICATE_VERIFY13,
         HandshakeType.certificate_verify): _recv_certificate_verify13,
        (ServerState.SERVER_EXPECT_FINISHED13, HandshakeType.finished): _recv_finished13,
        (ServerState.SERVER_EXPECT_END_OF_EARLY_DATA,
         HandshakeType.end_of_early_data): _recv_end_of_early_data,
    }


__all__ = ["CIPHER_SUITES", "ClientAuthentication", "ServerConfig", "ServerState", "SessionTickets",
           "TLSServer"]
