"""Whole tables played per second in one process: four bots, tls12-rsa, warm keys.

Run: .venv/bin/python bench/tables.py [--seconds S] [--variant tls12-rsa]
Each table plays the PKI phase (root, key pair, CSR, issuance), the handshake with real
RSA key exchange and AES-GCM records, and the application data, through the referee.
RSA key pairs come warm: a pool generated before the clock starts (as the server's
KeyPool keeps them), reused round-robin, so what is measured is the game's own cost.
The last line is `tables_per_s=X`.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import time

from handshake_game.bots import play_table
from handshake_game.game import Referee, Scenario, Variant
from handshake_game.tls.pki import generate_rsa_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--variant", default="tls12-rsa", choices=[v.value for v in Variant])
    parser.add_argument("--keys", type=int, default=16, help="warm RSA keys to cycle through")
    args = parser.parse_args()
    keys = itertools.cycle([generate_rsa_key() for _ in range(args.keys)])
    referee = Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                      rsa_keys=lambda: next(keys))
    variant = Variant(args.variant)
    for _ in range(3):  # warm-up
        play_table(variant, Scenario.HONEST, referee)
    tables, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < args.seconds:
        run = play_table(variant, Scenario.HONEST, referee)
        if not run.state.completed:
            raise RuntimeError("a table did not complete")
        tables += 1
    print(f"{variant.value}: {tables} tables in {elapsed:.2f} s ({elapsed / tables * 1e3:.1f} ms each)")
    print(f"tables_per_s={tables / elapsed:.1f}")


if __name__ == "__main__":
    main()
