"""The annotated step-by-step trace that `connect` and `listen` print.

It turns engine events into lines a student can follow: each message with its
key fields, each check that passed, each secret derived, and why a failure
happened. Arrows are always drawn client → server or server → client.

The peer chooses much of what is shown (its server name, certificate names, the
request line): every line goes out through :func:`printable`, so no control byte
from the wire ever reaches the terminal. And the trace only watches: a message it
cannot show is noted in the trace, and the connection goes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from cryptography import x509

from ..tls import events as ev
from ..tls.alerts import describe_alert
from ..tls.messages import (
    Certificate,
    Certificate13,
    CertificateRequest,
    CertificateRequest13,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    DhServerKeyExchange,
    EncryptedExtensions,
    EndOfEarlyData,
    ExtensionType,
    Finished,
    HandshakeMessage,
    KeyUpdate,
    NewSessionTicket12,
    NewSessionTicket13,
    ServerHello,
    ServerKeyExchange,
    extension_name,
    parse_key_share_client,
    parse_key_share_retry,
    parse_key_share_server,
    parse_selected_version,
    parse_supported_versions,
    parse_u16_list,
    server_name_entries,
)
from ..tls.suites import KeyExchange, group_name, scheme_name, suite_name, version_name

C2S = "C → S"
S2C = "S → C"


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on or hide written as an escape.

    Control characters (ESC, BEL, NUL, CR…), format characters (bidi overrides,
    zero-width) and separators other than the space become ``\\x1b``, ``\\u202e``…;
    printable text, ours included (→, ✓, §), is left as it is.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


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
        versions = message.extension(ExtensionType.supported_versions)
        if versions is not None:
            fields.append(("supported_versions",
                           ", ".join(version_name(v) for v in parse_supported_versions(versions))))
        shares = message.extension(ExtensionType.key_share)
        if shares is not None:
            fields.append(("key_share", ", ".join(f"{group_name(g)} {k.hex()}"
                                                  for g, k in parse_key_share_client(shares))))
        sni = message.extension(ExtensionType.server_name)
        if sni is not None:
            # Shown as sent, even when the server refuses it (RFC 6066 §3: one ASCII host_name).
            names = [name.decode("ascii", "backslashreplace")
                     for name_type, name in server_name_entries(sni) if name_type == 0]
            fields.append(("server_name", ", ".join(names) or "?"))
        groups = message.extension(ExtensionType.supported_groups)
        if groups is not None:
            fields.append(("supported_groups", ", ".join(group_name(g) for g in parse_u16_list(groups))))
        schemes = message.extension(ExtensionType.signature_algorithms)
        if schemes is not None:
            fields.append(("signature_algorithms",
                           ", ".join(scheme_name(s) for s in parse_u16_list(schemes))))
        fields.append(("extensions", ", ".join(extension_name(e.type) for e in message.extensions or ())))
        offered = (parse_supported_versions(versions) if versions is not None
                   else (message.client_version,))
        return f"ClientHello  {' / '.join(version_name(v) for v in offered)}", fields
    if isinstance(message, ServerHello) and message.is_hello_retry_request:
        # RFC 8446 §4.1.4: its key_share holds only the group wanted, not a share.
        share = message.extension(ExtensionType.key_share)
        wanted = (f"{group_name(parse_key_share_retry(share))}: the client must send a share for this group"
                  if share is not None else "none: a cookie only, the client sends the same share again")
        fields = [("cipher_suite", suite_name(message.cipher_suite)),
                  ("selected_group", wanted),
                  ("extensions", ", ".join(extension_name(e.type) for e in message.extensions or ()))]
        return "HelloRetryRequest  (a ServerHello with the special random)", fields
    if isinstance(message, ServerHello):
        selected = message.extension(ExtensionType.supported_versions)
        version = parse_selected_version(selected) if selected else message.server_version
        fields = [
            ("server_random", message.random.hex()),
            ("cipher_suite", suite_name(message.cipher_suite)),
            ("extensions", ", ".join(extension_name(e.type) for e in message.extensions or ()) or "none"),
        ]
        share = message.extension(ExtensionType.key_share)
        if share is not None:
            group, key = parse_key_share_server(share)
            fields.append(("key_share", f"{group_name(group)} {key.hex()}"))
        return f"ServerHello  {version_name(version)}", fields
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
        if message.key_exchange is KeyExchange.DHE:
            return "ClientKeyExchange  DHE", [("dh_Yc", message.exchange_keys.hex())]
        return "ClientKeyExchange  ECDHE", [("public", message.exchange_keys.hex())]
    if isinstance(message, DhServerKeyExchange):
        # The game's weak-dh scenario only: the network tools never negotiate DHE.
        return f"ServerKeyExchange  DH, {int.from_bytes(message.p, 'big').bit_length()}-bit group", [
            ("dh_p", message.p.hex()), ("dh_g", message.g.hex()), ("dh_Ys", message.public.hex()),
            ("signature", f"{scheme_name(message.signature_scheme)}, {len(message.signature)} bytes "
                          "over client_random + server_random + params"),
        ]
    if isinstance(message, EncryptedExtensions):
        return "EncryptedExtensions  (encrypted with the server's handshake keys)", [
            ("extensions", ", ".join(extension_name(e.type) for e in message.extensions) or "none")]
    if isinstance(message, Certificate13):
        return (f"Certificate  chain of {len(message.certificate_list)} (encrypted)",
                [(f"[{i}]", _cert_line(der)) for i, der in enumerate(message.certificate_list)])
    if isinstance(message, CertificateRequest13):
        schemes = message.extension(ExtensionType.signature_algorithms)
        return "CertificateRequest  (the server asks for the client's certificate)", [
            ("signature_algorithms",
             ", ".join(scheme_name(s) for s in parse_u16_list(schemes)) if schemes else "?")]
    if isinstance(message, NewSessionTicket13):
        early = message.max_early_data_size()
        return "NewSessionTicket  (a ticket to resume with, RFC 8446 §4.6.1)", [
            ("ticket_lifetime", f"{message.ticket_lifetime} s"), ("ticket", f"{len(message.ticket)} bytes"),
            ("max_early_data_size", f"{early} bytes of 0-RTT data" if early else "none: no 0-RTT")]
    if isinstance(message, NewSessionTicket12):
        return "NewSessionTicket  (the session sealed in a ticket to resume with, RFC 5077 §3.3)", [
            ("ticket_lifetime_hint", f"{message.ticket_lifetime_hint} s"),
            ("ticket", f"{len(message.ticket)} bytes")]
    if isinstance(message, EndOfEarlyData):
        return "EndOfEarlyData  (the client's 0-RTT data ends; under the early keys)", []
    if isinstance(message, KeyUpdate):
        return "KeyUpdate", [("request_update", str(message.request_update))]
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
                          "the handshake so far, made with the sender's certificate key")]
    if isinstance(message, Finished):
        return "Finished", [("verify_data", message.verify_data.hex())]
    return type(message).__name__, []


class Trace:
    """Formats engine events for one connection, seen from ``role``'s side."""

    def __init__(self, write: Callable[[str], None], role: str, show_secrets: bool = True) -> None:
        self._write_line = write
        self._out = C2S if role == "client" else S2C
        self._in = S2C if role == "client" else C2S
        self._role = role
        self._show_secrets = show_secrets
        self._tls13 = False

    def feed(self, events: list[ev.Event]) -> None:
        for event in events:
            self.event(event)

    def _write(self, line: str) -> None:
        self._write_line(printable(line))

    def event(self, event: ev.Event) -> None:
        """Writes the lines for one event. Never raises: the trace must not end a connection."""
        try:
            self._event(event)
        except Exception as exc:  # a message the trace cannot show is still a message the engine took
            with contextlib.suppress(Exception):
                self._write(f"   (the trace cannot show this {type(event).__name__}: "
                            f"{type(exc).__name__}: {exc}; the connection goes on)")

    def _event(self, event: ev.Event) -> None:
        w = self._write
        if isinstance(event, ev.HandshakeMessageSent | ev.HandshakeMessageReceived):
            arrow = self._out if isinstance(event, ev.HandshakeMessageSent) else self._in
            if isinstance(event.message, ServerHello) and event.message.extension(
                    ExtensionType.supported_versions) is not None:
                self._tls13 = True
            headline, fields = message_details(event.message)
            w(f"{arrow}  {headline}  ({len(event.raw)} bytes)")
            for name, value in fields:
                w(f"         {name:<22} {value}")
        elif isinstance(event, ev.ChangeCipherSpecSent | ev.ChangeCipherSpecReceived):
            sent = isinstance(event, ev.ChangeCipherSpecSent)
            sender = self._role if sent else ("server" if self._role == "client" else "client")
            note = ("middlebox compatibility only: TLS 1.3 ignores it" if self._tls13
                    else f"records from {sender} are encrypted from here on")
            w(f"{self._out if sent else self._in}  ChangeCipherSpec  ({note})")
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
            if event.version == 0x0303:
                parts.append("extended master secret" if event.extended_master_secret
                             else "classic master secret")
            if event.resumed and event.version == 0x0303:
                # RFC 5246 §7.3: the abbreviated handshake reuses the master secret; no key exchange.
                parts.append("session resumed: abbreviated handshake, the master secret kept")
            elif event.resumed:
                parts.append("resumed with a ticket (PSK" + (" + ECDHE" if event.named_group else
                                                            " only: no forward secrecy") + ")")
            if event.early_data_accepted:
                parts.append("0-RTT data accepted")
            w(f"== handshake complete: {', '.join(parts)}")
        elif isinstance(event, ev.EarlyDataReceived):
            w(f"{self._in}  early data  ({len(event.data)} bytes, 0-RTT: the client sent it before the "
              "handshake; it may be a replay)")
        elif isinstance(event, ev.SessionTicketReceived):
            kept = event.session
            if kept.version == 0x0303:
                how = " and ".join(([f"session id {kept.session_id.hex()[:16]}…"] if kept.session_id else [])
                                   + ([f"a {len(kept.ticket)}-byte ticket"] if kept.ticket else []))
                w(f"   {self._role} keeps the session to resume: its master secret, by {how}")
            else:
                w(f"   {self._role} keeps a session: the ticket and the PSK it stands for, valid "
                  f"{kept.lifetime} s")
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
