"""Handshake messages (messages.py): byte-exact encode/decode, dissection, and fuzzing.

Three sources of bytes: messages built here, the RFC 8448 §3 hellos (published bytes),
and messages captured from OpenSSL in memory — ClientHello, ServerHello, Certificate,
ServerKeyExchange, CertificateRequest, ServerHelloDone, a client's Certificate,
ClientKeyExchange and CertificateVerify, and both Finished messages.
"""

from __future__ import annotations

import json
import ssl

import pytest
from helpers import (
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    OpenSSLPeer,
    Recorder,
    pump,
    split_handshake_messages,
    split_records,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handshake_game.tls import Alert, DecodeError, Field, KeyExchange, suite_by_name
from handshake_game.tls.messages import (
    AlertMessage,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ChangeCipherSpec,
    ClientHello,
    ClientKeyExchange,
    Extension,
    ExtensionType,
    Finished,
    HandshakeType,
    HelloRequest,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    decode_handshake,
    dissect_handshake,
    ec_point_formats_extension,
    encode_handshake,
    extended_master_secret_extension,
    renegotiation_info_extension,
    server_name_extension,
    signature_algorithms_extension,
    supported_groups_extension,
)

# RFC 8448 §3 (Simple 1-RTT Handshake): TLS 1.3 hellos keep the TLS 1.2 structure.
RFC8448_CLIENT_HELLO = bytes.fromhex(
    "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece70000061301130313"
    "02010000910000000b0009000006736572766572ff01000100000a00140012001d00170018001901000101010201"
    "03010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e52"
    "9aaf2c002b0003020304000d0020001e04030503060302030804080508060401050106010201040205020602020200"
    "2d00020101001c00024001"
)
RFC8448_SERVER_HELLO = bytes.fromhex(
    "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e0033"
    "0024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304"
)

RANDOM = bytes(range(32))


def sample_messages(der: bytes, ca_der: bytes) -> dict[str, tuple[object, KeyExchange | None]]:
    """One of every message type (and the interesting variants), built field by field."""
    return {
        "ClientHello": (ClientHello(0x0303, RANDOM, b"", (0xC02F, 0x009C, 0x00FF), b"\x00", (
            server_name_extension("localhost"),
            supported_groups_extension((29, 23)),
            ec_point_formats_extension(),
            signature_algorithms_extension((0x0804, 0x0401)),
            extended_master_secret_extension(),
            renegotiation_info_extension(),
            Extension(0x1234, b"\x01\x02\x03"),  # unknown: kept as raw bytes
        )), None),
        "ClientHello-session_id-no_extensions": (
            ClientHello(0x0303, RANDOM, bytes(32), (0x009C,), b"\x01\x00", None), None),
        "ServerHello": (ServerHello(0x0303, RANDOM, b"\x07" * 32, 0xC030, 0, (
            renegotiation_info_extension(), extended_master_secret_extension(),
            ec_point_formats_extension())), None),
        "ServerHello-no_extensions": (ServerHello(0x0303, RANDOM, b"", 0x009D, 0, None), None),
        "Certificate": (Certificate((der, ca_der)), None),
        "Certificate-empty": (Certificate(()), None),
        "ServerKeyExchange-x25519": (ServerKeyExchange(29, b"\x09" * 32, 0x0804, b"\x5a" * 256), None),
        "ServerKeyExchange-secp256r1": (
            ServerKeyExchange(23, b"\x04" + b"\x11" * 64, 0x0403, b"\x30" * 71), None),
        "CertificateRequest": (CertificateRequest(b"\x01\x40", (0x0804, 0x0403), (b"\x30\x00",)), None),
        "ServerHelloDone": (ServerHelloDone(), None),
        "HelloRequest": (HelloRequest(), None),
        "ClientKeyExchange-RSA": (ClientKeyExchange(KeyExchange.RSA, b"\xee" * 256), KeyExchange.RSA),
        "ClientKeyExchange-ECDHE": (
            ClientKeyExchange(KeyExchange.ECDHE, b"\x42" * 32), KeyExchange.ECDHE),
        "CertificateVerify": (CertificateVerify(0x0401, b"\x99" * 256), None),
        "Finished": (Finished(b"\xab" * 12), None),
    }


@pytest.fixture(scope="module")
def samples(rsa_server, root_ca) -> dict[str, tuple[object, KeyExchange | None]]:
    from cryptography.hazmat.primitives.serialization import Encoding

    return sample_messages(rsa_server.chain[0], root_ca.certificate.public_bytes(Encoding.DER))


SAMPLE_NAMES = list(sample_messages(b"\x30", b"\x30"))


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_message_round_trips(name: str, samples) -> None:
    message, kx = samples[name]
    raw = encode_handshake(message)
    assert raw[0] == message.handshake_type
    assert int.from_bytes(raw[1:4], "big") == len(raw) - 4
    decoded = decode_handshake(raw, kx)
    assert decoded == message
    assert encode_handshake(decoded) == raw


def test_known_encodings() -> None:
    """Byte-exact encodings that follow directly from RFC 5246, 6066, 7627, 8422 and 5746."""
    assert encode_handshake(ServerHelloDone()) == bytes.fromhex("0e000000")
    assert encode_handshake(HelloRequest()) == bytes.fromhex("00000000")
    assert encode_handshake(Finished(bytes(12))) == bytes.fromhex("1400000c") + bytes(12)
    assert encode_handshake(ClientKeyExchange(KeyExchange.ECDHE, b"\x01\x02")) == bytes.fromhex(
        "1000000302" "0102")
    assert encode_handshake(ClientKeyExchange(KeyExchange.RSA, b"\x01\x02")) == bytes.fromhex(
        "100000040002" "0102")
    assert ServerKeyExchange(29, b"\xaa" * 2, 0x0804, b"\xbb").body() == bytes.fromhex(
        "03001d02aaaa" "0804" "0001bb")
    assert server_name_extension("localhost") == Extension(
        0, bytes.fromhex("000c0000096c6f63616c686f7374"))
    assert supported_groups_extension((29, 23)) == Extension(10, bytes.fromhex("0004001d0017"))
    assert ec_point_formats_extension() == Extension(11, b"\x01\x00")
    assert signature_algorithms_extension((0x0804,)) == Extension(13, bytes.fromhex("00020804"))
    assert extended_master_secret_extension() == Extension(23, b"")
    assert renegotiation_info_extension() == Extension(0xFF01, b"\x00")
    assert ChangeCipherSpec().encode() == b"\x01"
    assert ChangeCipherSpec.decode(b"\x01") == ChangeCipherSpec()
    assert AlertMessage(2, 40).encode() == b"\x02\x28"
    assert AlertMessage.decode(b"\x01\x00") == AlertMessage(1, 0)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x01\x01", b"\x02"])
def test_change_cipher_spec_must_be_the_byte_one(data: bytes) -> None:
    with pytest.raises(DecodeError):
        ChangeCipherSpec.decode(data)


@pytest.mark.parametrize("data", [b"", b"\x02", b"\x02\x28\x00"])
def test_alert_must_be_two_bytes(data: bytes) -> None:
    with pytest.raises(DecodeError):
        AlertMessage.decode(data)


def test_rfc8448_hellos_decode_and_reencode_byte_exact() -> None:
    hello = decode_handshake(RFC8448_CLIENT_HELLO)
    assert isinstance(hello, ClientHello)
    assert hello.cipher_suites == (0x1301, 0x1303, 0x1302)
    assert hello.random.hex().startswith("cb34ecb1e78163ba")
    assert hello.extension(ExtensionType.server_name) == bytes.fromhex("0009000006736572766572")
    assert [e.type for e in hello.extensions or ()] == [0, 0xFF01, 10, 35, 51, 43, 13, 45, 28]
    assert encode_handshake(hello) == RFC8448_CLIENT_HELLO

    server_hello = decode_handshake(RFC8448_SERVER_HELLO)
    assert isinstance(server_hello, ServerHello)
    assert server_hello.cipher_suite == 0x1301
    assert server_hello.extension(ExtensionType.supported_versions) == b"\x03\x04"
    assert encode_handshake(server_hello) == RFC8448_SERVER_HELLO


# -- messages captured from OpenSSL ---------------------------------------------------------


def plaintext_flights(client: OpenSSLPeer, server) -> dict[str, list[bytes]]:
    """Runs a handshake and returns each direction's handshake messages sent in the clear."""
    captured = {"c2s": bytearray(), "s2c": bytearray()}
    encrypted = {"c2s": False, "s2c": False}

    def tap(direction: str, data: bytes) -> bytes:
        for record in split_records(data):
            if record.content_type == CHANGE_CIPHER_SPEC:
                encrypted[direction] = True
            elif record.content_type == HANDSHAKE and not encrypted[direction]:
                captured[direction] += record.fragment
        return data

    client.start()
    pump(client, server, tap)
    return {d: split_handshake_messages(bytes(m)) for d, m in captured.items()}


Capture = tuple[bytes, KeyExchange | None]


@pytest.fixture(scope="module")
def openssl_captures(rsa_server, openssl_server_context, openssl_client_context, make_client,
                     make_server) -> dict[str, Capture]:
    captures: dict[str, Capture] = {}

    # OpenSSL to OpenSSL, ECDHE, with client authentication: every plaintext message.
    server_ctx = openssl_server_context("ECDHE-RSA-AES128-GCM-SHA256")
    server_ctx.verify_mode = ssl.CERT_OPTIONAL
    client_ctx = openssl_client_context("ECDHE-RSA-AES128-GCM-SHA256")
    client_ctx.load_cert_chain(rsa_server.cert_pem, rsa_server.key_pem)
    flights = plaintext_flights(OpenSSLPeer(client_ctx, server_side=False, server_hostname="localhost"),
                                OpenSSLPeer(server_ctx, server_side=True))
    names = {"c2s": ["ClientHello", "client-Certificate", "ClientKeyExchange-ECDHE",
                     "CertificateVerify"],
             "s2c": ["ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest",
                     "ServerHelloDone"]}
    for direction, messages in flights.items():
        assert len(messages) == len(names[direction]), [m[0] for m in messages]
        for name, raw in zip(names[direction], messages, strict=True):
            kx = KeyExchange.ECDHE if name.startswith("ClientKeyExchange") else None
            captures[name] = (raw, kx)

    # A TLS 1.3-capable OpenSSL client's hello (key_share, supported_versions, psk modes…).
    modern = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    modern_client = OpenSSLPeer(modern, server_side=False, server_hostname="localhost")
    modern_client.start()
    (record,) = split_records(modern_client.data_to_send())
    captures["ClientHello-tls13-capable"] = (record.fragment, None)

    # OpenSSL against our endpoints: RSA key exchange, secp256r1, and both Finished messages.
    client = make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",),
                         groups=(23,))
    events = Recorder(client)
    client.start()
    pump(client, OpenSSLPeer(openssl_server_context("ECDHE-RSA-AES256-GCM-SHA384"), server_side=True))
    captures["ServerKeyExchange-secp256r1"] = (events.received_raw("ServerKeyExchange")[0], None)
    captures["server-Finished"] = (events.received_raw("Finished")[0], None)

    server = make_server()
    events = Recorder(server)
    openssl_client = OpenSSLPeer(openssl_client_context("AES128-GCM-SHA256"), server_side=False,
                                 server_hostname="localhost")
    openssl_client.start()
    pump(openssl_client, server)
    captures["ClientKeyExchange-RSA"] = (events.received_raw("ClientKeyExchange")[0], KeyExchange.RSA)
    captures["client-Finished"] = (events.received_raw("Finished")[0], None)
    return captures


CAPTURE_NAMES = ["ClientHello", "ClientHello-tls13-capable", "ServerHello", "Certificate",
                 "ServerKeyExchange", "ServerKeyExchange-secp256r1", "CertificateRequest",
                 "ServerHelloDone", "client-Certificate", "ClientKeyExchange-ECDHE",
                 "ClientKeyExchange-RSA", "CertificateVerify", "client-Finished", "server-Finished"]

CAPTURE_TYPES = {
    "ClientHello": ClientHello, "ServerHello": ServerHello, "Certificate": Certificate,
    "ServerKeyExchange": ServerKeyExchange, "CertificateRequest": CertificateRequest,
    "ServerHelloDone": ServerHelloDone, "ClientKeyExchange": ClientKeyExchange,
    "CertificateVerify": CertificateVerify, "Finished": Finished,
}


def capture_type(name: str) -> type:
    base = name.removeprefix("client-").removeprefix("server-").split("-")[0]
    return CAPTURE_TYPES[base]


@pytest.mark.parametrize("name", CAPTURE_NAMES)
def test_openssl_messages_decode_and_reencode_byte_exact(name: str, openssl_captures) -> None:
    raw, kx = openssl_captures[name]
    message = decode_handshake(raw, kx)
    assert type(message) is capture_type(name)
    assert encode_handshake(message) == raw


def test_openssl_messages_carry_what_was_negotiated(openssl_captures, rsa_server) -> None:
    hello = decode_handshake(openssl_captures["ClientHello"][0])
    assert isinstance(hello, ClientHello)
    assert hello.client_version == 0x0303
    assert suite_by_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").code in hello.cipher_suites
    assert hello.extension(ExtensionType.server_name) == server_name_extension("localhost").data
    assert hello.extension(ExtensionType.extended_master_secret) == b""

    certificate = decode_handshake(openssl_captures["Certificate"][0])
    assert isinstance(certificate, Certificate)
    assert certificate.certificate_list == rsa_server.chain
    client_certificate = decode_handshake(openssl_captures["client-Certificate"][0])
    assert isinstance(client_certificate, Certificate)
    # OpenSSL completes the client's chain from its trust store: leaf, then the root.
    assert client_certificate.certificate_list[0] == rsa_server.chain[0]

    key_exchange = decode_handshake(openssl_captures["ServerKeyExchange"][0])
    assert isinstance(key_exchange, ServerKeyExchange)
    assert key_exchange.named_curve == 29 and len(key_exchange.public) == 32
    p256 = decode_handshake(openssl_captures["ServerKeyExchange-secp256r1"][0])
    assert isinstance(p256, ServerKeyExchange)
    assert p256.named_curve == 23 and len(p256.public) == 65 and p256.public[0] == 4

    rsa_exchange = decode_handshake(*openssl_captures["ClientKeyExchange-RSA"])
    assert isinstance(rsa_exchange, ClientKeyExchange)
    assert len(rsa_exchange.exchange_keys) == 256  # a 2048-bit RSA ciphertext
    for finished in ("client-Finished", "server-Finished"):
        message = decode_handshake(openssl_captures[finished][0])
        assert isinstance(message, Finished) and len(message.verify_data) == 12

    modern = decode_handshake(openssl_captures["ClientHello-tls13-capable"][0])
    assert isinstance(modern, ClientHello)
    assert modern.extension(ExtensionType.supported_versions) is not None
    assert modern.extension(ExtensionType.key_share) is not None


# -- dissection -----------------------------------------------------------------------------


def assert_tiles(field: Field, raw: bytes, base: int = 0) -> None:
    """Every group's children cover its bytes exactly, after the group's length prefix."""
    assert field.length >= 0
    if not field.children:
        return
    children = field.children
    prefix = children[0].offset - field.offset
    assert prefix in (0, 1, 2, 3), f"{field.name}: children start {prefix} bytes in"
    if prefix:
        length = int.from_bytes(raw[field.offset - base : children[0].offset - base], "big")
        assert length == field.length - prefix, f"{field.name}: prefix says {length}"
    for before, after in zip(children, children[1:], strict=False):
        assert before.offset + before.length == after.offset, f"gap or overlap at {after.name}"
    assert children[-1].offset + children[-1].length == field.offset + field.length, (
        f"{field.name}: children end early")
    for child in children:
        assert_tiles(child, raw, base)


def all_raw_messages(samples, openssl_captures) -> list[tuple[str, bytes, KeyExchange | None]]:
    ours = [(name, encode_handshake(m), kx) for name, (m, kx) in samples.items()]
    theirs = [(f"openssl {name}", raw, kx) for name, (raw, kx) in openssl_captures.items()]
    return ours + theirs + [("rfc8448 ClientHello", RFC8448_CLIENT_HELLO, None),
                            ("rfc8448 ServerHello", RFC8448_SERVER_HELLO, None)]


def test_dissection_tiles_every_message(samples, openssl_captures) -> None:
    for name, raw, kx in all_raw_messages(samples, openssl_captures):
        tree = dissect_handshake(raw, kx)
        assert (tree.offset, tree.length) == (0, len(raw)), name
        assert tree.children[0].name == "msg_type" and tree.children[1].name == "body", name
        assert_tiles(tree, raw)
        json.dumps(tree.to_dict())  # the byte inspector ships it as JSON


def test_dissection_offsets_follow_base_offset(openssl_captures) -> None:
    raw, _ = openssl_captures["ClientHello"]
    plain = [(f.name, f.offset, f.length) for _, f in dissect_handshake(raw).walk()]
    shifted = [(f.name, f.offset - 5, f.length)
               for _, f in dissect_handshake(raw, base_offset=5).walk()]
    assert shifted == plain


def field_bytes(raw: bytes, field: Field) -> bytes:
    return raw[field.offset : field.offset + field.length]


def find(tree: Field, name: str) -> Field:
    found = tree.find(name)
    assert found is not None, f"no field {name} in {tree.name}"
    return found


def test_client_hello_fields_sit_at_their_offsets(openssl_captures) -> None:
    raw, _ = openssl_captures["ClientHello"]
    hello = decode_handshake(raw)
    assert isinstance(hello, ClientHello)
    tree = dissect_handshake(raw)
    assert tree.name == "client_hello"
    assert field_bytes(raw, find(tree, "msg_type")) == b"\x01"
    version = find(tree, "client_version")
    assert (version.offset, version.length) == (4, 2) and "0x0303" in version.value
    client_random = find(tree, "random")
    assert (client_random.offset, client_random.length) == (6, 32)
    assert client_random.value == hello.random.hex() == field_bytes(raw, client_random).hex()
    session_id = find(tree, "session_id")
    assert session_id.offset == 38 and session_id.length == 1 + len(hello.session_id)
    suites = find(tree, "cipher_suites")
    assert suites.offset == 38 + session_id.length
    codes = [int.from_bytes(field_bytes(raw, f), "big") for f in suites.children]
    assert tuple(codes) == hello.cipher_suites
    ecdhe_aes128 = next(f for f in suites.children if "TLS_ECDHE_RSA_WITH_AES_128_GCM" in f.value)
    assert field_bytes(raw, ecdhe_aes128) == b"\xc0\x2f"
    host_name = find(tree, "host_name")
    assert field_bytes(raw, host_name) == b"\x00\x09localhost"
    assert find(tree, "server_name_list").value == "localhost"


def test_server_messages_fields_sit_at_their_offsets(openssl_captures) -> None:
    raw, _ = openssl_captures["ServerHello"]
    hello = decode_handshake(raw)
    assert isinstance(hello, ServerHello)
    tree = dissect_handshake(raw)
    server_random = find(tree, "random")
    assert (server_random.offset, server_random.length) == (6, 32)
    assert field_bytes(raw, server_random) == hello.random
    suite = find(tree, "cipher_suite")
    assert suite.offset == 4 + 2 + 32 + 1 + len(hello.session_id) and suite.length == 2
    assert suite.value == "0xc02f (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"

    raw, _ = openssl_captures["ServerKeyExchange"]
    exchange = decode_handshake(raw)
    assert isinstance(exchange, ServerKeyExchange)
    tree = dissect_handshake(raw)
    assert field_bytes(raw, find(tree, "named_curve")) == b"\x00\x1d"
    assert "x25519" in find(tree, "named_curve").value
    public = find(tree, "public")
    assert (public.offset, public.length) == (7, 33)
    assert field_bytes(raw, public) == b"\x20" + exchange.public
    assert find(tree, "params").length == 4 + len(exchange.public)  # what the signature covers
    signature = find(tree, "signature")
    assert field_bytes(raw, signature)[2:] == exchange.signature
    assert signature.offset + signature.length == len(raw)

    raw, _ = openssl_captures["Certificate"]
    certificate = find(dissect_handshake(raw), "ASN.1Cert")
    assert certificate.offset == 7
    assert field_bytes(raw, certificate)[3:] == decode_handshake(raw).certificate_list[0]


@pytest.mark.parametrize("name", ["client-Finished", "server-Finished"])
def test_finished_verify_data_field(name: str, openssl_captures) -> None:
    raw, _ = openssl_captures[name]
    verify_data = find(dissect_handshake(raw), "verify_data")
    assert (verify_data.offset, verify_data.length) == (4, 12)
    assert verify_data.value == raw[4:].hex()


@pytest.mark.parametrize(("name", "field_name", "prefix"), [
    ("ClientKeyExchange-RSA", "EncryptedPreMasterSecret", 2),
    ("ClientKeyExchange-ECDHE", "ecdh_Yc", 1),
])
def test_client_key_exchange_field(name: str, field_name: str, prefix: int, openssl_captures) -> None:
    raw, kx = openssl_captures[name]
    exchange = decode_handshake(raw, kx)
    assert isinstance(exchange, ClientKeyExchange)
    found = find(dissect_handshake(raw, kx), field_name)
    assert found.offset == 4 and found.length == len(raw) - 4
    assert field_bytes(raw, found)[prefix:] == exchange.exchange_keys


def test_client_key_exchange_needs_the_key_exchange(openssl_captures) -> None:
    raw, _ = openssl_captures["ClientKeyExchange-RSA"]
    with pytest.raises(DecodeError):
        decode_handshake(raw)
    # The same bytes read as an ECDH share have the wrong length prefix.
    with pytest.raises(DecodeError):
        decode_handshake(raw, KeyExchange.ECDHE)


@pytest.mark.parametrize(("raw", "why"), [
    (bytes.fromhex("0e00000100"), "ServerHelloDone with a body"),
    (bytes.fromhex("14000000"), "empty Finished"),
    (bytes.fromhex("0100000200"), "ClientHello cut short"),
    (bytes.fromhex("0e000001"), "header promises a byte that is missing"),
    (bytes.fromhex("0e0000"), "truncated header"),
    (bytes.fromhex("63000000"), "unknown message type"),
    (bytes.fromhex("0c000005" "01" "001d" "0100"), "explicit curve (curve_type 1)"),
    (bytes.fromhex("0b000003000000") + b"\x00", "trailing byte after Certificate"),
])
def test_malformed_messages_raise_decode_error(raw: bytes, why: str) -> None:
    with pytest.raises(DecodeError):
        decode_handshake(raw)
    with pytest.raises(DecodeError):
        dissect_handshake(raw)


def test_client_hello_decode_rules(samples) -> None:
    hello, _ = samples["ClientHello"]
    duplicated = ClientHello(0x0303, RANDOM, b"", (0x009C,), b"\x00",
                             (extended_master_secret_extension(), extended_master_secret_extension()))
    with pytest.raises(DecodeError, match="twice"):
        decode_handshake(encode_handshake(duplicated))
    long_session = ClientHello(0x0303, RANDOM, bytes(33), (0x009C,), b"\x00", ())
    with pytest.raises(DecodeError):
        decode_handshake(encode_handshake(long_session))
    no_suites = ClientHello(0x0303, RANDOM, b"", (), b"\x00", ())
    with pytest.raises(DecodeError):
        decode_handshake(encode_handshake(no_suites))
    no_compression = ClientHello(0x0303, RANDOM, b"", (0x009C,), b"", ())
    with pytest.raises(DecodeError):
        decode_handshake(encode_handshake(no_compression))


# -- fuzzing: bad input raises the engine's own error, nothing else ------------------------

KEY_EXCHANGES = st.sampled_from([None, KeyExchange.RSA, KeyExchange.ECDHE])


def decode_both_ways(raw: bytes, kx: KeyExchange | None) -> None:
    """Decode and dissect agree on success; on success the bytes re-encode exactly."""
    try:
        message = decode_handshake(raw, kx)
    except Alert:
        with pytest.raises(Alert):
            dissect_handshake(raw, kx)
        return
    assert encode_handshake(message) == raw
    tree = dissect_handshake(raw, kx)
    assert_tiles(tree, raw)


@settings(max_examples=300)
@given(raw=st.binary(max_size=200), kx=KEY_EXCHANGES)
def test_random_bytes_only_raise_decode_errors(raw: bytes, kx: KeyExchange | None) -> None:
    decode_both_ways(raw, kx)


@settings(max_examples=300)
@given(msg_type=st.sampled_from(list(HandshakeType)), body=st.binary(max_size=120),
       kx=KEY_EXCHANGES)
def test_random_bodies_only_raise_decode_errors(msg_type: int, body: bytes,
                                                kx: KeyExchange | None) -> None:
    # A well-formed header gets the fuzzer into every message's own decoder.
    decode_both_ways(bytes([msg_type]) + len(body).to_bytes(3, "big") + body, kx)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_messages_only_raise_decode_errors(data: st.DataObject, samples,
                                                   openssl_captures) -> None:
    corpus = all_raw_messages(samples, openssl_captures)
    _, raw, kx = data.draw(st.sampled_from(corpus))
    mutated = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if action == "flip" and mutated:
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "set" and mutated:
            mutated[position] = data.draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]))
        elif action == "insert":
            mutated.insert(position, data.draw(st.integers(0, 255)))
        elif mutated:
            del mutated[position]
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    if data.draw(st.booleans()) and len(mutated) >= 4:
        # Keep the outer length consistent so the damage is found inside the body.
        mutated[1:4] = (len(mutated) - 4).to_bytes(3, "big")
    decode_both_ways(bytes(mutated), data.draw(st.sampled_from([kx, KeyExchange.RSA,
                                                                KeyExchange.ECDHE])))


@settings(max_examples=100)
@given(data=st.data())
def test_truncated_messages_raise_decode_error(data: st.DataObject, samples, openssl_captures) -> None:
    _, raw, kx = data.draw(st.sampled_from(all_raw_messages(samples, openssl_captures)))
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(DecodeError):
        decode_handshake(raw[:cut], kx)
