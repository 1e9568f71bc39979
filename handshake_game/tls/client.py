"""The reference TLS 1.2 client, as a state machine (RFC 5246 §7.3, Figure 1).

    ClientHello           -------->
                                          ServerHello
                                          Certificate
                                    ServerKeyExchange*   (ECDHE only)
                                   CertificateRequest*
                          <--------   ServerHelloDone
    Certificate*
    ClientKeyExchange
    [ChangeCipherSpec]
    Finished              -------->
                                   [ChangeCipherSpec]
                          <--------          Finished
    Application Data      <------->  Application Data

States name what the client expects next. The transition table at the bottom is
the whole protocol; anything else is ``unexpected_message``.

Given ``ClientConfig.session`` it offers to resume: a TLS 1.2 session by its id or RFC 5077
ticket (then ServerHello, [ChangeCipherSpec], Finished come first and the client's Finished
last, RFC 5246 §7.3), or a TLS 1.3 ticket's PSK with its binder, and 0-RTT data after the
ClientHello if the ticket allows (EndOfEarlyData closes it, RFC 8446 §4.5). New sessions
come out as ``SessionTicketReceived`` events for the application to keep.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field, replace

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ._endpoint import Clock, Endpoint, TLSUsageError, utc_now
from .alerts import (
    AlertDecodeError,
    AlertDescription,
    AlertHandshakeFailure,
    AlertIllegalParameter,
    AlertLevel,
    AlertMissingExtension,
    AlertProtocolVersion,
    AlertUnexpectedMessage,
    AlertUnsupportedCertificate,
    AlertUnsupportedExtension,
)
from .events import CheckPassed, HandshakeCompleted, HandshakeMessageReceived, SessionTicketReceived
from .keyexchange import (
    EcdhePrivateKey,
    Rng,
    choose_signature_scheme,
    new_pre_master_secret,
    rsa_encrypt_pre_master,
    scheme_fits_key,
    sign,
    verify,
)
from .keyschedule import CLIENT_FINISHED_LABEL, SERVER_FINISHED_LABEL
from .keyschedule13 import KeySchedule, psk_binder, resumption_psk, traffic_keys
from .messages import (
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
    PskIdentity,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    binders_length,
    decode_handshake,
    early_data_extension,
    ec_point_formats_extension,
    encode_handshake,
    extended_master_secret_extension,
    handshake_name,
    key_share_client_extension,
    parse_key_share_retry,
    parse_key_share_server,
    parse_pre_shared_key_server,
    parse_selected_version,
    parse_u16_list,
    pre_shared_key_client_extension,
    psk_key_exchange_modes_extension,
    renegotiation_info_extension,
    server_name_extension,
    session_ticket_extension,
    signature_algorithms_extension,
    supported_groups_extension,
    supported_versions_extension,
)
from .pki import load_certificates, verify_server_chain
from .record import ContentType, RecordProtection13
from .session import MAX_TICKET_LIFETIME, Session
from .suites import (
    CIPHER_SUITES,
    DEFAULT_CIPHER_SUITES,
    DOWNGRADE_SENTINEL_TLS11,
    DOWNGRADE_SENTINEL_TLS12,
    NOT_IN_TLS13_SIGNATURES,
    SUPPORTED_GROUPS,
    SUPPORTED_SIGNATURE_SCHEMES,
    CipherSuite,
    KeyExchange,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
    group_name,
    scheme_name,
    suite_by_name,
    suite_name,
)


class ClientState(enum.Enum):
    CLIENT_START = enum.auto()
    CLIENT_EXPECT_SERVER_HELLO = enum.auto()
    CLIENT_EXPECT_CERTIFICATE = enum.auto()
    CLIENT_EXPECT_SERVER_KEY_EXCHANGE = enum.auto()
    CLIENT_EXPECT_SERVER_HELLO_DONE = enum.auto()
    CLIENT_EXPECT_CHANGE_CIPHER_SPEC = enum.auto()
    CLIENT_EXPECT_FINISHED = enum.auto()
    # TLS 1.3 (RFC 8446 §A.1), after a ServerHello that chose 1.3:
    CLIENT_EXPECT_ENCRYPTED_EXTENSIONS = enum.auto()
    CLIENT_EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE = enum.auto()
    CLIENT_EXPECT_CERTIFICATE13 = enum.auto()
    CLIENT_EXPECT_CERTIFICATE_VERIFY13 = enum.auto()
    CLIENT_EXPECT_FINISHED13 = enum.auto()
    CLIENT_CONNECTED = enum.auto()
    CLIENT_ERROR = enum.auto()


@dataclass(frozen=True)
class ClientConfig:
    """What the client offers and how it checks the server.

    ``trust_store=None`` means no certificate check at all (``--insecure``); an
    empty list trusts nothing.
    """

    server_name: str | None = None
    cipher_suites: tuple[str, ...] = DEFAULT_CIPHER_SUITES
    groups: tuple[NamedGroup, ...] = SUPPORTED_GROUPS
    signature_schemes: tuple[int, ...] = tuple(SUPPORTED_SIGNATURE_SCHEMES)
    trust_store: list[x509.Certificate] | None = field(default=None, hash=False)
    offer_extended_master_secret: bool = True
    # For mutual TLS: the client's own chain (DER, leaf first) and its private key.
    certificate_chain: tuple[bytes, ...] = ()
    private_key: PrivateKeyTypes | None = field(default=None, hash=False)
    # Versions offered, newest first; TLS 1.3 is offered only with a TLS 1.3 suite.
    versions: tuple[int, ...] = (ProtocolVersion.TLSv1_3, ProtocolVersion.TLSv1_2)
    # TLS 1.3 resumption (RFC 8446 §2.2): a ticket kept from an earlier connection, the PSK
    # modes offered with it (§4.2.9), and 0-RTT data sent with it if the ticket allows (§2.3).
    session: Session | None = field(default=None, hash=False, compare=False)
    psk_modes: tuple[int, ...] = (PSK_DHE_KE,)
    early_data: bytes = b""
    # TLS 1.2: ask for an RFC 5077 ticket (an empty session_ticket extension). A TLS 1.2 ``session``
    # is offered by its ticket if it has one, else by its session id.
    offer_session_ticket: bool = False





# RFC 8446 §4.2 (and RFC 8449): the extensions a server may answer in EncryptedExtensions.
# The bare numbers: max_fragment_length (1), use_srtp (14), heartbeat (15),
# client_certificate_type (19), server_certificate_type (20).
_ENCRYPTED_EXTENSIONS: set[int] = {
    ExtensionType.server_name, 1, ExtensionType.supported_groups, 14, 15,
    ExtensionType.application_layer_protocol_negotiation, 19, 20,
    ExtensionType.early_data, ExtensionType.record_size_limit,
}


class TLSClient(Endpoint):
    is_client = True

    def __init__(self, config: ClientConfig, rng: Rng = os.urandom, now: Clock = utc_now) -> None:
        super().__init__(rng, now)
        self.config = config
        self.state = ClientState.CLIENT_START
        self._offered_suites = tuple(suite_by_name(n).code for n in config.cipher_suites)
        self._offered_extensions: set[int] = set()
        self._server_certificates: tuple[bytes, ...] = ()
        self.peer_certificate: x509.Certificate | None = None
        self._server_share: ServerKeyExchange | None = None
        self._certificate_request: CertificateRequest | None = None
        self.named_group: int | None = None
        suites = [CIPHER_SUITES[c] for c in self._offered_suites]
        if any(s.key_exchange is KeyExchange.DHE for s in suites):
            # The game's weak-dh scenario only (weakdh.py): a client of real servers never offers DHE.
            raise TLSUsageError("the DHE suites are the game's weak-dh scenario's only")
        self._offer13 = ProtocolVersion.TLSv1_3 in config.versions and any(s.tls13 for s in suites)
        self._offer12 = ProtocolVersion.TLSv1_2 in config.versions and any(not s.tls13 for s in suites)
        if not (self._offer12 or self._offer13):
            raise TLSUsageError("no cipher suite fits the versions offered")
        self._session_id = b""
        self._key_shares: dict[int, EcdhePrivateKey] = {}
        self._client_hello_extensions: list[Extension] = []
        self._retried = False
        self._hello_retry_suite: int | None = None
        self._client_handshake_secret = b""
        self._server_handshake_secret = b""
        self._server_application_secret = b""
        self._certificate_request13: CertificateRequest13 | None = None
        self._session: Session | None = None  # the ticket offered in the ClientHello
        self._early_data_sent = False
        self._resumption_master_secret = b""
        self.resumed = False
        self.early_data_accepted = False

    @property
    def offers_session(self) -> bool:
        """Whether the ClientHello offered ``config.session`` (known once ``start`` has run)."""
        return self._session is not None or self._session12 is not None or self.resumed

    @property
    def sends_early_data(self) -> bool:
        """Whether ``config.early_data`` went out as 0-RTT data (known once ``start`` has run)."""
        return self._early_data_sent

    # -- state hooks ---------------------------------------------------------------
    def _expecting_change_cipher_spec(self) -> bool:
        return self.state is ClientState.CLIENT_EXPECT_CHANGE_CIPHER_SPEC

    def _on_change_cipher_spec(self) -> None:
        self._activate_read_keys()
        self.state = ClientState.CLIENT_EXPECT_FINISHED

    def _set_error(self) -> None:
        self.state = ClientState.CLIENT_ERROR

    def _is_connected(self) -> bool:
        return self.state is ClientState.CLIENT_CONNECTED

    def _on_post_handshake(self, msg_type: int, raw: bytes) -> bool:
        if self.version == ProtocolVersion.TLSv1_3 and msg_type not in (
                HandshakeType.new_session_ticket, HandshakeType.key_update):
            raise AlertUnexpectedMessage(
                f"{handshake_name(msg_type)} is not allowed after a TLS 1.3 handshake")
        if msg_type == HandshakeType.hello_request:
            # RFC 5746: we never renegotiate; say so and carry on.
            self._write_records(ContentType.alert, AlertMessage(
                AlertLevel.WARNING, AlertDescription.no_renegotiation).encode())
            return True
        if self.version == ProtocolVersion.TLSv1_3:
            message = decode_handshake(raw, None, ProtocolVersion.TLSv1_3)
            self._events.append(HandshakeMessageReceived(message, raw))
            if isinstance(message, NewSessionTicket13):
                self._recv_new_session_ticket(message)
                return True
            if isinstance(message, KeyUpdate):
                self._server_application_secret = self._key_update_received(
                    message, self._server_application_secret)
                return True
            raise AlertUnexpectedMessage(f"{type(message).__name__} after the handshake")
        return False

    # -- sending -------------------------------------------------------------------
    def start(self) -> None:
        """Sends the ClientHello."""
        if self.state is not ClientState.CLIENT_START:
            raise TLSUsageError("the handshake has already started")
        cfg = self.config
        self.client_random = self._rng(32)
        extensions = []
        if cfg.server_name and not _is_ip_address(cfg.server_name):
            extensions.append(server_name_extension(cfg.server_name))
        ecdhe12 = self._offer12 and any(
            CIPHER_SUITES[c].key_exchange is KeyExchange.ECDHE and not CIPHER_SUITES[c].tls13
            for c in self._offered_suites)
        if ecdhe12 or self._offer13:
            extensions.append(supported_groups_extension(tuple(int(g) for g in cfg.groups)))
        if ecdhe12:
            extensions.append(ec_point_formats_extension())
        extensions.append(signature_algorithms_extension(tuple(cfg.signature_schemes)))
        if self._offer12:
            if cfg.offer_extended_master_secret:
                extensions.append(extended_master_secret_extension())
            extensions.append(renegotiation_info_extension())
            if (cfg.session is not None and cfg.session.version == ProtocolVersion.TLSv1_2
                    and self._can_resume12(cfg.session)):
                self._session12 = cfg.session
            if self._session12 is not None and self._session12.ticket:
                extensions.append(session_ticket_extension(self._session12.ticket))
            elif cfg.offer_session_ticket:
                extensions.append(session_ticket_extension())
        if self._offer13:
            versions = (ProtocolVersion.TLSv1_3,) + ((ProtocolVersion.TLSv1_2,) if self._offer12 else ())
            extensions.append(supported_versions_extension(tuple(int(v) for v in versions)))
            # One share for our favourite group; a server that wants another asks with HRR.
            group = cfg.groups[0]
            self._key_shares[group] = EcdhePrivateKey(group, self._rng)
            extensions.append(key_share_client_extension(
                ((int(group), self._key_shares[group].public_bytes()),)))
            extensions.append(psk_key_exchange_modes_extension(cfg.psk_modes))
            # RFC 8446 D.4: a non-empty legacy_session_id turns on middlebox compatibility.
            self._session_id = self._rng(32)
            if cfg.session is not None and self._can_resume(cfg.session):
                self._session = cfg.session
                if cfg.early_data and len(cfg.early_data) <= cfg.session.max_early_data_size:
                    # RFC 8446 §4.2.10: only as much as the ticket's max_early_data_size.
                    extensions.append(early_data_extension())
                    self._early_data_sent = True
        if self._session12 is not None:
            # RFC 5246 §7.4.1.2: the session id to resume; with a ticket, a fresh one that the server
            # echoes if it takes the ticket (RFC 5077 §3.4).
            self._session_id = (self._session_id or self._rng(32) if self._session12.ticket
                                else self._session12.session_id)
        self._offered_extensions = {e.type for e in extensions}
        if self._session is not None:
            self._offered_extensions.add(ExtensionType.pre_shared_key)
        self._client_hello_extensions = extensions
        client_hello = self._send_handshake(self._client_hello())
        if self._early_data_sent:
            self._send_early_data(client_hello)
        self.state = ClientState.CLIENT_EXPECT_SERVER_HELLO

    def _can_resume12(self, session: Session) -> bool:
        suite = CIPHER_SUITES.get(session.cipher_suite)
        return (suite is not None and not suite.tls13 and session.cipher_suite in self._offered_suites
                and session.server_name == self.config.server_name and session.usable(self._now())
                and (session.extended_master_secret or not self.config.offer_extended_master_secret))

    def _can_resume(self, session: Session) -> bool:
        """RFC 8446 §4.6.1: a ticket is offered to the name it came from, within its lifetime, with a
        TLS 1.3 suite this client offers."""
        suite = CIPHER_SUITES.get(session.cipher_suite)
        return (suite is not None and suite.tls13 and session.cipher_suite in self._offered_suites
                and session.server_name == self.config.server_name and session.usable(self._now()))

    def _send_early_data(self, client_hello: bytes) -> None:
        """RFC 8446 §2.3: 0-RTT data right behind the ClientHello, under the keys of
        client_early_traffic_secret = Derive-Secret(early_secret(PSK), "c e traffic", ClientHello)."""
        session = self._session
        assert session is not None
        suite = CIPHER_SUITES[session.cipher_suite]
        ks = KeySchedule(suite)
        ks.update_hash(client_hello)
        ks.extract(session.psk)
        secret = self._secret13("CLIENT_EARLY_TRAFFIC_SECRET", "client_early_traffic_secret",
                                ks.derive_secret(b"c e traffic"),
                                "Derive-Secret(early_secret, \"c e traffic\", ClientHello)")
        # RFC 8446 D.4: in compatibility mode the CCS goes right before the first encrypted record.
        self._write_records(ContentType.change_cipher_spec, b"\x01")
        self._compat_ccs_sent = True
        self._records.write_protection = RecordProtection13(suite, traffic_keys(suite, secret))
        self._write_records(ContentType.application_data, self.config.early_data)

    def _client_hello(self) -> ClientHello:
        hello = ClientHello(
            client_version=ProtocolVersion.TLSv1_2,  # RFC 8446 §4.1.2: legacy_version stays 1.2
            random=self.client_random,
            session_id=self._session_id,
            cipher_suites=self._offered_suites,
            compression_methods=b"\x00",
            extensions=tuple(self._client_hello_extensions),
        )
        session = self._session
        if session is None:
            return hello
        # RFC 8446 §4.2.11: pre_shared_key comes last; its binder is an HMAC over the ClientHello
        # up to the binders list (and, after a HelloRetryRequest, over what came before).
        suite = CIPHER_SUITES[session.cipher_suite]
        identity = PskIdentity(session.ticket, session.obfuscated_age(self._now()))
        placeholder = pre_shared_key_client_extension((identity,), (bytes(suite.hash.digest_size),))
        offered = tuple(self._client_hello_extensions)
        raw = encode_handshake(replace(hello, extensions=offered + (placeholder,)))
        truncated = raw[:len(raw) - binders_length(placeholder.data)]
        transcript_hash = (self.key_schedule or KeySchedule(suite)).transcript_hash(truncated)
        binder = psk_binder(suite, session.psk, transcript_hash)
        self._derive("psk_binder", binder, "HMAC(binder_key, Transcript-Hash(Truncate(ClientHello)))")
        return replace(hello, extensions=offered + (pre_shared_key_client_extension((identity,), (binder,)),))

    # -- receiving -----------------------------------------------------------------
    def _recv_server_hello(self, hello: ServerHello, raw: bytes) -> None:
        selected = hello.extension(ExtensionType.supported_versions)
        if selected is not None:
            version = parse_selected_version(selected)
            if version != ProtocolVersion.TLSv1_3 or not self._offer13:
                raise AlertIllegalParameter(f"server selected version 0x{version:04x}, never offered")
            if hello.is_hello_retry_request:
                self._recv_hello_retry_request(hello, raw)
            else:
                self._recv_server_hello13(hello, raw)
            return
        if self._retried:
            raise AlertIllegalParameter("a TLS 1.2 ServerHello after a HelloRetryRequest")
        self.transcript.add(raw)
        if not self._offer12:
            raise AlertProtocolVersion("the server wants TLS 1.2; this client offered only TLS 1.3")
        if self._offer13 and hello.random[-8:] in (DOWNGRADE_SENTINEL_TLS12, DOWNGRADE_SENTINEL_TLS11):
            raise AlertIllegalParameter(
                "server_random carries the TLS 1.3 downgrade sentinel: someone removed TLS 1.3 "
                "from the ClientHello")
        if CIPHER_SUITES.get(hello.cipher_suite) is not None and CIPHER_SUITES[hello.cipher_suite].tls13:
            raise AlertIllegalParameter("a TLS 1.3 cipher suite in a TLS 1.2 ServerHello")
        if hello.server_version != ProtocolVersion.TLSv1_2:
            raise AlertProtocolVersion(
                f"server chose version 0x{hello.server_version:04x}; this client speaks TLS 1.2")
        if hello.cipher_suite not in self._offered_suites:
            raise AlertIllegalParameter(
                f"server chose {suite_name(hello.cipher_suite)}, which the client never offered")
        if hello.compression_method != 0:
            raise AlertIllegalParameter("server chose a compression method; only null exists")
        for ext in hello.extensions or ():
            if ext.type not in self._offered_extensions:
                raise AlertUnsupportedExtension(
                    f"server sent extension {ext.type} that the client never offered")
        renegotiation = hello.extension(ExtensionType.renegotiation_info)
        if renegotiation is not None and renegotiation != b"\x00":
            raise AlertHandshakeFailure("renegotiation_info must be empty on a first handshake")
        self.server_random = hello.random
        self.suite = CIPHER_SUITES[hello.cipher_suite]
        self.version = ProtocolVersion.TLSv1_2
        self.use_extended_master_secret = (
            hello.extension(ExtensionType.extended_master_secret) is not None)
        self._expect_ticket12 = hello.extension(ExtensionType.session_ticket) is not None
        self._server_session_id = hello.session_id
        kept = self._session12
        if kept is not None and hello.session_id and hello.session_id == self._session_id:
            self._resume12(hello, kept)
            return
        self.state = ClientState.CLIENT_EXPECT_CERTIFICATE

    _session12: Session | None = None
    _expect_ticket12 = False
    _server_session_id = b""
    _ticket12: NewSessionTicket12 | None = None

    def _resume12(self, hello: ServerHello, kept: Session) -> None:
        """RFC 5246 §7.3: the server echoed the session id: an abbreviated handshake with the master
        secret kept; its ChangeCipherSpec and Finished come next."""
        if hello.cipher_suite != kept.cipher_suite:
            raise AlertIllegalParameter("the server resumes the session with another cipher suite")
        if self.use_extended_master_secret != kept.extended_master_secret:
            # RFC 7627 §5.3: a session resumes only with the master secret kind it was made with.
            raise AlertHandshakeFailure("the server resumes a session with the other kind of master secret")
        self.resumed = True
        self._events.append(CheckPassed(
            "session resumption", "the server echoed the session id: an abbreviated handshake; its "
            "Finished, keyed from the kept master secret, will show it holds the session"))
        self.master_secret = kept.psk
        self._derive("master_secret", self.master_secret, "kept from the session being resumed")
        self._derive_key_block()
        self.state = ClientState.CLIENT_EXPECT_CHANGE_CIPHER_SPEC

    def _recv_new_session_ticket12(self, message: NewSessionTicket12, raw: bytes) -> None:
        if not self._expect_ticket12:
            # RFC 5077 §3.3: only after a ServerHello with an empty session_ticket extension.
            raise AlertUnexpectedMessage("NewSessionTicket without the session_ticket extension")
        self.transcript.add(raw)
        self._ticket12 = message

    def _keep_session12(self) -> None:
        """The session to resume later: its id, and the ticket if the server sent one (or the one
        just used, if the server did not renew it)."""
        assert self.suite is not None
        ticket = self._ticket12.ticket if self._ticket12 is not None else (
            self._session12.ticket if self.resumed and self._session12 is not None else b"")
        if not (self._server_session_id or ticket):
            return
        hint = self._ticket12.ticket_lifetime_hint if self._ticket12 is not None else 0
        self._events.append(SessionTicketReceived(Session(
            server_name=self.config.server_name, cipher_suite=self.suite.code, psk=self.master_secret,
            ticket=ticket, ticket_age_add=0, lifetime=hint or 7200, received_at=self._now(),
            version=ProtocolVersion.TLSv1_2, session_id=self._server_session_id,
            extended_master_secret=self.use_extended_master_secret)))

    def _recv_certificate(self, message: Certificate, raw: bytes) -> None:
        self.transcript.add(raw)
        assert self.suite is not None
        chain = message.certificate_list
        self._accept_server_chain(chain)
        assert self.peer_certificate is not None
        key = self.peer_certificate.public_key()
        needs = "RSA" if self.suite.authentication.value == "RSA" else "EC"
        if (needs == "RSA") != isinstance(key, rsa.RSAPublicKey) or (
                needs == "EC" and not isinstance(key, ec.EllipticCurvePublicKey)):
            raise AlertUnsupportedCertificate(
                f"{self.suite.name} needs an {needs} certificate key")
        self._server_certificates = chain
        self.state = (ClientState.CLIENT_EXPECT_SERVER_KEY_EXCHANGE
                      if self._uses_ecdhe(self.suite)
                      else ClientState.CLIENT_EXPECT_SERVER_HELLO_DONE)

    def _accept_server_chain(self, chain: tuple[bytes, ...]) -> None:
        """The browser's checks: trusted issuer, validity, name, usage (or none with --insecure)."""
        trust = self.config.trust_store
        if trust is not None:
            host = self.config.server_name or ""
            self.peer_certificate = verify_server_chain(chain, trust, host, self._now())
            self._events.append(CheckPassed(
                "certificate chain",
                f"issued for {host} by a trusted CA, valid now, usable for serverAuth"))
        else:
            if not chain:
                raise AlertUnsupportedCertificate("the server sent no certificate")
            self.peer_certificate = load_certificates(chain)[0]
            self._events.append(CheckPassed("certificate chain", "not checked (--insecure)"))

    def _recv_server_key_exchange(self, message: ServerKeyExchange, raw: bytes) -> None:
        self.transcript.add(raw)
        assert self.peer_certificate is not None
        if message.named_curve not in self.config.groups:
            raise AlertIllegalParameter(
                f"server picked {group_name(message.named_curve)}, which the client never offered")
        if message.signature_scheme not in self.config.signature_schemes:
            raise AlertIllegalParameter(
                f"server signed with {scheme_name(message.signature_scheme)}, never offered")
        key = self.peer_certificate.public_key()
        if not scheme_fits_key(message.signature_scheme, key, tls12=True):
            raise AlertIllegalParameter("the signature scheme does not fit the certificate key")
        signed = self.client_random + self.server_random + message.params()
        verify(key, message.signature_scheme, message.signature, signed, tls12=True)
        self._events.append(CheckPassed(
            "ServerKeyExchange signature",
            f"{scheme_name(message.signature_scheme)} over client_random + server_random + "
            f"{group_name(message.named_curve)} share verifies with the certificate key"))
        self._server_share = message
        self.named_group = message.named_curve
        self.state = ClientState.CLIENT_EXPECT_SERVER_HELLO_DONE

    def _recv_certificate_request(self, message: CertificateRequest, raw: bytes) -> None:
        if self._certificate_request is not None:
            raise AlertUnexpectedMessage("a second CertificateRequest in one handshake")
        self.transcript.add(raw)
        self._certificate_request = message

    def _recv_server_hello_done(self, message: ServerHelloDone, raw: bytes) -> None:
        self.transcript.add(raw)
        assert self.suite is not None and self.peer_certificate is not None
        signing_scheme = None
        if self._certificate_request is not None:
            signing_scheme = self._client_signature_scheme(self._certificate_request)
            if signing_scheme is None:
                # Nothing suitable to present: an empty list (RFC 5246 §7.4.6); the server decides.
                self._send_handshake(Certificate(()))
            else:
                self._send_handshake(Certificate(self.config.certificate_chain))
        if self._server_share is not None:
            share = self._server_share
            ecdhe = EcdhePrivateKey(NamedGroup(share.named_curve), self._rng)
            self.pre_master_secret = ecdhe.exchange(share.public)
            self._derive("pre_master_secret", self.pre_master_secret,
                         f"ECDH on {group_name(share.named_curve)}: the client's private key "
                         "with the server's public share")
            exchange = ClientKeyExchange(KeyExchange.ECDHE, ecdhe.public_bytes())
        else:
            self.pre_master_secret = new_pre_master_secret(ProtocolVersion.TLSv1_2, self._rng)
            self._derive("pre_master_secret", self.pre_master_secret,
                         "48 bytes: client_version + 46 random bytes, chosen by the client")
            encrypted = rsa_encrypt_pre_master(self.peer_certificate.public_key(),
                                               self.pre_master_secret)
            exchange = ClientKeyExchange(KeyExchange.RSA, encrypted)
        self._send_handshake(exchange)
        # Keys first: the extended master secret's session hash ends at ClientKeyExchange.
        self._compute_keys()
        if signing_scheme is not None:
            assert self.config.private_key is not None
            # RFC 5246 §7.4.8: sign every handshake message sent and received so far.
            signature = sign(self.config.private_key, signing_scheme, self.transcript.data())
            self._send_handshake(CertificateVerify(signing_scheme, signature))
            self._events.append(CheckPassed(
                "CertificateVerify signed",
                f"{scheme_name(signing_scheme)} over the transcript with the client certificate's key"))
        self._send_change_cipher_spec()
        own = self._verify_data(CLIENT_FINISHED_LABEL)
        self._derive("client_verify_data", own,
                     "PRF(master_secret, \"client finished\", Hash(handshake))[0..11]")
        self._send_handshake(Finished(own))
        self.state = ClientState.CLIENT_EXPECT_CHANGE_CIPHER_SPEC

    def _client_signature_scheme(self, request: CertificateRequest) -> SignatureScheme | None:
        """The scheme to sign CertificateVerify with, or None if we cannot answer the request."""
        key = self.config.private_key
        if not self.config.certificate_chain or key is None:
            return None
        # RFC 5246 §7.4.4 / RFC 8422 §5.5: only certificate types the server listed.
        wanted = 1 if isinstance(key, rsa.RSAPrivateKey) else 64  # rsa_sign / ecdsa_sign
        if wanted not in request.certificate_types:
            return None
        try:
            return choose_signature_scheme(key, tuple(self.config.signature_schemes),
                                           request.signature_schemes, tls12=True)
        except AlertHandshakeFailure:
            return None

    def _recv_finished(self, message: Finished, raw: bytes) -> None:
        assert self.suite is not None
        self._check_finished(SERVER_FINISHED_LABEL, message.verify_data, "server")
        self._events.append(CheckPassed(
            "server Finished", "verify_data matches: same transcript, same master secret"))
        self.transcript.add(raw)
        if self.resumed:
            # RFC 5246 §7.3: in an abbreviated handshake the client's Finished comes last.
            self._send_change_cipher_spec()
            own = self._verify_data(CLIENT_FINISHED_LABEL)
            self._derive("client_verify_data", own,
                         "PRF(master_secret, \"client finished\", Hash(handshake))[0..11]")
            self._send_handshake(Finished(own))
        self.state = ClientState.CLIENT_CONNECTED
        self._events.append(HandshakeCompleted(
            version=ProtocolVersion.TLSv1_2,
            cipher_suite=self.suite,
            named_group=self.named_group,
            extended_master_secret=self.use_extended_master_secret,
            server_name=self.config.server_name,
            peer_certificate=self.peer_certificate,
            resumed=self.resumed,
        ))
        self._keep_session12()

    # -- TLS 1.3 (RFC 8446) ------------------------------------------------------------
    def _check_hello13(self, hello: ServerHello, allowed: set[int]) -> CipherSuite:
        if hello.session_id != self._session_id:
            raise AlertIllegalParameter("legacy_session_id_echo does not echo the client's session id")
        suite = CIPHER_SUITES.get(hello.cipher_suite)
        if hello.cipher_suite not in self._offered_suites or suite is None or not suite.tls13:
            raise AlertIllegalParameter(
                f"server chose {suite_name(hello.cipher_suite)}, not a TLS 1.3 suite the client offered")
        if hello.compression_method != 0:
            raise AlertIllegalParameter("legacy_compression_method must be 0")
        self._check_extensions13(hello.extensions or (), allowed, "ServerHello")
        return suite

    def _check_extensions13(self, extensions: tuple[Extension, ...], allowed: set[int], where: str) -> None:
        """RFC 8446 §4.2: an extension never offered is unsupported_extension (the cookie of a
        HelloRetryRequest excepted); one offered but not allowed in this message is illegal_parameter."""
        for ext in extensions:
            if ext.type not in self._offered_extensions and not (
                    ext.type == ExtensionType.cookie and ExtensionType.cookie in allowed):
                raise AlertUnsupportedExtension(
                    f"extension {ext.type} in the {where}, which the client never offered")
            if ext.type not in allowed:
                raise AlertIllegalParameter(f"extension {ext.type} may not appear in a {where}")

    def _recv_hello_retry_request(self, hello: ServerHello, raw: bytes) -> None:
        """RFC 8446 §4.1.4: the server wants a share for another group; try once more."""
        if self._retried:
            raise AlertUnexpectedMessage("a second HelloRetryRequest")
        suite = self._check_hello13(hello, {ExtensionType.supported_versions, ExtensionType.key_share,
                                            ExtensionType.cookie})
        share = hello.extension(ExtensionType.key_share)
        cookie = hello.extension(ExtensionType.cookie)
        if share is None and cookie is None:
            # RFC 8446 §4.1.4: a HelloRetryRequest that would not change the ClientHello.
            raise AlertIllegalParameter("HelloRetryRequest with neither a key_share group nor a cookie")
        group = parse_key_share_retry(share) if share is not None else None
        if group is not None and (group not in self.config.groups or group in self._key_shares):
            raise AlertIllegalParameter(
                f"HelloRetryRequest asks for {group_name(group)}, which the client did not list or "
                "already sent")
        self._retried = True
        self._hello_retry_suite = hello.cipher_suite
        session = self._session
        if session is not None and CIPHER_SUITES[session.cipher_suite].hash.name != suite.hash.name:
            # RFC 8446 §4.1.4: a PSK whose hash is not the chosen suite's is not offered again.
            self._session = None
        if self._early_data_sent:
            # RFC 8446 §4.2.10: no early data after a HelloRetryRequest; the second ClientHello goes
            # in the clear, and the server may not accept the 0-RTT data already sent.
            self._records.write_protection = None
            self._offered_extensions.discard(ExtensionType.early_data)
        self.suite = suite
        self.version = ProtocolVersion.TLSv1_3
        ks = KeySchedule(suite)
        ks.restart_with_message_hash(self.transcript.data())  # the first ClientHello
        ks.update_hash(raw)
        self.key_schedule = ks
        rebuilt = []
        if group is not None:  # otherwise (a cookie only) the same share again (RFC 8446 §4.1.2)
            self._key_shares = {group: EcdhePrivateKey(NamedGroup(group), self._rng)}
        for ext in self._client_hello_extensions:
            if ext.type == ExtensionType.early_data:
                continue
            if ext.type == ExtensionType.key_share and group is not None:
                ext = key_share_client_extension(((group, self._key_shares[group].public_bytes()),))
            rebuilt.append(ext)
        if cookie is not None:
            rebuilt.append(Extension(ExtensionType.cookie, cookie))
            self._offered_extensions.add(ExtensionType.cookie)
        self._client_hello_extensions = rebuilt
        self._events.append(CheckPassed(
            "HelloRetryRequest", f"the server asked for a {group_name(group)} share; sending it"
            if group is not None else "the server sent a cookie; echoing it"))
        if not self._compat_ccs_sent:
            # RFC 8446 D.4: the compatibility CCS goes before the second ClientHello.
            self._write_records(ContentType.change_cipher_spec, b"\x01")
            self._compat_ccs_sent = True
        self._send_handshake(self._client_hello())
        self.state = ClientState.CLIENT_EXPECT_SERVER_HELLO

    _compat_ccs_sent = False

    def _recv_server_hello13(self, hello: ServerHello, raw: bytes) -> None:
        suite = self._check_hello13(hello, {ExtensionType.supported_versions, ExtensionType.key_share,
                                            ExtensionType.pre_shared_key})
        if self._hello_retry_suite is not None and hello.cipher_suite != self._hello_retry_suite:
            raise AlertIllegalParameter("the ServerHello changed the suite chosen in HelloRetryRequest")
        selected = hello.extension(ExtensionType.pre_shared_key)
        session = self._session
        if selected is not None:
            assert session is not None  # offered, or _check_hello13 refused the extension
            if parse_pre_shared_key_server(selected) != 0:
                raise AlertIllegalParameter("selected_identity names a PSK the client never offered")
            if CIPHER_SUITES[session.cipher_suite].hash.name != suite.hash.name:
                raise AlertIllegalParameter("the server resumes with a suite whose hash is not the PSK's")
            self.resumed = True
        share_data = hello.extension(ExtensionType.key_share)
        if share_data is None and not (self.resumed and PSK_KE in self.config.psk_modes):
            raise AlertMissingExtension("a TLS 1.3 ServerHello needs key_share")
        if share_data is not None and self.resumed and PSK_DHE_KE not in self.config.psk_modes:
            raise AlertIllegalParameter("a key_share in the ServerHello, and the client offered psk_ke only")
        shared: bytes | None = None
        if share_data is not None:
            group, server_public = parse_key_share_server(share_data)
            private = self._key_shares.get(group)
            if private is None:
                raise AlertIllegalParameter(f"server answered on {group_name(group)}, for which the client "
                                            "sent no share")
            self.named_group = group
            shared = private.exchange(server_public)
        self.server_random = hello.random
        self.suite = suite
        self.version = ProtocolVersion.TLSv1_3
        if self.key_schedule is None:
            self.key_schedule = KeySchedule(suite)
            self.key_schedule.update_hash(self.transcript.data())  # the ClientHello
        ks = self.key_schedule
        ks.update_hash(raw)
        ks.extract(session.psk if self.resumed and session is not None else None)
        if self.resumed:
            self._events.append(CheckPassed(
                "resumption", "the server accepted the ticket: no certificate this time; its Finished, "
                "keyed from the PSK, will show it holds the ticket's secret"))
        if shared is not None:
            self._derive("shared_secret", shared,
                         f"ECDHE on {group_name(self.named_group or 0)}: the client's private key with "
                         "the server's share")
        ks.extract(shared)
        self._client_handshake_secret = self._secret13(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "client_handshake_traffic_secret",
            ks.derive_secret(b"c hs traffic"), "Derive-Secret(handshake_secret, \"c hs traffic\", CH..SH)")
        self._server_handshake_secret = self._secret13(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET", "server_handshake_traffic_secret",
            ks.derive_secret(b"s hs traffic"), "Derive-Secret(handshake_secret, \"s hs traffic\", CH..SH)")
        self._protect13("read", self._server_handshake_secret)
        self.state = ClientState.CLIENT_EXPECT_ENCRYPTED_EXTENSIONS

    def _recv_encrypted_extensions(self, message: EncryptedExtensions, raw: bytes) -> None:
        assert self.key_schedule is not None
        self._check_extensions13(message.extensions, _ENCRYPTED_EXTENSIONS, "EncryptedExtensions")
        if message.extensions and any(e.type == ExtensionType.server_name and e.data
                                      for e in message.extensions):
            raise AlertDecodeError("the server's server_name extension must be empty (RFC 6066 §3)")
        if message.extensions and any(e.type == ExtensionType.early_data for e in message.extensions):
            if not self.resumed:
                # RFC 8446 §4.2.10: early data goes with the first PSK only.
                raise AlertIllegalParameter("early_data accepted in a handshake that did not resume")
            self.early_data_accepted = True
        self.key_schedule.update_hash(raw)
        self.state = (ClientState.CLIENT_EXPECT_FINISHED13 if self.resumed
                      else ClientState.CLIENT_EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE)

    def _recv_certificate_request13(self, message: CertificateRequest13, raw: bytes) -> None:
        assert self.key_schedule is not None
        if message.certificate_request_context:
            # RFC 8446 §4.3.2: "SHALL be zero length unless used for ... post-handshake
            # authentication", which this client never offers.
            raise AlertIllegalParameter("a CertificateRequest in the handshake must have an empty context")
        if message.extension(ExtensionType.signature_algorithms) is None:
            raise AlertMissingExtension("CertificateRequest needs signature_algorithms")
        self.key_schedule.update_hash(raw)
        self._certificate_request13 = message
        self.state = ClientState.CLIENT_EXPECT_CERTIFICATE13

    def _recv_certificate13(self, message: Certificate13, raw: bytes) -> None:
        assert self.key_schedule is not None
        if message.certificate_request_context:
            raise AlertIllegalParameter("the server's Certificate must have an empty request context")
        if not message.certificate_list:
            # RFC 8446 §4.4.2.4: an empty server Certificate is decode_error.
            raise AlertDecodeError("the server's Certificate message lists no certificate")
        if message.entry_extensions is not None:
            # RFC 8446 §4.4.2: they must answer ClientHello extensions (status_request, SCT),
            # and this client offers none of those.
            raise AlertUnsupportedExtension("CertificateEntry extensions the client never asked for")
        self._accept_server_chain(message.certificate_list)
        self.key_schedule.update_hash(raw)
        self.state = ClientState.CLIENT_EXPECT_CERTIFICATE_VERIFY13

    def _recv_certificate_verify13(self, message: CertificateVerify, raw: bytes) -> None:
        assert self.key_schedule is not None and self.peer_certificate is not None
        scheme = message.signature_scheme
        if scheme not in self.config.signature_schemes or scheme in NOT_IN_TLS13_SIGNATURES:
            raise AlertIllegalParameter(f"{scheme_name(scheme)} may not sign a TLS 1.3 CertificateVerify")
        verify(self.peer_certificate.public_key(), scheme, message.signature,
               self._certificate_verify_content("server"))
        self._events.append(CheckPassed(
            "server CertificateVerify",
            f"{scheme_name(scheme)} signature over the transcript verifies with the certificate key: "
            "the server holds the certificate's private key"))
        self.key_schedule.update_hash(raw)
        self.state = ClientState.CLIENT_EXPECT_FINISHED13

    def _recv_finished13(self, message: Finished, raw: bytes) -> None:
        ks = self.key_schedule
        assert ks is not None and self.suite is not None
        self._check_finished13(self._server_handshake_secret, message.verify_data, "server")
        self._events.append(CheckPassed(
            "server Finished", "verify_data matches: same transcript, same handshake secret"))
        ks.update_hash(raw)
        client_secret, self._server_application_secret = self._application_secrets13(ks)
        self._protect13("read", self._server_application_secret)
        # The client's second flight, under its handshake keys.
        if not self._compat_ccs_sent:
            self._write_records(ContentType.change_cipher_spec, b"\x01")
            self._compat_ccs_sent = True
        if self.early_data_accepted:
            self._send_handshake(EndOfEarlyData())  # RFC 8446 §4.5: the last record under the early keys
        self._protect13("write", self._client_handshake_secret)
        request = self._certificate_request13
        if request is not None:
            schemes = parse_u16_list(request.extension(ExtensionType.signature_algorithms) or b"")
            scheme = self._client_signature_scheme13(schemes)
            chain = self.config.certificate_chain if scheme is not None else ()
            self._send_handshake(Certificate13(chain, request.certificate_request_context))
            if scheme is not None:
                assert self.config.private_key is not None
                signature = sign(self.config.private_key, scheme, self._certificate_verify_content("client"))
                self._send_handshake(CertificateVerify(scheme, signature))
        own = self._finished13(self._client_handshake_secret)
        self._derive("client_verify_data", own, "HMAC(finished_key, Transcript-Hash(CH..server Finished))")
        self._send_handshake(Finished(own))
        self._resumption_master_secret = ks.derive_secret(b"res master")  # RFC 8446 §7.1, CH..client Finished
        self._own_application_secret = client_secret
        self._protect13("write", client_secret)
        self.state = ClientState.CLIENT_CONNECTED
        self._events.append(HandshakeCompleted(
            version=ProtocolVersion.TLSv1_3,
            cipher_suite=self.suite,
            named_group=self.named_group,
            extended_master_secret=True,  # TLS 1.3 always binds keys to the transcript
            server_name=self.config.server_name,
            peer_certificate=self.peer_certificate,
            resumed=self.resumed,
            early_data_accepted=self.early_data_accepted,
        ))

    def _recv_new_session_ticket(self, message: NewSessionTicket13) -> None:
        """RFC 8446 §4.6.1: the PSK a ticket stands for is
        HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce)."""
        assert self.suite is not None
        if message.ticket_lifetime > MAX_TICKET_LIFETIME:
            raise AlertIllegalParameter(f"ticket_lifetime {message.ticket_lifetime} s exceeds 7 days")
        if message.ticket_lifetime == 0:
            return  # "the ticket should be discarded immediately"
        self._events.append(SessionTicketReceived(Session(
            server_name=self.config.server_name,
            cipher_suite=self.suite.code,
            psk=resumption_psk(self.suite, self._resumption_master_secret, message.ticket_nonce),
            ticket=message.ticket,
            ticket_age_add=message.ticket_age_add,
            lifetime=message.ticket_lifetime,
            received_at=self._now(),
            max_early_data_size=message.max_early_data_size(),
        )))

    def _client_signature_scheme13(self, theirs: tuple[int, ...]) -> SignatureScheme | None:
        key = self.config.private_key
        if not self.config.certificate_chain or key is None:
            return None
        ours = tuple(s for s in self.config.signature_schemes if s not in NOT_IN_TLS13_SIGNATURES)
        try:
            return choose_signature_scheme(key, ours, theirs)
        except AlertHandshakeFailure:
            return None

    _transitions = {
        (ClientState.CLIENT_EXPECT_SERVER_HELLO, HandshakeType.server_hello): _recv_server_hello,
        (ClientState.CLIENT_EXPECT_CERTIFICATE, HandshakeType.certificate): _recv_certificate,
        (ClientState.CLIENT_EXPECT_SERVER_KEY_EXCHANGE,
         HandshakeType.server_key_exchange): _recv_server_key_exchange,
        (ClientState.CLIENT_EXPECT_SERVER_HELLO_DONE,
         HandshakeType.certificate_request): _recv_certificate_request,
        (ClientState.CLIENT_EXPECT_SERVER_HELLO_DONE,
         HandshakeType.server_hello_done): _recv_server_hello_done,
        (ClientState.CLIENT_EXPECT_FINISHED, HandshakeType.finished): _recv_finished,
        (ClientState.CLIENT_EXPECT_CHANGE_CIPHER_SPEC,
         HandshakeType.new_session_ticket): _recv_new_session_ticket12,
        (ClientState.CLIENT_EXPECT_ENCRYPTED_EXTENSIONS,
         HandshakeType.encrypted_extensions): _recv_encrypted_extensions,
        (ClientState.CLIENT_EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE,
         HandshakeType.certificate_request): _recv_certificate_request13,
        (ClientState.CLIENT_EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE,
         HandshakeType.certificate): _recv_certificate13,
        (ClientState.CLIENT_EXPECT_CERTIFICATE13, HandshakeType.certificate): _recv_certificate13,
        (ClientState.CLIENT_EXPECT_CERTIFICATE_VERIFY13,
         HandshakeType.certificate_verify): _recv_certificate_verify13,
        (ClientState.CLIENT_EXPECT_FINISHED13, HandshakeType.finished): _recv_finished13,
    }


def _is_ip_address(host: str) -> bool:
    import ipaddress

    if ":" not in host and not host.replace(".", "").isdigit():
        return False  # every IPv4 literal is digits and dots; every IPv6 one has a colon
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
