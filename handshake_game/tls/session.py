"""TLS 1.3 resumption state (RFC 8446 §4.6.1, §8): what a client keeps of a ticket, and
what the server keeps so that its tickets mean something.

* :class:`Session` is the client's side: the PSK a NewSessionTicket stands for, the ticket
  to send back, when it arrived. The application keeps it (``encode``/``decode`` give a
  text form for a file, as ``s_client -sess_out`` does) and hands it to the next
  ``ClientConfig``.
* :class:`SessionTickets` is the server's, shared by all its connections: the ticket keys
  (the PSK travels in the ticket, sealed with AES-GCM under a key that rotates), and its
  anti-replay record (:class:`AntiReplay`): single-use tickets (§8.1), or a record of the
  ClientHellos that brought 0-RTT data within the freshness window (§8.2) — which the lesson
  can switch off to show a 0-RTT replay succeeding.

Time and randomness come in from outside, as everywhere in the engine.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import enum
import hashlib
import json
import os
import struct
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Rng = Callable[[int], bytes]
Clock = Callable[[], datetime.datetime]

# RFC 8446 §4.6.1: "Servers MUST NOT use any value greater than 604800 seconds (7 days)."
MAX_TICKET_LIFETIME = 604800
_PEM_BEGIN = "-----BEGIN HANDSHAKE-GAME TLS SESSION-----"
_PEM_END = "-----END HANDSHAKE-GAME TLS SESSION-----"


def _ms(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


class SessionDecodeError(ValueError):
    """A session file that is not one this engine wrote."""


@dataclass(frozen=True)
class Session:
    """A session as the client keeps it: a TLS 1.3 ticket (RFC 8446 §4.6.1), or a TLS 1.2 session
    to resume by its session id (RFC 5246 §7.4.1.2) or by a ticket (RFC 5077)."""

    server_name: str | None
    cipher_suite: int
    psk: bytes  # TLS 1.3: the ticket's PSK; TLS 1.2: the master secret
    ticket: bytes  # opaque: the server's sealed state (TLS 1.2: may be empty)
    ticket_age_add: int
    lifetime: int  # seconds
    received_at: datetime.datetime
    max_early_data_size: int = 0
    version: int = 0x0304
    session_id: bytes = b""  # TLS 1.2
    extended_master_secret: bool = True  # TLS 1.2: RFC 7627 §5.3, resumed only alike

    def age_ms(self, now: datetime.datetime) -> int:
        return max(0, _ms(now) - _ms(self.received_at))

    def obfuscated_age(self, now: datetime.datetime) -> int:
        """RFC 8446 §4.2.11.1: (age in ms + ticket_age_add) mod 2^32."""
        return (self.age_ms(now) + self.ticket_age_add) % 2**32

    def usable(self, now: datetime.datetime) -> bool:
        return self.age_ms(now) < self.lifetime * 1000

    def encode(self) -> bytes:
        fields = asdict(self)
        fields["psk"] = self.psk.hex()
        fields["ticket"] = self.ticket.hex()
        fields["session_id"] = self.session_id.hex()
        fields["received_at"] = self.received_at.isoformat()
        body = base64.encodebytes(json.dumps(fields, sort_keys=True).encode()).decode()
        return f"{_PEM_BEGIN}\n{body}{_PEM_END}\n".encode()

    @classmethod
    def decode(cls, data: bytes) -> Session:
        text = data.decode("ascii", "replace").strip()
        if not (text.startswith(_PEM_BEGIN) and text.endswith(_PEM_END)):
            raise SessionDecodeError("not a handshake-game TLS session file")
        try:
            body = "".join(text[len(_PEM_BEGIN):-len(_PEM_END)].split())
            fields = json.loads(base64.b64decode(body, validate=True))
            return cls(
                server_name=fields["server_name"], cipher_suite=int(fields["cipher_suite"]),
                psk=bytes.fromhex(fields["psk"]), ticket=bytes.fromhex(fields["ticket"]),
                ticket_age_add=int(fields["ticket_age_add"]), lifetime=int(fields["lifetime"]),
                received_at=datetime.datetime.fromisoformat(fields["received_at"]),
                max_early_data_size=int(fields["max_early_data_size"]), version=int(fields["version"]),
                session_id=bytes.fromhex(fields["session_id"]),
                extended_master_secret=bool(fields["extended_master_secret"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise SessionDecodeError(f"damaged session file: {exc}") from None


@dataclass(frozen=True)
class TicketState:
    """What a ticket seals: enough for the server to resume without remembering anything."""

    cipher_suite: int
    psk: bytes
    issued_at_ms: int
    ticket_age_add: int
    max_early_data_size: int
    server_name: str
    version: int = 0x0304
    extended_master_secret: bool = True  # TLS 1.2 (RFC 7627 §5.3)

    def encode(self) -> bytes:
        name = self.server_name.encode()
        return (struct.pack("!HHB", self.version, self.cipher_suite, len(self.psk)) + self.psk
                + struct.pack("!QII?B", self.issued_at_ms, self.ticket_age_add, self.max_early_data_size,
                              self.extended_master_secret, len(name)) + name)

    @classmethod
    def decode(cls, data: bytes) -> TicketState:
        version, suite, psk_length = struct.unpack_from("!HHB", data)
        psk = data[5:5 + psk_length]
        issued, age_add, max_early, ems, name_length = struct.unpack_from("!QII?B", data, 5 + psk_length)
        name = data[5 + psk_length + 18:]
        if len(psk) != psk_length or len(name) != name_length:
            raise ValueError("truncated ticket state")
        return cls(suite, psk, issued, age_add, max_early, name.decode(), version, ems)


_KEY_NAME_LENGTH = 16
_NONCE_LENGTH = 12


class AntiReplay(enum.Enum):
    """How the server keeps a ClientHello's 0-RTT data from being read twice (RFC 8446 §8)."""

    TICKETS = "tickets"  # §8.1: each ticket resumes one handshake; a second use gets a full one
    HELLOS = "hellos"  # §8.2: a ClientHello with 0-RTT data is taken once within the freshness window;
    #                   a copy resumes in 1-RTT with its early data unread, and the ticket stays reusable
    OFF = "off"  # for the lesson: a replayed ClientHello's 0-RTT data is read again (within the window)

    @classmethod
    def of(cls, setting: AntiReplay | bool) -> AntiReplay:
        """``True`` and ``False`` are the older spelling: single-use tickets, or none."""
        if isinstance(setting, bool):
            return cls.TICKETS if setting else cls.OFF
        return cls(setting)


class SessionTickets:
    """The server's ticket keys and its anti-replay record (RFC 8446 §4.6.1, §8.1-§8.3).

    A ticket is key_name(16) || nonce(12) || AES-256-GCM(state). A new key is made every
    ``rotate_after`` seconds; an old one opens tickets for one more ``lifetime``, then goes.
    0-RTT is refused when the client's idea of the ticket's age is more than
    ``freshness_window_ms`` away from the server's (§8.3), and, by ``anti_replay``:

    * ``TICKETS`` (or ``True``): each ticket resumes one handshake only (§8.1): a second
      ClientHello with it gets a full handshake, and its 0-RTT data is never read;
    * ``HELLOS``: the server keeps the binder of each ClientHello whose 0-RTT data it took, for
      as long as that ClientHello would still pass the freshness check (§8.2): a copy inside the
      window resumes in 1-RTT with its early data unread, and one outside it fails §8.3. The
      ticket itself may resume any number of times;
    * ``OFF`` (or ``False``): no record, for the lesson.
    """

    def __init__(self, rng: Rng = os.urandom, now: Clock | None = None, lifetime: int = 7200,
                 rotate_after: int = 3600, anti_replay: AntiReplay | bool = AntiReplay.TICKETS,
                 freshness_window_ms: int = 10_000) -> None:
        if not 0 < lifetime <= MAX_TICKET_LIFETIME:
            raise ValueError(f"ticket lifetime must be 1..{MAX_TICKET_LIFETIME} seconds")
        self._rng = rng
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self.lifetime = lifetime
        self.rotate_after = rotate_after
        self.anti_replay = AntiReplay.of(anti_replay)
        self.freshness_window_ms = freshness_window_ms
        self._keys: list[tuple[bytes, AESGCM, int]] = []  # (name, cipher, made at ms), newest first
        self._used: dict[bytes, int] = {}  # ticket digest -> when it expires (ms)
        self._hellos: dict[bytes, int] = {}  # binder digest -> when a copy stops being fresh (ms)
        self._cache: dict[bytes, TicketState] = {}  # TLS 1.2 session id -> session
        self._lock = threading.Lock()  # connections run in threads in `listen`

    def now_ms(self) -> int:
        return _ms(self._now())

    def _current_key(self, now_ms: int) -> tuple[bytes, AESGCM]:
        if not self._keys or now_ms - self._keys[0][2] >= self.rotate_after * 1000:
            self._keys.insert(0, (self._rng(_KEY_NAME_LENGTH), AESGCM(self._rng(32)), now_ms))
        oldest = now_ms - (self.rotate_after + self.lifetime) * 1000
        self._keys = [k for k in self._keys if k[2] > oldest]
        return self._keys[0][0], self._keys[0][1]

    def seal(self, state: TicketState) -> bytes:
        with self._lock:
            name, cipher = self._current_key(self.now_ms())
        nonce = self._rng(_NONCE_LENGTH)
        return name + nonce + cipher.encrypt(nonce, state.encode(), name)

    def open(self, ticket: bytes) -> TicketState | None:
        """The state a ticket seals, or None: unknown (or retired) key, forged, or expired."""
        name = ticket[:_KEY_NAME_LENGTH]
        nonce = ticket[_KEY_NAME_LENGTH:_KEY_NAME_LENGTH + _NONCE_LENGTH]
        now_ms = self.now_ms()
        with self._lock:
            self._current_key(now_ms)  # retires keys past their time
            cipher = next((c for n, c, _ in self._keys if n == name), None)
        if cipher is None:
            return None
        try:
            state = TicketState.decode(cipher.decrypt(nonce, ticket[_KEY_NAME_LENGTH + _NONCE_LENGTH:], name))
        except (InvalidTag, ValueError, struct.error):
            return None
        if not 0 <= now_ms - state.issued_at_ms < self.lifetime * 1000:
            return None
        return state

    def remember(self, session_id: bytes, state: TicketState) -> None:
        """TLS 1.2 resumption by session id (RFC 5246 §7.4.1.2): the server's session cache."""
        with self._lock:
            now_ms = self.now_ms()
            self._cache = {k: v for k, v in self._cache.items()
                           if now_ms - v.issued_at_ms < self.lifetime * 1000}
            self._cache[session_id] = state

    def recall(self, session_id: bytes) -> TicketState | None:
        with self._lock:
            state = self._cache.get(session_id)
        if state is None or not 0 <= self.now_ms() - state.issued_at_ms < self.lifetime * 1000:
            return None
        return state

    def first_use(self, ticket: bytes, state: TicketState) -> bool:
        """Records a resumption with ``ticket``; False if it was used before (with single-use tickets)."""
        if self.anti_replay is not AntiReplay.TICKETS:
            return True
        digest = hashlib.sha256(ticket).digest()
        now_ms = self.now_ms()
        with self._lock:
            self._used = {d: until for d, until in self._used.items() if until > now_ms}
            if digest in self._used:
                return False
            self._used[digest] = state.issued_at_ms + self.lifetime * 1000
        return True

    def fresh(self, state: TicketState, obfuscated_age: int) -> bool:
        """RFC 8446 §8.3: the client's ticket age agrees with the server's, within the window."""
        client_age = (obfuscated_age - state.ticket_age_add) % 2**32
        server_age = self.now_ms() - state.issued_at_ms
        return abs(server_age - client_age) <= self.freshness_window_ms

    def first_hello(self, binder: bytes, state: TicketState, obfuscated_age: int) -> bool:
        """RFC 8446 §8.2: records a fresh ClientHello whose 0-RTT data the server takes, by its PSK
        binder (the one the server verified: an attacker cannot change it without failing the check);
        False if the record holds it already, a replay. (True without the ClientHello record.)

        The entry lasts until the ClientHello's expected_arrival_time (when the ticket was issued plus
        the age the client claims) is more than the window behind the server's clock: from then on a
        copy fails :meth:`fresh`, so the record never grows beyond the hellos of one window."""
        if self.anti_replay is not AntiReplay.HELLOS:
            return True
        client_age = (obfuscated_age - state.ticket_age_add) % 2**32
        expected_arrival_ms = state.issued_at_ms + client_age
        digest = hashlib.sha256(binder).digest()
        now_ms = self.now_ms()
        with self._lock:
            self._hellos = {d: until for d, until in self._hellos.items() if until >= now_ms}
            if digest in self._hellos:
                return False
            self._hellos[digest] = expected_arrival_ms + self.freshness_window_ms
        return True
