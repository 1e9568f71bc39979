"""Packet captures of one TLS connection, for Wireshark: classic pcap and pcapng.

A :class:`Capture` records what each side of one TCP connection handed to TCP, in
order, with the times the caller passes in; it never touches a socket or a clock.
It then writes the connection as Wireshark expects to see it on a network:

* synthetic but self-consistent TCP framing — the three-way handshake (with MSS
  and window-scale options), the recorded bytes cut into segments of at most one
  MSS with correct sequence and acknowledgment numbers (every segment after the
  SYN acknowledges all the peer has sent so far, as a piggybacked ACK), and a
  FIN / FIN-ACK / ACK close — inside IPv4 or IPv6 with real header and TCP
  checksums (RFC 791, RFC 8200, RFC 9293 §3.1);
* on ``LINKTYPE_ETHERNET`` (1): every tool reads Ethernet, and the frames carry
  locally administered MAC addresses (02:00:00:00:00:01 client, …:02 server);
* as a classic libpcap file (:meth:`Capture.to_pcap`, draft-ietf-opsawg-pcap) —
  Wireshark then needs the key log as a separate file — or as pcapng
  (:meth:`Capture.to_pcapng`, draft-ietf-opsawg-pcapng) with the NSS key log
  embedded in a Decryption Secrets Block, so the file decrypts on its own.

Timestamps must be timezone-aware; they are written with microsecond resolution
and never run backwards (a time earlier than the previous packet's is raised to
it). The handshake packets carry ``opened_at`` (default: the first recorded
time); a side whose close was not recorded closes at the last recorded time.
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Documentation addresses (RFC 5737 TEST-NET-1) and an ephemeral client port.
DEFAULT_CLIENT = ("192.0.2.1", 50000)
DEFAULT_SERVER = ("192.0.2.2", 443)

# tcpdump.org link-layer header types / draft-ietf-opsawg-pcaplinktype.
LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
CLIENT_MAC = bytes.fromhex("020000000001")
SERVER_MAC = bytes.fromhex("020000000002")

IPPROTO_TCP = 6
ETHERNET_HEADER_LENGTH = 14
IPV4_HEADER_LENGTH = 20
IPV6_HEADER_LENGTH = 40
TCP_HEADER_LENGTH = 20

# An MSS that fits a 1500-byte Ethernet MTU: 1500 - IP header - TCP header.
DEFAULT_MSS = {4: 1500 - IPV4_HEADER_LENGTH - TCP_HEADER_LENGTH,
               6: 1500 - IPV6_HEADER_LENGTH - TCP_HEADER_LENGTH}
MAX_MSS = 65535 - IPV4_HEADER_LENGTH - TCP_HEADER_LENGTH  # the IPv4 total length is 16 bits
WINDOW = 65535
WINDOW_SCALE = 7  # RFC 7323 §2: the window is WINDOW << 7, about 8 MB, never "full" here
TTL = 64
SNAPLEN = 262144  # libpcap's maximum; every frame here is far smaller

# Classic pcap, draft-ietf-opsawg-pcap §4 (File Header) and §5 (Packet Record).
PCAP_MAGIC_MICROSECONDS = 0xA1B2C3D4
PCAP_VERSION = (2, 4)

# pcapng, draft-ietf-opsawg-pcapng §3.1 (blocks), §3.5 (options), §4 (block types).
BLOCK_SECTION_HEADER = 0x0A0D0D0A  # §4.1
BLOCK_INTERFACE_DESCRIPTION = 0x00000001  # §4.2
BLOCK_ENHANCED_PACKET = 0x00000006  # §4.3
BLOCK_DECRYPTION_SECRETS = 0x0000000A  # §4.7
BYTE_ORDER_MAGIC = 0x1A2B3C4D
SECRETS_TYPE_TLS_KEY_LOG = 0x544C534B  # "TLSK": NSS key log lines, §4.7
OPT_ENDOFOPT = 0
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9
TSRESOL_MICROSECONDS = 6  # timestamps in units of 10^-6 s

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
ONE_MICROSECOND = datetime.timedelta(microseconds=1)


class Direction(enum.Enum):
    """Which way bytes travel on the wire."""

    CLIENT_TO_SERVER = "client → server"
    SERVER_TO_CLIENT = "server → client"

    @property
    def reverse(self) -> Direction:
        return (Direction.SERVER_TO_CLIENT if self is Direction.CLIENT_TO_SERVER
                else Direction.CLIENT_TO_SERVER)


class TCPFlags(enum.IntFlag):
    """The TCP control bits used here (RFC 9293 §3.1)."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10


@dataclass(frozen=True)
class Address:
    """One end of the TCP connection."""

    ip: IPAddress
    port: int

    @classmethod
    def of(cls, ip: str | IPAddress, port: int) -> Address:
        """Parses an address as a socket reports it (an IPv4-mapped IPv6 one becomes IPv4)."""
        address = ipaddress.ip_address(ip.split("%", 1)[0] if isinstance(ip, str) else ip)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not 0 < port < 65536:
            raise ValueError(f"TCP port {port} is out of range")
        return cls(address, port)


@dataclass(frozen=True)
class DataSent:
    """One side handed these bytes to TCP at ``at``."""

    direction: Direction
    data: bytes
    at: datetime.datetime


@dataclass(frozen=True)
class SideClosed:
    """One side closed its half of the connection (sent FIN) at ``at``."""

    direction: Direction
    at: datetime.datetime


@dataclass(frozen=True)
class Segment:
    """One synthetic TCP segment as the capture shows it."""

    timestamp_us: int  # microseconds since 1970-01-01 UTC
    direction: Direction
    seq: int
    ack: int
    flags: TCPFlags
    payload: bytes = b""


def _microseconds(at: datetime.datetime) -> int:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("capture timestamps must be timezone-aware (e.g. datetime.now(UTC))")
    us = (at - EPOCH) // ONE_MICROSECOND
    if us < 0:
        raise ValueError("capture timestamps before 1970 cannot be written")
    return us


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's complement of the one's complement sum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def keylog_text(lines: Iterable[str]) -> str:
    """NSS SSLKEYLOGFILE contents: one line each, ``\\n``-terminated; blank lines dropped."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        if not line.isascii() or not line.isprintable():
            raise ValueError(f"not a key log line: {line!r}")
        out.append(line + "\n")
    return "".join(out)


class Capture:
    """Everything that crossed one TCP connection, ready to be written as pcap or pcapng.

    Call :meth:`client_sent` / :meth:`server_sent` with exactly the bytes each side
    wrote to its socket, in the order they crossed, and optionally
    :meth:`client_closed` / :meth:`server_closed`. Nothing is written until
    :meth:`to_pcap` or :meth:`to_pcapng` is called, and both may be called at any time.
    """

    def __init__(self, client: tuple[str | IPAddress, int] = DEFAULT_CLIENT,
                 server: tuple[str | IPAddress, int] = DEFAULT_SERVER, *,
                 opened_at: datetime.datetime | None = None, mss: int | None = None,
                 client_isn: int = 0x2A000000, server_isn: int = 0x7B000000) -> None:
        self.client = Address.of(*client)
        self.server = Address.of(*server)
        if self.client.ip.version != self.server.ip.version:
            raise ValueError(f"client {self.client.ip} and server {self.server.ip} are not both "
                             "IPv4 or both IPv6")
        self.mss = DEFAULT_MSS[self.client.ip.version] if mss is None else mss
        if not 0 < self.mss <= MAX_MSS:
            raise ValueError(f"MSS {self.mss} is out of range 1..{MAX_MSS}")
        if opened_at is not None:
            _microseconds(opened_at)
        self.opened_at = opened_at
        self._isn = {Direction.CLIENT_TO_SERVER: client_isn % 2**32,
                     Direction.SERVER_TO_CLIENT: server_isn % 2**32}
        self._events: list[DataSent | SideClosed] = []
        self._closed: set[Direction] = set()

    @property
    def events(self) -> tuple[DataSent | SideClosed, ...]:
        """What was recorded, in wire order."""
        return tuple(self._events)

    # -- recording ---------------------------------------------------------------------
    def client_sent(self, data: bytes, at: datetime.datetime) -> None:
        self._sent(Direction.CLIENT_TO_SERVER, data, at)

    def server_sent(self, data: bytes, at: datetime.datetime) -> None:
        self._sent(Direction.SERVER_TO_CLIENT, data, at)

    def client_closed(self, at: datetime.datetime) -> None:
        self._side_closed(Direction.CLIENT_TO_SERVER, at)

    def server_closed(self, at: datetime.datetime) -> None:
        self._side_closed(Direction.SERVER_TO_CLIENT, at)

    def sent_by(self, direction: Direction) -> bytes:
        """Every byte one side sent, in order (the stream Wireshark reassembles)."""
        return b"".join(e.data for e in self._events
                        if isinstance(e, DataSent) and e.direction is direction)

    def _sent(self, direction: Direction, data: bytes, at: datetime.datetime) -> None:
        _microseconds(at)
        if direction in self._closed:
            raise ValueError(f"{direction.value}: data after this side closed the connection")
        if data:
            self._events.append(DataSent(direction, bytes(data), at))

    def _side_closed(self, direction: Direction, at: datetime.datetime) -> None:
        _microseconds(at)
        if direction not in self._closed:
            self._closed.add(direction)
            self._events.append(SideClosed(direction, at))

    # -- TCP -----------------------------------------------------------------------------
    def segments(self) -> list[Segment]:
        """The connection as TCP segments: handshake, data, close (RFC 9293 §3.5, §3.6)."""
        times = [_microseconds(e.at) for e in self._events]
        opened = (_microseconds(self.opened_at) if self.opened_at is not None
                  else times[0] if times else 0)
        c2s, s2c = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT
        next_seq = dict(self._isn)
        segments: list[Segment] = []
        now = opened

        def emit(direction: Direction, flags: TCPFlags, payload: bytes = b"") -> None:
            ack = next_seq[direction.reverse] if flags & TCPFlags.ACK else 0
            segments.append(Segment(now, direction, next_seq[direction], ack, flags, payload))
            next_seq[direction] = (next_seq[direction] + len(payload)
                                   + (1 if flags & (TCPFlags.SYN | TCPFlags.FIN) else 0)) % 2**32

        emit(c2s, TCPFlags.SYN)
        emit(s2c, TCPFlags.SYN | TCPFlags.ACK)
        emit(c2s, TCPFlags.ACK)
        closed: list[Direction] = []
        for event, at in zip(self._events, times, strict=True):
            now = max(now, at)
            if isinstance(event, DataSent):
                data = event.data
                for start in range(0, len(data), self.mss):
                    last = start + self.mss >= len(data)
                    emit(event.direction, TCPFlags.ACK | (TCPFlags.PSH if last else TCPFlags(0)),
                         data[start:start + self.mss])
            else:
                emit(event.direction, TCPFlags.FIN | TCPFlags.ACK)
                closed.append(event.direction)
        for direction in (c2s, s2c):
            if direction not in closed:
                emit(direction, TCPFlags.FIN | TCPFlags.ACK)
                closed.append(direction)
        # The side that closed first acknowledges the other's FIN.
        emit(closed[0], TCPFlags.ACK)
        return segments

    def frame(self, segment: Segment, ip_id: int = 0) -> bytes:
        """One segment as an Ethernet frame carrying IPv4 (with ``ip_id``) or IPv6, and TCP."""
        outgoing = segment.direction is Direction.CLIENT_TO_SERVER
        src, dst = (self.client, self.server) if outgoing else (self.server, self.client)
        options = b""
        if segment.flags & TCPFlags.SYN:
            # MSS (RFC 9293 §3.7.1), NOP, window scale (RFC 7323 §2.2; a SYN's own
            # window is never scaled, later ones are).
            options = (struct.pack("!BBH", 2, 4, self.mss) + b"\x01"
                       + struct.pack("!BBB", 3, 3, WINDOW_SCALE))
        tcp_length = TCP_HEADER_LENGTH + len(options) + len(segment.payload)
        data_offset = (TCP_HEADER_LENGTH + len(options)) // 4
        if src.ip.version == 4:  # RFC 9293 §3.1: the pseudo-header the checksum covers
            pseudo = src.ip.packed + dst.ip.packed + struct.pack("!BBH", 0, IPPROTO_TCP, tcp_length)
        else:  # RFC 8200 §8.1
            pseudo = src.ip.packed + dst.ip.packed + struct.pack("!I3xB", tcp_length, IPPROTO_TCP)

        def tcp_header(checksum: int) -> bytes:
            return struct.pack("!HHIIBBHHH", src.port, dst.port, segment.seq, segment.ack,
                               data_offset << 4, int(segment.flags), WINDOW, checksum, 0)

        body = options + segment.payload
        tcp_segment = tcp_header(internet_checksum(pseudo + tcp_header(0) + body)) + body
        if src.ip.version == 4:  # RFC 791 §3.1: version 4, IHL 5, don't fragment
            header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, IPV4_HEADER_LENGTH + tcp_length,
                                 ip_id & 0xFFFF, 0x4000, TTL, IPPROTO_TCP, 0, src.ip.packed,
                                 dst.ip.packed)
            header = header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:]
            ip_packet = header + tcp_segment
            ethertype = ETHERTYPE_IPV4
        else:  # RFC 8200 §3: version 6, no traffic class or flow label
            ip_packet = struct.pack("!IHBB16s16s", 6 << 28, tcp_length, IPPROTO_TCP, TTL,
                                    src.ip.packed, dst.ip.packed) + tcp_segment
            ethertype = ETHERTYPE_IPV6
        src_mac, dst_mac = (CLIENT_MAC, SERVER_MAC) if outgoing else (SERVER_MAC, CLIENT_MAC)
        return dst_mac + src_mac + struct.pack("!H", ethertype) + ip_packet

    def frames(self) -> list[tuple[int, bytes]]:
        """(timestamp in microseconds, Ethernet frame) for every packet, in order.

        Each side numbers its IPv4 packets 1, 2, 3… (the identification field).
        """
        sent = dict.fromkeys(Direction, 0)
        out = []
        for segment in self.segments():
            sent[segment.direction] += 1
            out.append((segment.timestamp_us, self.frame(segment, sent[segment.direction])))
        return out

    # -- files ---------------------------------------------------------------------------
    def to_pcap(self) -> bytes:
        """A classic libpcap file (microsecond timestamps, little-endian, Ethernet)."""
        # draft-ietf-opsawg-pcap §4: magic, version 2.4, two reserved words, SnapLen, LinkType.
        out = [struct.pack("<IHHIIII", PCAP_MAGIC_MICROSECONDS, *PCAP_VERSION, 0, 0, SNAPLEN,
                           LINKTYPE_ETHERNET)]
        for timestamp_us, frame in self.frames():
            # §5: seconds, microseconds, captured length, original length, then the frame.
            seconds, micros = divmod(timestamp_us, 1_000_000)
            out.append(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)
        return b"".join(out)

    def to_pcapng(self, keylog_lines: Iterable[str] = ()) -> bytes:
        """A pcapng file: SHB, IDB, a DSB with the key log (if any), then one EPB per packet."""
        blocks = [
            # §4.1: byte-order magic, version 1.0, section length -1 (not given), options.
            _block(BLOCK_SECTION_HEADER,
                   struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
                   + _options((SHB_USERAPPL, b"handshake-game"))),
            # §4.2: link type, reserved, SnapLen, options (if_tsresol: microseconds).
            _block(BLOCK_INTERFACE_DESCRIPTION,
                   struct.pack("<HHI", LINKTYPE_ETHERNET, 0, SNAPLEN)
                   + _options((IF_NAME, b"handshake-game"),
                              (IF_TSRESOL, bytes([TSRESOL_MICROSECONDS])))),
        ]
        secrets = keylog_text(keylog_lines).encode("ascii")
        if secrets:
            # §4.7: secrets type, secrets length (unpadded), data padded to 32 bits. It
            # comes before the packets: Wireshark decrypts with what it has read so far.
            blocks.append(_block(BLOCK_DECRYPTION_SECRETS,
                                 struct.pack("<II", SECRETS_TYPE_TLS_KEY_LOG, len(secrets))
                                 + _pad(secrets)))
        for timestamp_us, frame in self.frames():
            # §4.3: interface 0, timestamp high and low 32 bits (in if_tsresol units),
            # captured and original length, the frame padded to 32 bits, no options.
            blocks.append(_block(BLOCK_ENHANCED_PACKET,
                                 struct.pack("<IIIII", 0, timestamp_us >> 32, timestamp_us & 0xFFFFFFFF,
                                             len(frame), len(frame)) + _pad(frame)))
        return b"".join(blocks)


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _options(*options: tuple[int, bytes]) -> bytes:
    """draft-ietf-opsawg-pcapng §3.5: code, length, value padded to 32 bits; opt_endofopt."""
    out = b"".join(struct.pack("<HH", code, len(value)) + _pad(value) for code, value in options)
    return out + struct.pack("<HH", OPT_ENDOFOPT, 0)


def _block(block_type: int, body: bytes) -> bytes:
    """draft-ietf-opsawg-pcapng §3.1: type, total length, body, total length again."""
    total = 12 + len(body)
    assert total % 4 == 0
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)
