"""TLS 1.3 resumption and 0-RTT through the network tools, against the real `openssl` binary:
`s_client -sess_out/-sess_in/-early_data` against `handshake-game listen`, and
`handshake-game connect --sess-out/--sess-in/--early-data` against `s_server`. What is asserted
is what OpenSSL prints ("Reused, TLSv1.3", "Early data was accepted") and what the other side read.
"""

from __future__ import annotations

import datetime
import os
import random
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tool_helpers import (
    PROJECT,
    Credentials,
    Listener,
    free_port,
    handshake_game,
    need,
    read_until,
    tls_resume,
)
from wireshark_helpers import http_seen, run_tshark

from handshake_game.tls.observer import Side, WireObserver
from handshake_game.tls.session import Session

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

REQUEST = "GET /early HTTP/1.1\r\nHost: localhost\r\n\r\n"


@pytest.fixture
def start_listen(tmp_path: Path) -> Iterator[Callable[..., Listener]]:
    """Starts `handshake-game listen` with extra options, on a free port with its own demo CA."""
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> Listener:
        ca_file = tmp_path / f"ca-{len(procs)}.pem"
        keylog = tmp_path / f"server-{len(procs)}.keylog"
        proc = subprocess.Popen(
            [sys.executable, "-m", "handshake_game", "listen", "--port", "0", "--ca-out", str(ca_file),
             "--keylog", str(keylog), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT)
        procs.append(proc)
        match = read_until(proc, r"listening on https://localhost:(\d+)/")
        listening = Listener(proc, int(match.group(1)), ca_file, keylog)
        threading.Thread(target=listening.drain, daemon=True).start()
        return listening

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def lines_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 20.0) -> list[str]:
    """Every line ``proc`` prints up to the one that matches ``pattern`` (read_until keeps only the
    match, and s_server prints several facts in one write)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    text = ""
    while not any(re.search(pattern, line) for line in text.splitlines()):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
        chunk = os.read(fd, 65536).decode("utf-8", "replace") if ready else ""
        assert chunk, f"{pattern!r} not seen; output so far: {text!r}"
        text += chunk
    return text.splitlines()


def s_client(listener: Listener, *options: str, stdin: str = "") -> str:
    """One `openssl s_client` connection that sends ``stdin`` after the handshake and waits for the
    server to close; returns what s_client printed."""
    result = subprocess.run(
        [need("openssl"), "s_client", "-connect", f"127.0.0.1:{listener.port}", "-servername", "localhost",
         "-CAfile", str(listener.ca_file), "-verify_return_error", "-ign_eof", *options],
        input=stdin, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def take_ticket(listener: Listener, session: Path) -> None:
    out = s_client(listener, "-sess_out", str(session), stdin=REQUEST)
    assert "New, TLSv1.3" in out and "HTTP/1.1 200 OK" in out
    assert session.read_text().startswith("-----BEGIN SSL SESSION PARAMETERS-----")


def test_s_client_resumes_against_listen(start_listen: Callable[..., Listener], tmp_path: Path) -> None:
    listener = start_listen()
    session = tmp_path / "session.pem"
    take_ticket(listener, session)
    out = s_client(listener, "-sess_in", str(session), stdin=REQUEST)
    assert "Reused, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" in out
    assert "HTTP/1.1 200 OK" in out
    log = listener.wait_for(r"\[2\] == done")
    assert "[2] == handshake complete: TLS 1.3, TLS_AES_128_GCM_SHA256, x25519, resumed with a ticket" in log
    second = log[log.index("[2] == connection from"):]
    assert "Certificate  chain of" not in second and "S → C  CertificateVerify" not in second
    assert "✓ PSK binder" in second


def test_s_client_early_data_is_accepted_by_listen(start_listen: Callable[..., Listener],
                                                   tmp_path: Path) -> None:
    listener = start_listen("--early-data")
    session = tmp_path / "session.pem"
    take_ticket(listener, session)
    early = tmp_path / "early.txt"
    early.write_text(REQUEST)
    client_keylog = tmp_path / "s_client.keylog"
    out = s_client(listener, "-sess_in", str(session), "-early_data", str(early),
                   "-keylogfile", str(client_keylog))
    assert "Reused, TLSv1.3" in out
    assert "Early data was accepted" in out
    assert "HTTP/1.1 200 OK" in out  # the 0-RTT request was answered
    log = listener.wait_for(r"\[2\] == done")
    assert f"[2] C → S  early data  ({len(REQUEST)} bytes, 0-RTT" in log
    assert "[2]    request: GET /early HTTP/1.1" in log
    assert "0-RTT data accepted" in log
    # Both sides derived the same early traffic secret, and listen logged it for Wireshark.
    ours = {line for line in listener.keylog.read_text().splitlines() if "EARLY" in line}
    theirs = {line for line in client_keylog.read_text().splitlines() if line.startswith("CLIENT_EARLY")}
    assert theirs and theirs <= ours


@pytest.mark.parametrize(("options", "anti_replay"), [
    ((), True), (("--anti-replay=tickets",), True), (("--no-anti-replay",), False),
    (("--anti-replay=off",), False), (("--anti-replay=hellos",), False)],
    ids=["default", "tickets", "no-anti-replay", "off", "hellos"])
def test_a_session_used_twice_resumes_once_unless_anti_replay_is_off(
        start_listen: Callable[..., Listener], tmp_path: Path, options: tuple[str, ...],
        anti_replay: bool) -> None:
    """RFC 8446 §8.1: single-use tickets. s_client sends the same ClientHello PSK and the same 0-RTT
    request twice, as an attacker replaying it would; the second time the server refuses the PSK
    and never reads the early data, unless anti-replay is off. A record of ClientHellos (§8.2) lets
    the ticket resume again: s_client's second ClientHello is a new one (its random, its binder), not
    a copy of the first, and its early data is read."""
    listener = start_listen("--early-data", *options)
    session = tmp_path / "session.pem"
    take_ticket(listener, session)
    early = tmp_path / "early.txt"
    early.write_text(REQUEST)
    # Sent again after the handshake too, as a client does whose early data was refused; a server
    # that read the 0-RTT request has answered it by then.
    first = s_client(listener, "-sess_in", str(session), "-early_data", str(early), stdin=REQUEST)
    second = s_client(listener, "-sess_in", str(session), "-early_data", str(early), stdin=REQUEST)
    assert "Reused, TLSv1.3" in first and "Early data was accepted" in first
    if anti_replay:
        assert "New, TLSv1.3" in second and "Early data was rejected" in second
    else:
        assert "Reused, TLSv1.3" in second and "Early data was accepted" in second
    log = listener.wait_for(r"\[3\] == done")
    assert log.count("early data  (") == (1 if anti_replay else 2)
    assert ("✓ anti-replay" in log) is anti_replay


@pytest.fixture
def tls13_www_server(credentials: Credentials) -> Iterator[Callable[..., int]]:
    """`openssl s_server -www`, TLS 1.3 only unless the options given say otherwise."""
    procs: list[subprocess.Popen[str]] = []

    def start(*options: str) -> int:
        port = free_port()
        proc = subprocess.Popen(
            [need("openssl"), "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(credentials.cert_file),
             "-key", str(credentials.key_file), "-www", *(options or ("-tls1_3",))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        read_until(proc, r"^ACCEPT")
        assert proc.stdout is not None
        threading.Thread(target=lambda: proc.stdout.read() if proc.stdout else None, daemon=True).start()
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def test_connect_resumes_against_s_server(tls13_www_server: Callable[..., int], credentials: Credentials,
                                          tmp_path: Path) -> None:
    port = tls13_www_server()
    session = tmp_path / "connect-session.pem"
    first = handshake_game("connect", f"localhost:{port}", "--cafile", str(credentials.ca_file),
                           "--sess-out", str(session))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "New, TLSv1.3" in first.stdout and f"session written to {session}" in first.stdout
    second = handshake_game("connect", f"localhost:{port}", "--cafile", str(credentials.ca_file),
                            "--sess-in", str(session))
    assert second.returncode == 0, second.stdout + second.stderr
    # s_server -www reports its own view of the session in the page it sends.
    assert "Reused, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" in second.stdout
    assert "session resumed (Reused, TLSv1.3)" in second.stdout
    assert "Certificate  chain of" not in second.stdout


def test_connect_refuses_a_session_file_it_did_not_write(credentials: Credentials, tmp_path: Path) -> None:
    bogus = tmp_path / "openssl-session.pem"
    bogus.write_text("-----BEGIN SSL SESSION PARAMETERS-----\nMIIB\n-----END SSL SESSION PARAMETERS-----\n")
    result = handshake_game("connect", "localhost:1", "--cafile", str(credentials.ca_file),
                            "--sess-in", str(bogus))
    assert result.returncode == 2 and "--sess-in" in result.stderr
    alone = handshake_game("connect", "localhost:1", "--cafile", str(credentials.ca_file),
                           "--early-data", str(bogus))
    assert alone.returncode == 2 and "--early-data needs --sess-in" in alone.stderr


def test_connect_sends_early_data_to_s_server(credentials: Credentials, tmp_path: Path) -> None:
    """`s_server -early_data` (which cannot be combined with -www) prints the 0-RTT data it read; it
    answers with what is typed on its stdin."""
    openssl = need("openssl")
    port = free_port()
    server = subprocess.Popen(
        [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(credentials.cert_file),
         "-key", str(credentials.key_file), "-tls1_3", "-early_data"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        read_until(server, r"^ACCEPT")
        assert server.stdin is not None
        session = tmp_path / "session.pem"
        first = subprocess.Popen(
            [sys.executable, "-m", "handshake_game", "connect", f"localhost:{port}", "--cafile",
             str(credentials.ca_file), "--sess-out", str(session), "--request", "hello\\n"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT)
        read_until(server, r"^hello$")
        # The answer, then (once connect has read it) s_server's "q": it ends the connection cleanly,
        # so that OpenSSL keeps the session (one that ends in an error is not resumed).
        server.stdin.write("HTTP/1.0 200 first\r\n\r\n")
        server.stdin.flush()
        read_until(first, r"application data  \(\d+ bytes, decrypted\)")
        server.stdin.write("q\n")
        server.stdin.flush()
        read_until(first, r"session written to")
        first.wait(timeout=10)
        early = tmp_path / "early.txt"
        early.write_text(REQUEST)
        second = subprocess.Popen(
            [sys.executable, "-m", "handshake_game", "connect", f"localhost:{port}", "--cafile",
             str(credentials.ca_file), "--sess-in", str(session), "--early-data", str(early)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT)
        seen = lines_until(server, r"^Reused session-id")
        # s_server writes the data it read straight to stdout, and its own lines through a buffer:
        # their order varies, not their presence.
        assert "Early data received:" in seen and "Early data was rejected" not in seen
        assert "GET /early HTTP/1.1" in seen and "Host: localhost" in seen
        read_until(second, r"early data accepted by the server")
        server.stdin.write("HTTP/1.0 200 second\r\n\r\n")
        server.stdin.flush()
        read_until(second, r"application data  \(\d+ bytes, decrypted\)")
        server.stdin.write("q\n")
        server.stdin.flush()
        rest, _ = second.communicate(timeout=20)
        assert second.returncode == 0, rest
        assert "HTTP/1.0 200 second" in rest
    finally:
        server.kill()
        server.wait(timeout=10)


def test_tshark_reads_the_early_data_of_a_capture(start_listen: Callable[..., Listener],
                                                 tmp_path: Path) -> None:
    listener = start_listen("--early-data")
    session = tmp_path / "session.pem"
    first = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                           "--sess-out", str(session))
    assert first.returncode == 0, first.stderr
    early = tmp_path / "early.txt"
    early.write_text(REQUEST)
    capture = tmp_path / "early.pcapng"
    second = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                            "--sess-in", str(session), "--early-data", str(early), "--pcap", str(capture))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "early data accepted by the server" in second.stdout
    seen = http_seen(capture, tls_port=listener.port)
    assert seen.requests == [("GET", "/early")] and seen.response_codes == [200]
    # The request travels in the first flight, before the server's first byte: 0-RTT.
    frames = run_tshark(capture, "-Y", "http.request", "-T", "fields", "-e", "frame.number",
                        tls_port=listener.port).split()
    server_hello = run_tshark(capture, "-Y", "tls.handshake.type == 2", "-T", "fields",
                              "-e", "frame.number", tls_port=listener.port).split()
    assert frames and server_hello and int(frames[0]) < int(server_hello[0])


def test_listen_refuses_the_early_data_of_a_copied_client_hello_with_the_hello_record(
        start_listen: Callable[..., Listener], tmp_path: Path) -> None:
    """RFC 8446 §8.2 over the network: our engine as the client, twice with the same rng, so that the
    second connection's first flight (ClientHello and 0-RTT request) is a byte-for-byte copy of the first,
    as an attacker would replay it. listen --anti-replay=hellos reads the first's early data and refuses
    the copy's; the copy still resumes, and its request, sent again in 1-RTT, is answered once."""
    listener = start_listen("--early-data", "--anti-replay=hellos")
    session_file = tmp_path / "session.pem"
    made = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                          "--sess-out", str(session_file))
    assert made.returncode == 0, made.stdout + made.stderr
    session = Session.decode(session_file.read_bytes())
    sent_at = datetime.datetime.now(datetime.UTC)
    original, copy = (tls_resume(listener.port, listener.ca_file, session, REQUEST.encode(),
                                 random.Random(3).randbytes, lambda: sent_at) for _ in range(2))
    assert original.hello == copy.hello
    assert original.resumed and original.early_data_accepted and original.response.startswith(b"HTTP/1.1 200")
    assert copy.resumed and not copy.early_data_accepted and copy.response.startswith(b"HTTP/1.1 200")
    log = listener.wait_for(r"\[3\] == done")
    second, third = log[log.index("[2] == connection from"):log.index("[3] == connection from")], \
        log[log.index("[3] == connection from"):]
    assert "early data  (" in second and "✓ anti-replay" not in second
    assert "early data  (" not in third
    assert "✓ anti-replay: this ClientHello already brought its 0-RTT" in third
    assert "[3]    request: GET /early HTTP/1.1" in third  # the 1-RTT one


def test_the_observer_and_tshark_read_the_same_early_data_from_a_capture(
        start_listen: Callable[..., Listener], tmp_path: Path) -> None:
    """The eavesdropper's engine (tls/observer.py) reads a classic pcap of `connect` resuming with 0-RTT
    data against `listen`, with connect's key log: the 0-RTT record opens under the early traffic keys
    (CLIENT_EARLY_TRAFFIC_SECRET), as tshark opens it with the same key log."""
    listener = start_listen("--early-data")
    session = tmp_path / "session.pem"
    target, trust = f"localhost:{listener.port}", ("--cafile", str(listener.ca_file))
    assert handshake_game("connect", target, *trust, "--sess-out", str(session)).returncode == 0
    early = tmp_path / "early.txt"
    early.write_text(REQUEST)
    capture, keylog = tmp_path / "early.pcap", tmp_path / "connect.keylog"
    second = handshake_game("connect", target, *trust, "--sess-in", str(session), "--early-data", str(early),
                            "--pcap", str(capture), "--keylog", str(keylog))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "early data accepted by the server" in second.stdout
    lines = keylog.read_text().splitlines()
    assert any(line.startswith("CLIENT_EARLY_TRAFFIC_SECRET ") for line in lines)

    tap = WireObserver()
    packets = run_tshark(capture, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.srcport",
                         "-e", "tcp.payload")
    for line in packets.splitlines():
        port, _, payload = line.partition("\t")
        (tap.server_sent if int(port) == listener.port else tap.client_sent)(bytes.fromhex(payload))
    attempt = tap.try_decrypt(keylog_lines=lines)
    assert attempt.succeeded, attempt.reason
    assert [r.plaintext for r in attempt.records if r.early and r.content_type == 23] == [REQUEST.encode()]
    assert attempt.application_data(Side.CLIENT) == REQUEST.encode()  # sent once: as 0-RTT data
    assert attempt.application_data(Side.SERVER).startswith(b"HTTP/1.1 200 OK")
    # Without the early secret the 0-RTT record stays closed, and the observer says why.
    blind = tap.try_decrypt(keylog_lines=[line for line in lines if not line.startswith("CLIENT_EARLY")])
    assert blind.application_data(Side.CLIENT) == b"" and "no CLIENT_EARLY_TRAFFIC_SECRET" in blind.reason

    seen = http_seen(capture, keylog=keylog, tls_port=listener.port)
    assert seen.requests == [("GET", "/early")] and seen.response_codes == [200]
    assert REQUEST.replace("\r\n", "\n").strip() in seen.stream_text.replace("\r\n", "\n")
    assert http_seen(capture, tls_port=listener.port).requests == []  # tshark, too, needs the key log


# -- TLS 1.2: by session id and by RFC 5077 ticket, both ways ------------------------------------


@pytest.mark.parametrize("by_ticket", [False, True], ids=["session-id", "ticket"])
def test_s_client_resumes_a_tls12_session_against_listen(start_listen: Callable[..., Listener],
                                                         tmp_path: Path, by_ticket: bool) -> None:
    listener = start_listen()
    session = tmp_path / "session12.pem"
    options = ("-tls1_2", *(() if by_ticket else ("-no_ticket",)))
    first = s_client(listener, *options, "-sess_out", str(session), stdin=REQUEST)
    assert "New, TLSv1.2" in first and "HTTP/1.1 200 OK" in first
    assert ("TLS session ticket:" in first) is by_ticket
    second = s_client(listener, *options, "-sess_in", str(session), stdin=REQUEST)
    assert "Reused, TLSv1.2" in second and "HTTP/1.1 200 OK" in second
    log = listener.wait_for(r"\[2\] == done")
    second_log = log[log.index("[2] == connection from"):]
    assert "session resumed: abbreviated handshake, the master secret kept" in second_log
    assert "✓ session resumption: " + ("the session ticket" if by_ticket else "the session id") in second_log
    assert "Certificate  chain of" not in second_log and "ClientKeyExchange" not in second_log


def test_s_client_resumes_again_with_the_ticket_listen_renewed(start_listen: Callable[..., Listener],
                                                              tmp_path: Path) -> None:
    """RFC 5077 §3.1 (figure 2): resumed from a ticket, listen sends a new one before its ChangeCipherSpec,
    and s_client offers that renewed ticket on its next connection, which resumes again. (`-reconnect`
    rather than `-sess_out`: s_client writes -sess_out only for a new session, and OpenSSL does not
    call its new-session callback for a resumed TLS 1.2 one, renewed ticket or not.)"""
    listener = start_listen()
    session = tmp_path / "session12.pem"
    assert "New, TLSv1.2" in s_client(listener, "-tls1_2", "-sess_out", str(session), stdin=REQUEST)
    out = s_client(listener, "-tls1_2", "-sess_in", str(session), "-reconnect", "-trace", stdin=REQUEST)
    assert out.count("Reused, TLSv1.2") == 6 and "New, TLSv1.2" not in out  # -reconnect: 5 more
    assert "HTTP/1.1 200 OK" in out  # the last connection carries the request
    # -trace prints each ticket: the one in each ClientHello, the one in each NewSessionTicket.
    offered = re.findall(r"extension_type=session_ticket\(35\), length=\d+\s+ticket \(len=\d+\): (\w+)", out)
    renewed = re.findall(
        r"NewSessionTicket, Length=\d+\s+ticket_lifetime_hint=\d+\s+ticket \(len=\d+\): (\w+)", out)
    assert len(offered) == len(renewed) == 6
    assert offered[1:] == renewed[:-1], "each connection offers the ticket the one before it got"
    assert len(set(offered)) == 6
    log = listener.wait_for(r"\[7\] == done")
    for number in range(2, 8):
        resumed = log[log.index(f"[{number}] == connection from"):]
        resumed = resumed[:resumed.index(f"[{number}] == done")]
        assert "✓ session resumption: the session ticket" in resumed
        assert f"[{number}] S → C  NewSessionTicket  (the session sealed in a ticket" in resumed
        assert "Certificate  chain of" not in resumed


def test_connect_keeps_the_tls12_ticket_listen_renewed(start_listen: Callable[..., Listener],
                                                      tmp_path: Path) -> None:
    listener = start_listen()
    first, renewed = tmp_path / "first12.session", tmp_path / "renewed12.session"
    target, trust = f"localhost:{listener.port}", ("--cafile", str(listener.ca_file), "--tls", "1.2")
    made = handshake_game("connect", target, *trust, "--sess-out", str(first))
    assert made.returncode == 0, made.stdout + made.stderr
    second = handshake_game("connect", target, *trust, "--sess-in", str(first), "--sess-out", str(renewed))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "session resumed (Reused, TLSv1.2)" in second.stdout
    assert "S → C  NewSessionTicket  (the session sealed in a ticket" in second.stdout
    old, new = (Session.decode(path.read_bytes()) for path in (first, renewed))
    assert new.ticket != old.ticket and new.psk == old.psk
    third = handshake_game("connect", target, *trust, "--sess-in", str(renewed))
    assert third.returncode == 0, third.stdout + third.stderr
    assert "session resumed (Reused, TLSv1.2)" in third.stdout
    assert f"a ticket of {len(new.ticket)} bytes" in third.stdout


@pytest.mark.parametrize("by_ticket", [False, True], ids=["session-id", "ticket"])
def test_connect_resumes_a_tls12_session_against_s_server(tls13_www_server: Callable[..., int],
                                                          credentials: Credentials, tmp_path: Path,
                                                          by_ticket: bool) -> None:
    port = tls13_www_server("-tls1_2", *(() if by_ticket else ("-no_ticket",)))
    session = tmp_path / "connect-session12.pem"
    target = f"localhost:{port}"
    trust = ("--cafile", str(credentials.ca_file))
    first = handshake_game("connect", target, *trust, "--sess-out", str(session))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "New, TLSv1.2" in first.stdout
    assert ("NewSessionTicket" in first.stdout) is by_ticket
    second = handshake_game("connect", target, *trust, "--sess-in", str(session))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Reused, TLSv1.2" in second.stdout  # s_server -www's page
    assert "session resumed (Reused, TLSv1.2)" in second.stdout
    assert "Certificate  chain of" not in second.stdout


def test_connect_sends_refused_early_data_again_after_the_handshake(
        start_listen: Callable[..., Listener], tmp_path: Path) -> None:
    """A ticket that allows 0-RTT, presented to a server that no longer takes it (RFC 8446 §4.2.10):
    the server skips the early data, and connect sends the request again in 1-RTT."""
    with_early = start_listen("--early-data")
    session = tmp_path / "session.pem"
    first = handshake_game("connect", f"localhost:{with_early.port}", "--cafile", str(with_early.ca_file),
                           "--sess-out", str(session))
    assert first.returncode == 0, first.stderr
    early = tmp_path / "early.txt"
    early.write_text(REQUEST)
    # Another listener with no --early-data, and another demo CA: the ticket is not its own.
    without = start_listen()
    second = handshake_game("connect", f"localhost:{without.port}", "--cafile", str(without.ca_file),
                            "--sess-in", str(session), "--early-data", str(early))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "early data refused by the server" in second.stdout
    assert "the server did not take the session: a full handshake (New)" in second.stdout
    log = without.wait_for(r"\[1\] == done")
    assert "request: GET /early HTTP/1.1" in log and "early data  (" not in log
