"""The eavesdropper's engine: watch both directions of one connection, and try to decrypt.

A :class:`WireObserver` is fed the bytes each side sent, in order, exactly as a tap on
the wire would see them. It splits them into records, dissects every handshake message
that travels in the clear, and remembers what a passive attacker can learn (randoms,
suite, key shares, the encrypted premaster). :meth:`WireObserver.try_decrypt` then
attempts to read the protected records with whatever the attacker holds:

* the server's RSA private key (leaked after the session): in TLS 1.2 with RSA key
  exchange it opens the recorded premaster, and with it every record — for real;
  with (EC)DHE or TLS 1.3 the premaster was never on the wire (forward secrecy), so
  the key is no use, and the attempt says why;
* a key log (NSS SSLKEYLOGFILE lines), as Wireshark uses: any version, any suite, and
  in TLS 1.3 the client's 0-RTT data too, when the log has its CLIENT_EARLY_TRAFFIC_SECRET;
* an ephemeral private key of TLS 1.2 (EC)DHE: the x25519 key of a man in the middle
  who sent the server's share, or either side's finite-field DH exponent — which, in the
  game's weak-dh scenario, the eavesdropper gets by solving the discrete logarithm.

Success is decided by the AEAD tags, never by a flag: a record counts as decrypted
only when it authenticates under the derived keys. Sans-I/O like the rest of tls/.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ._codec import DecodeError, Field
from .alerts import Alert
from .keyschedule import Transcript, extended_master_secret, key_block, master_secret
from .keyschedule13 import traffic_keys
from .messages import (
    ClientHello,
    ClientKeyExchange,
    DhServerKeyExchange,
    ExtensionType,
    HandshakeMessage,
    ServerHello,
    ServerKeyExchange,
    decode_handshake,
    dissect_handshake,
    parse_selected_version,
)
from .record import RECORD_HEADER_LENGTH, ContentType, RecordProtection, RecordProtection13
from .suites import CIPHER_SUITES, CipherSuite, KeyExchange
from .weakdh import DhGroup, FfdhePrivateKey

TLS12 = 0x0303
TLS13 = 0x0304


class Side(enum.Enum):
    CLIENT = "client"  # bytes the client sent
    SERVER = "server"


@dataclass(frozen=True)
class ObservedMessage:
    message: HandshakeMessage
    raw: bytes
    dissection: Field


@dataclass(frozen=True)
class ObservedRecord:
    """One record as the eavesdropper sees it on the wire."""

    sender: Side
    index: int  # position among this sender's records
    content_type: int
    wire: bytes
    encrypted: bool
    messages: tuple[ObservedMessage, ...] = ()

    @property
    def payload(self) -> bytes:
        return self.wire[RECORD_HEADER_LENGTH:]


@dataclass(frozen=True)
class DecryptedRecord:
    sender: Side
    index: int
    content_type: int
    plaintext: bytes
    early: bool = False  # TLS 1.3 0-RTT: under the client's early traffic keys (RFC 8446 §2.3)


@dataclass(frozen=True)
class DecryptAttempt:
    """What an attempt achieved, and why, in words a student can follow."""

    succeeded: bool
    reason: str
    records: tuple[DecryptedRecord, ...] = ()

    def application_data(self, sender: Side) -> bytes:
        return b"".join(r.plaintext for r in self.records
                        if r.sender is sender and r.content_type == ContentType.application_data)


@dataclass
class _Stream:
    buffer: bytearray = field(default_factory=bytearray)
    handshake: bytearray = field(default_factory=bytearray)
    encrypted: bool = False
    count: int = 0


class WireObserver:
    """Both directions of one TLS connection, as a passive tap sees them."""

    def __init__(self) -> None:
        self._streams = {Side.CLIENT: _Stream(), Side.SERVER: _Stream()}
        self.records: list[ObservedRecord] = []
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self.client_key_exchange: ClientKeyExchange | None = None
        self.server_key_exchange: ServerKeyExchange | DhServerKeyExchange | None = None
        self.version: int | None = None
        self.suite: CipherSuite | None = None
        # The plaintext handshake up to and including ClientKeyExchange (TLS 1.2), for
        # the extended master secret's session hash.
        self._transcript = Transcript()
        self._session_hash_frozen = False

    # -- feeding -----------------------------------------------------------------------
    def client_sent(self, data: bytes) -> list[ObservedRecord]:
        return self._feed(Side.CLIENT, data)

    def server_sent(self, data: bytes) -> list[ObservedRecord]:
        return self._feed(Side.SERVER, data)

    def _feed(self, sender: Side, data: bytes) -> list[ObservedRecord]:
        stream = self._streams[sender]
        stream.buffer += data
        seen = []
        while len(stream.buffer) >= RECORD_HEADER_LENGTH:
            length = int.from_bytes(stream.buffer[3:5], "big")
            if len(stream.buffer) < RECORD_HEADER_LENGTH + length:
                break
            wire = bytes(stream.buffer[: RECORD_HEADER_LENGTH + length])
            del stream.buffer[: RECORD_HEADER_LENGTH + length]
            record = self._observe(sender, stream, wire)
            self.records.append(record)
            seen.append(record)
        return seen

    def _observe(self, sender: Side, stream: _Stream, wire: bytes) -> ObservedRecord:
        content_type = wire[0]
        index = stream.count
        stream.count += 1
        # TLS 1.3 application_data records are all protected, the client's 0-RTT ones (before any
        # ServerHello) included.
        early = self.version is None and sender is Side.CLIENT and self._offers_early_data()
        encrypted = stream.encrypted or (
            content_type == ContentType.application_data and (self.version == TLS13 or early))
        messages: list[ObservedMessage] = []
        if content_type == ContentType.change_cipher_spec:
            if self.version == TLS12:
                stream.encrypted = True  # TLS 1.2: what follows from this sender is protected
            # Before a ServerHello it is TLS 1.3's compatibility CCS (RFC 8446 D.4), sent by a client
            # with its 0-RTT data or before its second ClientHello: nothing is protected by it.
            encrypted = False
        elif content_type == ContentType.handshake and not encrypted:
            stream.handshake += wire[RECORD_HEADER_LENGTH:]
            messages = self._drain(stream)
        return ObservedRecord(sender, index, content_type, wire, encrypted, tuple(messages))

    def _drain(self, stream: _Stream) -> list[ObservedMessage]:
        found = []
        buf = stream.handshake
        while len(buf) >= 4:
            end = 4 + int.from_bytes(buf[1:4], "big")
            if len(buf) < end:
                break
            raw = bytes(buf[:end])
            del buf[:end]
            kx = self.suite.key_exchange if self.suite is not None else None
            version = self.version or TLS12
            try:
                message = decode_handshake(raw, kx, version)
                dissection = dissect_handshake(raw, kx, version=version)
            except Alert:
                continue  # garbage on the wire is shown as bytes only
            self._learn(message, raw)
            found.append(ObservedMessage(message, raw, dissection))
        return found

    def _offers_early_data(self) -> bool:
        """Whether the (first) ClientHello announced 0-RTT data (RFC 8446 §4.2.10)."""
        hello = self.client_hello
        return hello is not None and hello.extension(ExtensionType.early_data) is not None

    def _learn(self, message: HandshakeMessage, raw: bytes) -> None:
        if not self._session_hash_frozen:
            self._transcript.add(raw)
        if isinstance(message, ClientHello) and self.client_hello is None:
            self.client_hello = message
        elif isinstance(message, ServerHello) and not message.is_hello_retry_request:
            self.server_hello = message
            self.suite = CIPHER_SUITES.get(message.cipher_suite)
            selected = message.extension(ExtensionType.supported_versions)
            try:
                self.version = parse_selected_version(selected) if selected else TLS12
            except DecodeError:
                self.version = TLS12
        elif isinstance(message, ServerKeyExchange | DhServerKeyExchange):
            self.server_key_exchange = message
        elif isinstance(message, ClientKeyExchange):
            self.client_key_exchange = message
            self._session_hash_frozen = True

    # -- attacking ---------------------------------------------------------------------
    def try_decrypt(self, *, server_private_key: PrivateKeyTypes | None = None,
                    keylog_lines: list[str] | None = None,
                    ecdhe_private: bytes | None = None,
                    dhe_private: bytes | None = None) -> DecryptAttempt:
        """Tries to read every protected record with what the eavesdropper holds.

        ``ecdhe_private`` is an x25519 private key whose public half was the server's
        share on this wire — which only a man in the middle who sent that share holds.
        ``dhe_private`` is the private exponent behind either side's public value of a
        DHE handshake (``weakdh``) — which only someone who solved its discrete log holds.
        """
        if self.client_hello is None or self.server_hello is None or self.suite is None:
            return DecryptAttempt(False, "the hellos were not seen, so nothing can be derived")
        if keylog_lines:
            return self._with_keylog(keylog_lines)
        if (ecdhe_private is not None and self.version != TLS13
                and isinstance(self.server_key_exchange, ServerKeyExchange)):
            return self._with_ecdhe_private(ecdhe_private)
        if (dhe_private is not None and self.version != TLS13
                and isinstance(self.server_key_exchange, DhServerKeyExchange)):
            return self._with_dhe_private(self.server_key_exchange, dhe_private)
        if server_private_key is not None:
            return self._with_server_key(server_private_key)
        return DecryptAttempt(
            False, "the eavesdropper holds no key: the records are "
                   f"{self.suite.name if self.suite is not None else 'AEAD'} ciphertext, "
                   "and without the session keys every tag check fails")

    def _with_server_key(self, key: PrivateKeyTypes) -> DecryptAttempt:
        assert self.suite is not None and self.client_hello is not None
        if self.version == TLS13 or self.suite.key_exchange is not KeyExchange.RSA:
            what = "TLS 1.3" if self.version == TLS13 else self.suite.name
            return DecryptAttempt(
                False, f"{what} uses ephemeral (EC)DHE: the shared secret came from two private keys "
                       "that never crossed the wire and were thrown away; the server's "
                       "certificate key only signed the handshake. Forward secrecy: the leaked "
                       "key cannot open this recording")
        if self.client_key_exchange is None:
            return DecryptAttempt(False, "no ClientKeyExchange was seen: there is no premaster to open")
        if not isinstance(key, rsa.RSAPrivateKey):
            return DecryptAttempt(False, "the leaked key is not an RSA key; it cannot open an "
                                         "RSA-encrypted premaster")
        try:
            pre_master = key.decrypt(self.client_key_exchange.exchange_keys, padding.PKCS1v15())
        except ValueError:
            return DecryptAttempt(False, "the premaster was not encrypted to this key: RSA "
                                         "decryption fails")
        records = self._decrypt12(self._master12(pre_master))
        if records is None:
            return DecryptAttempt(False, "the derived keys do not authenticate the records: this "
                                         "key did not open the real premaster")
        return DecryptAttempt(True, "RSA key exchange: this private key opens the recorded "
                                    "ClientKeyExchange (the premaster was encrypted to its public "
                                    "half), and the premaster gives every session key", records)

    def _with_ecdhe_private(self, private: bytes) -> DecryptAttempt:
        assert isinstance(self.server_key_exchange, ServerKeyExchange)
        key = x25519.X25519PrivateKey.from_private_bytes(private)
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if public != self.server_key_exchange.public or self.client_key_exchange is None:
            return DecryptAttempt(False, "that ECDH key is not the one whose share the client used")
        try:
            peer = x25519.X25519PublicKey.from_public_bytes(self.client_key_exchange.exchange_keys)
            pre_master = key.exchange(peer)
        except ValueError:
            return DecryptAttempt(False, "the client's share is not a valid x25519 point")
        records = self._decrypt12(self._master12(pre_master))
        if records is None:
            return DecryptAttempt(False, "the derived keys do not authenticate the records")
        return DecryptAttempt(True, "the client did ECDH with the attacker's share: the attacker "
                                    "computes the same premaster and reads the client's records", records)

    def _with_dhe_private(self, params: DhServerKeyExchange, private: bytes) -> DecryptAttempt:
        if self.client_key_exchange is None:
            return DecryptAttempt(False, "no ClientKeyExchange was seen: the client's DH public value "
                                         "is missing")
        try:
            key = FfdhePrivateKey.from_private_bytes(DhGroup.from_bytes(params.p, params.g), private)
        except (Alert, ValueError):
            return DecryptAttempt(False, "that is not a private value in the server's DH group")
        mine = int.from_bytes(key.public_bytes(), "big")
        client_public = self.client_key_exchange.exchange_keys
        if mine == int.from_bytes(params.public, "big"):
            whose, peer = "the server's", client_public
        elif mine == int.from_bytes(client_public, "big"):
            whose, peer = "the client's", params.public
        else:
            return DecryptAttempt(False, "that DH private value is behind neither public value on "
                                         "this wire")
        try:
            pre_master = key.exchange(peer)
        except Alert:
            return DecryptAttempt(False, "the other side's DH public value is not valid in this group")
        records = self._decrypt12(self._master12(pre_master))
        if records is None:
            return DecryptAttempt(False, "the derived keys do not authenticate the records")
        return DecryptAttempt(True, f"DHE: {whose} private value with the other side's public value "
                                    "from the wire gives the premaster (RFC 5246 §8.1.2), and the "
                                    "premaster every session key", records)

    def _master12(self, pre_master: bytes) -> bytes:
        assert self.suite is not None and self.client_hello is not None
        assert self.server_hello is not None
        ems = (self.client_hello.extension(ExtensionType.extended_master_secret) is not None
               and self.server_hello.extension(ExtensionType.extended_master_secret) is not None)
        if ems:
            return extended_master_secret(self.suite, pre_master, self._transcript.digest(self.suite.hash))
        return master_secret(self.suite, pre_master, self.client_hello.random, self.server_hello.random)

    def _decrypt12(self, master: bytes) -> tuple[DecryptedRecord, ...] | None:
        assert self.suite is not None and self.client_hello is not None
        assert self.server_hello is not None
        keys = key_block(self.suite, master, self.client_hello.random, self.server_hello.random)
        openers = {Side.CLIENT: RecordProtection(self.suite, keys.client_write),
                   Side.SERVER: RecordProtection(self.suite, keys.server_write)}
        out = []
        for record in self.records:
            if not record.encrypted:
                continue
            try:
                plaintext = openers[record.sender].open(record.content_type, TLS12, record.payload)
            except Alert:
                return None
            out.append(DecryptedRecord(record.sender, record.index, record.content_type, plaintext))
        return tuple(out)

    def _with_keylog(self, lines: list[str]) -> DecryptAttempt:
        assert self.suite is not None and self.client_hello is not None
        secrets: dict[str, bytes] = {}
        wanted = self.client_hello.random.hex()
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[1].lower() == wanted:
                try:
                    secrets[parts[0]] = bytes.fromhex(parts[2])
                except ValueError:
                    continue
        if self.version != TLS13:
            master = secrets.get("CLIENT_RANDOM")
            if master is None:
                return DecryptAttempt(False, "the key log has no CLIENT_RANDOM line for this session")
            records = self._decrypt12(master)
            if records is None:
                return DecryptAttempt(False, "the logged master secret does not authenticate the records")
            return DecryptAttempt(True, "the key log's master secret gives every session key", records)
        return self._decrypt13(secrets)

    def _decrypt13(self, secrets: dict[str, bytes]) -> DecryptAttempt:
        """TLS 1.3: each direction moves from handshake to application traffic keys; the client's
        0-RTT records, before those, are under its early traffic keys (RFC 8446 §7.1, §7.3)."""
        assert self.suite is not None
        stages = {Side.CLIENT: ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"],
                  Side.SERVER: ["SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"]}
        if any(label not in secrets for labels in stages.values() for label in labels):
            return DecryptAttempt(False, "the key log lacks this session's TLS 1.3 traffic secrets")
        current = {side: RecordProtection13(self.suite, traffic_keys(self.suite, secrets[labels[0]]))
                   for side, labels in stages.items()}
        finished = {Side.CLIENT: False, Side.SERVER: False}
        early_keys = self._early_protections(secrets.get("CLIENT_EARLY_TRAFFIC_SECRET"))
        in_early = self._offers_early_data()
        early_read = early_closed = 0
        out = []
        for record in self.records:
            if not record.encrypted:
                continue
            header = record.wire[:RECORD_HEADER_LENGTH]
            if record.sender is Side.CLIENT and in_early:
                # RFC 8446 §4.2.10: the 0-RTT records and EndOfEarlyData are under the early keys. If
                # the server refused them, no EndOfEarlyData comes: the client's first record under
                # its handshake keys ends them, and what opens with neither is skipped, as the server
                # skips it.
                opened = _open_with_any(early_keys, header, record.payload)
                if opened is not None:
                    content_type, plaintext = opened
                    early_read += 1
                    out.append(DecryptedRecord(record.sender, record.index, content_type, plaintext,
                                               early=True))
                    if (content_type == ContentType.handshake
                            and _last_message(plaintext) == _END_OF_EARLY_DATA):
                        in_early = False
                    continue
                opened = _open_with_any([current[Side.CLIENT]], header, record.payload)
                if opened is None:
                    early_closed += 1
                    continue
                in_early = False
                content_type, plaintext = opened
            else:
                try:
                    content_type, plaintext = current[record.sender].open(header, record.payload)
                except Alert:
                    return DecryptAttempt(False, "a record does not authenticate under the logged secrets")
            out.append(DecryptedRecord(record.sender, record.index, content_type, plaintext))
            # The sender's Finished ends its handshake keys (RFC 8446 §7.3).
            if (content_type == ContentType.handshake and not finished[record.sender]
                    and _last_message(plaintext) == _FINISHED):
                finished[record.sender] = True
                current[record.sender] = RecordProtection13(
                    self.suite, traffic_keys(self.suite, secrets[stages[record.sender][1]]))
        reason = "the key log's traffic secrets give every record's keys"
        if early_read:
            reason += (", the client's 0-RTT data included: its CLIENT_EARLY_TRAFFIC_SECRET gives the early "
                       "traffic keys")
        if early_closed:
            why = ("the key log has no CLIENT_EARLY_TRAFFIC_SECRET for it" if not early_keys
                   else "they do not open with the logged CLIENT_EARLY_TRAFFIC_SECRET")
            reason += f"; {early_closed} 0-RTT record(s) stay closed: {why}"
        return DecryptAttempt(True, reason, tuple(out))

    def _early_protections(self, secret: bytes | None) -> list[RecordProtection13]:
        """The client's early traffic keys (RFC 8446 §7.3) under each suite they can be for. They use the
        cipher suite of the first PSK offered, which is the ServerHello's when the server accepts the
        0-RTT data (§4.2.10); when it refuses them, any TLS 1.3 suite of the secret's hash: the ticket
        that says which is sealed. The record's tag decides."""
        if secret is None:
            return []
        assert self.suite is not None
        candidates = [self.suite, *(s for s in CIPHER_SUITES.values() if s is not self.suite)]
        return [RecordProtection13(suite, traffic_keys(suite, secret)) for suite in candidates
                if suite.tls13 and suite.hash.digest_size == len(secret)]


_FINISHED = 20
_END_OF_EARLY_DATA = 5


def _open_with_any(candidates: list[RecordProtection13], header: bytes,
                   payload: bytes) -> tuple[int, bytes] | None:
    """The first of ``candidates`` whose keys open the record; once one does, it is the only one kept."""
    for protection in candidates:
        try:
            opened = protection.open(header, payload)
        except Alert:
            continue
        candidates[:] = [protection]
        return opened
    return None


def _last_message(plaintext: bytes) -> int | None:
    """The type of a decrypted handshake record's last message, if the record ends with it."""
    offset, last = 0, None
    while offset + 4 <= len(plaintext):
        last = plaintext[offset]
        offset += 4 + int.from_bytes(plaintext[offset + 1 : offset + 4], "big")
    return last if offset == len(plaintext) else None
