// The instructor's dashboard: create a class (or reopen an earlier one), show its join code and
// QR code until the start, watch every table live (`dashboard`, then pushed `table_update`s) on
// an overview that fits a class of 30 tables on one projector screen, and run the class: start,
// pause, resume, inject a scenario, leak keys and debrief the whole class or a selection of
// tables; move or rotate seats; play further rounds; follow each student; show one table's
// debrief large on the projector; end; download the scores and the class report.
//
// Rules: everything that came from the server or from a player is put in the page as text
// nodes (`el()`), never as HTML; the QR code (an SVG document) is shown as an <img> whose
// data: URL is re-serialised from a parsed SVG element, so nothing in it can run. Messages
// are events: the page renders whatever arrives, in any order. Seat, step, scenario, handshake
// and difficulty names come from the server's catalog (./catalog.js). Fields a server before
// issue 16 does not send (rounds, students, trouble, …) are optional throughout.

import { Connection, saved, save, forget } from "./net.js";
import {
  loadCatalog, seats, seatIds, seatName, stepLabel, variants, scenarios, scenariosFor, difficulties, fillSelect,
  scenarioOption,
} from "./catalog.js";
import { $, el, append } from "./elements.js";
import {
  OUTCOME_STATUS, alertsOf, alertItem, buildFace, renderFace, orderTiles, tableName, tableNumber,
} from "./overview.js";
import { renderProjector } from "./projector.js";
import { renderStudentHead, renderStudents, renderStudentDetail, studentsFromTables } from "./students.js";

const ACTION_DONE = {
  start: "The class has started: bots took the empty seats.",
  pause: "Paused.",
  resume: "Resumed.",
  inject: "Scenario injected.",
  leak_key: "The server key was leaked to the eavesdropper.",
  end: "The class has ended: no more joins, every table paused.",
  move_seat: "Seats swapped.",
  rotate_seats: "Seats rotated: every player moved one seat on.",
  next_round: "The next round is open, seats rotated: press Start to begin it.",
  settings: "Settings saved.",
};

// -- state ---------------------------------------------------------------------------------

const stored = saved("instructor") || {};
// The sign-in link `serve` prints carries the token in the fragment (#token=…): a browser never
// sends a fragment to a server, nor in a Referer. The classes belong to the server's instructor,
// so a new token (one that replaced the old) keeps the saved class.
const fromLink = new URLSearchParams(location.hash.replace(/^#/, "")).get("token");
if (fromLink) {
  stored.token = fromLink;
  save("instructor", stored);
  // The token is a password: keep it out of the address bar, the history and screenshots.
  history.replaceState(null, "", location.pathname + location.search);
}

const state = {
  token: stored.token || null,
  classId: stored.class_session_id ?? null,
  joinCode: stored.join_code || null,
  joinUrl: stored.join_url || null,
  qrSvg: stored.qr_svg || null,
  variant: stored.variant || null,
  scenario: stored.scenario || null,
  difficulty: stored.difficulty || null,
  started: Boolean(stored.started),
  ended: Boolean(stored.ended),
  round: null, // the current round (a server before issue 16 has none)
  rounds: [],
  stuckAfter: null,
  students: null, // the dashboard's `students`, kept current from the pushed tables
  rounds16: false, // the server speaks issue 16 (rounds, selections, students)
  tables: new Map(), // table_id -> the latest table entry
  receivedAt: new Map(), // table_id -> when that entry came (Date.now())
  selected: new Set(), // table ids ticked on the overview
  debriefs: new Map(), // table_id -> debrief
  classes: null, // the `classes` reply
  classesAsked: false,
  joinOpen: null, // the join panel: null = open until the start; else the instructor's choice
  projecting: null, // the table shown on the projector
  sort: { key: "points", descending: true },
  awaitingDashboard: false,
  announce: false, // say so when the dashboard comes back after a (re)connect
  pendingCreate: null,
};

function remember() {
  save("instructor", {
    token: state.token,
    class_session_id: state.classId,
    join_code: state.joinCode,
    join_url: state.joinUrl,
    qr_svg: state.qrSvg,
    variant: state.variant,
    scenario: state.scenario,
    difficulty: state.difficulty,
    started: state.started,
    ended: state.ended,
  });
}

// -- the connection ----------------------------------------------------------------------------

const connection = new Connection({
  onOpen() {
    setConnection(true);
    if (state.token && state.classId !== null) {
      state.announce = true;
      requestDashboard();
    }
  },
  onClose() {
    setConnection(false);
  },
  onMessage: handle,
});

// The server takes at most 20 messages a second from a connection (and refuses the rest with
// `rate_limited`): the page paces its requests under that, and a request already waiting (a
// table's debrief asked again by every push, a dashboard after each action) is not queued twice.
const PACE_MS = 70;
const outbox = [];
let draining = null;

function send(message) {
  const text = JSON.stringify(message);
  if (outbox.includes(text)) return;
  outbox.push(text);
  if (draining === null) drain();
}

function drain() {
  const text = outbox.shift();
  if (text === undefined) {
    draining = null;
    return;
  }
  connection.send(JSON.parse(text));
  draining = setTimeout(drain, PACE_MS);
}

function instructor(type, extra = {}) {
  if (!state.token || state.classId === null) {
    showError("There is no class yet: create one first.");
    return;
  }
  send({ type, token: state.token, class_session_id: state.classId, ...extra });
}

function requestDashboard() {
  state.awaitingDashboard = true;
  instructor("dashboard");
}

function requestClasses() {
  if (!state.token) return;
  state.classesAsked = true;
  send({ type: "classes", token: state.token });
}

function setConnection(up) {
  const line = $("connection");
  line.textContent = up ? "● connected" : "○ reconnecting…";
  line.classList.toggle("down", !up);
}

// -- incoming messages ----------------------------------------------------------------------

function handle(message) {
  switch (message.type) {
    case "session_created":
      state.classId = message.class_session_id;
      state.joinCode = message.join_code;
      state.joinUrl = message.join_url || null;
      state.qrSvg = message.qr_svg || null;
      Object.assign(state, state.pendingCreate || {});
      state.pendingCreate = null;
      state.started = false;
      state.ended = false;
      state.round = null;
      state.rounds = [];
      state.students = null;
      state.joinOpen = null;
      clearTables();
      remember();
      showStatus(`Class created: students join with the code ${message.join_code}.`);
      if (state.classes !== null) requestClasses();
      render();
      break;
    case "dashboard":
      if (message.class_session_id !== state.classId) return;
      takeDashboard(message);
      break;
    case "table_update": {
      if (message.class_session_id !== state.classId) return;
      const table = message.table;
      // A push from an earlier round's table: the overview shows the current round only.
      if (state.round !== null && typeof table.round === "number" && table.round !== state.round) return;
      state.tables.set(table.table_id, table);
      state.receivedAt.set(table.table_id, Date.now());
      mergeStudents(table);
      inferStarted();
      renderTable(table);
      orderOverview();
      renderClassWide();
      // A revealed table's debrief stays current while the table plays on.
      if (state.debriefs.has(table.table_id) || state.projecting === table.table_id) {
        instructor("reveal", { table_id: table.table_id });
      }
      break;
    }
    case "done":
      if (message.action === "start") {
        state.started = true;
        state.joinOpen = null; // the join panel folds away
      }
      if (message.action === "end") state.ended = true;
      if (message.action === "next_round") {
        state.started = false;
        state.selected.clear();
        state.debriefs.clear();
        renderDebrief();
      }
      if (message.action === "settings") state.stuckAfter = Number($("stuck-after").value) || state.stuckAfter;
      remember();
      showStatus(describeDone(message));
      renderControls();
      // The list of classes counts rounds and says which ended: keep it true.
      if (state.classes !== null && ["start", "end", "next_round"].includes(message.action)) requestClasses();
      renderJoin();
      // The pushed table_updates follow; a fresh dashboard also catches tables a seat move touched.
      requestDashboard();
      break;
    case "debrief":
      state.debriefs.set(message.table_id, message.debrief);
      renderDebrief();
      if (state.projecting === message.table_id) renderProjection();
      break;
    case "student":
      showStudent(message.student || {});
      break;
    case "classes":
      state.classes = Array.isArray(message.classes) ? message.classes : [];
      renderClasses();
      break;
    case "error":
      handleError(message);
      break;
    default:
      break; // views, seated… are for the student pages
  }
}

function clearTables() {
  state.tables.clear();
  state.receivedAt.clear();
  state.selected.clear();
  state.debriefs.clear();
  $("tables").replaceChildren();
}

function takeDashboard(message) {
  state.awaitingDashboard = false;
  // The server names its class: a fresh browser holding only the token shows it whole.
  if (message.join_code) state.joinCode = message.join_code;
  if (message.join_url) state.joinUrl = message.join_url;
  if (message.qr_svg) state.qrSvg = message.qr_svg;
  if (typeof message.ended === "boolean") state.ended = message.ended;
  const newRound = typeof message.round === "number" && message.round !== state.round;
  if (typeof message.round === "number") {
    state.rounds16 = true;
    state.round = message.round;
  }
  if (Array.isArray(message.rounds)) state.rounds = message.rounds;
  const current = state.rounds.find((round) => round.round === state.round);
  for (const key of ["variant", "scenario", "difficulty"]) {
    if (current?.[key]) state[key] = current[key];
    else if (message[key]) state[key] = message[key];
  }
  if (typeof current?.started === "boolean") state.started = current.started;
  else if (typeof message.started === "boolean") state.started = message.started;
  if (typeof message.stuck_after === "number") state.stuckAfter = message.stuck_after;
  state.students = Array.isArray(message.students) ? message.students.map((student) => ({ ...student })) : null;
  remember();
  if (newRound) clearTables();
  const now = Date.now();
  const listed = new Set();
  state.tables.clear();
  for (const table of message.tables || []) {
    state.tables.set(table.table_id, table);
    state.receivedAt.set(table.table_id, now);
    listed.add(table.table_id);
  }
  for (const id of [...state.selected]) if (!listed.has(id)) state.selected.delete(id);
  inferStarted();
  render();
  if (state.rounds16 && !state.classesAsked) requestClasses();
  if (state.announce) {
    state.announce = false;
    const count = state.tables.size;
    showStatus(`Class ${state.classId}${state.round ? `, round ${state.round}` : ""}: ${count} table${count === 1 ? "" : "s"}, updated live.`);
  }
}

// A pushed table carries its players' latest points, mistakes, hints…: the students' rows
// follow it (the total over the rounds moves by what this round's points moved).
function mergeStudents(table) {
  if (!state.students) return;
  for (const seat of Object.keys(table.seats || {})) {
    const holder = table.seats[seat];
    if (!holder || holder.player_id === undefined) continue;
    const student = state.students.find((row) => row.player_id === holder.player_id);
    if (!student) continue;
    if (typeof holder.points === "number") {
      if (typeof student.points_total === "number") student.points_total += holder.points - (student.points ?? 0);
      student.points = holder.points;
    } else if (typeof (table.scores || {})[seat] === "number") student.points = table.scores[seat];
    for (const key of ["mistakes", "hints", "quiz_first_right", "quiz_answered", "seconds_per_step"]) {
      if (holder[key] !== undefined) student[key] = holder[key];
    }
    Object.assign(student, { table_id: table.table_id, number: tableNumber(table), seat });
  }
}

function handleError(message) {
  const lost = ["unknown_session", "bad_instructor_token"].includes(message.code);
  if (lost && state.awaitingDashboard) {
    // The saved class is not on this server (a new database, or another token).
    state.awaitingDashboard = false;
    state.classId = null;
    remember();
    render();
    showError(`The saved class could not be opened (${message.message}). Create a new class.`);
    return;
  }
  if (message.code === "bad_instructor_token" && state.classId === null) {
    // The saved token is not this server's: ask for it again.
    state.token = null;
    remember();
    render();
  }
  showError(`${message.message} (${message.code})`);
}

// "Tables 3, 5": the tables an action changed, by their numbers in the class.
function tablesNamed(ids) {
  if (ids.length > 1 && ids.length === state.tables.size) return `Every table (${ids.length}).`;
  const numbers = ids.map((id) => (state.tables.has(id) ? tableNumber(state.tables.get(id)) : id)).sort((a, b) => a - b);
  if (numbers.length > 8) return `${numbers.length} tables: ${numbers.slice(0, 8).join(", ")}…`;
  return `Table${numbers.length > 1 ? "s" : ""} ${numbers.join(", ")}.`;
}

function describeDone(message) {
  let text = ACTION_DONE[message.action] || `${message.action}: done.`;
  if (message.action === "start" && state.round > 1) text = `Round ${state.round} has started: bots took the empty seats.`;
  const ids = message.table_ids || [];
  if (["pause", "resume", "inject", "leak_key"].includes(message.action)) {
    text = `${text} ${ids.length ? tablesNamed(ids) : "No table changed."}`;
  }
  return `✔ ${text}`;
}

function inferStarted() {
  // start fills every empty seat with a bot: a bot anywhere means the round has started.
  for (const table of state.tables.values()) {
    if (Object.values(table.seats || {}).some((seat) => seat && seat.bot)) state.started = true;
  }
}

function showStatus(text) {
  $("error").hidden = true;
  $("status").textContent = text;
}

function showError(text) {
  const line = $("error");
  line.textContent = `⚠ ${text}`;
  line.hidden = false;
}

// -- rendering -------------------------------------------------------------------------------

function render() {
  const hasToken = Boolean(state.token);
  const hasClass = hasToken && state.classId !== null;
  $("token-panel").hidden = hasToken;
  $("create-panel").hidden = !hasToken || (hasClass && !creatingAnother);
  $("cancel-create").hidden = !hasClass;
  $("class-view").hidden = !hasClass;
  renderClasses();
  if (!hasClass) return;
  renderJoin();
  renderControls();
  const shown = new Set(state.tables.keys());
  for (const tile of [...$("tables").children]) {
    if (!shown.has(Number(tile.dataset.tableId))) tile.remove();
  }
  for (const table of sortedTables()) renderTable(table);
  orderOverview();
  $("no-tables").hidden = state.tables.size > 0;
  renderClassWide();
  renderRounds();
  renderDebrief();
}

function sortedTables() {
  return [...state.tables.values()].sort((a, b) => tableNumber(a) - tableNumber(b) || a.table_id - b.table_id);
}

function renderJoin() {
  $("join-code").textContent = state.joinCode || "—";
  const link = $("join-url");
  if (state.joinUrl) {
    link.textContent = state.joinUrl;
    link.href = state.joinUrl;
    link.parentElement.hidden = false;
  } else {
    link.parentElement.hidden = true;
  }
  const qr = $("qr");
  const source = state.qrSvg ? svgDataUrl(state.qrSvg) : null;
  qr.hidden = !source;
  if (source && qr.getAttribute("src") !== source) qr.src = source;
  // Open until the start (students are joining); then folded, back on demand.
  const open = state.joinOpen ?? !state.started;
  const panel = $("join-panel");
  panel.hidden = !open && !panel.classList.contains("full");
  const toggle = $("join-toggle");
  toggle.setAttribute("aria-expanded", String(open));
  toggle.textContent = open ? "▾ Hide the join code" : "▸ Show the join code";
  renderClassInfo();
}

// The server's QR code is an SVG document. Parse it as SVG, keep only the <svg> element (no
// script can run in an <img> anyway), give it a viewBox so it scales to the projector, and
// show it as an image.
function svgDataUrl(text) {
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = parsed.documentElement;
  if (!svg || svg.localName !== "svg" || parsed.getElementsByTagName("parsererror").length) return null;
  for (const script of [...svg.getElementsByTagName("script")]) script.remove();
  if (!svg.hasAttribute("viewBox")) {
    const width = parseFloat(svg.getAttribute("width"));
    const height = parseFloat(svg.getAttribute("height"));
    if (width > 0 && height > 0) svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }
  svg.setAttribute("shape-rendering", "crispEdges");
  const source = new XMLSerializer().serializeToString(svg);
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(source)}`;
}

function renderControls() {
  const start = $("start");
  start.disabled = state.started || state.ended;
  const round = state.round && state.round > 1 ? ` round ${state.round}` : "";
  start.textContent = state.started ? `✔ Started${round}` : `▶ Start${round}`;
  $("end").disabled = state.ended;
  $("end").textContent = state.ended ? "■ Ended" : "■ End the class";
  $("next-round").disabled = state.ended;
  fillTableSelect($("move-from-table"));
  fillTableSelect($("move-to-table"));
  fillInject($("inject-scenario"));
  renderSelection();
  renderClassInfo();
}

function renderClassInfo() {
  $("class-heading").textContent = `Class ${state.classId}${state.round ? ` · round ${state.round}` : ""}`;
  const parts = [state.variant, state.scenario, state.difficulty].filter(Boolean);
  const students = state.students ? state.students.length : null;
  $("class-info").textContent = `Class ${state.classId}${parts.length ? ` · ${parts.join(" · ")}` : ""}`
    + (state.ended ? " · ■ ended" : state.started ? " · ▶ started" : " · ❚❚ waiting to start")
    + ` · ${state.tables.size} table${state.tables.size === 1 ? "" : "s"}`
    + (students !== null ? ` · ${students} student${students === 1 ? "" : "s"}` : "")
    + (state.joinCode ? ` · code ${state.joinCode}` : "");
}

function fillTableSelect(select) {
  const tables = sortedTables();
  const ids = tables.map((table) => String(table.table_id));
  const current = [...select.options].map((option) => option.value);
  const names = tables.map((table) => tableName(table).toLowerCase());
  if (ids.join() === current.join() && names.join() === [...select.options].map((o) => o.textContent).join()) return;
  const chosen = select.value;
  select.replaceChildren(...tables.map((table, index) => el("option", { value: ids[index] }, names[index])));
  if (ids.includes(chosen)) select.value = chosen;
}

// The scenarios staged for the round's handshake (all of them if it is not known yet).
function fillInject(select) {
  fillSelect(select, state.variant ? scenariosFor(state.variant) : scenarios(), scenarioOption);
}

// -- the selection -------------------------------------------------------------------------------

function selection() {
  return [...state.selected].filter((id) => state.tables.has(id)).sort((a, b) => a - b);
}

function renderSelection() {
  const ids = selection();
  const count = state.tables.size;
  $("acts-on").textContent = ids.length
    ? `Acts on the ${ids.length} selected table${ids.length === 1 ? "" : "s"} (${ids.map((id) => tableNumber(state.tables.get(id))).sort((a, b) => a - b).join(", ")})`
    : `Acts on the whole class (${count} table${count === 1 ? "" : "s"})`;
  for (const tile of $("tables").children) {
    const id = Number(tile.dataset.tableId);
    const box = tile.querySelector(".tile-select");
    box.checked = state.selected.has(id);
    tile.classList.toggle("selected", box.checked);
  }
}

function select(ids) {
  state.selected = new Set(ids);
  renderSelection();
}

// An action for the selection, or (nothing ticked) for the whole class. A server before issue
// 16 takes one table at a time: each table is sent on its own.
function act(type, extra = {}) {
  const ids = selection();
  if (!state.tables.size) {
    showError("No table yet.");
    return;
  }
  const perTable = !state.rounds16 && (ids.length || ["inject", "leak_key"].includes(type));
  if (perTable) {
    for (const id of ids.length ? ids : [...state.tables.keys()]) instructor(type, { ...extra, table_id: id });
  } else if (ids.length) {
    instructor(type, { ...extra, table_ids: ids });
  } else {
    instructor(type, extra);
  }
}

function revealSelection() {
  const ids = selection();
  const targets = ids.length ? ids : sortedTables().map((table) => table.table_id);
  if (!targets.length) {
    showError("No table to reveal yet.");
    return;
  }
  for (const id of targets) instructor("reveal", { table_id: id });
  $("debrief-panel").hidden = false;
  $("debrief-heading").focus();
}

// -- the tiles -------------------------------------------------------------------------------

function clock() {
  return { now: Date.now(), stuckAfter: state.stuckAfter, started: state.started && !state.ended };
}

function faceContext(table) {
  return { ...clock(), receivedAt: state.receivedAt.get(table.table_id) ?? Date.now() };
}

const troubles = new Map();

function orderOverview() {
  orderTiles($("tables"), troubles);
}

// One tile per table. Its controls are built once (so focus, a ticked box and a chosen scenario
// survive updates); its facts are rebuilt from each new entry.
function renderTable(table) {
  const id = table.table_id;
  let tile = $(`table-${id}`);
  if (!tile) {
    tile = buildTile(id);
    const after = [...$("tables").children].find((other) => Number(other.dataset.tableId) > id);
    $("tables").insertBefore(tile, after || null);
  }
  $("no-tables").hidden = state.tables.size > 0;
  troubles.set(id, renderFace(tile, table, faceContext(table)));
  tile.querySelector(".tile-select").checked = state.selected.has(id);
  tile.querySelector(".tile-summary-name").textContent = ` of ${tableName(table).toLowerCase()}`;

  tile.querySelector(".scenario").textContent = `scenario: ${table.scenario}`
    + (table.difficulty ? ` · ${table.difficulty}` : "") + ` · table id ${id}`;
  const step = tile.querySelector(".step");
  if (table.step) {
    step.replaceChildren(
      el("span", { class: "turn" }, `${seatName(table.turn)}'s turn`),
      " — ", stepLabel(table.step, table.variant || state.variant), " ", el("code", {}, table.step));
  } else {
    step.replaceChildren(table.completed ? "✔ every step done" : table.failed ? "■ the handshake ended" : "no step to play");
  }

  const alerts = tile.querySelector(".table-alerts");
  alerts.replaceChildren(...alertsOf(table).map((text) => alertItem(text)));
  alerts.hidden = alerts.children.length === 0;

  if (tile.querySelector(".tile-details").open) tile.querySelector(".card-ladder").replaceChildren(drawLadderInto(table));

  const seatRows = tile.querySelector(".seats tbody");
  seatRows.replaceChildren(...seatIds(Object.keys(table.seats || {})).map((seat) => {
    const holder = (table.seats || {})[seat];
    const isTurn = table.turn === seat && !table.completed && !table.failed;
    const stat = (key) => (holder && holder[key] !== undefined && holder[key] !== null ? String(holder[key]) : "—");
    return el("tr", { class: isTurn ? "turn-row" : null, testid: `table-${id}-seat-${seat}` },
      el("th", { scope: "row" }, seatName(seat), isTurn ? el("span", { class: "sr" }, " (to move)") : null,
        isTurn ? el("span", { class: "turn-mark", "aria-hidden": "true" }, " ◀") : null),
      el("td", { class: "who" }, holderText(holder)),
      el("td", { class: "num" }, String(holder?.points ?? (table.scores || {})[seat] ?? 0)),
      el("td", { class: "num" }, stat("mistakes")),
      el("td", { class: "num" }, stat("hints")));
  }));

  const pause = tile.querySelector(".pause-toggle");
  pause.textContent = table.paused ? "▶ Resume" : "❚❚ Pause";
  pause.setAttribute("aria-label", `${table.paused ? "Resume" : "Pause"} ${tableName(table).toLowerCase()}`);
  pause.disabled = !table.step || !state.started || state.ended;
  const inject = tile.querySelector(".inject-select");
  fillSelect(inject, table.variant ? scenariosFor(table.variant) : state.variant ? scenariosFor(state.variant) : scenarios(),
    (scenario) => scenario.id);
}

function buildTile(id) {
  const injectId = `table-${id}-inject-scenario`;
  const details = el("details", { class: "tile-details", testid: `table-${id}-details` },
    el("summary", {}, "Details", el("span", { class: "sr tile-summary-name" })),
    el("div", { class: "tile-body" },
      el("div", { class: "tile-facts" },
        el("p", { class: "scenario", testid: `table-${id}-scenario` }),
        el("p", { class: "step", testid: `table-${id}-step` }),
        el("ul", { class: "table-alerts", testid: `table-${id}-alerts`, "aria-label": `alerts of table ${id}` }),
        el("table", { class: "seats", testid: `table-${id}-seats` },
          el("caption", { class: "sr" }, `Seats and points at table ${id}`),
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "seat"), el("th", { scope: "col" }, "player"),
            el("th", { scope: "col", class: "num" }, "points"), el("th", { scope: "col", class: "num" }, "mistakes"),
            el("th", { scope: "col", class: "num" }, "hints"))),
          el("tbody"))),
      el("div", { class: "card-ladder", testid: `table-${id}-ladder`, "aria-label": `messages at table ${id}`, role: "group" }),
      el("div", { class: "card-controls" },
        el("div", { class: "row" },
          el("button", { type: "button", class: "pause-toggle", testid: `table-${id}-pause`, onclick: () => togglePause(id) }),
          el("button", { type: "button", testid: `table-${id}-reveal`, "aria-label": `Reveal the debrief of table ${id}`,
            onclick: () => { instructor("reveal", { table_id: id }); $("debrief-panel").hidden = false; } }, "Debrief"),
          el("button", { type: "button", testid: `table-${id}-project`, onclick: () => openProjector(id) }, "▣ On the projector")),
        el("div", { class: "row" },
          el("label", { for: injectId }, "Inject"),
          el("select", { id: injectId, class: "inject-select", testid: `table-${id}-inject-scenario` }),
          el("button", { type: "button", testid: `table-${id}-inject`,
            onclick: () => instructor("inject", { table_id: id, scenario: $(injectId).value }) }, "⚠ Inject")),
        el("div", { class: "row" },
          el("button", { type: "button", testid: `table-${id}-leak`, "aria-label": `Leak the server key at table ${id}`,
            onclick: () => instructor("leak_key", { table_id: id }) }, "⚷ Leak the key"),
          el("button", { type: "button", testid: `table-${id}-rotate`, "aria-label": `Rotate the seats at table ${id}`,
            onclick: () => instructor("rotate_seats", { table_id: id }) }, "↻ Rotate seats")),
        el("p", { class: "downloads" },
          downloadButton("⬇ capture (.pcapng)", `table-${id}-pcap`, `table-${id}.pcapng`, {},
            `handshake-table-${id}.pcapng`),
          " ",
          downloadButton("⬇ key log", `table-${id}-keylog`, `table-${id}.keylog`, {},
            `handshake-table-${id}.keylog`)))));
  details.addEventListener("toggle", () => {
    tile.classList.toggle("open", details.open);
    const table = state.tables.get(id);
    if (details.open && table) tile.querySelector(".card-ladder").replaceChildren(drawLadderInto(table));
  });
  const tile = el("article", { id: `table-${id}`, class: "tile", testid: `table-${id}`, "aria-labelledby": `table-${id}-title` },
    buildFace(id, (event) => {
      if (event.target.checked) state.selected.add(id);
      else state.selected.delete(id);
      renderSelection();
    }),
    details);
  tile.dataset.tableId = String(id);
  return tile;
}

function togglePause(id) {
  const table = state.tables.get(id);
  if (table) instructor(table.paused ? "resume" : "pause", { table_id: id });
}

function holderText(holder) {
  if (!holder) return el("span", { class: "muted" }, "(empty)");
  if (holder.player !== undefined) return el("span", { class: "player" }, el("bdi", {}, String(holder.player)));
  return el("span", { class: "bot" }, `⚙ bot (${holder.bot})`);
}

// The faces' clocks (a stuck seat's seconds, an attack waiting) move on between pushes.
setInterval(() => {
  if ($("class-view").hidden || !state.tables.size) return;
  for (const table of state.tables.values()) {
    const tile = $(`table-${table.table_id}`);
    if (tile) troubles.set(table.table_id, renderFace(tile, table, faceContext(table)));
  }
  orderOverview();
}, 5000);

// -- the small ladder ---------------------------------------------------------------------------

// web/js/ladder.js (the student pages' module) draws the ladder when it is there; until it
// loads, or if it fails, a plain list of the messages stands in. An open tile shows the latest
// LADDER_ROWS messages.
const LADDER_ROWS = 12;
let ladderModule = null;
import("./ladder.js").then((module) => {
  ladderModule = module;
  for (const table of state.tables.values()) renderTable(table);
}).catch(() => {});

function drawLadderInto(table) {
  const entries = table.ladder || [];
  const shown = entries.slice(-LADDER_ROWS);
  const earlier = entries.length - shown.length;
  const note = earlier > 0 ? el("p", { class: "muted ladder-more" }, `… ${earlier} earlier message${earlier > 1 ? "s" : ""}`) : null;
  if (ladderModule && typeof ladderModule.renderLadder === "function") {
    try {
      const drawn = ladderModule.renderLadder(shown, {
        compact: true, failed: table.failed, completed: table.completed,
        label: `Messages at ${tableName(table).toLowerCase()}`,
      });
      if (drawn instanceof Node) return append(document.createDocumentFragment(), [note, drawn]);
    } catch {
      // fall back to the list below
    }
  }
  return append(document.createDocumentFragment(), [note, listLadder(shown)]);
}

function listLadder(entries) {
  if (!entries.length) return el("p", { class: "muted" }, "no message yet");
  return el("ol", { class: "ladder-list" }, entries.map((entry) => {
    const altered = entry.altered ? el("span", { class: "altered" }, entry.replayed ? " ⚠ replayed" : " ⚠ altered") : null;
    if (entry.event === "delivered") {
      return el("li", { class: "delivered" }, `  ⟶ ${seatName(entry.to)}: `, String(entry.label), altered);
    }
    return el("li", { class: "sent" }, `${seatName(entry.from)} ⟶ `, String(entry.label), altered);
  }));
}

// -- class-wide: alerts and students ---------------------------------------------------------

function renderClassWide() {
  const items = [];
  for (const table of sortedTables()) {
    for (const text of alertsOf(table)) {
      items.push(alertItem(text, el("strong", {}, `${tableName(table)}: `)));
    }
  }
  $("alerts").replaceChildren(...items);
  $("no-alerts").hidden = items.length > 0;
  renderStudentTable();
  renderControls();
}

function renderStudentTable() {
  const onSort = (key) => {
    state.sort = { key, descending: state.sort.key === key ? !state.sort.descending : !["name", "where"].includes(key) };
    renderStudentTable();
  };
  renderStudentHead($("students-head"), state.sort, onSort);
  const rows = state.students ?? studentsFromTables(state.tables.values());
  renderStudents($("leaderboard"), rows, state.sort, openStudent);
}

function openStudent(student) {
  $("student-heading").textContent = `Student: ${student.name}`;
  $("student-detail").replaceChildren(el("p", { class: "muted" }, "Loading…"));
  const dialog = $("student-dialog");
  if (!dialog.open) dialog.showModal();
  instructor("student", { player_id: student.player_id });
}

function showStudent(student) {
  if (student.name !== undefined) $("student-heading").textContent = `Student: ${student.name}`;
  const variantOf = (round) => state.rounds.find((entry) => entry.round === round.round)?.variant ?? state.variant;
  renderStudentDetail($("student-detail"), student, variantOf);
  const dialog = $("student-dialog");
  if (!dialog.open) dialog.showModal();
}

// -- rounds and earlier classes -----------------------------------------------------------------

function renderRounds() {
  const current = state.rounds.find((round) => round.round === state.round);
  const what = [state.variant, state.scenario, state.difficulty].filter(Boolean).join(" · ");
  $("round-now").textContent = state.round
    ? `Round ${state.round} of ${Math.max(state.round, state.rounds.length)}: ${what}${state.started ? " · ▶ started" : " · ❚❚ waiting for Start"}`
    : `One round: ${what}`;
  $("rounds-list").replaceChildren(...state.rounds.filter((round) => round !== current).map((round) =>
    el("li", { testid: `round-${round.round}` },
      `Round ${round.round}: ${[round.variant, round.scenario, round.difficulty].filter(Boolean).join(" · ")}`,
      round.started ? " · played" : " · not started")));
  $("rounds-list").hidden = $("rounds-list").children.length === 0;
  if (!$("next-variant").dataset.touched && state.variant) {
    $("next-variant").value = state.variant;
    fillSelect($("next-scenario"), scenariosFor($("next-variant").value), scenarioOption, state.scenario);
    if (state.difficulty) $("next-difficulty").value = state.difficulty;
  }
  const stuck = $("stuck-after");
  if (state.stuckAfter && document.activeElement !== stuck) stuck.value = String(state.stuckAfter);
}

function openClass(id) {
  state.classId = id;
  state.announce = true;
  state.round = null;
  state.rounds = [];
  state.students = null;
  state.joinOpen = null;
  clearTables();
  creatingAnother = false;
  showStatus(`Opening class ${id}…`);
  render();
  requestDashboard();
}

function renderClasses() {
  for (const box of document.querySelectorAll(".classes")) {
    if (state.classes === null) {
      box.replaceChildren(el("button", { type: "button", testid: "classes-load", onclick: requestClasses }, "Show the earlier classes"));
      continue;
    }
    const list = [...state.classes].sort((a, b) => b.class_session_id - a.class_session_id);
    if (!list.length) {
      box.replaceChildren(el("p", { class: "muted" }, "No class yet."));
      continue;
    }
    const where = box.dataset.testid;
    box.replaceChildren(el("div", { class: "scroll-x" }, el("table", { class: "classes-table", testid: `${where}-table` },
      el("caption", { class: "sr" }, "Earlier classes"),
      el("thead", {}, el("tr", {}, ...["Class", "Created", "Rounds", "Tables", "Students", "State", "Actions"].map((name, index) =>
        el("th", { scope: "col", class: index >= 2 && index <= 4 ? "num" : null }, name)))),
      el("tbody", {}, list.map((entry) => {
        const id = entry.class_session_id;
        const created = Date.parse(entry.created_at);
        const here = id === state.classId;
        return el("tr", { testid: `class-${id}`, class: here ? "current" : null },
          el("th", { scope: "row" }, `Class ${id}`, entry.join_code ? el("span", { class: "muted" }, ` · ${entry.join_code}`) : null),
          el("td", {}, Number.isFinite(created)
            ? el("time", { datetime: entry.created_at }, new Date(created).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }))
            : "—"),
          el("td", { class: "num" }, String(entry.rounds ?? "—")),
          el("td", { class: "num" }, String(entry.tables ?? "—")),
          el("td", { class: "num" }, String(entry.students ?? "—")),
          el("td", {}, here ? "▶ open here" : entry.ended ? "■ ended" : "● open"),
          el("td", { class: "actions" },
            here ? null : el("button", { type: "button", testid: `class-${id}-open`, onclick: () => openClass(id) }, "Open"),
            downloadButton("⬇ Report", `class-${id}-report`, "report.html", { class_session_id: id },
              `handshake-class-${id}-report.html`)));
      })))));
  }
}

// -- the projector ----------------------------------------------------------------------------

function openProjector(id = null) {
  const tables = sortedTables();
  if (!tables.length) {
    showError("No table to show yet.");
    return;
  }
  const choose = id ?? state.projecting ?? selection()[0] ?? [...state.debriefs.keys()][0] ?? tables[0].table_id;
  const select = $("projector-table");
  select.replaceChildren(...tables.map((table) => el("option", { value: String(table.table_id) }, tableName(table))));
  $("projector").hidden = false;
  document.body.classList.add("projecting");
  // The overlay alone takes the keyboard and the screen reader while it is up.
  $("class-view").inert = true;
  project(state.tables.has(choose) ? choose : tables[0].table_id);
  select.focus();
}

function project(id) {
  state.projecting = id;
  $("projector-table").value = String(id);
  renderProjection();
  instructor("reveal", { table_id: id });
}

function renderProjection() {
  if (state.projecting === null) return;
  renderProjector($("projector-view"), state.tables.get(state.projecting), state.debriefs.get(state.projecting));
}

function closeProjector() {
  state.projecting = null;
  $("projector").hidden = true;
  document.body.classList.remove("projecting");
  $("class-view").inert = false;
  $("projector-open").focus();
}

function stepProjector(by) {
  const ids = sortedTables().map((table) => table.table_id);
  const at = ids.indexOf(state.projecting);
  if (ids.length) project(ids[(at + by + ids.length) % ids.length]);
}

// -- the debrief -------------------------------------------------------------------------------------

function renderDebrief() {
  const panel = $("debrief-panel");
  if (state.debriefs.size) panel.hidden = false;
  const ids = [...state.debriefs.keys()].sort((a, b) => a - b);
  $("debrief").replaceChildren(...ids.map((id) => debriefSection(id, state.debriefs.get(id))));
}

function debriefSection(id, debrief) {
  const lines = [];
  const outcome = OUTCOME_STATUS[debrief.outcome?.kind];
  if (outcome) lines.push(el("li", { class: outcome.key === "breached" || outcome.key === "failed" ? "breached" : "stopped" },
    `${outcome.text.slice(0, 1)} ${debrief.outcome.text}`));
  else if (debrief.attack_succeeded) lines.push(el("li", { class: "breached" }, "⚠ The attack succeeded."));
  for (const text of debrief.attacker_read || []) {
    lines.push(el("li", { class: "breached" }, "⚠ The eavesdropper read: ", el("code", {}, text)));
  }
  if (debrief.failed) {
    const failed = debrief.failed;
    lines.push(el("li", { class: "stopped" },
      `⊘ Stopped by the ${seatName(failed.seat)}: ${failed.check}`, failed.reason ? ` — ${failed.reason}` : ""));
  } else if (debrief.detected_by) {
    lines.push(el("li", { class: "stopped" }, `⊘ Stopped by ${debrief.detected_by}.`));
  }
  if (debrief.completed) lines.push(el("li", { class: "completed" }, "✔ The handshake completed."));
  if (!lines.length) lines.push(el("li", {}, "The handshake has not finished yet."));
  for (const attempt of debrief.eavesdropper_attempts || []) {
    lines.push(el("li", { class: attempt.succeeded ? "breached" : "stopped" },
      attempt.succeeded ? "⚠ The eavesdropper decrypted the traffic: " : "⊘ The eavesdropper's decryption failed: ",
      String(attempt.reason)));
  }
  const order = seatIds(Object.keys(debrief.scores || {}));
  const scores = order.map((seat) => `${seatName(seat)} ${(debrief.scores || {})[seat] ?? 0}`).join(" · ");
  const wallets = order.map((seat) => walletBlock(id, seat, (debrief.wallets || {})[seat] || {}));
  return el("section", { class: "debrief-table", testid: `debrief-${id}`, "aria-labelledby": `debrief-${id}-title` },
    el("div", { class: "debrief-head" },
      el("h3", { id: `debrief-${id}-title` },
        `${state.tables.has(id) ? tableName(state.tables.get(id)) : `Table id ${id}`} — ${debrief.variant}, ${debrief.scenario}`),
      el("button", { type: "button", testid: `debrief-${id}-project`, onclick: () => openProjector(id) }, "▣ On the projector")),
    el("ul", { class: "debrief-outcome" }, lines),
    el("p", {}, `Points: ${scores}`),
    el("div", { class: "wallets" }, wallets));
}

// A wallet value: hex, or text when the bytes are printable (a PEM key, a name); long ones
// folded so a dozen tables' secrets stay readable.
function walletValue(hex) {
  const text = printable(hex);
  if (text !== null) {
    const first = text.split("\n")[0];
    if (!text.includes("\n") && text.length <= 64) return el("code", { class: "text-value" }, text);
    return append(document.createDocumentFragment(), [
      el("code", { class: "text-value" }, first.length > 64 ? `${first.slice(0, 64)}…` : first),
      el("details", {}, el("summary", {}, `all ${text.length} characters`), el("pre", { class: "text-value" }, text)),
    ]);
  }
  if (hex.length <= 64) return el("code", { class: "hex" }, hex);
  return append(document.createDocumentFragment(), [
    el("code", { class: "hex" }, `${hex.slice(0, 64)}…`),
    el("details", {}, el("summary", {}, `all ${hex.length / 2} bytes`), el("code", { class: "hex" }, hex)),
  ]);
}

function printable(hex) {
  if (hex.length < 8 || hex.length % 2 || !/^[0-9a-f]+$/i.test(hex)) return null;
  let text = "";
  for (let i = 0; i < hex.length; i += 2) {
    const code = parseInt(hex.slice(i, i + 2), 16);
    if (!(code === 10 || code === 13 || (code >= 32 && code < 127))) return null;
    text += String.fromCharCode(code);
  }
  return text.replaceAll("\r\n", "\n").trimEnd();
}

function walletBlock(id, seat, wallet) {
  const names = Object.keys(wallet);
  const rows = names.map((name) => {
    const item = wallet[name];
    return el("tr", { class: item.secret ? "secret" : null },
      el("th", { scope: "row" }, name.replaceAll("_", " ")),
      el("td", {}, item.secret ? "⚷ secret" : "public", el("br"), el("span", { class: "muted" }, String(item.kind))),
      el("td", {}, walletValue(String(item.value || ""))));
  });
  return el("section", { class: "wallet" },
    el("h4", {}, `The ${seatName(seat)}'s wallet`),
    names.length
      ? el("table", {},
        el("caption", { class: "sr" }, `the ${seatName(seat)}'s wallet at table ${id}`),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "item"), el("th", { scope: "col" }, "kind"),
          el("th", { scope: "col" }, "value"))),
        el("tbody", {}, rows))
      : el("p", { class: "muted" }, "empty"));
}

// -- downloads -----------------------------------------------------------------------------------

// A download: the token goes in an Authorization header (never in a link, where the status
// bar would show it on the projector), and the file is handed to the browser as a blob.
async function download(name, params = {}, filename = name) {
  const query = new URLSearchParams(params);
  const url = `/download/${name}${query.size ? `?${query}` : ""}`;
  try {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` } });
    if (!response.ok) {
      showError(`The download failed: ${(await response.text()).trim() || response.status}`);
      return;
    }
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } catch {
    showError("The download failed: the server did not answer.");
  }
}

function downloadButton(label, testid, name, params, filename) {
  return el("button", { type: "button", class: "button download", testid,
    onclick: () => download(name, params, filename) }, label);
}

// -- controls -----------------------------------------------------------------------------------

let creatingAnother = false;

// The class's first choice of difficulty (the server's default too).
const DEFAULT_DIFFICULTY = "standard";

function fillScenarios() {
  fillSelect($("scenario"), scenariosFor($("variant").value), scenarioOption);
}

function setUp() {
  fillSelect($("variant"), variants(), (variant) => variant.name);
  fillScenarios();
  $("variant").addEventListener("change", fillScenarios);
  fillSelect($("difficulty"), difficulties(), (difficulty) => difficulty.name, DEFAULT_DIFFICULTY);
  fillSelect($("next-variant"), variants(), (variant) => variant.name);
  fillSelect($("next-scenario"), scenariosFor($("next-variant").value), scenarioOption);
  fillSelect($("next-difficulty"), difficulties(), (difficulty) => difficulty.name, DEFAULT_DIFFICULTY);
  for (const id of ["next-variant", "next-scenario", "next-difficulty"]) {
    $(id).addEventListener("change", () => { $("next-variant").dataset.touched = "1"; });
  }
  $("next-variant").addEventListener("change", () =>
    fillSelect($("next-scenario"), scenariosFor($("next-variant").value), scenarioOption));
  for (const seatSelect of [$("move-from-seat"), $("move-to-seat")]) {
    fillSelect(seatSelect, seats(), (seat) => seat.name);
  }
  $("create-form").append(el("button", { type: "button", id: "cancel-create", hidden: true,
    onclick: () => { creatingAnother = false; render(); } }, "Back to the class"));

  $("scores-csv").addEventListener("click", () => download("scores.csv", { class_session_id: state.classId },
    `handshake-class-${state.classId}-scores.csv`));
  $("report-html").addEventListener("click", () => download("report.html", { class_session_id: state.classId },
    `handshake-class-${state.classId}-report.html`));
  $("forget").addEventListener("click", () => {
    // A shared or borrowed computer: nothing of the instructor stays in this browser.
    forget("instructor");
    state.token = null;
    state.classId = null;
    location.reload();
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    state.token = token;
    $("token-input").value = "";
    remember();
    render();
    if (!connection.socket) connection.open();
  });
  $("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const choice = { variant: $("variant").value, scenario: $("scenario").value, difficulty: $("difficulty").value };
    state.pendingCreate = choice;
    creatingAnother = false;
    delete $("next-variant").dataset.touched;
    showStatus("Creating the class…");
    send({ type: "create_session", token: state.token, ...choice });
  });
  $("open-form").addEventListener("submit", (event) => {
    // Another browser (the projector's) has the token but not the class: name it by number.
    event.preventDefault();
    const id = Number($("open-class").value);
    if (!Number.isInteger(id) || id < 1) {
      showError("Type the class number (the dashboard shows it as “Class N”).");
      return;
    }
    openClass(id);
  });

  $("start").addEventListener("click", () => instructor("start"));
  $("pause-all").addEventListener("click", () => act("pause"));
  $("resume-all").addEventListener("click", () => act("resume"));
  $("inject-all").addEventListener("click", () => act("inject", { scenario: $("inject-scenario").value }));
  $("leak-all").addEventListener("click", () => act("leak_key"));
  $("rotate-all").addEventListener("click", () => {
    const ids = selection();
    if (ids.length) for (const id of ids) instructor("rotate_seats", { table_id: id });
    else instructor("rotate_seats");
  });
  $("reveal-all").addEventListener("click", revealSelection);
  $("select-all").addEventListener("click", () => select(state.tables.keys()));
  $("select-none").addEventListener("click", () => select([]));
  $("select-trouble").addEventListener("click", () => {
    const ids = [...state.tables.keys()].filter((id) => (troubles.get(id) ?? 0) > 0);
    select(ids);
    if (!ids.length) showStatus("No table is in trouble.");
  });

  const end = $("end");
  let armed = null;
  end.addEventListener("click", () => {
    // Two clicks: ending cannot be undone (and a browser dialog would block the projector).
    if (armed) {
      clearTimeout(armed);
      armed = null;
      instructor("end");
      return;
    }
    end.textContent = "■ Click again to end";
    showStatus("Click “End the class” again within 5 seconds to end it: no more joins, every table paused.");
    armed = setTimeout(() => { armed = null; renderControls(); }, 5000);
  });

  $("join-toggle").addEventListener("click", () => {
    state.joinOpen = !(state.joinOpen ?? !state.started);
    renderJoin();
  });
  const full = $("join-full");
  const setFull = (on) => {
    $("join-panel").classList.toggle("full", on);
    full.setAttribute("aria-pressed", String(on));
    renderJoin();
    if (on) $("join-close").focus();
  };
  full.addEventListener("click", () => setFull(!$("join-panel").classList.contains("full")));
  $("join-close").addEventListener("click", () => { setFull(false); full.focus(); });

  $("projector-open").addEventListener("click", () => openProjector());
  $("projector-close").addEventListener("click", closeProjector);
  $("projector-table").addEventListener("change", () => project(Number($("projector-table").value)));
  $("projector-prev").addEventListener("click", () => stepProjector(-1));
  $("projector-next").addEventListener("click", () => stepProjector(1));
  $("student-close").addEventListener("click", () => $("student-dialog").close());

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if ($("join-panel").classList.contains("full")) {
      setFull(false);
      full.focus();
    } else if (!$("projector").hidden) {
      closeProjector();
    }
  });
  $("new-class").addEventListener("click", () => {
    creatingAnother = true;
    render();
    $("variant").focus();
  });
  $("next-round-form").addEventListener("submit", (event) => {
    event.preventDefault();
    delete $("next-variant").dataset.touched;
    instructor("next_round", { variant: $("next-variant").value, scenario: $("next-scenario").value,
      difficulty: $("next-difficulty").value });
  });
  $("settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const seconds = Number($("stuck-after").value);
    if (!Number.isInteger(seconds) || seconds < 30 || seconds > 3600) {
      showError("The stuck threshold is a whole number of seconds from 30 to 3600.");
      return;
    }
    instructor("settings", { stuck_after: seconds });
  });
  $("move-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = Number($("move-from-table").value);
    const to = Number($("move-to-table").value);
    if (!from || !to) {
      showError("No table yet to move a seat at.");
      return;
    }
    instructor("move_seat", { table_id: from, seat: $("move-from-seat").value, to_table_id: to,
      to_seat: $("move-to-seat").value });
  });
}

// The catalog first: the forms and the tiles are built from it. Without it the dashboard
// still follows the class (by bare ids), but no class can be created.
let catalogFailed = false;
try {
  await loadCatalog();
} catch {
  catalogFailed = true;
}
setUp();
render();
if (!state.token) showStatus("Paste the instructor token to begin.");
else if (state.classId === null) showStatus("Choose the handshake, then create the class: students join with its code.");
else showStatus(`Opening class ${state.classId}…`);
if (catalogFailed) showError("The game's catalog could not be loaded: reload the page to create a class.");
if (state.token) connection.open();
else {
  setConnection(false);
  $("connection").textContent = "○ waiting for the token";
}
