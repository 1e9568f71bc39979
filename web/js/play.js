// The seat console: one seat of one table, live.
//
// The saved seat (`saved("seat")`: table_id, token, seat, class_session_id) is resumed on
// every (re)connect, so a reload or a dropped laptop lands back on the same step. Every
// `view` the server pushes is rendered whole, section by section; a section is rebuilt only
// when its data changed, so a half-typed input or an open byte inspector survives other
// players' moves. Nothing a player or the server wrote goes through innerHTML.

import { Connection, saved, save, forget } from "./net.js";
import { el } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { renderInspector, hexToBytes, decryptedOf } from "./inspector.js";
import { drawLadder } from "./ladder.js";
import { loadCatalog, seatIds, seatName, stepLabel } from "./catalog.js";
import { renderDebrief } from "./debrief.js";
import { Pacer } from "./pacing.js";
import { renderDocuments, renderAtHand, documentValue } from "./certificate.js";
import { renderWorkbench, showWorkbenchResult, showWorkbenchError } from "./workbench.js";

const APP_TEXT = {
  response: "⚷ The server's answer, decrypted by you",
  request: "⚷ The client's request, decrypted by you",
  transfer: "⚷ The client's transfer request, decrypted by you",
  transfer_again: "⚷ The same transfer request, received a second time",
  decrypted_traffic: "⚷ What you decrypted from the recording",
  sent_data: "✉ What you sent (encrypted on the wire)",
};
const FOLD = 32; // hex characters shown before a value is folded

const $ = (id) => document.getElementById(id);
const testid = (node, id) => {
  node.dataset.testid = id;
  return node;
};
// The end of a table, by the server's `outcome.kind`: a mark and the state's style.
const OUTCOME_MARKS = {
  attack_succeeded: ["⚠", "fail"], attack_stopped: ["⚑", "stopped"], refused: ["⚑", "stopped"],
  mistake: ["✗", "fail"], dropped: ["✗", "fail"],
};

let seat = saved("seat");
let view = null;
let connection = null;
let moving = false; // a move or hint is on its way: the next view or error ends it
let notice = null; // an error or a reseat: shown until the player acts again, whatever views arrive
let pending = null; // the move on its way: {name, verdicts} — to notice a move that brought no verdict
const memo = new Map(); // section -> the JSON it was last drawn from
let workbenchAsked = false; // a workbench operation is on its way: its error goes beside the form
let readCard = null; // a further-reading card opened beside the step's own card
let readFrom = null; // the id of the step's card it was opened from
const quizResults = new Map(); // `${lesson_id}:${question}` -> {correct, explanation, choice}
let wireShown = { table: null, count: 0 };
// Draws each view, or each frame of a replay of the others' moves (a frame has `paced`).
const pacer = new Pacer({
  show(shown) {
    view = shown;
    render();
    if (pending && !shown.paced) {
      noVerdictNote(pending, view);
      pending = null;
    }
  },
});

// -- status line ------------------------------------------------------------------------------

function say(text, kind = "info") {
  const status = $("status");
  status.textContent = text;
  status.dataset.kind = kind;
  status.setAttribute("role", kind === "error" ? "alert" : "status");
}

// -- connection -------------------------------------------------------------------------------

function start() {
  if (!seat || !seat.token || seat.table_id === undefined) {
    showNoSeat();
    return;
  }
  connection = new Connection({
    onOpen() {
      say("Connected. Loading your seat…");
      connection.send({ type: "resume", table_id: seat.table_id, token: seat.token });
    },
    onClose() {
      say("⚠ Connection lost — reconnecting…", "error");
    },
    onMessage: handle,
  });
  connection.open();
}

function handle(message) {
  switch (message.type) {
    case "view":
      if (message.table_id !== seat.table_id) return; // an old table's news after a reseat
      moving = false;
      pacer.arrive(message.view, seat.table_id); // the others' moves one by one (./pacing.js)
      break;
    case "reseated":
      seat = { ...seat, table_id: message.table_id, seat: message.seat,
        class_session_id: message.class_session_id ?? seat.class_session_id ?? null };
      save("seat", seat);
      memo.clear();
      wireShown = { table: null, count: 0 };
      notice = { text: `You now play the ${seatName(message.seat)} at table ${message.table_id}.`, kind: "info" };
      say(notice.text);
      break;
    case "seated":
      // "Try this scenario again": a fresh solo table; this page takes the new seat.
      save("seat", { table_id: message.table_id, token: message.token, seat: message.seat,
        class_session_id: message.class_session_id ?? null });
      location.reload();
      break;
    case "quiz_result":
      quizResults.set(`${message.lesson_id}:${message.question}`, message);
      showQuizResult(message.lesson_id, message.question);
      break;
    case "workbench_result":
      workbenchAsked = false;
      showWorkbenchResult($("workbench"), message, Object.fromEntries(
        (view?.workbench?.operations ?? []).map((op) => [op.id, op.label])));
      break;
    case "card": // a further-reading card the player opened
      readCard = message.lesson ?? null;
      if (view) renderLesson(view);
      break;
    case "error":
      if (workbenchAsked) {
        workbenchAsked = false;
        showWorkbenchError($("workbench"), message.message || message.code);
        break;
      }
      moving = false;
      pending = null;
      if (view) setBusy(false); // keep what the player typed: they may fix it and try again
      if (!view && (message.code === "bad_token" || message.code === "unknown_table")) {
        forget("seat");
        showNoSeat(`Your saved seat is no longer valid: ${message.message}`);
        return;
      }
      notice = { text: `⚠ ${message.message || message.code}`, kind: "error" };
      say(notice.text, notice.kind);
      break;
    default:
      break;
  }
}

function send(message) {
  notice = null;
  connection.send({ ...message, table_id: seat.table_id, token: seat.token });
}

function showNoSeat(text) {
  $("main").hidden = true;
  $("no-seat").hidden = false;
  $("seat-line").textContent = "No seat";
  if (text) $("no-seat-text").textContent = text;
  say("");
}

// -- rendering ----------------------------------------------------------------------------------

function changed(section, data) {
  const text = JSON.stringify(data);
  if (memo.get(section) === text) return false;
  memo.set(section, text);
  return true;
}

function render() {
  $("no-seat").hidden = true;
  $("main").hidden = false;
  const v = view;
  const steps = Array.isArray(v.steps) ? v.steps : [];
  const ended = v.completed || Boolean(v.failed) || Boolean(v.outcome);
  const current = ended ? null : steps[v.step_index] ?? null;
  document.title = `Handshake — ${seatName(v.seat)}${current ? ` · ${current.label}` : ""}`;

  const players = v.players ?? {};
  const me = players[v.seat];
  // The scenario's name only where the seat may know it (the eavesdropper, or after the end).
  $("seat-line").textContent = `${me ? `${me}: ` : ""}the ${seatName(v.seat)} · ${v.variant}` +
    `${v.scenario ? ` · ${v.scenario}` : ""} · table ${seat.table_id}`;
  $("page-title").textContent = `Your seat: the ${seatName(v.seat)}`;
  $("move-title").textContent = v.seat === "eavesdropper" ? "Wire controls" : "Your move";
  $("wire-hint").textContent = v.seat === "eavesdropper"
    ? "You see every byte on the wire, as sent and as delivered. Open a message to inspect it."
    : v.seat === "ca" ? "The CA is not on the wire: it signs certificates before the handshake."
      : "What you sent and what reached you. Open a message to inspect its bytes.";

  renderProgress(v, steps, current);
  renderState(v, current, players);
  renderChoices(false);
  renderVerdicts(v);
  renderScores(v, players);
  renderLesson(v);
  if (changed("workbench", v.workbench ?? null)) {
    renderWorkbench($("workbench"), v.workbench ?? null, (message) => {
      workbenchAsked = true;
      send(message);
    });
  }
  renderLadder(v, steps);
  if (changed("debrief", v.debrief ?? null)) {
    renderDebrief($("debrief"), v.debrief ?? null, v.seat, { again: (kind) => playAgain(v, kind) });
  }
  renderDocuments($("documents"), v.documents ?? null);
  renderAtHand($("at-hand"), v.documents ?? null, $("documents"));
  renderWallet(v);
  renderWire(v);
  if (!moving) {
    if (notice) say(notice.text, notice.kind);
    else say(`● connected · updated ${new Date().toLocaleTimeString()}`);
  }
}

function playAgain(v, kind) {
  if (kind !== "same" || !v.debrief) return;
  say("Opening a new table with the same scenario; the bots take their seats…");
  const name = saved("name");
  connection.send({ type: "solo", variant: v.debrief.variant, scenario: v.debrief.scenario,
    difficulty: v.debrief.difficulty, seat: v.seat, name: typeof name === "string" && name ? name : "student" });
}

function renderProgress(v, steps, current) {
  const bar = $("progress-bar");
  if (steps.length) {
    const done = Math.min(v.step_index ?? 0, steps.length);
    bar.max = steps.length;
    bar.value = done;
    $("progress-label").textContent = `Progress: ${done} of ${steps.length} steps done`;
  } else {
    bar.removeAttribute("value");
    $("progress-label").textContent = "Progress";
  }
  const step = $("step");
  step.replaceChildren();
  step.dataset.step = current?.id ?? v.step ?? ""; // the step's id, for tests: never shown
  if (current) {
    step.append(el("span", "step-number", `Step ${(v.step_index ?? 0) + 1} of ${steps.length}`),
      document.createTextNode(" — "), el("span", "step-seat", `${seatName(current.seat)}:`),
      document.createTextNode(` ${current.act ?? current.label}`));
  } else if (v.step) {
    step.textContent = v.offered?.why ?? "The next step.";
  } else {
    step.textContent = "The handshake is over.";
  }
}

function renderState(v, current, players) {
  const state = $("table-state");
  let text;
  let kind;
  const outcome = v.outcome;
  if (outcome && OUTCOME_MARKS[outcome.kind]) {
    // How the table ended, in the server's words: an attack stopped is never confused with a
    // student's own mistake (game/state.py `outcome`).
    const [mark, how] = OUTCOME_MARKS[outcome.kind];
    const reason = v.failed?.reason && !outcome.text.includes(v.failed.reason) ? `: ${v.failed.reason}` : "";
    text = `${mark} ${outcome.text[0].toUpperCase()}${outcome.text.slice(1)}${reason}`;
    kind = how;
  } else if (v.failed) {
    const check = v.failed.check ? ` (${v.failed.check})` : "";
    text = `✗ The handshake failed at the ${seatName(v.failed.seat)}'s check${check}: ${v.failed.reason ?? ""}`;
    kind = "fail";
  } else if (v.completed) {
    text = "✓ Handshake complete: the application data went through.";
    kind = "ok";
  } else if (v.paused) {
    text = "‖ Paused: the instructor will start or resume the table.";
    kind = "wait";
  } else if (v.your_turn) {
    text = "▶ Your turn.";
    kind = "turn";
  } else {
    const who = current?.seat;
    const name = who ? players[who] : null;
    text = who ? `◔ Waiting for the ${seatName(who)}${name ? ` (${name})` : ""}…` : "◔ Waiting…";
    kind = "wait";
  }
  if (state.textContent !== text) state.textContent = text;
  state.dataset.kind = kind;
}

// The operations the seat can do now. Without `choices` from the server (an older one),
// the guided `offered` move is the one choice.
function choicesOf(v) {
  if (Array.isArray(v.choices)) return v.choices;
  const offered = v.offered;
  if (!v.your_turn || !offered) return [];
  const fields = Object.entries(offered.fields ?? {})
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([name, value]) => ({ name, label: name, kind: typeof value === "number" ? "number" : "text", default: value }));
  return [{ action: offered.action, label: offered.why ?? offered.action, fields }];
}

function renderChoices(force) {
  const v = view;
  const box = $("choices");
  const choices = choicesOf(v);
  const over = v.completed || Boolean(v.failed);
  const key = { choices, offered: v.offered ?? null, turn: v.your_turn, over, paused: v.paused, step: v.step };
  if (!changed("choices", key) && !force) {
    setBusy(moving);
    return;
  }
  const hadFocus = box.contains(document.activeElement) || document.activeElement === document.body;
  box.replaceChildren();
  // The server sends choices only when the seat may act (after the end, the eavesdropper
  // may still try to decrypt what it recorded).
  if (!choices.length) {
    const why = over ? "The table is over: nothing more to play." : v.paused ? "The table is paused."
      : !v.your_turn ? "Not your turn: the ladder shows what the others do." : "Nothing to do right now.";
    box.append(el("p", "no-choice", why));
    setBusy(false);
    return;
  }
  const offered = v.offered?.action;
  if (offered && !choices.some((c) => c.action === offered)) {
    box.append(el("p", "guide", `★ Suggested next move: ${v.offered.why ?? offered}`));
  }
  let first = null;
  let hinted = false;
  choices.forEach((choice) => {
    const isHint = choice.action === "RequestHint";
    hinted ||= isHint;
    // The server marks the right move at guided difficulty (`recommended`); older servers
    // only name it in `offered`.
    const isOffered = typeof choice.recommended === "boolean" ? choice.recommended
      : Boolean(offered && choice.action === offered);
    const form = el("form", `choice${isOffered ? " offered" : ""}${isHint ? " choice-hint" : ""}`);
    testid(form, `choice-form-${choice.action}`);
    form.dataset.recommended = String(isOffered);
    const inputs = [];
    for (const field of choice.fields ?? []) {
      const fromOffer = isOffered && v.offered?.action === choice.action && v.offered.fields
        && v.offered.fields[field.name] !== undefined && v.offered.fields[field.name] !== null;
      const control = fieldControl(choice.action, field, fromOffer ? v.offered.fields[field.name] : field.default);
      inputs.push(control);
      form.append(control.element);
    }
    const button = el("button", `button${isOffered ? " primary" : ""}${isHint ? " hint-button" : ""}`);
    button.type = "submit";
    testid(button, `choice-${choice.action}`);
    button.textContent = `${isHint ? "ℹ " : ""}${choice.label ?? choice.action}`;
    if (isOffered) form.prepend(el("p", "offered-badge", "★ suggested: the right move"));
    form.append(button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (moving) return;
      const fields = {};
      for (const control of inputs) {
        const value = control.read();
        if (value !== undefined) fields[control.name] = value;
        else if (control.element.dataset.required === "select") {
          say(`⚠ Choose ${control.label} first.`, "error");
          control.element.querySelector("select")?.focus();
          return;
        }
      }
      move({ name: choice.action, fields, label: choice.label });
    });
    // Focus goes to the suggested move at guided difficulty; elsewhere to no answer at all.
    if (!isHint && isOffered) first = button;
    box.append(form);
  });
  if (!hinted && !Array.isArray(v.choices)) { // an older server without a menu: hints by message
    const hint = el("button", "button hint-button", "ℹ Ask for a hint");
    hint.type = "button";
    testid(hint, "hint");
    hint.title = "Free when guided; costs points otherwise. The hint arrives as your newest verdict.";
    hint.addEventListener("click", () => {
      if (moving) return;
      moving = true;
      setBusy(true);
      say("Asking for a hint…");
      send({ type: "hint" });
    });
    box.append(hint);
  }
  setBusy(moving);
  if (hadFocus && memo.get("focus-after-move") && !v.paced) { // after a replay: at the next turn
    memo.delete("focus-after-move");
    if (first) first.focus({ preventScroll: false });
    else $("move").focus({ preventScroll: true });
  }
}

function setBusy(busy) {
  for (const button of $("choices").querySelectorAll("button")) button.disabled = Boolean(busy);
  $("choices").setAttribute("aria-busy", busy ? "true" : "false");
}

function move(action) {
  pending = { name: action.name, label: action.label, verdicts: (view.verdicts ?? []).length };
  moving = true;
  memo.set("focus-after-move", "1");
  setBusy(true);
  say(`Playing: ${action.label ?? "your move"}…`);
  send({ type: "move", seat: view.seat, action: { name: action.name, fields: action.fields } });
}

let fieldSerial = 0;

// One labelled input for a choice's field: {element, name, read()}.
function fieldControl(action, field, preset) {
  const id = `f-${action}-${field.name}-${++fieldSerial}`;
  const wrap = el("div", "field-row");
  const label = el("label", null, field.label ?? field.name);
  label.htmlFor = id;
  const kind = field.kind ?? "text";
  const options = Array.isArray(field.options) ? field.options : [];
  let read;
  if (kind === "select") {
    const select = el("select");
    select.id = id;
    if (preset === null || preset === undefined) {
      // Standard and expert: nothing is chosen in advance; the student picks.
      const none = el("option", null, "— choose —");
      none.value = "";
      none.disabled = true;
      none.selected = true;
      select.append(none);
    }
    options.forEach((option, index) => {
      const node = el("option", null, option.label ?? String(option.value));
      node.value = String(index);
      if (JSON.stringify(option.value) === JSON.stringify(preset)) node.selected = true;
      select.append(node);
    });
    testid(select, `field-${action}-${field.name}`);
    wrap.append(label, select);
    read = () => (select.value === "" ? undefined : options[Number(select.value)]?.value);
    wrap.dataset.required = "select";
  } else if (kind === "multi") {
    const set = el("fieldset", "multi");
    const legend = el("legend", null, field.label ?? field.name);
    set.append(legend);
    testid(set, `field-${action}-${field.name}`);
    const chosen = Array.isArray(preset) ? preset.map((p) => JSON.stringify(p)) : null;
    const boxes = options.map((option, index) => {
      const row = el("label", "check");
      const box = el("input");
      box.type = "checkbox";
      box.value = String(index);
      box.checked = chosen ? chosen.includes(JSON.stringify(option.value)) : true;
      row.append(box, document.createTextNode(` ${option.label ?? option.value}`));
      set.append(row);
      return box;
    });
    wrap.append(set);
    read = () => boxes.filter((b) => b.checked).map((b) => options[Number(b.value)].value);
  } else {
    const multiline = kind === "text" && typeof preset === "string" && preset.includes("\n");
    const crlf = multiline && preset.includes("\r\n");
    const input = el(multiline ? "textarea" : "input");
    input.id = id;
    if (!multiline) input.type = kind === "number" ? "number" : "text";
    if (kind === "hex") {
      input.classList.add("hex-input");
      input.spellcheck = false;
      input.autocomplete = "off";
      input.placeholder = "hex, e.g. 3f a1 …";
      input.pattern = "[0-9a-fA-F:\\s]*";
    }
    if (multiline) input.rows = Math.min(6, preset.split("\n").length + 1);
    if (typeof field.max_length === "number") input.maxLength = field.max_length;
    if (kind === "number") {
      if (typeof field.min === "number") input.min = String(field.min);
      if (typeof field.max === "number") input.max = String(field.max);
    }
    if (preset !== undefined && preset !== null) input.value = String(preset);
    testid(input, `field-${action}-${field.name}`);
    wrap.append(label, input);
    if (kind === "hex") { // the same value asked by two choices (accept or reject) is typed once
      input.dataset.field = field.name;
      input.addEventListener("input", () => {
        for (const twin of document.querySelectorAll(`input[data-field="${CSS.escape(field.name)}"]`)) {
          if (twin !== input) twin.value = input.value;
        }
      });
    }
    if (field.formula) { // expert: how the value is made (never the value); the workbench computes it
      const help = el("p", "field-help", `How: ${field.formula}`);
      help.id = `${id}-how`;
      input.setAttribute("aria-describedby", help.id);
      wrap.append(help);
    }
    read = () => {
      const raw = input.value;
      if (kind === "number") return raw.trim() === "" ? undefined : Number(raw);
      if (kind === "hex") {
        const clean = raw.replace(/[\s:]/g, "");
        return clean === "" ? undefined : clean.toLowerCase();
      }
      // A textarea gives "\n" line ends; keep the protocol's CRLF when the default had them.
      return crlf ? raw.replace(/\r?\n/g, "\r\n") : raw;
    };
  }
  return { element: wrap, name: field.name, label: field.label ?? field.name, read };
}

function verdictLine(v, tag = "p") {
  const node = el(tag, `verdict ${v.ok ? "verdict-ok" : "verdict-fail"}`);
  node.append(el("span", "verdict-mark", v.ok ? "✓ ok" : "✗ failed"));
  const points = typeof v.points === "number" ? ` ${v.points > 0 ? "+" : ""}${v.points} points` : "";
  node.append(el("span", "verdict-points", points));
  node.append(document.createTextNode(" "), el("span", "verdict-step", stepLabel(v.step, view?.variant)));
  node.append(document.createTextNode(` — ${v.reason ?? ""}`));
  return node;
}

function renderVerdicts(v) {
  const verdicts = Array.isArray(v.verdicts) ? v.verdicts : [];
  if (!changed("verdicts", verdicts)) return;
  const feedback = $("feedback");
  feedback.replaceChildren();
  if (verdicts.length) {
    feedback.append(el("h3", null, "Feedback on your last move"), verdictLine(verdicts[verdicts.length - 1]));
  }
  const list = $("verdicts");
  list.replaceChildren(...verdicts.map((x) => verdictLine(x, "li")));
  list.dataset.count = String(verdicts.length);
  if (!verdicts.length) list.append(el("li", "empty", "No verdicts yet."));
}

// Some moves bring no verdict (the eavesdropper's decrypt attempt after the end): say what
// the view shows instead of leaving the click unanswered.
function noVerdictNote(move, v) {
  if ((v.verdicts ?? []).length !== move.verdicts) return;
  const feedback = $("feedback");
  let note;
  if (move.name === "TryDecrypt") {
    note = v.wallet?.decrypted_traffic
      ? el("p", "verdict verdict-ok", "✓ Decrypted: what you read is shown below.")
      : el("p", "verdict verdict-fail", "✗ Nothing decrypted: with what you hold, the recorded records stay sealed.");
  } else {
    note = el("p", "verdict", `Played: ${move.label ?? "your move"}. The referee gave no verdict on it.`);
  }
  testid(note, "move-note");
  feedback.replaceChildren(el("h3", null, "Feedback on your last move"), note); // a new verdict redraws it
}

function renderScores(v, players) {
  const scores = v.scores ?? {};
  if (!changed("scores", { scores, players, seat: v.seat })) return;
  const body = $("scores").tBodies[0];
  body.replaceChildren();
  for (const s of seatIds(Object.keys(players))) { // the catalog's order; else the view's
    const row = el("tr", s === v.seat ? "is-you" : null);
    testid(row, `score-${s}`);
    row.append(el("th", null, seatName(s) + (s === v.seat ? " (you)" : "")));
    row.cells[0].scope = "row";
    const name = players[s];
    row.append(el("td", name ? "player-name" : "bot", name ? name : s in players ? "⚙ bot" : "—"));
    row.append(el("td", "points", scores[s] ?? 0));
    body.append(row);
  }
}

function renderLesson(v) {
  const own = v.lesson ?? null;
  if (readCard && (!own || own.id !== readFrom)) readCard = null; // the step moved on: its card again
  const lesson = readCard ?? own;
  if (!changed("lesson", { lesson, more: own?.more ?? [], reading: Boolean(readCard) })) return;
  const box = $("lesson");
  const quiz = $("quiz");
  box.replaceChildren();
  quiz.replaceChildren();
  if (!lesson) {
    box.append(el("p", "hint", "The lesson card for this step appears here."));
    return;
  }
  box.dataset.lessonId = lesson.id ?? "";
  if (readCard) {
    const back = el("button", "button button-quiet", `← Back to “${own.title}”`);
    back.type = "button";
    testid(back, "lesson-back");
    back.addEventListener("click", () => { readCard = null; renderLesson(view); });
    box.append(back);
  }
  const markdown = String(lesson.markdown ?? "");
  if (!/^\s*#/.test(markdown) && lesson.title) box.append(el("h3", null, lesson.title));
  box.append(renderMarkdown(markdown));
  const more = readCard ? [] : (own.more ?? []);
  if (more.length) {
    const nav = el("nav", "read-more");
    nav.setAttribute("aria-label", "Further reading");
    testid(nav, "read-more");
    nav.append(el("h3", null, "Read more"));
    const list = el("ul");
    for (const card of more) {
      const open = el("button", "link-button", card.title);
      open.type = "button";
      testid(open, `read-${card.id}`);
      open.addEventListener("click", () => {
        readFrom = own.id;
        send({ type: "read_card", lesson_id: card.id });
      });
      const item = el("li");
      item.append(open);
      list.append(item);
    }
    nav.append(list);
    box.append(nav);
  }
  const questions = Array.isArray(lesson.quiz) ? lesson.quiz : [];
  if (!questions.length) return;
  quiz.append(el("h3", null, "Quick quiz"));
  quiz.append(el("p", "hint", "Your first answer to each question scores; try again as often as you like."));
  questions.forEach((q, qi) => {
    const form = el("form", "quiz-question");
    testid(form, `quiz-${qi}`);
    const set = el("fieldset");
    const legend = el("legend", null, `${qi + 1}. `);
    if (q.prediction) legend.append(el("span", "badge badge-predict", "Predict, with your own values"), " ");
    legend.append(String(q.question));
    set.append(legend);
    (q.choices ?? []).forEach((choice, ci) => {
      const row = el("label", "check");
      const radio = el("input");
      radio.type = "radio";
      radio.name = `quiz-${lesson.id}-${qi}`;
      radio.value = String(ci);
      radio.required = true;
      row.append(radio, document.createTextNode(` ${choice}`));
      set.append(row);
    });
    const button = el("button", "button", "Check my answer");
    button.type = "submit";
    testid(button, `quiz-submit-${qi}`);
    const result = el("p", "quiz-result");
    result.id = `quiz-result-${qi}`;
    result.setAttribute("role", "status");
    testid(result, `quiz-result-${qi}`);
    form.append(set, button, result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const picked = form.querySelector("input[type=radio]:checked");
      if (!picked) {
        result.textContent = "Pick an answer first.";
        return;
      }
      result.textContent = "Checking…";
      send({ type: "quiz_answer", lesson_id: lesson.id, question: qi, choice: Number(picked.value) });
    });
    quiz.append(form);
    const known = quizResults.get(`${lesson.id}:${qi}`);
    if (known) showQuizResult(lesson.id, qi);
  });
}

function showQuizResult(lessonId, question) {
  if ($("lesson").dataset.lessonId !== String(lessonId)) return;
  const result = $(`quiz-result-${question}`);
  const answer = quizResults.get(`${lessonId}:${question}`);
  if (!result || !answer) return;
  result.replaceChildren(el("strong", null, answer.correct ? "✓ Correct." : "✗ Not quite."));
  if (answer.explanation) result.append(document.createTextNode(` ${answer.explanation}`));
  result.dataset.kind = answer.correct ? "ok" : "fail";
}

function renderLadder(v, steps) {
  const data = { wire: (v.wire ?? []).map(({ event, from, to, label, altered, replayed, session, at }) => ({ event, from, to, label, altered, replayed, session, at })),
    verdicts: v.verdicts ?? [], steps, stepIndex: v.step_index ?? null, failed: v.failed ?? null,
    detectedBy: v.detected_by ?? null, outcome: v.outcome ?? null, completed: Boolean(v.completed), seat: v.seat };
  if (!changed("ladder", data)) return;
  drawLadder($("ladder"), data.wire, data);
  showCurrentStep($("ladder"));
}

// Beside the moves (wide screens) the ladder scrolls in its own box (css/style.css): each time
// it grows, its end — the step being played now, or how the table ended — comes into view by
// scrolling that box alone. Never scrollIntoView: that would move the page off the moves too.
// A phone's ladder has no box of its own, and the page stays where the student put it.
function showCurrentStep(box) {
  const scrollable = box.scrollHeight > box.clientHeight + 1;
  if (scrollable) box.tabIndex = 0; // keyboard users can scroll it too
  else box.removeAttribute("tabindex");
  if (scrollable) box.scrollTop = box.scrollHeight - box.clientHeight;
}

function decodeText(hex) {
  try {
    return new TextDecoder("utf-8", { fatal: false }).decode(hexToBytes(hex));
  } catch {
    return "";
  }
}

function renderWallet(v) {
  const wallet = v.wallet ?? {};
  if (!changed("wallet", wallet)) return;
  const appdata = $("appdata");
  appdata.replaceChildren();
  const texts = Object.entries(wallet).filter(([, item]) => item.kind === "text");
  // This connection's texts first, what was read before what was sent (that is the point of
  // the whole handshake); a text left from the first visit last, and said to be so.
  const rank = ([name, item]) => (item.earlier ? 2 : 0) + (name === "sent_data" ? 1 : 0);
  texts.sort((a, b) => rank(a) - rank(b));
  for (const [name, item] of texts) {
    const block = el("div", `appdata-item${name === "sent_data" ? " appdata-sent" : ""}${item.earlier ? " appdata-earlier" : ""}`);
    testid(block, `appdata-${name}`);
    const title = APP_TEXT[name] ?? `⚷ ${name.replaceAll("_", " ")}`;
    block.append(el("h3", null, item.earlier ? `${title} — in your first visit` : title));
    block.append(el("pre", "appdata-text", decodeText(item.value).replace(/\r\n/g, "\n")));
    appdata.append(block);
  }
  appdata.hidden = texts.length === 0;

  const list = $("wallet");
  list.replaceChildren();
  const entries = Object.entries(wallet);
  $("wallet-empty").hidden = entries.length > 0;
  for (const [name, item] of entries) {
    const group = el("div", `wallet-item${item.secret ? " is-secret" : ""}`);
    testid(group, `wallet-${name}`);
    const dt = el("dt");
    dt.append(el("span", "item-name", name.replace(/_/g, " ")));
    if (item.kind !== "secret") dt.append(el("span", "item-kind", item.kind));
    if (item.secret) dt.append(el("span", "secret-mark", "⚷ secret"));
    if (item.earlier) dt.append(el("span", "item-kind", "first visit"));
    const dd = el("dd");
    dd.append(walletValue(item));
    group.append(dt, dd);
    list.append(group);
  }
}

function walletValue(item) {
  if (item.kind === "certificate" || item.kind === "csr") return documentValue(item); // decoded in its card
  const value = String(item.value ?? "");
  const bytes = value.length / 2;
  const readable = item.kind === "text" || (item.kind === "private_key" && value.startsWith("2d2d2d2d2d"));
  const full = readable ? decodeText(value).replace(/\r\n/g, "\n") : value;
  if (full.length <= FOLD && !full.includes("\n")) return el("code", readable ? "text-value" : "hex", full || "(empty)");
  const details = el("details", "fold");
  const summary = el("summary");
  const preview = readable ? full.split("\n").find((line) => line.trim()) ?? "" : value;
  summary.append(el("code", readable ? "text-value" : "hex", `${preview.slice(0, FOLD)}…`),
    el("span", "fold-size", ` ${bytes} bytes — show all`));
  details.append(summary, el("pre", readable ? "text-value full" : "hex full", full));
  return details;
}

function renderWire(v) {
  const wire = Array.isArray(v.wire) ? v.wire : [];
  const list = $("wire");
  if (wireShown.table !== seat.table_id || wire.length < wireShown.count) {
    list.replaceChildren();
    wireShown = { table: seat.table_id, count: 0 };
  }
  // Messages only ever join the wire at its end: add the new ones, keep the open ones open.
  for (let i = wireShown.count; i < wire.length; i++) list.append(wireItem(wire[i], i, v));
  // A message already shown changes when this seat derives keys that now open it.
  for (let i = 0; i < wireShown.count && i < wire.length; i++) refreshOpened(list.children[i], wire[i], v);
  wireShown.count = wire.length;
  markHeld(wire, v);
  if (!wire.length && !list.children.length) {
    const empty = el("li", "empty", "No messages yet.");
    empty.id = "wire-empty";
    list.append(empty);
  } else if (wire.length) {
    $("wire-empty")?.remove();
  }
}

function wireItem(entry, index, v) {
  const li = el("li", `wire-item wire-${entry.event}${entry.altered ? " is-altered" : ""}`);
  testid(li, `wire-${index}`);
  const details = el("details");
  const summary = el("summary");
  const sent = entry.event === "sent";
  const arrow = sent ? `${seatName(entry.from)} → wire` : `wire → ${seatName(entry.to)}`;
  const size = Math.floor(String(entry.bytes ?? "").length / 2);
  summary.append(el("span", "wire-dir", sent ? "sent" : "delivered"), el("span", "wire-arrow", arrow),
    el("strong", "wire-label", entry.label ?? "?"), el("span", "wire-size", `${size} bytes`));
  if (entry.altered) {
    summary.append(el("span", "altered-mark", entry.replayed ? "⚠ replayed: a copy sent again" : "⚠ altered on the way"));
  }
  if (entry.content_type === 23 || (entry.content_type === 22 && !entry.dissection)) {
    summary.append(el("span", "sealed-mark", "⚷ encrypted"));
  }
  summary.append(el("span", "opened-mark", ""), el("span", "held-mark", ""));
  details.append(summary);
  li.wireEntry = entry;
  details.addEventListener("toggle", () => {
    if (details.open && !details.querySelector(".inspector")) {
      details.append(renderInspector(li.wireEntry, { variant: v.variant }));
    }
  }, { once: false });
  li.append(details);
  markOpened(li, entry);
  return li;
}

function markOpened(li, entry) {
  const mark = li.querySelector(".opened-mark");
  if (mark) mark.textContent = decryptedOf(entry).length ? "✓ decrypted with your keys" : "";
}

// The same message, newly opened by this seat's keys: new marks, and an open inspector redrawn.
function refreshOpened(li, entry, v) {
  if (!li?.wireEntry || decryptedOf(li.wireEntry).length === decryptedOf(entry).length) return;
  li.wireEntry = entry;
  markOpened(li, entry);
  const open = li.querySelector(".inspector");
  if (open) open.replaceWith(renderInspector(entry, { variant: v.variant }));
}

// The eavesdropper holds what was sent and not yet delivered: mark it.
function markHeld(wire, v) {
  const pending = new Map();
  wire.forEach((entry, i) => {
    const key = entry.label;
    if (entry.event === "sent") pending.set(key, [...(pending.get(key) ?? []), i]);
    else pending.set(key, (pending.get(key) ?? []).slice(1));
  });
  const held = new Set([...pending.values()].flat());
  wire.forEach((entry, i) => {
    const mark = $("wire").children[i]?.querySelector(".held-mark");
    if (!mark) return;
    const isHeld = v.seat === "eavesdropper" && held.has(i) && !v.completed && !v.failed;
    mark.textContent = isHeld ? "‖ held by you" : "";
  });
}

// Seat names come from the catalog: load it first (a failure leaves the bare seat ids).
loadCatalog().catch(() => {}).finally(start);
