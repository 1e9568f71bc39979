// The expert's workbench: the referee's own key-derivation functions, run by the server on
// this seat's own values (game/workbench.py). The page never computes a secret itself and
// never sees a value the seat does not hold: it sends an operation with operands (hex, or
// @name of a value the seat holds, joined with +) and shows the hex that comes back.

import { el } from "./dom.js";

const ARG_LABELS = {
  hash: "hash", data: "data", key: "key", secret: "secret", label: "label (text)", seed: "seed",
  length: "length (bytes)", salt: "salt", ikm: "input key material", context: "context",
};
const TEXT_ARGS = new Set(["label"]);
const MAX_RESULTS = 8;

const state = { op: null, values: {}, results: [], focused: null };

function field(arg, id) {
  const wrap = el("div", "field");
  const label = el("label", null, ARG_LABELS[arg] ?? arg);
  label.htmlFor = id;
  let input;
  if (arg === "hash") {
    input = el("select");
    for (const name of ["sha256", "sha384"]) {
      const option = el("option", null, name === "sha256" ? "SHA-256" : "SHA-384");
      option.value = name;
      input.append(option);
    }
  } else {
    input = el("input");
    input.type = arg === "length" ? "number" : "text";
    if (arg === "length") {
      input.min = "1";
      input.max = "1024";
    }
    if (!TEXT_ARGS.has(arg) && arg !== "length") {
      input.classList.add("hex-input");
      input.placeholder = "hex, or @name + @name";
      input.spellcheck = false;
      input.autocomplete = "off";
      input.addEventListener("focus", () => { state.focused = input; });
    }
  }
  input.id = id;
  input.dataset.testid = `workbench-${arg}`;
  input.value = state.values[`${state.op}:${arg}`] ?? input.value;
  input.addEventListener("input", () => { state.values[`${state.op}:${arg}`] = input.value; });
  input.addEventListener("change", () => { state.values[`${state.op}:${arg}`] = input.value; });
  wrap.append(label, input);
  return { wrap, input, arg };
}

function insert(text) {
  const target = state.focused && document.body.contains(state.focused) ? state.focused : null;
  if (!target) return false;
  target.value = target.value.trim() ? `${target.value.trim()} + ${text}` : text;
  target.dispatchEvent(new Event("input"));
  target.focus();
  return true;
}

function drawResults(list) {
  list.replaceChildren();
  for (const result of state.results) {
    const item = el("li", "workbench-result");
    item.dataset.testid = "workbench-result";
    item.append(el("span", "workbench-op", `${result.label} → ${result.bytes} bytes`));
    item.append(el("code", "hex", result.hex));
    const use = el("button", "button", "Use as input");
    use.type = "button";
    use.addEventListener("click", () => {
      if (!insert(result.hex)) use.textContent = "Click an input field first";
    });
    item.append(use);
    list.append(item);
  }
}

// Draws the workbench in `section` from the view's `workbench` listing (operations, and the
// names and sizes of the seat's values); `send` carries an operation to the server.
export function renderWorkbench(section, listing, send) {
  section.hidden = !listing;
  if (!listing) return;
  const operations = listing.operations ?? [];
  state.op = state.op ?? operations[0]?.id ?? null;
  const body = section.querySelector(".workbench-body");
  body.replaceChildren();

  const form = el("form", "workbench-form");
  const opWrap = el("div", "field");
  const opLabel = el("label", null, "operation");
  opLabel.htmlFor = "workbench-op";
  const op = el("select");
  op.id = "workbench-op";
  op.dataset.testid = "workbench-op";
  for (const spec of operations) {
    const option = el("option", null, spec.label);
    option.value = spec.id;
    option.selected = spec.id === state.op;
    op.append(option);
  }
  opWrap.append(opLabel, op);
  form.append(opWrap);
  const spec = operations.find((o) => o.id === state.op) ?? operations[0];
  const fields = (spec?.args ?? []).map((arg) => field(arg, `workbench-${arg}`));
  for (const f of fields) form.append(f.wrap);
  const go = el("button", "button primary", "Compute");
  go.type = "submit";
  go.dataset.testid = "workbench-compute";
  const status = el("p", "workbench-status");
  status.setAttribute("role", "status");
  status.dataset.testid = "workbench-status";
  form.append(go, status);
  op.addEventListener("change", () => {
    state.op = op.value;
    renderWorkbench(section, listing, send);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const args = {};
    for (const f of fields) args[f.arg] = f.input.value.trim();
    status.textContent = "Computing…";
    send({ type: "workbench", op: state.op, args });
  });

  const held = el("details", "workbench-inputs");
  held.append(el("summary", null, `Values you hold (${(listing.inputs ?? []).length}) — click one to put @name in the field you last used`));
  const list = el("ul");
  for (const input of listing.inputs ?? []) {
    const item = el("li");
    const pick = el("button", "link-button", `@${input.name}`);
    pick.type = "button";
    pick.dataset.testid = `workbench-input-${input.name}`;
    pick.addEventListener("click", () => {
      if (!insert(`@${input.name}`)) status.textContent = "Click an input field first, then the value.";
    });
    item.append(pick, ` ${input.label}, ${input.bytes} bytes`);
    list.append(item);
  }
  held.append(list);

  const results = el("ol", "workbench-results");
  results.dataset.testid = "workbench-results";
  drawResults(results);
  body.append(form, held, el("h3", null, "Results"), results);
}

// A `workbench_result` from the server: the newest result first; the status line says so.
export function showWorkbenchResult(section, message, labels) {
  state.results.unshift({ label: labels[message.op] ?? message.op, hex: message.hex, bytes: message.bytes });
  state.results.length = Math.min(state.results.length, MAX_RESULTS);
  const list = section.querySelector(".workbench-results");
  if (list) drawResults(list);
  const status = section.querySelector(".workbench-status");
  if (status) status.textContent = `${message.bytes} bytes computed.`;
}

// An error answering a workbench operation: shown beside the form, not as a game notice.
export function showWorkbenchError(section, text) {
  const status = section.querySelector(".workbench-status");
  if (status) status.textContent = `⚠ ${text}`;
}
