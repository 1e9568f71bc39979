"""The TLS 1.2 key schedule (keyschedule.py): PRF vectors, and agreement with OpenSSL.

The PRF is the one primitive we write ourselves, so it is checked three ways: the
published P_SHA256 / P_SHA384 test vectors, OpenSSL's own TLS1-PRF on random inputs, and
the master secrets OpenSSL derives in real handshakes against our endpoints (read from
its NSS key log). The key block and verify_data are checked against what OpenSSL
actually puts on the wire.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from helpers import APPLICATION_DATA, OpenSSLPeer, Recorder, pump, split_records
from hypothesis import given, settings
from hypothesis import strategies as st

from handshake_game.tls import SecretDerived, suite_by_name
from handshake_game.tls.keyschedule import (
    CLIENT_FINISHED_LABEL,
    MASTER_SECRET_LENGTH,
    SERVER_FINISHED_LABEL,
    key_block,
    master_secret,
    prf,
    verify_data,
)

# The TLS 1.2 PRF test vectors published with the RFC 5246 errata discussions
# (www.ietf.org/mail-archive/web/tls/current/msg03416.html), as used by NSS and tlslite.
PRF_VECTORS = [
    pytest.param(
        hashes.SHA256(), "9bbe436ba940f017b17652849a71db35", "a0ba9f936cda311827a6f796ffd5198c",
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e"
        "14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5"
        "a72e5a5110fff70187347b66",
        id="P_SHA256",
    ),
    pytest.param(
        hashes.SHA384(), "b80b733d6ceefcdc71566ea48e5567df", "cd665cf6a8447dd6ff8b27555edb7465",
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b12"
        "33c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5f"
        "d4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3"
        "a26854308d5eaa3be85e0990703d73e56f",
        id="P_SHA384",
    ),
]


@pytest.mark.parametrize(("algorithm", "secret", "seed", "expected"), PRF_VECTORS)
def test_prf_known_answer(algorithm: hashes.HashAlgorithm, secret: str, seed: str,
                          expected: str) -> None:
    output = prf(algorithm, bytes.fromhex(secret), b"test label", bytes.fromhex(seed),
                 len(expected) // 2)
    assert output.hex() == expected


@pytest.mark.parametrize(("algorithm", "secret", "seed", "expected"), PRF_VECTORS)
def test_prf_shorter_output_is_a_prefix(algorithm: hashes.HashAlgorithm, secret: str, seed: str,
                                        expected: str) -> None:
    # Asking for fewer bytes (a 12-byte verify_data, a 48-byte master secret) must cut the
    # same stream, not start another one.
    for length in (1, 12, 31, 32, 33, 48, 64):
        output = prf(algorithm, bytes.fromhex(secret), b"test label", bytes.fromhex(seed), length)
        assert output.hex() == expected[: 2 * length]


# -- against OpenSSL's TLS1-PRF ------------------------------------------------------


def openssl_tls1_prf(digest: str, secret: bytes, label_and_seed: bytes, length: int) -> bytes:
    openssl = shutil.which("openssl")
    assert openssl is not None, "the openssl command line tool is required (apt-get install openssl)"
    result = subprocess.run(
        [openssl, "kdf", "-keylen", str(length), "-kdfopt", f"digest:{digest}",
         "-kdfopt", f"hexsecret:{secret.hex()}", "-kdfopt", f"hexseed:{label_and_seed.hex()}",
         "-binary", "TLS1-PRF"],
        capture_output=True, check=True, timeout=30,
    )
    return result.stdout


def test_openssl_tls1_prf_reproduces_the_published_vector() -> None:
    # The oracle itself is checked before it is trusted.
    assert openssl_tls1_prf(
        "SHA256", bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label" + bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"), 16,
    ).hex() == "e3f229ba727be17b8d122620557cd453"


@settings(max_examples=25, deadline=None)
@given(
    digest=st.sampled_from(["SHA256", "SHA384"]),
    secret=st.binary(min_size=1, max_size=80),
    label=st.sampled_from([b"master secret", b"key expansion", b"client finished",
                           b"server finished", b"extended master secret", b"x"]),
    seed=st.binary(min_size=1, max_size=96),
    length=st.integers(min_value=1, max_value=200),
)
def test_prf_matches_openssl(digest: str, secret: bytes, label: bytes, seed: bytes,
                             length: int) -> None:
    algorithm = hashes.SHA384() if digest == "SHA384" else hashes.SHA256()
    assert prf(algorithm, secret, label, seed, length) == openssl_tls1_prf(
        digest, secret, label + seed, length)


# -- against the secrets OpenSSL derives in real handshakes ---------------------------------

# OpenSSL 3.0's SSL_OP_NO_EXTENDED_MASTER_SECRET; the ssl module does not name it.
OP_NO_EXTENDED_MASTER_SECRET = 1 << 0

SUITES = ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384",
          "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]


def client_random_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("CLIENT_RANDOM ")]


def secret(recorder: Recorder, name: str) -> bytes:
    values = [e.value for e in recorder.of(SecretDerived) if e.name == name]
    assert len(values) == 1, f"expected one {name}, got {len(values)}"
    return values[0]


@pytest.mark.parametrize("ems", [True, False], ids=["extended_master_secret", "classic"])
@pytest.mark.parametrize("suite", SUITES)
def test_our_client_derives_the_master_secret_openssl_derives(
        suite: str, ems: bool, tmp_path: Path, make_client, openssl_server_context) -> None:
    ctx = openssl_server_context(suite_by_name(suite).openssl_name)
    ctx.keylog_filename = str(tmp_path / "openssl.keylog")
    server = OpenSSLPeer(ctx, server_side=True)
    client = make_client(cipher_suites=(suite,), offer_extended_master_secret=ems)
    events = Recorder(client)
    client.start()
    pump(client, server)

    assert events.completed is not None and server.error is None
    assert events.completed.extended_master_secret is ems
    openssl_lines = client_random_lines(tmp_path / "openssl.keylog")
    assert openssl_lines == client.keylog_lines()
    assert len(bytes.fromhex(openssl_lines[0].split()[2])) == MASTER_SECRET_LENGTH
    # tls-unique (RFC 5929 §3.1) is the first Finished of the handshake: the client's.
    assert server.ssl.get_channel_binding("tls-unique") == secret(events, "client_verify_data")


@pytest.mark.parametrize("ems", [True, False], ids=["extended_master_secret", "classic"])
@pytest.mark.parametrize("suite", SUITES)
def test_our_server_derives_the_master_secret_openssl_derives(
        suite: str, ems: bool, tmp_path: Path, make_server, openssl_client_context) -> None:
    ctx = openssl_client_context(suite_by_name(suite).openssl_name)
    ctx.keylog_filename = str(tmp_path / "openssl.keylog")
    if not ems:
        ctx.options |= OP_NO_EXTENDED_MASTER_SECRET
    client = OpenSSLPeer(ctx, server_side=False, server_hostname="localhost")
    server = make_server(cipher_suites=(suite,))
    events = Recorder(server)
    client.start()
    pump(client, server)

    assert client.error is None and events.completed is not None
    assert events.completed.extended_master_secret is ems
    assert client_random_lines(tmp_path / "openssl.keylog") == server.keylog_lines()
    received_finished = events.received_raw("Finished")[0]
    assert client.ssl.get_channel_binding("tls-unique") == received_finished[4:]


def open_record_independently(suite_name: str, key: bytes, iv: bytes, sequence_number: int,
                              content_type: int, version: int, fragment: bytes) -> bytes:
    """RFC 5288 §3 / RFC 7905 §2 nonces and RFC 5246 §6.2.3.3 AAD, built from scratch."""
    suite = suite_by_name(suite_name)
    seq = sequence_number.to_bytes(8, "big")
    if suite.aead == "CHACHA20-POLY1305":
        nonce = (int.from_bytes(iv, "big") ^ sequence_number).to_bytes(12, "big")
        aead: AESGCM | ChaCha20Poly1305 = ChaCha20Poly1305(key)
        body = fragment
    else:
        nonce, body = iv + fragment[:8], fragment[8:]
        aead = AESGCM(key)
    aad = seq + struct.pack("!BHH", content_type, version, len(body) - 16)
    return aead.decrypt(nonce, body, aad)


@pytest.mark.parametrize("suite", SUITES)
def test_key_block_from_openssls_master_secret_opens_openssls_records(
        suite: str, tmp_path: Path, make_client, openssl_server_context) -> None:
    ctx = openssl_server_context(suite_by_name(suite).openssl_name)
    ctx.keylog_filename = str(tmp_path / "openssl.keylog")
    server = OpenSSLPeer(ctx, server_side=True)
    client = make_client(cipher_suites=(suite,))
    client.start()
    pump(client, server)
    assert server.handshake_done

    _, client_random, master = client_random_lines(tmp_path / "openssl.keylog")[0].split()
    server.write(b"sent by OpenSSL")
    records = split_records(server.data_to_send())
    assert [r.content_type for r in records] == [APPLICATION_DATA]
    # The server's Finished was its record 0 under these keys; this is record 1.
    keys = key_block(suite_by_name(suite), bytes.fromhex(master), bytes.fromhex(client_random),
                     client.server_random)
    plaintext = open_record_independently(suite, keys.server_write.key, keys.server_write.iv, 1,
                                          APPLICATION_DATA, records[0].version, records[0].fragment)
    assert plaintext == b"sent by OpenSSL"


@pytest.mark.parametrize("suite", SUITES)
def test_derivations_from_the_events_recompute(suite: str, make_client, make_server) -> None:
    # What the endpoints report they derived is what the RFC formulas give.
    client = make_client(cipher_suites=(suite,), offer_extended_master_secret=False)
    server = make_server()
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert events.completed is not None
    cipher_suite = suite_by_name(suite)
    pre_master = secret(events, "pre_master_secret")
    master = master_secret(cipher_suite, pre_master, client.client_random, client.server_random)
    assert master == secret(events, "master_secret") == server.master_secret
    keys = key_block(cipher_suite, master, client.client_random, client.server_random)
    assert keys.client_write.key == secret(events, "client_write_key")
    assert keys.server_write.iv == secret(events, "server_write_iv")
    assert len(keys.client_write.key) == cipher_suite.key_length
    assert len(keys.client_write.iv) == cipher_suite.fixed_iv_length
    # RFC 5246 §6.3: client key, server key, client IV, server IV — in that order.
    block = prf(cipher_suite.hash, master, b"key expansion",
                client.server_random + client.client_random,
                2 * cipher_suite.key_length + 2 * cipher_suite.fixed_iv_length)
    assert block == (keys.client_write.key + keys.server_write.key + keys.client_write.iv
                     + keys.server_write.iv)


def test_verify_data_labels_differ_by_direction() -> None:
    suite = suite_by_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    master, transcript_hash = bytes(range(48)), bytes(32)
    client_side = verify_data(suite, master, CLIENT_FINISHED_LABEL, transcript_hash)
    server_side = verify_data(suite, master, SERVER_FINISHED_LABEL, transcript_hash)
    assert len(client_side) == len(server_side) == 12
    assert client_side != server_side
    assert client_side == prf(hashes.SHA256(), master, b"client finished", transcript_hash, 12)
