// The debrief: what every seat learns when its table ends, or when the instructor reveals
// it — the scenario that was played, how it ended and which check acted (or that none did),
// what the eavesdropper read, the whole wire with the alterations marked, every seat's
// score — and the ways to play on. The server sends it (`view.debrief`, game/views.py
// `debrief`) only then: before, a victim's view holds no scenario name and no mark.

import { scenarios, seatName, seatIds } from "./catalog.js";
import { el } from "./dom.js";


const OUTCOME_TITLES = {
  attack_succeeded: "⚠ The attack succeeded",
  attack_stopped: "⚑ The attack was stopped",
  refused: "⚑ A correct refusal",
  mistake: "✗ The handshake broke on a mistake",
  dropped: "✗ The handshake never finished",
  completed: "✓ The handshake completed",
};

function scenarioWords(id) {
  const found = scenarios().find((scenario) => scenario.id === id);
  return found ? `${found.name ?? id}: ${found.story ?? ""}`.replace(/: $/, "") : id;
}

function ladderList(rows) {
  const list = el("ol", "debrief-ladder");
  list.dataset.testid = "debrief-ladder";
  for (const row of rows) {
    let text;
    if (row.event === "sent") text = `${seatName(row.from)} sent ${row.label}`;
    else text = `${row.label} reached the ${seatName(row.to)}`;
    const item = el("li", row.altered ? "altered" : null, text);
    // A replay sends the same bytes again: a copy, not a change.
    if (row.altered) {
      item.append(el("strong", "altered-mark", row.replayed ? " — a copy the eavesdropper sent again"
        : " — changed by the eavesdropper on the way"));
    }
    list.append(item);
  }
  return list;
}

// `again(kind)` is called with "same" (this scenario again) or "new" (back to the start page).
export function renderDebrief(panel, debrief, me, options) {
  panel.replaceChildren();
  if (!debrief) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const kind = debrief.outcome?.kind ?? "completed";
  const heading = el("h2", null, "Debrief");
  heading.id = "debrief-title";
  panel.append(heading);
  const title = el("p", `debrief-outcome outcome-${kind}`, OUTCOME_TITLES[kind] ?? kind);
  title.dataset.testid = "debrief-outcome";
  panel.append(title);
  if (debrief.outcome?.text) panel.append(el("p", null, `${debrief.outcome.text[0].toUpperCase()}${debrief.outcome.text.slice(1)}.`));

  const facts = el("dl", "debrief-facts");
  const fact = (term, value, id) => {
    const dd = el("dd", null, value);
    if (id) dd.dataset.testid = id;
    facts.append(el("dt", null, term), dd);
  };
  fact("The scenario", scenarioWords(debrief.scenario), "debrief-scenario");
  // "the CA's identity check": a check named after its seat, or ending in "check", said once.
  const checkName = (seat, check) => String(check ?? "").replace(new RegExp(`^${seat} `), "").replace(/ check$/, "");
  if (debrief.stopped) {
    const { seat, check, reason } = debrief.stopped;
    fact("Stopped by", `the ${seatName(seat)}'s ${checkName(seat, check)} check — ${reason}`, "debrief-stopped");
  } else if (debrief.detected_by) {
    fact("Ended by", `the ${String(debrief.detected_by).replace(/ check$/, "")} check`, "debrief-stopped");
  } else if (debrief.attack_succeeded) {
    fact("Stopped by", "no check: nothing stopped the eavesdropper", "debrief-stopped");
  }
  panel.append(facts);

  const read = debrief.attacker_read ?? [];
  const readBox = el("div", "debrief-read");
  readBox.dataset.testid = "debrief-read";
  readBox.append(el("h3", null, "What the eavesdropper read"));
  if (read.length) {
    for (const text of read) readBox.append(el("pre", "appdata-text", text));
  } else {
    readBox.append(el("p", null, "Nothing: the traffic stayed closed to it."));
  }
  panel.append(readBox);

  if ((debrief.alerts ?? []).length) {
    const notes = el("ul", "debrief-alerts");
    for (const note of debrief.alerts) notes.append(el("li", null, note));
    panel.append(el("h3", null, "What happened, step by step"), notes);
  }

  const scores = el("ul", "debrief-scores");
  scores.dataset.testid = "debrief-scores";
  for (const id of seatIds(Object.keys(debrief.scores ?? {}))) {
    const points = debrief.scores?.[id] ?? 0;
    scores.append(el("li", id === me ? "me" : null, `the ${seatName(id)}${id === me ? " (you)" : ""}: ${points} points`));
  }
  panel.append(el("h3", null, "Scores"), scores);

  const wire = el("details", "debrief-wire");
  wire.append(el("summary", null, "The whole wire, as the eavesdropper saw it"), ladderList(debrief.ladder ?? []));
  panel.append(wire);

  const actions = el("p", "debrief-actions");
  if (options?.again) {
    const same = el("button", "primary", "Try this scenario again");
    same.type = "button";
    same.dataset.testid = "again-same";
    same.addEventListener("click", () => options.again("same"));
    actions.append(same, document.createTextNode(" "));
  }
  const fresh = el("a", "button", "Play again: choose a new game");
  fresh.href = "./";
  fresh.dataset.testid = "again-new";
  actions.append(fresh);
  panel.append(actions);
}
