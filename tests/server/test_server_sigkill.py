"""Durability: SIGKILL the server in the middle of several tables; every acknowledged move is
still there after a restart on the same database, the tables replay to the views the players
last saw, and the players continue with their tokens from the step they were on."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from test_server_e2e import ask, start_server, stop_server
from websockets.asyncio.client import connect

VARIANTS = ["tls12-rsa", "tls12-ecdhe", "tls13"]


async def test_sigkill_mid_class_loses_no_acknowledged_move(tmp_path: Path) -> None:
    served = await start_server(tmp_path)
    last_seen: dict[int, dict[str, Any]] = {}
    tokens: dict[int, str] = {}
    async with connect(served.ws_url, max_size=None) as ws:
        await ask(ws, {"type": "hello", "protocol": 1})
        for variant in VARIANTS:
            await ws.send(json.dumps({"type": "solo", "variant": variant, "scenario": "honest",
                                      "difficulty": "guided", "seat": "client", "name": variant}))
            seated = json.loads(await asyncio.wait_for(ws.recv(), 60))
            view = json.loads(await asyncio.wait_for(ws.recv(), 60))["view"]
            table_id = seated["table_id"]
            tokens[table_id] = seated["token"]
            for _ in range(2):  # two acknowledged moves each, then the plug is pulled
                offered = view["offered"]
                reply = await ask(ws, {"type": "move", "table_id": table_id, "token": tokens[table_id],
                                       "action": {"name": offered["action"], "fields": offered["fields"]}})
                assert reply["type"] == "view", reply
                view = reply["view"]
            last_seen[table_id] = view
    served.process.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(served.process.wait(), 30) == -signal.SIGKILL
    served.log.close()

    restarted = await start_server(tmp_path)
    try:
        async with connect(restarted.ws_url, max_size=None) as ws:
            await ask(ws, {"type": "hello", "protocol": 1})
            for table_id, before in last_seen.items():
                again = (await ask(ws, {"type": "resume", "table_id": table_id, "token": tokens[table_id]}))
                view = again["view"]
                # The same step, the same wallet, the same verdicts: nothing acknowledged was lost.
                assert view["step"] == before["step"] and view["wallet"] == before["wallet"]
                assert view["verdicts"] == before["verdicts"] and view["scores"] == before["scores"]
                while not view["completed"]:
                    offered = view["offered"]
                    move = {"name": offered["action"], "fields": offered["fields"]}
                    reply = await ask(ws, {"type": "move", "table_id": table_id, "token": tokens[table_id],
                                           "action": move})
                    assert reply["type"] == "view", reply
                    view = reply["view"]
                assert view["failed"] is None
    finally:
        assert await stop_server(restarted) == 0
