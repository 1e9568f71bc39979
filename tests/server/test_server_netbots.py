"""`handshake-game bots` against `handshake-game serve`, both as their own processes."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

INSTRUCTOR_TOKEN = "netbots-instructor-token"


async def test_bots_play_a_class_of_two_tables_over_the_network(tmp_path: Path) -> None:
    log = (tmp_path / "server.log").open("ab")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handshake_game", "serve", "--host", "127.0.0.1", "--port", "0",
        "--db", f"sqlite:///{tmp_path / 'netbots.db'}", "--instructor-token", INSTRUCTOR_TOKEN,
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=log)
    try:
        assert server.stdout is not None
        ws_url = None
        while True:
            line = (await asyncio.wait_for(server.stdout.readline(), 60)).decode()
            assert line, f"the server exited: {(tmp_path / 'server.log').read_text()}"
            ws_url = ws_url or next((word for word in line.split() if word.startswith("ws://")), None)
            if line.startswith("Instructor"):
                assert f"instructor.html#token={INSTRUCTOR_TOKEN}" in line
                break
        assert ws_url is not None and ws_url.endswith("/ws")

        bots = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "handshake_game", "bots", "--server", ws_url, "--token", INSTRUCTOR_TOKEN,
            "--tables", "2", "--variant", "tls12-rsa", "--timeout", "90",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(bots.communicate(), 120)
        lines = out.decode().splitlines()
        assert bots.returncode == 0, (out.decode(), err.decode())
        summary = dict(word.split("=", 1) for word in lines[-1].split())
        assert summary["completed"] == "2/2" and summary["errors"] == "0", lines[-1]
        # Two honest tls12-rsa tables: every seat's steps were played over the wire, and timed.
        assert int(summary["moves"]) >= 2 * 10
        assert 0 < float(summary["p50_ms"]) <= float(summary["p99_ms"])

        wrong = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "handshake_game", "bots", "--server", ws_url, "--token", "guess",
            "--tables", "1", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(wrong.communicate(), 60)
        assert wrong.returncode == 1 and b"bad_instructor_token" in err
        assert out.decode().splitlines()[-1].startswith("completed=0/1 errors=1 ")
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            await asyncio.wait_for(server.wait(), 30)
        log.close()


def test_percentiles_are_nearest_rank_rounding_up() -> None:
    """The bench's p99 of 100 samples is the 99th smallest (rank ⌈0.99 × 100⌉), not the largest."""
    from handshake_game.tools.netbots import percentile

    hundred = [float(n) for n in range(1, 101)]
    assert percentile(hundred, 0.99) == 99.0
    assert percentile(hundred, 0.5) == 50.0
    assert percentile([float(n) for n in range(1, 201)], 0.99) == 198.0
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0  # rank ⌈1.5⌉ = 2 of the sorted values
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.99) == 0.0
