"""The annotated step-by-step trace that `connect` and `listen` print.

It turns engine events into lines a student can follow: each message with its
key fields, each check that passed, each secret derived, and why a failure
happened. Arrows are always drawn client → server or server → client.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509

from ..tls import events as ev
from ..tls.alerts import describe_alert
from ..tls.messages import (
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    ExtensionType,
    Finished,
    HandshakeMessage,
    ServerHello,
    ServerKeyExchange,
    extension_name,
    parse_server_name,
    parse_u16_list,
)
from ..tls.suites import KeyExchange, group_name, scheme_name, suite_name, version_name

C2S = "C → S"
S2C = "S → C"


def _cert_line(der: bytes) -> str:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return f"{len(der)} bytes, not a parseable certificate"
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = ", ".join(str(n.value) for n in san)
    except x509.ExtensionNotFound:
        names = "no SAN"
    return (f"{cert.subject.rfc4514_string()} [{names}] issued by {cert.issuer.rfc4514_string()}, "
            f"valid until {cert.not_valid_after_utc:%Y-%m-%d}")


def message_details(message: HandshakeMessage) -> tuple[str, list[tuple[str, str]]]:
    """A headline and (field, value) lines for one handshake message."""
    if isinstance(message, ClientHello):
        fields = [("client_random", message.random.hex()),
                  ("cipher_suites", ", ".join(suite_name(c) for c in message.cipher_suites))]
        sni = message.extension(ExtensionType.server_name)
        if sni is not None:
            fields.append(("server_name", parse_server_name(sni) or "?"))
        groups = message.extension(ExtensionType.supported_groups)
        if groups is not None:
            fields.append(("supported_groups", ", ".join(group_name(g) for g in parse_u16_list(groups))))
        schemes = message.extension(ExtensionType.signature_algorithms)
        if schemes is not None:
            fields.append(("signature_algorithms",
                           ", ".join(scheme_name(s) for s in parse_u16_list(schemes))))
        fields.append(("extensions", ", ".join(extension_name(e.type) for e in message.extensions or ())))
        return f"ClientHello  {version_name(message.client_version)}", fields
    if isinstance(message, ServerHello):
        return f"ServerHello  {version_name(message.server_version)}", [
            ("server_random", message.random.hex()),
            ("cipher_suite", suite_name(message.cipher_suite)),
            ("extensions", ", ".join(extension_name(e.type) for e in message.extensions or ()) or "none"),
        ]
    if isinstance(message, Certificate):
        return (f"Certificate  chain of {len(message.certificate_list)}",
                [(f"[{i}]", _cert_line(der)) for i, der in enumerate(message.certificate_list)])
    if isinstance(message, ServerKeyExchange):
        return f"ServerKeyExchange  {group_name(message.named_curve)}", [
            ("public", message.public.hex()),
            ("signature", f"{scheme_name(message.signature_scheme)}, {len(message.signature)} bytes "
                          "over client_random + server_random + params"),
        ]
    if isinstance(message, ClientKeyExchange):
        if message.key_exchange is KeyExchange.RSA:
            return "ClientKeyExchange  RSA", [
                ("encrypted_pre_master", f"{len(message.exchange_keys)} bytes, only the server's "
                                         "private key can open them")]
        return "ClientKeyExchange  ECDHE", [("public", message.exchange_keys.hex())]
    if isinstance(message, CertificateRequest):
        types = {1: "rsa_sign", 64: "ecdsa_sign"}
        return "CertificateRequest  (the server asks for the client's certificate)", [
            ("certificate_types", ", ".join(types.get(t, str(t)) for t in message.certificate_types)),
            ("signature_algorithms", ", ".join(scheme_name(s) for s in message.signature_schemes)),
            ("certificate_authorities",
             f"{len(message.certificate_authorities)} CA names (DER)" if message.certificate_authorities
             else "any"),
        ]
    if isinstance(message, CertificateVerify):
        return "CertificateVerify", [
            ("signature", f"{scheme_name(message.signature_scheme)}, {len(message.signature)} bytes over "
                          "every handshake message so far, with the client certificate's key")]
    if isinstance(message, Finished):
        return "Finished", [("verify_data", message.verify_data.hex())]
    return type(message).__name__, []


class Trace:
    """Formats engine events for one connection, seen from ``role``'s side."""

    def __init__(self, write: Callable[[str], None], role: str, show_secrets: bool = True) -> None:
        self._write = write
        self._out = C2S if role == "client" else S2C
        self._in = S2C if role == "client" else C2S
        self._role = role
        self._show_secrets = show_secrets

    def feed(self, events: list[ev.Event]) -> None:
        for event in events:
            self.event(event)

    def event(self, event: ev.Event) -> None:
        w = self._write
        if isinstance(event, ev.HandshakeMessageSent | ev.HandshakeMessageReceived):
            arrow = self._out if isinstance(event, ev.HandshakeMessageSent) else self._in
            headline, fields = message_details(event.message)
            w(f"{arrow}  {headline}  ({len(event.raw)} bytes)")
            for name, value in fields:
                w(f"         {name:<22} {value}")
        elif isinstance(event, ev.ChangeCipherSpecSent):
            w(f"{self._out}  ChangeCipherSpec  (records from {self._role} are encrypted from here on)")
        elif isinstance(event, ev.ChangeCipherSpecReceived):
            peer = "server" if self._role == "client" else "client"
            w(f"{self._in}  ChangeCipherSpec  (records from {peer} are encrypted from here on)")
        elif isinstance(event, ev.SecretDerived):
            value = event.value.hex() if self._show_secrets else "(hidden)"
            w(f"   {self._role} derives {event.name} = {value}")
            w(f"         {event.explanation}")
        elif isinstance(event, ev.CheckPassed):
            w(f"   ✓ {event.name}: {event.detail}")
        elif isinstance(event, ev.HandshakeCompleted):
            parts = [version_name(event.version), event.cipher_suite.name]
            if event.named_group is not None:
                parts.append(group_name(event.named_group))
            parts.append("extended master secret" if event.extended_master_secret
                         else "classic master secret")
            w(f"== handshake complete: {', '.join(parts)}")
        elif isinstance(event, ev.ApplicationDataReceived):
            w(f"{self._in}  application data  ({len(event.data)} bytes, decrypted)")
        elif isinstance(event, ev.AlertReceived):
            w(f"{self._in}  Alert  {'fatal' if event.level == 2 else 'warning'}: "
              f"{describe_alert(event.description)}")
        elif isinstance(event, ev.AlertSent):
            w(f"{self._out}  Alert  fatal: {describe_alert(event.description)}")
            w(f"         because {event.reason}")
        elif isinstance(event, ev.ConnectionClosed):
            w("== connection closed")

    def application_data_sent(self, data: bytes) -> None:
        self._write(f"{self._out}  application data  ({len(data)} bytes, encrypted)")
