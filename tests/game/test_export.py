"""A table's capture and key log (game/export.py), read back by the real tshark.

The decisive checks are Wireshark's: a finished table's capture decrypts with the client's
key log (separate for classic pcap, embedded in pcapng) and shows the bots' HTTP exchange;
without keys it shows none; the key-leak scenario decrypts in Wireshark with the leaked
server key exactly when DESIGN.md says the eavesdropper can (RSA key exchange, not ECDHE);
and a table stopped mid-handshake still exports a capture of what the client saw.
"""

from __future__ import annotations

import datetime
import os
import random
from decimal import Decimal
from pathlib import Path

import pytest
from wireshark_helpers import run_tshark

from handshake_game.bots import play_table
from handshake_game.game import Referee, Scenario, Seat, TableState, Variant
from handshake_game.game.export import table_capture, table_keylog
from handshake_game.tls.capture import keylog_text
from handshake_game.tls.pki import generate_rsa_key

KEYS = [generate_rsa_key() for _ in range(4)]
STARTED = datetime.datetime(2024, 5, 6, 9, 30, 0, tzinfo=datetime.UTC)


def referee(seed: int | None = None) -> Referee:
    keys = iter(KEYS * 4)
    rng = random.Random(seed).randbytes if seed is not None else os.urandom
    return Referee(rng=rng, now=lambda: datetime.datetime.now(datetime.UTC), rsa_keys=lambda: next(keys))


def http_fields(capture: Path, *extra: str, keylog: Path | None = None,
                stream: int = 0) -> tuple[list[str], list[int], str]:
    """(request URIs, response codes, decrypted TCP stream ``stream``) as tshark sees them.

    The bots' response has no Content-Length, so by default Wireshark waits for the end of
    the body before dissecting it; ``http.desegment_body:FALSE`` dissects the headers at once.
    """
    out = run_tshark(capture, "-o", "http.desegment_body:FALSE", *extra, "-Y", "http", "-T", "fields",
                     "-E", "separator=|", "-e", "http.request.uri", "-e", "http.response.code",
                     "-z", f"follow,tls,ascii,{stream}", keylog=keylog)
    fields, marker, follow = out.partition("\n=====")
    assert marker, f"no follow output from tshark: {out!r}"
    uris, codes = [], []
    for line in filter(str.strip, fields.splitlines()):
        uri, code = line.split("|")
        if uri:
            uris.append(uri)
        if code:
            codes.append(int(code))
    return uris, codes, follow


def exported(state: TableState, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The table as classic pcap + key log file, and as pcapng with the keys inside."""
    capture, lines = table_capture(state, started=STARTED), table_keylog(state)
    pcap, keylog, pcapng = tmp_path / "table.pcap", tmp_path / "table.keylog", tmp_path / "table.pcapng"
    pcap.write_bytes(capture.to_pcap())
    keylog.write_text(keylog_text(lines))
    pcapng.write_bytes(capture.to_pcapng(lines))
    return pcap, keylog, pcapng


TLS13_LABELS = ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"]


@pytest.mark.parametrize("variant", list(Variant))
def test_a_finished_table_decrypts_in_wireshark_and_shows_the_http(variant: Variant, tmp_path: Path) -> None:
    state = play_table(variant, Scenario.HONEST, referee()).state
    assert state.completed
    lines = table_keylog(state)
    client = state.wallets[Seat.CLIENT]
    random_hex = client["client_random"].value.hex()
    tls13 = variant is Variant.TLS13
    if tls13:  # RFC 8446 keys come from the traffic secrets, one set per connection
        # The first session's, by its own client random; then the resumed connection's.
        first_random = state.past_wallets[0][Seat.CLIENT]["client_random"].value.hex()
        assert [line.split()[0] for line in lines] == TLS13_LABELS * 2
        assert [line.split()[1] for line in lines] == [first_random] * 4 + [random_hex] * 4
        assert first_random != random_hex
    else:
        assert lines == [f"CLIENT_RANDOM {random_hex} {client['master_secret'].value.hex()}"]
    pcap, keylog, pcapng = exported(state, tmp_path)

    for capture, log in ((pcap, keylog), (pcapng, None)):  # key log file / DSB alone
        uris, codes, stream = http_fields(capture, keylog=log)
        # tls13: the client's second visit is a second connection, resumed with its ticket.
        assert uris == (["/grades", "/transfer"] if tls13 else ["/grades"])
        assert codes == ([200, 200] if tls13 else [200])
        assert "GET /grades HTTP/1.1" in stream and "HTTP/1.1 200 OK" in stream
        assert "alice: A, bob: B+" in stream and "/transfer" not in stream
        if tls13:
            _, _, resumed = http_fields(capture, keylog=log, stream=1)
            assert "POST /transfer HTTP/1.1" in resumed and "transferred 100 to carol" in resumed

    # Without the keys tshark sees the records (the handshake is plaintext) but no HTTP.
    uris, codes, stream = http_fields(pcap)
    assert uris == [] and codes == [] and "GET /grades" not in stream
    # Wireshark names a TLS 1.3 record's outer type opaque_type.
    field = "tls.record.opaque_type" if tls13 else "tls.record.content_type"
    blind = run_tshark(pcap, "-Y", f"{field} == 23", "-T", "fields", "-e", "frame.number", "-e", "tcp.stream")
    streams = [row.split()[1] for row in blind.splitlines()]
    # The request and the response, sealed (TLS 1.3 also seals its handshake after the hellos, and
    # the NewSessionTicket; its resumed connection seals EncryptedExtensions, both Finished, the
    # request and the answer, and sends no Certificate or CertificateVerify).
    assert streams == (["0"] * 8 + ["1"] * 5 if tls13 else ["0"] * 2)
    if tls13:
        names = run_tshark(pcap, "-Y", "tls.handshake.type", "-T", "fields", "-e", "tcp.stream",
                           "-e", "tls.handshake.type", keylog=keylog).split("\n")
        resumed_types = [t for row in names if row.startswith("1\t") for t in row.split("\t")[1].split(",")]
        assert "11" not in resumed_types and "15" not in resumed_types  # no Certificate, CertificateVerify
        assert {"1", "2", "8", "20"} <= set(resumed_types)


def test_the_capture_is_synthetic_addresses_one_millisecond_apart(tmp_path: Path) -> None:
    state = play_table(Variant.TLS12_RSA, Scenario.HONEST, referee(seed=7)).state
    pcap, _, _ = exported(state, tmp_path)
    rows = run_tshark(pcap, "-Y", "tcp.len > 0", "-T", "fields", "-E", "separator=|",
                      "-e", "frame.time_epoch", "-e", "ip.src", "-e", "tcp.srcport",
                      "-e", "ip.dst", "-e", "tcp.dstport").split()
    client_view = [f for f in state.wire if getattr(f, "sender", None) is Seat.CLIENT
                   or getattr(f, "recipient", None) is Seat.CLIENT]
    assert len(rows) == len(client_view)  # one segment per message: each fits one MSS
    client, server = ["192.0.2.10", "50000"], ["192.0.2.20", "443"]
    start = Decimal(int(STARTED.timestamp()))
    for index, row in enumerate(rows, start=1):
        epoch, *ends = row.split("|")
        assert Decimal(epoch) - start == Decimal(index) / 1000
        assert ends in (client + server, server + client)
    # No clock is read: the same table and start give the same file.
    assert table_capture(state, started=STARTED).to_pcap() == pcap.read_bytes()


@pytest.mark.parametrize(("variant", "readable"), [(Variant.TLS12_RSA, True), (Variant.TLS12_ECDHE, False)])
def test_key_leak_capture_reads_only_with_keys_and_the_leak_opens_only_rsa(
        variant: Variant, readable: bool, tmp_path: Path) -> None:
    state = play_table(variant, Scenario.KEY_LEAK, referee()).state
    pcap, keylog, _ = exported(state, tmp_path)
    uris, codes, stream = http_fields(pcap)
    assert (uris, codes) == ([], []) and "GET /grades" not in stream
    assert http_fields(pcap, keylog=keylog)[:2] == (["/grades"], [200])
    # What the eavesdropper holds after the leak, given to Wireshark as an RSA key: it decrypts
    # RSA key exchange (the premaster is in the capture), never ECDHE (forward secrecy).
    leaked = tmp_path / "leaked-server-key.pem"
    leaked.write_bytes(state.wallets[Seat.EAVESDROPPER]["leaked_server_key"].value)
    uris, codes, stream = http_fields(pcap, "-o", f'uat:rsa_keys:"{leaked}",""')
    assert (uris == ["/grades"] and codes == [200]) is readable
    assert ("HTTP/1.1 200 OK" in stream) is readable


def test_a_tampered_unfinished_table_exports_what_the_client_saw(tmp_path: Path) -> None:
    state = play_table(Variant.TLS12_RSA, Scenario.TAMPER, referee()).state
    assert not state.completed and state.detected_by == "finished"
    pcap, keylog, pcapng = exported(state, tmp_path)
    for capture, log in ((pcap, keylog), (pcapng, None)):
        rows = run_tshark(capture, "-Y", "tls.handshake.type", "-T", "fields", "-E", "separator=|",
                          "-e", "ip.src", "-e", "tls.handshake.type", "-e", "tls.handshake.random",
                          keylog=log).splitlines()
        types = [row.split("|")[1] for row in rows]
        # ClientHello, ServerHello, Certificate, ServerHelloDone, ClientKeyExchange, the client's
        # Finished (decrypted with the client's keys); the server stopped before its own Finished.
        assert types == ["1", "2", "11", "14", "16", "20"]
        server_hello = rows[1].split("|")
        assert server_hello[0] == "192.0.2.20"
        seen_random = bytes.fromhex(server_hello[2].replace(":", ""))
        # The random the client got — one bit off the one the server sent.
        sent_random = state.wallets[Seat.SERVER]["server_random"].value
        assert seen_random != sent_random
        assert sum(bin(a ^ b).count("1") for a, b in zip(seen_random, sent_random, strict=True)) == 1


def test_a_table_stopped_before_any_key_exports_a_capture_without_keys(tmp_path: Path) -> None:
    state = play_table(Variant.TLS12_ECDHE, Scenario.MITM_SELF_SIGNED, referee()).state
    assert state.detected_by == "certificate chain"
    assert table_keylog(state) == []
    _, _, pcapng = exported(state, tmp_path)
    rows = run_tshark(pcapng, "-Y", "tls", "-T", "fields", "-e", "tls.handshake.type").split()
    assert rows == ["1", "2", "11", "12", "14"]  # the client refused the (swapped) certificate


def test_a_resumed_table_decrypts_in_wireshark_0rtt_transfer_included(tmp_path: Path) -> None:
    """tls13 replay: the export's second connection is the client's resumed one; its key log carries
    the early traffic secret, so Wireshark reads the 0-RTT POST the server accepted, and the 1-RTT
    answer."""
    from dataclasses import dataclass

    from handshake_game.bots.players import HonestBot
    from handshake_game.game import actions as a

    @dataclass
    class Accepting(HonestBot):
        def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
            if step_id == "server.resume":
                return a.AnswerResumption(a.EARLY_DATA_SINGLE_USE)
            return super().choose(step_id, state, seat)

    state = play_table(Variant.TLS13, Scenario.REPLAY, referee(), bots={Seat.SERVER: Accepting()}).state
    assert state.completed and "transfer" in state.wallets[Seat.SERVER]
    assert table_keylog(state)[4].startswith("CLIENT_EARLY_TRAFFIC_SECRET ")  # the resumed connection's
    pcap, keylog, pcapng = exported(state, tmp_path)
    for capture, log in ((pcap, keylog), (pcapng, None)):
        uris, codes, _ = http_fields(capture, keylog=log)
        assert uris == ["/grades", "/transfer"] and codes == [200, 200]
        _, _, stream = http_fields(capture, keylog=log, stream=1)
        assert "amount=100&to=carol" in stream and "transferred 100 to carol" in stream
    uris, codes, stream = http_fields(pcap, stream=1)  # without the keys, nothing
    assert uris == [] and "amount=100" not in stream


@pytest.mark.parametrize("policy", ["refuse", "single-use-tickets"])
def test_a_key_leak_table_exports_both_connections_0rtt_included(policy: str, tmp_path: Path) -> None:
    """tls13 key-leak: the first connection (the full handshake) and the resumed one, each with its
    own key log lines under its own client random; the resumed one's include the early traffic
    secret, so Wireshark reads the 0-RTT POST whether the server took it or skipped it (then the
    client sent it again under the 1-RTT keys, and both copies are on the wire)."""
    from dataclasses import dataclass

    from handshake_game.bots.players import HonestBot
    from handshake_game.game import actions as a

    @dataclass
    class Early(HonestBot):
        def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
            if step_id == "client.resume":
                return a.ResumeSession(a.PSK_KE, early_data=True)
            if step_id == "server.resume":
                return a.AnswerResumption(policy)
            return super().choose(step_id, state, seat)

    state = play_table(Variant.TLS13, Scenario.KEY_LEAK, referee(),
                       bots={Seat.CLIENT: Early(), Seat.SERVER: Early()}).state
    assert state.completed and state.key_leaked
    accepted = policy == "single-use-tickets"
    assert "transfer" in state.wallets[Seat.SERVER] and "request" in state.wallets[Seat.SERVER]
    lines = [line.split() for line in table_keylog(state)]
    first, resumed = (wallets[Seat.CLIENT]["client_random"].value.hex()
                      for wallets in (state.past_wallets[0], state.wallets))
    assert [(label, random) for label, random, _ in lines] == (
        [(label, first) for label in TLS13_LABELS]
        + [(label, resumed) for label in ["CLIENT_EARLY_TRAFFIC_SECRET", *TLS13_LABELS]])
    assert lines[4][2] == state.wallets[Seat.CLIENT]["client_early_traffic_secret"].value.hex()
    pcap, keylog, pcapng = exported(state, tmp_path)
    ports = run_tshark(pcap, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields",
                       "-e", "tcp.srcport").split()
    assert ports == ["50000", "50001"]
    for capture, log in ((pcap, keylog), (pcapng, None)):
        uris, codes, stream = http_fields(capture, keylog=log)
        assert uris == ["/grades"] + ["/transfer"] * (1 if accepted else 2) and codes == [200, 200]
        assert "alice: A, bob: B+" in stream
        _, _, again = http_fields(capture, keylog=log, stream=1)
        assert again.count("amount=100&to=carol") == (1 if accepted else 2)
        assert "transferred 100 to carol" in again
    uris, _, stream = http_fields(pcap, stream=1)  # without the keys, nothing
    assert uris == [] and "amount=100" not in stream


def test_a_table_exported_mid_resumption_logs_no_stale_secret_under_the_new_random() -> None:
    """Right after the client's resuming ClientHello (with 0-RTT data) its wallet still holds the
    first session's traffic secrets: they are logged under the first client random only, and the
    new one gets just the early secret it really derived."""
    from handshake_game.bots import ResumingBot
    from handshake_game.game import actions as a
    from handshake_game.game import apply, decide, open_table

    ref = referee()
    state, _ = open_table(Variant.TLS13, Scenario.HONEST)
    bot = ResumingBot(a.PSK_DHE_KE, True)
    while (step := state.current_step) is not None and step.id != "server.resume":
        for fact in decide(state, step.seat, bot.act(state, step.seat), ref):
            state = apply(state, fact)
    first = state.past_wallets[0][Seat.CLIENT]["client_random"].value.hex()
    resumed = state.wallets[Seat.CLIENT]["client_random"].value.hex()
    assert [line.split()[:2] for line in table_keylog(state)] == (
        [[label, first] for label in TLS13_LABELS] + [["CLIENT_EARLY_TRAFFIC_SECRET", resumed]])
