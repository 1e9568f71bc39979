// The ladder diagram: one lifeline per seat (client | eavesdropper, who is the wire |
// server | CA aside) and an arrow per wire event. On a seat's console every step done so far
// has a numbered caption at the seat that acted, from the first (the CA's root, the server's
// key and CSR: steps that never touch the wire), and the arrows it put on the wire follow it.
// A message "sent" goes from its sender to the wire (the eavesdropper's column); "delivered"
// goes from the wire to its recipient, so an altered delivery shows where it was changed.
// Checks (the seat's verdicts) are marked "✓ ok" / "✗ failed" after their step's arrows, and
// the end of the table (completed / failed at which check / detected by whom) closes the
// ladder. Every label stays between the lifelines its arrow joins, on an opaque ground.
//
// `renderLadder(events, options)` returns an element; `drawLadder(container, events, options)`
// puts it in a container. Events are wire entries `{event, from|to, label, altered, replayed}` (bytes
// are not needed), so the instructor dashboard draws its small ladders with the same code.
// Everything is text nodes: labels and reasons may come from players. Seat names come from
// the server's catalog (./catalog.js); this module only lays the seats out.

import { seatName, stepLabel } from "./catalog.js";
import { el } from "./dom.js";

// The columns, left to right, by seat id: the eavesdropper sits on the wire between the
// client and the server; the CA stands aside.
const COLUMNS = ["client", "eavesdropper", "server", "ca"];
const COLUMN = Object.fromEntries(COLUMNS.map((seat, index) => [seat, index + 1]));

// A column head on a phone: a long one-word name may break, with a hyphen, at its first
// pair of consonants from the fourth letter on ("eaves-dropper") rather than anywhere.
function columnHead(name) {
  if (name.length < 10 || /\s/.test(name)) return name;
  const consonant = (c) => /[a-z]/i.test(c) && !/[aeiouy]/i.test(c);
  for (let i = 4; i <= name.length - 3; i++) {
    if (consonant(name[i - 1]) && consonant(name[i])) return `${name.slice(0, i)}\u00ad${name.slice(i)}`;
  }
  return name;
}

// Which step of the catalog produced a message, from who sent it and its label; used only
// to put each check between the right arrows. Unknown labels just keep the order so far.
// The one place the pages name step ids: the wire entries do not say which step sent them
// (tests/web/test_web_catalog.py checks these ids against the served catalog).
function producingStep(origin, label, stepIds, session = 1) {
  const has = (id) => stepIds.includes(id);
  if (label === "NewSessionTicket" && has("server.new_session_ticket")) return "server.new_session_ticket";
  if (session > 1 && has("client.resume")) {
    // The client's second visit with its ticket (tls13): the resumption's own steps.
    if (origin === "client") {
      if (label === "ClientHello" || label === "early data") return "client.resume";
      if (label === "EndOfEarlyData" || label === "Finished") return "client.resume_finished";
      if (label === "application data") return "client.send_transfer";
    }
    if (origin === "server") return label === "application data" ? "server.answer_transfer" : "server.resume";
    return null;
  }
  if (origin === "client") {
    if (label === "ClientHello") return "client.hello";
    if (["ClientKeyExchange", "Certificate", "CertificateVerify"].includes(label)) return "client.key_exchange";
    if (label === "ChangeCipherSpec" || label === "Finished") return "client.finished";
    if (label === "application data") return "client.send_data";
  }
  if (origin === "server") {
    if (label === "application data") return "server.send_data";
    if ((label === "Finished" || label === "ChangeCipherSpec") && has("server.finished")) return "server.finished";
    return "server.hello";
  }
  return null;
}

function originOf(event) {
  if (event.from) return event.from;
  if (event.to === "client") return "server";
  if (event.to === "server") return "client";
  return null;
}

// Wire events and checks in one order: each check goes before the first arrow that a later
// step produced.
export function interleave(events, verdicts = [], steps = []) {
  const stepIds = steps.map((s) => s.id);
  const indexOf = (id) => stepIds.indexOf(id);
  const pending = verdicts.map((v) => ({ kind: "check", verdict: v, at: indexOf(v.step) }));
  const rows = [];
  const flush = (before) => {
    while (pending.length && pending[0].at >= 0 && pending[0].at < before) rows.push(pending.shift());
  };
  for (const event of events) {
    const step = producingStep(originOf(event), event.label, stepIds, event.session);
    const at = step === null ? -1 : indexOf(step);
    if (at >= 0) flush(at);
    rows.push({ kind: "wire", event });
  }
  rows.push(...pending);
  return rows;
}

// The step (index into `steps`) each wire event belongs to: the place the server gave it
// (`at`: the step that really sent it, as the seat sees its steps), else the step that produced
// it when its label says so, else the latest one so far; never before an earlier event's step,
// never past the last step `done`.
export function assignSteps(events, steps = [], done = steps.length) {
  const stepIds = steps.map((s) => s.id);
  const last = Math.max(0, Math.min(done, steps.length) - 1);
  let cursor = 0;
  return events.map((event, i) => {
    if (Number.isInteger(event.at)) {
      cursor = Math.max(cursor, Math.min(event.at, last));
      return cursor;
    }
    // A message the eavesdropper held (delivered, but not right after it was sent) or sent
    // itself belongs to the eavesdropper's step when that step comes next.
    const before = events[i - 1];
    const held = event.event === "delivered" && !(before?.event === "sent" && before.label === event.label);
    if ((held || event.from === "eavesdropper") && cursor + 1 <= last && steps[cursor + 1]?.seat === "eavesdropper") {
      cursor += 1;
      return cursor;
    }
    const id = producingStep(originOf(event), event.label, stepIds, event.session);
    const at = id === null ? -1 : stepIds.indexOf(id, cursor);
    if (at >= 0) cursor = Math.min(at, last);
    return cursor;
  });
}

// The step each of the seat's verdicts judged, in order (a step id may come twice: replay).
function verdictSteps(verdicts, steps) {
  const stepIds = steps.map((s) => s.id);
  let cursor = 0;
  return verdicts.map((v) => {
    const at = stepIds.indexOf(v.step, cursor);
    if (at >= 0) cursor = at;
    return at >= 0 ? at : stepIds.indexOf(v.step);
  });
}


function arrowRow(event, compact) {
  const li = el("li", "ladder-row ladder-wire");
  const sent = event.event === "sent";
  const seat = sent ? event.from : event.to;
  const left = seat === "client";
  const altered = Boolean(event.altered);
  let span;
  let direction;
  if (seat === "eavesdropper" || !COLUMN[seat]) {
    // Its own message on the wire: a short dotted stub from its lifeline, labelled on the side.
    span = [2, 4];
    direction = "stub";
  } else if (left) {
    span = [1, 3];
    direction = sent ? "right" : "left";
  } else {
    span = [2, 4];
    direction = sent ? "left" : "right";
  }
  li.dataset.event = event.event;
  li.dataset.seat = seat ?? "";
  const arrow = el("div", `arrow arrow-${direction}${altered ? " arrow-altered" : ""}`);
  arrow.style.gridColumn = `${span[0]} / ${span[1]}`;
  const label = el("span", "arrow-label");
  const who = sent ? `${seatName(seat)} sent` : `delivered to ${seatName(seat)}`;
  label.append(el("span", "visually-hidden", `${who}: `));
  // A replay delivers the same bytes again: a copy, not a change.
  const replayed = altered && Boolean(event.replayed);
  if (altered) label.append(el("span", "altered-mark", replayed ? "⚠ replayed: " : "⚠ altered: "));
  // A message name is kept whole ("ClientHello" on one line); only when it cannot fit, even a
  // little smaller (fitLadderLabels), it breaks between its parts ("Encrypted|Extensions"),
  // never inside one. Two names or words ("application data") break at their space.
  String(event.label ?? "?").split(/\s+/).filter(Boolean).forEach((word, w) => {
    if (w) label.append(document.createTextNode(" "));
    // Its parts as text nodes, a <wbr> between them (where a ladder not fitted, the dashboard's,
    // may break); fitLadderLabels keeps a <wbr> only when the name must break (Chromium breaks
    // at a <wbr> even under white-space: nowrap).
    const whole = el("span", "msg-word");
    word.split(/(?<=[a-z])(?=[A-Z])/).forEach((part, i) => {
      if (i) whole.append(document.createElement("wbr"));
      whole.append(document.createTextNode(part));
    });
    label.append(whole);
  });
  if (!compact && !sent && altered) {
    label.title = replayed ? "the eavesdropper sent a copy of this message again"
      : "the eavesdropper changed this message on the way";
  }
  arrow.append(label, el("span", "arrow-line"));
  const how = replayed ? " (a copy, sent again)" : " (altered on the way)";
  arrow.title = `${who}: ${event.label ?? ""}${altered ? how : ""}`;
  li.append(arrow);
  return li;
}

function chipRow(seat, ok, text, title, extraClass = "") {
  const li = el("li", `ladder-row ladder-check ${extraClass}`);
  const chip = el("span", `chip ${ok === true ? "chip-ok" : ok === false ? "chip-fail" : "chip-info"}`);
  chip.dataset.seat = seat ?? "";
  chip.textContent = text;
  if (title) chip.title = title;
  chip.style.gridColumn = "1 / -1";
  chip.style.justifySelf = { client: "start", eavesdropper: "center", server: "end", ca: "end" }[seat] ?? "center";
  li.append(chip);
  return li;
}

// A step done: its number and label at the seat that acted (the step's sentence as a tooltip).
function stepRow(step, index) {
  const li = el("li", "ladder-row ladder-step");
  li.dataset.stepIndex = String(index);
  li.dataset.seat = step.seat ?? "";
  const label = String(step.label ?? step.id ?? "");
  const text = /^the /i.test(label) ? label : `${seatName(step.seat)}: ${label}`;
  const caption = el("span", "step-caption");
  caption.append(el("span", "step-caption-number", `${index + 1}`), document.createTextNode(` ${text}`));
  if (step.act) caption.title = step.act;
  // Beside the acting seat's lifeline: the client's from the left edge, the server's up to its
  // column's edge, the eavesdropper's centred on the wire, the CA's at the right edge.
  const [columns, justify] = { client: ["1 / -1", "start"], eavesdropper: ["1 / 4", "center"],
    server: ["1 / 4", "end"], ca: ["1 / -1", "end"] }[step.seat] ?? ["1 / -1", "center"];
  caption.style.gridColumn = columns;
  caption.style.justifySelf = justify;
  li.append(caption);
  return li;
}

function verdictRow(v) {
  const mark = v.ok ? "✓ ok" : "✗ failed";
  const points = typeof v.points === "number" && v.points !== 0 ? ` (${v.points > 0 ? "+" : ""}${v.points})` : "";
  return chipRow(v.seat, v.ok, `${mark}: ${stepLabel(v.step)}${points}`, v.reason ?? "");
}

// Every step done, each with its arrows and the seat's checks of it; then the checks that
// belong to no step done yet (a hint at the current step).
function stepRows(ol, events, verdicts, steps, done, compact) {
  const eventSteps = assignSteps(events, steps, done);
  const checkSteps = verdictSteps(verdicts, steps);
  for (let index = 0; index < done; index++) {
    ol.append(stepRow(steps[index], index));
    events.forEach((event, i) => {
      if (eventSteps[i] === index) ol.append(arrowRow(event, compact));
    });
    verdicts.forEach((v, i) => {
      if (checkSteps[i] === index) ol.append(verdictRow(v));
    });
  }
  if (!done) events.forEach((event) => ol.append(arrowRow(event, compact)));
  verdicts.forEach((v, i) => {
    if (!(checkSteps[i] >= 0 && checkSteps[i] < done)) ol.append(verdictRow(v));
  });
}

export function renderLadder(events = [], options = {}) {
  const {
    verdicts = [], steps = [], stepIndex = null, failed = null, detectedBy = null, outcome = null, completed = false,
    compact = false, seat = null, label = "Ladder diagram of the handshake",
  } = options;
  const figure = el("figure", `ladder${compact ? " ladder-compact" : ""}`);
  const ol = el("ol", "ladder-rows");
  ol.setAttribute("aria-label", label);

  const head = el("li", "ladder-row ladder-head");
  head.setAttribute("aria-hidden", "true");
  for (const s of COLUMNS) {
    const name = el("span", `lifeline-name${s === seat ? " is-you" : ""}`, columnHead(seatName(s)) + (s === seat ? " (you)" : ""));
    name.style.gridColumn = String(COLUMN[s]);
    head.append(name);
  }
  ol.append(head);

  const hasSteps = !compact && Array.isArray(steps) && steps.length > 0 && stepIndex !== null;
  if (hasSteps) {
    // The failed step is drawn too: the table stopped at its check.
    const done = Math.min(steps.length, stepIndex + (failed ? 1 : 0));
    stepRows(ol, events, verdicts, steps, done, compact);
  } else {
    for (const row of interleave(events, compact ? [] : verdicts, steps)) {
      ol.append(row.kind === "wire" ? arrowRow(row.event, compact) : verdictRow(row.verdict));
    }
  }

  if (failed) {
    const where = failed.check ? ` at ${failed.check}` : "";
    ol.append(chipRow(failed.seat, false, `✗ failed${where} (${seatName(failed.seat)}): ${failed.reason ?? ""}`,
      "", "ladder-end"));
  }
  if (outcome?.kind === "attack_stopped" || outcome?.kind === "attack_succeeded") {
    // Only where the eavesdropper really acted: a student's own mistake is never an attack.
    const stopped = outcome.kind === "attack_stopped";
    ol.append(chipRow(stopped && failed ? failed.seat : null, stopped, `${stopped ? "⚑" : "⚠"} ${outcome.text}`, "", "ladder-end"));
  }
  if (completed && !failed) {
    // Completed is not the same as safe: after an attack that worked, the end is no good news.
    const won = outcome?.kind === "attack_succeeded";
    ol.append(chipRow(null, won ? null : true, won ? "the handshake completed, with the attack in it"
      : "✓ handshake complete", "", "ladder-end"));
  }
  if (!completed && !failed && Array.isArray(steps) && stepIndex !== null && stepIndex < steps.length && !compact) {
    const next = steps[stepIndex];
    const more = steps.length - stepIndex - 1;
    const li = chipRow(next.seat, null, `… next: ${seatName(next.seat)} — ${next.act ?? next.id}`,
      more > 0 ? `${more} more step${more === 1 ? "" : "s"} after this one` : "", "ladder-next");
    ol.append(li);
  }
  if (ol.children.length === 1) {
    ol.append(chipRow(null, null, "no messages on the wire yet", "", "ladder-empty"));
  }
  figure.append(ol);
  return figure;
}

// Every arrow label's words fit between the two lifelines its arrow joins, without a word cut in
// two: a message name too wide for that gap is drawn smaller (down to SHRINK of its size); still
// too wide, it breaks between its parts ("Encrypted|Extensions"), each part drawn smaller if it
// must be (down to SMALLEST). The CSS never breaks inside a word (.arrow-label), so this measures
// what the browser laid out; it runs again when the ladder's width changes.
const SHRINK = 0.85;
const SMALLEST = 0.6;

export function fitLadderLabels(root) {
  for (const ladder of root.querySelectorAll(".ladder")) ladder.classList.add("ladder-fitted");
  const labels = [...root.querySelectorAll(".arrow-label")];
  for (const label of labels) { // write first, then read: one layout for the whole ladder
    label.style.fontSize = "";
    label.classList.remove("arrow-label-split", "arrow-label-tight");
    for (const wbr of label.querySelectorAll("wbr")) wbr.remove();
  }
  const widest = (label, selector) => Math.max(0, ...[...label.querySelectorAll(selector)].map(
    (node) => node.getBoundingClientRect().width));
  const measured = labels.map((label) => {
    const arrow = label.parentElement;
    const size = parseFloat(getComputedStyle(label).fontSize) || 12;
    // The label's own box is at most half its arrow (the gap between the lifelines), less its
    // margin and padding (0.4em each side in all, .arrow-label).
    const room = (arrow?.clientWidth ?? 0) / 2 - 0.8 * size;
    return { label, size, room, word: widest(label, ".msg-word") };
  });
  const split = [];
  for (const { label, size, room, word } of measured) {
    if (room <= 0 || word <= room) continue;
    const scale = room / word;
    if (scale >= SHRINK) {
      label.style.fontSize = `${Math.floor(size * scale * 20) / 20}px`;
    } else {
      label.classList.add("arrow-label-split");
      for (const whole of label.querySelectorAll(".msg-word")) {
        [...whole.childNodes].slice(1).forEach((part) => part.before(document.createElement("wbr")));
      }
      split.push({ label, size, room });
    }
  }
  for (const entry of split) { // its parts: the text nodes between the <wbr>s
    entry.part = 0;
    for (const word of entry.label.querySelectorAll(".msg-word")) {
      for (const node of word.childNodes) {
        if (node.nodeType !== Node.TEXT_NODE) continue;
        const range = document.createRange();
        range.selectNodeContents(node);
        entry.part = Math.max(entry.part, range.getBoundingClientRect().width);
      }
    }
  }
  for (const { label, size, room, part } of split) {
    if (part <= room) continue;
    const scale = Math.max(SMALLEST, room / part);
    label.style.fontSize = `${Math.floor(size * scale * 20) / 20}px`;
    // A screen so narrow that even the smallest size does not fit: break rather than spill over
    // the lifelines.
    if (room / part < SMALLEST) label.classList.add("arrow-label-tight");
  }
}

const fitted = new WeakMap(); // container -> its ResizeObserver and the width last fitted

export function drawLadder(container, events, options = {}) {
  container.replaceChildren(renderLadder(events, options));
  if (!container.isConnected) return;
  fitLadderLabels(container);
  if (!fitted.has(container) && typeof ResizeObserver === "function") {
    const state = { width: container.clientWidth };
    state.observer = new ResizeObserver(() => {
      if (container.clientWidth === state.width) return;
      state.width = container.clientWidth;
      fitLadderLabels(container);
    });
    state.observer.observe(container);
    fitted.set(container, state);
  }
}
