// The class's students, one row each (the dashboard's `students`, issue 16): points this round
// and over every round, mistakes, hints, quiz answers right the first time, time per step.
// A name opens the student's detail (the `student` reply: every round, step by step). An older
// server sends no `students`: the rows are then made from the tables' seats and their points.

import { seatName, seatIds, stepLabel } from "./catalog.js";
import { el, duration } from "./elements.js";

const COLUMNS = [
  { key: "name", label: "Student", text: true },
  { key: "where", label: "Table · seat", text: true },
  { key: "points", label: "Points" },
  { key: "points_total", label: "All rounds" },
  { key: "mistakes", label: "Mistakes" },
  { key: "hints", label: "Hints" },
  { key: "quiz", label: "Quiz (1st try)" },
  { key: "seconds_per_step", label: "Time / step" },
];

// Students from the tables, for a server that does not list them.
export function studentsFromTables(tables) {
  const rows = [];
  for (const table of tables) {
    for (const seat of seatIds(Object.keys(table.seats || {}))) {
      const holder = (table.seats || {})[seat];
      if (!holder || holder.player === undefined) continue;
      rows.push({
        player_id: holder.player_id ?? null, name: String(holder.player), table_id: table.table_id,
        number: table.number ?? table.table_id, seat,
        points: holder.points ?? (table.scores || {})[seat] ?? 0,
        mistakes: holder.mistakes, hints: holder.hints, quiz_first_right: holder.quiz_first_right,
        quiz_answered: holder.quiz_answered, seconds_per_step: holder.seconds_per_step,
      });
    }
  }
  return rows;
}

function sortValue(student, key) {
  if (key === "name") return String(student.name);
  if (key === "where") return (student.number ?? 0) * 10 + seatIds().indexOf(student.seat);
  if (key === "quiz") return student.quiz_answered ? (student.quiz_first_right ?? 0) / student.quiz_answered : -1;
  if (key === "points_total") return student.points_total ?? student.points ?? 0;
  const value = student[key];
  return typeof value === "number" ? value : -Infinity;
}

const known = (value) => (value === null || value === undefined ? "—" : String(value));

// Header cells that sort the table (a button in each, `aria-sort` on the sorted one).
export function renderStudentHead(row, sort, onSort) {
  row.replaceChildren(...COLUMNS.map((column) => {
    const sorted = sort.key === column.key;
    return el("th", { scope: "col", class: column.text ? null : "num", "aria-sort": sorted ? (sort.descending ? "descending" : "ascending") : null },
      el("button", { type: "button", class: "sort", testid: `sort-${column.key}`,
        onclick: () => onSort(column.key) }, column.label, sorted ? el("span", { "aria-hidden": "true" }, sort.descending ? " ▼" : " ▲") : null));
  }));
}

export function renderStudents(tbody, students, sort, onOpen) {
  const rows = [...students].sort((a, b) => {
    const x = sortValue(a, sort.key);
    const y = sortValue(b, sort.key);
    const order = typeof x === "string" ? x.localeCompare(y, undefined, { numeric: true, sensitivity: "base" })
      : x < y ? -1 : x > y ? 1 : 0;
    return (sort.descending ? -order : order) || String(a.name).localeCompare(String(b.name), undefined, { numeric: true });
  });
  tbody.replaceChildren(...rows.map((student) => {
    const name = el("bdi", {}, String(student.name));
    const quiz = student.quiz_answered === undefined || student.quiz_answered === null
      ? "—" : `${student.quiz_first_right ?? 0} / ${student.quiz_answered}`;
    return el("tr", { testid: `student-${student.player_id ?? student.name}` },
      el("td", { class: "player" }, student.player_id !== null && student.player_id !== undefined
        ? el("button", { type: "button", class: "link", testid: "student-open", onclick: () => onOpen(student) }, name)
        : name),
      el("td", {}, student.seat ? `table ${student.number ?? student.table_id} · ${seatName(student.seat)}` : "—"),
      el("td", { class: "num points" }, known(student.points ?? 0)),
      el("td", { class: "num" }, known(student.points_total ?? student.points)),
      el("td", { class: "num" }, known(student.mistakes)),
      el("td", { class: "num" }, known(student.hints)),
      el("td", { class: "num" }, quiz),
      el("td", { class: "num" }, duration(student.seconds_per_step)));
  }));
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: String(COLUMNS.length), class: "muted" }, "No student yet.")));
}

// The `student` reply: each round the student played, and its steps.
export function renderStudentDetail(container, student, variantOf) {
  const rounds = student.rounds || [];
  const total = rounds.reduce((sum, round) => sum + (round.points || 0), 0);
  container.replaceChildren(
    el("p", { testid: "student-summary" }, `${rounds.length} round${rounds.length === 1 ? "" : "s"}, ${total} points in all.`),
    ...rounds.map((round) => {
      const steps = round.steps || [];
      const quiz = round.quiz_answered ? `${round.quiz_first_right ?? 0} / ${round.quiz_answered}` : "—";
      return el("section", { class: "student-round", "aria-labelledby": `student-round-${round.round}` },
        el("h3", { id: `student-round-${round.round}` },
          `Round ${round.round}: table ${round.number ?? round.table_id}, the ${seatName(round.seat)}`),
        el("p", {}, `${round.points ?? 0} points · ${round.mistakes ?? 0} mistakes · ${round.hints ?? 0} hints · quiz ${quiz} right the first time`),
        steps.length
          ? el("table", { class: "student-steps" },
            el("caption", { class: "sr" }, `steps of round ${round.round}`),
            el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "step"), el("th", { scope: "col", class: "num" }, "time"),
              el("th", { scope: "col" }, "result"), el("th", { scope: "col", class: "num" }, "points"), el("th", { scope: "col" }, "why"))),
            el("tbody", {}, steps.map((step) => el("tr", { class: step.ok === false ? "wrong" : null },
              el("th", { scope: "row" }, step.label || stepLabel(step.step, variantOf(round))),
              el("td", { class: "num" }, duration(step.seconds)),
              el("td", {}, step.ok === false ? "✖ mistake" : step.ok ? "✔ right" : "—"),
              el("td", { class: "num" }, known(step.points)),
              el("td", { class: "why" }, step.reason ? String(step.reason) : "")))))
          : el("p", { class: "muted" }, "No step played in this round."));
    }));
}
