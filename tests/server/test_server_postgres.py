"""The game server on PostgreSQL: a solo table played to the end, and restarts on the same
database that replay every table exactly (what ``DATABASE_URL=postgresql+psycopg://...``
gives a classroom)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from handshake_game.game.guide import correct_action
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import GameServer

from .conftest import utcnow
from .test_server_app import play_by_the_book

MakeGame = Callable[[], GameServer]


@pytest.fixture
def db_url(postgres_url: str) -> str:
    """This module's games run on a fresh PostgreSQL database instead of a SQLite file."""
    return postgres_url


@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS13])
def test_a_solo_table_played_to_the_end_replays_identically_after_a_restart(make_game: MakeGame,
                                                                            variant: Variant) -> None:
    game = make_game()
    assert game.store.engine.dialect.name == "postgresql"
    seated = game.solo(variant, Scenario.HONEST, Difficulty.STANDARD, Seat.CLIENT, "ana")
    final = play_by_the_book(game, seated.table_id, seated.token, Seat.CLIENT)
    assert final["completed"] and final["failed"] is None and final["scores"]["client"] > 0

    restarted = make_game()  # a new GameServer and Store on the same database, replaying it
    assert restarted.state(seated.table_id) == game.state(seated.table_id)
    assert restarted.store.replay_table(seated.table_id) == game.state(seated.table_id)
    assert restarted.store.load_facts(seated.table_id) == game.store.load_facts(seated.table_id)
    # The same view, at the same instant (a view shows the clock, to the minute, beside each
    # certificate: read a minute apart the two differ, and the test would flake).
    frozen = utcnow()
    game.now = restarted.now = lambda: frozen
    assert restarted.resume(seated.table_id, seated.token) == game.resume(seated.table_id, seated.token)
    assert restarted.resume(seated.table_id, seated.token)[1]["wire"] == final["wire"]
    assert restarted.store.scores(seated.table_id)[Seat.CLIENT] == final["scores"]["client"]
    with restarted.store.engine.connect() as connection:  # the tables Alembic made, not create_all
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() is not None
    assert sa.inspect(restarted.store.engine).get_pk_constraint("fact_record")["name"] == "pk_fact_record"


def test_a_restart_mid_table_resumes_at_the_same_step_and_finishes(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_ECDHE, Scenario.PASSIVE, Difficulty.GUIDED, Seat.SERVER, "bo")
    for _ in range(2):
        action = correct_action(game.state(seated.table_id), Seat.SERVER, utcnow())
        assert action is not None
        last = game.move(seated.table_id, seated.token, action)

    restarted = make_game()
    assert restarted.resume(seated.table_id, seated.token)[1]["step"] == last["step"]
    frozen = utcnow()  # the same view at the same instant (it shows the clock beside certificates)
    game.now = restarted.now = lambda: frozen
    assert restarted.resume(seated.table_id, seated.token) == game.resume(seated.table_id, seated.token)
    game.now = restarted.now = utcnow
    assert restarted.state(seated.table_id) == game.state(seated.table_id)
    final = play_by_the_book(restarted, seated.table_id, seated.token, Seat.SERVER)
    assert final["completed"]
    assert make_game().state(seated.table_id) == restarted.state(seated.table_id)
