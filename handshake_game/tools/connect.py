"""`handshake-game connect`: a real TCP client driven by the engine.

The socket only moves bytes; every TLS decision is the sans-I/O TLSClient's.
With ``--pcap`` every byte the socket sends or receives is also recorded, with its
time, and written at the end as a capture Wireshark decrypts (see capture_files).
``--sess-out`` keeps the last TLS 1.3 ticket the server sent, ``--sess-in`` resumes with one,
and ``--early-data`` sends a file as 0-RTT data with it (spelled as s_client spells them).
Exit codes: 0 handshake and exchange succeeded, 1 TLS failure (alert or failed
check), 2 usage error, 3 network error.
"""

from __future__ import annotations

import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..tls import (
    Alert,
    AlertReceived,
    AlertSent,
    ApplicationDataReceived,
    ClientConfig,
    ConnectionClosed,
    HandshakeCompleted,
    HandshakeMessageReceived,
    NamedGroup,
    SessionTicketReceived,
    TLSClient,
    describe_alert,
)
from ..tls.messages import CertificateRequest
from ..tls.pki import load_pem_certificates, load_pem_private_key
from ..tls.session import Session, SessionDecodeError
from ..tls.suites import version_name
from .capture_files import append_keylog, is_pcapng, socket_capture, utc_now, write_capture
from .trace import Trace, printable
from .versions import VersionChoiceError, versions_and_suites

EXIT_OK = 0
EXIT_TLS_FAILURE = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3


class UsageError(Exception):
    pass


@dataclass
class ConnectOptions:
    target: str
    servername: str | None = None
    cafile: str | None = None
    insecure: bool = False
    cert: str | None = None
    key: str | None = None
    tls: str | None = None
    ciphers: list[str] | None = None
    group: str | None = None
    request: str | None = None
    keylog: str | None = None
    pcap: str | None = None
    quiet: bool = False
    timeout: float = 10.0
    sess_out: str | None = None
    sess_in: str | None = None
    early_data: str | None = None


def split_target(target: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT, or HOST (port 443)."""
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port = rest.lstrip(":") or "443"
    elif target.count(":") == 1:
        host, port = target.split(":")
    else:
        host, port = target, "443"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"expected HOST:PORT, got {target!r}")
    return host, int(port)


def default_trust_store() -> list[x509.Certificate]:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return load_pem_certificates(Path(candidate).read_bytes())
    raise UsageError("no system trust store found; pass --cafile PEM or --insecure")


def build_config(opts: ConnectOptions, host: str) -> ClientConfig:
    try:
        versions, suites = versions_and_suites(opts.tls, opts.ciphers)
    except VersionChoiceError as exc:
        raise UsageError(str(exc)) from None
    if opts.cafile and opts.insecure:
        raise UsageError("--cafile and --insecure exclude each other")
    trust: list[x509.Certificate] | None
    if opts.insecure:
        trust = None
    elif opts.cafile:
        try:
            trust = load_pem_certificates(Path(opts.cafile).read_bytes())
        except (OSError, ValueError) as exc:
            raise UsageError(f"--cafile {opts.cafile}: {exc}") from None
    else:
        trust = default_trust_store()
    groups: tuple[NamedGroup, ...] = (NamedGroup.x25519, NamedGroup.secp256r1)
    if opts.group:
        try:
            groups = (NamedGroup[opts.group],)
        except KeyError:
            raise UsageError(f"--group must be x25519 or secp256r1, not {opts.group!r}") from None
    chain: tuple[bytes, ...] = ()
    private_key = None
    if bool(opts.cert) != bool(opts.key):
        raise UsageError("--cert and --key go together")
    if opts.cert and opts.key:
        try:
            chain = tuple(c.public_bytes(serialization.Encoding.DER)
                          for c in load_pem_certificates(Path(opts.cert).read_bytes()))
            private_key = load_pem_private_key(Path(opts.key).read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise UsageError(f"cannot load --cert/--key: {exc}") from None
    session: Session | None = None
    if opts.sess_in:
        try:
            session = Session.decode(Path(opts.sess_in).read_bytes())
        except (OSError, SessionDecodeError) as exc:
            raise UsageError(f"--sess-in {opts.sess_in}: {exc}") from None
    early_data = b""
    if opts.early_data:
        if session is None:
            raise UsageError("--early-data needs --sess-in: 0-RTT data goes with a resumed session")
        try:
            early_data = Path(opts.early_data).read_bytes()
        except OSError as exc:
            raise UsageError(f"--early-data {opts.early_data}: {exc.strerror or exc}") from None
        if not early_data:
            raise UsageError(f"--early-data {opts.early_data} is empty")
    return ClientConfig(server_name=opts.servername or host, cipher_suites=suites, groups=groups,
                        trust_store=trust, certificate_chain=chain, private_key=private_key,
                        versions=versions, session=session, early_data=early_data,
                        offer_session_ticket=bool(opts.sess_out))


def _request_bytes(opts: ConnectOptions, name: str) -> bytes:
    if opts.request is None:
        return (f"GET / HTTP/1.1\r\nHost: {name}\r\nUser-Agent: handshake-game\r\n"
                "Connection: close\r\n\r\n").encode()
    # Let shell users write \r\n and \n as escapes, as with curl's --data $'…'.
    text = opts.request.replace("\\r", "\r").replace("\\n", "\n")
    return text.encode()


def _check_output_files(opts: ConnectOptions) -> None:
    for flag, name in (("--keylog", opts.keylog), ("--pcap", opts.pcap), ("--sess-out", opts.sess_out)):
        if name and not Path(name).resolve().parent.is_dir():
            raise UsageError(f"{flag} {name}: no such directory")


def _capture_note(opts: ConnectOptions, path: str) -> str:
    if is_pcapng(path):
        return (f"== capture written to {path} with the TLS keys embedded: "
                f"wireshark {path} decrypts it on its own")
    if opts.keylog:
        return (f"== capture written to {path} (classic pcap, no keys inside): "
                f"wireshark -o tls.keylog_file:{opts.keylog} {path}")
    return (f"== capture written to {path} (classic pcap, no keys inside); to decrypt it, run again "
            "with --keylog FILE and give Wireshark that file, or name the capture .pcapng")


def run_connect(opts: ConnectOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        host, port = split_target(opts.target)
        config = build_config(opts, host)
        _check_output_files(opts)
    except UsageError as exc:
        print(f"handshake-game connect: {exc}", file=err)
        return EXIT_USAGE

    def write(line: str) -> None:
        if not opts.quiet:  # the server's bytes in the line come out escaped
            print(printable(line), file=out, flush=True)

    trace = Trace(write, "client")
    client = TLSClient(config)
    write(f"== connecting to {host} port {port} (server name {config.server_name})")
    session = config.session
    opened_at = utc_now()
    try:
        sock = socket.create_connection((host, port), timeout=opts.timeout)
    except OSError as exc:
        print(f"handshake-game connect: cannot connect to {host}:{port}: {exc}", file=err)
        return EXIT_NETWORK
    try:
        capture = socket_capture(sock, client_side=True, opened_at=opened_at) if opts.pcap else None
    except OSError as exc:  # the peer vanished between connect() and getpeername()
        sock.close()
        print(f"handshake-game connect: connection error: {exc}", file=err)
        return EXIT_NETWORK

    def send(data: bytes) -> None:
        sock.sendall(data)
        if capture is not None:
            capture.client_sent(data, utc_now())

    response = bytearray()
    latest_session: Session | None = None
    completed = False
    failure: str | None = None
    closed_cleanly = False
    certificate_requested = False
    network_error: str | None = None
    with sock:
        client.start()
        if session is not None and opts.sess_in:
            if client.offers_session:
                how = (f"a ticket of {len(session.ticket)} bytes" if session.ticket
                       else f"session id {session.session_id.hex()[:16]}…")
                write(f"== offering the {version_name(session.version)} session from {opts.sess_in} ({how}"
                      + (f", with {len(config.early_data)} bytes of 0-RTT data)" if client.sends_early_data
                         else ")"))
            else:
                write(f"== not offering the session from {opts.sess_in}: expired, for another server name, "
                      "or for a suite not offered")
        try:
            send(client.data_to_send())
            while True:
                for event in client.events_received():
                    trace.event(event)
                    if isinstance(event, HandshakeCompleted):
                        completed = True
                        if opts.keylog:
                            append_keylog(opts.keylog, client.keylog_lines())
                        if event.resumed:
                            as_openssl_says = version_name(event.version).replace(" ", "v")  # TLSv1.3
                            write(f"== session resumed (Reused, {as_openssl_says})")
                        elif session is not None:
                            write("== the server did not take the session: a full handshake (New)")
                        if client.sends_early_data:
                            write(f"== early data {'accepted' if event.early_data_accepted else 'refused'}"
                                  " by the server")
                        elif config.early_data:
                            write("== no early data sent (the session was not offered, or its ticket "
                                  "allows none): the request goes after the handshake")
                        if client.sends_early_data and event.early_data_accepted:
                            request = b""  # the request went as 0-RTT data and was read
                        elif config.early_data:
                            request = config.early_data  # RFC 8446 §4.2.10: sent again, now in 1-RTT
                        else:
                            request = _request_bytes(opts, config.server_name or host)
                        if request:
                            client.send_application_data(request)
                            trace.application_data_sent(request)
                            if not opts.quiet:
                                _show_text(write, request)
                    elif isinstance(event, SessionTicketReceived):
                        latest_session = event.session
                    elif isinstance(event, ApplicationDataReceived):
                        response += event.data
                    elif isinstance(event, AlertSent):
                        failure = f"{describe_alert(event.description)}; {event.reason}"
                    elif isinstance(event, HandshakeMessageReceived) and isinstance(
                            event.message, CertificateRequest):
                        certificate_requested = True
                    elif isinstance(event, AlertReceived) and event.level == 2:
                        failure = f"the server sent a fatal alert: {describe_alert(event.description)}"
                        if certificate_requested and not config.certificate_chain:
                            failure += ("; the server asked for a client certificate and none was "
                                        "given (use --cert and --key)")
                    elif isinstance(event, ConnectionClosed):
                        closed_cleanly = True
                        # TLS 1.3 leaves our direction open (RFC 8446 §6.1); we have nothing
                        # more to say, so close it too (a no-op in TLS 1.2, already closed).
                        client.close()
                pending = client.data_to_send()
                if pending:
                    send(pending)
                if failure or closed_cleanly:
                    break
                data = sock.recv(65536)
                if capture is not None:
                    if data:
                        capture.server_sent(data, utc_now())
                    else:
                        capture.server_closed(utc_now())
                if not data:
                    break
                client.receive_data(data)
        except TimeoutError:
            if not response:
                network_error = f"timed out after {opts.timeout:g}s"
        except OSError as exc:
            network_error = f"connection error: {exc}"
        except Alert as exc:  # defensive: the engine reports alerts as events
            failure = exc.reason

    if opts.sess_out:
        if latest_session is None:
            print(f"handshake-game connect: no session ticket received; {opts.sess_out} not written",
                  file=err)
        else:
            try:
                Path(opts.sess_out).write_bytes(latest_session.encode())
                write(f"== session written to {opts.sess_out} (resume with --sess-in {opts.sess_out})")
            except OSError as exc:
                print(f"handshake-game connect: cannot write --sess-out {opts.sess_out}: {exc}", file=err)
    capture_failed = False
    if capture is not None and opts.pcap:
        capture.client_closed(utc_now())
        try:
            write_capture(opts.pcap, capture, client.keylog_lines())
            write(_capture_note(opts, opts.pcap))
        except OSError as exc:
            print(f"handshake-game connect: cannot write --pcap {opts.pcap}: {exc}", file=err)
            capture_failed = True
    if network_error:
        print(f"handshake-game connect: {network_error}", file=err)
        return EXIT_NETWORK
    if failure:
        print(f"handshake-game connect: TLS handshake failed: {failure}", file=err)
        return EXIT_TLS_FAILURE
    if not completed:
        print("handshake-game connect: the server closed the connection during the handshake",
              file=err)
        return EXIT_TLS_FAILURE
    if opts.quiet:
        out.write(response.decode("utf-8", "replace"))
        out.flush()
    else:
        write(f"== response ({len(response)} bytes, decrypted):")
        _show_text(write, bytes(response))
        if not closed_cleanly:
            write("== note: the server closed TCP without close_notify")
    if not response:
        print("handshake-game connect: the server sent no application data", file=err)
        return EXIT_TLS_FAILURE
    return EXIT_USAGE if capture_failed else EXIT_OK


def _show_text(write: Callable[[str], None], data: bytes) -> None:
    for line in data.decode("utf-8", "replace").splitlines():
        write(f"    | {line}")
