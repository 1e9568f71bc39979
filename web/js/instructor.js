// The instructor's dashboard: create a class, show its join code and QR code, watch every
// table live (`dashboard`, then pushed `table_update`s), run the class (start, pause,
// move / rotate seats, inject a scenario, leak a key, reveal the debrief, end) and download
// scores and captures.
//
// Rules: everything that came from the server or from a player is put in the page as text
// nodes (`el()` below), never as HTML; the QR code (an SVG document) is shown as an <img>
// whose data: URL is re-serialised from a parsed SVG element, so nothing in it can run.
// Messages are events: the page renders whatever arrives, in any order. Seat, step,
// scenario, handshake and difficulty names come from the server's catalog (./catalog.js).

import { Connection, saved, save, forget } from "./net.js";
import {
  loadCatalog, seats, seatIds, seatName, stepLabel, variants, scenarios, scenariosFor, difficulties, fillSelect,
  scenarioOption,
} from "./catalog.js";

const ACTION_DONE = {
  start: "The class has started: bots took the empty seats.",
  pause: "Paused.",
  resume: "Resumed.",
  inject: "Scenario injected.",
  leak_key: "The server key was leaked to the eavesdropper.",
  end: "The class has ended: no more joins, every table paused.",
  move_seat: "Seats swapped.",
  rotate_seats: "Seats rotated: every player moved one seat on.",
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
  tables: new Map(), // table_id -> the latest table entry
  debriefs: new Map(), // table_id -> debrief
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

// -- small DOM helpers ----------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

// An element with attributes and children; strings become text nodes (never HTML).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "testid") node.dataset.testid = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
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

function send(message) {
  connection.send(message);
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
      state.tables.clear();
      state.debriefs.clear();
      remember();
      showStatus(`Class created: students join with the code ${message.join_code}.`);
      render();
      break;
    case "dashboard":
      if (message.class_session_id !== state.classId) return;
      state.awaitingDashboard = false;
      // The server names its class: a fresh browser holding only the token shows it whole.
      if (message.join_code) state.joinCode = message.join_code;
      if (message.join_url) state.joinUrl = message.join_url;
      if (message.qr_svg) state.qrSvg = message.qr_svg;
      for (const key of ["variant", "scenario", "difficulty"]) {
        if (message[key]) state[key] = message[key];
      }
      if (typeof message.started === "boolean") state.started = message.started;
      if (typeof message.ended === "boolean") state.ended = message.ended;
      remember();
      state.tables.clear();
      for (const table of message.tables) state.tables.set(table.table_id, table);
      inferStarted();
      render();
      if (state.announce) {
        state.announce = false;
        const count = message.tables.length;
        showStatus(`Class ${state.classId}: ${count} table${count === 1 ? "" : "s"}, updated live.`);
      }
      break;
    case "table_update":
      if (message.class_session_id !== state.classId) return;
      state.tables.set(message.table.table_id, message.table);
      inferStarted();
      renderTable(message.table);
      renderClassWide();
      // A revealed table's debrief stays current while the table plays on.
      if (state.debriefs.has(message.table.table_id)) instructor("reveal", { table_id: message.table.table_id });
      break;
    case "done":
      if (message.action === "start") state.started = true;
      if (message.action === "end") state.ended = true;
      remember();
      showStatus(describeDone(message));
      renderControls();
      // The pushed table_updates follow; a fresh dashboard also catches tables a seat move touched.
      requestDashboard();
      break;
    case "debrief":
      state.debriefs.set(message.table_id, message.debrief);
      renderDebrief();
      break;
    case "error":
      handleError(message);
      break;
    default:
      break; // views, seated… are for the student pages
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
    state.token = null;
    remember();
    render();
  }
  showError(`${message.message} (${message.code})`);
}

function describeDone(message) {
  let text = ACTION_DONE[message.action] || `${message.action}: done.`;
  const ids = message.table_ids || [];
  if (["pause", "resume", "inject", "leak_key"].includes(message.action)) {
    text = `${text} ${ids.length ? `Table${ids.length > 1 ? "s" : ""} ${ids.join(", ")}.` : "No table changed."}`;
  }
  return `✔ ${text}`;
}

function inferStarted() {
  // start fills every empty seat with a bot: a bot anywhere means the class has started.
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
  if (!hasClass) return;
  renderJoin();
  renderControls();
  const shown = new Set(state.tables.keys());
  for (const card of [...$("tables").children]) {
    if (!shown.has(Number(card.dataset.tableId))) card.remove();
  }
  for (const table of sortedTables()) renderTable(table);
  $("no-tables").hidden = state.tables.size > 0;
  renderClassWide();
  renderDebrief();
}

function sortedTables() {
  return [...state.tables.values()].sort((a, b) => a.table_id - b.table_id);
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
  renderClassInfo();
  const qr = $("qr");
  const source = state.qrSvg ? svgDataUrl(state.qrSvg) : null;
  qr.hidden = !source;
  if (source && qr.getAttribute("src") !== source) qr.src = source;
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
  start.textContent = state.started ? "✔ Started" : "▶ Start";
  $("end").disabled = state.ended;
  $("end").textContent = state.ended ? "■ Ended" : "■ End the class";
  fillTableSelect($("move-from-table"));
  fillTableSelect($("move-to-table"));
  renderClassInfo();
}

function renderClassInfo() {
  const parts = [state.variant, state.scenario, state.difficulty].filter(Boolean);
  $("class-info").textContent = `Class ${state.classId}${parts.length ? ` · ${parts.join(" · ")}` : ""}`
    + (state.ended ? " · ■ ended" : state.started ? " · ▶ started" : " · ❚❚ waiting to start");
}

function fillTableSelect(select) {
  const ids = sortedTables().map((table) => String(table.table_id));
  const current = [...select.options].map((option) => option.value);
  if (ids.join() === current.join()) return;
  const chosen = select.value;
  select.replaceChildren(...ids.map((id) => el("option", { value: id }, `table ${id}`)));
  if (ids.includes(chosen)) select.value = chosen;
}

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

// One card per table. The card's controls are built once (so focus and a chosen scenario
// survive updates); its facts are rebuilt from each new entry.
function renderTable(table) {
  const id = table.table_id;
  let card = $(`table-${id}`);
  if (!card) {
    card = buildCard(id);
    const after = [...$("tables").children].find((other) => Number(other.dataset.tableId) > id);
    $("tables").insertBefore(card, after || null);
    fillTableSelect($("move-from-table"));
    fillTableSelect($("move-to-table"));
  }
  $("no-tables").hidden = state.tables.size > 0;

  const status = tableStatus(table);
  card.dataset.state = status.key;
  const badge = card.querySelector(".badge");
  badge.textContent = status.text;
  badge.className = `badge ${status.key}`;

  card.querySelector(".scenario").textContent = `scenario: ${table.scenario}`;
  const progress = card.querySelector("progress");
  progress.max = table.steps_total || 1;
  progress.value = table.steps_done || 0;
  card.querySelector(".progress-text").textContent = `${table.steps_done} / ${table.steps_total} steps`;

  const step = card.querySelector(".step");
  if (table.step) {
    step.replaceChildren(
      el("span", { class: "turn" }, `${seatName(table.turn)}'s turn`),
      " — ", stepLabel(table.step, state.variant), " ", el("code", {}, table.step));
  } else {
    step.replaceChildren(table.completed ? "✔ every step done" : table.failed ? "■ the handshake ended" : "no step to play");
  }

  const alerts = card.querySelector(".table-alerts");
  alerts.replaceChildren(...alertsOf(table).map((text) => alertItem(text)));
  alerts.hidden = alerts.children.length === 0;

  const ladder = card.querySelector(".card-ladder");
  ladder.replaceChildren(drawLadderInto(table));

  const seatRows = card.querySelector(".seats tbody");
  seatRows.replaceChildren(...seatIds(Object.keys(table.seats || {})).map((seat) => {
    const holder = (table.seats || {})[seat];
    const isTurn = table.turn === seat;
    return el("tr", { class: isTurn ? "turn-row" : null, testid: `table-${id}-seat-${seat}` },
      el("th", { scope: "row" }, seatName(seat), isTurn ? el("span", { class: "sr" }, " (to move)") : null,
        isTurn ? el("span", { class: "turn-mark", "aria-hidden": "true" }, " ◀") : null),
      el("td", { class: "who" }, holderText(holder)),
      el("td", { class: "num" }, String((table.scores || {})[seat] ?? 0)));
  }));

  const pause = card.querySelector(".pause-toggle");
  pause.textContent = table.paused ? "▶ Resume" : "❚❚ Pause";
  pause.setAttribute("aria-label", `${table.paused ? "Resume" : "Pause"} table ${id}`);
  pause.disabled = !table.step || !state.started || state.ended;
}

function buildCard(id) {
  const titleId = `table-${id}-title`;
  const injectId = `table-${id}-inject-scenario`;
  // The scenarios staged for the class's handshake (all of them if it is not known yet).
  const staged = state.variant ? scenariosFor(state.variant) : scenarios();
  const injectable = staged.map((scenario) => el("option", { value: scenario.id }, scenario.id));
  const card = el("article", { id: `table-${id}`, class: "table-card", testid: `table-${id}`, "aria-labelledby": titleId },
    el("header", { class: "card-head" },
      el("h3", { id: titleId }, `Table ${id}`),
      el("span", { class: "badge", testid: `table-${id}-state` })),
    el("p", { class: "scenario", testid: `table-${id}-scenario` }),
    el("div", { class: "progress" },
      el("progress", { "aria-label": `table ${id} progress` }),
      el("span", { class: "progress-text", testid: `table-${id}-progress` })),
    el("p", { class: "step", testid: `table-${id}-step` }),
    el("ul", { class: "table-alerts", testid: `table-${id}-alerts`, "aria-label": `alerts of table ${id}` }),
    el("div", { class: "card-ladder", testid: `table-${id}-ladder`, "aria-label": `messages at table ${id}`, role: "group" }),
    el("table", { class: "seats", testid: `table-${id}-seats` },
      el("caption", { class: "sr" }, `Seats and points at table ${id}`),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "seat"), el("th", { scope: "col" }, "player"),
        el("th", { scope: "col", class: "num" }, "points"))),
      el("tbody")),
    el("div", { class: "card-controls" },
      el("button", { type: "button", class: "pause-toggle", testid: `table-${id}-pause`, onclick: () => togglePause(id) }),
      el("button", { type: "button", testid: `table-${id}-reveal`, "aria-label": `Reveal the debrief of table ${id}`,
        onclick: () => instructor("reveal", { table_id: id }) }, "Debrief"),
      el("details", { class: "more" },
        el("summary", {}, "More", el("span", { class: "sr" }, ` for table ${id}`)),
        el("div", { class: "more-body" },
          el("label", { for: injectId }, "Inject a scenario"),
          el("div", { class: "row" },
            el("select", { id: injectId, testid: `table-${id}-inject-scenario` }, injectable),
            el("button", { type: "button", testid: `table-${id}-inject`,
              onclick: () => instructor("inject", { table_id: id, scenario: $(injectId).value }) }, "Inject")),
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
              `handshake-table-${id}.keylog`))))));
  card.dataset.tableId = String(id);
  return card;
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

// The server's verdict on how a table ended (game/state.py `outcome`): an attack stopped is
// never confused with a student's own mistake.
const OUTCOME_STATUS = {
  attack_succeeded: { key: "breached", text: "⚠ attack succeeded" },
  attack_stopped: { key: "stopped", text: "⊘ attack stopped" },
  refused: { key: "stopped", text: "⊘ refused" },
  mistake: { key: "failed", text: "✖ failed on a mistake" },
  dropped: { key: "failed", text: "✖ never finished" },
};

function tableStatus(table) {
  const known = OUTCOME_STATUS[table.outcome?.kind];
  if (known) return known;
  if (table.attack_succeeded) return { key: "breached", text: "⚠ attack succeeded" };
  if (table.failed) return { key: "failed", text: "✖ failed" };
  if (table.completed) return { key: "completed", text: "✔ completed" };
  if (table.paused) return { key: "paused", text: state.started ? "❚❚ paused" : "❚❚ waiting" };
  return { key: "playing", text: "▶ playing" };
}

// Where the table ended, and why, in words.
function outcomeOf(table) {
  const failed = table.failed;
  const known = OUTCOME_STATUS[table.outcome?.kind];
  if (known) {
    const mark = known.text.slice(0, 1);
    const reason = failed && !table.outcome.text.includes(failed.reason) ? ` — ${failed.reason}` : "";
    return { key: known.key, text: `${mark} ${table.outcome.text}${reason}` };
  }
  if (table.attack_succeeded) {
    return { key: "breached", text: `⚠ The attack succeeded (${table.scenario}).` };
  }
  if (failed) {
    const where = `${seatName(failed.seat)}: ${failed.check}`;
    if (table.scenario === "honest") {
      return { key: "failed", text: `✖ The handshake failed at the ${where} — ${failed.reason}` };
    }
    return { key: "stopped", text: `⊘ Attack stopped by the ${where} — ${failed.reason}` };
  }
  if (table.detected_by) return { key: "stopped", text: `⊘ Attack stopped by ${table.detected_by}.` };
  if (table.completed) return { key: "completed", text: "✔ Handshake completed: application data went both ways." };
  return null;
}

// The server's alerts for a table; an older server sends none, so derive one from the outcome.
function alertsOf(table) {
  if (Array.isArray(table.alerts)) return table.alerts.map(String);
  const result = outcomeOf(table);
  return result && result.key !== "completed" ? [result.text] : [];
}

// An alert as a list item, marked by a symbol and a class as well as its words: ⊘ where an
// attack was stopped (or the eavesdropper failed), ⚠ for everything that went wrong.
function alertItem(text, prefix = null) {
  const good = /^(the attack was stopped|⊘)|refused what deserved it|could not read/.test(text);
  const mark = /^[⊘⚠✖✔]/.test(text) ? "" : good ? "⊘ " : "⚠ ";
  return el("li", { class: good ? "stopped" : "breached" }, prefix, mark, text);
}

// -- the small ladder ---------------------------------------------------------------------------

// web/js/ladder.js (the student pages' module) draws the ladder when it is there; until it
// loads, or if it fails, a plain list of the messages stands in. A card shows the latest
// LADDER_ROWS messages: on a projector a dozen tables must fit.
const LADDER_ROWS = 10;
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
        label: `Messages at table ${table.table_id}`,
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
    const altered = entry.altered ? el("span", { class: "altered" }, " ⚠ altered") : null;
    if (entry.event === "delivered") {
      return el("li", { class: "delivered" }, `  ⟶ ${seatName(entry.to)}: `, String(entry.label), altered);
    }
    return el("li", { class: "sent" }, `${seatName(entry.from)} ⟶ `, String(entry.label), altered);
  }));
}

// -- class-wide: alerts and the leaderboard ---------------------------------------------------------

function renderClassWide() {
  const items = [];
  for (const table of sortedTables()) {
    for (const text of alertsOf(table)) {
      items.push(alertItem(text, el("strong", {}, `Table ${table.table_id}: `)));
    }
  }
  $("alerts").replaceChildren(...items);
  $("no-alerts").hidden = items.length > 0;
  renderLeaderboard();
  renderControls();
}

function renderLeaderboard() {
  const players = [];
  for (const table of state.tables.values()) {
    for (const seat of seatIds(Object.keys(table.seats || {}))) {
      const holder = (table.seats || {})[seat];
      if (holder && holder.player !== undefined) {
        players.push({ name: String(holder.player), table: table.table_id, seat, points: (table.scores || {})[seat] ?? 0 });
      }
    }
  }
  players.sort((a, b) => b.points - a.points || a.name.localeCompare(b.name) || a.table - b.table);
  let rank = 0;
  let previous = null;
  const rows = players.map((player, index) => {
    if (player.points !== previous) rank = index + 1;
    previous = player.points;
    return el("tr", {},
      el("td", { class: "num" }, String(rank)),
      el("td", { class: "player" }, el("bdi", {}, player.name)),
      el("td", {}, `table ${player.table} · ${seatName(player.seat)}`),
      el("td", { class: "num" }, String(player.points)));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "4", class: "muted" }, "No player yet.")));
  $("leaderboard").replaceChildren(...rows);
}

// -- the debrief -------------------------------------------------------------------------------------

function renderDebrief() {
  const panel = $("debrief-panel");
  panel.hidden = state.debriefs.size === 0;
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
    el("h3", { id: `debrief-${id}-title` }, `Table ${id} — ${debrief.variant}, ${debrief.scenario}`),
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
  for (const seatSelect of [$("move-from-seat"), $("move-to-seat")]) {
    fillSelect(seatSelect, seats(), (seat) => seat.name);
  }
  $("create-form").append(el("button", { type: "button", id: "cancel-create", hidden: true,
    onclick: () => { creatingAnother = false; render(); } }, "Back to the class"));

  $("scores-csv").addEventListener("click", () => download("scores.csv", { class_session_id: state.classId },
    `handshake-class-${state.classId}-scores.csv`));
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
    state.classId = id;
    state.announce = true;
    state.tables.clear();
    creatingAnother = false;
    showStatus(`Opening class ${id}…`);
    requestDashboard();
  });
  $("start").addEventListener("click", () => instructor("start"));
  $("pause-all").addEventListener("click", () => instructor("pause"));
  $("resume-all").addEventListener("click", () => instructor("resume"));
  $("rotate-all").addEventListener("click", () => instructor("rotate_seats"));
  $("reveal-all").addEventListener("click", () => {
    if (!state.tables.size) showError("No table to reveal yet.");
    for (const id of state.tables.keys()) instructor("reveal", { table_id: id });
    $("debrief-heading").focus();
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
  const full = $("join-full");
  const setFull = (on) => {
    $("join-panel").classList.toggle("full", on);
    full.setAttribute("aria-pressed", String(on));
    full.textContent = on ? "✕ Close full screen" : "⤢ Full screen";
  };
  full.addEventListener("click", () => setFull(!$("join-panel").classList.contains("full")));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && $("join-panel").classList.contains("full")) {
      setFull(false);
      full.focus();
    }
  });
  $("new-class").addEventListener("click", () => {
    creatingAnother = true;
    render();
    $("variant").focus();
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

// The catalog first: the forms and the cards are built from it. Without it the dashboard
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
