"""The trace `connect` and `listen` print (tools/trace.py): what it shows, and that it only watches.

A trace that raised would end the connection it describes; one that printed the peer's bytes as
they came would let a client drive the teacher's terminal. Both are checked here on real
engine events, and the first by planting a message the trace cannot show.
"""

from __future__ import annotations

import dataclasses

from handshake_game.tls import HandshakeMessageReceived, HandshakeMessageSent, NamedGroup
from handshake_game.tls.messages import (
    ClientHello,
    Extension,
    ExtensionType,
    ServerHello,
    encode_handshake,
)
from handshake_game.tools.trace import Trace, printable


class Lines(list[str]):
    def text(self) -> str:
        return "\n".join(self)


def hello_retry(make_client, make_server) -> tuple[list, list]:
    """The events of a real HelloRetryRequest exchange: the server's and the client's."""
    client = make_client(cipher_suites=("TLS_AES_128_GCM_SHA256",),
                         groups=(NamedGroup.x25519, NamedGroup.secp256r1))
    server = make_server(groups=(NamedGroup.secp256r1,))
    client.start()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    return server.events_received(), client.events_received()


def test_a_hello_retry_request_is_shown_as_one(make_client, make_server) -> None:
    # RFC 8446 §4.1.4: its key_share holds the group the server wants, not a share.
    server_events, client_events = hello_retry(make_client, make_server)
    for role, events in (("server", server_events), ("client", client_events)):
        lines = Lines()
        Trace(lines.append, role).feed(events)
        retry = [line for line in lines if "HelloRetryRequest  (a ServerHello" in line]
        assert len(retry) == 1, lines.text()
        assert "selected_group         secp256r1: the client must send a share for this group" in lines.text()
        assert "cannot show" not in lines.text()


def test_a_message_the_trace_cannot_show_is_noted_and_the_trace_goes_on(make_client, make_server) -> None:
    # Planted: a ServerHello whose supported_versions holds three bytes. The trace's own parse
    # fails on it; the trace must say so and keep going, never raise into the connection.
    server_events, _ = hello_retry(make_client, make_server)
    (sent,) = [e for e in server_events if isinstance(e, HandshakeMessageSent)
               and isinstance(e.message, ServerHello)]
    broken = dataclasses.replace(sent.message, random=bytes(32), extensions=(
        Extension(ExtensionType.supported_versions, b"\x03\x04\x00"),))
    lines = Lines()
    trace = Trace(lines.append, "client")
    trace.event(HandshakeMessageReceived(broken, encode_handshake(broken)))  # must not raise
    trace.feed(server_events)
    assert any("the trace cannot show this HandshakeMessageReceived: DecodeError" in line for line in lines)
    assert any("HelloRetryRequest" in line for line in lines)  # what came after is still shown


def test_the_peers_bytes_reach_the_terminal_escaped(make_client) -> None:
    # A ClientHello whose server_name holds ESC, BEL and NUL (the server refuses it, but shows it first).
    client = make_client()
    client.start()
    (sent,) = [e for e in client.events_received() if isinstance(e, HandshakeMessageSent)]
    assert isinstance(sent.message, ClientHello)
    name = b"local\x1b[31mhost\x07\x00"
    entry = b"\x00" + len(name).to_bytes(2, "big") + name
    hello = dataclasses.replace(sent.message, extensions=tuple(
        e for e in sent.message.extensions or () if e.type != ExtensionType.server_name) + (
        Extension(ExtensionType.server_name, len(entry).to_bytes(2, "big") + entry),))
    lines = Lines()
    Trace(lines.append, "server").event(HandshakeMessageReceived(hello, encode_handshake(hello)))
    text = lines.text()
    assert not any(ch in text for ch in "\x1b\x07\x00")
    assert r"server_name            local\x1b[31mhost\x07\x00" in text


def test_printable_escapes_what_a_terminal_acts_on_and_keeps_the_rest() -> None:
    assert printable("C → S  ✓ RFC 8446 §4.1.4 … (ok)") == "C → S  ✓ RFC 8446 §4.1.4 … (ok)"
    assert printable("a\x1b[2Jb\x07\x00\r\n\t") == r"a\x1b[2Jb\x07\x00\r\n\t"
    # C1 controls, bidi overrides, zero-width and line separators hide or reorder text.
    assert printable("x\x9by\u202ez\u200b\u2028") == r"x\x9by\u202ez\u200b\u2028"
    assert printable(printable("\x1b")) == printable("\x1b")  # escaping twice changes nothing

