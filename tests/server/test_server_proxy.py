"""The client's address behind a reverse proxy: ``X-Forwarded-For`` is read only from a
trusted proxy (``serve --trusted-proxy``), its right-most entry that is not a trusted proxy
names the client, and that address is what the per-address limits count and the log lines
say. From any other peer the header changes nothing."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from handshake_game.cli import main
from handshake_game.server.limits import CountedConnection, Limits, Network, client_address, trusted_proxy

from .test_server_hostile import TOKEN, Server, ask

LOOPBACK = [trusted_proxy("127.0.0.1")]


@pytest.mark.parametrize(("peer", "forwarded", "proxies", "client"), [
    # No trusted proxy, or a peer that is not one: the header is ignored.
    ("127.0.0.1", ["198.51.100.7"], [], "127.0.0.1"),
    ("192.0.2.5", ["198.51.100.7"], LOOPBACK, "192.0.2.5"),
    # The proxy appended the address it was connected from; what the client wrote sits left.
    ("127.0.0.1", ["198.51.100.7"], LOOPBACK, "198.51.100.7"),
    ("127.0.0.1", ["203.0.113.9, 198.51.100.7"], LOOPBACK, "198.51.100.7"),
    ("127.0.0.1", ["203.0.113.9", "198.51.100.7"], LOOPBACK, "198.51.100.7"),  # two header lines
    # Through two trusted proxies (a network of them): the first untrusted hop from the right.
    ("127.0.0.1", ["203.0.113.9, 198.51.100.7, 10.1.2.3"], [*LOOPBACK, trusted_proxy("10.0.0.0/8")],
     "198.51.100.7"),
    # Every hop trusted: the left-most; no header: the proxy itself.
    ("127.0.0.1", ["10.1.2.3, 127.0.0.1"], [*LOOPBACK, trusted_proxy("10.0.0.0/8")], "10.1.2.3"),
    ("127.0.0.1", [], LOOPBACK, "127.0.0.1"),
    # Something that is no address ends the walk at the last trusted hop, never becomes a key.
    ("127.0.0.1", ["198.51.100.7, unknown"], LOOPBACK, "127.0.0.1"),
    ("127.0.0.1", ["not-an-address"], LOOPBACK, "127.0.0.1"),
    # IPv6, written with brackets and a port by some proxies; an IPv4-mapped peer.
    ("::1", ["[2001:db8::7]:4711"], [trusted_proxy("::1")], "2001:db8::7"),
    ("::ffff:127.0.0.1", ["198.51.100.7:80"], LOOPBACK, "198.51.100.7"),
])
def test_the_client_is_the_right_most_address_a_trusted_proxy_appended(
        peer: str, forwarded: list[str], proxies: list[Network], client: str) -> None:
    assert client_address(peer, forwarded, proxies) == client


def test_a_trusted_proxy_is_an_address_or_a_network(capsys: pytest.CaptureFixture[str]) -> None:
    assert str(trusted_proxy("127.0.0.1")) == "127.0.0.1/32"
    assert str(trusted_proxy("10.1.2.3/8")) == "10.0.0.0/8"
    with pytest.raises(ValueError, match="not an IP address"):
        trusted_proxy("proxy.example")
    with pytest.raises(SystemExit) as refused:  # the command line says so before anything starts
        main(["serve", "--trusted-proxy", "proxy.example"])
    assert refused.value.code == 2 and "--trusted-proxy: not an IP address" in capsys.readouterr().err


class _Connection(CountedConnection):
    """What ``admit`` reads of a connection, without a socket."""

    def __init__(self, peer: str) -> None:  # no ServerConnection set-up: admit needs none
        self.peer = self.address = peer


def test_admit_moves_a_proxied_connection_onto_its_client_and_caps_it() -> None:
    limits = Limits(per_address=2, trusted_proxies=LOOPBACK)
    connections = [_Connection("127.0.0.1") for _ in range(4)]
    limits.open["127.0.0.1"] = 4
    forwarded = ["198.51.100.7", "198.51.100.7", "198.51.100.8", "198.51.100.7"]
    admitted = [limits.admit(c, Headers({"X-Forwarded-For": f"203.0.113.9, {address}"}))
                for c, address in zip(connections, forwarded, strict=True)]
    assert admitted == [True, True, True, False]
    assert dict(limits.open) == {"198.51.100.7": 3, "198.51.100.8": 1}
    assert [c.address for c in connections] == forwarded
    # The same header from a peer that is not trusted is ignored.
    untrusted = _Connection("192.0.2.5")
    assert limits.admit(untrusted, Headers({"X-Forwarded-For": "198.51.100.9"}))
    assert untrusted.address == "192.0.2.5"


def _through(server: Server, forwarded: str) -> ClientConnection:
    """A websocket to ``server`` from loopback, claiming to come through a proxy for ``forwarded``."""
    ws = connect(server.ws, max_size=None, additional_headers={"X-Forwarded-For": forwarded}).__enter__()
    assert ask(ws, {"type": "hello", "protocol": 1})["type"] == "welcome"
    return ws


def _wait_for(server: Server, text: str) -> str:
    deadline = time.monotonic() + 20
    while text not in (log := server.log()):
        assert time.monotonic() < deadline, f"no {text!r} in the log: {log[-2000:]}"
        time.sleep(0.05)
    return log


def _guess(ws: ClientConnection, token: str) -> str:
    return str(ask(ws, {"type": "create_session", "token": token, "variant": "tls13"}).get("code", "created"))


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limits_and_log_lines(
        tmp_path: Path) -> None:
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--trusted-proxy", "127.0.0.1",
                    "--max-per-address", "2", "--rate-limit", "1000")
    held: list[ClientConnection] = []
    try:
        # Two connections for one student; a third is refused, another student's is served.
        held += [_through(server, "198.51.100.7") for _ in range(2)]
        with pytest.raises(InvalidStatus) as refused:
            _through(server, "203.0.113.9, 198.51.100.7")  # what the client wrote itself does not count
        assert refused.value.response.status_code == 503
        assert "3 connections from 198.51.100.7 through the proxy at 127.0.0.1" in server.log()
        held.append(_through(server, "198.51.100.8"))
        # Wrong instructor tokens: only the guesser's address is locked out, not the instructor's.
        guesser = held[0]
        assert {_guess(guesser, f"guess-{n:020d}") for n in range(20)} == {"bad_instructor_token"}
        assert _guess(guesser, TOKEN) == "rate_limited"
        assert _guess(held[2], TOKEN) == "created"
        # The log names the student, not the proxy.
        held[2].socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        held[2].socket.close()
        _wait_for(server, "connection from 198.51.100.8 closed abruptly")
    finally:
        for ws in held:
            ws.close()
        server.stop()
    assert "Traceback" not in server.log()


def test_the_header_from_a_peer_that_is_not_a_trusted_proxy_changes_nothing(tmp_path: Path) -> None:
    server = Server(tmp_path, f"--instructor-token={TOKEN}", "--trusted-proxy", "10.9.9.9",
                    "--max-per-address", "2", "--rate-limit", "1000")
    held: list[ClientConnection] = []
    try:
        # Loopback keeps its exemption from the per-address cap, whatever it claims.
        held += [_through(server, f"198.51.100.{n}") for n in range(4)]
        # A fresh claimed address per guess does not escape the limit: they all count for 127.0.0.1.
        codes = [_guess(held[n % 4], f"guess-{n:020d}") for n in range(21)]
        assert codes == ["bad_instructor_token"] * 20 + ["rate_limited"]
        held[1].socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        held[1].socket.close()
        log = _wait_for(server, "closed abruptly")
        assert "connection from 127.0.0.1 closed abruptly" in log and "198.51.100." not in log
    finally:
        for ws in held:
            ws.close()
        server.stop()
