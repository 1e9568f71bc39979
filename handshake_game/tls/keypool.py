"""A warm pool of key pairs, so "generate a key pair" is instant for a player.

RSA-2048 generation takes tens of milliseconds of CPU (measured ~35 ms here, with
long tails); doing it on an event loop would stall every other player. The pool keeps
``target`` keys of each kind ready and refills them on a background thread
(``cryptography`` releases the GIL while it searches for primes). ``take`` returns
a warm key at once, or — if the pool ran dry — generates one on the caller's
thread and says so, so callers on an event loop should use a warm pool or hand
``take`` to an executor.
"""

from __future__ import annotations

import collections
import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

KeyPair = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyKind(enum.Enum):
    RSA_2048 = "rsa2048"
    P256 = "p256"


def generate(kind: KeyKind) -> KeyPair:
    if kind is KeyKind.RSA_2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Taken:
    key: KeyPair
    warm: bool  # False when the pool was empty and the key was made on the spot
    seconds: float  # time the caller waited


class KeyPool:
    """Keeps ``target`` key pairs of each kind ready; thread-safe."""

    def __init__(self, target: int = 8, kinds: tuple[KeyKind, ...] = tuple(KeyKind),
                 generator: Callable[[KeyKind], KeyPair] = generate, workers: int = 1) -> None:
        self.target = target
        self.workers = workers
        self._generate = generator
        self._keys: dict[KeyKind, collections.deque[KeyPair]] = {k: collections.deque() for k in kinds}
        self._reserved: dict[KeyKind, int] = dict.fromkeys(kinds, 0)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._filled = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._making: dict[KeyKind, int] = dict.fromkeys(kinds, 0)  # keys being made right now

    def start(self) -> KeyPool:
        """Start ``workers`` refill threads (``cryptography`` releases the GIL while it looks
        for primes, so several threads use several cores)."""
        if not self._threads:
            self._threads = [threading.Thread(target=self._refill, name=f"key-pool-{n}", daemon=True)
                             for n in range(self.workers)]
            for thread in self._threads:
                thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def reserve(self, kind: KeyKind, count: int) -> None:
        """Keys someone will take soon (a class table just opened): make them now, beyond
        ``target``, so that taking them later is instant. Each ``take`` of the kind uses up
        one reservation."""
        with self._lock:
            self._reserved[kind] += count
        self._wake.set()

    def available(self, kind: KeyKind) -> int:
        with self._lock:
            return len(self._keys[kind])

    def wait_until_full(self, timeout: float | None = None) -> bool:
        """Blocks until every kind holds ``target`` keys and those reserved (for start-up
        and tests)."""
        with self._filled:
            return self._filled.wait_for(
                lambda: all(len(q) >= self.target + self._reserved[k] for k, q in self._keys.items()),
                timeout)

    def take(self, kind: KeyKind) -> Taken:
        started = time.perf_counter()
        with self._lock:
            queue = self._keys[kind]
            key = queue.popleft() if queue else None
            self._reserved[kind] = max(0, self._reserved[kind] - 1)
        self._wake.set()
        if key is not None:
            return Taken(key, True, time.perf_counter() - started)
        return Taken(self._generate(kind), False, time.perf_counter() - started)

    def _refill(self) -> None:
        while not self._stopped.is_set():
            needed = None
            with self._lock:
                for kind, queue in self._keys.items():
                    if len(queue) + self._making[kind] < self.target + self._reserved[kind]:
                        needed = kind
                        self._making[kind] += 1
                        break
                if needed is None:
                    self._wake.clear()
            if needed is None:
                self._wake.wait()
                continue
            try:
                key = self._generate(needed)
            finally:
                with self._filled:
                    self._making[needed] -= 1
            with self._filled:
                self._keys[needed].append(key)
                self._filled.notify_all()
