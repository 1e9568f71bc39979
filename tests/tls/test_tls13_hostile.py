"""A hostile peer against our TLS 1.3 client and server (RFC 8446).

The peer here holds the keys: it takes the genuine messages the other endpoint sent
(from its ``HandshakeMessageSent`` events), reorders, edits or replaces them, and seals
each record with the very keys the victim reads with, so what reaches the handshake
logic is exactly what the test chose. Every test checks the alert RFC 8446 calls for,
that nothing but an alert leaves ``receive_data``, and that the victim ends in ERROR.
"""

from __future__ import annotations

import dataclasses
import random
import struct
from collections.abc import Callable
from typing import Any

import pytest
from helpers import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    Recorder,
    WireRecord,
    handshake_record,
    join_records,
    pump,
    split_handshake_messages,
    split_records,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handshake_game.tls import (
    AlertDescription,
    ClientState,
    HandshakeMessageReceived,
    HandshakeMessageSent,
    NamedGroup,
    ServerState,
    pki,
)
from handshake_game.tls.keyschedule13 import traffic_keys
from handshake_game.tls.messages import (
    HELLO_RETRY_REQUEST_RANDOM,
    Certificate13,
    CertificateRequest13,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    Extension,
    ExtensionType,
    Finished,
    KeyUpdate,
    NewSessionTicket13,
    ServerHello,
    decode_handshake,
    dissect_handshake,
    encode_handshake,
    key_share_client_extension,
    key_share_retry_extension,
    key_share_server_extension,
    selected_version_extension,
    signature_algorithms_extension,
)
from handshake_game.tls.record import RecordProtection13
from handshake_game.tls.server import ClientAuthentication
from handshake_game.tls.suites import SignatureScheme

D = AlertDescription
TLS13 = 0x0304
SUITE = "TLS_AES_128_GCM_SHA256"
EE, CERT, CR, CV, FIN, KU, NST, EOED = 8, 11, 13, 15, 20, 24, 4, 5


def rng(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def new_client(make_client, seed: int = 1, **config: Any):
    config.setdefault("cipher_suites", (SUITE,))
    return make_client(rng=rng(seed), **config)


def new_server(make_server, seed: int = 2, **config: Any):
    return make_server(rng=rng(seed), **config)


def handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def seal_for(endpoint: Any, inner: bytes, *, flip: int | None = None, length: int | None = None) -> bytes:
    """One record sealed with the keys ``endpoint`` reads with, at its next sequence number.

    ``inner`` is the whole TLSInnerPlaintext: content, content type, zero padding.
    """
    protection = endpoint._records.read_protection
    assert isinstance(protection, RecordProtection13)
    header = struct.pack("!BHH", APPLICATION_DATA, 0x0303, len(inner) + 16 if length is None else length)
    sealed = bytearray(protection._aead.encrypt(protection._nonce(), inner, header))
    if flip is not None:
        sealed[flip] ^= 0x01
    return header + bytes(sealed)


def feed_sealed(endpoint: Any, content_type: int, content: bytes, padding: int = 0) -> None:
    endpoint.receive_data(seal_for(endpoint, content + bytes([content_type]) + bytes(padding)))


def outcome(endpoint: Any, events: Recorder) -> list[int]:
    """The alerts sent; also checks the endpoint is in ERROR exactly when it sent a fatal alert."""
    sent = events.alerts_sent
    error = endpoint.state in (ClientState.CLIENT_ERROR, ServerState.SERVER_ERROR)
    assert error == bool(sent or endpoint.peer_alert), (endpoint.state, sent)
    return sent


# -- the victim client: the server's flight, as the hostile server chooses it ----------------------


@dataclasses.dataclass
class ServerSide:
    """A genuine server's first flight, held back so the test can replace its messages."""

    client: Any
    server: Any
    events: Recorder
    hello_records: list[WireRecord]  # ServerHello and the compatibility CCS, in the clear
    flight: dict[int, bytes]  # the genuine encrypted messages by type

    def deliver_hello(self) -> None:
        self.client.receive_data(join_records(self.hello_records))
        assert self.client.state is ClientState.CLIENT_EXPECT_ENCRYPTED_EXTENSIONS

    def send(self, *messages: bytes) -> list[int]:
        for raw in messages:
            feed_sealed(self.client, HANDSHAKE, raw)
        return outcome(self.client, self.events)


def server_side(make_client, make_server, client_config: dict[str, Any] | None = None,
                **server_config: Any) -> ServerSide:
    client = new_client(make_client, **(client_config or {}))
    server = new_server(make_server, **server_config)
    events, server_events = Recorder(client), Recorder(server)
    client.start()
    server.receive_data(client.data_to_send())
    records = split_records(server.data_to_send())
    hello_records = [r for r in records if r.content_type != APPLICATION_DATA]
    flight = {raw[0]: raw for raw in sent(server_events)}
    return ServerSide(client, server, events, hello_records, flight)


def sent(events: Recorder) -> list[bytes]:
    """Every handshake message the endpoint sent so far, as raw bytes."""
    return [e.raw for e in events.of(HandshakeMessageSent)]


@pytest.fixture
def hostile_server(make_client, make_server) -> ServerSide:
    side = server_side(make_client, make_server)
    side.deliver_hello()
    return side


OUT_OF_ORDER_TO_CLIENT = {
    "Finished first": [FIN],
    "Certificate skipped": [EE, CV, FIN],
    "CertificateVerify skipped": [EE, CERT, FIN],
    "Certificate before EncryptedExtensions": [CERT],
    "EncryptedExtensions twice": [EE, EE],
    "Certificate twice": [EE, CERT, CERT],
    "CertificateVerify twice": [EE, CERT, CV, CV],
    "CertificateRequest after Certificate": [EE, CERT, CR],
    "a second ServerHello, encrypted": [2],
    "KeyUpdate in the handshake": [EE, KU],
    "NewSessionTicket in the handshake": [EE, NST],
    "EndOfEarlyData": [EOED],
    "ClientHello": [1],
}


@pytest.mark.parametrize("order", list(OUT_OF_ORDER_TO_CLIENT.values()), ids=list(OUT_OF_ORDER_TO_CLIENT))
def test_client_refuses_the_servers_flight_out_of_order(hostile_server: ServerSide, order: list[int]) -> None:
    extra = {
        CR: encode_handshake(CertificateRequest13((signature_algorithms_extension((0x0804,)),))),
        2: hostile_server.hello_records[0].fragment,
        KU: encode_handshake(KeyUpdate(0)),
        NST: encode_handshake(NewSessionTicket13(60, 0, b"", b"ticket")),
        EOED: handshake(EOED, b""),
        1: handshake(1, b"\x03\x03" + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"),
    }
    messages = [hostile_server.flight.get(t) or extra[t] for t in order]
    assert hostile_server.send(*messages) == [D.unexpected_message]


def test_client_connects_with_the_genuine_flight(hostile_server: ServerSide) -> None:
    # The harness itself: resealed genuine messages do complete the handshake.
    flight = hostile_server.flight
    assert hostile_server.send(flight[EE], flight[CERT], flight[CV], flight[FIN]) == []
    assert hostile_server.client.state is ClientState.CLIENT_CONNECTED


def ee(*extensions: Extension) -> bytes:
    return encode_handshake(EncryptedExtensions(extensions))


ENCRYPTED_EXTENSIONS = {
    # RFC 8446 §4.2: an extension the client recognises but that may not appear in
    # EncryptedExtensions is illegal_parameter; one it never offered is unsupported_extension.
    "signature_algorithms": (ee(signature_algorithms_extension((0x0804,))), D.illegal_parameter),
    "key_share": (ee(key_share_server_extension(29, bytes(32))), D.illegal_parameter),
    "supported_versions": (ee(selected_version_extension(TLS13)), D.illegal_parameter),
    "psk_key_exchange_modes": (ee(Extension(ExtensionType.psk_key_exchange_modes, b"\x01\x01")),
                               D.illegal_parameter),
    "ALPN, never offered": (ee(Extension(ExtensionType.application_layer_protocol_negotiation,
                                         b"\x00\x03\x02h2")), D.unsupported_extension),
    "cookie, never offered": (ee(Extension(ExtensionType.cookie, b"\x00\x01\x01")), D.unsupported_extension),
    "unknown type 0x7a7a": (ee(Extension(0x7A7A, b"")), D.unsupported_extension),
    # RFC 6066 §3: the server's server_name is empty.
    "server_name with data": (ee(Extension(ExtensionType.server_name, b"\x00\x00")), D.decode_error),
    "duplicate supported_groups": (handshake(EE, b"\x00\x0c" + b"\x00\x0a\x00\x04\x00\x02\x00\x1d" * 2)[:4]
                                   + b"\x00\x10" + b"\x00\x0a\x00\x04\x00\x02\x00\x1d" * 2, D.decode_error),
    "supported_groups of odd length": (handshake(EE, b"\x00\x07\x00\x0a\x00\x03\x00\x01\x00"),
                                       D.decode_error),
    "extensions block missing": (handshake(EE, b""), D.decode_error),
    "extensions block too long": (handshake(EE, b"\x00\x05\x00\x00\x00\x00"), D.decode_error),
    "trailing byte": (handshake(EE, b"\x00\x00\x00"), D.decode_error),
}


@pytest.mark.parametrize("raw, alert", list(ENCRYPTED_EXTENSIONS.values()), ids=list(ENCRYPTED_EXTENSIONS))
def test_client_checks_encrypted_extensions(hostile_server: ServerSide, raw: bytes, alert: int) -> None:
    assert hostile_server.send(raw) == [alert]


def test_client_accepts_an_empty_server_name_and_supported_groups_in_encrypted_extensions(
        hostile_server: ServerSide) -> None:
    flight = hostile_server.flight
    # Allowed in EncryptedExtensions (RFC 8446 §4.2), and both were offered. The transcript now
    # differs from the server's, so the handshake fails later, at CertificateVerify.
    raw = ee(Extension(ExtensionType.server_name, b""),
             Extension(ExtensionType.supported_groups, b"\x00\x02\x00\x17"))
    assert hostile_server.send(raw) == []
    assert hostile_server.client.state is ClientState.CLIENT_EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE
    assert hostile_server.send(flight[CERT], flight[CV]) == [D.decrypt_error]


def edit_certificate(raw: bytes, **changes: Any) -> bytes:
    message = decode_handshake(raw, None, TLS13)
    assert isinstance(message, Certificate13)
    return encode_handshake(dataclasses.replace(message, **changes))


def test_client_refuses_an_empty_server_certificate(hostile_server: ServerSide) -> None:
    # RFC 8446 §4.4.2.4: "If the server supplies an empty Certificate message, the client
    # MUST abort the handshake with a "decode_error" alert."
    flight = hostile_server.flight
    assert hostile_server.send(flight[EE], edit_certificate(flight[CERT], certificate_list=())) == [
        D.decode_error]


def test_insecure_client_refuses_an_empty_server_certificate(make_client, make_server) -> None:
    side = server_side(make_client, make_server, client_config={"trust_store": None})
    side.deliver_hello()
    assert side.send(side.flight[EE], edit_certificate(side.flight[CERT], certificate_list=())) == [
        D.decode_error]


def test_client_refuses_a_server_certificate_with_a_request_context(hostile_server: ServerSide) -> None:
    flight = hostile_server.flight
    raw = edit_certificate(flight[CERT], certificate_request_context=b"\x01")
    assert hostile_server.send(flight[EE], raw) == [D.illegal_parameter]


@pytest.mark.parametrize("entry_extensions, alert", [
    # RFC 8446 §4.4.2: the server's CertificateEntry extensions "MUST correspond to ones from
    # the ClientHello"; this client offers neither status_request nor signed_certificate_timestamp.
    (b"\x00\x05\x00\x00", D.unsupported_extension),
    (b"\x00\x12\x00\x01\x00", D.unsupported_extension),
    (b"\x00\x05\x00\x05\x00", D.decode_error),  # an extension longer than its block
    (b"\x00", D.decode_error),
], ids=["status_request", "signed_certificate_timestamp", "truncated", "one byte"])
def test_client_checks_certificate_entry_extensions(hostile_server: ServerSide, entry_extensions: bytes,
                                                    alert: int) -> None:
    flight = hostile_server.flight
    raw = edit_certificate(flight[CERT], entry_extensions=(entry_extensions,))
    assert hostile_server.send(flight[EE], raw) == [alert]


CERTIFICATE_REQUESTS = {
    "no signature_algorithms": (encode_handshake(CertificateRequest13(())), D.missing_extension),
    # RFC 8446 §4.3.2: the context "SHALL be zero length unless used for post-handshake auth".
    "non-empty context": (encode_handshake(CertificateRequest13(
        (signature_algorithms_extension((0x0804,)),), b"\x07")), D.illegal_parameter),
    "empty signature_algorithms": (handshake(CR, b"\x00\x00\x06\x00\x0d\x00\x02\x00\x00"), D.decode_error),
}


@pytest.mark.parametrize("raw, alert", list(CERTIFICATE_REQUESTS.values()), ids=list(CERTIFICATE_REQUESTS))
def test_client_checks_the_certificate_request(hostile_server: ServerSide, raw: bytes, alert: int) -> None:
    assert hostile_server.send(hostile_server.flight[EE], raw) == [alert]


@pytest.mark.parametrize("scheme, alert", [
    (SignatureScheme.rsa_pkcs1_sha256, D.illegal_parameter),  # RFC 8446 §4.4.3: not in TLS 1.3
    (SignatureScheme.ecdsa_secp256r1_sha256, D.illegal_parameter),  # does not fit the RSA key
    (0x0201, D.illegal_parameter),  # rsa_pkcs1_sha1
    (0xFEFE, D.illegal_parameter),  # never offered
])
def test_client_checks_the_certificate_verify_scheme(hostile_server: ServerSide, scheme: int,
                                                     alert: int) -> None:
    flight = hostile_server.flight
    genuine = decode_handshake(flight[CV], None, TLS13)
    assert isinstance(genuine, CertificateVerify)
    raw = encode_handshake(CertificateVerify(scheme, genuine.signature))
    assert hostile_server.send(flight[EE], flight[CERT], raw) == [alert]


@pytest.mark.parametrize("verify_data, alert", [
    (bytes(32), D.decrypt_error),
    (bytes(31), D.decode_error),  # RFC 8446 §4.4.4: verify_data[Hash.length]
    (bytes(48), D.decode_error),
    (bytes(12), D.decode_error),
])
def test_client_checks_the_server_finished(hostile_server: ServerSide, verify_data: bytes,
                                           alert: int) -> None:
    flight = hostile_server.flight
    raw = encode_handshake(Finished(verify_data))
    assert hostile_server.send(flight[EE], flight[CERT], flight[CV], raw) == [alert]


# -- ServerHello and HelloRetryRequest, in the clear ---------------------------------------------------


def genuine_server_hello(make_client, make_server, **client_config: Any) -> tuple[Any, Recorder, ServerHello]:
    side = server_side(make_client, make_server, client_config=client_config)
    hello = decode_handshake(side.hello_records[0].fragment)
    assert isinstance(hello, ServerHello)
    return side.client, side.events, hello


def with_extension(hello: ServerHello, ext: Extension) -> ServerHello:
    others = tuple(e for e in hello.extensions or () if e.type != ext.type)
    return dataclasses.replace(hello, extensions=(*others, ext))


def without_extension(hello: ServerHello, ext_type: int) -> ServerHello:
    kept = tuple(e for e in hello.extensions or () if e.type != ext_type)
    return dataclasses.replace(hello, extensions=kept)


SERVER_HELLO_EDITS: dict[str, tuple[Callable[[ServerHello], ServerHello], int]] = {
    # RFC 8446 §4.1.3
    "compression 1": (lambda h: dataclasses.replace(h, compression_method=1), D.illegal_parameter),
    "session id echo changed": (lambda h: dataclasses.replace(h, session_id=bytes(32)), D.illegal_parameter),
    "session id echo empty": (lambda h: dataclasses.replace(h, session_id=b""), D.illegal_parameter),
    "suite never offered": (lambda h: dataclasses.replace(h, cipher_suite=0x1302), D.illegal_parameter),
    "TLS 1.2 suite": (lambda h: dataclasses.replace(h, cipher_suite=0xC02F), D.illegal_parameter),
    # RFC 8446 §4.2.1
    "selected version 1.2": (lambda h: with_extension(h, selected_version_extension(0x0303)),
                             D.illegal_parameter),
    "selected version 0x7f1c": (lambda h: with_extension(h, selected_version_extension(0x7F1C)),
                                D.illegal_parameter),
    # RFC 8446 §4.2.8, §9.2
    "key_share missing": (lambda h: without_extension(h, ExtensionType.key_share), D.missing_extension),
    "key_share for a group with no share": (
        lambda h: with_extension(h, key_share_server_extension(23, b"\x04" + bytes(64))),
        D.illegal_parameter),
    "key_share for a group never listed": (
        lambda h: with_extension(h, key_share_server_extension(30, bytes(56))), D.illegal_parameter),
    "x25519 share of 31 bytes": (lambda h: with_extension(h, key_share_server_extension(29, bytes(31))),
                                 D.illegal_parameter),
    # RFC 8446 §7.4.2: an all-zero X25519 shared secret must be refused.
    "x25519 share of small order": (lambda h: with_extension(h, key_share_server_extension(29, bytes(32))),
                                    D.illegal_parameter),
    "key_share in the HelloRetryRequest form": (
        lambda h: with_extension(h, key_share_retry_extension(29)), D.decode_error),
    # RFC 8446 §4.2: offered but not allowed in ServerHello is illegal_parameter;
    # never offered is unsupported_extension.
    "server_name": (lambda h: with_extension(h, Extension(ExtensionType.server_name, b"")),
                    D.illegal_parameter),
    "signature_algorithms": (lambda h: with_extension(h, signature_algorithms_extension((0x0804,))),
                             D.illegal_parameter),
    "cookie": (lambda h: with_extension(h, Extension(ExtensionType.cookie, b"\x00\x01\x01")),
               D.unsupported_extension),
    "pre_shared_key": (lambda h: with_extension(h, Extension(ExtensionType.pre_shared_key, b"\x00\x00")),
                       D.unsupported_extension),
}


@pytest.mark.parametrize("edit, alert", list(SERVER_HELLO_EDITS.values()), ids=list(SERVER_HELLO_EDITS))
def test_client_checks_the_tls13_server_hello(make_client, make_server, edit, alert: int) -> None:
    client, events, hello = genuine_server_hello(make_client, make_server)
    client.receive_data(handshake_record(encode_handshake(edit(hello))))
    assert outcome(client, events) == [alert]


def hello_retry_request(hello: ServerHello, *extensions: Extension, suite: int | None = None) -> bytes:
    return encode_handshake(dataclasses.replace(
        hello, random=HELLO_RETRY_REQUEST_RANDOM, cipher_suite=suite or hello.cipher_suite,
        extensions=(selected_version_extension(TLS13), *extensions)))


P256 = key_share_retry_extension(NamedGroup.secp256r1)


HRR_EDITS: dict[str, tuple[tuple[Extension, ...], int]] = {
    # RFC 8446 §4.1.4: an HRR that would not change the ClientHello is illegal_parameter.
    "asks for the group already sent": ((key_share_retry_extension(NamedGroup.x25519),), D.illegal_parameter),
    "asks for a group never listed": ((key_share_retry_extension(30),), D.illegal_parameter),
    "changes nothing": ((), D.illegal_parameter),
    "server_name, offered but not for HRR": ((P256, Extension(ExtensionType.server_name, b"")),
                                             D.illegal_parameter),
    "ALPN, never offered": ((P256, Extension(ExtensionType.application_layer_protocol_negotiation,
                                             b"\x00\x03\x02h2")), D.unsupported_extension),
    "empty cookie": ((P256, Extension(ExtensionType.cookie, b"\x00\x00")), D.decode_error),
    "key_share in the ServerHello form": ((key_share_server_extension(23, b"\x04" + bytes(64)),),
                                          D.decode_error),
}


@pytest.mark.parametrize("extensions, alert", list(HRR_EDITS.values()), ids=list(HRR_EDITS))
def test_client_checks_the_hello_retry_request(make_client, make_server, extensions, alert: int) -> None:
    client, events, hello = genuine_server_hello(make_client, make_server)
    client.receive_data(handshake_record(hello_retry_request(hello, *extensions)))
    assert outcome(client, events) == [alert]


def test_client_answers_a_cookie_only_hello_retry_request(make_client, make_server) -> None:
    # RFC 8446 §4.1.4, §4.2.2: a HelloRetryRequest may carry just a cookie (a stateless server
    # checking reachability); the client echoes it with the same key share.
    client, events, hello = genuine_server_hello(make_client, make_server)
    cookie = b"\x00\x04ABCD"
    client.receive_data(handshake_record(hello_retry_request(hello, Extension(ExtensionType.cookie, cookie))))
    assert outcome(client, events) == []
    records = split_records(client.data_to_send())
    assert [r.content_type for r in records] == [CHANGE_CIPHER_SPEC, HANDSHAKE]  # RFC 8446 D.4
    second = decode_handshake(records[-1].fragment)
    assert isinstance(second, ClientHello) and second.extension(ExtensionType.cookie) == cookie


def test_client_refuses_a_second_hello_retry_request(make_client, make_server) -> None:
    client, events, hello = genuine_server_hello(make_client, make_server)
    client.receive_data(handshake_record(hello_retry_request(hello, P256)))
    assert outcome(client, events) == []
    client.receive_data(handshake_record(hello_retry_request(hello, key_share_retry_extension(29))))
    assert outcome(client, events) == [D.unexpected_message]


def retried_client(make_client, make_server) -> tuple[Any, Recorder, ServerHello]:
    client, events, hello = genuine_server_hello(make_client, make_server,
                                                 groups=(NamedGroup.x25519, NamedGroup.secp256r1))
    client.receive_data(handshake_record(hello_retry_request(hello, P256)))
    assert outcome(client, events) == []
    return client, events, hello


@pytest.mark.parametrize("edit, alert", [
    # RFC 8446 §4.1.4: the ServerHello keeps the HRR's suite and version, and answers its group.
    (lambda h: dataclasses.replace(h, cipher_suite=0x1302), D.illegal_parameter),
    (lambda h: h, D.illegal_parameter),  # answers on x25519, whose share was withdrawn
    (lambda h: without_extension(h, ExtensionType.supported_versions), D.illegal_parameter),
    (lambda h: with_extension(h, Extension(ExtensionType.cookie, b"\x00\x01\x01")), D.unsupported_extension),
], ids=["suite changed", "old group", "TLS 1.2 hello", "cookie"])
def test_client_checks_the_server_hello_after_a_retry(make_client, make_server, edit, alert: int) -> None:
    client, events, hello = retried_client(make_client, make_server)
    client.receive_data(handshake_record(encode_handshake(edit(hello))))
    assert outcome(client, events) == [alert]


# -- records under TLS 1.3 protection (RFC 8446 §5) ------------------------------------------------------


RECORDS: dict[str, tuple[bytes, int | None]] = {
    # (TLSInnerPlaintext, expected alert)
    "only padding": (bytes(20), D.unexpected_message),  # RFC 8446 §5.4
    "nothing at all": (b"", D.unexpected_message),
    "empty handshake": (bytes([HANDSHAKE]), D.unexpected_message),  # §5.4
    "empty handshake, padded": (bytes([HANDSHAKE]) + bytes(7), D.unexpected_message),
    "empty alert": (bytes([ALERT]), D.unexpected_message),
    "unknown inner type": (b"hello\x63", D.unexpected_message),
    "inner type 0 behind padding only": (b"\x00\x00", D.unexpected_message),
    # §5: "An implementation which receives ... a protected change_cipher_spec record MUST
    # abort the handshake with an "unexpected_message" alert."
    "protected ChangeCipherSpec": (b"\x01" + bytes([CHANGE_CIPHER_SPEC]), D.unexpected_message),
    "application data before Finished": (b"early" + bytes([APPLICATION_DATA]), D.unexpected_message),
    "empty application data before Finished": (bytes([APPLICATION_DATA]), D.unexpected_message),
    "2^14 + 1 bytes of content": (bytes(2**14 + 1) + bytes([HANDSHAKE]), D.record_overflow),
    "alert of three bytes": (b"\x02\x28\x00" + bytes([ALERT]), D.decode_error),
    "alert of one byte": (b"\x02" + bytes([ALERT]), D.decode_error),
    # §6: in TLS 1.3 every alert but close_notify and user_canceled is an error, whatever its level.
    "warning-level handshake_failure": (b"\x01\x28" + bytes([ALERT]), None),
    "fatal handshake_failure": (b"\x02\x28" + bytes([ALERT]), None),
    "unknown alert at warning level": (b"\x01\xee" + bytes([ALERT]), None),
}


@pytest.mark.parametrize("inner, alert", list(RECORDS.values()), ids=list(RECORDS))
def test_client_checks_protected_records_in_the_handshake(hostile_server: ServerSide, inner: bytes,
                                                          alert: int | None) -> None:
    client = hostile_server.client
    client.receive_data(seal_for(client, inner))
    sent = outcome(client, hostile_server.events)
    if alert is None:  # the peer's alert ends the connection; nothing is sent back
        assert sent == [] and client.state is ClientState.CLIENT_ERROR
        assert client.peer_alert is not None
    else:
        assert sent == [alert]


@pytest.mark.parametrize("wire, alert", [
    (lambda c: seal_for(c, b"x\x16", flip=0), D.bad_record_mac),
    (lambda c: seal_for(c, b"x\x16", flip=17), D.bad_record_mac),
    (lambda c: struct.pack("!BHH", 23, 0x0303, 3) + b"abc", D.bad_record_mac),
    (lambda c: struct.pack("!BHH", 23, 0x0303, 0), D.bad_record_mac),
    (lambda c: struct.pack("!BHH", 23, 0x0303, 2**14 + 257) + bytes(2**14 + 257), D.record_overflow),
    (lambda c: handshake_record(b"\x08\x00\x00\x02\x00\x00"), D.unexpected_message),  # §5: in the clear
    (lambda c: struct.pack("!BHH", 21, 0x0303, 2) + b"\x02\x28", D.unexpected_message),
    (lambda c: struct.pack("!BHH", 20, 0x0303, 1) + b"\x02", D.unexpected_message),  # §5: CCS other than 1
    (lambda c: struct.pack("!BHH", 20, 0x0303, 2) + b"\x01\x01", D.unexpected_message),
    (lambda c: struct.pack("!BHH", 99, 0x0303, 1) + b"\x01", D.unexpected_message),
], ids=["flipped tag start", "flipped tag end", "shorter than a tag", "empty", "2^14 + 257",
        "plaintext handshake", "plaintext alert", "CCS 0x02", "CCS of two bytes", "unknown record type"])
def test_client_checks_records_on_the_wire(hostile_server: ServerSide, wire, alert: int) -> None:
    client = hostile_server.client
    client.receive_data(wire(client))
    assert outcome(client, hostile_server.events) == [alert]


def test_client_drops_compatibility_ccs_records(hostile_server: ServerSide) -> None:
    # RFC 8446 §5: a CCS of the single byte 1, in the clear, before the peer's Finished, is dropped.
    client = hostile_server.client
    client.receive_data(join_records([WireRecord(CHANGE_CIPHER_SPEC, 0x0303, b"\x01")] * 3))
    flight = hostile_server.flight
    assert hostile_server.send(flight[EE], flight[CERT], flight[CV], flight[FIN]) == []
    assert client.state is ClientState.CLIENT_CONNECTED


def test_client_refuses_padding_up_to_the_limit_only_when_over_it(hostile_server: ServerSide) -> None:
    # RFC 8446 §5.4: TLSInnerPlaintext, padding included, may be 2^14 + 1 bytes and no more.
    flight = hostile_server.flight
    client = hostile_server.client
    padding = 2**14 + 1 - 1 - len(flight[EE])
    client.receive_data(seal_for(client, flight[EE] + bytes([HANDSHAKE]) + bytes(padding)))
    assert outcome(client, hostile_server.events) == []
    assert hostile_server.send(flight[CERT], flight[CV], flight[FIN]) == []
    client.receive_data(seal_for(client, bytes(2**14) + bytes([APPLICATION_DATA])))
    assert outcome(client, hostile_server.events) == []
    assert hostile_server.events.application_data == bytes(2**14)
    client.receive_data(seal_for(client, b"x" + bytes([APPLICATION_DATA]) + bytes(2**14)))
    assert outcome(client, hostile_server.events) == [D.record_overflow]


@pytest.mark.parametrize("role", ["client", "server"])
def test_padding_that_takes_the_inner_plaintext_over_the_limit_is_record_overflow(connected,
                                                                                  role: str) -> None:
    # RFC 8446 §5.4: one byte of content and padding up to 2^14 + 2 bytes: the length is checked
    # before the padding is stripped (the ciphertext, 2^14 + 18 bytes, is within §5.2's 2^14 + 256).
    client, server, client_events, server_events = connected
    victim, events = (client, client_events) if role == "client" else (server, server_events)
    victim.receive_data(seal_for(victim, b"x" + bytes([APPLICATION_DATA]) + bytes(2**14)))
    assert outcome(victim, events) == [D.record_overflow]
    assert events.application_data == b""


# -- after the handshake ------------------------------------------------------------------------------


@pytest.fixture
def connected(make_client, make_server) -> tuple[Any, Any, Recorder, Recorder]:
    client, server = new_client(make_client), new_server(make_server)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)
    assert client.state is ClientState.CLIENT_CONNECTED and server.state is ServerState.SERVER_CONNECTED
    return client, server, client_events, server_events


@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("inner, alert", [
    (encode_handshake(KeyUpdate(0))[:-1] + b"\x02\x16", D.illegal_parameter),  # RFC 8446 §4.6.3
    (encode_handshake(KeyUpdate(0))[:-1] + b"\xff\x16", D.illegal_parameter),
    (handshake(KU, b"") + b"\x16", D.decode_error),
    (handshake(KU, b"\x00\x00") + b"\x16", D.decode_error),
    # §5.1: a key change must end its record.
    (encode_handshake(KeyUpdate(0)) + encode_handshake(KeyUpdate(0)) + b"\x16", D.unexpected_message),
    (handshake(99, b"") + b"\x16", D.unexpected_message),
    (handshake(EOED, b"") + b"\x16", D.unexpected_message),
    (handshake(FIN, bytes(32)) + b"\x16", D.unexpected_message),
    (handshake(1, b"\x03\x03") + b"\x16", D.unexpected_message),  # a ClientHello: not even decoded
    (handshake(0, b"") + b"\x16", D.unexpected_message),  # HelloRequest is gone in TLS 1.3
    (b"\x01" + bytes([CHANGE_CIPHER_SPEC]), D.unexpected_message),
    (b"\x16", D.unexpected_message),
    (bytes(9), D.unexpected_message),
], ids=["KeyUpdate 2", "KeyUpdate 255", "KeyUpdate empty", "KeyUpdate long", "two KeyUpdates",
        "type 99", "EndOfEarlyData", "Finished", "ClientHello", "HelloRequest", "protected CCS",
        "empty handshake", "only padding"])
def test_connected_endpoints_check_post_handshake_records(connected, role: str, inner: bytes,
                                                          alert: int) -> None:
    client, server, client_events, server_events = connected
    victim, events = (client, client_events) if role == "client" else (server, server_events)
    victim.receive_data(seal_for(victim, inner))
    assert outcome(victim, events) == [alert]


@pytest.mark.parametrize("role", ["client", "server"])
def test_ccs_after_the_handshake_is_unexpected(connected, role: str) -> None:
    client, server, client_events, server_events = connected
    victim, events = (client, client_events) if role == "client" else (server, server_events)
    victim.receive_data(struct.pack("!BHH", 20, 0x0303, 1) + b"\x01")
    assert outcome(victim, events) == [D.unexpected_message]


@pytest.mark.parametrize("role", ["client", "server"])
def test_a_handshake_message_split_around_application_data_is_refused(connected, role: str) -> None:
    # RFC 8446 §5.1: "Handshake messages MUST NOT be interleaved with other record types."
    client, server, client_events, server_events = connected
    victim, events = (client, client_events) if role == "client" else (server, server_events)
    key_update = encode_handshake(KeyUpdate(0))
    victim.receive_data(seal_for(victim, key_update[:2] + b"\x16"))
    victim.receive_data(seal_for(victim, b"data\x17"))
    assert outcome(victim, events) == [D.unexpected_message]


@pytest.mark.parametrize("role", ["client", "server"])
def test_empty_and_padded_application_data_is_fine_once_connected(connected, role: str) -> None:
    client, server, client_events, server_events = connected
    victim, events = (client, client_events) if role == "client" else (server, server_events)
    victim.receive_data(seal_for(victim, b"\x17"))
    victim.receive_data(seal_for(victim, b"abc\x17" + bytes(100)))
    victim.receive_data(seal_for(victim, encode_handshake(KeyUpdate(1)) + b"\x16"))
    victim.receive_data(seal_for(victim, b"after\x17"))
    assert outcome(victim, events) == []
    assert events.application_data == b"abcafter"


@pytest.mark.parametrize("role", ["client", "server"])
def test_warning_alerts_in_tls13(connected, role: str) -> None:
    client, server, client_events, server_events = connected
    victim, events = (client, client_events) if role == "client" else (server, server_events)
    victim.receive_data(seal_for(victim, b"\x01\x5a\x15"))  # user_canceled: a closure alert, not an error
    assert victim.peer_alert is None
    victim.receive_data(seal_for(victim, b"\x01\x64\x15"))  # no_renegotiation at warning level: an error
    assert outcome(victim, events) == [] and victim.peer_alert is not None


# -- the victim server ---------------------------------------------------------------------------------


@dataclasses.dataclass
class ClientSide:
    client: Any
    server: Any
    events: Recorder
    flight: dict[int, bytes]  # the client's genuine second flight by type

    def send(self, *messages: bytes) -> list[int]:
        for raw in messages:
            feed_sealed(self.server, HANDSHAKE, raw)
        return outcome(self.server, self.events)


def client_side(make_client, make_server, client_config: dict[str, Any] | None = None,
                **server_config: Any) -> ClientSide:
    client = new_client(make_client, **(client_config or {}))
    server = new_server(make_server, **server_config)
    client_events, events = Recorder(client), Recorder(server)
    client.start()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    assert client.state is ClientState.CLIENT_CONNECTED, client_events.alerts_sent
    client.data_to_send()
    flight = {raw[0]: raw for raw in sent(client_events) if raw[0] != 1}
    return ClientSide(client, server, events, flight)


def mtls(chain: tuple[bytes, ...], key: Any) -> dict[str, Any]:
    return {"certificate_chain": chain, "private_key": key}


@pytest.fixture(scope="module")
def client_identity(root_ca: pki.CertificateAuthority, issued_at) -> tuple[tuple[bytes, ...], Any]:
    from cryptography.hazmat.primitives.serialization import Encoding

    key = pki.generate_ec_key()
    cert = pki.issue_certificate(root_ca, public_key=key.public_key(), common_name="student",
                                 names=["student.handshake.test"], usage=pki.Usage.CLIENT, now=issued_at)
    return (cert.public_bytes(Encoding.DER),), key


def test_server_connects_with_the_genuine_flight(make_client, make_server) -> None:
    side = client_side(make_client, make_server)
    assert side.send(side.flight[FIN]) == []
    assert side.server.state is ServerState.SERVER_CONNECTED


@pytest.mark.parametrize("raw", [
    handshake(CERT, b"\x00\x00\x00\x00"),  # no CertificateRequest was sent (RFC 8446 §4.4.2)
    handshake(CV, b"\x08\x04\x00\x00"),
    handshake(EOED, b""),  # no early data was accepted (RFC 8446 §4.5)
    handshake(KU, b"\x00"),
    handshake(EE, b"\x00\x00"),
    handshake(1, b"\x03\x03"),
    handshake(99, b""),
    handshake(NST, b""),
], ids=["Certificate", "CertificateVerify", "EndOfEarlyData", "KeyUpdate", "EncryptedExtensions",
        "ClientHello", "type 99", "NewSessionTicket"])
def test_server_refuses_messages_out_of_order(make_client, make_server, raw: bytes) -> None:
    side = client_side(make_client, make_server)
    assert side.send(raw) == [D.unexpected_message]


@pytest.mark.parametrize("verify_data, alert", [
    (bytes(32), D.decrypt_error), (bytes(31), D.decode_error), (bytes(12), D.decode_error)])
def test_server_checks_the_client_finished(make_client, make_server, verify_data: bytes, alert: int) -> None:
    side = client_side(make_client, make_server)
    assert side.send(encode_handshake(Finished(verify_data))) == [alert]


@pytest.mark.parametrize("inner, alert", [(v[0], v[1]) for k, v in RECORDS.items()
                                          if not k.startswith("2^14")],
                         ids=[k for k in RECORDS if not k.startswith("2^14")])
def test_server_checks_protected_records_in_the_handshake(make_client, make_server, inner: bytes,
                                                          alert: int | None) -> None:
    side = client_side(make_client, make_server)
    side.server.receive_data(seal_for(side.server, inner))
    sent = outcome(side.server, side.events)
    assert sent == ([] if alert is None else [alert])
    assert side.server.state is ServerState.SERVER_ERROR


def test_server_refuses_a_plaintext_finished(make_client, make_server) -> None:
    side = client_side(make_client, make_server)
    side.server.receive_data(handshake_record(side.flight[FIN]))
    assert outcome(side.server, side.events) == [D.unexpected_message]


@pytest.mark.parametrize("content", [b"\x02", b"\x01\x01", b"\x00"], ids=["2", "two bytes", "0"])
def test_server_refuses_a_bad_compatibility_ccs(make_client, make_server, content: bytes) -> None:
    # RFC 8446 §5: any change_cipher_spec value other than 0x01 is unexpected_message.
    side = client_side(make_client, make_server)
    side.server.receive_data(struct.pack("!BHH", 20, 0x0303, len(content)) + content)
    assert outcome(side.server, side.events) == [D.unexpected_message]


def test_server_refuses_a_client_certificate_with_entry_extensions(make_client, make_server, root_ca,
                                                                   client_identity) -> None:
    chain, key = client_identity
    side = client_side(make_client, make_server, client_config=mtls(chain, key),
                       client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    # RFC 8446 §4.4.2: a client's entry extensions must answer the CertificateRequest's; ours asked none.
    certificate = edit_certificate(side.flight[CERT], entry_extensions=(b"\x00\x05\x00\x00",))
    assert side.send(certificate) == [D.unsupported_extension]


def test_server_checks_the_client_certificate_verify(make_client, make_server, root_ca,
                                                     client_identity) -> None:
    chain, key = client_identity
    side = client_side(make_client, make_server, client_config=mtls(chain, key),
                       client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    genuine = decode_handshake(side.flight[CV], None, TLS13)
    assert isinstance(genuine, CertificateVerify)
    forged = encode_handshake(CertificateVerify(SignatureScheme.ecdsa_sha1, genuine.signature))
    assert side.send(side.flight[CERT], forged) == [D.illegal_parameter]


@pytest.mark.parametrize("order", [[FIN], [CV], [CERT, FIN], [CERT, CERT]], ids=str)
def test_server_requiring_a_certificate_refuses_the_wrong_order(make_client, make_server, root_ca,
                                                                client_identity, order: list[int]) -> None:
    chain, key = client_identity
    side = client_side(make_client, make_server, client_config=mtls(chain, key),
                       client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    assert side.send(*(side.flight[t] for t in order)) == [D.unexpected_message]


# -- the server's ClientHello checks -------------------------------------------------------------------


def genuine_client_hello(make_client, **config: Any) -> ClientHello:
    client = new_client(make_client, **config)
    client.start()
    hello = decode_handshake(split_records(client.data_to_send())[0].fragment)
    assert isinstance(hello, ClientHello)
    return hello


def ch_with(hello: ClientHello, *extensions: Extension, drop: tuple[int, ...] = ()) -> ClientHello:
    replaced = {e.type for e in extensions} | set(drop)
    kept = tuple(e for e in hello.extensions or () if e.type not in replaced)
    return dataclasses.replace(hello, extensions=(*kept, *extensions))


CLIENT_HELLO_EDITS: dict[str, tuple[Callable[[ClientHello], ClientHello], int]] = {
    # RFC 8446 §4.1.2
    "compression [0, 1]": (lambda h: dataclasses.replace(h, compression_methods=b"\x00\x01"),
                           D.illegal_parameter),
    "compression [1]": (lambda h: dataclasses.replace(h, compression_methods=b"\x01"), D.illegal_parameter),
    # RFC 8446 §9.2
    "no key_share": (lambda h: ch_with(h, drop=(ExtensionType.key_share,)), D.missing_extension),
    "no supported_groups": (lambda h: ch_with(h, drop=(ExtensionType.supported_groups,)),
                            D.missing_extension),
    "no signature_algorithms": (lambda h: ch_with(h, drop=(ExtensionType.signature_algorithms,)),
                                D.missing_extension),
    # RFC 8446 §4.2.8
    "a share for a group not listed": (lambda h: ch_with(h, key_share_client_extension(
        ((29, bytes(range(1, 33))), (30, bytes(56))))), D.illegal_parameter),
    "x25519 share of 31 bytes": (lambda h: ch_with(h, key_share_client_extension(((29, bytes(31)),))),
                                 D.illegal_parameter),
    "x25519 share of small order": (lambda h: ch_with(h, key_share_client_extension(((29, bytes(32)),))),
                                    D.illegal_parameter),
    "key_share of odd length": (
        lambda h: ch_with(h, Extension(ExtensionType.key_share, b"\x00\x03\x00\x1d\x00")), D.decode_error),
    "empty supported_versions": (lambda h: ch_with(h, Extension(ExtensionType.supported_versions, b"\x00")),
                                 D.decode_error),
    # RFC 8446 §4.2.11: "Servers MUST check that it is the last extension".
    "pre_shared_key not last": (lambda h: dataclasses.replace(h, extensions=(
        Extension(ExtensionType.pre_shared_key, b"\x00\x00\x00\x00"), *(h.extensions or ()))),
        D.illegal_parameter),
    "no TLS 1.3 suite": (lambda h: dataclasses.replace(h, cipher_suites=(0xC02F,)), D.handshake_failure),
    # RFC 8446 Appendix D.5: "... legacy_version ... set to 0x0300 MUST abort the handshake with a
    # "protocol_version" alert"; older values are older still.
    "legacy_version 0x0300": (lambda h: dataclasses.replace(h, client_version=0x0300), D.protocol_version),
    "legacy_version 0x0002": (lambda h: dataclasses.replace(h, client_version=0x0002), D.protocol_version),
    # RFC 8446 §4.2.8.2: an empty share is no point at all; the conformance suites expect
    # illegal_parameter, as for any other share that is not a point.
    "empty x25519 share": (lambda h: ch_with(h, key_share_client_extension(((29, b""),))),
                           D.illegal_parameter),
    # RFC 7627 §5.1: "The "extension_data" field of this extension SHALL be empty."
    "extended_master_secret with a body": (
        lambda h: ch_with(h, Extension(ExtensionType.extended_master_secret, b"\x00")), D.decode_error),
    # RFC 6066 §3: one host_name, a DNS name in ASCII.
    **{f"server_name with {what}": (lambda h, name=name: ch_with(h, sni(name)), D.illegal_parameter)
       for what, name in (("ESC", b"local\x1b[31mhost"), ("BEL", b"localhos\x07t"),
                          ("NUL", b"localhos\x00t"), ("UTF-8", b"localho\xc4\x85st"),
                          ("a space", b"local host"), ("DEL", b"localhost\x7f"))},
    "two host_names": (lambda h: ch_with(h, sni(b"localhost", b"www.localhost")), D.illegal_parameter),
}


def sni(*host_names: bytes, name_type: int = 0) -> Extension:
    """A server_name extension with these entries, whatever they hold."""
    entries = b"".join(bytes([name_type]) + len(n).to_bytes(2, "big") + n for n in host_names)
    return Extension(ExtensionType.server_name, len(entries).to_bytes(2, "big") + entries)


def test_server_takes_one_host_name_among_names_of_other_types(make_client, make_server) -> None:
    # RFC 6066 §3: only host_name (0) is defined; an entry of another type is not a second name.
    hello = genuine_client_hello(make_client)
    other = sni(bytes(range(24)), name_type=1).data[2:]
    host = sni(b"localhost").data[2:]
    entries = other + host
    hello = ch_with(hello, Extension(ExtensionType.server_name, len(entries).to_bytes(2, "big") + entries))
    server = new_server(make_server)
    events = Recorder(server)
    server.receive_data(handshake_record(encode_handshake(hello)))
    assert outcome(server, events) == []
    assert server.server_name == "localhost"


@pytest.mark.parametrize("edit, alert", list(CLIENT_HELLO_EDITS.values()), ids=list(CLIENT_HELLO_EDITS))
def test_server_checks_the_tls13_client_hello(make_client, make_server, edit, alert: int) -> None:
    hello = genuine_client_hello(make_client)
    server = new_server(make_server, versions=(TLS13,))
    events = Recorder(server)
    server.receive_data(handshake_record(encode_handshake(edit(hello))))
    assert outcome(server, events) == [alert]


def retried_server(make_client, make_server) -> tuple[Any, Recorder, ClientHello]:
    """A server that sent HelloRetryRequest for secp256r1, and the client's first hello."""
    hello = genuine_client_hello(make_client, groups=(NamedGroup.x25519, NamedGroup.secp256r1))
    server = new_server(make_server, groups=(NamedGroup.secp256r1, NamedGroup.x25519))
    events = Recorder(server)
    hello = ch_with(hello, key_share_client_extension(()))  # no share: ask for one
    server.receive_data(handshake_record(encode_handshake(hello)))
    assert outcome(server, events) == []
    sent = [r for r in split_records(server.data_to_send()) if r.content_type == HANDSHAKE]
    retry = decode_handshake(sent[0].fragment)
    assert isinstance(retry, ServerHello) and retry.is_hello_retry_request
    return server, events, hello


P256_SHARE = (23, b"\x04" + bytes.fromhex(
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"))  # the P-256 generator


@pytest.mark.parametrize("edit, alert", [
    # RFC 8446 §4.1.2: the second ClientHello answers the HelloRetryRequest.
    (lambda h: ch_with(h, key_share_client_extension(((29, bytes(range(1, 33))),))), D.illegal_parameter),
    (lambda h: ch_with(h, key_share_client_extension(((29, bytes(range(1, 33))), P256_SHARE))),
     D.illegal_parameter),
    (lambda h: h, D.illegal_parameter),  # still no share
    (lambda h: dataclasses.replace(ch_with(h, key_share_client_extension((P256_SHARE,))),
                                   cipher_suites=(0x1302,)), D.illegal_parameter),
    (lambda h: ch_with(h, key_share_client_extension((P256_SHARE,)),
                       drop=(ExtensionType.supported_versions,)),
     D.illegal_parameter),
    (lambda h: ch_with(h, key_share_client_extension((P256_SHARE,)),
                       drop=(ExtensionType.signature_algorithms,)), D.missing_extension),
    # RFC 8446 §4.2.10: "A client MUST NOT include the "early_data" extension in its followup ClientHello."
    (lambda h: ch_with(h, key_share_client_extension((P256_SHARE,)),
                       Extension(ExtensionType.early_data, b"")), D.illegal_parameter),
], ids=["x25519 again", "both shares", "no share", "other suite", "TLS 1.2", "no signature_algorithms",
        "early_data again"])
def test_server_checks_the_second_client_hello(make_client, make_server, edit, alert: int) -> None:
    server, events, hello = retried_server(make_client, make_server)
    server.receive_data(handshake_record(encode_handshake(edit(hello))))
    assert outcome(server, events) == [alert]


def test_server_takes_the_second_client_hello_that_answers(make_client, make_server) -> None:
    server, events, hello = retried_server(make_client, make_server)
    server.receive_data(handshake_record(encode_handshake(ch_with(hello, key_share_client_extension(
        (P256_SHARE,))))))
    assert outcome(server, events) == []
    assert server.state is ServerState.SERVER_EXPECT_FINISHED13


def test_server_refuses_a_client_hello_after_its_server_hello(make_client, make_server) -> None:
    hello = genuine_client_hello(make_client)
    server = new_server(make_server)
    events = Recorder(server)
    server.receive_data(handshake_record(encode_handshake(hello)))
    server.receive_data(handshake_record(encode_handshake(hello)))  # in the clear, after the keys
    assert outcome(server, events) == [D.unexpected_message]


# -- early data the server does not accept (RFC 8446 §4.2.10) ---------------------------------------------


def early_data_client(make_client, **config: Any) -> Any:
    """A client whose first ClientHello says early_data, as one resuming with 0-RTT does; its
    second ClientHello (after a HelloRetryRequest) leaves it out, as §4.2.10 requires."""
    client = new_client(make_client, **config)
    build = client._client_hello
    hellos = []

    def first_with_early_data() -> ClientHello:
        hellos.append(1)
        hello = build()
        return ch_with(hello, Extension(ExtensionType.early_data, b"")) if len(hellos) == 1 else hello

    client._client_hello = first_with_early_data
    return client


COMPATIBILITY_CCS = struct.pack("!BHH", CHANGE_CIPHER_SPEC, 0x0303, 1) + b"\x01"


def early_data(*lengths: int, seed: int = 7) -> bytes:
    """0-RTT records as the server sees them: application_data sealed with early keys it never
    derived, i.e. bytes that open with no key the server has."""
    rand = random.Random(seed)
    return b"".join(struct.pack("!BHH", APPLICATION_DATA, 0x0303, n) + rand.randbytes(n) for n in lengths)


def test_server_skips_early_data_it_does_not_accept(make_client, make_server) -> None:
    client, server = early_data_client(make_client), new_server(make_server)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    # The ClientHello, the compatibility CCS and the 0-RTT records, sent before any answer.
    server.receive_data(client.data_to_send() + COMPATIBILITY_CCS + early_data(40, 2000, 17))
    assert outcome(server, server_events) == []
    pump(client, server)
    assert client.state is ClientState.CLIENT_CONNECTED, client_events.alerts_sent
    assert server.state is ServerState.SERVER_CONNECTED, server_events.alerts_sent
    # Nothing of it reached the application, and the server never said it accepts early data.
    assert server_events.application_data == b""
    (extensions,) = [e.message for e in client_events.of(HandshakeMessageReceived)
                     if isinstance(e.message, EncryptedExtensions)]
    assert ExtensionType.early_data not in {e.type for e in extensions.extensions}
    client.send_application_data(b"1-RTT")
    pump(client, server)
    assert server_events.application_data == b"1-RTT"
    # The skipping ended with the first record that opened: a bad record now is bad_record_mac.
    server.receive_data(early_data(40))
    assert outcome(server, server_events) == [D.bad_record_mac]


def test_server_skips_up_to_its_limit_of_early_data(make_client, make_server) -> None:
    # 2^14 bytes of application data (the tag and the content type byte not counted): skipped.
    client, server = early_data_client(make_client), new_server(make_server)
    server_events = Recorder(server)
    client.start()
    server.receive_data(client.data_to_send() + early_data(2**14 + 16 + 1))
    assert outcome(server, server_events) == []
    # One byte more is more than the server skips: unexpected_message (RFC 8446 §4.6.1).
    server.receive_data(early_data(16 + 1 + 1))
    assert outcome(server, server_events) == [D.unexpected_message]


def test_server_without_early_data_in_the_hello_skips_nothing(make_client, make_server) -> None:
    client, server = new_client(make_client), new_server(make_server)
    server_events = Recorder(server)
    client.start()
    server.receive_data(client.data_to_send() + early_data(40))
    assert outcome(server, server_events) == [D.bad_record_mac]


def test_server_skips_early_data_after_a_hello_retry_request(make_client, make_server) -> None:
    # §4.2.10: after a HelloRetryRequest the server skips the encrypted records up to the second
    # ClientHello, which carries no early_data.
    client = early_data_client(make_client, groups=(NamedGroup.x25519, NamedGroup.secp256r1))
    server = new_server(make_server, groups=(NamedGroup.secp256r1,))
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    server.receive_data(client.data_to_send() + COMPATIBILITY_CCS + early_data(300, 17))
    assert outcome(server, server_events) == []
    pump(client, server)
    assert [h.is_hello_retry_request for h in (e.message for e in client_events.of(HandshakeMessageReceived))
            if isinstance(h, ServerHello)] == [True, False]
    assert client.state is ClientState.CLIENT_CONNECTED, client_events.alerts_sent
    assert server.state is ServerState.SERVER_CONNECTED, server_events.alerts_sent


# -- a ClientHello as large as its length fields allow -----------------------------------------------------


def large_hello_client(make_client, extra_suites: int, padding: int) -> Any:
    """A client whose ClientHello also lists unassigned suite codes and carries a padding extension
    (RFC 7685): legal, and as large as the test wants."""
    client = new_client(make_client)
    build = client._client_hello
    unassigned = [c for c in range(0x0100, 0x5600) if not 0x1300 <= c <= 0x13FF]  # no TLS 1.3 suites

    def large() -> ClientHello:
        hello = ch_with(build(), Extension(ExtensionType.padding, bytes(padding)))
        return dataclasses.replace(hello,
                                   cipher_suites=hello.cipher_suites + tuple(unassigned[:extra_suites]))

    client._client_hello = large
    return client


def test_server_takes_a_legal_client_hello_over_64_kib(make_client, make_server) -> None:
    client, server = large_hello_client(make_client, 20_000, 30_000), new_server(make_server)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)
    (hello,) = server_events.received_raw("ClientHello")
    assert len(hello) > 70_000
    assert client.state is ClientState.CLIENT_CONNECTED, client_events.alerts_sent
    assert server.state is ServerState.SERVER_CONNECTED, server_events.alerts_sent


def test_server_refuses_a_client_hello_longer_than_its_fields_allow(make_server) -> None:
    # The largest legal body: version, random, session_id<0..32>, cipher_suites<2..2^16-2>,
    # compression_methods<1..2^8-1>, extensions<0..2^16-1>. The server waits for that much...
    largest = 2 + 32 + 33 + 2**16 + 2**8 + 2**16 + 1
    server = new_server(make_server)
    events = Recorder(server)
    server.receive_data(handshake_record(b"\x01" + largest.to_bytes(3, "big")))
    assert outcome(server, events) == [] and server.failed is None
    # ...and refuses one byte more at once, before buffering any of it.
    server = new_server(make_server)
    events = Recorder(server)
    server.receive_data(handshake_record(b"\x01" + (largest + 1).to_bytes(3, "big")))
    assert outcome(server, events) == [D.decode_error]


# -- a byte flipped in every field of every TLS 1.3 message ---------------------------------------------


class Relay13:
    """A man in the middle for TLS 1.3 that holds both sides' traffic secrets (from the key logs).

    Each encrypted record is opened with the sender's current secret, its handshake messages
    edited one by one, and sealed again with the same secret — which is what the receiver
    reads with as long as both derived the same keys.
    """

    LABELS = {"s2c": ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"),
              "c2s": ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0")}

    def __init__(self, client: Any, server: Any, edit: Callable[[str, int, bytes], bytes]) -> None:
        self.senders = {"c2s": client, "s2c": server}
        self.edit = edit
        self.epoch = {"c2s": 0, "s2c": 0}
        self.protection: dict[str, tuple[RecordProtection13, RecordProtection13]] = {}
        self.count = {"c2s": 0, "s2c": 0}

    def _keys(self, direction: str) -> tuple[RecordProtection13, RecordProtection13]:
        if direction not in self.protection:
            sender = self.senders[direction]
            label = self.LABELS[direction][self.epoch[direction]]
            (line,) = [x for x in sender.keylog_lines() if x.startswith(label + " ")]
            secret = bytes.fromhex(line.split()[2])
            keys = traffic_keys(sender.suite, secret)
            self.protection[direction] = (RecordProtection13(sender.suite, keys),
                                          RecordProtection13(sender.suite, keys))
        return self.protection[direction]

    def _messages(self, direction: str, payload: bytes) -> bytes:
        out = []
        for raw in split_handshake_messages(payload):
            out.append(self.edit(direction, self.count[direction], raw))
            self.count[direction] += 1
        return b"".join(out)

    def __call__(self, direction: str, data: bytes) -> bytes:
        out = []
        for record in split_records(data):
            if record.content_type == HANDSHAKE:
                record.fragment = self._messages(direction, record.fragment)
                out.append(record.encode())
            elif record.content_type == APPLICATION_DATA and self.epoch[direction] < 2:
                opener, sealer = self._keys(direction)
                content_type, plaintext = opener.open(record.encode()[:5], record.fragment)
                finished = content_type == HANDSHAKE and any(
                    m[0] == FIN for m in split_handshake_messages(plaintext))
                if content_type == HANDSHAKE:
                    plaintext = self._messages(direction, plaintext)
                out.append(sealer.seal(content_type, plaintext))
                if finished:
                    self.epoch[direction] += 1
                    del self.protection[direction]
                    if self.epoch[direction] == 2:
                        self.epoch[direction] = 2
            else:
                out.append(record.encode())
        return b"".join(out)


def _fresh_pair(make_client, make_server):
    return new_client(make_client), new_server(make_server)


def _offsets_to_flip(raw: bytes) -> list[int]:
    """Every byte of a TLS 1.3 handshake message — headers, length prefixes, codes — except the
    inside of long opaque fields (randoms, keys, DER, signatures, verify_data): their first and
    last bytes stand for the rest."""
    tree = dissect_handshake(raw, None, 0, TLS13)
    interior: set[int] = set()
    for _, node in tree.walk():
        if not node.children and node.length > 8:
            interior.update(range(node.offset + 1, node.offset + node.length - 1))
    return [offset for offset in range(len(raw)) if offset not in interior]


def test_a_flipped_byte_in_any_field_of_any_tls13_message_is_caught(make_client, make_server) -> None:
    # Baseline: every handshake message, in order, per direction (deterministic rngs).
    seen: dict[tuple[str, int], bytes] = {}

    def record(direction: str, index: int, raw: bytes) -> bytes:
        seen[(direction, index)] = raw
        return raw

    client, server = _fresh_pair(make_client, make_server)
    client.start()
    pump(client, server, Relay13(client, server, record))
    assert client.state is ClientState.CLIENT_CONNECTED and server.state is ServerState.SERVER_CONNECTED
    assert sorted(raw[0] for raw in seen.values()) == [1, 2, EE, CERT, CV, FIN, FIN]

    cases = [(key, offset) for key, raw in seen.items() for offset in _offsets_to_flip(raw)]
    assert len(cases) > 140 and {seen[key][0] for key, _ in cases} == {1, 2, EE, CERT, CV, FIN}
    for (direction, index), offset in cases:
        def flip(d: str, i: int, raw: bytes, target=(direction, index), at=offset) -> bytes:
            if (d, i) != target:
                return raw
            changed = bytearray(raw)
            changed[at] ^= 0x01
            return bytes(changed)

        client, server = _fresh_pair(make_client, make_server)
        client_events, server_events = Recorder(client), Recorder(server)
        client.start()
        pump(client, server, Relay13(client, server, flip))  # raises if anything but an Alert escaped
        what = (direction, seen[(direction, index)][0], offset)
        victim = server if direction == "c2s" else client
        assert not victim._is_connected(), what
        if victim.failed is None:
            # A longer length: the victim rightly waits for the rest of the message.
            assert victim._handshake_buffer, what
            continue
        assert client_events.alerts_sent or server_events.alerts_sent, what


# -- hypothesis: random records at every state ------------------------------------------------------------


def _genuine_corpus(make_client, make_server) -> dict[str, list[bytes]]:
    client, server = new_client(make_client), new_server(make_server)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)
    return {"s2c": sent(server_events), "c2s": sent(client_events)}


STATES = ["client before ServerHello", "client after ServerHello", "client after EncryptedExtensions",
          "client after Certificate", "client after CertificateVerify", "client connected",
          "server before ClientHello", "server after ClientHello", "server connected"]


def _endpoint_at(state: str, make_client, make_server) -> tuple[Any, list[bytes], list[bytes]]:
    """An endpoint brought to ``state`` by genuine input; the genuine messages still to come."""
    client, server = new_client(make_client), new_server(make_server)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    hello = client.data_to_send()
    if state.startswith("server"):
        if state == "server before ClientHello":
            return server, [], [split_records(hello)[0].fragment]
        server.receive_data(hello)
        client.receive_data(server.data_to_send())
        client.data_to_send()
        later = sent(client_events)[1:]
        if state == "server after ClientHello":
            return server, [], later
        feed_sealed(server, HANDSHAKE, later[-1])
        return server, [], []
    if state == "client before ServerHello":
        server.receive_data(hello)
        return client, [], sent(server_events)
    server.receive_data(hello)
    records = split_records(server.data_to_send())
    client.receive_data(join_records(r for r in records if r.content_type != APPLICATION_DATA))
    flight = sent(server_events)[1:]
    steps = {"client after ServerHello": 0, "client after EncryptedExtensions": 1,
             "client after Certificate": 2, "client after CertificateVerify": 3, "client connected": 4}[state]
    for raw in flight[:steps]:
        feed_sealed(client, HANDSHAKE, raw)
    return client, [], flight[steps:]


@st.composite
def hostile_records(draw: st.DrawFn, corpus: list[bytes]) -> tuple[bool, int, bytes, int]:
    """(sealed?, content type, content, padding)."""
    sealed = draw(st.booleans())
    content_type = draw(st.sampled_from([HANDSHAKE, HANDSHAKE, ALERT, CHANGE_CIPHER_SPEC, APPLICATION_DATA,
                                         0, 99]))
    if content_type == HANDSHAKE:
        kind = draw(st.integers(0, 3))
        if kind == 0 and corpus:
            content = draw(st.sampled_from(corpus))
        elif kind == 1 and corpus:
            raw = bytearray(draw(st.sampled_from(corpus)))
            at = draw(st.integers(0, len(raw) - 1))
            raw[at] ^= draw(st.integers(1, 255))
            content = bytes(raw)
        elif kind == 2:
            msg_type = draw(st.sampled_from([0, 1, 2, 4, 5, 8, 11, 13, 15, 20, 24, 254, 99]))
            content = handshake(msg_type, draw(st.binary(max_size=40)))
        else:
            content = draw(st.binary(max_size=40))
    elif content_type == ALERT:
        content = draw(st.sampled_from([b"\x01\x00", b"\x02\x28", b"\x01\x5a", b"\x01\x28", b"\x02"]))
    elif content_type == CHANGE_CIPHER_SPEC:
        content = draw(st.sampled_from([b"\x01", b"\x02", b"\x01\x01", b""]))
    else:
        content = draw(st.binary(max_size=20))
    return sealed, content_type, content, draw(st.integers(0, 3))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data(), state=st.sampled_from(STATES))
def test_random_records_only_ever_raise_alerts(make_client, make_server, data: st.DataObject,
                                               state: str) -> None:
    endpoint, _, genuine = _endpoint_at(state, make_client, make_server)
    events = Recorder(endpoint)
    connected_before = endpoint._is_connected()
    received_before = len([e for e in events.collect() if type(e).__name__ == "HandshakeMessageReceived"])
    records = data.draw(st.lists(hostile_records(genuine), min_size=1, max_size=6))
    for sealed, content_type, content, padding in records:
        protection = endpoint._records.read_protection
        if sealed and isinstance(protection, RecordProtection13):
            wire = seal_for(endpoint, content + bytes([content_type]) + bytes(padding))
        else:
            wire = struct.pack("!BHH", content_type, 0x0303, len(content)) + content
        endpoint.receive_data(wire)  # never raises
        if endpoint.failed is not None:
            assert endpoint.state in (ClientState.CLIENT_ERROR, ServerState.SERVER_ERROR)
    outcome(endpoint, events)
    if endpoint._is_connected() and not connected_before:
        # Only the genuine remaining messages, in order, may complete the handshake.
        received = [e.raw for e in events.of(HandshakeMessageReceived)][received_before:]
        assert received == genuine[:len(received)] and len(received) == len(genuine), state
