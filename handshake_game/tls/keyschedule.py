"""The TLS 1.2 key schedule: PRF, master secret, key block, verify_data.

RFC 5246 §5 (the PRF — the one small function we write ourselves, on top of
HMAC from ``cryptography``), §6.3 (key block), §7.4.9 (Finished), §8.1 (master
secret); RFC 7627 §4 (extended master secret).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac

from .suites import CipherSuite

MASTER_SECRET_LENGTH = 48
VERIFY_DATA_LENGTH = 12


def p_hash(algorithm: hashes.HashAlgorithm, secret: bytes, seed: bytes, length: int) -> bytes:
    """RFC 5246 §5: P_hash(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) …"""
    # Key the HMAC once and copy it per block: copying a keyed context skips the
    # digest lookup and the key padding, which dominate HMAC on inputs this short.
    keyed = hmac.HMAC(secret, algorithm)
    out = bytearray()
    a = seed
    while len(out) < length:
        h = keyed.copy()
        h.update(a)
        a = h.finalize()
        h = keyed.copy()
        h.update(a + seed)
        out += h.finalize()
    return bytes(out[:length])


def prf(algorithm: hashes.HashAlgorithm, secret: bytes, label: bytes, seed: bytes,
        length: int) -> bytes:
    """RFC 5246 §5: PRF(secret, label, seed) = P_<hash>(secret, label + seed)."""
    return p_hash(algorithm, secret, label + seed, length)


def master_secret(suite: CipherSuite, pre_master_secret: bytes, client_random: bytes,
                  server_random: bytes) -> bytes:
    """RFC 5246 §8.1."""
    return prf(suite.hash, pre_master_secret, b"master secret",
               client_random + server_random, MASTER_SECRET_LENGTH)


def extended_master_secret(suite: CipherSuite, pre_master_secret: bytes,
                           session_hash: bytes) -> bytes:
    """RFC 7627 §4: binds the master secret to the whole handshake transcript."""
    return prf(suite.hash, pre_master_secret, b"extended master secret", session_hash,
               MASTER_SECRET_LENGTH)


@dataclass(frozen=True)
class TrafficKeys:
    """One direction's AEAD key and IV (salt for GCM, full IV for ChaCha20)."""

    key: bytes
    iv: bytes


@dataclass(frozen=True)
class KeyBlock:
    client_write: TrafficKeys
    server_write: TrafficKeys


def key_block(suite: CipherSuite, master: bytes, client_random: bytes,
              server_random: bytes) -> KeyBlock:
    """RFC 5246 §6.3: note the seed order is server_random + client_random here.

    AEAD suites have no MAC keys (RFC 5246 §6.2.3.3), so the block is
    client_write_key, server_write_key, client_write_IV, server_write_IV.
    """
    k, iv = suite.key_length, suite.fixed_iv_length
    block = prf(suite.hash, master, b"key expansion", server_random + client_random,
                2 * k + 2 * iv)
    return KeyBlock(
        client_write=TrafficKeys(block[0:k], block[2 * k : 2 * k + iv]),
        server_write=TrafficKeys(block[k : 2 * k], block[2 * k + iv : 2 * k + 2 * iv]),
    )


def verify_data(suite: CipherSuite, master: bytes, finished_label: bytes,
                handshake_hash: bytes) -> bytes:
    """RFC 5246 §7.4.9: PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]."""
    return prf(suite.hash, master, finished_label, handshake_hash, VERIFY_DATA_LENGTH)


CLIENT_FINISHED_LABEL = b"client finished"
SERVER_FINISHED_LABEL = b"server finished"


class Transcript:
    """The running hash of every handshake message (RFC 5246 §7.4.9).

    The hash algorithm is only known once the suite is chosen, so the messages are
    kept; the first ``digest`` starts a running hash that later ``add`` calls feed,
    and each digest finalizes a copy.
    """

    def __init__(self) -> None:
        self._messages: list[bytes] = []
        self._running: hashes.Hash | None = None
        self._running_name = ""

    def add(self, message: bytes) -> None:
        self._messages.append(message)
        if self._running is not None:
            self._running.update(message)

    def digest(self, algorithm: hashes.HashAlgorithm) -> bytes:
        if self._running is None or self._running_name != algorithm.name:
            running = hashes.Hash(algorithm)
            for message in self._messages:
                running.update(message)
            self._running, self._running_name = running, algorithm.name
        return self._running.copy().finalize()

    def data(self) -> bytes:
        """Every handshake message so far, concatenated: what CertificateVerify signs
        in TLS 1.2 (RFC 5246 §7.4.8)."""
        return b"".join(self._messages)

    def __len__(self) -> int:
        return len(self._messages)
