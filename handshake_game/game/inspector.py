"""The byte inspector's truth, per seat: every TLS record of a wire message with its header
dissected, and each encrypted record opened with the keys the seat really holds.

Rules:

* Every record gets its 5-byte header dissected (RFC 5246 §6.2.1, RFC 8446 §5.1): content
  type in words, the record version with what it means in this TLS version, the length.
* An encrypted record is opened only with a key from the viewing seat's own wallet (``Keys``):
  TLS 1.3 traffic secrets (RFC 8446 §7.3), TLS 1.2 master secrets expanded with the randoms the
  seat saw (RFC 5246 §6.3). The first key whose AEAD tag checks wins; the seat is shown the
  inner plaintext, dissected where it is a handshake message, the sequence number and the
  nonce (RFC 5288 §3, RFC 7905 §2, RFC 8446 §5.3) — never the key itself, only its item name.
* A seat without such a key sees the ciphertext, said plainly: it does not hold the keys.
* Everything here is a pure function of (record bytes, what the seat holds), so it is cached
  with exactly that as the key: two seats holding different keys never share an entry.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..tls import messages as m
from ..tls.alerts import Alert
from ..tls.keyschedule import TrafficKeys, key_block
from ..tls.keyschedule13 import traffic_keys
from ..tls.record import TAG_LENGTH, ContentType, RecordProtection, RecordProtection13
from ..tls.suites import CIPHER_SUITES, CipherSuite, suite_by_name
from .model import SUITES_FOR_VARIANT, Seat, Variant
from .records import WireEvent, split_records
from .state import Item, TableState

__all__ = ["Keys", "annotate_versions", "inspect_records", "keys_of"]

TLS12, TLS13 = 0x0303, 0x0304
_CONTENT_WORDS: dict[int, str] = {content_type.value: content_type.name for content_type in ContentType}
_VERSION_NAMES = {0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
# The wallet items that key records: TLS 1.3 traffic secrets, TLS 1.2 master secrets (the
# eavesdropper's own sessions, when it sits in the middle). Not the weak-dh eavesdropper's
# ``recovered_master_secret``: what breaking the key exchange reads is that seat's own move
# (weakdh.py), and the sharing table gives it the plaintext only once that move has read it.
_TRAFFIC_SECRETS = tuple(f"{side}_{stage}_traffic_secret{suffix}" for suffix in ("", "_with_server")
                         for stage in ("handshake", "application") for side in ("client", "server"))
_MASTER_SECRETS = ("master_secret", "master_secret_with_client", "master_secret_with_server")
_MAX_SEQUENCE = 8  # the game's connections are short: a handful of records per key


@dataclass(frozen=True)
class Keys:
    """What one seat holds that could open a record: part of every cache key below."""

    tls13: bool
    secrets: tuple[tuple[str, bytes], ...] = ()  # TLS 1.3 traffic secrets, by item name
    masters: tuple[tuple[str, bytes], ...] = ()  # TLS 1.2 master secrets, by item name
    randoms: tuple[tuple[bytes, bytes], ...] = ()  # (client_random, server_random) pairs it saw
    suites: tuple[int, ...] = ()  # the suites of the ServerHellos it saw


def keys_of(state: TableState, seat: Seat, events: Iterable[WireEvent],
            wallet: Mapping[str, Item] | None = None) -> Keys:
    """The keys ``seat`` holds now (or held in ``wallet``: an earlier session's), and the public
    values (randoms, suite) it saw on ``events``."""
    tls13 = state.variant is Variant.TLS13
    wallet = state.wallets[seat] if wallet is None else wallet
    held = [(name, wallet[name].value) for name in (_TRAFFIC_SECRETS if tls13 else _MASTER_SECRETS)
            if name in wallet]
    secrets, masters = (tuple(held), ()) if tls13 else ((), tuple(held))
    if not (secrets or masters):
        return Keys(tls13)
    client_randoms: list[bytes] = []
    server_randoms: list[bytes] = []
    suites: list[int] = []
    for event in events:
        for hello in _hellos(event.payload) if event.content_type == ContentType.handshake else ():
            if isinstance(hello, m.ClientHello) and hello.random not in client_randoms:
                client_randoms.append(hello.random)
            elif isinstance(hello, m.ServerHello):
                if hello.random not in server_randoms:
                    server_randoms.append(hello.random)
                if hello.cipher_suite in CIPHER_SUITES and hello.cipher_suite not in suites:
                    suites.append(hello.cipher_suite)
    if not suites:
        suites = [suite_by_name(SUITES_FOR_VARIANT[state.variant][0]).code]
    pairs = tuple((c, s) for c in client_randoms for s in server_randoms)
    return Keys(tls13, secrets, masters, pairs, tuple(suites))


@functools.lru_cache(maxsize=2048)
def _hellos(payload: bytes) -> tuple[m.HandshakeMessage, ...]:
    out = []
    for record in split_records(payload):
        if record[5:6] in (b"\x01", b"\x02"):
            try:
                out.append(m.decode_handshake(record[5:]))
            except Alert:
                continue
    return tuple(out)


# -- the records -----------------------------------------------------------------------------

@functools.lru_cache(maxsize=8192)
def inspect_records(payload: bytes, label: str, keys: Keys) -> tuple[dict[str, Any], ...]:
    """Each record of ``payload``: its offset, header fields, fragment, and — for an encrypted
    record ``keys`` open — what is inside. Cached on (bytes, label, keys): callers must not
    change what they get."""
    out = []
    offset = 0
    for record in split_records(payload):
        out.append(_record(record, offset, label, keys))
        offset += len(record)
    return tuple(out)


def _record(record: bytes, offset: int, label: str, keys: Keys) -> dict[str, Any]:
    content_type, version, length = record[0], int.from_bytes(record[1:3], "big"), len(record) - 5
    encrypted = (content_type == ContentType.application_data
                 or (content_type == ContentType.handshake and label == "Finished"))
    entry: dict[str, Any] = {"offset": offset, "length": len(record),
                             "header": _header(content_type, version, length, keys.tls13, encrypted),
                             "encrypted": encrypted}
    if not encrypted:
        return entry
    entry["fragment"] = _sealed_layout(record, keys.tls13)
    opened = _open13(record, keys) if keys.tls13 else _open12(record, keys)
    if opened is not None:
        entry["decrypted"] = opened
        entry["status"] = "decrypted with your keys"
    elif keys.secrets or keys.masters:
        entry["status"] = ("encrypted: none of the keys you hold opens it (the AEAD tag check fails), "
                           "so it stays ciphertext")
    else:
        entry["status"] = "encrypted: you do not hold the keys, so it stays ciphertext"
    return entry


def _field(name: str, offset: int, length: int, value: str, explanation: str,
           children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": name, "offset": offset, "length": length, "value": value, "explanation": explanation,
            "children": children or []}


def _version_words(code: int) -> str:
    return f"0x{code:04x} ({_VERSION_NAMES.get(code, 'not a TLS version')})"


def _header(content_type: int, version: int, length: int, tls13: bool,
            encrypted: bool) -> list[dict[str, Any]]:
    words = _CONTENT_WORDS.get(content_type, "unknown")
    type_note = "what the record carries: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data"
    if tls13 and encrypted:
        type_note = ("every encrypted TLS 1.3 record says application_data outside; its real content type "
                     "travels inside the encryption (TLSInnerPlaintext, RFC 8446 §5.2)")
    elif encrypted:
        type_note = (f"{words}, in the clear: TLS 1.2 encrypts the fragment only, so the type shows "
                     "(RFC 5246 §6.2.3)")
    if tls13:
        version_note = ("legacy_record_version: TLS 1.3 writes 0x0303 (TLS 1.2) here on every record, "
                        "frozen for middleboxes; the version really in use was agreed in the "
                        "supported_versions extension (RFC 8446 §5.1)")
        version_name = "legacy_record_version"
    else:
        version_note = ("the record layer's version: TLS 1.2 (0x0303) writes the negotiated version on "
                        "every record (RFC 5246 §6.2.1)")
        version_name = "version"
    length_note = "how many bytes of fragment follow the header (at most 2^14 plus the AEAD expansion)"
    return [_field("content_type", 0, 1, f"{content_type} ({words})", type_note),
            _field(version_name, 1, 2, _version_words(version), version_note),
            _field("length", 3, 2, str(length), length_note)]


def _sealed_layout(record: bytes, tls13: bool) -> list[dict[str, Any]]:
    """The encrypted fragment's parts, offsets from the record start."""
    length = len(record) - 5
    explicit = 0 if tls13 or length < 8 + TAG_LENGTH else 8
    parts = []
    if explicit:
        parts.append(_field("explicit_nonce", 5, 8, record[5:13].hex(),
                            "the per-record half of the AES-GCM nonce, sent in the clear; the other 4 bytes "
                            "(the salt) come from the key block and never cross the wire (RFC 5288 §3)"))
    body = max(0, length - explicit - TAG_LENGTH)
    inside = ("the encrypted content, its real type and any padding (TLSInnerPlaintext, RFC 8446 §5.2)"
              if tls13 else "the encrypted content (RFC 5246 §6.2.3.3)")
    parts.append(_field("encrypted_record", 5 + explicit, body, f"{body} bytes", inside))
    parts.append(_field("tag", 5 + explicit + body, min(TAG_LENGTH, length), f"{TAG_LENGTH} bytes",
                        "the AEAD authentication tag: a wrong key or one changed bit makes opening fail"))
    return parts


# -- opening with the seat's keys --------------------------------------------------------------

@functools.lru_cache(maxsize=1024)
def _keys13(suite_code: int, secret: bytes) -> TrafficKeys:
    return traffic_keys(CIPHER_SUITES[suite_code], secret)


@functools.lru_cache(maxsize=1024)
def _block12(suite_code: int, master: bytes, client_random: bytes, server_random: bytes) -> tuple[
        TrafficKeys, TrafficKeys]:
    block = key_block(CIPHER_SUITES[suite_code], master, client_random, server_random)
    return block.client_write, block.server_write


def _xor_sequence(iv: bytes, sequence: int) -> bytes:
    """RFC 8446 §5.3 / RFC 7905 §2: the IV XOR the sequence number, left-padded to the IV length."""
    padded = sequence.to_bytes(len(iv), "big")
    return bytes(a ^ b for a, b in zip(iv, padded, strict=True))


def _open13(record: bytes, keys: Keys) -> dict[str, Any] | None:
    for suite_code in keys.suites:
        suite = CIPHER_SUITES[suite_code]
        if not suite.tls13:
            continue
        for name, secret in keys.secrets:
            traffic = _keys13(suite_code, secret)
            for sequence in range(_MAX_SEQUENCE):
                protection = RecordProtection13(suite, traffic)
                protection.sequence_number = sequence
                try:
                    inner_type, content = protection.open(record[:5], record[5:])
                except Alert:
                    continue
                nonce = _xor_sequence(traffic.iv, sequence)
                nonce_note = (f"per-record nonce = write_iv XOR the sequence number {sequence}, left-padded "
                              f"to 12 bytes (RFC 8446 §5.3); write_iv comes from your {name} "
                              "(RFC 8446 §7.3)")
                # The whole TLSInnerPlaintext: content, type, then the zeros the record layer stripped.
                padding = len(record) - 5 - TAG_LENGTH - len(content) - 1
                inner = content + bytes([inner_type]) + bytes(padding)
                return _opened(name, suite, sequence, nonce, nonce_note, inner, inner_type, content, True)
    return None


def _open12(record: bytes, keys: Keys) -> dict[str, Any] | None:
    version = int.from_bytes(record[1:3], "big")
    for suite_code in keys.suites:
        suite = CIPHER_SUITES[suite_code]
        if suite.tls13:
            continue
        explicit = record[5:5 + suite.record_iv_length]
        guesses = ([int.from_bytes(explicit, "big")] if explicit else []) + list(range(_MAX_SEQUENCE))
        for name, master in keys.masters:
            for client_random, server_random in keys.randoms:
                for direction, traffic in zip(("client", "server"),
                                              _block12(suite_code, master, client_random, server_random),
                                              strict=True):
                    for sequence in dict.fromkeys(guesses):
                        protection = RecordProtection(suite, traffic)
                        protection.sequence_number = sequence
                        try:
                            plaintext = protection.open(record[0], version, record[5:])
                        except Alert:
                            continue
                        if explicit:  # RFC 5288 §3
                            nonce = traffic.iv + explicit
                            nonce_note = (f"nonce = the 4-byte salt ({direction}_write_IV from the key block "
                                          f"of your {name}) + the 8-byte explicit nonce carried in the "
                                          "record (RFC 5288 §3)")
                        else:  # RFC 7905 §2
                            nonce = _xor_sequence(traffic.iv, sequence)
                            nonce_note = (f"nonce = {direction}_write_IV XOR the sequence number {sequence} "
                                          "(RFC 7905 §2)")
                        key_name = f"{direction}_write_key (from your {name})"
                        return _opened(key_name, suite, sequence, nonce, nonce_note, plaintext, record[0],
                                       plaintext, False)
    return None


def _opened(key_name: str, suite: CipherSuite, sequence: int, nonce: bytes, nonce_note: str, inner: bytes,
            inner_type: int, content: bytes, tls13: bool) -> dict[str, Any]:
    type_words = _CONTENT_WORDS.get(inner_type, "unknown")
    fields = [_content_field(content, inner_type, tls13)]
    if tls13:
        fields.append(_field("type", len(content), 1, f"{inner_type} ({type_words})",
                             "the real content type, inside the encryption (TLSInnerPlaintext.type, "
                             "RFC 8446 §5.2)"))
        padding = len(inner) - len(content) - 1
        if padding:
            fields.append(_field("zeros", len(content) + 1, padding, f"{padding} bytes",
                                 "padding: zeros that hide the true length (RFC 8446 §5.4)"))
    return {"key": key_name, "suite": suite.name, "sequence_number": sequence, "nonce": nonce.hex(),
            "nonce_explanation": nonce_note, "content_type": inner_type, "content_type_name": type_words,
            "bytes": inner.hex(), "fields": fields}


def _content_field(content: bytes, content_type: int, tls13: bool) -> dict[str, Any]:
    if content_type == ContentType.handshake:
        try:
            tree = m.dissect_handshake(content, None, 0, TLS13 if tls13 else TLS12).to_dict()
        except Alert:
            tree = None
        if tree is not None:
            return annotate_versions(content, tree)
    if content_type == ContentType.alert:
        try:
            return m.AlertMessage.decode(content).dissect(0).to_dict()
        except Alert:
            pass
    if content_type == ContentType.application_data:
        return _field("application_data", 0, len(content), content.decode("utf-8", "replace"),
                      "what the application sent: readable only to whoever holds these keys")
    return _field("content", 0, len(content), f"{len(content)} bytes", "the record's plaintext")


# -- versions, per version -------------------------------------------------------------------

def annotate_versions(raw: bytes, tree: dict[str, Any]) -> dict[str, Any]:
    """A hello's version field said per version: in TLS 1.3 ``legacy_version`` is 0x0303,
    frozen for middleboxes, and the real version is in supported_versions (RFC 8446 §4.1.2,
    §4.1.3). Returns a new tree; ``tree`` is not changed."""
    version_field = {1: "client_version", 2: "server_version"}.get(raw[0] if raw else -1)
    if version_field is None:
        return tree
    tls13 = _speaks_tls13(raw)
    if tls13:
        value = "0x0303 (TLS 1.2, frozen for middleboxes; the real version is in supported_versions)"
        note = ("legacy_version: TLS 1.3 keeps 0x0303 here so that old servers and middleboxes let the "
                "hello through; the version is negotiated in the supported_versions extension "
                + ("(RFC 8446 §4.1.2)" if raw[0] == 1 else "(RFC 8446 §4.1.3)"))
    elif raw[0] == 1:
        value, note = "", ("TLS 1.2: the highest version the client supports; the server answers with "
                           "the version both will use (RFC 5246 §7.4.1.2)")
    else:
        value, note = "", "TLS 1.2: the version the server chose for this connection (RFC 5246 §7.4.1.3)"

    def walk(node: dict[str, Any]) -> dict[str, Any]:
        out = {**node, "children": [walk(child) for child in node.get("children", [])]}
        if node.get("name") == version_field:
            out["explanation"] = note
            if tls13:
                out["name"], out["value"] = "legacy_version", value
        return out
    return walk(tree)


def _speaks_tls13(raw: bytes) -> bool:
    """Whether a hello offers (ClientHello) or picks (ServerHello) TLS 1.3 in supported_versions."""
    try:
        hello = m.decode_handshake(raw)
    except Alert:
        return False
    if not isinstance(hello, m.ClientHello | m.ServerHello):
        return False
    data = hello.extension(m.ExtensionType.supported_versions)
    if data is None:
        return False
    try:
        if isinstance(hello, m.ClientHello):
            return TLS13 in m.parse_supported_versions(data)
        return m.parse_selected_version(data) == TLS13
    except Alert:
        return False
