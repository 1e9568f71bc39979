"""`connect --pcap` and `listen --pcap`: the captures of real loopback connections decrypt in tshark.

The files come from real sockets (the real addresses and ports), and tshark — not our
code — must find the HTTP request and the `HTTP/1.1 200 OK` response inside the TLS.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tool_helpers import PROJECT, Credentials, Listener, handshake_game, need, read_until
from wireshark_helpers import http_seen, run_tshark

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

# Suites for `connect --cipher`; the TLS 1.3 ones make connect negotiate TLS 1.3.
# ---- TLS 1.3 HOOK: add a suite here for each TLS 1.3 suite connect learns -------------
CONNECT_SUITES = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256",
                  "TLS_AES_128_GCM_SHA256"]
# What curl offers to `listen`: TLS 1.2 pinned, and curl's default (TLS 1.3 first).
# ---- TLS 1.3 HOOK: add curl offers here for other TLS 1.3 suites -----------------------
CURL_OFFERS = [["--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"],
               ["--tlsv1.3"]]


def first_packet_addresses(capture: Path) -> list[str]:
    """Source IP and port, destination IP and port of the first packet (the SYN)."""
    out = run_tshark(capture, "-c", "1", "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport",
                     "-e", "ip.dst", "-e", "tcp.dstport", "-e", "tcp.flags.syn")
    return out.split()


@pytest.mark.parametrize("suite", CONNECT_SUITES)
def test_connect_pcapng_decrypts_with_nothing_but_the_file(listener: Listener, tmp_path: Path,
                                                           suite: str) -> None:
    capture = tmp_path / "connect.pcapng"
    result = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                            "--cipher", suite, "--pcap", str(capture))
    assert result.returncode == 0, result.stderr
    assert f"capture written to {capture} with the TLS keys embedded" in result.stdout
    src, sport, dst, dport, syn = first_packet_addresses(capture)
    assert (src, dst, int(dport), syn) == ("127.0.0.1", "127.0.0.1", listener.port, "1")
    assert int(sport) != listener.port  # the client's real ephemeral port
    seen = http_seen(capture, tls_port=listener.port)
    assert seen.requests == [("GET", "/")]
    assert seen.response_codes == [200]
    assert "GET / HTTP/1.1" in seen.stream_text
    assert "HTTP/1.1 200 OK" in seen.stream_text
    assert f"X-TLS-Cipher-Suite: {suite}" in seen.stream_text


def test_connect_classic_pcap_decrypts_with_the_key_log(listener: Listener, tmp_path: Path) -> None:
    capture, keylog = tmp_path / "connect.pcap", tmp_path / "connect.keylog"
    result = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                            "--cipher", CONNECT_SUITES[0], "--pcap", str(capture),
                            "--keylog", str(keylog))
    assert result.returncode == 0, result.stderr
    assert f"wireshark -o tls.keylog_file:{keylog} {capture}" in result.stdout
    assert capture.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")  # classic pcap, little-endian
    seen = http_seen(capture, keylog=keylog, tls_port=listener.port)
    assert seen.requests == [("GET", "/")] and seen.response_codes == [200]
    assert "HTTP/1.1 200 OK" in seen.stream_text
    blind = http_seen(capture, tls_port=listener.port)
    assert blind.requests == [] and "200 OK" not in blind.stream_text


def test_connect_pcap_without_keylog_says_how_to_decrypt(listener: Listener, tmp_path: Path) -> None:
    result = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                            "--pcap", str(tmp_path / "plain.pcap"))
    assert result.returncode == 0, result.stderr
    assert "run again with --keylog FILE" in result.stdout
    missing = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(listener.ca_file),
                             "--pcap", str(tmp_path / "no" / "such" / "dir.pcapng"))
    assert missing.returncode == 2
    assert "--pcap" in missing.stderr and "no such directory" in missing.stderr


def test_a_failed_handshake_is_captured_and_decrypts_too(listener: Listener, tmp_path: Path,
                                                         credentials: Credentials) -> None:
    """The client refuses the certificate (another CA): the capture shows why, decrypted.

    In TLS 1.3 the Certificate and the client's alert are encrypted with the handshake
    traffic keys; the embedded key log holds them, so tshark reads both.
    """
    capture = tmp_path / "refused.pcapng"
    result = handshake_game("connect", f"localhost:{listener.port}", "--cafile", str(credentials.ca_file),
                            "--cipher", "TLS_AES_128_GCM_SHA256", "--pcap", str(capture))
    assert result.returncode == 1
    assert "unknown_ca" in result.stderr
    assert f"capture written to {capture}" in result.stdout
    certificate = run_tshark(capture, "-Y", "tls.handshake.type == 11", "-T", "fields",
                             "-e", "tls.handshake.certificate_length", tls_port=listener.port)
    assert certificate.strip(), "tshark could not decrypt the TLS 1.3 Certificate message"
    alert = run_tshark(capture, "-Y", "tls.alert_message", "-T", "fields", "-e", "ip.src",
                       "-e", "tcp.dstport", "-e", "tls.alert_message.level",
                       "-e", "tls.alert_message.desc", tls_port=listener.port)
    assert alert.split() == ["127.0.0.1", str(listener.port), "2", "48"]  # fatal unknown_ca, to the server


@dataclass
class CapturingListener:
    proc: subprocess.Popen[str]
    port: int
    ca_file: Path
    keylog: Path
    pcap_dir: Path


@pytest.fixture
def capturing_listener(tmp_path: Path) -> Iterator[CapturingListener]:
    """`listen --pcap DIR --keylog FILE`; its output is read by the test (never drained)."""
    ca_file, keylog, pcap_dir = tmp_path / "ca.pem", tmp_path / "server.keylog", tmp_path / "captures"
    pcap_dir.mkdir()
    (pcap_dir / "conn-0041.pcapng").write_bytes(b"")  # from an earlier run: must not be overwritten
    proc = subprocess.Popen(
        [sys.executable, "-m", "handshake_game", "listen", "--port", "0", "--ca-out", str(ca_file),
         "--keylog", str(keylog), "--pcap", str(pcap_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT)
    try:
        port = int(read_until(proc, r"listening on https://localhost:(\d+)/").group(1))
        yield CapturingListener(proc, port, ca_file, keylog, pcap_dir)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("offer", CURL_OFFERS, ids=lambda offer: " ".join(offer))
def test_listen_writes_one_decryptable_capture_per_connection(capturing_listener: CapturingListener,
                                                              offer: list[str]) -> None:
    curl = need("curl")
    listener = capturing_listener
    result = subprocess.run(
        [curl, "--silent", "--show-error", "--fail", "--cacert", str(listener.ca_file), *offer,
         "--resolve", f"localhost:{listener.port}:127.0.0.1",
         f"https://localhost:{listener.port}/capture?seat=client"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    # The capture is written when the connection ends; wait for the server to say so.
    written = read_until(listener.proc, r"capture written to (\S+\.pcapng) with the TLS keys embedded, "
                                        r"and to (\S+\.pcap) ")
    pcapng, pcap = Path(written.group(1)), Path(written.group(2))
    assert (pcapng.parent, pcapng.name, pcap.name) == (listener.pcap_dir, "conn-0042.pcapng",
                                                       "conn-0042.pcap")
    assert (listener.pcap_dir / "conn-0041.pcapng").read_bytes() == b""

    alone = http_seen(pcapng, tls_port=listener.port)  # keys from the file itself
    with_keylog = http_seen(pcap, keylog=listener.keylog, tls_port=listener.port)
    for seen in (alone, with_keylog):
        assert seen.requests == [("GET", "/capture?seat=client")]
        assert seen.response_codes == [200]
        assert "GET /capture?seat=client HTTP/1.1" in seen.stream_text
        assert "HTTP/1.1 200 OK" in seen.stream_text
    src, sport, dst, dport, _ = first_packet_addresses(pcapng)
    assert (src, dst, int(dport)) == ("127.0.0.1", "127.0.0.1", listener.port)
    assert int(sport) != listener.port
