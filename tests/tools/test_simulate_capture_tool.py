"""`handshake-game simulate --pcap/--keylog`: the bots' table, opened in tshark, shows the HTTP."""

from __future__ import annotations

from pathlib import Path

from tool_helpers import handshake_game
from wireshark_helpers import http_seen


def test_simulate_pcapng_decrypts_on_its_own_and_pcap_with_the_keylog(tmp_path: Path) -> None:
    pcapng, pcap, keylog = tmp_path / "table.pcapng", tmp_path / "table.pcap", tmp_path / "table.keylog"
    for variant, capture in (("tls12-ecdhe", pcapng), ("tls12-rsa", pcap)):
        result = handshake_game("simulate", "--variant", variant, "--json", "--pcap", str(capture),
                                "--keylog", str(keylog))
        assert result.returncode == 0, result.stderr
    lines = keylog.read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("CLIENT_RANDOM ") for line in lines)  # appended

    for seen in (http_seen(pcapng), http_seen(pcap, keylog=keylog)):
        assert seen.requests == [("GET", "/grades")]
        assert "GET /grades HTTP/1.1" in seen.stream_text and "HTTP/1.1 200 OK" in seen.stream_text
    assert http_seen(pcap).requests == []  # the classic pcap holds no keys


def test_simulate_stopped_table_still_writes_a_capture(tmp_path: Path) -> None:
    pcap, keylog = tmp_path / "mitm.pcap", tmp_path / "mitm.keylog"
    result = handshake_game("simulate", "--scenario", "mitm-self-signed", "--pcap", str(pcap),
                            "--keylog", str(keylog))
    assert result.returncode == 0, result.stderr
    assert "stopped by the client's certificate chain check" in result.stdout
    assert pcap.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")  # classic pcap, little-endian
    assert http_seen(pcap).requests == []
    assert not keylog.exists()  # the client never derived a master secret: nothing to log
