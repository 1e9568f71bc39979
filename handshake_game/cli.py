"""The `handshake-game` command line: one place that maps errors to exit codes.

    handshake-game connect HOST:PORT   a TLS client that prints each step
    handshake-game listen              a TLS server that prints each step
    handshake-game serve               the classroom server (websocket + HTTP)
    handshake-game bots                a class of bot students played over the server's websocket
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .game.actions import EARLY_DATA_POLICIES, PSK_MODES
from .game.model import Scenario, Variant
from .tls.session import AntiReplay
from .tls.suites import SUITES_BY_NAME, KeyExchange


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handshake-game",
        description="Handshake: a multiplayer teaching game for the TLS handshake, and the real "
                    "TLS tools it is built on.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    suites_help = "cipher suite by IANA (or OpenSSL) name; repeat to offer several. Known: " + \
        ", ".join(name for name, suite in SUITES_BY_NAME.items() if suite.key_exchange is not KeyExchange.DHE)

    connect = sub.add_parser(
        "connect", help="connect to a TLS server and print an annotated handshake trace",
        description="A real TLS 1.2 client driven by the game's engine: prints each handshake "
                    "message, the checks, the derived secrets, then sends a request and prints "
                    "the decrypted response.")
    connect.add_argument("target", metavar="HOST:PORT")
    connect.add_argument("--servername", metavar="NAME",
                         help="name sent in SNI and checked against the certificate (default: HOST)")
    trust = connect.add_mutually_exclusive_group()
    trust.add_argument("--cafile", metavar="PEM", help="trust only the CA certificates in this file")
    trust.add_argument("-k", "--insecure", action="store_true",
                       help="do not check the server's certificate")
    connect.add_argument("--cert", metavar="PEM",
                         help="client certificate chain to present if the server asks (mutual TLS)")
    connect.add_argument("--key", metavar="PEM", help="private key of the client certificate")
    connect.add_argument("--tls", choices=["1.2", "1.3"],
                         help="offer only this version (default: TLS 1.3 and 1.2, like a browser)")
    connect.add_argument("--cipher", action="append", metavar="NAME", help=suites_help)
    connect.add_argument("--group", choices=["x25519", "secp256r1"], help="the only ECDHE group to offer")
    connect.add_argument("--request", metavar="TEXT",
                         help="bytes to send after the handshake (\\r\\n escapes allowed; "
                              "default: HTTP/1.1 GET / with Connection: close)")
    connect.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (for Wireshark)")
    connect.add_argument("--pcap", metavar="FILE",
                         help="write the connection as a capture for Wireshark: a FILE ending in "
                              ".pcapng gets the TLS keys embedded and decrypts on its own; any other "
                              "name gets classic pcap, to open with the --keylog file "
                              "(wireshark -o tls.keylog_file:KEYLOG FILE)")
    connect.add_argument("--sess-out", metavar="FILE",
                         help="write the last TLS 1.3 session ticket the server sends to FILE")
    connect.add_argument("--sess-in", metavar="FILE", help="resume the TLS 1.3 session kept in FILE")
    connect.add_argument("--early-data", metavar="FILE",
                         help="with --sess-in: send FILE as 0-RTT data (the request), if the ticket allows")
    connect.add_argument("-q", "--quiet", action="store_true", help="print only the response")
    connect.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")

    listen = sub.add_parser(
        "listen", help="run a TLS server that prints an annotated trace per connection",
        description="A real TLS 1.2 server driven by the game's engine. Without --cert it makes a "
                    "demo CA and a certificate for --hostname, and writes the CA to --ca-out.")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    listen.add_argument("--port", type=int, default=8443, help="port (default 8443; 0 picks one)")
    listen.add_argument("--hostname", default="localhost",
                        help="name for the demo certificate (default localhost)")
    listen.add_argument("--cert", metavar="PEM", help="certificate chain, leaf first")
    listen.add_argument("--key", metavar="PEM", help="private key of the leaf certificate")
    listen.add_argument("--ca-out", metavar="FILE",
                        help="where to write the demo CA certificate (default handshake-ca.pem)")
    listen.add_argument("--require-client-cert", action="store_true",
                        help="ask every client for a certificate and refuse those without one")
    listen.add_argument("--request-client-cert", action="store_true",
                        help="ask for a client certificate but also serve clients without one")
    listen.add_argument("--client-cafile", metavar="PEM",
                        help="CAs whose client certificates are accepted (default with the demo CA: "
                             "the demo CA)")
    listen.add_argument("--tls", choices=["1.2", "1.3"],
                        help="accept only this version (default: TLS 1.3 and 1.2)")
    listen.add_argument("--cipher", action="append", metavar="NAME", help=suites_help)
    listen.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (for Wireshark)")
    listen.add_argument("--pcap", metavar="DIR",
                        help="write each connection's capture into DIR (made if missing) as "
                             "conn-NNNN.pcapng with the TLS keys embedded, so Wireshark decrypts it on "
                             "its own; with --keylog also as conn-NNNN.pcap (classic pcap, keys in the "
                             "--keylog file). Numbering continues after the captures already in DIR")
    listen.add_argument("--early-data", action="store_true",
                        help="issue tickets that allow 0-RTT data, and read it as part of the request")
    listen.add_argument("--anti-replay", choices=[mode.value for mode in AntiReplay],
                        default=AntiReplay.TICKETS.value,
                        help="how a replayed ClientHello's 0-RTT data is refused: tickets (default: each "
                             "ticket resumes once, RFC 8446 §8.1), hellos (a record of the ClientHellos "
                             "that brought 0-RTT data within the freshness window; tickets stay reusable, "
                             "§8.2), or off (replayed 0-RTT data is read again, for the replay lesson)")
    listen.add_argument("--no-anti-replay", dest="anti_replay", action="store_const",
                        const=AntiReplay.OFF.value, help="the same as --anti-replay=off")
    listen.add_argument("-q", "--quiet", action="store_true", help="print no traces")
    listen.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="idle time before a connection is dropped")
    listen.add_argument("--max-connections", type=int, metavar="N",
                        help="exit after serving N connections")
    simulate = sub.add_parser(
        "simulate", help="play one table with four bots and print the ladder with the referee's verdicts")
    simulate.add_argument("--variant", default="tls12-rsa",
                          choices=[v.value for v in Variant])
    simulate.add_argument("--scenario", default="honest",
                          choices=[s.value for s in Scenario])
    simulate.add_argument("--trusting", action="store_true",
                          help="the client bot accepts any certificate (clicks through the warning)")
    simulate.add_argument("--difficulty", default="standard", choices=["guided", "standard", "expert"])
    simulate.add_argument("--seed", type=int, help="make the randoms (not the RSA keys) repeatable")
    simulate.add_argument("--careless", type=float, default=0.0, metavar="RATE",
                          help="client and server bots slip at this rate (0..1)")
    simulate.add_argument("--json", action="store_true", help="print one JSON summary")
    simulate.add_argument("--list", action="store_true", help="print every variant's steps and the scenarios")
    simulate.add_argument("--pcap", metavar="FILE",
                          help="write the table's wire as the client saw it, for Wireshark: a FILE ending "
                               "in .pcapng gets the client's TLS keys embedded; any other name gets "
                               "classic pcap, to open with the --keylog file")
    simulate.add_argument("--keylog", metavar="FILE",
                          help="append the client's NSS key log line (once it holds a master secret)")
    simulate.add_argument("--psk-mode", choices=list(PSK_MODES),
                          help="tls13: the key exchange mode the client resumes with (default psk_dhe_ke; "
                               "psk_ke sends no key share and gives up forward secrecy, RFC 8446 §4.2.9)")
    simulate.add_argument("--early-data", action="store_true",
                          help="tls13: the resuming client sends its request as 0-RTT early data")
    simulate.add_argument("--server-early-data", choices=list(EARLY_DATA_POLICIES), metavar="POLICY",
                          help="tls13: what the server does with 0-RTT data: "
                               + ", ".join(EARLY_DATA_POLICIES) + " (default: refuse, the careful answer "
                               "for a request that is not idempotent)")
    lessons = sub.add_parser(
        "lessons", help="list every variant's steps and every scenario with its lesson card; fail if any "
                        "lacks one or a card is malformed")
    lessons.add_argument("--dir", metavar="DIR", help="lesson cards directory (default: lessons/ or "
                                                      "$HANDSHAKE_LESSONS)")
    serve = sub.add_parser(
        "serve", help="run the classroom server: the game's pages at /, its websocket at /ws",
        description="One asyncio process: the browser pages (web/), the JSON websocket protocol at /ws "
                    "(docs/protocol.md), the instructor's downloads and GET /healthz. Upgrades the "
                    "database at start and replays every table.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks one)")
    serve.add_argument("--db", metavar="URL",
                       help="SQLAlchemy database URL (default: $DATABASE_URL, else sqlite:///handshake.db)")
    serve.add_argument("--instructor-token", metavar="TOKEN",
                       help="the instructor's secret, 16 characters at least (default: the one kept from "
                            "the first start, else a fresh one, printed in the instructor URL); a new one "
                            "replaces the old, which is then refused")
    serve.add_argument("--public-url", metavar="URL",
                       help="the address students use (printed, and put in the join link and QR code), "
                            "e.g. http://192.168.1.20:8765/ or a reverse proxy's https address; with "
                            "--host 0.0.0.0 and none given, the machine's own address")
    serve.add_argument("--certfile", metavar="PEM",
                       help="serve HTTPS and wss with this certificate chain (PEM); the pages then use wss")
    serve.add_argument("--keyfile", metavar="PEM",
                       help="the certificate's private key (PEM), if not in --certfile")
    serve.add_argument("--hello-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="close a websocket that has not said hello within this many seconds (default 10)")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="serve with N processes on the same port (PostgreSQL only; more can run on "
                            "other machines against the same database)")
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--shared", action="store_true",
                       help="share the PostgreSQL database with other server processes (on other "
                            "machines, or started by hand); --workers implies it")
    serve.add_argument("--max-per-address", type=int, default=512, metavar="N",
                       help="open connections from one address at most (default 512; not for loopback, "
                            "where a reverse proxy speaks for many students)")
    serve.add_argument("--trusted-proxy", action="append", default=[], type=_trusted_proxy, metavar="ADDR",
                       help="a reverse proxy (address or network, e.g. 127.0.0.1 or 10.0.0.0/8; repeat for "
                            "several) whose X-Forwarded-For header names the client: its right-most entry "
                            "that is not a trusted proxy then counts for the per-address limits and in the "
                            "log. From any other peer the header is ignored")
    serve.add_argument("--max-connections", type=int, default=4096, metavar="N",
                       help="open connections at most (default 4096, fewer if the open-files limit "
                            "leaves less room)")
    serve.add_argument("--rate-limit", type=float, default=20.0, metavar="N",
                       help="messages a second each connection may send, in bursts of 2N (default 20)")
    export = sub.add_parser("export", help="export what the classroom server stored")
    what = export.add_subparsers(dest="what", required=True, metavar="WHAT")
    scores = what.add_parser("scores", help="scores as CSV, one row per student per round: classroom, round, "
                                            "variant, scenario, difficulty, table, seat, player, points, "
                                            "mistakes, hints, quiz_correct, quiz_answered, completed, "
                                            "outcome, time (text that would start a spreadsheet formula "
                                            "is prefixed with ')")
    scores.add_argument("--db", metavar="URL",
                        help="database URL (default: DATABASE_URL, else sqlite:///handshake.db)")
    scores.add_argument("--classroom", metavar="CODE", help="only this class session's join code")
    bots = sub.add_parser(
        "bots", help="play a class of N tables with bot students over real websockets",
        description="Creates a class session as the instructor (guided), opens one websocket per "
                    "student (4 per table) that joins with the code, starts the class and plays every "
                    "seat's offered move. Last line: completed=C/N errors=E moves=M p50_ms=X p99_ms=Y.")
    bots.add_argument("--server", required=True, metavar="URL",
                      help="the server's websocket, ws://HOST:PORT/ws (ws://HOST:PORT also works)")
    bots.add_argument("--token", required=True, metavar="TOKEN", help="the server's instructor token")
    bots.add_argument("--tables", type=int, default=1, metavar="N", help="tables to play (default 1)")
    bots.add_argument("--variant", default="tls12-rsa",
                      choices=[v.value for v in Variant])
    bots.add_argument("--scenario", default="honest",
                      choices=[s.value for s in Scenario])
    bots.add_argument("--timeout", type=float, default=300.0, metavar="S",
                      help="give up on the play after S seconds (default 300)")
    return parser


def _trusted_proxy(text: str) -> str:
    from .server.limits import trusted_proxy

    try:
        trusted_proxy(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "connect":
        from .tools.connect import ConnectOptions, run_connect

        return run_connect(ConnectOptions(
            target=args.target, servername=args.servername, cafile=args.cafile,
            insecure=args.insecure, cert=args.cert, key=args.key, tls=args.tls, ciphers=args.cipher,
            group=args.group,
            request=args.request, keylog=args.keylog, pcap=args.pcap, quiet=args.quiet,
            timeout=args.timeout, sess_out=args.sess_out, sess_in=args.sess_in,
            early_data=args.early_data))
    if args.command == "listen":
        from .tools.listen import ListenOptions, run_listen

        return run_listen(ListenOptions(
            host=args.host, port=args.port, hostname=args.hostname, cert=args.cert, key=args.key,
            ca_out=args.ca_out, ciphers=args.cipher, keylog=args.keylog, pcap_dir=args.pcap,
            quiet=args.quiet,
            tls=args.tls, require_client_cert=args.require_client_cert,
            request_client_cert=args.request_client_cert,
            client_cafile=args.client_cafile,
            timeout=args.timeout, max_connections=args.max_connections,
            early_data=args.early_data, anti_replay=AntiReplay(args.anti_replay)))
    if args.command == "simulate":
        from .tools.simulate import list_catalog, run_simulate

        if args.list:
            list_catalog(sys.stdout)
            return 0
        return run_simulate(args.variant, args.scenario, args.difficulty, args.seed, args.careless,
                            args.json, trusting=args.trusting, pcap=args.pcap, keylog=args.keylog,
                            psk_mode=args.psk_mode, early_data=args.early_data,
                            server_early_data=args.server_early_data)
    if args.command == "lessons":
        from pathlib import Path

        from .lessons import report

        return report(sys.stdout, Path(args.dir) if args.dir else None)
    if args.command == "serve":
        import asyncio
        import logging

        from .server.ws import run

        # Several processes write to one log: each line says which.
        several = args.workers > 1 or args.worker or args.shared
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s"
                            + (" [%(process)d]" if several else "") + ": %(message)s")
        # The game logs its own state changes; the libraries' per-request chatter (every
        # static file, every plugin Alembic loads) would bury them.
        for chatty in ("websockets.server", "alembic"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        from .server.ws import StartupError

        try:
            asyncio.run(run(args.host, args.port, args.db or os.environ.get("DATABASE_URL")
                            or "sqlite:///handshake.db", instructor_token=args.instructor_token,
                            rate=args.rate_limit, public_url=args.public_url,
                            max_connections=args.max_connections, hello_deadline=args.hello_timeout,
                            per_address=args.max_per_address, workers=args.workers, worker=args.worker,
                            share=args.shared, trusted_proxies=args.trusted_proxy,
                            certfile=args.certfile, keyfile=args.keyfile))
        except StartupError as error:
            print(f"handshake-game serve: {error}", file=sys.stderr)
            return 1
        return 0
    if args.command == "bots":
        from .tools.netbots import run_bots

        return run_bots(args.server, args.token, args.tables, args.variant, args.scenario, args.timeout)
    if args.command == "export":
        from .tools.export_scores import run_export_scores

        url = args.db or os.environ.get("DATABASE_URL") or "sqlite:///handshake.db"
        return run_export_scores(url, args.classroom)
    return 2


if __name__ == "__main__":
    sys.exit(main())
