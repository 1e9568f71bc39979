"""The game server's core, without websockets: live tables in memory, backed by the store.

Rules:

* A table lives in memory as its folded state plus the length of its stored log. Every
  change is decided (``game.decide``), appended to the store with the expected log
  position, and only then applied and acknowledged: a crash loses nothing acknowledged.
* A player acts only through the token issued when seated, and only for that seat.
* Bots play every seat no human holds, until a human must move or the table ends.
* On start every stored table is replayed, so a restart continues where it stopped.

Methods are blocking (the store is synchronous, RSA work is CPU): the websocket adapter
calls them through ``asyncio.to_thread``. One lock per table keeps a table's moves serial.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from ..bots.players import AttackerBot, HonestBot
from ..game import actions as a
from ..game.facts import Fact, TableOpened
from ..game.model import Difficulty, Scenario, Seat, Variant
from ..game.table import Referee, Rejected, TableState, apply, decide, leak_server_key, open_table, view
from ..store import Store

log = logging.getLogger("handshake_game.server")

# Scenarios after which an eavesdropper bot tries to read what it recorded (as bots.play_table).
_TRY_DECRYPT = (Scenario.PASSIVE, Scenario.KEY_LEAK, Scenario.MITM_SELF_SIGNED, Scenario.MITM_WRONG_NAME)


class GameError(Exception):
    """A request the game server refuses. ``code`` goes on the wire, ``message`` to the player."""

    code = "game_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownTable(GameError):
    code = "unknown_table"


class BadToken(GameError):
    code = "bad_token"


class WrongSeat(GameError):
    code = "wrong_seat"


class OutOfTurn(GameError):
    code = "out_of_turn"


class MoveRejected(GameError):
    """The referee refused the move (``game.Rejected``): its reason is a teaching text."""

    code = "rejected"


@dataclass
class LiveTable:
    table_id: int
    state: TableState
    seq: int  # length of the stored log: where the next fact goes
    humans: dict[Seat, int]  # seat -> player id
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class SeatedPlayer:
    table_id: int
    seat: Seat
    token: str
    view: dict[str, Any]


class GameServer:
    def __init__(self, store: Store, *, rng: Callable[[int], bytes],
                 now: Callable[[], datetime.datetime],
                 key_source: Callable[[], rsa.RSAPrivateKey]) -> None:
        self.store = store
        self.now = now
        self.referee = Referee(rng=rng, now=now, rsa_keys=key_source)
        self._tables: dict[int, LiveTable] = {}
        self._tables_lock = threading.Lock()
        self._bots: dict[Seat, HonestBot] = {seat: HonestBot() for seat in Seat}
        self._bots[Seat.EAVESDROPPER] = AttackerBot()

    # -- start -------------------------------------------------------------------------------

    def load(self) -> int:
        """Replay every stored table into memory; returns how many. Bots that owed a move when
        the server stopped make it now."""
        for record in self.store.tables():
            assert record.id is not None
            state = self.store.replay_table(record.id)
            humans = {seat: row.player_id for seat, row in self.store.seats(record.id).items()
                      if row.player_id is not None}
            table = LiveTable(record.id, state, self.store.next_seq(record.id), humans)
            with table.lock:
                self._play_bots(table)
            with self._tables_lock:
                self._tables[record.id] = table
            log.info("table %d replayed at step %s", record.id, _step_name(table.state))
        return len(self._tables)

    # -- requests ----------------------------------------------------------------------------

    def solo(self, variant: Variant, scenario: Scenario, difficulty: Difficulty, seat: Seat,
             name: str) -> SeatedPlayer:
        """Open a table for one human at ``seat``; bots take the other seats and play up to the
        human's first turn."""
        try:
            state, facts = open_table(variant, scenario, difficulty)
        except Rejected as error:
            raise MoveRejected(error.reason) from None
        opened = facts[0]
        assert isinstance(opened, TableOpened) and len(facts) == 1
        table_id = self.store.create_table(opened)
        player, token = self.store.create_player(name)
        assert player.id is not None
        self.store.assign_seat(table_id, seat, player_id=player.id)
        for other in Seat:
            if other is not seat:
                kind = "attacker" if other is Seat.EAVESDROPPER else "honest"
                self.store.assign_seat(table_id, other, bot_kind=kind)
        table = LiveTable(table_id, state, self.store.next_seq(table_id), {seat: player.id})
        log.info("table %d opened: %s %s %s, player %d at %s", table_id, variant.value, scenario.value,
                 difficulty.value, player.id, seat.value)
        with table.lock:
            with self._tables_lock:
                self._tables[table_id] = table
            self._play_bots(table)
            return SeatedPlayer(table_id, seat, token, self._view(table, seat))

    def move(self, table_id: int, token: str, action: a.Action, seat: Seat | None = None) -> dict[str, Any]:
        """The token holder's move at its seat; returns its view after the bots answered."""
        table = self._table(table_id)
        with table.lock:
            own = self._authenticate(table, token)
            if seat is not None and seat is not own:
                raise WrongSeat(f"your seat at table {table_id} is the {own.value}, not the {seat.value}")
            step = table.state.current_step
            if (step is not None and step.seat is not own and not isinstance(action, a.TryDecrypt)
                    and not table.state.paused):
                raise OutOfTurn(f"it is the {step.seat.value}'s turn: {step.act}")
            try:
                facts = decide(table.state, own, action, self.referee)
            except Rejected as error:
                raise MoveRejected(error.reason) from None
            self._record(table, facts, f"{own.value} {type(action).__name__}")
            self._play_bots(table)
            return self._view(table, own)

    def resume(self, table_id: int, token: str) -> tuple[Seat, dict[str, Any]]:
        """The token holder's seat and view (after a reconnect or a server restart)."""
        table = self._table(table_id)
        with table.lock:
            own = self._authenticate(table, token)
            return own, self._view(table, own)

    def state(self, table_id: int) -> TableState:
        return self._table(table_id).state

    # -- internals -----------------------------------------------------------------------------

    def _table(self, table_id: int) -> LiveTable:
        with self._tables_lock:
            table = self._tables.get(table_id)
        if table is None:
            raise UnknownTable(f"no table {table_id}")
        return table

    def _authenticate(self, table: LiveTable, token: str) -> Seat:
        # Check every human seat so the time taken does not tell which seat a token is near.
        found = None
        for seat, player_id in table.humans.items():
            if self.store.verify_player(player_id, token) and found is None:
                found = seat
        if found is None:
            raise BadToken(f"that token holds no seat at table {table.table_id}")
        return found

    def _view(self, table: LiveTable, seat: Seat) -> dict[str, Any]:
        return view(table.state, seat, self.now(), dissect=True)

    def _record(self, table: LiveTable, facts: list[Fact], what: str) -> None:
        """Store first, then apply: what is in memory is always what is committed."""
        table.seq = self.store.append_facts(table.table_id, facts, expected_seq=table.seq)
        before = _step_name(table.state)
        for fact in facts:
            table.state = apply(table.state, fact)
        self.store.save_scores(table.table_id, dict(table.state.scores))
        log.info("table %d: %s, step %s -> %s", table.table_id, what, before, _step_name(table.state))

    def _play_bots(self, table: LiveTable) -> None:
        while (step := table.state.current_step) is not None and step.seat not in table.humans:
            if table.state.paused:
                return
            action = self._bots[step.seat].act(table.state, step.seat)
            self._record(table, decide(table.state, step.seat, action, self.referee),
                         f"bot {step.seat.value} {type(action).__name__}")
        if table.state.current_step is None and Seat.EAVESDROPPER not in table.humans:
            self._eavesdropper_epilogue(table)

    def _eavesdropper_epilogue(self, table: LiveTable) -> None:
        """After the handshake, the eavesdropper bot reads what it can (as ``bots.play_table``)."""
        state = table.state
        if state.decryptions or state.scenario not in _TRY_DECRYPT:
            return
        if (state.scenario is Scenario.KEY_LEAK and not state.key_leaked
                and state.wallets[Seat.SERVER].get("server_key") is not None):
            self._record(table, leak_server_key(state), "server key leaked")
        self._record(table, decide(table.state, Seat.EAVESDROPPER, a.TryDecrypt(), self.referee),
                     "bot eavesdropper TryDecrypt")


def _step_name(state: TableState) -> str:
    step = state.current_step
    if step is not None:
        return step.id
    return "completed" if state.completed else "ended"
