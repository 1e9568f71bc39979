"""Whole tables per second through the game server, against bare engine handshakes in the same run.

Run: .venv/bin/python bench/tables.py [--seconds S] [--variant tls12-rsa] [--rounds N] [--seat client]

* tables     -- the real ``GameServer`` on a real SQLite ``Store`` (a file in a temp dir), logging
                at INFO as ``serve`` sets it up. Per table: ``solo`` (honest, guided, one human
                seat, bots at the other three); then, until the table ends, the move the human's
                own view offers (the guide's correct move) goes in as a JSON ``move`` message, is
                parsed and built as ``ws.py`` does and played with ``move``; the bots answer
                inside the server. After every human move all four seats get their view rendered
                (game view, lesson card, menu, step list) and JSON-encoded: the mover's from
                ``move``'s reply, the other three from ``seat_view``, as ``Hub.publish`` pushes.
* handshakes -- the same PKI and TLS work with the engine alone, per connection: a root CA on a
                fresh key, a fresh server key, its CSR (DER) parsed, checked and issued from (and
                for tls12-mutual the same for a client key), then ``TLSClient`` against
                ``TLSServer`` in memory (as in bench/engine.py) on the suite the game negotiates,
                the client checking the chain and the name against that root, then one
                application-data record each way.

Every RSA key is made before the clock starts and used by one table or one connection only:
the server draws them from a warm pool, so key generation is timed on neither side, and no
cache of parsed keys, certificates or trust stores carries over from one unit to the next.
The time is cut into rounds; in each round both sides run for about the same time (counts
sized by the warm-up), back to back, the first side alternating. Each rate is the best round;
the ratio is the median over rounds of tables/s over handshakes/s measured in the same round.
The last line is ``tables_per_s=X handshakes_per_s=Y ratio=Z``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from handshake_game.game import Difficulty, Scenario, Seat, Variant
from handshake_game.game.guide import correct_action
from handshake_game.server import protocol as p
from handshake_game.server.app import GameServer
from handshake_game.store import Store
from handshake_game.tls import (
    CIPHER_SUITES,
    ApplicationDataReceived,
    ClientAuthentication,
    ClientConfig,
    ClientState,
    NamedGroup,
    ServerConfig,
    ServerState,
    TLSClient,
    TLSServer,
    pki,
)
from handshake_game.tls import messages as m

# What the game's client offers per variant, strongest first (the server seat takes the first).
# Written out here rather than imported from the game's internals; the warm-up table checks
# that the game really negotiated the first one.
GAME_SUITES: dict[Variant, tuple[str, str]] = {
    Variant.TLS12_RSA: ("TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS12_ECDHE: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS12_MUTUAL: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    Variant.TLS13: ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"),
}
HOSTNAME = "shop.example"  # the game's server name
CLIENT_NAME = "alice.students.example"  # the game's client name (tls12-mutual)
# The guide's request and reply (44 and 82 bytes), copied: one record each way.
REQUEST = b"GET /grades HTTP/1.1\r\nHost: shop.example\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n\r\nalice: A, bob: B+"
PROBE_KEYS = 8  # more than any honest table draws: the first warm-up table counts its draws

T = TypeVar("T")
Keys = tuple[rsa.RSAPrivateKey, ...]


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class FreshKeys:
    """Makes RSA-2048 keys on threads (OpenSSL's prime search releases the GIL), as the
    server's KeyPool does, and refuses to ever hand out two keys with the same modulus."""

    def __init__(self) -> None:
        self._moduli: set[int] = set()

    def batches(self, count: int, size: int) -> list[Keys]:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            keys = list(pool.map(lambda _: pki.generate_rsa_key(), range(count * size)))
        for key in keys:
            modulus = key.public_key().public_numbers().n
            if modulus in self._moduli:
                raise RuntimeError("the same RSA key came out twice")
            self._moduli.add(modulus)
        return [tuple(keys[i * size:(i + 1) * size]) for i in range(count)]


# -- tables through the game server ---------------------------------------------------------

class KeySupply:
    """The ``GameServer``'s key source. It holds one table's own keys at a time and hands
    each out once; ``finish`` says how many the table drew and throws the rest away."""

    def __init__(self) -> None:
        self._keys: list[rsa.RSAPrivateKey] = []
        self._drawn = 0

    def load(self, keys: Keys) -> None:
        if self._keys:
            raise RuntimeError("the last table's unused keys were not cleared")
        self._keys, self._drawn = list(keys), 0

    def __call__(self) -> rsa.RSAPrivateKey:
        if not self._keys:
            raise RuntimeError("a table drew more RSA keys than it was given")
        self._drawn += 1
        return self._keys.pop()

    def finish(self) -> tuple[int, int]:
        drawn, left = self._drawn, len(self._keys)
        self._keys = []
        return drawn, left


class Tables:
    """Plays whole tables through one ``GameServer`` the way the websocket layer drives it."""

    def __init__(self, game: GameServer, supply: KeySupply, variant: Variant, seat: Seat) -> None:
        self.game, self.supply, self.variant, self.seat = game, supply, variant, seat
        self.moves = self.views = 0  # of the last table
        self.last_table_id = 0

    def play(self, keys: Keys) -> None:
        """One table from ``solo`` to its end; every key in ``keys`` must be drawn."""
        drawn, left = self._play(keys, check=False)
        if left:
            raise RuntimeError(f"table {self.last_table_id} drew {drawn} RSA keys, not {drawn + left}")

    def probe(self, keys: Keys) -> int:
        """An untimed table that also checks each offered move against the guide; returns how
        many RSA keys it drew."""
        return self._play(keys, check=True)[0]

    def _play(self, keys: Keys, check: bool) -> tuple[int, int]:
        game, seat = self.game, self.seat
        self.supply.load(keys)
        seated = game.solo(self.variant, Scenario.HONEST, Difficulty.GUIDED, seat, "bench")
        table_id, token = seated.table_id, seated.token
        sent = [p.encode(p.Seated(table_id=table_id, seat=seat, token=token)),
                p.encode(p.View(table_id=table_id, view=seated.view))]
        seen = seated.view
        moves = 0
        while seen["step"] is not None:
            offered = seen["offered"]
            if not seen["your_turn"] or offered is None:
                raise RuntimeError(f"table {table_id}: at {seen['step']} the {seat.value} has no move")
            # What the page sends for the recommended move, and what ws.py does with it.
            raw = json.dumps({"type": "move", "table_id": table_id, "token": token,
                              "action": {"name": offered["action"], "fields": offered["fields"]}})
            message = p.parse(raw)
            assert isinstance(message, p.Move)
            action = p.build_action(message.action)
            if check and action != correct_action(game.state(table_id), seat, utcnow()):
                raise RuntimeError(f"table {table_id}: the view offered {action}, not the guide's move")
            seen = game.move(message.table_id, message.token, action, message.seat)
            sent.append(p.encode(p.View(table_id=table_id, view=seen)))
            # Hub.publish: every other seat's holder gets its own view of the change.
            sent += [p.encode(p.View(table_id=table_id, view=game.seat_view(table_id, other)))
                     for other in Seat if other is not seat]
            moves += 1
        if not seen["completed"] or seen["failed"] is not None or moves == 0:
            raise RuntimeError(f"table {table_id} did not complete ({moves} human moves)")
        if not all(verdict["ok"] for verdict in seen["verdicts"]):
            raise RuntimeError(f"table {table_id}: the guide's moves were scored as mistakes")
        self.moves, self.views, self.last_table_id = moves, len(sent), table_id
        return self.supply.finish()

    def negotiated_suite(self) -> str:
        """The suite in the last table's ServerHello, read from the bytes the eavesdropper saw."""
        wire = self.game.seat_view(self.last_table_id, Seat.EAVESDROPPER)["wire"]
        for entry in wire:
            if entry["label"] == "ServerHello":
                hello = m.decode_handshake(bytes.fromhex(entry["bytes"])[5:])
                assert isinstance(hello, m.ServerHello)
                return CIPHER_SUITES[hello.cipher_suite].name
        raise RuntimeError(f"table {self.last_table_id} has no ServerHello on the wire")


# -- the peer: the same PKI and handshake with the engine alone -------------------------------

def certify(ca: pki.CertificateAuthority, key: rsa.RSAPrivateKey, name: str, usage: pki.Usage,
            now: datetime.datetime) -> bytes:
    """A CSR signed by ``key`` travels to the CA as DER, is parsed, checked and issued from:
    the calls the game's CA steps make. Returns the certificate's DER."""
    csr = pki.build_csr(key, name, [name], client=usage is pki.Usage.CLIENT)
    received = pki.load_csr(csr.public_bytes(serialization.Encoding.DER))
    pki.check_csr(received)
    return pki.issue_from_csr(ca, received, usage, now).public_bytes(serialization.Encoding.DER)


def handshaker(variant: Variant) -> Callable[[Keys], None]:
    suites = GAME_SUITES[variant]
    mutual = variant is Variant.TLS12_MUTUAL

    def pump(client: TLSClient, server: TLSServer) -> None:
        while True:
            to_server = client.data_to_send()
            if to_server:
                server.receive_data(to_server)
            to_client = server.data_to_send()
            if to_client:
                client.receive_data(to_client)
            if not to_server and not to_client:
                return

    def received(events: Sequence[object]) -> bytes:
        return b"".join(e.data for e in events if isinstance(e, ApplicationDataReceived))

    def connection(keys: Keys) -> None:
        now = utcnow()
        root = pki.create_root_ca("Bench Root CA", now, key=keys[0])
        server_chain = (certify(root, keys[1], HOSTNAME, pki.Usage.SERVER, now),)
        client_chain = (certify(root, keys[2], CLIENT_NAME, pki.Usage.CLIENT, now),) if mutual else ()
        trust = [root.certificate]
        client = TLSClient(ClientConfig(server_name=HOSTNAME, cipher_suites=suites,
                                        groups=(NamedGroup.x25519,), trust_store=trust,
                                        # the game's TLS 1.2 derives the RFC 5246 §8.1 master
                                        # secret; extended master secret is left off to match
                                        offer_extended_master_secret=False,
                                        certificate_chain=client_chain,
                                        private_key=keys[2] if mutual else None))
        server = TLSServer(ServerConfig(server_chain, keys[1], cipher_suites=suites,
                                        groups=(NamedGroup.x25519,),
                                        client_auth=ClientAuthentication.REQUIRED if mutual
                                        else ClientAuthentication.NONE,
                                        client_trust_store=trust if mutual else None))
        client.start()
        pump(client, server)
        if client.state is not ClientState.CLIENT_CONNECTED or \
                server.state is not ServerState.SERVER_CONNECTED:
            raise RuntimeError(f"handshake failed: {client.failed!r} {server.failed!r}")
        if client.suite is None or client.suite.name != suites[0]:
            raise RuntimeError(f"negotiated {client.suite}, not {suites[0]}")
        client.send_application_data(REQUEST)
        pump(client, server)
        server.send_application_data(RESPONSE)
        pump(client, server)
        if received(server.events_received()) != REQUEST or \
                received(client.events_received()) != RESPONSE:
            raise RuntimeError("application data did not round-trip")

    return connection


# -- measuring ------------------------------------------------------------------------------

def timed(run: Callable[[T], Any], inputs: Sequence[T]) -> float:
    """Units per second over ``inputs``, all made before the clock starts."""
    start = time.perf_counter()
    for item in inputs:
        run(item)
    return len(inputs) / (time.perf_counter() - start)


def log_as_serve() -> None:
    """The logging ``handshake-game serve`` sets up (INFO, its format, the same quiet
    libraries), written to /dev/null: the server formats a line for every stored change."""
    sink = open(os.devnull, "w")  # noqa: SIM115 -- open for the whole run
    logging.basicConfig(level=logging.INFO, stream=sink,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("websockets.server", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def describe(rates: list[float]) -> str:
    best = max(rates)
    return (f"{best:.1f}/s ({1000 / best:.2f} ms each; best of {len(rates)} rounds, "
            f"median {statistics.median(rates):.1f}, worst {min(rates):.1f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="measured time per side (default 2); each side's RSA keys are made "
                             "first, which takes several times longer")
    parser.add_argument("--variant", default=Variant.TLS12_RSA.value, choices=[v.value for v in Variant])
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds the time is cut into (default 5)")
    # The eavesdropper has no step of its own at an honest table: its bot plays nothing.
    parser.add_argument("--seat", default=Seat.CLIENT.value,
                        choices=[s.value for s in Seat if s is not Seat.EAVESDROPPER],
                        help="the human seat; bots play the other three (default client)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rounds < 1:
        parser.error("--seconds must be positive and --rounds at least 1")
    variant, seat = Variant(args.variant), Seat(args.seat)
    per_handshake = 3 if variant is Variant.TLS12_MUTUAL else 2  # root, server (, client)
    fresh = FreshKeys()
    connection = handshaker(variant)

    with tempfile.TemporaryDirectory(prefix="bench-tables-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'handshake.db'}")
        store.upgrade()
        log_as_serve()
        supply = KeySupply()
        game = GameServer(store, rng=secrets.token_bytes, now=utcnow, key_source=supply)
        tables = Tables(game, supply, variant, seat)
        try:
            # Warm-up (imports, first calls). The first table counts the keys a table draws,
            # checks the offered moves against the guide and reads the negotiated suite.
            per_table = tables.probe(fresh.batches(1, PROBE_KEYS)[0])
            suite = tables.negotiated_suite()
            if suite != GAME_SUITES[variant][0]:
                raise RuntimeError(f"the game negotiated {suite}, not {GAME_SUITES[variant][0]}")
            warm_tables = timed(tables.play, fresh.batches(3, per_table))
            warm_handshakes = timed(connection, fresh.batches(10, per_handshake))
            slot = args.seconds / args.rounds
            table_count = max(1, round(warm_tables * slot))
            handshake_count = max(1, round(warm_handshakes * slot))
            print(f"{variant.value}, {suite}: the {seat.value} seat human, {tables.moves} moves and "
                  f"{tables.views} messages out per table; {per_table} fresh RSA keys per table, "
                  f"{per_handshake} per handshake")
            need = args.rounds * (table_count * per_table + handshake_count * per_handshake)
            print(f"{args.rounds} rounds of {table_count} tables and {handshake_count} handshakes "
                  f"(~{slot:.2f} s a side); making {need} RSA keys first (not timed) ...", flush=True)
            made = time.perf_counter()
            table_keys = [fresh.batches(table_count, per_table) for _ in range(args.rounds)]
            handshake_keys = [fresh.batches(handshake_count, per_handshake) for _ in range(args.rounds)]
            print(f"keys made in {time.perf_counter() - made:.1f} s", flush=True)

            table_rates: list[float] = []
            handshake_rates: list[float] = []
            for number in range(args.rounds):
                sides = [(table_rates, tables.play, table_keys[number]),
                         (handshake_rates, connection, handshake_keys[number])]
                for rates, run, inputs in sides[::-1] if number % 2 else sides:
                    rates.append(timed(run, inputs))
                table_keys[number] = handshake_keys[number] = []  # let the used keys go
        finally:
            store.dispose()

    ratio = statistics.median(t / h for t, h in zip(table_rates, handshake_rates, strict=True))
    print(f"tables: {describe(table_rates)}")
    print(f"handshakes: {describe(handshake_rates)}")
    print(f"ratio: median over rounds of tables/s over handshakes/s in the same round; "
          f"one table costs {1 / ratio:.1f} handshakes")
    print(f"tables_per_s={max(table_rates):.1f} handshakes_per_s={max(handshake_rates):.1f} "
          f"ratio={ratio:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
