"""`handshake-game export scores`: a CSV row per seat per table, straight from the store."""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import os
from pathlib import Path

from tool_helpers import handshake_game

from handshake_game.bots import play_table
from handshake_game.game import Referee, Scenario, Seat, Variant
from handshake_game.store.repository import Store
from handshake_game.tls.pki import generate_rsa_key


def test_export_scores_reads_the_tables_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'class.db'}"
    store = Store(url)
    store.upgrade()
    keys = itertools.cycle([generate_rsa_key() for _ in range(2)])
    referee = Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                      rsa_keys=lambda: next(keys))
    session, _ = store.create_class_session(Variant.TLS12_RSA)
    student, _ = store.create_player("Ada <script>", session.id)
    expected = {}
    for scenario in (Scenario.HONEST, Scenario.TAMPER):
        run = play_table(Variant.TLS12_RSA, scenario, referee)
        table_id = store.create_table(run.facts[0], class_session_id=session.id)
        store.append_facts(table_id, run.facts[1:])
        store.assign_seat(table_id, Seat.CLIENT, player_id=student.id)
        expected[table_id] = run.state
    # Two quiz answers: one right the first time; one wrong first, then right (a retry).
    store.save_lesson_progress(student.id, "finished", {
        "0": {"choice": 1, "correct": True, "first_correct": True},
        "1": {"choice": 2, "correct": True, "first_correct": False}}, True)
    store.dispose()

    result = handshake_game("export", "scores", "--db", url, "--classroom", session.join_code)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 8  # two tables, four seats each
    for row in rows:
        state = expected[int(row["table"])]
        assert row["classroom"] == session.join_code
        assert int(row["points"]) == state.scores[Seat(row["seat"])]
        assert row["completed"] == ("yes" if state.completed else "no")
        assert row["time"]
    clients = [row for row in rows if row["seat"] == "client"]
    assert {row["player"] for row in clients} == {"Ada <script>"}
    assert {(row["quiz_first_right"], row["quiz_answered"]) for row in clients} == {("1", "2")}
    assert all(row["quiz_answered"] == "" for row in rows if row["seat"] != "client")  # bots
    assert handshake_game("export", "scores", "--db", url, "--classroom", "nope").stdout.count("\n") == 1
