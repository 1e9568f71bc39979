"""`handshake-game export scores`: one CSV row per student per round, read from the store.

Columns: classroom, round, variant, scenario, difficulty, table, seat, player, points,
mistakes, hints, quiz_correct, quiz_answered, completed, outcome, time.

Everything comes from replaying each table's fact log (the facts are the truth; the score
rows are a cache): ``points``, ``mistakes`` (the referee's verdicts against the seat's
moves), ``hints``, and the quiz questions the student answered at that table, right the
first time and in all (retries teach, but never count). ``table`` is the table's number
within its class and round (a solo table: its id). ``outcome`` is how the table ended:
``attack_succeeded``, ``attack_stopped``, ``refused``, ``mistake``, ``dropped``,
``completed`` or ``playing``. ``time`` is when the table's last fact was stored.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula: every text cell that does is prefixed with ``'`` (OWASP's advice on CSV
injection), so a student named ``=HYPERLINK(…)`` is shown, never run.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from sqlmodel import col, select

from ..game.instructor import seat_record
from ..game.model import Seat
from ..store.models import ClassSession, FactRecord, GameTable, Player, SeatAssignment
from ..store.repository import Store

HEADER = ["classroom", "round", "variant", "scenario", "difficulty", "table", "seat", "player", "points",
          "mistakes", "hints", "quiz_correct", "quiz_answered", "completed", "outcome", "time"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value``, or a text that would start a formula with ``'`` put in front of it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def score_rows(store: Store, classroom: str | None = None,
               class_session_id: int | None = None) -> Iterator[dict[str, Any]]:
    """One dict per student per table (per round), in class, round and table order."""
    with store.session() as db:
        query = select(GameTable, ClassSession).join(
            ClassSession, GameTable.class_session_id == ClassSession.id, isouter=True)  # type: ignore[arg-type]
        if classroom is not None:
            query = query.where(ClassSession.join_code == classroom)
        if class_session_id is not None:
            query = query.where(GameTable.class_session_id == class_session_id)
        rows = db.exec(query.order_by(col(GameTable.class_session_id), col(GameTable.round),
                                      col(GameTable.id))).all()
        numbers: dict[tuple[int | None, int], int] = {}
        for table, session in rows:
            assert table.id is not None
            key = (table.class_session_id, table.round)
            numbers[key] = numbers.get(key, 0) + 1
            state = store.replay_table(table.id)
            seats = db.exec(select(SeatAssignment).where(SeatAssignment.table_id == table.id)).all()
            last = db.exec(select(FactRecord.created_at).where(FactRecord.table_id == table.id)
                           .order_by(col(FactRecord.seq).desc())).first()
            for assignment in sorted(seats, key=lambda a: list(Seat).index(Seat(a.seat))):
                if assignment.player_id is None:
                    continue  # a bot's seat: not a student's row
                player = db.get(Player, assignment.player_id)
                seat = Seat(assignment.seat)
                record = seat_record(state, seat)
                yield {"classroom": session.join_code if session is not None else "solo",
                       "round": table.round, "variant": table.variant, "scenario": state.scenario.value,
                       "difficulty": table.difficulty,
                       "table": numbers[key] if session is not None else table.id, "seat": seat.value,
                       "player": player.name if player is not None else "(unknown)",
                       "player_id": assignment.player_id,
                       "points": record["points"], "mistakes": record["mistakes"], "hints": record["hints"],
                       "quiz_correct": record["quiz_first_right"], "quiz_answered": record["quiz_answered"],
                       "completed": "yes" if state.completed else "no", "outcome": state.outcome[0],
                       "outcome_text": state.outcome[1], "detected_by": state.detected_by,
                       "time": last.isoformat() if last is not None else ""}


def export_scores(store: Store, classroom: str | None, out: TextIO,
                  class_session_id: int | None = None) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in score_rows(store, classroom, class_session_id):
        writer.writerow([safe_cell(row[name]) for name in HEADER])
    return 0


def run_export_scores(db_url: str, classroom: str | None, out: TextIO = sys.stdout) -> int:
    store = Store(db_url)
    store.upgrade()
    try:
        return export_scores(store, classroom, out)
    finally:
        store.dispose()
