"""`handshake-game export scores`: a CSV row per student per round, straight from the store."""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import os
from pathlib import Path

from tool_helpers import handshake_game

from handshake_game.bots import play_table
from handshake_game.game import Referee, Scenario, Seat, Variant, replay, score_quiz
from handshake_game.store.repository import Store
from handshake_game.tls.pki import generate_rsa_key


def test_export_scores_gives_a_row_per_student_per_round_and_no_formula(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'class.db'}"
    store = Store(url)
    store.upgrade()
    keys = itertools.cycle([generate_rsa_key() for _ in range(2)])
    referee = Referee(rng=os.urandom, now=lambda: datetime.datetime.now(datetime.UTC),
                      rsa_keys=lambda: next(keys))
    session, _ = store.create_class_session(Variant.TLS12_RSA)
    student, _ = store.create_player("=HYPERLINK(\"http://evil.example\",\"x\")", session.id)
    other, _ = store.create_player("@SUM(1+1)", session.id)
    expected = {}
    for scenario in (Scenario.HONEST, Scenario.TAMPER):
        run = play_table(Variant.TLS12_RSA, scenario, referee)
        facts = [*run.facts, *score_quiz(run.state, Seat.CLIENT, "finished", 0, True),
                 *score_quiz(run.state, Seat.CLIENT, "finished", 1, False)]
        table_id = store.create_table(run.facts[0], class_session_id=session.id)
        store.append_facts(table_id, facts[1:])
        store.assign_seat(table_id, Seat.CLIENT, player_id=student.id)
        store.assign_seat(table_id, Seat.SERVER, player_id=other.id)
        store.assign_seat(table_id, Seat.CA, bot_kind="honest")
        expected[table_id] = replay(facts)
    store.dispose()

    result = handshake_game("export", "scores", "--db", url, "--classroom", session.join_code)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4  # two tables, two students each; the bot's seat is no student's row
    for number, state in enumerate(expected.values(), start=1):
        mine = [row for row in rows if row["table"] == str(number)]
        assert {row["seat"] for row in mine} == {"client", "server"}
        for row in mine:
            seat = Seat(row["seat"])
            assert row["classroom"] == session.join_code and row["round"] == "1"
            assert row["scenario"] == state.scenario.value and row["variant"] == "tls12-rsa"
            assert int(row["points"]) == state.scores[seat]
            assert int(row["mistakes"]) == sum(1 for v in state.verdicts if v.seat is seat and not v.ok)
            assert row["completed"] == ("yes" if state.completed else "no")
            assert row["outcome"] == state.outcome[0] and row["time"]
    clients = [row for row in rows if row["seat"] == "client"]
    # The first answers at each table: one right, one wrong (retries never count).
    assert {(row["quiz_correct"], row["quiz_answered"]) for row in clients} == {("1", "2")}
    # A name that a spreadsheet would run as a formula is shown as text.
    assert {row["player"] for row in clients} == {"'=HYPERLINK(\"http://evil.example\",\"x\")"}
    assert {row["player"] for row in rows if row["seat"] == "server"} == {"'@SUM(1+1)"}
    assert "\n=" not in result.stdout and "\n@" not in result.stdout
    assert handshake_game("export", "scores", "--db", url, "--classroom", "nope").stdout.count("\n") == 1
