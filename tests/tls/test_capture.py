"""Packet captures (capture.py): the bytes of pcap and pcapng, and tshark decrypting them.

The structural tests parse the files with this module's own small readers and check
every header, length, checksum, sequence and acknowledgment number. The decisive
tests hand the files to the real tshark: a handshake between our TLSClient and
TLSServer, recorded in memory, must open in Wireshark and decrypt — with a separate
key log for classic pcap, and with nothing but the file for pcapng.
"""

from __future__ import annotations

import datetime
import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import Recorder, pump
from wireshark_helpers import http_seen, run_tshark

from handshake_game.tls import NamedGroup, suite_by_name
from handshake_game.tls.capture import Capture, Direction, keylog_text

T0 = datetime.datetime(2024, 5, 6, 9, 30, 0, 250_000, tzinfo=datetime.UTC)
MS = datetime.timedelta(milliseconds=1)
KEYLOG_LINE = "CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48

REQUEST = b"GET /capture-test?seat=eavesdropper HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
BODY = b"The eavesdropper reads this only with the keys.\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


# -- the test's own readers (independent of capture.py) ----------------------------------


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return total


@dataclass
class Packet:
    timestamp_us: int
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    options: bytes
    payload: bytes

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


def parse_frame(timestamp_us: int, frame: bytes) -> Packet:
    """Ethernet / IPv4 or IPv6 / TCP; asserts every length and checksum on the way."""
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[14:]
    if ethertype == 0x0800:
        assert ip[0] == 0x45
        total_length = struct.unpack_from("!H", ip, 2)[0]
        assert total_length == len(ip)
        assert ones_complement_sum(ip[:20]) == 0xFFFF, "bad IPv4 header checksum"
        assert ip[9] == 6
        src, dst = ipaddress.IPv4Address(ip[12:16]), ipaddress.IPv4Address(ip[16:20])
        tcp = ip[20:]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        assert ethertype == 0x86DD
        assert ip[0] >> 4 == 6
        assert struct.unpack_from("!H", ip, 4)[0] == len(ip) - 40
        assert ip[6] == 6
        src, dst = ipaddress.IPv6Address(ip[8:24]), ipaddress.IPv6Address(ip[24:40])
        tcp = ip[40:]
        pseudo = ip[8:40] + struct.pack("!I3xB", len(tcp), 6)
    assert ones_complement_sum(pseudo + tcp) == 0xFFFF, "bad TCP checksum"
    sport, dport, seq, ack, offset, flags = struct.unpack_from("!HHIIBB", tcp)
    header_length = (offset >> 4) * 4
    return Packet(timestamp_us, src, dst, sport, dport, seq, ack, flags, tcp[20:header_length],
                  tcp[header_length:])


def read_pcap(data: bytes) -> list[Packet]:
    magic, major, minor, _, _, snaplen, linktype = struct.unpack_from("<IHHIIII", data)
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)
    packets, pos = [], 24
    while pos < len(data):
        seconds, micros, captured, original = struct.unpack_from("<IIII", data, pos)
        assert captured == original <= snaplen
        assert micros < 1_000_000
        frame = data[pos + 16 : pos + 16 + captured]
        assert len(frame) == captured, "truncated packet record"
        packets.append(parse_frame(seconds * 1_000_000 + micros, frame))
        pos += 16 + captured
    return packets


@dataclass
class Block:
    block_type: int
    body: bytes


def read_pcapng_blocks(data: bytes) -> list[Block]:
    blocks, pos = [], 0
    while pos < len(data):
        block_type, total = struct.unpack_from("<II", data, pos)
        assert total % 4 == 0 and total >= 12
        assert struct.unpack_from("<I", data, pos + total - 4)[0] == total, "trailing length differs"
        blocks.append(Block(block_type, data[pos + 8 : pos + total - 4]))
        pos += total
    assert pos == len(data)
    return blocks


def read_options(data: bytes) -> dict[int, bytes]:
    options, pos = {}, 0
    while True:
        code, length = struct.unpack_from("<HH", data, pos)
        if code == 0:
            assert length == 0 and pos + 4 == len(data)
            return options
        options[code] = data[pos + 4 : pos + 4 + length]
        pos += 4 + length + (-length % 4)


def pcapng_packets(blocks: list[Block]) -> list[Packet]:
    packets = []
    for block in blocks:
        if block.block_type != 6:
            continue
        interface, high, low, captured, original = struct.unpack_from("<IIIII", block.body)
        assert interface == 0 and captured == original
        assert len(block.body) - 20 == captured + (-captured % 4)
        packets.append(parse_frame((high << 32) | low, block.body[20 : 20 + captured]))
    return packets


def check_tcp_conversation(packets: list[Packet], client: tuple[str, int], server: tuple[str, int],
                           sent: list[tuple[str, bytes]]) -> None:
    """Handshake, contiguous data with running ACKs, FIN both ways, last FIN acknowledged."""
    client_ip, server_ip = ipaddress.ip_address(client[0]), ipaddress.ip_address(server[0])

    def from_client(p: Packet) -> bool:
        if (p.src, p.sport, p.dst, p.dport) == (client_ip, client[1], server_ip, server[1]):
            return True
        assert (p.src, p.sport, p.dst, p.dport) == (server_ip, server[1], client_ip, client[1])
        return False

    syn, syn_ack, third = packets[:3]
    assert from_client(syn) and syn.flags == SYN and syn.ack == 0
    assert not from_client(syn_ack) and syn_ack.flags == SYN | ACK and syn_ack.ack == syn.seq + 1
    assert from_client(third) and third.flags == ACK
    next_seq = {True: syn.seq + 1, False: syn_ack.seq + 1}
    streams: dict[bool, bytes] = {True: b"", False: b""}
    fins: list[bool] = []
    for p in packets[2:]:
        side = from_client(p)
        assert p.has(ACK)
        assert p.seq == next_seq[side], "sequence number gap or overlap"
        assert p.ack == next_seq[not side], "ACK does not cover what the peer sent"
        streams[side] += p.payload
        next_seq[side] += len(p.payload) + (1 if p.has(FIN) else 0)
        if p.has(FIN):
            assert side not in fins
            fins.append(side)
    assert sorted(fins) == [False, True]
    last = packets[-1]
    assert last.flags == ACK and from_client(last) == fins[0]  # the first closer acks the last FIN
    assert streams[True] == b"".join(d for who, d in sent if who == "c2s")
    assert streams[False] == b"".join(d for who, d in sent if who == "s2c")


# -- structure --------------------------------------------------------------------------


def small_capture(**kwargs: object) -> tuple[Capture, list[tuple[str, bytes]]]:
    capture = Capture(**kwargs)  # type: ignore[arg-type]
    sent = [("c2s", b"\x16\x03\x01" + bytes(range(256)) * 20), ("s2c", b"\x16\x03\x03hello"),
            ("c2s", b"x"), ("s2c", bytes(3000))]
    for i, (direction, data) in enumerate(sent):
        if direction == "c2s":
            capture.client_sent(data, T0 + i * MS)
        else:
            capture.server_sent(data, T0 + i * MS)
    capture.client_closed(T0 + 10 * MS)
    capture.server_closed(T0 + 11 * MS)
    return capture, sent


def test_pcap_file_header_records_and_tcp_framing() -> None:
    capture, sent = small_capture()
    packets = read_pcap(capture.to_pcap())
    check_tcp_conversation(packets, ("192.0.2.1", 50000), ("192.0.2.2", 443), sent)
    assert capture.sent_by(Direction.SERVER_TO_CLIENT) == sent[1][1] + sent[3][1]
    # The first chunk (5123 bytes) is cut at the IPv4 Ethernet MSS of 1460, PSH on its end.
    first = [p for p in packets if p.sport == 50000 and p.payload][:4]
    assert [len(p.payload) for p in first] == [1460, 1460, 1460, 5123 - 3 * 1460]
    assert [p.has(PSH) for p in first] == [False, False, False, True]
    # The SYNs announce that MSS and a window scale.
    assert packets[0].options[:4] == struct.pack("!BBH", 2, 4, 1460)
    assert all(len(p.payload) <= 1460 for p in packets)


def test_timestamps_are_the_callers_in_microseconds_and_never_run_backwards() -> None:
    capture = Capture(opened_at=T0 - 5 * MS)
    capture.client_sent(b"first", T0)
    capture.server_sent(b"late clock", T0 - 2 * MS)  # a clock that stepped back
    capture.server_closed(T0 + 7 * MS)
    packets = read_pcap(capture.to_pcap())
    t0 = (T0 - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)) // datetime.timedelta(microseconds=1)
    assert [p.timestamp_us - t0 for p in packets] == [-5000, -5000, -5000, 0, 0, 7000, 7000, 7000]
    # The server closed first here: its FIN leads, and the server sends the last ACK.
    assert packets[-3].sport == 443 and packets[-3].has(FIN)
    assert packets[-1].sport == 443 and packets[-1].flags == ACK


def test_pcapng_blocks_embed_the_key_log_before_the_packets() -> None:
    capture, sent = small_capture()
    # A comment line too (valid in the NSS format), so the secrets need padding.
    lines = ["# table 3", KEYLOG_LINE, "CLIENT_RANDOM " + "01" * 32 + " " + "02" * 48]
    blocks = read_pcapng_blocks(capture.to_pcapng(lines))
    assert [b.block_type for b in blocks[:3]] == [0x0A0D0D0A, 0x00000001, 0x0000000A]
    assert {b.block_type for b in blocks[3:]} == {0x00000006}
    magic, major, minor, section_length = struct.unpack_from("<IHHq", blocks[0].body)
    assert (magic, major, minor, section_length) == (0x1A2B3C4D, 1, 0, -1)
    assert read_options(blocks[0].body[16:])[4] == b"handshake-game"
    linktype, _, snaplen = struct.unpack_from("<HHI", blocks[1].body)
    assert linktype == 1 and snaplen >= 1514
    assert read_options(blocks[1].body[8:])[9] == bytes([6])  # if_tsresol: microseconds
    secrets_type, secrets_length = struct.unpack_from("<II", blocks[2].body)
    assert secrets_type == 0x544C534B
    secrets = blocks[2].body[8 : 8 + secrets_length]
    assert secrets.decode() == "".join(line + "\n" for line in lines)
    assert secrets_length % 4 != 0
    assert blocks[2].body[8 + secrets_length :] == b"\0" * (-secrets_length % 4)  # padding, no options
    # The same packets as the classic file, timestamps and all.
    packets = pcapng_packets(blocks)
    assert packets == read_pcap(capture.to_pcap())
    check_tcp_conversation(packets, ("192.0.2.1", 50000), ("192.0.2.2", 443), sent)


def test_pcapng_without_keys_has_no_secrets_block() -> None:
    capture, _ = small_capture()
    assert [b.block_type for b in read_pcapng_blocks(capture.to_pcapng())][:3] == [0x0A0D0D0A, 1, 6]


def test_ipv6_and_ipv4_mapped_addresses() -> None:
    capture, sent = small_capture(client=("2001:db8::1", 50123), server=("2001:db8::2", 8443))
    packets = read_pcap(capture.to_pcap())
    check_tcp_conversation(packets, ("2001:db8::1", 50123), ("2001:db8::2", 8443), sent)
    assert max(len(p.payload) for p in packets) == 1440  # 1500 - 40 - 20
    mapped = Capture(client=("::ffff:127.0.0.1", 40000), server=("::ffff:127.0.0.1", 8443))
    assert str(mapped.client.ip) == "127.0.0.1" and mapped.server.port == 8443


def test_tshark_reads_our_framing_without_complaint(tmp_path: Path) -> None:
    """Wireshark's own TCP analysis: checksums good, no gap, retransmission or unseen ACK."""
    for name, kwargs in [("v4", {}), ("v6", {"client": ("2001:db8::1", 50123),
                                             "server": ("2001:db8::2", 443)})]:
        capture, _ = small_capture(**kwargs)
        path = tmp_path / f"{name}.pcap"
        path.write_bytes(capture.to_pcap())
        checks = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]
        statuses = run_tshark(path, *checks, "-T", "fields", "-e", "tcp.checksum.status",
                              "-e", "ip.checksum.status", "-e", "tcp.analysis.flags")
        rows = [line.split("\t") for line in statuses.splitlines()]
        assert len(rows) == len(read_pcap(capture.to_pcap())) == 15
        tcp_good = "1"  # PROTO_CHECKSUM_E_GOOD
        assert all(row[0] == tcp_good for row in rows), rows
        assert all(row[1] == (tcp_good if name == "v4" else "") for row in rows), rows
        assert all(row[2] == "" for row in rows), rows


def test_recording_mistakes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Capture().client_sent(b"x", datetime.datetime(2024, 1, 1))  # noqa: DTZ001
    capture = Capture()
    capture.client_closed(T0)
    with pytest.raises(ValueError, match="after this side closed"):
        capture.client_sent(b"x", T0)
    capture.server_sent(b"the other half is still open", T0)
    with pytest.raises(ValueError, match="both IPv4 or both IPv6"):
        Capture(client=("192.0.2.1", 1), server=("2001:db8::2", 443))
    with pytest.raises(ValueError, match="not a key log line"):
        keylog_text(["CLIENT_RANDOM a b\nCLIENT_RANDOM c d"])
    assert keylog_text(["", KEYLOG_LINE]) == KEYLOG_LINE + "\n"


# -- tshark decrypts a real handshake of ours ------------------------------------------


@dataclass(frozen=True)
class HandshakeCase:
    suite: str
    group: NamedGroup

    @property
    def id(self) -> str:
        return f"{self.suite}-{self.group.name}"


TLS12_CASES = [
    HandshakeCase("TLS_RSA_WITH_AES_128_GCM_SHA256", NamedGroup.x25519),
    HandshakeCase("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", NamedGroup.x25519),
    HandshakeCase("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", NamedGroup.secp256r1),
]
# ---- TLS 1.3 HOOK ----------------------------------------------------------------------
# TLS 1.3 cases; every test below runs for them too (the key log then carries the four
# CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET and CLIENT/SERVER_TRAFFIC_SECRET_0 lines).
# Add a case here for each TLS 1.3 suite or group the engine learns.
TLS13_CASES: list[HandshakeCase] = [
    HandshakeCase("TLS_AES_128_GCM_SHA256", NamedGroup.x25519),
    HandshakeCase("TLS_AES_256_GCM_SHA384", NamedGroup.secp256r1),
    HandshakeCase("TLS_CHACHA20_POLY1305_SHA256", NamedGroup.x25519),
]
CASES = TLS12_CASES + TLS13_CASES


@dataclass
class RecordedHandshake:
    case: HandshakeCase
    capture: Capture
    keylog_lines: list[str]
    response: bytes


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def recorded(request: pytest.FixtureRequest, make_client, make_server) -> Iterator[RecordedHandshake]:
    """Our client and server, handshake + one HTTP exchange + close_notify, into a Capture."""
    case: HandshakeCase = request.param
    client = make_client(cipher_suites=(case.suite,), groups=(case.group,))
    server = make_server(cipher_suites=(case.suite,))
    client_events = Recorder(client)
    capture = Capture()
    clock = iter(T0 + i * MS for i in range(1000))

    def record(direction: str, data: bytes) -> bytes:
        if direction == "c2s":
            capture.client_sent(data, next(clock))
        else:
            capture.server_sent(data, next(clock))
        return data

    client.start()
    pump(client, server, record)
    assert client_events.completed is not None, client_events.alerts_sent
    assert client_events.completed.cipher_suite.name == case.suite
    client.send_application_data(REQUEST)
    pump(client, server, record)
    server.send_application_data(RESPONSE)
    pump(client, server, record)
    client.close()
    pump(client, server, record)
    capture.client_closed(next(clock))
    capture.server_closed(next(clock))
    assert client.keylog_lines() == server.keylog_lines() != []
    yield RecordedHandshake(case, capture, client.keylog_lines(), client_events.application_data)


def assert_decrypted_http(seen_requests: list[tuple[str, str]], codes: list[int], text: str) -> None:
    assert seen_requests == [("GET", "/capture-test?seat=eavesdropper")]
    assert codes == [200]
    assert "GET /capture-test?seat=eavesdropper HTTP/1.1" in text
    assert "HTTP/1.1 200 OK" in text
    assert BODY.decode().strip() in text


def test_tshark_decrypts_classic_pcap_with_key_log_file(recorded: RecordedHandshake,
                                                         tmp_path: Path) -> None:
    assert recorded.response == RESPONSE
    pcap, keylog = tmp_path / "handshake.pcap", tmp_path / "handshake.keylog"
    pcap.write_bytes(recorded.capture.to_pcap())
    keylog.write_text(keylog_text(recorded.keylog_lines))
    seen = http_seen(pcap, keylog=keylog, tls_port=443)
    assert_decrypted_http(seen.requests, seen.response_codes, seen.stream_text)
    # Without the key log tshark still reads the ServerHello (never encrypted), which
    # names the suite we negotiated, but finds no HTTP at all.
    blind = run_tshark(pcap, "-Y", "http || tls.handshake.type == 2", "-T", "fields",
                       "-e", "http.request.method", "-e", "http.response.code",
                       "-e", "tls.handshake.ciphersuite")
    assert blind.splitlines() == [f"\t\t0x{suite_by_name(recorded.case.suite).code:04x}"]


def test_tshark_decrypts_pcapng_with_embedded_keys_alone(recorded: RecordedHandshake,
                                                         tmp_path: Path) -> None:
    pcapng = tmp_path / "handshake.pcapng"
    pcapng.write_bytes(recorded.capture.to_pcapng(recorded.keylog_lines))
    seen = http_seen(pcapng, tls_port=443)  # no key log option: only the DSB holds keys
    assert_decrypted_http(seen.requests, seen.response_codes, seen.stream_text)
