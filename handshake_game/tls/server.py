"""The reference TLS 1.2 server, as a state machine (RFC 5246 §7.3).

It answers a ClientHello with ServerHello, Certificate, ServerKeyExchange (for
ECDHE suites, signed over both randoms) and ServerHelloDone; takes the client's
ClientKeyExchange, ChangeCipherSpec and Finished; and closes the handshake with
its own ChangeCipherSpec and Finished. Suite choice follows the server's order
of preference among the suites the client offered and its certificate can serve.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from . import pki
from ._endpoint import Clock, Endpoint, utc_now
from .alerts import (
    AlertDescription,
    AlertHandshakeFailure,
    AlertIllegalParameter,
    AlertLevel,
    AlertProtocolVersion,
)
from .events import CheckPassed, HandshakeCompleted
from .keyexchange import (
    EcdhePrivateKey,
    Rng,
    choose_signature_scheme,
    rsa_decrypt_pre_master,
    sign,
    verify,
)
from .keyschedule import CLIENT_FINISHED_LABEL, SERVER_FINISHED_LABEL
from .messages import (
    AlertMessage,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    Extension,
    ExtensionType,
    Finished,
    HandshakeType,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    ec_point_formats_extension,
    extended_master_secret_extension,
    parse_server_name,
    parse_u16_list,
    renegotiation_info_extension,
)
from .record import ContentType
from .suites import (
    CIPHER_SUITES,
    DEFAULT_CIPHER_SUITES,
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
    SERVER_CONNECTED = enum.auto()
    SERVER_ERROR = enum.auto()


# RFC 5246 §7.4.1.4.1: a client that sends no signature_algorithms accepts SHA-1.
_DEFAULT_PEER_SCHEMES = (SignatureScheme.rsa_pkcs1_sha1, SignatureScheme.ecdsa_sha1)


# ClientCertificateType, RFC 5246 §7.4.4 and RFC 8422 §5.5.
_RSA_SIGN = 1
_ECDSA_SIGN = 64

_CURVE_GROUPS = {"secp256r1": NamedGroup.secp256r1, "secp384r1": NamedGroup.secp384r1,
                 "secp521r1": NamedGroup.secp521r1}


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

    def _on_post_handshake(self, msg_type: int) -> bool:
        if msg_type == HandshakeType.client_hello:
            self._write_records(ContentType.alert, AlertMessage(
                AlertLevel.WARNING, AlertDescription.no_renegotiation).encode())
            return True
        return False

    # -- negotiation -----------------------------------------------------------------
    def _suite_usable(self, suite: CipherSuite, groups: tuple[int, ...],
                      schemes: tuple[int, ...]) -> bool:
        if suite.authentication is Authentication.RSA and not self._key_is_rsa:
            return False
        # RFC 8422 §5.1: an ECDSA certificate's curve must be one the client listed.
        if suite.authentication is Authentication.ECDSA and (
                self._certificate_group is None or self._certificate_group not in groups):
            return False
        if suite.key_exchange is KeyExchange.ECDHE:
            if not any(g in groups for g in self.config.groups):
                return False
            try:
                choose_signature_scheme(self.config.private_key, self.config.signature_schemes,
                                        schemes)
            except AlertHandshakeFailure:
                return False
        return True

    def _recv_client_hello(self, hello: ClientHello, raw: bytes) -> None:
        self.transcript.add(raw)
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
        renegotiation = hello.extension(ExtensionType.renegotiation_info)
        if renegotiation is not None and renegotiation != b"\x00":
            raise AlertHandshakeFailure("renegotiation_info must be empty on a first handshake")
        secure_renegotiation = (renegotiation is not None
                                or TLS_EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites)

        chosen = None
        for name in self.config.cipher_suites:
            suite = suite_by_name(name)
            if suite.code in hello.cipher_suites and self._suite_usable(suite, groups, schemes):
                chosen = suite
                break
        if chosen is None:
            raise AlertHandshakeFailure("no cipher suite in common with the client")
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

        self.server_random = self._rng(32)
        self._send_handshake(ServerHello(
            server_version=ProtocolVersion.TLSv1_2,
            random=self.server_random,
            session_id=b"",
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
                                             self.config.signature_schemes, schemes)
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
        trust = self.config.client_trust_store
        if trust is not None:
            self.client_certificate = pki.verify_client_chain(chain, trust, self._now())
            self._events.append(CheckPassed(
                "client certificate chain",
                "issued by a CA the server trusts, valid now, usable for clientAuth"))
        else:
            self.client_certificate = pki.load_certificates(chain)[0]
            self._events.append(CheckPassed("client certificate chain", "not checked (no client CA set)"))
        self.state = ServerState.SERVER_EXPECT_CLIENT_KEY_EXCHANGE

    def _recv_certificate_verify(self, message: CertificateVerify, raw: bytes) -> None:
        assert self.client_certificate is not None
        if message.signature_scheme not in self._requested_schemes:
            raise AlertIllegalParameter(
                f"the client signed with {scheme_name(message.signature_scheme)}, "
                "which the CertificateRequest did not offer")
        # RFC 5246 §7.4.8: the signature covers every handshake message before this one.
        verify(self.client_certificate.public_key(), message.signature_scheme, message.signature,
               self.transcript.data())
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
        ))

    _transitions = {
        (ServerState.SERVER_EXPECT_CLIENT_HELLO, HandshakeType.client_hello): _recv_client_hello,
        (ServerState.SERVER_EXPECT_CLIENT_CERTIFICATE,
         HandshakeType.certificate): _recv_client_certificate,
        (ServerState.SERVER_EXPECT_CLIENT_KEY_EXCHANGE,
         HandshakeType.client_key_exchange): _recv_client_key_exchange,
        (ServerState.SERVER_EXPECT_CERTIFICATE_VERIFY,
         HandshakeType.certificate_verify): _recv_certificate_verify,
        (ServerState.SERVER_EXPECT_FINISHED, HandshakeType.finished): _recv_finished,
    }


__all__ = ["CIPHER_SUITES", "ClientAuthentication", "ServerConfig", "ServerState", "TLSServer"]
