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
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ._endpoint import Clock, Endpoint, TLSUsageError, utc_now
from .alerts import (
    AlertHandshakeFailure,
    AlertIllegalParameter,
    AlertProtocolVersion,
    AlertUnsupportedCertificate,
    AlertUnsupportedExtension,
)
from .events import CheckPassed, HandshakeCompleted
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
from .messages import (
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    ExtensionType,
    Finished,
    HandshakeType,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    ec_point_formats_extension,
    extended_master_secret_extension,
    renegotiation_info_extension,
    server_name_extension,
    signature_algorithms_extension,
    supported_groups_extension,
)
from .pki import load_certificates, verify_server_chain
from .suites import (
    CIPHER_SUITES,
    DEFAULT_CIPHER_SUITES,
    SUPPORTED_GROUPS,
    SUPPORTED_SIGNATURE_SCHEMES,
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

    def _on_post_handshake(self, msg_type: int) -> bool:
        if msg_type == HandshakeType.hello_request:
            # RFC 5746: we never renegotiate; say so and carry on.
            from .alerts import AlertDescription, AlertLevel
            from .messages import AlertMessage
            from .record import ContentType

            self._write_records(ContentType.alert, AlertMessage(
                AlertLevel.WARNING, AlertDescription.no_renegotiation).encode())
            return True
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
        if any(CIPHER_SUITES[c].key_exchange is KeyExchange.ECDHE for c in self._offered_suites):
            extensions.append(supported_groups_extension(tuple(int(g) for g in cfg.groups)))
            extensions.append(ec_point_formats_extension())
        extensions.append(signature_algorithms_extension(tuple(cfg.signature_schemes)))
        if cfg.offer_extended_master_secret:
            extensions.append(extended_master_secret_extension())
        extensions.append(renegotiation_info_extension())
        self._offered_extensions = {e.type for e in extensions}
        hello = ClientHello(
            client_version=ProtocolVersion.TLSv1_2,
            random=self.client_random,
            session_id=b"",
            cipher_suites=self._offered_suites,
            compression_methods=b"\x00",
            extensions=tuple(extensions),
        )
        self._send_handshake(hello)
        self.state = ClientState.CLIENT_EXPECT_SERVER_HELLO

    # -- receiving -----------------------------------------------------------------
    def _recv_server_hello(self, hello: ServerHello, raw: bytes) -> None:
        self.transcript.add(raw)
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
        self.use_extended_master_secret = (
            hello.extension(ExtensionType.extended_master_secret) is not None)
        self.state = ClientState.CLIENT_EXPECT_CERTIFICATE

    def _recv_certificate(self, message: Certificate, raw: bytes) -> None:
        self.transcript.add(raw)
        assert self.suite is not None
        chain = message.certificate_list
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
        key = self.peer_certificate.public_key()
        needs = "RSA" if self.suite.authentication.value == "RSA" else "EC"
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if (needs == "RSA") != isinstance(key, rsa.RSAPublicKey) or (
                needs == "EC" and not isinstance(key, ec.EllipticCurvePublicKey)):
            raise AlertUnsupportedCertificate(
                f"{self.suite.name} needs an {needs} certificate key")
        self._server_certificates = chain
        self.state = (ClientState.CLIENT_EXPECT_SERVER_KEY_EXCHANGE
                      if self._uses_ecdhe(self.suite)
                      else ClientState.CLIENT_EXPECT_SERVER_HELLO_DONE)

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
        if not scheme_fits_key(message.signature_scheme, key):
            raise AlertIllegalParameter("the signature scheme does not fit the certificate key")
        signed = self.client_random + self.server_random + message.params()
        verify(key, message.signature_scheme, message.signature, signed)
        self._events.append(CheckPassed(
            "ServerKeyExchange signature",
            f"{scheme_name(message.signature_scheme)} over client_random + server_random + "
            f"{group_name(message.named_curve)} share verifies with the certificate key"))
        self._server_share = message
        self.named_group = message.named_curve
        self.state = ClientState.CLIENT_EXPECT_SERVER_HELLO_DONE

    def _recv_certificate_request(self, message: CertificateRequest, raw: bytes) -> None:
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
        try:
            return choose_signature_scheme(key, tuple(self.config.signature_schemes),
                                           request.signature_schemes)
        except AlertHandshakeFailure:
            return None

    def _recv_finished(self, message: Finished, raw: bytes) -> None:
        assert self.suite is not None
        self._check_finished(SERVER_FINISHED_LABEL, message.verify_data, "server")
        self._events.append(CheckPassed(
            "server Finished", "verify_data matches: same transcript, same master secret"))
        self.transcript.add(raw)
        self.state = ClientState.CLIENT_CONNECTED
        self._events.append(HandshakeCompleted(
            version=ProtocolVersion.TLSv1_2,
            cipher_suite=self.suite,
            named_group=self.named_group,
            extended_master_secret=self.use_extended_master_secret,
            server_name=self.config.server_name,
            peer_certificate=self.peer_certificate,
        ))

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
    }


def _is_ip_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
