"""The server keeps Python's garbage collector from stopping every table for long: what a
full collection leaves alive is frozen (so the next ones visit only newer objects), every
object is swept again now and then, and a long pause is logged."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from handshake_game.server import ws


@pytest.fixture(autouse=True)
def thawed() -> object:
    gc.unfreeze()
    yield None
    gc.unfreeze()


def test_a_full_collection_freezes_what_it_kept_then_a_sweep_visits_everything(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    ws.watch_collector()
    kept = [[n] for n in range(20_000)]  # objects the collector tracks, alive throughout

    async def run(sweep_every: float) -> int:
        keeper = asyncio.get_running_loop().create_task(ws.keep_collector(full_sweep_every=sweep_every))
        gc.collect()  # a full collection, as the collector would start on its own
        for _ in range(40):  # the keeper looks once a second
            await asyncio.sleep(0.1)
            if gc.get_freeze_count():
                break
        keeper.cancel()
        return gc.get_freeze_count()

    assert gc.get_freeze_count() == 0
    assert asyncio.run(run(sweep_every=3600.0)) >= len(kept)  # frozen: out of the collector's sight
    gc.unfreeze()
    monkeypatch.setattr(ws, "GC_PAUSE_LOGGED", 0.0)  # every pause is "long": its line is written
    with caplog.at_level(logging.INFO, logger="handshake_game.server"):
        assert asyncio.run(run(sweep_every=0.0)) >= len(kept)  # swept everything, then froze again
    assert any("swept every object" in record.message for record in caplog.records)
    assert any("garbage collection (generation 2) paused the process" in record.message
               for record in caplog.records)
