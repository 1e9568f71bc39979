"""How long a player waits for "generate a key pair": cold (made on the spot) vs warm (pool).

Run: .venv/bin/python bench/keypool.py [--count N]
Prints the median and 95th percentile per kind, and the ratio cold/warm as the last line.
"""

from __future__ import annotations

import argparse
import statistics
import time

from handshake_game.tls.keypool import KeyKind, KeyPool, generate


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    ratios = {}
    for kind in KeyKind:
        cold = []
        for _ in range(args.count):
            started = time.perf_counter()
            generate(kind)
            cold.append(time.perf_counter() - started)
        pool = KeyPool(target=args.count, kinds=(kind,)).start()
        pool.wait_until_full()
        pool.stop()  # measure takes from a full pool without the refiller competing
        warm = [pool.take(kind).seconds for _ in range(args.count)]
        cold_ms, warm_ms = statistics.median(cold) * 1e3, statistics.median(warm) * 1e3
        print(f"{kind.value}: cold median {cold_ms:.3f} ms (p95 {_percentile(cold, .95) * 1e3:.3f} ms), "
              f"warm median {warm_ms:.4f} ms (p95 {_percentile(warm, .95) * 1e3:.4f} ms)")
        ratios[kind.value] = cold_ms / warm_ms
    print(" ".join(f"cold_over_warm_{k}={v:.0f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
