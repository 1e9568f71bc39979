"""What keeps one careless or hostile client from taking the classroom server down.

* **Descriptors.** At start the soft ``RLIMIT_NOFILE`` is raised towards the hard one, and
  the server accepts at most ``max_connections`` TCP connections (well below the limit): one
  more is aborted the moment it is accepted, which frees its descriptor at once. A
  connection must say ``hello`` within ``HELLO_DEADLINE`` seconds or it is closed.
* **Per address.** At most ``per_address`` open connections (not for loopback: a reverse
  proxy on this machine speaks for many students), ``TABLES_PER_MINUTE`` new solo tables a
  minute and ``GUESSES_PER_MINUTE`` wrong instructor tokens a minute from one IP address. A
  classroom behind one NAT address is many students: the caps are generous.
* **Logs.** A record that repeats (asyncio's "socket.accept() out of system resource", a
  refused connection) is logged at most once per ``LOG_INTERVAL`` seconds, with a count of
  what was left out.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection

log = logging.getLogger("handshake_game.server")

HELLO_DEADLINE = 10.0  # seconds from the websocket's opening to its hello
DEFAULT_MAX_CONNECTIONS = 4096
RESERVED_DESCRIPTORS = 128  # the database, log files, the key pool's workers, a margin
ACCEPT_BURST = 64  # the listen backlog: asyncio accepts up to this many at once before any is refused
PER_ADDRESS = 512  # open connections from one address (a whole class can share one NAT)
TABLES_PER_MINUTE = 120  # new solo tables from one address
GUESSES_PER_MINUTE = 20  # wrong instructor tokens from one address
LOG_INTERVAL = 10.0


def raise_descriptor_limit(wanted: int) -> int:
    """Raises the soft limit on open files towards ``wanted`` (never past the hard limit);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(requested: int = DEFAULT_MAX_CONNECTIONS) -> int:
    """How many connections the server may hold open: ``requested``, or fewer when the open
    files limit (raised first) leaves less room."""
    soft = raise_descriptor_limit(requested + RESERVED_DESCRIPTORS + ACCEPT_BURST)
    return max(16, min(requested, int(soft) - RESERVED_DESCRIPTORS - ACCEPT_BURST))


class Window:
    """Events per key within the last ``seconds`` (a sliding window, pruned as it goes)."""

    def __init__(self, limit: int, seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.seconds, self.clock = limit, seconds, clock
        self._events: dict[str, collections.deque[float]] = {}

    def full(self, key: str) -> bool:
        events = self._events.get(key)
        if events is None:
            return False
        cutoff = self.clock() - self.seconds
        while events and events[0] <= cutoff:
            events.popleft()
        if not events:
            del self._events[key]
            return False
        return len(events) >= self.limit

    def add(self, key: str) -> None:
        self.full(key)  # prunes
        self._events.setdefault(key, collections.deque()).append(self.clock())


class Limits:
    """The server's counters: open connections per address, and the per-minute windows."""

    def __init__(self, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 per_address: int = PER_ADDRESS) -> None:
        self.max_connections = max_connections
        self.per_address = per_address
        self.open: collections.Counter[str] = collections.Counter()
        self.tables = Window(TABLES_PER_MINUTE)
        self.guesses = Window(GUESSES_PER_MINUTE)
        self.refused = 0

    def connection_class(self) -> type[ServerConnection]:
        """A ``ServerConnection`` that counts itself, and aborts itself at once when the server
        (or its address) already holds as many as allowed."""
        limits = self

        class CappedConnection(ServerConnection):
            address = ""

            def connection_made(self, transport: Any) -> None:
                super().connection_made(transport)
                peer = transport.get_extra_info("peername")
                self.address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
                limits.open[self.address] += 1
                # Loopback is this machine: a reverse proxy in front (nginx) or a load test; its
                # connections are many students, so only the server-wide cap applies to it.
                crowded = limits.open[self.address] > limits.per_address and not _loopback(self.address)
                if len(self.server.handler_tasks) > limits.max_connections or crowded:
                    limits.refused += 1
                    log.warning("connection refused: the server holds %d connections, %d from %s "
                                "(caps %d and %d)", len(self.server.handler_tasks), limits.open[self.address],
                                self.address, limits.max_connections, limits.per_address)
                    transport.abort()

            def connection_lost(self, exc: Exception | None) -> None:
                limits.open[self.address] -= 1
                if limits.open[self.address] <= 0:
                    del limits.open[self.address]
                super().connection_lost(exc)

        return CappedConnection


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Throttle(logging.Filter):
    """Lets a warning or error through at most once per ``interval`` seconds per message
    template; the next one that passes says how many were left out."""

    def __init__(self, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval, self.clock = interval, clock
        self._last: dict[tuple[str, str], float] = {}
        self._dropped: collections.Counter[tuple[str, str]] = collections.Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:  # state changes are one line each, never thinned
            return True
        message = str(record.msg)
        if record.name == "asyncio" and "out of system resource" in message:
            # asyncio's accept loop: one line, no traceback (the cause is always the same).
            error = record.exc_info[1] if record.exc_info else None
            record.msg = message.splitlines()[0] + (f": {error}" if error else "") + \
                " — connections are refused until descriptors free up"
            record.args, record.exc_info, record.exc_text = None, None, None
            message = "socket.accept() out of system resource"
        key = (record.name, message)
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._dropped[key] += 1
            return False
        self._last[key] = now
        dropped = self._dropped.pop(key, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it in the last {self.interval:g} s)"
        return True


def throttle_library_logs() -> Throttle:
    """Installs one :class:`Throttle` on the loggers a flood reaches: asyncio's accept loop,
    websockets' connection errors, and the server's own refusals."""
    throttle = Throttle()
    for name in ("asyncio", "websockets", "websockets.server", "handshake_game.server"):
        logging.getLogger(name).addFilter(throttle)
    return throttle
