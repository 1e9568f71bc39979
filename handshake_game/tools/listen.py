"""`handshake-game listen`: a real TLS server driven by the engine.

One thread per connection only moves bytes; the sans-I/O TLSServer decides
everything. Each connection gets its own trace, prefixed with its number. A
broken or hostile client gets an alert and its connection closed; the server
keeps serving.

With ``--pcap DIR`` each connection's bytes are recorded as they cross the socket
and written, when it ends, to DIR/conn-NNNN.pcapng with the TLS keys embedded
(and, with ``--keylog``, also DIR/conn-NNNN.pcap for classic-pcap tools; its keys
are in the key log file). Numbers continue after the captures already in DIR.

TLS 1.3 clients get a session ticket after each handshake (RFC 8446 §4.6.1), sealed under a key
that rotates, and may resume with it once (single-use tickets, §8.1). With ``--early-data`` the
tickets allow 0-RTT data, which is read as part of the request. ``--anti-replay=hellos`` keeps a
record of the ClientHellos whose 0-RTT data was read instead (§8.2): a ticket resumes any number of
times, and only a copy of a ClientHello, inside the freshness window, has its early data refused.
``--anti-replay=off`` (or ``--no-anti-replay``) lets a replayed ClientHello's 0-RTT request run
again (the lesson). TLS 1.2 clients resume by session id or by RFC 5077 ticket, renewed each time.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import re
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..tls import (
    AlertSent,
    AntiReplay,
    ApplicationDataReceived,
    ConnectionClosed,
    EarlyDataReceived,
    HandshakeCompleted,
    ServerConfig,
    SessionTickets,
    TLSServer,
)
from ..tls.capture import Capture
from ..tls.events import AlertReceived
from ..tls.pki import (
    CertificateAuthority,
    Usage,
    create_root_ca,
    generate_ec_key,
    generate_rsa_key,
    issue_certificate,
    issue_server_certificate,
    load_pem_certificates,
    load_pem_private_key,
    private_key_pem,
)
from ..tls.server import ClientAuthentication
from ..tls.suites import ProtocolVersion, group_name, version_name
from .capture_files import append_keylog, next_capture_number, socket_capture, utc_now, write_capture
from .trace import Trace, printable
from .versions import VersionChoiceError, versions_and_suites

MAX_REQUEST = 64 * 1024
# The end of an HTTP request head: an empty line. RFC 9112 §2.2 lets a recipient take a bare LF
# as a line terminator (and ignore a CR before it), as curl, browsers and `printf 'GET /\n\n'` use.
END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
# How many connections the kernel queues while the server is busy accepting (listen(2)):
# a class of students starting at once must not be dropped, as socketserver's 5 would.
LISTEN_BACKLOG = 128


class UsageError(Exception):
    pass


@dataclass
class ListenOptions:
    host: str = "127.0.0.1"
    port: int = 8443
    hostname: str = "localhost"
    cert: str | None = None
    key: str | None = None
    ca_out: str | None = None
    ciphers: list[str] | None = None
    keylog: str | None = None
    pcap_dir: str | None = None
    quiet: bool = False
    timeout: float = 10.0
    max_connections: int | None = None
    tls: str | None = None
    require_client_cert: bool = False
    request_client_cert: bool = False
    client_cafile: str | None = None
    early_data: bool = False
    anti_replay: AntiReplay | bool = AntiReplay.TICKETS  # True, False: tickets, off

# What listen takes as 0-RTT data with --early-data: OpenSSL's default max_early_data.
MAX_EARLY_DATA = 16384


def _with_resumption(config: ServerConfig, opts: ListenOptions) -> ServerConfig:
    """Tickets (one ticket key and anti-replay record for every connection of this listener)."""
    return dataclasses.replace(config, session_tickets=SessionTickets(anti_replay=opts.anti_replay),
                               max_early_data_size=MAX_EARLY_DATA if opts.early_data else 0)


def _client_auth(opts: ListenOptions, demo_ca: x509.Certificate | None
                 ) -> tuple[ClientAuthentication, list[x509.Certificate] | None]:
    if opts.require_client_cert and opts.request_client_cert:
        raise UsageError("--require-client-cert and --request-client-cert exclude each other")
    mode = (ClientAuthentication.REQUIRED if opts.require_client_cert
            else ClientAuthentication.OPTIONAL if opts.request_client_cert
            else ClientAuthentication.NONE)
    if mode is ClientAuthentication.NONE:
        if opts.client_cafile:
            raise UsageError("--client-cafile needs --require-client-cert or --request-client-cert")
        return mode, None
    if opts.client_cafile:
        try:
            return mode, load_pem_certificates(Path(opts.client_cafile).read_bytes())
        except (OSError, ValueError) as exc:
            raise UsageError(f"--client-cafile {opts.client_cafile}: {exc}") from None
    if demo_ca is not None:
        return mode, [demo_ca]
    raise UsageError("asking for client certificates with --cert needs --client-cafile")


def build_server_config(opts: ListenOptions, say: TextIO) -> ServerConfig:
    try:
        versions, suites = versions_and_suites(opts.tls, opts.ciphers)
    except VersionChoiceError as exc:
        raise UsageError(str(exc)) from None
    if opts.require_client_cert and opts.request_client_cert:
        raise UsageError("--require-client-cert and --request-client-cert exclude each other")
    if opts.client_cafile and not (opts.require_client_cert or opts.request_client_cert):
        raise UsageError("--client-cafile needs --require-client-cert or --request-client-cert")
    if bool(opts.cert) != bool(opts.key):
        raise UsageError("--cert and --key go together")
    if opts.cert and opts.key:
        try:
            chain = load_pem_certificates(Path(opts.cert).read_bytes())
            key = load_pem_private_key(Path(opts.key).read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise UsageError(f"cannot load --cert/--key: {exc}") from None
        ders = tuple(c.public_bytes(serialization.Encoding.DER) for c in chain)
        mode, client_trust = _client_auth(opts, None)
        return _with_resumption(ServerConfig(ders, key, cipher_suites=suites, client_auth=mode,
                                             client_trust_store=client_trust, versions=versions), opts)
    now = datetime.datetime.now(datetime.UTC)
    ca = create_root_ca("Handshake demo CA", now)
    server_key = generate_rsa_key()
    cert = issue_server_certificate(ca, opts.hostname, server_key.public_key(), now)
    ca_out = Path(opts.ca_out or "handshake-ca.pem")
    ca_out.write_bytes(ca.certificate_pem())
    print(f"== made a demo CA and a certificate for {opts.hostname}; CA certificate written to "
          f"{ca_out} (trust it with: curl --cacert {ca_out}, or connect --cafile {ca_out})",
          file=say, flush=True)
    ders = (cert.public_bytes(serialization.Encoding.DER),
            ca.certificate.public_bytes(serialization.Encoding.DER))
    mode, client_trust = _client_auth(opts, ca.certificate)
    if mode is not ClientAuthentication.NONE and not opts.client_cafile:
        _write_demo_client_certificate(ca, ca_out, now, say)
    return _with_resumption(ServerConfig(ders, server_key, cipher_suites=suites, client_auth=mode,
                                         client_trust_store=client_trust, versions=versions), opts)


def _write_demo_client_certificate(ca: CertificateAuthority, ca_out: Path, now: datetime.datetime,
                                   say: TextIO) -> None:
    """A client certificate from the demo CA, so mutual TLS can be tried at once."""
    key = generate_ec_key()
    cert = issue_certificate(ca, public_key=key.public_key(), common_name="student",
                             names=["student.handshake.test"], usage=Usage.CLIENT, now=now)
    cert_file = ca_out.with_name(ca_out.stem + "-client.pem")
    key_file = ca_out.with_name(ca_out.stem + "-client-key.pem")
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(private_key_pem(key))
    key_file.chmod(0o600)
    print(f"== issued a demo client certificate: {cert_file} with key {key_file} "
          f"(present it with: curl --cert {cert_file} --key {key_file}, or connect --cert … --key …)",
          file=say, flush=True)


def _key_schedule_line(completed: HandshakeCompleted) -> str:
    """What the keys of this connection were derived from, true for its version."""
    if completed.version == ProtocolVersion.TLSv1_3:
        # RFC 8446 §7.1: TLS 1.3 has no RFC 7627 master secret; HKDF binds every secret to the
        # transcript of its handshake.
        return ("<p>Key schedule: TLS 1.3 HKDF (RFC 8446 §7.1): every secret is bound to the "
                "transcript of the handshake</p>")
    if completed.extended_master_secret:
        return "<p>Master secret: extended (RFC 7627): bound to the transcript of the handshake</p>"
    return "<p>Master secret: classic (RFC 5246 §8.1): from the premaster and both randoms only</p>"


def response_page(server: TLSServer, completed: HandshakeCompleted) -> bytes:
    client = (completed.peer_certificate.subject.rfc4514_string()
              if completed.peer_certificate is not None else "(none)")
    kx = completed.cipher_suite.key_exchange.value
    if completed.named_group is not None:
        kx += f" on {group_name(completed.named_group)}"
    body = (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Handshake</title></head><body>"
        "<h1>Hello from Handshake</h1>"
        f"<p>Version: {html.escape(version_name(completed.version))}</p>"
        f"<p>Cipher suite: {html.escape(completed.cipher_suite.name)}</p>"
        f"<p>Key exchange: {html.escape(kx)}</p>"
        f"{_key_schedule_line(completed)}"
        f"<p>Server name asked for: {html.escape(completed.server_name or '(none)')}</p>"
        f"<p>Your client_random: {server.client_random.hex()}</p>"
        f"<p>Your certificate: {html.escape(client)}</p>"
        "</body></html>\n"
    ).encode()
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-TLS-Version: {version_name(completed.version)}\r\n"
        f"X-TLS-Cipher-Suite: {completed.cipher_suite.name}\r\n"
        f"X-TLS-Key-Exchange: {kx}\r\n"
        f"X-TLS-Client-Certificate: {printable(client)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head + body


class _Listener(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, opts: ListenOptions, config: ServerConfig, out: TextIO) -> None:
        self.opts = opts
        self.config = config
        self.out = out
        self.print_lock = threading.Lock()
        self.keylog_lock = threading.Lock()
        self.counter = 0
        self.counter_lock = threading.Lock()
        self.pcap_dir = Path(opts.pcap_dir) if opts.pcap_dir else None
        self.first_capture_number = next_capture_number(self.pcap_dir) if self.pcap_dir else 1
        self.finished = threading.Semaphore(0)
        super().__init__((opts.host, opts.port), _Connection)

    def say(self, line: str) -> None:
        """Prints one line of a connection's log; the peer's bytes in it come out escaped."""
        if self.opts.quiet:
            return
        with self.print_lock:
            print(printable(line), file=self.out, flush=True)


class _Connection(socketserver.BaseRequestHandler):
    server: _Listener

    def handle(self) -> None:
        listener = self.server
        with listener.counter_lock:
            listener.counter += 1
            number = listener.counter
        prefix = f"[{number}] "

        def write(line: str) -> None:
            listener.say(prefix + line)

        peer = self.client_address
        write(f"== connection from {peer[0]} port {peer[1]}")
        server = TLSServer(listener.config)
        capture: Capture | None = None
        try:
            if listener.pcap_dir is not None:
                capture = socket_capture(self.request, client_side=False, opened_at=utc_now())
            self._serve(write, listener, server, capture)
        except Exception as exc:  # one broken connection must never stop the server
            write(f"== connection aborted: {type(exc).__name__}")
        finally:
            if capture is not None and listener.pcap_dir is not None:
                capture.server_closed(utc_now())
                self._write_captures(write, listener, listener.pcap_dir,
                                     listener.first_capture_number + number - 1, capture, server)
            listener.finished.release()

    @staticmethod
    def _write_captures(write: Callable[[str], None], listener: _Listener, directory: Path,
                        number: int, capture: Capture, server: TLSServer) -> None:
        pcapng = directory / f"conn-{number:04d}.pcapng"
        try:
            write_capture(pcapng, capture, server.keylog_lines())
            note = f"== capture written to {pcapng} with the TLS keys embedded"
            if listener.opts.keylog:
                pcap = directory / f"conn-{number:04d}.pcap"
                write_capture(pcap, capture, ())
                note += f", and to {pcap} (its keys are in {listener.opts.keylog})"
            write(note)
        except OSError as exc:
            write(f"== cannot write the capture: {exc}")

    def _serve(self, write: Callable[[str], None], listener: _Listener, server: TLSServer,
               capture: Capture | None) -> None:
        sock: socket.socket = self.request
        sock.settimeout(listener.opts.timeout)
        trace = Trace(write, "server")
        request = bytearray()
        completed: HandshakeCompleted | None = None
        responded = False
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                write("== client idle too long; closing")
                break
            except OSError as exc:
                write(f"== network error: {exc.strerror or exc}")
                break
            if capture is not None:
                if data:
                    capture.client_sent(data, utc_now())
                else:
                    capture.client_closed(utc_now())
            if not data:
                write("== client closed TCP" + ("" if responded else " before the exchange finished"))
                break
            server.receive_data(data)
            done = False
            for event in server.events_received():
                trace.event(event)
                if isinstance(event, HandshakeCompleted):
                    completed = event
                    if listener.opts.keylog:
                        with listener.keylog_lock:
                            append_keylog(listener.opts.keylog, server.keylog_lines())
                elif isinstance(event, ApplicationDataReceived | EarlyDataReceived):
                    request += event.data
                elif isinstance(event, AlertSent | ConnectionClosed) or (
                        isinstance(event, AlertReceived) and event.level == 2):
                    done = True
            if completed is not None and not responded and (
                    END_OF_HEAD.search(request) or len(request) > MAX_REQUEST):
                first = re.split(rb"\r?\n", bytes(request), maxsplit=1)[0].decode("ascii", "replace")
                write(f"   request: {first}")
                responded = True
                done = True
                if server.closed:
                    # TLS 1.2: the client's close_notify closed the whole connection and the
                    # answer would be a write after it (RFC 5246 §7.2.1).
                    write("== the client closed the connection along with its request; TLS 1.2 "
                          "allows no answer after its close_notify")
                else:
                    # TLS 1.3 closes one direction at a time (RFC 8446 §6.1): a request that came
                    # with the client's close_notify is still answered.
                    page = response_page(server, completed)
                    server.send_application_data(page)
                    trace.application_data_sent(page)
            if done:
                server.close()  # our close_notify, if the connection is not over already
            pending = server.data_to_send()
            if pending:
                try:
                    sock.sendall(pending)
                except OSError:
                    break
                if capture is not None:
                    capture.server_sent(pending, utc_now())
            if done:
                break
        write("== done")


def run_listen(opts: ListenOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        config = build_server_config(opts, out)
        if opts.pcap_dir:
            try:
                Path(opts.pcap_dir).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"--pcap {opts.pcap_dir}: {exc.strerror or exc}") from None
    except UsageError as exc:
        print(f"handshake-game listen: {exc}", file=err)
        return 2
    try:
        listener = _Listener(opts, config, out)
    except OSError as exc:
        print(f"handshake-game listen: cannot listen on {opts.host}:{opts.port}: {exc}", file=err)
        return 3
    host, port = str(listener.server_address[0]), int(listener.server_address[1])
    print(f"== listening on https://{opts.hostname}:{port}/ (bound to {host}:{port}); "
          "Ctrl-C stops", file=out, flush=True)
    if listener.pcap_dir is not None:
        print(f"== writing one capture per connection to {listener.pcap_dir}/conn-NNNN.pcapng "
              "(TLS keys embedded; Wireshark decrypts it on its own"
              + (f"; also conn-NNNN.pcap with the keys in {opts.keylog})" if opts.keylog else ")"),
              file=out, flush=True)
    if opts.max_connections:
        thread = threading.Thread(target=listener.serve_forever, daemon=True)
        thread.start()
        for _ in range(opts.max_connections):
            listener.finished.acquire()
        listener.shutdown()
        listener.server_close()
        return 0
    try:
        listener.serve_forever()
    except KeyboardInterrupt:
        print("== stopped", file=out)
    finally:
        listener.server_close()
    return 0
