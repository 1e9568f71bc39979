"""What keeps one careless or hostile client from taking the classroom server down.

* **Descriptors.** At start the soft ``RLIMIT_NOFILE`` is raised towards the hard one, and
  the server accepts at most ``max_connections`` TCP connections (well below the limit): one
  more is aborted the moment it is accepted, which frees its descriptor at once. A
  connection must say ``hello`` within ``HELLO_DEADLINE`` seconds or it is closed.
* **Per address.** At most ``per_address`` open connections (not for loopback: a reverse
  proxy on this machine speaks for many students), ``TABLES_PER_MINUTE`` new solo tables a
  minute and ``GUESSES_PER_MINUTE`` wrong instructor tokens a minute from one IP address. A
  classroom behind one NAT address is many students: the caps are generous.
* **Behind a proxy.** A proxy makes every student one address: its own. Only for a peer
  named a trusted proxy (``serve --trusted-proxy``) is the ``X-Forwarded-For`` header read,
  and the client is its right-most entry that is not itself a trusted proxy (each trusted
  proxy appends the address it was connected from; what a client wrote itself sits to the
  left, so it can only move the client's address onto a trusted proxy's). That address
  then counts for the limits and goes into the log lines. A connection from a trusted
  proxy is counted for its client once its request arrives; until then only the
  server-wide cap applies to it. The loopback exemption then follows the client's address
  (a student behind the proxy is capped even when the proxy is this machine; a client on
  loopback, or a proxy on loopback that sends no header, is not). From a peer that is
  not trusted the header is ignored, and loopback is exempt as before: with no trust
  configured, a proxy on this machine still speaks for many students.
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
from collections.abc import Callable, Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers

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


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxy(text: str) -> Network:
    """An address (``127.0.0.1``, ``::1``) or a network (``10.0.0.0/8``) of trusted proxies;
    ValueError for anything else."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or network: {text!r}") from None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an address (an IPv4-mapped IPv6 one as IPv4; a port or brackets, as some
    proxies write them, left out), or None when it is not one."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def client_address(peer: str, forwarded: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client a connection from ``peer`` speaks for, given its ``X-Forwarded-For`` header
    lines: ``peer`` itself unless it is a trusted proxy; else, walking the entries from the
    right (each appended by the proxy that received the connection), the first that is not a
    trusted proxy. An entry that is not an address ends the walk (no proxy writes one: it
    came from the client), as does running out: the last trusted hop reached is the client."""
    hop = _ip(peer)
    if hop is None or not _trusted(hop, proxies):
        return peer
    entries = [entry for line in forwarded for entry in line.split(",")]
    for entry in reversed(entries):
        address = _ip(entry)
        if address is None:
            break
        hop = address
        if not _trusted(hop, proxies):
            break
    return str(hop)


def address_of(connection: ServerConnection) -> str:
    """The client's address for limits and log lines: the one :meth:`Limits.admit` settled on
    (a trusted proxy's client), else the peer's."""
    return str(getattr(connection, "address", "") or (connection.remote_address or ("?",))[0])


class Limits:
    """The server's counters: open connections per address, and the per-minute windows.
    ``trusted_proxies`` are the peers whose ``X-Forwarded-For`` names the client."""

    def __init__(self, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 per_address: int = PER_ADDRESS, trusted_proxies: Sequence[Network] = ()) -> None:
        self.max_connections = max_connections
        self.per_address = per_address
        self.trusted_proxies = tuple(trusted_proxies)
        self.open: collections.Counter[str] = collections.Counter()
        self.tables = Window(TABLES_PER_MINUTE)
        self.guesses = Window(GUESSES_PER_MINUTE)
        self.refused = 0

    def is_trusted(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and _trusted(ip, self.trusted_proxies)

    def connection_class(self) -> type[ServerConnection]:
        """A :class:`CountedConnection` for these limits: it counts itself, and aborts itself
        at once when the server (or its address) already holds as many as allowed."""
        return type("CappedConnection", (CountedConnection,), {"limits": self})

    def admit(self, connection: ServerConnection, headers: Headers) -> bool:
        """Once a request's headers are in: a connection from a trusted proxy is counted for
        the client its ``X-Forwarded-For`` names. False when that client already holds
        ``per_address`` connections (loopback aside): the request is to be refused."""
        if not isinstance(connection, CountedConnection) or not self.is_trusted(connection.peer):
            return True
        client = client_address(connection.peer, headers.get_all("X-Forwarded-For"), self.trusted_proxies)
        if client == connection.address:
            return True
        self._uncount(connection.address)
        connection.address = client
        self.open[client] += 1
        if self.open[client] > self.per_address and not _loopback(client):
            self.refused += 1
            log.warning("connection refused: %d connections from %s through the proxy at %s (cap %d)",
                        self.open[client], client, connection.peer, self.per_address)
            return False
        return True

    def _uncount(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


class CountedConnection(ServerConnection):
    """A connection counted in its :class:`Limits` (``Limits.connection_class`` binds them)."""

    limits: Limits
    peer = ""  # the address the connection comes from
    address = ""  # the client's: the peer's, or a trusted proxy's client once ``admit`` saw it

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        limits = self.limits
        peer = transport.get_extra_info("peername")
        self.peer = self.address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        limits.open[self.address] += 1
        # Loopback is this machine: a reverse proxy in front (nginx) or a load test; its
        # connections are many students, so only the server-wide cap applies to it. A trusted
        # proxy's connections are capped by their client, in ``Limits.admit``.
        crowded = (limits.open[self.address] > limits.per_address and not _loopback(self.address)
                   and not limits.is_trusted(self.address))
        if len(self.server.handler_tasks) > limits.max_connections or crowded:
            limits.refused += 1
            log.warning("connection refused: the server holds %d connections, %d from %s "
                        "(caps %d and %d)", len(self.server.handler_tasks), limits.open[self.address],
                        self.address, limits.max_connections, limits.per_address)
            transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.limits._uncount(self.address)
        super().connection_lost(exc)


def _loopback(address: str) -> bool:
    ip = _ip(address)
    return ip is not None and ip.is_loopback


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
