"""Our client against our server (client.py, server.py, _endpoint.py).

The core of it: a man in the middle holding the keys flips one byte in every field of
every handshake message of both flights, and the side that notices must send exactly
the alert the RFCs call for — decode_error for broken structure, illegal_parameter or
handshake_failure for bad choices, decrypt_error for a failed signature or Finished,
bad_record_mac for records that no longer authenticate — and neither side may ever
reach CONNECTED.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from helpers import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    Frame,
    Recorder,
    Relay,
    WireRecord,
    handshake_record,
    join_records,
    pump,
    split_records,
)

from handshake_game.tls import (
    CIPHER_SUITES,
    AlertDescription,
    AlertSent,
    CheckPassed,
    ClientState,
    ConnectionClosed,
    Field,
    HandshakeMessageReceived,
    HandshakeMessageSent,
    KeyExchange,
    NamedGroup,
    ServerConfig,
    ServerState,
    TLSServer,
    TLSUsageError,
    pki,
    suite_by_name,
)
from handshake_game.tls.messages import (
    ClientHello,
    ClientKeyExchange,
    Extension,
    ExtensionType,
    Finished,
    HelloRequest,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    decode_handshake,
    dissect_handshake,
    encode_handshake,
)
from handshake_game.tls.server import ClientAuthentication
from handshake_game.tls.suites import SignatureScheme

D = AlertDescription


def connect(client, server, tap=None) -> tuple[Recorder, Recorder]:
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server, tap)
    return client_events, server_events


def assert_connected(client, server, client_events: Recorder, server_events: Recorder) -> None:
    assert client.state is ClientState.CLIENT_CONNECTED, client_events.alerts_sent
    assert server.state is ServerState.SERVER_CONNECTED, server_events.alerts_sent


def assert_failed(client, server, client_events: Recorder, server_events: Recorder, *,
                  server_finished_first: bool = False) -> None:
    """Both sides in ERROR, and neither got to CONNECTED.

    Except, in TLS 1.2, when the failure is in the server's last flight: the server
    is done (CONNECTED) as soon as it has sent its Finished, and only then hears the
    client's alert.
    """
    assert client.state is ClientState.CLIENT_ERROR
    assert server.state is ServerState.SERVER_ERROR
    assert client_events.completed is None
    assert (server_events.completed is not None) is server_finished_first


# -- every suite completes ------------------------------------------------------------------

SUITE_CASES = [
    pytest.param(s.name, g, id=f"{s.name}-{g.name}" if g else s.name)
    for s in CIPHER_SUITES.values()
    if s.key_exchange is not KeyExchange.DHE  # the game's only: test_weak_dh.py checks they are refused
    for g in ([NamedGroup.x25519, NamedGroup.secp256r1] if s.key_exchange is KeyExchange.ECDHE
              else [None])
]


@pytest.mark.parametrize(("suite", "group"), SUITE_CASES)
def test_every_suite_completes(suite: str, group: NamedGroup | None, make_client, make_server,
                               rsa_server, ecdsa_server) -> None:
    identity = ecdsa_server if "_ECDSA_" in suite else rsa_server
    groups = {"groups": (group,)} if group else {}
    if identity is ecdsa_server and group is NamedGroup.x25519:
        # The P-256 certificate's curve must be listed too (RFC 8422 §5.1); the server still
        # prefers x25519 for the key exchange itself.
        groups = {"groups": (NamedGroup.x25519, NamedGroup.secp256r1)}
    client = make_client(cipher_suites=(suite,), **groups)
    server = make_server(identity)
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)

    for done in (client_events.completed, server_events.completed):
        assert done is not None
        assert done.cipher_suite.name == suite
        assert done.named_group == group
        assert done.extended_master_secret is True
        assert done.version == (0x0304 if suite_by_name(suite).tls13 else 0x0303)
    assert client_events.completed.peer_certificate == identity.certificate
    assert server_events.completed.server_name == "localhost"
    assert client.master_secret == server.master_secret
    assert client.keylog_lines() == server.keylog_lines() != []
    assert {e.name for e in client_events.of(CheckPassed)} >= {"certificate chain", "server Finished"}
    assert "client Finished" in {e.name for e in server_events.of(CheckPassed)}

    payload = bytes(range(256)) * 100  # 25,600 bytes: two records
    client.send_application_data(payload)
    server.send_application_data(b"reply")
    pump(client, server)
    assert server_events.application_data == payload
    assert client_events.application_data == b"reply"


def test_ecdsa_server_with_default_config(make_client, make_server, ecdsa_server) -> None:
    client = make_client(cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",))
    server = make_server(ecdsa_server)
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)


def test_ecdsa_suite_needs_the_certificate_curve_in_supported_groups(
        make_client, make_server, ecdsa_server) -> None:
    # RFC 8422 §5.1: a P-256 certificate is no use to a client that only listed x25519.
    client = make_client(cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",),
                         groups=(NamedGroup.x25519,))
    server = make_server(ecdsa_server)
    connect(client, server)
    assert server.failed is not None
    assert server.failed.description == AlertDescription.handshake_failure


def test_without_extended_master_secret(make_client, make_server) -> None:
    client = make_client(offer_extended_master_secret=False)
    server = make_server()
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)
    assert client_events.completed.extended_master_secret is False
    assert server_events.completed.extended_master_secret is False


def test_server_chooses_by_its_own_preference(make_client, make_server) -> None:
    client = make_client(cipher_suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",
                                        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"))
    server = make_server(cipher_suites=("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                                        "TLS_RSA_WITH_AES_128_GCM_SHA256"))
    client_events, _ = connect(client, server)
    assert client_events.completed.cipher_suite.name == "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"


def test_ecdsa_certificate_cannot_serve_rsa_suites(make_client, make_server, ecdsa_server) -> None:
    client = make_client(cipher_suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",
                                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
    server = make_server(ecdsa_server)
    client_events, server_events = connect(client, server)
    assert server_events.alerts_sent == [D.handshake_failure]
    assert client_events.alerts_received == [(2, D.handshake_failure)]
    assert_failed(client, server, client_events, server_events)


def test_no_common_group(make_client, make_server) -> None:
    client = make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
                         groups=(NamedGroup.secp256r1,))
    server = make_server(groups=(NamedGroup.x25519,))
    client_events, server_events = connect(client, server)
    assert server_events.alerts_sent == [D.handshake_failure]
    assert_failed(client, server, client_events, server_events)


# -- how the bytes arrive does not matter ------------------------------------------------------


def test_bytes_delivered_one_at_a_time(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    for _ in range(10):
        moved = False
        for sender, receiver in ((client, server), (server, client)):
            for byte in sender.data_to_send():
                receiver.receive_data(bytes([byte]))
                moved = True
        if not moved:
            break
    assert_connected(client, server, client_events, server_events)


def coalesce_handshake_records(direction: str, data: bytes) -> bytes:
    """Packs each burst of plaintext handshake records into one record."""
    records = split_records(data)
    merged: list[WireRecord] = []
    for record in records:
        if merged and record.content_type == HANDSHAKE == merged[-1].content_type and (
                record.fragment[:1] != b"\x14"):  # Finished is encrypted: leave it alone
            merged[-1] = WireRecord(HANDSHAKE, record.version, merged[-1].fragment + record.fragment)
        else:
            merged.append(record)
    return join_records(merged)


def fragment_handshake_records(direction: str, data: bytes) -> bytes:
    """Splits every plaintext handshake message across records of at most 7 bytes."""
    out: list[WireRecord] = []
    for record in split_records(data):
        if record.content_type == HANDSHAKE and record.fragment[0] in (1, 2, 11, 12, 14, 16):
            out += [WireRecord(HANDSHAKE, record.version, record.fragment[i : i + 7])
                    for i in range(0, len(record.fragment), 7)]
        else:
            out.append(record)
    return join_records(out)


@pytest.mark.parametrize("tap", [coalesce_handshake_records, fragment_handshake_records])
def test_handshake_messages_span_or_share_records(tap, make_client, make_server) -> None:
    client = make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",))
    server = make_server()
    client_events, server_events = connect(client, server, tap)
    assert_connected(client, server, client_events, server_events)


# -- a byte flipped anywhere in the handshake ---------------------------------------------------

# Fields whose first bytes are a length prefix, and the prefix's size.
LENGTH_PREFIXED = {
    "body": 3, "cipher_suites": 2, "extensions": 2, "extension_data": 2, "server_name_list": 2,
    "named_group_list": 2, "supported_signature_algorithms": 2, "certificate_list": 3,
    "session_id": 1, "compression_methods": 1, "host_name": 2, "ec_point_format_list": 1,
    "renegotiated_connection": 1, "ASN.1Cert": 3, "public": 1, "signature": 2,
    "EncryptedPreMasterSecret": 2, "ecdh_Yc": 1,
}
# Groups that only gather their children (no bytes of their own).
PURE_GROUPS = {"extension", "params"}


@dataclass(frozen=True)
class TamperCase:
    name: str
    suite: str
    group: NamedGroup
    ems: bool

    @property
    def key_exchange(self) -> KeyExchange:
        return suite_by_name(self.suite).key_exchange


TAMPER_CASES = [
    TamperCase("rsa", "TLS_RSA_WITH_AES_256_GCM_SHA384", NamedGroup.x25519, True),
    TamperCase("rsa-no-ems", "TLS_RSA_WITH_AES_128_GCM_SHA256", NamedGroup.x25519, False),
    TamperCase("ecdhe-x25519", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", NamedGroup.x25519, True),
    TamperCase("ecdhe-x25519-no-ems", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", NamedGroup.x25519,
               False),
    TamperCase("ecdhe-secp256r1", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
               NamedGroup.secp256r1, True),
]


@dataclass(frozen=True)
class Target:
    """One byte to flip: in which message, which field, first or last byte of it."""

    direction: str  # "c2s" or "s2c"
    message_index: int  # among the handshake messages sent in that direction
    message: str
    field_index: int  # position of the field in the dissection's depth-first walk
    field: str
    extension: str | None  # the extension the field belongs to, if any
    position: str  # "first" (XOR 0xff) or "last" (XOR 0x01)

    def __str__(self) -> str:
        where = f"{self.extension}." if self.extension else ""
        return f"{self.direction} {self.message} {where}{self.field} ({self.position} byte)"


def walk_with_extension(tree: Field) -> Iterator[tuple[Field, str | None]]:
    def walk(field: Field, extension: str | None) -> Iterator[tuple[Field, str | None]]:
        yield field, extension
        for child in field.children:
            yield from walk(child, field.value if field.name == "extension" else extension)

    return walk(tree, None)


def targets_for(messages: dict[str, list[tuple[str, bytes]]], kx: KeyExchange) -> list[Target]:
    targets = []
    for direction, sent in messages.items():
        for index, (name, raw) in enumerate(sent):
            tree = dissect_handshake(raw, kx)
            for field_index, (field, extension) in enumerate(walk_with_extension(tree)):
                if field is tree or field.name in PURE_GROUPS:
                    continue
                positions = ["first"]
                if not field.children and field.name != "body":
                    positions.append("last")
                for position in positions:
                    targets.append(Target(direction, index, name, field_index, field.name,
                                          extension, position))
    return targets


def flip(target: Target, kx: KeyExchange):
    """An edit for :class:`Relay` that flips the target byte (re-sealing if encrypted)."""
    seen = {"c2s": 0, "s2c": 0}

    def edit(frame: Frame) -> list[Frame]:
        if frame.content_type != HANDSHAKE:
            return [frame]
        index = seen[frame.direction]
        seen[frame.direction] += 1
        if frame.direction != target.direction or index != target.message_index:
            return [frame]
        assert len(frame.payload) == 4 + int.from_bytes(frame.payload[1:4], "big"), (
            "expected one handshake message per record")
        fields = [f for _, f in dissect_handshake(frame.payload, kx).walk()]
        field = fields[target.field_index]
        assert field.name == target.field
        offset = field.offset if target.position == "first" else field.offset + field.length - 1
        payload = bytearray(frame.payload)
        payload[offset] ^= 0xFF if target.position == "first" else 0x01
        frame.payload = bytes(payload)
        return [frame]

    return edit


def expected_outcome(case: TamperCase, target: Target) -> tuple[str, AlertDescription]:
    """Which side must notice the flipped byte, and the alert it must send.

    The rules, in the order they apply:

    * msg_type: a type that is unknown, or not the one expected now: unexpected_message.
    * the first byte of any length prefix (XOR 0xff makes it overrun): decode_error, as
      does any change to an empty vector's length byte.
    * a value the receiver checks (version, suite, curve, signature…): its own alert.
    * anything else is only caught by Finished. The server checks the client's Finished
      first. If the change altered the keys (a random, the premaster, or — with the
      extended master secret — anything in the transcript), the Finished record itself
      no longer authenticates: bad_record_mac. Otherwise the keys agree but the
      transcripts do not: decrypt_error.
    """
    receiver = "server" if target.direction == "c2s" else "client"
    field, first = target.field, target.position == "first"
    ecdhe = case.key_exchange is KeyExchange.ECDHE
    ext = target.extension

    def caught_by_finished(changes_keys: bool = False) -> tuple[str, AlertDescription]:
        return ("server", D.bad_record_mac if changes_keys or case.ems else D.decrypt_error)

    if field == "msg_type":
        return receiver, D.unexpected_message
    prefix = LENGTH_PREFIXED.get(field)
    if prefix is not None and first:
        return receiver, D.decode_error

    message = target.message
    if message == "ClientHello":
        if field == "client_version":
            # 0xfc03 is a newer version: fine, answered with TLS 1.2 (and an RSA
            # premaster that carries 0x0303 no longer matches). 0x0302 is too old.
            return ("server", D.protocol_version) if not first else caught_by_finished(not ecdhe)
        if field == "random":
            # ECDHE: the server signs client_random; the client's check fails first.
            return ("client", D.decrypt_error) if ecdhe else caught_by_finished(True)
        if field == "session_id":
            return receiver, D.decode_error  # empty: its length byte becomes 1
        if field == "cipher_suite":
            return receiver, D.handshake_failure  # the only suite offered is gone
        if field == "compression_methods":
            return receiver, D.illegal_parameter  # null compression not offered
        if field == "extension_type":
            if ext == "supported_groups" and not first:
                return receiver, D.decode_error  # now a second ec_point_formats
            if ext == "ec_point_formats" and not first:
                return receiver, D.decode_error  # now a second supported_groups
            if ext == "signature_algorithms":
                # Without it the server may only assume SHA-1 (RFC 5246 §7.4.1.4.1),
                # which it will not sign with: no ECDHE suite is possible.
                return (receiver, D.handshake_failure) if ecdhe else caught_by_finished()
            if ext == "extended_master_secret":
                return caught_by_finished() if not case.ems else ("server", D.decrypt_error)
            return caught_by_finished()  # server_name, renegotiation_info: ignored if unknown
        if field == "extension_data" or field == "renegotiated_connection":
            return receiver, D.decode_error  # empty contents: any length is too long
        if field == "entry" and ext == "supported_groups":
            return receiver, D.handshake_failure  # the only group offered is gone
        if field == "ec_point_format_list":
            return receiver, D.illegal_parameter  # uncompressed, the only format, is gone (RFC 8422)
        if field == "host_name" and first:
            return receiver, D.illegal_parameter  # 'l' ^ 0xff is not ASCII (RFC 6066 §3)
        return caught_by_finished()  # the SNI's last letter, signature schemes

    if message == "ServerHello":
        if field == "server_version":
            return receiver, D.protocol_version
        if field == "random":
            return ("client", D.decrypt_error) if ecdhe else caught_by_finished(True)
        if field in ("session_id", "renegotiated_connection"):
            return receiver, D.decode_error
        if field in ("cipher_suite", "compression_method"):
            return receiver, D.illegal_parameter  # not offered
        if field == "extension_type":
            if ext == "ec_point_formats" and not first:
                # supported_groups was offered; its contents do not parse as one.
                return receiver, D.decode_error
            return receiver, D.unsupported_extension  # never offered
        if field == "extension_data":
            return receiver, D.decode_error
        if field == "ec_point_format_list":
            return caught_by_finished()
    if message == "Certificate" and field == "ASN.1Cert":
        return receiver, D.bad_certificate  # the CA's signature no longer verifies
    if message == "ServerKeyExchange":
        if field == "curve_type":
            return receiver, D.decode_error  # only named_curve (3) is defined
        if field == "named_curve":
            return receiver, D.illegal_parameter  # not offered
        if field == "signature_algorithm":
            # 0x0804 -> 0xf704 was never offered; 0x0804 -> 0x0805 was, but the
            # signature was made with the other hash.
            return receiver, D.illegal_parameter if first else D.decrypt_error
        return receiver, D.decrypt_error  # public key or signature: the signature fails
    if message == "ClientKeyExchange":
        if case.group is NamedGroup.secp256r1:
            return receiver, D.illegal_parameter  # no longer a point on the curve
        return caught_by_finished(True)  # another premaster (RSA: a random one, §7.4.7.1)
    if message == "Finished":
        return receiver, D.decrypt_error
    raise AssertionError(f"no rule for {target}")


def reference_messages(case: TamperCase, make_client, make_server) -> dict[str, list[tuple[str, bytes]]]:
    client, server = tamper_endpoints(case, make_client, make_server)
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)
    return {direction: [(type(e.message).__name__, e.raw) for e in events.of(HandshakeMessageSent)]
            for direction, events in (("c2s", client_events), ("s2c", server_events))}


def tamper_endpoints(case: TamperCase, make_client, make_server):
    client = make_client(cipher_suites=(case.suite,), groups=(case.group,),
                         offer_extended_master_secret=case.ems)
    server = make_server(cipher_suites=(case.suite,), groups=(case.group,))
    return client, server


@pytest.mark.parametrize("case", TAMPER_CASES, ids=lambda c: c.name)
def test_flipped_byte_in_any_handshake_field_is_caught(case: TamperCase, make_client,
                                                       make_server) -> None:
    messages = reference_messages(case, make_client, make_server)
    expected_names = {"c2s": ["ClientHello", "ClientKeyExchange", "Finished"],
                      "s2c": ["ServerHello", "Certificate", "ServerHelloDone", "Finished"]}
    if case.key_exchange is KeyExchange.ECDHE:
        expected_names["s2c"].insert(2, "ServerKeyExchange")
    assert {d: [name for name, _ in m] for d, m in messages.items()} == expected_names

    targets = targets_for(messages, case.key_exchange)
    assert len(targets) > 60
    assert {(t.direction, t.message_index) for t in targets} == {
        (d, i) for d, names in expected_names.items() for i in range(len(names))}
    mismatches = []
    for target in targets:
        client, server = tamper_endpoints(case, make_client, make_server)
        client_events, server_events = connect(client, server,
                                               Relay(client, server, flip(target, case.key_exchange)))
        sent = {"client": client_events.alerts_sent, "server": server_events.alerts_sent}
        side, alert = expected_outcome(case, target)
        other = "server" if side == "client" else "client"
        outcome = f"client sent {sent['client']}, server sent {sent['server']}; " \
                  f"states {client.state.name}, {server.state.name}"
        if sent[side] != [alert] or sent[other] != []:
            mismatches.append(f"{target}: expected {side} to send {alert.name}; {outcome}")
        elif client.state is not ClientState.CLIENT_ERROR or server.state is not ServerState.SERVER_ERROR:
            mismatches.append(f"{target}: not both in ERROR; {outcome}")
        elif (2, alert) not in (server_events if side == "client" else client_events).alerts_received:
            mismatches.append(f"{target}: the peer never received the {alert.name} alert")
        elif client_events.completed is not None or (server_events.completed is not None) != (
                target.direction == "s2c" and target.message == "Finished"):
            # Only a change to the server's own Finished comes after the server is done.
            mismatches.append(f"{target}: a side reported HandshakeCompleted; {outcome}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("direction", ["c2s", "s2c"])
@pytest.mark.parametrize("suite", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"])
@pytest.mark.parametrize("position", [0, 7, 8, -1])
def test_flipped_ciphertext_of_finished_is_bad_record_mac(direction: str, suite: str, position: int,
                                                          make_client, make_server) -> None:
    client = make_client(cipher_suites=(suite,))
    server = make_server()

    def edit(frame: Frame) -> list[Frame]:
        if frame.direction == direction and frame.protected and frame.content_type == HANDSHAKE:
            frame.flip_sealed = position
        return [frame]

    client_events, server_events = connect(client, server, Relay(client, server, edit))
    receiver, sender = (server_events, client_events) if direction == "c2s" else (
        client_events, server_events)
    assert receiver.alerts_sent == [D.bad_record_mac]
    assert sender.alerts_sent == []
    assert client.state is ClientState.CLIENT_ERROR and server.state is ServerState.SERVER_ERROR
    assert client_events.completed is None


@pytest.mark.parametrize("direction", ["c2s", "s2c"])
def test_flipped_change_cipher_spec_is_decode_error(direction: str, make_client, make_server) -> None:
    client, server = make_client(), make_server()

    def edit(frame: Frame) -> list[Frame]:
        if frame.direction == direction and frame.content_type == CHANGE_CIPHER_SPEC:
            frame.payload = b"\x02"
        return [frame]

    client_events, server_events = connect(client, server, Relay(client, server, edit))
    receiver = server_events if direction == "c2s" else client_events
    assert receiver.alerts_sent == [D.decode_error]
    assert_failed(client, server, client_events, server_events,
                  server_finished_first=direction == "s2c")


def test_flipped_application_data_is_bad_record_mac(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    armed = {"flip": False}

    def edit(frame: Frame) -> list[Frame]:
        if armed["flip"] and frame.content_type == APPLICATION_DATA:
            frame.flip_sealed = -3
        return [frame]

    relay = Relay(client, server, edit)
    client_events, server_events = connect(client, server, relay)
    assert_connected(client, server, client_events, server_events)
    armed["flip"] = True
    client.send_application_data(b"transfer 100 to alice")
    pump(client, server, relay)
    assert server_events.alerts_sent == [D.bad_record_mac]
    assert server_events.application_data == b""
    assert server.state is ServerState.SERVER_ERROR
    assert client.state is ClientState.CLIENT_ERROR  # it received the fatal alert


# -- the DESIGN's attack scenarios ---------------------------------------------------------------


@pytest.mark.parametrize("ems", [True, False], ids=["extended_master_secret", "classic"])
def test_downgrade_by_stripping_suites_is_caught(ems: bool, make_client, make_server) -> None:
    """The eavesdropper deletes the ECDHE suites from the ClientHello (forward secrecy lost)."""
    client = make_client(offer_extended_master_secret=ems)  # offers ECDHE and RSA suites
    server = make_server()
    stripped = []

    def strip_ecdhe(frame: Frame) -> list[Frame]:
        if frame.direction == "c2s" and frame.content_type == HANDSHAKE and frame.payload[0] == 1:
            raw = frame.payload
            session_id_end = 4 + 2 + 32 + 1 + raw[38]
            count = int.from_bytes(raw[session_id_end : session_id_end + 2], "big")
            suites = [raw[session_id_end + 2 + i : session_id_end + 4 + i] for i in range(0, count, 2)]
            kept = [s for s in suites if s[0] != 0xC0 and s[0] != 0xCC]
            stripped.extend(s for s in suites if s not in kept)
            body = (raw[4:session_id_end] + (2 * len(kept)).to_bytes(2, "big") + b"".join(kept)
                    + raw[session_id_end + 2 + count :])
            frame.payload = b"\x01" + len(body).to_bytes(3, "big") + body
        return [frame]

    client_events, server_events = connect(client, server, Relay(client, server, strip_ecdhe))
    assert stripped, "the ClientHello offered ECDHE suites"
    # The server was fooled into RSA key exchange ...
    chosen = [e.message.cipher_suite for e in server_events.of(HandshakeMessageSent)
              if isinstance(e.message, ServerHello)]
    assert suite_by_name("TLS_RSA_WITH_AES_128_GCM_SHA256").code in chosen
    # ... but the client's Finished (over the real ClientHello) gives it away.
    assert server_events.alerts_sent == [D.bad_record_mac if ems else D.decrypt_error]
    assert_failed(client, server, client_events, server_events)


@pytest.mark.parametrize("suite", ["TLS_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
def test_replayed_client_flight_from_an_old_session_fails(suite: str, make_client, make_server) -> None:
    old_client = make_client(cipher_suites=(suite,))
    old_server = make_server()
    recorded: list[bytes] = []

    def record(direction: str, data: bytes) -> bytes:
        if direction == "c2s":
            recorded.append(data)
        return data

    connect(old_client, old_server, record)
    old_flight = recorded[1]  # ClientKeyExchange, ChangeCipherSpec, Finished

    client, server = make_client(cipher_suites=(suite,)), make_server()
    server_events = Recorder(server)
    client.start()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    client.data_to_send()  # the real second flight is dropped ...
    server.receive_data(old_flight)  # ... and the old one replayed
    # Fresh randoms mean fresh keys: the old Finished record does not even authenticate.
    assert server_events.alerts_sent == [D.bad_record_mac]
    assert server.state is ServerState.SERVER_ERROR


def test_invalid_x25519_share_is_illegal_parameter(make_client, make_server) -> None:
    client = make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
                         groups=(NamedGroup.x25519,))
    server = make_server()

    def zero_share(frame: Frame) -> list[Frame]:
        if frame.direction == "c2s" and frame.content_type == HANDSHAKE and frame.payload[0] == 0x10:
            frame.payload = encode_handshake(ClientKeyExchange(KeyExchange.ECDHE, bytes(32)))
        return [frame]

    client_events, server_events = connect(client, server, Relay(client, server, zero_share))
    # The all-zero point gives an all-zero shared secret (RFC 7748 §6.1): refused.
    assert server_events.alerts_sent == [D.illegal_parameter]
    assert_failed(client, server, client_events, server_events)


# -- ECDSA in TLS 1.2: a scheme names a hash, not a curve ------------------------------------------


P384 = SignatureScheme.ecdsa_secp384r1_sha384


def test_tls12_ecdsa_signature_takes_any_advertised_hash_with_any_curve(make_client, make_server,
                                                                        ecdsa_server) -> None:
    # RFC 5246 §7.4.1.4.1, RFC 8422 §5.10: in TLS 1.2, 0x0503 is (sha384, ecdsa), whatever the
    # curve. A P-256 server key signs the ServerKeyExchange with SHA-384 for a client that takes
    # only that, as tlslite-ng's server does; the client verifies it.
    client = make_client(cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",),
                         signature_schemes=(P384,))
    server = make_server(ecdsa_server)
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)
    (exchange,) = [e.message for e in client_events.of(HandshakeMessageReceived)
                   if isinstance(e.message, ServerKeyExchange)]
    assert exchange.signature_scheme == P384
    assert ecdsa_server.private_key.curve.name == "secp256r1"


def test_tls12_client_certificate_verify_takes_any_advertised_hash_with_any_curve(
        make_client, make_server, root_ca, issued_at) -> None:
    # The same for a P-256 client key signing CertificateVerify with 0x0503 (tlslite-ng's client
    # picks the strongest hash both sides list): the server verifies it.
    key = pki.generate_ec_key()
    cert = pki.issue_certificate(root_ca, public_key=key.public_key(), common_name="student",
                                 names=["student.handshake.test"], usage=pki.Usage.CLIENT, now=issued_at)
    client = make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
                         signature_schemes=(SignatureScheme.rsa_pss_rsae_sha256, P384),
                         certificate_chain=(cert.public_bytes(Encoding.DER),), private_key=key)
    server = make_server(client_auth=ClientAuthentication.REQUIRED, client_trust_store=[root_ca.certificate])
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)
    assert [m.signature_scheme for m in (e.message for e in server_events.of(HandshakeMessageReceived))
            if type(m).__name__ == "CertificateVerify"] == [P384]
    assert "client CertificateVerify" in {e.name for e in server_events.of(CheckPassed)}


def test_tls13_still_binds_the_ecdsa_curve_to_its_hash(make_client, make_server, ecdsa_server) -> None:
    # RFC 8446 §4.2.3: in TLS 1.3 ecdsa_secp384r1_sha384 means P-384; a P-256 key cannot serve it.
    client = make_client(cipher_suites=("TLS_AES_128_GCM_SHA256",), versions=(0x0304,),
                         signature_schemes=(P384,))
    server = make_server(ecdsa_server)
    client_events, server_events = connect(client, server)
    assert server_events.alerts_sent == [D.handshake_failure]


# -- the server's checks of a TLS 1.2 ClientHello ---------------------------------------------------


def tls12_client_hello(make_client, **config) -> ClientHello:
    client = make_client(**config)
    client.start()
    hello = decode_handshake(split_records(client.data_to_send())[0].fragment)
    assert isinstance(hello, ClientHello)
    return hello


def with_extensions(hello: ClientHello, *extensions: Extension, drop: tuple[int, ...] = ()) -> ClientHello:
    replaced = {e.type for e in extensions} | set(drop)
    kept = tuple(e for e in hello.extensions or () if e.type not in replaced)
    return dataclasses.replace(hello, extensions=(*kept, *extensions))


def sni_extension(*host_names: bytes) -> Extension:
    entries = b"".join(b"\x00" + len(n).to_bytes(2, "big") + n for n in host_names)
    return Extension(ExtensionType.server_name, len(entries).to_bytes(2, "big") + entries)


def server_answer(make_server, hello: ClientHello) -> tuple[TLSServer, Recorder]:
    server = make_server()
    events = Recorder(server)
    server.receive_data(handshake_record(encode_handshake(hello)))
    return server, events


TLS12_CLIENT_HELLO_EDITS = {
    # RFC 7627 §5.1: "The "extension_data" field of this extension SHALL be empty."
    "extended_master_secret with a body": (
        lambda h: with_extensions(h, Extension(ExtensionType.extended_master_secret, b"\x00")),
        D.decode_error),
    # RFC 8422 §5.1.2: a client that does ECC must list uncompressed (0).
    "ec_point_formats [ansiX962_compressed_prime]": (
        lambda h: with_extensions(h, Extension(ExtensionType.ec_point_formats, b"\x01\x01")),
        D.illegal_parameter),
    # RFC 6066 §3: one host_name, a DNS name in ASCII.
    "server_name with ESC": (lambda h: with_extensions(h, sni_extension(b"local\x1b[31mhost")),
                             D.illegal_parameter),
    "server_name with NUL": (lambda h: with_extensions(h, sni_extension(b"localhos\x00t")),
                             D.illegal_parameter),
    "server_name with UTF-8": (lambda h: with_extensions(h, sni_extension(b"localho\xc4\x85st")),
                               D.illegal_parameter),
    "two host_names": (lambda h: with_extensions(h, sni_extension(b"localhost", b"www.localhost")),
                       D.illegal_parameter),
    "empty host_name": (lambda h: with_extensions(h, sni_extension(b"")), D.decode_error),
}


@pytest.mark.parametrize("edit, alert", list(TLS12_CLIENT_HELLO_EDITS.values()),
                         ids=list(TLS12_CLIENT_HELLO_EDITS))
def test_server_checks_the_tls12_client_hello(make_client, make_server, edit, alert: int) -> None:
    server, events = server_answer(make_server, edit(tls12_client_hello(make_client)))
    assert events.alerts_sent == [alert]
    assert server.state is ServerState.SERVER_ERROR


def test_server_takes_ec_point_formats_that_list_uncompressed_among_others(make_client, make_server) -> None:
    hello = with_extensions(tls12_client_hello(make_client),
                            Extension(ExtensionType.ec_point_formats, b"\x03\x01\x02\x00"))
    server, events = server_answer(make_server, hello)
    assert events.alerts_sent == [] and server.state is ServerState.SERVER_EXPECT_CLIENT_KEY_EXCHANGE


def test_server_names_a_missing_signature_algorithms_as_the_reason(make_client, make_server) -> None:
    # RFC 5246 §7.4.1.4.1: without signature_algorithms the client verifies SHA-1 only, which this
    # server does not sign with; the ECDHE suites the client offered cannot be served. The alert
    # is handshake_failure, and the reason given is that one, not "no cipher suite in common".
    hello = with_extensions(tls12_client_hello(
        make_client, cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",)),
        drop=(ExtensionType.signature_algorithms,))
    server, events = server_answer(make_server, hello)
    (sent,) = events.of(AlertSent)
    assert sent.description == D.handshake_failure
    assert "no signature_algorithms" in sent.reason and "SHA-1" in sent.reason
    assert "no cipher suite in common" not in sent.reason
    # With no suite in common at all, that is what it says.
    _, events = server_answer(make_server, dataclasses.replace(hello, cipher_suites=(0x002F,)))
    assert [a.reason for a in events.of(AlertSent)] == ["no cipher suite in common with the client"]


# -- warning alerts are tolerated, but not without end ------------------------------------------------


WARNING_NO_RENEGOTIATION = join_records([WireRecord(ALERT, 0x0303, b"\x01\x64")])


def test_four_warning_alerts_in_a_row_are_tolerated_and_the_fifth_is_not(make_client, make_server) -> None:
    # As OpenSSL (MAX_WARN_ALERT_COUNT): a warning changes nothing, so a peer could send them
    # without end; five in a row, with no other record between, are unexpected_message.
    client, server = make_client(), make_server()
    server_events = Recorder(server)
    client.start()
    server.receive_data(client.data_to_send() + WARNING_NO_RENEGOTIATION * 4)
    assert server_events.alerts_sent == [] and server.failed is None
    server.receive_data(WARNING_NO_RENEGOTIATION)
    assert server_events.alerts_sent == [D.unexpected_message]
    assert server.state is ServerState.SERVER_ERROR


def test_the_warning_alert_count_starts_again_after_another_record(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    server.receive_data(WARNING_NO_RENEGOTIATION * 4 + client.data_to_send() + WARNING_NO_RENEGOTIATION * 4)
    client.receive_data(WARNING_NO_RENEGOTIATION * 4 + server.data_to_send())
    pump(client, server)
    assert_connected(client, server, client_events, server_events)


# -- messages out of order ------------------------------------------------------------------------


def drop_handshake(direction: str, index: int):
    seen = {"c2s": 0, "s2c": 0}

    def edit(frame: Frame) -> list[Frame]:
        if frame.content_type == HANDSHAKE and frame.direction == direction:
            seen[direction] += 1
            if seen[direction] - 1 == index:
                return []
        return [frame]

    return edit


def duplicate(direction: str, content_type: int, first_byte: int | None = None):
    def edit(frame: Frame) -> list[Frame]:
        if frame.direction == direction and frame.content_type == content_type and (
                first_byte is None or frame.payload[0] == first_byte):
            return [frame, Frame(frame.direction, frame.content_type, frame.payload, frame.protected)]
        return [frame]

    return edit


def insert_before(direction: str, first_byte: int, content_type: int, payload: bytes):
    def edit(frame: Frame) -> list[Frame]:
        if (frame.direction == direction and frame.content_type == HANDSHAKE
                and frame.payload[0] == first_byte):
            return [Frame(direction, content_type, payload, frame.protected), frame]
        return [frame]

    return edit


def drop_change_cipher_spec(direction: str):
    """Drops ChangeCipherSpec and sends the Finished that follows in the clear."""

    def edit(frame: Frame) -> list[Frame]:
        if frame.direction == direction and frame.content_type == CHANGE_CIPHER_SPEC:
            return []
        if frame.direction == direction and frame.content_type == HANDSHAKE and frame.protected:
            frame.protected = False
        return [frame]

    edit.__name__ = f"drop_{'client' if direction == 'c2s' else 'server'}_ccs"
    return edit


OUT_OF_ORDER = [
    pytest.param(drop_handshake("s2c", 1), "client", id="Certificate missing"),
    pytest.param(drop_handshake("s2c", 2), "client", id="ServerKeyExchange missing"),
    pytest.param(drop_handshake("s2c", 0), "client", id="ServerHello missing"),
    pytest.param(duplicate("c2s", HANDSHAKE, 1), "server", id="ClientHello twice"),
    pytest.param(duplicate("s2c", HANDSHAKE, 2), "client", id="ServerHello twice"),
    pytest.param(insert_before("c2s", 16, CHANGE_CIPHER_SPEC, b"\x01"), "server",
                 id="early ChangeCipherSpec (CVE-2014-0224)"),
    pytest.param(insert_before("s2c", 12, CHANGE_CIPHER_SPEC, b"\x01"), "client",
                 id="ChangeCipherSpec before ServerKeyExchange"),
    pytest.param(insert_before("c2s", 1, APPLICATION_DATA, b"GET /"), "server",
                 id="application data before the handshake"),
    pytest.param(insert_before("s2c", 11, HANDSHAKE, encode_handshake(ServerHelloDone())), "client",
                 id="ServerHelloDone before Certificate"),
    pytest.param(drop_change_cipher_spec("c2s"), "server", id="client Finished without ChangeCipherSpec"),
    pytest.param(drop_change_cipher_spec("s2c"), "client", id="server Finished without ChangeCipherSpec"),
]


@pytest.mark.parametrize(("edit", "receiver"), OUT_OF_ORDER)
def test_message_out_of_order_is_unexpected_message(edit, receiver: str, make_client,
                                                    make_server) -> None:
    client = make_client(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",))
    server = make_server()
    client_events, server_events = connect(client, server, Relay(client, server, edit))
    notices, peer = (client_events, server_events) if receiver == "client" else (
        server_events, client_events)
    assert notices.alerts_sent == [D.unexpected_message]
    assert peer.alerts_sent == []
    assert (2, D.unexpected_message) in peer.alerts_received
    assert_failed(client, server, client_events, server_events,
                  server_finished_first=edit.__name__ == "drop_server_ccs")


@pytest.mark.parametrize("before", [2, 11, 14], ids=["ServerHello", "Certificate", "ServerHelloDone"])
def test_hello_request_during_the_handshake_is_ignored(before: int, make_client, make_server) -> None:
    # RFC 5246 §7.4.1.1: ignored while negotiating, and not part of the transcript —
    # otherwise the Finished messages would not match.
    client, server = make_client(), make_server()
    edit = insert_before("s2c", before, HANDSHAKE, encode_handshake(HelloRequest()))
    client_events, server_events = connect(client, server, Relay(client, server, edit))
    assert_connected(client, server, client_events, server_events)
    assert client_events.alerts_sent == []


def test_hello_request_with_a_body_is_decode_error(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    edit = insert_before("s2c", 2, HANDSHAKE, bytes.fromhex("0000000100"))
    client_events, server_events = connect(client, server, Relay(client, server, edit))
    assert client_events.alerts_sent == [D.decode_error]
    assert_failed(client, server, client_events, server_events)


def test_hello_request_sent_to_a_server(make_server) -> None:
    server = make_server()
    events = Recorder(server)
    server.receive_data(handshake_record(encode_handshake(HelloRequest())))
    assert events.alerts_sent == [D.unexpected_message]


def test_server_hello_sent_to_a_server(make_server) -> None:
    server = make_server()
    events = Recorder(server)
    hello = ServerHello(0x0303, bytes(32), b"", 0x009C, 0, None)
    server.receive_data(handshake_record(encode_handshake(hello)))
    assert events.alerts_sent == [D.unexpected_message]
    # The alert goes out in the clear: level fatal(2), unexpected_message(10).
    assert server.data_to_send() == bytes.fromhex("1503030002020a")
    assert server.state is ServerState.SERVER_ERROR


def test_unknown_record_type_is_unexpected_message(make_server) -> None:
    server = make_server()
    events = Recorder(server)
    server.receive_data(WireRecord(99, 0x0303, b"\x00").encode())
    assert events.alerts_sent == [D.unexpected_message]


@pytest.mark.parametrize("content_type", [HANDSHAKE, CHANGE_CIPHER_SPEC])
def test_handshake_or_change_cipher_spec_after_connect_is_unexpected(content_type: int, make_client,
                                                                      make_server) -> None:
    client, server = make_client(), make_server()
    # A second Finished, or a second ChangeCipherSpec, once the handshake is over.
    payload = encode_handshake(Finished(bytes(12))) if content_type == HANDSHAKE else b"\x01"
    inject = {"armed": False}

    def edit(frame: Frame) -> list[Frame]:
        if inject["armed"] and frame.direction == "c2s" and frame.content_type == APPLICATION_DATA:
            return [Frame("c2s", content_type, payload, True), frame]
        return [frame]

    client_events, server_events = connect(client, server, relay := Relay(client, server, edit))
    assert_connected(client, server, client_events, server_events)
    inject["armed"] = True
    client.send_application_data(b"data")
    pump(client, server, relay)
    assert server_events.alerts_sent == [D.unexpected_message]
    assert server.state is ServerState.SERVER_ERROR
    assert server_events.application_data == b""


# -- refusing the server's certificate -----------------------------------------------------------


@pytest.mark.parametrize(("setup", "alert", "reason"), [
    ("untrusted CA", D.unknown_ca, "not issued by a CA the client trusts"),
    ("empty trust store", D.unknown_ca, "not issued by a CA the client trusts"),
    ("wrong host name", D.certificate_unknown, "for a different name"),
    ("expired", D.certificate_expired, "has expired"),
    ("not yet valid", D.certificate_expired, "not valid yet"),
    ("self-signed", D.unknown_ca, "self-signed"),
])
def test_client_refuses_certificate(setup: str, alert: AlertDescription, reason: str, make_client,
                                    make_server, rogue_server, root_ca, issued_at,
                                    server_key) -> None:
    identity, config, now = None, {}, None
    if setup == "untrusted CA":
        identity = rogue_server
    elif setup == "empty trust store":
        config = {"trust_store": []}
    elif setup == "wrong host name":
        config = {"server_name": "www.example.org"}
    elif setup == "expired":
        now = issued_at + datetime.timedelta(days=91)
    elif setup == "not yet valid":
        now = issued_at - datetime.timedelta(days=1)
    client = make_client(now=(lambda: now) if now else None, **config)
    if setup == "self-signed":
        self_signed = pki.create_root_ca("localhost", issued_at, key=server_key)
        der = self_signed.certificate.public_bytes(Encoding.DER)
        server = TLSServer(ServerConfig((der,), server_key))
    else:
        server = make_server(identity)
    client_events, server_events = connect(client, server)
    assert client_events.alerts_sent == [alert]
    assert reason in client_events.of(AlertSent)[0].reason
    assert server_events.alerts_received == [(2, alert)]
    assert_failed(client, server, client_events, server_events)
    assert client.peer_certificate is None


def test_insecure_client_accepts_any_certificate(make_client, make_server, rogue_server) -> None:
    client = make_client(trust_store=None)
    server = make_server(rogue_server)
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)
    assert [e.detail for e in client_events.of(CheckPassed) if e.name == "certificate chain"] == [
        "not checked (--insecure)"]


def test_certificate_checked_at_the_clients_clock(make_client, make_server, issued_at) -> None:
    # Valid on day 89 of its 90: the clock passed in is the one used.
    client = make_client(now=lambda: issued_at + datetime.timedelta(days=89))
    server = make_server()
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)


# -- the API refuses what the state does not allow --------------------------------------------


def test_application_data_before_the_handshake_is_a_usage_error(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    with pytest.raises(TLSUsageError):
        client.send_application_data(b"too early")
    with pytest.raises(TLSUsageError):
        server.send_application_data(b"too early")
    client.start()
    with pytest.raises(TLSUsageError):
        client.send_application_data(b"still too early")
    with pytest.raises(TLSUsageError):
        client.start()


def test_closed_connection_refuses_data(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    client_events, server_events = connect(client, server)
    client.close()
    pump(client, server)
    assert server_events.of(ConnectionClosed) == [ConnectionClosed(by_peer=True)]
    assert server_events.alerts_received == [(1, D.close_notify)]
    with pytest.raises(TLSUsageError):
        client.send_application_data(b"after close")
    with pytest.raises(TLSUsageError):
        server.send_application_data(b"after close")


def test_failed_endpoint_ignores_further_input(make_client, make_server) -> None:
    server = make_server()
    events = Recorder(server)
    server.receive_data(b"\x16\x03\x03\x00\x04\x63\x00\x00\x00")  # unknown handshake type
    assert events.alerts_sent == [D.unexpected_message]
    server.data_to_send()
    client = make_client()
    client.start()
    server.receive_data(client.data_to_send())
    assert server.data_to_send() == b""
    assert events.collect()[-1].description == D.unexpected_message  # nothing new
    with pytest.raises(TLSUsageError):
        server.send_application_data(b"x")


# -- renegotiation is refused, politely -------------------------------------------------------


def test_client_hello_after_the_handshake_gets_no_renegotiation(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    another_client = make_client()
    another_client.start()
    (hello_record,) = split_records(another_client.data_to_send())
    state = {"inject": False}

    def edit(frame: Frame) -> list[Frame]:
        if state["inject"] and frame.direction == "c2s" and frame.content_type == APPLICATION_DATA:
            state["inject"] = False
            return [Frame("c2s", HANDSHAKE, hello_record.fragment, True), frame]
        return [frame]

    relay = Relay(client, server, edit)
    client_events, server_events = connect(client, server, relay)
    state["inject"] = True
    client.send_application_data(b"one")
    pump(client, server, relay)
    assert client_events.alerts_received == [(1, D.no_renegotiation)]
    assert server_events.alerts_sent == []
    assert_connected(client, server, client_events, server_events)
    client.send_application_data(b"two")
    server.send_application_data(b"three")
    pump(client, server, relay)
    assert server_events.application_data == b"onetwo"
    assert client_events.application_data == b"three"


def test_hello_request_after_the_handshake_gets_no_renegotiation(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    state = {"inject": False}

    def edit(frame: Frame) -> list[Frame]:
        if state["inject"] and frame.direction == "s2c" and frame.content_type == APPLICATION_DATA:
            state["inject"] = False
            return [Frame("s2c", HANDSHAKE, encode_handshake(HelloRequest()), True), frame]
        return [frame]

    relay = Relay(client, server, edit)
    client_events, server_events = connect(client, server, relay)
    state["inject"] = True
    server.send_application_data(b"one")
    pump(client, server, relay)
    assert server_events.alerts_received == [(1, D.no_renegotiation)]
    assert client_events.alerts_sent == []
    assert_connected(client, server, client_events, server_events)
    server.send_application_data(b"two")
    client.send_application_data(b"three")
    pump(client, server, relay)
    assert client_events.application_data == b"onetwo"
    assert server_events.application_data == b"three"


# -- the same randomness replays the same handshake ------------------------------------------


def seeded_handshake(seed: int, suite: str, make_client, make_server, ems: bool = False):
    client = make_client(rng=random.Random(seed).randbytes, cipher_suites=(suite,),
                         offer_extended_master_secret=ems)
    server = make_server(rng=random.Random(seed + 1).randbytes)
    client_events, server_events = connect(client, server)
    assert_connected(client, server, client_events, server_events)
    return client, client_events, server_events


@pytest.mark.parametrize("suite", ["TLS_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"])
def test_same_rng_replays_the_same_handshake(suite: str, make_client, make_server) -> None:
    first, first_client_events, first_server_events = seeded_handshake(7, suite, make_client,
                                                                       make_server)
    again, again_client_events, again_server_events = seeded_handshake(7, suite, make_client,
                                                                       make_server)
    assert first_client_events.sent_raw("ClientHello") == again_client_events.sent_raw("ClientHello")
    assert first_server_events.sent_raw("ServerHello") == again_server_events.sent_raw("ServerHello")
    assert first.master_secret == again.master_secret
    assert first.keylog_lines() == again.keylog_lines()
    if "ECDHE" in suite:  # the ECDH shares come from the rng too (RSA padding does not)
        assert first_client_events.sent_raw("ClientKeyExchange") == again_client_events.sent_raw(
            "ClientKeyExchange")
    other, _, _ = seeded_handshake(8, suite, make_client, make_server)
    assert other.client_random != first.client_random
    assert other.master_secret != first.master_secret


def test_same_rng_with_extended_master_secret(make_client, make_server) -> None:
    # The extended master secret hashes the transcript, and the transcript holds an RSA
    # ciphertext whose padding OpenSSL randomises: only the premaster replays exactly.
    suite = "TLS_RSA_WITH_AES_128_GCM_SHA256"
    first, first_events, _ = seeded_handshake(7, suite, make_client, make_server, ems=True)
    again, again_events, _ = seeded_handshake(7, suite, make_client, make_server, ems=True)
    assert first_events.sent_raw("ClientHello") == again_events.sent_raw("ClientHello")
    assert first.pre_master_secret == again.pre_master_secret
    assert first.client_random == again.client_random


def test_alert_record_after_handshake_is_encrypted(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    connect(client, server)
    client.close()
    (record,) = split_records(client.data_to_send())
    assert record.content_type == ALERT
    assert len(record.fragment) == 8 + 2 + 16  # explicit nonce, the alert, the tag
