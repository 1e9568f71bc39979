"""Who may know what at a table: the sharing table, and the scan that finds a secret where it
must not be.

Rules:

* ``SHARING`` maps every wallet item a seat may hold — (seat, item name) — to a rule: given
  the table's state and the item's value, the seats that may know that value. A pair that is
  not in the table is an item the seat may not hold at all (``strays``): a CA key planted in
  the client's wallet is caught by its name, before any scan.
* Holding a value is no licence to it. ``leaks`` scans what a seat is shown for the value of
  every item whose rule leaves that seat out — even when the same value also sits in that
  seat's own wallet. Two seats share a value only where the table says both may know it.
* Private keys belong to their owner. The secrets of a session (premaster, master secret,
  write keys, TLS 1.3 traffic secrets, Finished) belong to its two ends: the client and the
  server — or, once the eavesdropper has answered the client with its own certificate (and
  key share), the client and the eavesdropper, who computed them with its own share; the
  server's session is then the server's alone. The CA never knows a session secret.
* The eavesdropper knows what it computed itself and what was leaked to it: the server's key
  once ``key_leaked``, the server's ticket key once it leaked too (tls13), the application
  data it really read (inside a successful decryption's plaintext). A new item in its wallet
  (such as the secrets of a handshake of its own with the server) needs a row here before
  any table may store it.
* A value is searched in every encoding it could travel in: hex (any case), base64 and
  base64url (at each of the three alignments a value can take inside a longer base64 text),
  UTF-8 text (raw and JSON-escaped) when it is text; a PEM private key also as its PEM text
  (its newlines raw, CRLF or JSON-escaped), its DER body in hex and base64, and its private
  numbers (an RSA key's d, p and q), which any serialisation of the key carries.
* Values shorter than 8 bytes are not searched: too short to tell from chance.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .facts import Fact, ItemStored
from .model import Seat
from .state import TableState
from .wire import in_the_middle

__all__ = ["MIN_SECRET", "SHARING", "Leak", "Rule", "guarded", "leaks", "may_hold", "may_know", "strays"]

MIN_SECRET = 8  # bytes; shorter values are not searched

Rule = Callable[[TableState, bytes], frozenset[Seat]]
"""(state, the item's value) -> the seats that may know that value now."""

CLIENT, SERVER, CA, EAVESDROPPER = Seat.CLIENT, Seat.SERVER, Seat.CA, Seat.EAVESDROPPER
_EVERY_SEAT = frozenset(Seat)


# -- the rules -----------------------------------------------------------------------------------

def public(state: TableState, value: bytes) -> frozenset[Seat]:
    """Certificates, CSRs, randoms: they travel in the clear, or are meant for everyone."""
    return _EVERY_SEAT


def only(*seats: Seat) -> Rule:
    """Always these seats, whatever happens at the table."""
    allowed = frozenset(seats)

    def rule(state: TableState, value: bytes) -> frozenset[Seat]:
        return allowed
    rule.__name__ = rule.__qualname__ = "only(" + ", ".join(seat.value for seat in seats) + ")"
    return rule


def server_key(state: TableState, value: bytes) -> frozenset[Seat]:
    """The server's private key: the server's, and the eavesdropper's once it leaked."""
    return frozenset({SERVER, EAVESDROPPER}) if state.key_leaked else frozenset({SERVER})


def ticket_key(state: TableState, value: bytes) -> frozenset[Seat]:
    """The key the server seals its tickets under: the server's, and the eavesdropper's once it
    leaked with the server's keys (key-leak, tls13)."""
    leaked = "leaked_ticket_key" in state.wallets[EAVESDROPPER]
    return frozenset({SERVER, EAVESDROPPER}) if leaked else frozenset({SERVER})


def client_session(state: TableState, value: bytes) -> frozenset[Seat]:
    """A secret of the client's session: the client and its peer — the server, or the
    eavesdropper that swapped in its own certificate and computed it with its own share;
    and the eavesdropper too once it broke the weak-dh key exchange."""
    if in_the_middle(state):
        return frozenset({CLIENT, EAVESDROPPER})
    return frozenset({CLIENT, SERVER} | ({EAVESDROPPER} if _broken(state) else set()))


def broken_dh(state: TableState, value: bytes) -> frozenset[Seat]:
    """The server's DH private value: the server's, and the eavesdropper's once it computed the
    discrete logarithm of the server's share (weak-dh)."""
    return frozenset({SERVER, EAVESDROPPER}) if _broken(state) else frozenset({SERVER})


def _broken(state: TableState) -> bool:
    return "recovered_master_secret" in state.wallets[EAVESDROPPER]


def server_session(state: TableState, value: bytes) -> frozenset[Seat]:
    """A secret of the server's session: the server and the client — unless the eavesdropper
    sits in the middle, when the server's session is with the eavesdropper (its own key
    exchange with the server) and the client's is another one."""
    if in_the_middle(state):
        return frozenset({SERVER, EAVESDROPPER})
    return frozenset({SERVER, CLIENT} | ({EAVESDROPPER} if _broken(state) else set()))


def eavesdropper_with_server(state: TableState, value: bytes) -> frozenset[Seat]:
    """The man in the middle's own connection to the server: the eavesdropper and the server."""
    return frozenset({EAVESDROPPER, SERVER})


def eavesdropper_session(state: TableState, value: bytes) -> frozenset[Seat]:
    """The eavesdropper's copy of the client's session secrets (a TLS 1.3 man in the middle
    derived them itself): the client holds the same values."""
    return frozenset({EAVESDROPPER, CLIENT})


def application_data(state: TableState, value: bytes) -> frozenset[Seat]:
    """What the client and the server said to each other: theirs, and the eavesdropper's when a
    decryption of its recording really read it, or when it sits in the middle (every record
    then crosses it, opened with its own keys)."""
    read = in_the_middle(state) or any(attempt.succeeded and value in attempt.plaintext
                                       for attempt in state.decryptions)
    return frozenset({CLIENT, SERVER, EAVESDROPPER}) if read else frozenset({CLIENT, SERVER})


def transcript(session: Rule) -> Rule:
    """A TLS 1.3 handshake log: public while it holds only the hellos (they cross the wire in
    the clear), a secret of the session once it holds the flight that travelled encrypted."""
    def rule(state: TableState, value: bytes) -> frozenset[Seat]:
        return _EVERY_SEAT if _only_hellos(value) else session(state, value)
    rule.__name__ = rule.__qualname__ = f"transcript({session.__name__})"
    return rule


def _only_hellos(log: bytes) -> bool:
    # RFC 8446 §4: each message is type (1 byte), length (3 bytes), body; 1 and 2 are the hellos.
    while log:
        if log[0] not in (1, 2):
            return False
        log = log[4 + int.from_bytes(log[1:4], "big"):]
    return True


# -- the table -----------------------------------------------------------------------------------

_SESSION_ITEMS = ("pre_master_secret", "master_secret", "client_write_key", "server_write_key",
                  "shared_secret", "client_handshake_traffic_secret", "server_handshake_traffic_secret",
                  "client_application_traffic_secret", "server_application_traffic_secret")
_TLS13_TRAFFIC = ("client_handshake_traffic_secret", "server_handshake_traffic_secret",
                  "client_application_traffic_secret", "server_application_traffic_secret")

SHARING: Mapping[tuple[Seat, str], Rule] = MappingProxyType({
    # The CA: its key, its root, the CSRs that reached it.
    (CA, "ca_key"): only(CA),
    (CA, "ca_certificate"): public,
    (CA, "received_csr"): public,
    (CA, "received_client_csr"): public,
    (CA, "received_second_csr"): public,
    # The server.
    (SERVER, "server_key"): server_key,
    (SERVER, "server_csr"): public,
    (SERVER, "server_certificate"): public,
    (SERVER, "trust_store"): public,
    (SERVER, "server_random"): public,
    (SERVER, "ecdhe_private"): only(SERVER),
    (SERVER, "dhe_private"): broken_dh,
    **{(SERVER, name): server_session for name in _SESSION_ITEMS},
    (SERVER, "handshake_log"): transcript(server_session),
    (SERVER, "request"): application_data,
    # tls13 replay: the ticket key, the resumption secrets, the 0-RTT request (``zerortt.py``).
    (SERVER, "ticket_key"): ticket_key,
    (SERVER, "resumption_master_secret"): server_session,
    (SERVER, "resumption_psk"): server_session,
    (SERVER, "client_early_traffic_secret"): server_session,
    (SERVER, "early_data_policy"): public,
    (SERVER, "spent_tickets"): public,  # digests of tickets, which travel in the clear
    (SERVER, "transfer"): application_data,
    (SERVER, "transfer_again"): application_data,
    (SERVER, "sent_data"): application_data,
    # The client.
    (CLIENT, "client_key"): only(CLIENT),
    (CLIENT, "client_csr"): public,
    (CLIENT, "client_certificate"): public,
    (CLIENT, "trust_store"): public,
    (CLIENT, "server_certificate"): public,  # what reached it: the server's, or a forged one
    (CLIENT, "client_random"): public,
    (CLIENT, "ecdhe_private"): only(CLIENT),
    (CLIENT, "dhe_private"): only(CLIENT),
    **{(CLIENT, name): client_session for name in _SESSION_ITEMS},
    (CLIENT, "client_finished"): client_session,
    (CLIENT, "server_finished"): client_session,  # TLS 1.3: it travelled encrypted
    (CLIENT, "handshake_log"): transcript(client_session),
    (CLIENT, "sent_data"): application_data,
    (CLIENT, "resumption_master_secret"): client_session,
    (CLIENT, "resumption_psk"): client_session,
    (CLIENT, "session_ticket"): public,  # sealed under the server's ticket key; it travels in the clear
    (CLIENT, "client_early_traffic_secret"): client_session,
    (CLIENT, "response"): application_data,
    # The eavesdropper: its own key and certificates, what it computed, what leaked to it.
    (EAVESDROPPER, "eavesdropper_key"): only(EAVESDROPPER),
    (EAVESDROPPER, "eavesdropper_certificate"): public,
    (EAVESDROPPER, "forged_certificate"): public,
    (EAVESDROPPER, "ecdhe_private"): only(EAVESDROPPER),
    **{(EAVESDROPPER, name): eavesdropper_session for name in _TLS13_TRAFFIC},
    # The relaying man in the middle: its two connections, and the records it opened.
    (EAVESDROPPER, "ecdhe_private_with_server"): only(EAVESDROPPER),
    (EAVESDROPPER, "pre_master_secret_with_client"): eavesdropper_session,
    (EAVESDROPPER, "master_secret_with_client"): eavesdropper_session,
    (EAVESDROPPER, "handshake_log_with_client"): transcript(eavesdropper_session),
    (EAVESDROPPER, "pre_master_secret_with_server"): eavesdropper_with_server,
    (EAVESDROPPER, "master_secret_with_server"): eavesdropper_with_server,
    **{(EAVESDROPPER, name + "_with_server"): eavesdropper_with_server for name in _TLS13_TRAFFIC},
    (EAVESDROPPER, "handshake_log_with_server"): transcript(eavesdropper_with_server),
    # weak-dh: what breaking the export-grade group gave it.
    (EAVESDROPPER, "recovered_dhe_private"): only(EAVESDROPPER, SERVER),
    (EAVESDROPPER, "recovered_master_secret"): only(EAVESDROPPER, CLIENT, SERVER),
    (EAVESDROPPER, "relayed_request"): application_data,
    (EAVESDROPPER, "relayed_response"): application_data,
    (EAVESDROPPER, "leaked_server_key"): only(EAVESDROPPER, SERVER),
    (EAVESDROPPER, "leaked_ticket_key"): ticket_key,  # the server's ticket key, which leaked with it
    (EAVESDROPPER, "decrypted_traffic"): only(EAVESDROPPER, CLIENT, SERVER),
})


def may_hold(seat: Seat, name: str) -> bool:
    """Whether ``name`` is an item ``seat``'s wallet may hold at all."""
    return (seat, name) in SHARING


def may_know(state: TableState, owner: Seat, name: str, value: bytes) -> frozenset[Seat]:
    """The seats that may know the value of ``owner``'s item ``name`` now. An item the owner
    may not hold at all is guarded as its holder's alone."""
    rule = SHARING.get((owner, name))
    return frozenset({owner}) if rule is None else rule(state, value) | {owner}


# -- the scan ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Leak:
    """A secret where it must not be: ``owner``'s item ``item`` shown to ``seat`` (in
    ``encoding``, at ``where`` in what it was shown) — or, when ``encoding`` is ``"stray"``,
    an item ``seat``'s wallet may not hold at all."""

    seat: Seat
    owner: Seat
    item: str
    encoding: str
    where: str

    def __str__(self) -> str:
        if self.encoding == "stray":
            return f"the {self.seat.value}'s wallet holds {self.item}, which the sharing table never gives it"
        return (f"the {self.owner.value}'s {self.item} ({self.encoding}) in the {self.seat.value}'s view, "
                f"at {self.where}")


def strays(state: TableState, seat: Seat | None = None) -> list[Leak]:
    """Wallet items a seat may not hold at all (every seat's, unless ``seat`` is given)."""
    seats = list(Seat) if seat is None else [seat]
    return [Leak(holder, holder, name, "stray", f"wallet.{name}")
            for holder in seats for name in state.wallets[holder] if not may_hold(holder, name)]


def leaks(state: TableState, seat: Seat, shown: Mapping[str, Any] | list[Any] | str,
          history: Iterable[Fact] = ()) -> list[Leak]:
    """Every secret ``shown`` to ``seat`` (its JSON view, or any text) that the sharing table
    does not give it, with the stray items of its wallet first. ``history`` (the table's
    facts) adds the values wallets held before and no longer hold (an earlier session's)."""
    found = strays(state, seat)
    debrief = shown.get("debrief") if isinstance(shown, Mapping) else None
    if isinstance(shown, Mapping) and isinstance(debrief, Mapping) and state.over:
        # The debrief tells every seat what the eavesdropper read, once the table is over: that
        # is the lesson. Only those texts, and only there; the rest of the view is searched.
        told = [text.decode("utf-8", "replace") for text in state.attacker_read]
        assert list(debrief.get("attacker_read", [])) == told, "the debrief tells only what was read"
        shown = {**shown, "debrief": {**debrief, "attacker_read": len(told)}}
    text = shown if isinstance(shown, str) else json.dumps(shown)
    folded = text.lower()
    for owner, name, value in guarded(state, seat, history):
        for encoding, needle, case_folded in _needles(value):
            if needle in (folded if case_folded else text):
                if case_folded:
                    encoding = _hex_case(text, needle, encoding)
                found.append(Leak(seat, owner, name, encoding, _where(shown, needle, case_folded)))
                break  # one encoding per item is enough to name the leak
    return found


def guarded(state: TableState, seat: Seat, history: Iterable[Fact] = ()) -> list[tuple[Seat, str, bytes]]:
    """(owner, item, value) for every value ``seat`` may not know and ``leaks`` searches for:
    what the wallets hold now, and with ``history`` what they held before."""
    seen: set[tuple[Seat, str, bytes]] = set()
    now = ((owner, name, item.value) for owner in Seat for name, item in state.wallets[owner].items())
    before = ((f.seat, f.name, f.value) for f in history if isinstance(f, ItemStored))
    out = []
    for entry in (*now, *before):
        owner, name, value = entry
        if len(value) >= MIN_SECRET and entry not in seen:
            seen.add(entry)
            if seat not in may_know(state, owner, name, value):
                out.append(entry)
    return out


def _hex_case(text: str, needle: str, encoding: str) -> str:
    if needle in text:
        return encoding
    return f"{encoding} (upper case)" if needle.upper() in text else f"{encoding} (mixed case)"


def _where(shown: Mapping[str, Any] | list[Any] | str, needle: str, case_folded: bool) -> str:
    """The JSON path of the first string in ``shown`` that holds ``needle`` (an offset, for text)."""
    if isinstance(shown, str):
        haystack = shown.lower() if case_folded else shown
        return f"offset {haystack.find(needle)}"
    for path, leaf in _leaves(shown, ""):
        encoded = json.dumps(leaf)
        if needle in (encoded.lower() if case_folded else encoded) or needle in leaf:
            return path or "(top)"
    return "(across several fields)"


def _leaves(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, child in node.items():
            inner = f"{path}.{key}" if path else str(key)
            yield inner + " (key)", str(key)
            yield from _leaves(child, inner)
    elif isinstance(node, list | tuple):
        for index, child in enumerate(node):
            yield from _leaves(child, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


# -- the encodings -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _needles(value: bytes) -> tuple[tuple[str, str, bool], ...]:
    """(encoding, the text to look for, whether to look in the lower-cased text), strongest
    evidence first; cached, since a table's values are searched after every move."""
    out: list[tuple[str, str, bool]] = _binary("", value)
    pem = _pem_body(value)
    text = _text(value)
    if text is not None:
        out += _text_forms("PEM " if pem is not None else "", text)
    if pem is not None:
        out += _binary("DER of the PEM, ", pem)
        out += [(f"{name} of the private key, {encoding}", needle, folded)
                for name, number in _private_numbers(value)
                for encoding, needle, folded in _binary("", number)]
    unique: dict[str, tuple[str, str, bool]] = {}
    for encoding, needle, folded in out:
        unique.setdefault(needle, (encoding, needle, folded))
    return tuple(unique.values())


def _binary(prefix: str, data: bytes) -> list[tuple[str, str, bool]]:
    needles = [(prefix + "hex", data.hex(), True)]
    for shift, piece in enumerate(_base64_pieces(data)):
        where = "" if shift == 0 else f" at offset {shift} mod 3"
        needles.append((f"{prefix}base64{where}", piece, False))
        needles.append((f"{prefix}base64url{where}", piece.replace("+", "-").replace("/", "_"), False))
    return needles


def _base64_pieces(data: bytes) -> list[str]:
    """The base64 characters that depend on ``data`` alone, for each of the three positions
    ``data`` can start at inside a longer base64 text (RFC 4648 §4: 3 bytes -> 4 characters)."""
    pieces = []
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + data).decode("ascii")
        first = (8 * shift + 5) // 6  # the first character with no bit of the padding bytes
        end = 8 * (shift + len(data)) // 6  # past the last character made of whole data bits
        pieces.append(encoded[first:end])
    return pieces


def _text(value: bytes) -> str | None:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if all(c.isprintable() or c in "\r\n\t" for c in text) else None


def _text_forms(prefix: str, text: str) -> list[tuple[str, str, bool]]:
    forms = [(prefix + "utf-8 text", text, False),
             (prefix + "utf-8 text, JSON-escaped", json.dumps(text)[1:-1], False),
             (prefix + "utf-8 text, JSON-escaped", json.dumps(text, ensure_ascii=False)[1:-1], False)]
    if "\n" in text and "\r\n" not in text:
        crlf = text.replace("\n", "\r\n")
        forms += [(prefix + "utf-8 text, CRLF", crlf, False),
                  (prefix + "utf-8 text, CRLF, JSON-escaped", json.dumps(crlf)[1:-1], False)]
    return forms


def _pem_body(value: bytes) -> bytes | None:
    """The DER inside a PEM private key (RFC 7468), or None."""
    lines = value.strip().splitlines()
    if len(lines) < 3 or not (lines[0].startswith(b"-----BEGIN ") and b"PRIVATE KEY" in lines[0]):
        return None
    try:
        return base64.b64decode(b"".join(lines[1:-1]), validate=True)
    except binascii.Error:
        return None


def _private_numbers(pem: bytes) -> list[tuple[str, bytes]]:
    try:
        key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError):
        return []
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        return [(name, _unsigned(number)) for name, number in (("d", numbers.d), ("p", numbers.p),
                                                              ("q", numbers.q))]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [("private value", _unsigned(key.private_numbers().private_value))]
    return []


def _unsigned(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8, "big")
