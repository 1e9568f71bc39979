"""`handshake-game export scores`: one CSV row per seat per table, read from the store.

Columns: classroom, table, seat, player, points, completed, time, quiz_first_right,
quiz_answered. ``completed`` and the scores come from replaying the table's fact log (the
facts are the truth; the score rows are a cache), ``time`` is when the table's last fact was
stored. The quiz columns are the player's (a bot's are empty): how many quiz questions it
answered, and how many it got right the first time (retries teach, but never count).
"""

from __future__ import annotations

import csv
import json
import sys
from typing import TextIO

from sqlmodel import select

from ..game.model import Seat
from ..store.models import ClassSession, FactRecord, GameTable, Player, SeatAssignment
from ..store.repository import Store

HEADER = ["classroom", "table", "seat", "player", "points", "completed", "time", "quiz_first_right",
          "quiz_answered"]


def _quiz(store: Store, player_id: int) -> tuple[int, int]:
    """(right the first time, answered) over every quiz question the player answered."""
    answers = [answer for progress in store.lesson_progress(player_id).values()
               for answer in json.loads(progress.quiz_results).values()]
    return sum(1 for answer in answers if answer.get("first_correct", answer.get("correct"))), len(answers)


def export_scores(store: Store, classroom: str | None, out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    with store.session() as db:
        query = select(GameTable, ClassSession).join(
            ClassSession, GameTable.class_session_id == ClassSession.id, isouter=True)  # type: ignore[arg-type]
        if classroom is not None:
            query = query.where(ClassSession.join_code == classroom)
        rows = db.exec(query.order_by(GameTable.id)).all()  # type: ignore[arg-type]
        for table, session in rows:
            assert table.id is not None
            state = store.replay_table(table.id)
            seats = {a.seat: a for a in db.exec(select(SeatAssignment).where(
                SeatAssignment.table_id == table.id)).all()}
            last = db.exec(select(FactRecord.created_at).where(FactRecord.table_id == table.id)
                           .order_by(FactRecord.seq.desc())).first()  # type: ignore[attr-defined]
            for seat in Seat:
                assignment = seats.get(seat.value)
                player = "(empty)"
                quiz: tuple[int, int] | tuple[str, str] = ("", "")
                if assignment is not None and assignment.player_id is not None:
                    found = db.get(Player, assignment.player_id)
                    player = found.name if found is not None else "(unknown)"
                    quiz = _quiz(store, assignment.player_id)
                elif assignment is not None:
                    player = f"bot:{assignment.bot_kind}"
                writer.writerow([session.join_code if session is not None else "solo", table.id, seat.value,
                                 player, state.scores[seat], "yes" if state.completed else "no",
                                 last.isoformat() if last is not None else "", *quiz])
    return 0


def run_export_scores(db_url: str, classroom: str | None, out: TextIO = sys.stdout) -> int:
    store = Store(db_url)
    store.upgrade()
    try:
        return export_scores(store, classroom, out)
    finally:
        store.dispose()
