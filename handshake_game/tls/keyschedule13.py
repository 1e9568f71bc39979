"""The TLS 1.3 key schedule (RFC 8446 §7.1), as one object in the style of aioquic.

    0 -> HKDF-Extract(salt=0, IKM=PSK or 0)  = early_secret
         Derive-Secret(., "derived", "")     = salt for the next stage
    (EC)DHE -> HKDF-Extract                  = handshake_secret
         Derive-Secret(., "c hs traffic", CH..SH), "s hs traffic"
         Derive-Secret(., "derived", "")
    0 -> HKDF-Extract                        = master_secret
         Derive-Secret(., "c ap traffic", CH..server Finished), "s ap traffic"

HKDF comes from ``cryptography``; the labels, contexts and order are RFC 8446's.
"""

from __future__ import annotations

import hmac
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from .keyschedule import TrafficKeys
from .suites import CipherSuite


def hkdf_expand_label(algorithm: hashes.HashAlgorithm, secret: bytes, label: bytes, context: bytes,
                      length: int) -> bytes:
    """RFC 8446 §7.1: HKDF-Expand(secret, HkdfLabel, length), label prefixed "tls13 "."""
    full_label = b"tls13 " + label
    info = struct.pack("!HB", length, len(full_label)) + full_label + bytes([len(context)]) + context
    return HKDFExpand(algorithm=algorithm, length=length, info=info).derive(secret)


def hkdf_extract(algorithm: hashes.HashAlgorithm, salt: bytes, key_material: bytes) -> bytes:
    return HKDF.extract(algorithm, salt, key_material)


def traffic_keys(suite: CipherSuite, secret: bytes) -> TrafficKeys:
    """RFC 8446 §7.3: [sender]_write_key and [sender]_write_iv from a traffic secret."""
    return TrafficKeys(
        key=hkdf_expand_label(suite.hash, secret, b"key", b"", suite.key_length),
        iv=hkdf_expand_label(suite.hash, secret, b"iv", b"", 12),
    )


def finished_verify_data(suite: CipherSuite, base_key: bytes, transcript_hash: bytes) -> bytes:
    """RFC 8446 §4.4.4: HMAC(finished_key, Transcript-Hash(...))."""
    algorithm = suite.hash
    finished_key = hkdf_expand_label(algorithm, base_key, b"finished", b"", algorithm.digest_size)
    return hmac.new(finished_key, transcript_hash, algorithm.name).digest()


def next_traffic_secret(suite: CipherSuite, secret: bytes) -> bytes:
    """RFC 8446 §7.2: application_traffic_secret_N+1, for KeyUpdate."""
    return hkdf_expand_label(suite.hash, secret, b"traffic upd", b"", suite.hash.digest_size)


class KeySchedule:
    """Walks the three stages of RFC 8446 §7.1 and keeps the transcript hash.

    ``extract`` advances one stage; ``derive_secret`` reads a secret from the
    current stage against the transcript so far; ``update_hash`` adds a message.
    """

    def __init__(self, suite: CipherSuite) -> None:
        self.suite = suite
        self.algorithm = suite.hash
        self._hash = hashes.Hash(self.algorithm)
        self.generation = 0
        self.secret = bytes(self.algorithm.digest_size)

    def update_hash(self, data: bytes) -> None:
        self._hash.update(data)

    def transcript_hash(self, then: bytes = b"") -> bytes:
        """The hash of the messages so far, and of ``then`` after them (not kept)."""
        digest = self._hash.copy()
        digest.update(then)
        return digest.finalize()

    def extract(self, key_material: bytes | None) -> bytes:
        """Early secret (generation 0), handshake secret (1), master secret (2)."""
        size = self.algorithm.digest_size
        if self.generation:
            empty = hashes.Hash(self.algorithm)
            salt = hkdf_expand_label(self.algorithm, self.secret, b"derived", empty.finalize(), size)
        else:
            salt = bytes(size)
        self.secret = hkdf_extract(self.algorithm, salt, key_material or bytes(size))
        self.generation += 1
        return self.secret

    def derive_secret(self, label: bytes) -> bytes:
        """RFC 8446 §7.1: Derive-Secret(secret, label, messages) over the transcript so far."""
        return hkdf_expand_label(self.algorithm, self.secret, label, self.transcript_hash(),
                                 self.algorithm.digest_size)

    def restart_with_message_hash(self, client_hello: bytes) -> None:
        """RFC 8446 §4.4.1: after a HelloRetryRequest, ClientHello1 is replaced by
        message_hash(254) || 00 00 Hash.length || Hash(ClientHello1)."""
        digest = hashes.Hash(self.algorithm)
        digest.update(client_hello)
        hashed = digest.finalize()
        self._hash = hashes.Hash(self.algorithm)
        self._hash.update(bytes([254, 0, 0, len(hashed)]) + hashed)


def resumption_psk(suite: CipherSuite, resumption_master_secret: bytes, ticket_nonce: bytes) -> bytes:
    """RFC 8446 §4.6.1: the PSK a ticket stands for,
    HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length)."""
    return hkdf_expand_label(suite.hash, resumption_master_secret, b"resumption", ticket_nonce,
                             suite.hash.digest_size)


def binder_key(suite: CipherSuite, psk: bytes) -> bytes:
    """RFC 8446 §7.1: Derive-Secret(early_secret, "res binder", "") for a resumption PSK."""
    ks = KeySchedule(suite)
    ks.extract(psk)
    empty = hashes.Hash(suite.hash).finalize()
    return hkdf_expand_label(suite.hash, ks.secret, b"res binder", empty, suite.hash.digest_size)


def psk_binder(suite: CipherSuite, psk: bytes, transcript_hash: bytes) -> bytes:
    """RFC 8446 §4.2.11.2: a Finished-style HMAC with the binder key over
    Transcript-Hash(Truncate(ClientHello)) (and what came before it after a HelloRetryRequest)."""
    return finished_verify_data(suite, binder_key(suite, psk), transcript_hash)
