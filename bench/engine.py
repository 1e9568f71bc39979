"""Full TLS handshakes per second: our engine against OpenSSL and tlslite-ng.

Each contender plays both roles in this one process, in memory (no sockets, no
threads): a fresh client and a fresh server per connection, a full handshake
(no session resumption, no tickets), then one small application-data record each
way. All contenders use the same 2048-bit RSA leaf, issued by a root from
``handshake_game.tls.pki``, and the same cipher suite.

* ours     -- ``TLSClient`` against ``TLSServer``; the client verifies the chain and
              the name ``localhost`` against the root (``trust_store``), in full on every
              connection: ``pki.clear_caches()`` first forgets the parsed certificates and
              verified paths the engine keeps across connections, which OpenSSL does not
              keep. The trust store stays indexed, as OpenSSL's ``X509_STORE`` stays in
              its context.
* ours-cached -- the same with those caches, as the engine runs by default: from the
              second connection on, the chain check is a dictionary lookup. It is measured
              in the same rounds, so the run also prints what the caches are worth.
* openssl  -- Python's ``ssl`` module: two ``SSLObject``s over ``MemoryBIO`` pairs;
              the client verifies the chain and the hostname.
* tlslite  -- tlslite-ng's ``TLSConnection`` on both ends, driven through its
              handshake generators over an in-memory non-blocking duplex. tlslite
              has no CA chain validation; its client pins the leaf's SHA-1
              fingerprint with a ``Checker``, the strongest check it offers.

ECDHE uses x25519 on all of them; before the clock starts, one connection of each
contender is probed on the wire (its ServerHello and ServerKeyExchange, decoded by
``handshake_game.tls.messages``) for the suite and the group. Contexts, configurations
and parsed keys are built once, as a server would; the per-connection objects are built
inside the timed loop. The measured time is split into short rounds; each round runs every
contender back to back. A contender's printed rate is its best round (median and
worst are printed too); each ratio is the median over rounds of one rate over
another within the same round, so a burst of load from elsewhere on a shared machine costs a
round, not a contender.

With ``--resumed``: resumed connections per second instead, ours against OpenSSL only, each
connection resuming the session the previous one left (TLS 1.3 ticket, TLS 1.2 session id);
see bench/README.md for how both sides get the same work. Its last line is
``resumed_ratio_vs_openssl=X``.

Run:  .venv/bin/python bench/engine.py [--seconds S] [--suite NAME] [--resumed]
The last line is ``ratio_vs_openssl=X ratio_vs_tlslite=Y ratio_vs_openssl_with_cache=Z
cache_gain=G`` (ours / peer; ours-cached / openssl; ours-cached / ours).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import errno
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from handshake_game.tls import (
    CIPHER_SUITES,
    ApplicationDataReceived,
    ClientConfig,
    ClientState,
    HandshakeCompleted,
    KeyExchange,
    NamedGroup,
    ServerConfig,
    ServerState,
    Session,
    SessionTicketReceived,
    SessionTickets,
    TLSClient,
    TLSServer,
    pki,
    suite_by_name,
)
from handshake_game.tls.messages import (
    ExtensionType,
    ServerHello,
    ServerKeyExchange,
    decode_handshake,
    parse_key_share_server,
)
from handshake_game.tls.suites import group_name

# name -> (OpenSSL cipher name, tlslite key exchange, tlslite cipher, TLS version).
# TLS 1.3 is measured on TLS_AES_256_GCM_SHA384 because that is the suite OpenSSL
# prefers and Python's ssl module cannot change its TLS 1.3 suite list.
SUITES = {
    "TLS_RSA_WITH_AES_128_GCM_SHA256": ("AES128-GCM-SHA256", "rsa", "aes128gcm", "1.2"),
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": ("ECDHE-RSA-AES128-GCM-SHA256", "ecdhe_rsa", "aes128gcm",
                                              "1.2"),
    "TLS_AES_256_GCM_SHA384": ("TLS_AES_256_GCM_SHA384", "ecdhe_rsa", "aes256gcm", "1.3"),
}

HOSTNAME = "localhost"
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 204 No Content\r\n\r\n"

GROUP = NamedGroup.x25519


class Handshake(Protocol):
    """One full connection; ``wire``, when given, receives every byte the server sent."""

    def __call__(self, wire: bytearray | None = None) -> None: ...


@dataclass(frozen=True)
class Credentials:
    """One root, one 2048-bit RSA leaf for ``localhost``, in every form a contender wants."""

    ca_certificate: x509.Certificate
    ca_pem: bytes
    leaf_der: bytes
    leaf_pem: bytes
    leaf_key: rsa.RSAPrivateKey
    leaf_key_pem: bytes


def make_credentials() -> Credentials:
    now = datetime.datetime.now(datetime.UTC)
    ca = pki.create_root_ca("Bench Root CA", now)
    key = pki.generate_rsa_key(2048)
    leaf = pki.issue_server_certificate(ca, HOSTNAME, key.public_key(), now)
    return Credentials(
        ca_certificate=ca.certificate,
        ca_pem=ca.certificate_pem(),
        leaf_der=leaf.public_bytes(serialization.Encoding.DER),
        leaf_pem=leaf.public_bytes(serialization.Encoding.PEM),
        leaf_key=key,
        leaf_key_pem=pki.private_key_pem(key),
    )


# -- ours ---------------------------------------------------------------------------

def ours(creds: Credentials, suite: str, *, cache: bool = False) -> Handshake:
    """Our engine; with ``cache=False`` every connection checks the chain in full, as OpenSSL."""
    client_config = ClientConfig(server_name=HOSTNAME, cipher_suites=(suite,),
                                 groups=(NamedGroup.x25519,),
                                 trust_store=[creds.ca_certificate])
    server_config = ServerConfig((creds.leaf_der,), creds.leaf_key, cipher_suites=(suite,),
                                 groups=(NamedGroup.x25519,))

    def handshake(wire: bytearray | None = None) -> None:
        if not cache:
            pki.clear_caches()  # no parsed certificate, no verified path: OpenSSL keeps none either
        client = TLSClient(client_config)
        server = TLSServer(server_config)
        client.start()
        _pump(client, server, wire)
        if client.state is not ClientState.CLIENT_CONNECTED or \
                server.state is not ServerState.SERVER_CONNECTED:
            raise RuntimeError(f"ours: handshake failed: {client.failed!r} {server.failed!r}")
        if client.suite is None or client.suite.name != suite:
            raise RuntimeError(f"ours: negotiated {client.suite}")
        client.send_application_data(REQUEST)
        _pump(client, server, wire)
        server.send_application_data(RESPONSE)
        _pump(client, server, wire)
        if _received(server.events_received()) != REQUEST or \
                _received(client.events_received()) != RESPONSE:
            raise RuntimeError("ours: application data did not round-trip")

    return handshake


# -- resumed connections (--resumed) -----------------------------------------------------
#
# Each connection resumes the session the previous one left: TLS 1.3 with the newest ticket
# (psk_dhe_ke on x25519, one ticket per handshake on both sides, stateless tickets on both:
# OpenSSL's keep no replay record without 0-RTT, so ours run with anti_replay off), TLS 1.2 by
# session id from the server's cache (no RFC 5077 tickets on either side). Neither side checks a
# certificate: a resumed handshake has none. Every connection ends with close_notify both ways,
# because OpenSSL drops from its cache a session whose connection did not end so.


def _close_ours(client: TLSClient, server: TLSServer, pump: Any) -> None:
    client.close()
    _pump(client, server, None)
    server.close()
    _pump(client, server, None)


def ours_resumed(creds: Credentials, suite: str) -> Handshake:
    tickets = SessionTickets(anti_replay=False)
    client_config = ClientConfig(server_name=HOSTNAME, cipher_suites=(suite,), groups=(NamedGroup.x25519,),
                                 trust_store=[creds.ca_certificate])
    server_config = ServerConfig((creds.leaf_der,), creds.leaf_key, cipher_suites=(suite,),
                                 groups=(NamedGroup.x25519,), session_tickets=tickets,
                                 tickets_per_handshake=1)
    kept: list[Session] = []

    def connect(wire: bytearray | None) -> None:
        client = TLSClient(dataclasses.replace(client_config, session=kept[-1] if kept else None))
        server = TLSServer(server_config)
        client.start()
        _pump(client, server, wire)
        client.send_application_data(REQUEST)
        _pump(client, server, wire)
        server.send_application_data(RESPONSE)
        _pump(client, server, wire)
        _close_ours(client, server, _pump)
        client_events = client.events_received()
        done = [e for e in client_events if isinstance(e, HandshakeCompleted)]
        if not done or done[0].resumed != bool(kept) or done[0].cipher_suite.name != suite:
            raise RuntimeError(f"ours-resumed: {'not ' if kept else ''}resumed: {done} {client.failed!r}")
        if _received(server.events_received()) != REQUEST or _received(client_events) != RESPONSE:
            raise RuntimeError("ours-resumed: application data did not round-trip")
        sessions = [e.session for e in client_events if isinstance(e, SessionTicketReceived)]
        if not sessions:
            raise RuntimeError("ours-resumed: no session to resume next time")
        kept[:] = sessions[-1:]

    connect(None)  # a full handshake, outside the clock, for the first session

    def handshake(wire: bytearray | None = None) -> None:
        connect(wire)

    return handshake


def openssl_resumed(creds: Credentials, suite: str, workdir: Path) -> Handshake:
    cipher, _, _, version = SUITES[suite]
    cert_file, key_file = workdir / "leaf-resumed.pem", workdir / "leaf-resumed.key"
    cert_file.write_bytes(creds.leaf_pem)
    key_file.write_bytes(creds.leaf_key_pem)

    def pin(ctx: ssl.SSLContext) -> ssl.SSLContext:
        if version == "1.3":
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        else:
            ctx.set_ciphers(cipher)
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.options |= ssl.OP_NO_TICKET  # TLS 1.2: by session id, as ours
        return ctx

    server_ctx = pin(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    server_ctx.load_cert_chain(cert_file, key_file)
    server_ctx.num_tickets = 1
    client_ctx = pin(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    client_ctx.load_verify_locations(cadata=creds.ca_pem.decode())
    kept: list[ssl.SSLSession] = []

    def drive(*steps: Any) -> None:
        for step in steps:
            with contextlib.suppress(ssl.SSLWantReadError):
                step()

    def connect(wire: bytearray | None) -> None:
        c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        client = client_ctx.wrap_bio(c_in, c_out, server_hostname=HOSTNAME,
                                     session=kept[-1] if kept else None)
        server = server_ctx.wrap_bio(s_in, s_out, server_side=True)

        def to_server() -> None:
            s_in.write(c_out.read())

        def to_client() -> None:
            data = s_out.read()
            if wire is not None:
                wire.extend(data)
            c_in.write(data)

        for _ in range(10):
            client_done = _done(client)
            to_server()
            server_done = _done(server)
            to_client()
            if client_done and server_done:
                break
        else:
            raise RuntimeError("openssl-resumed: handshake did not finish")
        if client.session_reused != bool(kept) or client.cipher() is None or client.cipher()[0] != cipher:
            raise RuntimeError(f"openssl-resumed: reused={client.session_reused} {client.cipher()}")
        client.write(REQUEST)
        to_server()
        if server.read(4096) != REQUEST:
            raise RuntimeError("openssl-resumed: request did not arrive")
        server.write(RESPONSE)
        to_client()
        if client.read(4096) != RESPONSE:
            raise RuntimeError("openssl-resumed: response did not arrive")
        drive(client.unwrap, to_server, server.unwrap, to_client, client.unwrap)
        session = client.session
        if session is None:
            raise RuntimeError("openssl-resumed: no session to resume next time")
        kept[:] = [session]

    connect(None)  # a full handshake, outside the clock, for the first session

    def handshake(wire: bytearray | None = None) -> None:
        connect(wire)

    return handshake


def _done(obj: ssl.SSLObject) -> bool:
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def _pump(client: TLSClient, server: TLSServer, wire: bytearray | None) -> None:
    while True:
        to_server = client.data_to_send()
        if to_server:
            server.receive_data(to_server)
        to_client = server.data_to_send()
        if to_client:
            if wire is not None:
                wire += to_client
            client.receive_data(to_client)
        if not to_server and not to_client:
            return


def _received(events: Sequence[object]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, ApplicationDataReceived))


# -- OpenSSL through the ssl module --------------------------------------------------

def openssl(creds: Credentials, suite: str, workdir: Path) -> Handshake:
    cipher, _, _, version = SUITES[suite]
    cert_file, key_file = workdir / "leaf.pem", workdir / "leaf.key"
    cert_file.write_bytes(creds.leaf_pem)
    key_file.write_bytes(creds.leaf_key_pem)

    def pin(ctx: ssl.SSLContext) -> ssl.SSLContext:
        # The default cipher list leaves out RSA key exchange; name the suite outright.
        if version == "1.3":
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        else:
            ctx.set_ciphers(cipher)
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.options |= ssl.OP_NO_TICKET  # ours, configured without session_tickets, sends none either
        return ctx

    server_ctx = pin(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    server_ctx.load_cert_chain(cert_file, key_file)
    server_ctx.num_tickets = 0  # TLS 1.3: no NewSessionTicket at all
    client_ctx = pin(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # CERT_REQUIRED, check_hostname
    client_ctx.load_verify_locations(cadata=creds.ca_pem.decode())
    assert client_ctx.verify_mode is ssl.CERT_REQUIRED and client_ctx.check_hostname

    def step(obj: ssl.SSLObject) -> bool:
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def handshake(wire: bytearray | None = None) -> None:
        c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        client = client_ctx.wrap_bio(c_in, c_out, server_hostname=HOSTNAME)
        server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
        client_done = server_done = False
        for _ in range(10):
            client_done = step(client)
            s_in.write(c_out.read())
            server_done = step(server)
            to_client = s_out.read()
            if wire is not None:
                wire += to_client
            c_in.write(to_client)
            if client_done and server_done:
                break
        else:
            raise RuntimeError("openssl: handshake did not finish")
        negotiated = client.cipher()
        if negotiated is None or negotiated[0] != cipher:
            raise RuntimeError(f"openssl: negotiated {negotiated}")
        client.write(REQUEST)
        s_in.write(c_out.read())
        if server.read(4096) != REQUEST:
            raise RuntimeError("openssl: request did not arrive")
        server.write(RESPONSE)
        c_in.write(s_out.read())
        if client.read(4096) != RESPONSE:
            raise RuntimeError("openssl: response did not arrive")

    return handshake


# -- tlslite-ng ---------------------------------------------------------------------------

class _MemorySocket:
    """One end of an in-memory duplex with the non-blocking socket calls tlslite makes.

    ``recv`` on an empty buffer raises EAGAIN, which tlslite's generators turn into
    ``yield 0`` (want read), so both ends can take turns in one thread.
    """

    def __init__(self, inbox: bytearray, outbox: bytearray) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self.tap: bytearray | None = None  # receives a copy of everything sent, when set

    @classmethod
    def pair(cls) -> tuple[_MemorySocket, _MemorySocket]:
        a_to_b, b_to_a = bytearray(), bytearray()
        return cls(b_to_a, a_to_b), cls(a_to_b, b_to_a)

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def sendall(self, data: bytes) -> None:
        self._outbox += data
        if self.tap is not None:
            self.tap += data

    def recv(self, bufsize: int) -> bytes:
        if not self._inbox:
            raise BlockingIOError(errno.EAGAIN, "no data in the in-memory pipe")
        data = bytes(self._inbox[:bufsize])
        del self._inbox[:bufsize]
        return data

    def close(self) -> None:
        pass


def tlslite(creds: Credentials, suite: str) -> Handshake:
    from tlslite import Checker, HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
    from tlslite.constants import CipherSuite

    chain = X509CertChain()
    chain.parsePemList(creds.leaf_pem.decode())
    key = parsePEMKey(creds.leaf_key_pem.decode(), private=True)
    fingerprint = chain.x509List[0].getFingerprint()

    settings = HandshakeSettings()
    _, key_exchange, cipher_name, version = SUITES[suite]
    settings.cipherNames = [cipher_name]
    settings.keyExchangeNames = [key_exchange]
    settings.eccCurves = ["x25519"]
    if version == "1.3":
        settings.keyShares = ["x25519"]
        settings.minVersion = settings.maxVersion = (3, 4)
        settings.ticket_count = 0  # no NewSessionTicket, like the others
    else:
        settings.keyShares = []
        settings.minVersion = settings.maxVersion = (3, 3)
    settings = settings.validate()

    def run(*generators: Iterator[Any]) -> list[Any]:
        """Steps each generator in turn until all finish; returns what each finished on."""
        pending = dict(enumerate(generators))
        results: list[Any] = [None] * len(generators)
        for _ in range(100):
            for i, gen in list(pending.items()):
                try:
                    value = next(gen)
                except StopIteration:
                    del pending[i]
                    continue
                if value not in (0, 1):  # readAsync yields the data it read
                    results[i] = value
                    del pending[i]
            if not pending:
                return results
        raise RuntimeError("tlslite: the two ends stopped making progress")

    def handshake(wire: bytearray | None = None) -> None:
        client_sock, server_sock = _MemorySocket.pair()
        server_sock.tap = wire
        client = TLSConnection(client_sock)
        server = TLSConnection(server_sock)
        run(client.handshakeClientCert(settings=settings, serverName=HOSTNAME,
                                       checker=Checker(x509Fingerprint=fingerprint),
                                       async_=True),
            server.handshakeServerAsync(certChain=chain, privateKey=key, settings=settings))
        negotiated = CipherSuite.ietfNames.get(client.session.cipherSuite)
        if negotiated != suite or server.session is None:
            raise RuntimeError(f"tlslite: negotiated {negotiated}")
        _, request = run(client.writeAsync(REQUEST), server.readAsync(4096))
        _, response = run(server.writeAsync(RESPONSE), client.readAsync(4096))
        if bytes(request) != REQUEST or bytes(response) != RESPONSE:
            raise RuntimeError("tlslite: application data did not round-trip")

    return handshake


# -- what was negotiated, read off the wire ------------------------------------------------

def negotiated_on_the_wire(server_bytes: bytes) -> tuple[str, int | None]:
    """The suite and (EC)DHE group a server chose, from the bytes it sent: its ServerHello and,
    in TLS 1.2, its ServerKeyExchange, all before any record is encrypted."""
    handshake, offset = bytearray(), 0
    while offset + 5 <= len(server_bytes):
        content_type = server_bytes[offset]
        length = int.from_bytes(server_bytes[offset + 3 : offset + 5], "big")
        if content_type != 22:  # a ChangeCipherSpec or anything else: the clear part is over
            break
        handshake += server_bytes[offset + 5 : offset + 5 + length]
        offset += 5 + length
    suite: str | None = None
    group: int | None = None
    kx: KeyExchange | None = None
    while len(handshake) >= 4:
        end = 4 + int.from_bytes(handshake[1:4], "big")
        raw, handshake = bytes(handshake[:end]), handshake[end:]
        if raw[0] == 20:  # TLS 1.2 Finished, encrypted from here on
            break
        message = decode_handshake(raw, kx) if raw[0] in (2, 12) else None
        if isinstance(message, ServerHello):
            chosen = CIPHER_SUITES[message.cipher_suite]
            suite, kx = chosen.name, chosen.key_exchange
            share = message.extension(ExtensionType.key_share)
            if share is not None:
                group = parse_key_share_server(share)[0]
        elif isinstance(message, ServerKeyExchange):
            group = message.named_curve
    if suite is None:
        raise RuntimeError("no ServerHello in the server's bytes")
    return suite, group


def check_negotiation(name: str, handshake: Handshake, suite: str, resumed: bool = False) -> None:
    """One connection of ``name``, tapped: the suite and group must be the ones compared (a resumed
    TLS 1.2 handshake has no key exchange, so no group)."""
    wire = bytearray()
    handshake(wire)
    got_suite, got_group = negotiated_on_the_wire(bytes(wire))
    chosen = suite_by_name(suite)
    want_group = GROUP if chosen.key_exchange is KeyExchange.ECDHE or chosen.tls13 else None
    if resumed and not chosen.tls13:
        want_group = None
    if got_suite != suite or got_group != want_group:
        def shown(group: int | None) -> str:
            return "no group" if group is None else group_name(group)

        raise RuntimeError(f"{name}: negotiated {got_suite} on {shown(got_group)}, "
                           f"not {suite} on {shown(want_group)}")


# -- measuring ----------------------------------------------------------------------------

CONTENDERS = ("ours", "ours-cached", "openssl", "tlslite")


@dataclass
class Tally:
    handshakes: int = 0
    seconds: float = 0.0
    round_rates: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """The best round's rate: the one least disturbed by anything else running."""
        return max(self.round_rates, default=0.0)

    @property
    def median(self) -> float:
        return statistics.median(self.round_rates) if self.round_rates else 0.0


def paired_ratio(ours: Tally, peer: Tally) -> float:
    """Median over rounds of ours/peer, each pair measured back to back in one round.

    Load from elsewhere comes in bursts of seconds; within one round both sides
    see much the same machine, so the per-round ratio cancels most of it and the
    median drops the rounds a burst split unevenly.
    """
    return statistics.median(o / p for o, p in zip(ours.round_rates, peer.round_rates, strict=True))


def run_for(handshake: Handshake, seconds: float, tally: Tally) -> None:
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    count = 0
    while True:
        handshake()
        count += 1
        now = clock()
        if now >= deadline:
            break
    tally.handshakes += count
    tally.seconds += now - start
    tally.round_rates.append(count / (now - start))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="measured time per contender (default 3)")
    parser.add_argument("--suite", choices=sorted(SUITES), default="TLS_RSA_WITH_AES_128_GCM_SHA256")
    parser.add_argument("--rounds", type=int, default=10,
                        help="interleaved rounds the time is split into (default 10)")
    parser.add_argument("--only", choices=CONTENDERS, action="append",
                        help="measure only these contenders (no ratio line unless all run)")
    parser.add_argument("--profile", type=int, metavar="N", default=0,
                        help="instead of racing, run ours under cProfile and print the top N")
    parser.add_argument("--resumed", action="store_true",
                        help="resumed handshakes instead: ours against OpenSSL, each connection resuming "
                             "the session the previous one left (TLS 1.3 ticket, TLS 1.2 session id)")
    args = parser.parse_args(argv)

    creds = make_credentials()
    if args.resumed:
        return main_resumed(creds, args)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        contenders: dict[str, Handshake] = {
            "ours": ours(creds, args.suite),
            "ours-cached": ours(creds, args.suite, cache=True),
            "openssl": openssl(creds, args.suite, Path(tmp)),
            "tlslite": tlslite(creds, args.suite),
        }
    if args.profile:
        return profile(contenders["ours"], args.seconds, args.profile)
    if args.only:
        contenders = {name: fn for name, fn in contenders.items() if name in args.only}
    for name, fn in contenders.items():
        check_negotiation(name, fn, args.suite)

    group = GROUP.name if suite_by_name(args.suite).key_exchange is KeyExchange.ECDHE else "no group"
    print(f"suite: {args.suite} ({group}, checked on the wire for every contender), 2048-bit RSA leaf, "
          f"{args.seconds:g} s per contender in {args.rounds} interleaved rounds")
    print(f"python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION} (ssl module), "
          f"cryptography {_version('cryptography')}, tlslite-ng {_version('tlslite-ng')} "
          f"({_tlslite_backends()}), {os.cpu_count()} CPUs")

    tallies = race(contenders, args.seconds, args.rounds)
    if set(tallies) == set(CONTENDERS):
        vs_openssl = paired_ratio(tallies["ours"], tallies["openssl"])
        vs_tlslite = paired_ratio(tallies["ours"], tallies["tlslite"])
        cached_vs_openssl = paired_ratio(tallies["ours-cached"], tallies["openssl"])
        cache_gain = paired_ratio(tallies["ours-cached"], tallies["ours"])
        print("ratios: median over rounds of one rate over another, measured in the same round;")
        print("ours checks the chain in full on every connection, as OpenSSL does; ours-cached keeps")
        print("parsed certificates and verified paths across connections, as the engine does by default")
        print(f"ratio_vs_openssl={vs_openssl:.2f} ratio_vs_tlslite={vs_tlslite:.2f} "
              f"ratio_vs_openssl_with_cache={cached_vs_openssl:.2f} cache_gain={cache_gain:.2f}")
    return 0


def race(contenders: dict[str, Handshake], seconds: float, rounds: int) -> dict[str, Tally]:
    """Warms every contender up, then runs them in interleaved rounds; prints each one's rate."""
    tallies = {name: Tally() for name in contenders}
    for fn in contenders.values():  # warm-up: imports, caches, first-call paths
        warm_until = time.perf_counter() + min(0.5, seconds / 5)
        fn()
        while time.perf_counter() < warm_until:
            fn()
    names = list(contenders)
    for round_number in range(rounds):
        # Rotate who goes first so no contender always follows the same neighbour.
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            run_for(contenders[name], seconds / rounds, tallies[name])

    for name, tally in tallies.items():
        print(f"{name}: {tally.rate:.1f} handshakes/s "
              f"({1000 / tally.rate if tally.rate else float('inf'):.2f} ms each; best of "
              f"{len(tally.round_rates)} rounds, median {tally.median:.1f}, worst "
              f"{min(tally.round_rates, default=0.0):.1f}; {tally.handshakes} in "
              f"{tally.seconds:.2f} s)")
    return tallies


def main_resumed(creds: Credentials, args: argparse.Namespace) -> int:
    """--resumed: resumed connections per second, ours and OpenSSL's, in the same rounds."""
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        contenders: dict[str, Handshake] = {
            "ours-resumed": ours_resumed(creds, args.suite),
            "openssl-resumed": openssl_resumed(creds, args.suite, Path(tmp)),
        }
    for name, fn in contenders.items():
        check_negotiation(name, fn, args.suite, resumed=True)
    how = "a TLS 1.3 ticket (psk_dhe_ke, x25519)" if suite_by_name(args.suite).tls13 else \
        "a TLS 1.2 session id (abbreviated handshake)"
    print(f"suite: {args.suite}, resumed connections: each resumes the previous one's session by {how}; "
          "no certificate on either side; request, response and close_notify both ways; "
          f"{args.seconds:g} s per contender in {args.rounds} interleaved rounds")
    print(f"python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION} (ssl module), "
          f"cryptography {_version('cryptography')}, {os.cpu_count()} CPUs")
    tallies = race(contenders, args.seconds, args.rounds)
    print("ratio: median over rounds of ours-resumed over openssl-resumed, measured in the same round")
    print(f"resumed_ratio_vs_openssl={paired_ratio(tallies['ours-resumed'], tallies['openssl-resumed']):.2f}")
    return 0


def profile(handshake: Handshake, seconds: float, top: int) -> int:
    """Our handshake loop under cProfile: where the time goes, by own time and in total."""
    import cProfile
    import pstats

    for _ in range(20):
        handshake()
    profiler = cProfile.Profile()
    tally = Tally()
    profiler.enable()
    run_for(handshake, seconds, tally)
    profiler.disable()
    print(f"ours under cProfile: {tally.handshakes} handshakes in {tally.seconds:.2f} s "
          "(slowed by profiling)")
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return 0


def _tlslite_backends() -> str:
    """tlslite-ng speeds up with optional native helpers; the ratio depends on which it found."""
    from tlslite.utils import cryptomath

    found = [name for name, loaded in (("gmpy2", cryptomath.GMPY2_LOADED),
                                       ("gmpy", cryptomath.gmpyLoaded),
                                       ("M2Crypto", cryptomath.m2cryptoLoaded),
                                       ("pycrypto", cryptomath.pycryptoLoaded)) if loaded]
    return "with " + ", ".join(found) if found else "pure-Python RSA and AES-GCM"


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


if __name__ == "__main__":
    sys.exit(main())
