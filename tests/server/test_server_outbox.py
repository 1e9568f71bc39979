"""A connection's outbox: bounded, in order, and a table's dashboard entry replaces the one of
the same table still waiting (a class joining at once sends hundreds of entries in a few
seconds; an instructor's dashboard needs only each table's latest)."""

from __future__ import annotations

import asyncio
from typing import Any

from handshake_game.server.ws import Outbox


class SlowReader:
    """A connection whose reader takes nothing until ``reading`` is set."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.sent: list[str] = []
        self.aborted = False
        self.transport = self
        self.remote_address = ("127.0.0.1", 1)
        self.request = None

    async def send(self, text: str) -> None:
        await self.reading.wait()
        self.sent.append(text)

    def abort(self) -> None:
        self.aborted = True


def test_a_tables_waiting_entry_is_replaced_by_its_latest_and_the_order_kept() -> None:
    async def run() -> tuple[SlowReader, Outbox]:
        reader = SlowReader()
        box = Outbox(reader, limit=4)  # type: ignore[arg-type]
        assert box.send("view 0")
        await asyncio.sleep(0)  # the pump takes the first message and waits on the reader
        for n in range(1, 101):  # a hundred joins at two tables
            assert box.send(f"table 1 entry {n}", key=("table", 1))
            assert box.send(f"table 2 entry {n}", key=("table", 2))
        for n in range(3, 200):  # keyed entries count once per table, apart from the limit
            assert box.send(f"table {n} entry", key=("table", n))
        assert box.send("view 1")
        assert not box.dropped and box.waiting == 1 and box.queue.qsize() == 2 + 197 + 1
        reader.reading.set()
        for _ in range(500):
            await asyncio.sleep(0)
        return reader, box

    reader, box = asyncio.run(run())
    assert reader.sent == ["view 0", "table 1 entry 100", "table 2 entry 100",
                           *[f"table {n} entry" for n in range(3, 200)], "view 1"]
    assert not reader.aborted and box.latest == {}


def test_messages_without_a_key_still_fill_the_outbox_and_drop_the_reader() -> None:
    async def run() -> tuple[SlowReader, Outbox, list[bool]]:
        reader = SlowReader()
        box = Outbox(reader, limit=4)  # type: ignore[arg-type]
        sent: list[Any] = [box.send("view 0")]
        await asyncio.sleep(0)  # in the pump's hands
        sent += [box.send(f"view {n}") for n in range(1, 6)]
        return reader, box, sent

    reader, box, sent = asyncio.run(run())
    assert sent[:5] == [True] * 5 and sent[5] is False  # one in the pump's hands, four waiting
    assert box.dropped and reader.aborted
