"""The workbench: the referee's own key-derivation functions, run for one seat on its own values.

At expert difficulty a student computes every value its step derives (``game.expert``). The
workbench lets it do so in the page: SHA-256/384, HMAC, the TLS 1.2 PRF (RFC 5246 §5),
HKDF-Extract (RFC 5869) and HKDF-Expand-Label (RFC 8446 §7.1), and its key exchange — the
premaster or shared secret from its own private value and the message its peer sent.

An operand is hex, or ``@name`` for a value the seat holds (:func:`inputs`), or several of
these joined with ``+`` or spaces (concatenated). Names resolve in this seat's wallet and
transcript only, so the workbench can never hand a seat a value it does not hold: at most
what it could compute from its own values with a calculator.
"""

from __future__ import annotations

import hashlib
import hmac as hmac_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519

from ..tls import messages as m
from ..tls.keyschedule import prf
from ..tls.keyschedule13 import hkdf_expand_label, hkdf_extract
from .model import Seat, Variant
from .records import handshake_raws
from .rules import Code, Rejected
from .state import TableState
from .tls12 import server_pre_master
from .wire import find

MAX_OPERAND = 64 * 1024  # bytes, after concatenation: a whole transcript with certificates fits
MAX_LENGTH = 1024  # the longest output asked of the PRF or HKDF-Expand-Label
MAX_LABEL = 64
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha384": hashes.SHA384}
# Wallet kinds a seat may compute with; keys as PEM, certificates and CSRs are for other tools.
_KINDS = ("random", "secret", "message", "transcript")
_MESSAGE_NAMES = {1: "ClientHello", 2: "ServerHello", 8: "EncryptedExtensions", 11: "Certificate",
                  12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
                  15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished"}

OPERATIONS: dict[str, dict[str, Any]] = {
    "hash": {"label": "Hash (SHA-256 or SHA-384)", "args": ["hash", "data"]},
    "hmac": {"label": "HMAC(key, data)", "args": ["hash", "key", "data"]},
    "prf": {"label": "TLS 1.2 PRF(secret, label, seed) (RFC 5246 §5)",
            "args": ["hash", "secret", "label", "seed", "length"]},
    "hkdf_extract": {"label": "HKDF-Extract(salt, input key material) (RFC 5869)",
                     "args": ["hash", "salt", "ikm"]},
    "hkdf_expand_label": {"label": "HKDF-Expand-Label(secret, label, context, length) (RFC 8446 §7.1)",
                          "args": ["hash", "secret", "label", "context", "length"]},
    "key_exchange": {"label": "Your key exchange: the premaster or shared secret from your private "
                              "value and your peer's message", "args": []},
}


@dataclass(frozen=True)
class Named:
    name: str
    label: str
    value: bytes


def _transcript(state: TableState, seat: Seat) -> list[bytes]:
    """The plaintext handshake messages this seat holds, in transcript order."""
    if state.variant is not Variant.TLS13:
        return list(handshake_raws(state.wire, seat))
    wallet = state.wallets[seat]
    log = wallet["handshake_log"].value if "handshake_log" in wallet else b""
    raws = []
    while len(log) >= 4:
        size = 4 + int.from_bytes(log[1:4], "big")
        raws.append(log[:size])
        log = log[size:]
    raws += [raw for raw in (m.encode_handshake(x) for x in state.decoded(seat)) if raw not in raws]
    finished = wallet.get("server_finished")
    if finished is not None and finished.value not in raws:
        raws.append(finished.value)
    return raws


def inputs(state: TableState, seat: Seat) -> list[Named]:
    """The values this seat may name in an operand: its wallet's randoms, secrets and messages,
    and each prefix of its transcript (``transcript:3`` is its first three handshake messages)."""
    found = [Named(name, name.replace("_", " "), item.value)
             for name, item in state.wallets[seat].items() if item.kind in _KINDS]
    # The hellos' randoms as this seat read them (the peer's random is on the wire, not in a wallet).
    for message in state.decoded(seat):
        if isinstance(message, m.ClientHello | m.ServerHello):
            name = "client_random" if isinstance(message, m.ClientHello) else "server_random"
            if all(named.name != name for named in found):
                found.append(Named(name, f"{name.replace('_', ' ')} (from the {type(message).__name__})",
                                   message.random))
    raws = _transcript(state, seat)
    for count in range(1, len(raws) + 1):
        first, last = _MESSAGE_NAMES.get(raws[0][0], "?"), _MESSAGE_NAMES.get(raws[count - 1][0], "?")
        words = first if count == 1 else f"{first} … {last}"
        found.append(Named(f"transcript:{count}", f"the handshake messages {words} ({count})",
                           b"".join(raws[:count])))
    return found


def listing(state: TableState, seat: Seat) -> dict[str, Any]:
    """What the page shows: the operations, and the names (with sizes, not values) of the inputs."""
    return {"operations": [{"id": op, **spec} for op, spec in OPERATIONS.items()],
            "inputs": [{"name": named.name, "label": named.label, "bytes": len(named.value)}
                       for named in inputs(state, seat)]}


def _operand(text: str, named: dict[str, bytes], what: str) -> bytes:
    out = b""
    for token in text.replace("+", " ").split():
        if token.startswith("@"):
            if token[1:] not in named:
                raise Rejected(f"{what}: you hold no value named {token[:40]!r}", Code.BAD_INPUT)
            out += named[token[1:]]
            continue
        try:
            out += bytes.fromhex(token.removeprefix("0x"))
        except ValueError:
            raise Rejected(f"{what}: {token[:20]!r} is neither hex nor @name of a value you hold",
                           Code.BAD_INPUT) from None
        if len(out) > MAX_OPERAND:
            raise Rejected(f"{what} is longer than {MAX_OPERAND} bytes", Code.BAD_INPUT)
    return out


def _number(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise Rejected(f"{what} must be a number of bytes", Code.BAD_INPUT) from None
    if not 1 <= value <= MAX_LENGTH:
        raise Rejected(f"{what} must be between 1 and {MAX_LENGTH} bytes", Code.BAD_INPUT)
    return value


def _label(text: str) -> bytes:
    if len(text) > MAX_LABEL or not text.isascii() or not text.isprintable():
        raise Rejected(f"a label is printable ASCII, at most {MAX_LABEL} characters", Code.BAD_INPUT)
    return text.encode()


def compute(state: TableState, seat: Seat, op: str, args: dict[str, str], rng: Any) -> bytes:
    """Runs one operation for ``seat``; a :class:`Rejected` (``bad_input``) for anything malformed."""
    spec = OPERATIONS.get(op)
    if spec is None:
        raise Rejected(f"the workbench has no operation {op[:40]!r}", Code.BAD_INPUT)
    missing = [name for name in spec["args"] if name not in args]
    if missing:
        raise Rejected(f"{op} needs {', '.join(missing)}", Code.BAD_INPUT)
    if op == "key_exchange":
        return _key_exchange(state, seat, rng)
    make_hash = HASHES.get(args["hash"])
    if make_hash is None:
        raise Rejected("the hash is sha256 or sha384", Code.BAD_INPUT)
    algorithm = make_hash()
    named = {n.name: n.value for n in inputs(state, seat)}

    def value(name: str) -> bytes:
        return _operand(args[name], named, name)

    if op == "hash":
        return hashlib.new(algorithm.name, value("data")).digest()
    if op == "hmac":
        return hmac_module.new(value("key"), value("data"), algorithm.name).digest()
    if op == "hkdf_extract":
        return hkdf_extract(algorithm, value("salt"), value("ikm"))
    length = _number(args["length"], "length")
    if op == "prf":
        return prf(algorithm, value("secret"), _label(args["label"]), value("seed"), length)
    label = _label(args["label"]).removeprefix(b"tls13 ")  # the function adds the prefix itself
    return hkdf_expand_label(algorithm, value("secret"), label, value("context"), length)


def _key_exchange(state: TableState, seat: Seat, rng: Any) -> bytes:
    """The seat's own key exchange, as the referee computes it: the TLS 1.2 server's premaster
    from the ClientKeyExchange it received; the TLS 1.3 client's x25519 shared secret with
    the server's share. Other seats hold theirs already, or have none."""
    wallet = state.wallets[seat]
    for held in ("pre_master_secret", "shared_secret"):
        if held in wallet:
            return wallet[held].value
    try:
        if seat is Seat.SERVER and state.variant is not Variant.TLS13:
            find(state, Seat.SERVER, m.ClientKeyExchange)
            return server_pre_master(state, rng)
        if seat is Seat.CLIENT and state.variant is Variant.TLS13 and "ecdhe_private" in wallet:
            hello: m.ServerHello = find(state, Seat.CLIENT, m.ServerHello)
            _, share = m.parse_key_share_server(hello.extension(m.ExtensionType.key_share) or b"")
            private = x25519.X25519PrivateKey.from_private_bytes(wallet["ecdhe_private"].value)
            return private.exchange(x25519.X25519PublicKey.from_public_bytes(share))
    except (Rejected, ValueError):
        pass
    raise Rejected("you have no key exchange to compute yet: your peer's message has not reached you, "
                   "or your seat takes no part in one", Code.BAD_INPUT)
