"""A class report: one HTML page, printable (the browser's "Save as PDF"), with no script.

It says what a teacher files after a class: the class and its rounds, how each table ended
and which check decided it, and each student's record per round and over the whole class.
Everything a student typed (names) and everything the game says is escaped; the page has no
script and loads nothing (the server's Content-Security-Policy also forbids it).
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable
from typing import Any

STYLE = """
body { font: 11pt/1.4 "DejaVu Sans", system-ui, sans-serif; color: #1b2430; margin: 1.5em; }
h1 { font-size: 18pt; margin: 0 0 0.2em; } h2 { font-size: 13pt; margin: 1.4em 0 0.4em; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0; }
th, td { border: 1px solid #9aa5b4; padding: 0.25em 0.45em; text-align: left; vertical-align: top; }
th { background: #eef1f5; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #4a5566; } .bad { color: #a04000; } .good { color: #00704f; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def _row(*cells: Any, css: str | None = None) -> str:
    """A table row: numbers right-aligned, text escaped; ``css`` classes the last cell."""
    out = []
    for index, value in enumerate(cells):
        numeric = isinstance(value, int) and not isinstance(value, bool)
        last = css if index == len(cells) - 1 and css else ""
        classes = " ".join(c for c in ("n" if numeric else "", last) if c)
        attribute = f' class="{classes}"' if classes else ""
        out.append(f"<td{attribute}>{html.escape(str(value))}</td>")
    return f"<tr>{''.join(out)}</tr>"


def _table(header: Iterable[str], rows: Iterable[str]) -> str:
    head = "".join(f'<th scope="col">{html.escape(name)}</th>' for name in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


BAD = ("attack_succeeded", "mistake", "dropped")


def class_report(join_code: str, created: datetime.datetime, rounds: list[dict[str, Any]],
                 rows: list[dict[str, Any]], generated: datetime.datetime) -> str:
    """The report's HTML. ``rounds``: round, variant, scenario, difficulty; ``rows``: the
    export's rows (``tools.export_scores.score_rows``) for this class."""
    students = {row["player_id"] for row in rows}
    parts = [f"<h1>Handshake class {html.escape(join_code)}</h1>",
             f'<p class="meta">Created {html.escape(created.strftime("%Y-%m-%d %H:%M UTC"))}; report of '
             f'{html.escape(generated.strftime("%Y-%m-%d %H:%M UTC"))}; {len(rounds)} round(s), '
             f"{len(students)} student(s).</p>"]

    round_rows = []
    for played in rounds:
        ends = {row["table"]: row["outcome"] for row in rows if row["round"] == played["round"]}
        round_rows.append(_row(played["round"], played["variant"], played["scenario"], played["difficulty"],
                               len(ends), sum(o == "completed" for o in ends.values()),
                               sum(o == "attack_stopped" for o in ends.values()),
                               sum(o == "attack_succeeded" for o in ends.values())))
    parts.append("<h2>Rounds</h2>" + _table(["round", "handshake", "scenario", "difficulty", "tables",
                                             "completed", "attacks stopped", "attacks that succeeded"],
                                            round_rows))

    tables: dict[tuple[int, int], dict[str, Any]] = {}
    for row in rows:
        tables.setdefault((row["round"], row["table"]), row)
    parts.append("<h2>Tables</h2>" + _table(
        ["round", "table", "the check that decided", "how it ended"],
        [_row(key[0], key[1], row["detected_by"] or "—", row["outcome_text"],
              css="bad" if row["outcome"] in BAD else "good") for key, row in sorted(tables.items())]))

    parts.append("<h2>Students, round by round</h2>" + _table(
        ["student", "round", "table", "seat", "points", "mistakes", "hints", "quiz right first time",
         "completed"],
        [_row(row["player"], row["round"], row["table"], row["seat"], row["points"], row["mistakes"],
              row["hints"], f"{row['quiz_correct']} of {row['quiz_answered']}", row["completed"])
         for row in sorted(rows, key=lambda r: (r["player"].casefold(), r["round"]))]))

    totals: dict[int, dict[str, Any]] = {}
    for row in rows:
        total = totals.setdefault(row["player_id"], {"player": row["player"], "rounds": 0, "points": 0,
                                                     "mistakes": 0, "hints": 0, "right": 0, "answered": 0})
        total["rounds"] += 1
        for name, source in (("points", "points"), ("mistakes", "mistakes"), ("hints", "hints"),
                             ("right", "quiz_correct"), ("answered", "quiz_answered")):
            total[name] += row[source]
    parts.append("<h2>The whole class</h2>" + _table(
        ["student", "rounds", "points", "mistakes", "hints", "quiz right first time"],
        [_row(t["player"], t["rounds"], t["points"], t["mistakes"], t["hints"],
              f"{t['right']} of {t['answered']}")
         for t in sorted(totals.values(), key=lambda t: (-t["points"], t["player"].casefold()))]))
    title = html.escape(f"Handshake class {join_code}: report")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
