// The debrief on the projector: one table in large type — its ladder, where each attack was
// stopped (or got through), and what the attacker read. Built from `reveal`'s debrief (which
// carries the table's ladder, outcome, failed check, alerts and `attacker_read`) and, for a
// table not revealed yet, from its dashboard entry. Everything is text nodes.

import { seatName } from "./catalog.js";
import { el } from "./elements.js";
import { alertItem, tableName } from "./overview.js";

let ladderModule = null;
import("./ladder.js").then((module) => { ladderModule = module; }).catch(() => {});

function ladderOf(entries, debrief) {
  if (ladderModule && typeof ladderModule.renderLadder === "function") {
    try {
      return ladderModule.renderLadder(entries, {
        failed: debrief.failed || null, outcome: debrief.outcome || null, completed: Boolean(debrief.completed),
        label: "Messages at the table",
      });
    } catch {
      // the list below
    }
  }
  return el("ol", { class: "ladder-list" }, entries.map((entry) => el("li", {},
    entry.event === "delivered" ? `  ⟶ ${seatName(entry.to)}: ` : `${seatName(entry.from)} ⟶ `, String(entry.label),
    entry.altered ? el("span", { class: "altered" }, entry.replayed ? " ⚠ replayed" : " ⚠ altered") : null)));
}

// Where the attack was stopped or got through, in the server's words first.
function stops(debrief) {
  const items = [];
  if (debrief.outcome?.text) {
    const kind = debrief.outcome.kind;
    const bad = kind === "attack_succeeded" || kind === "mistake" || kind === "dropped";
    items.push(el("li", { class: bad ? "breached" : "stopped" }, bad ? "⚠ " : "⊘ ", String(debrief.outcome.text)));
  }
  if (debrief.failed) {
    const failed = debrief.failed;
    items.push(el("li", { class: "stopped" }, `⊘ The ${seatName(failed.seat)}'s check: ${failed.check}`,
      failed.reason ? ` — ${failed.reason}` : ""));
  } else if (debrief.detected_by) {
    items.push(el("li", { class: "stopped" }, `⊘ Detected by ${debrief.detected_by}.`));
  }
  for (const text of debrief.alerts || []) {
    // The alerts repeat the outcome with its reason: only what they add.
    const said = items.map((item) => item.textContent.replace(/^[⊘⚠✖✔] /, ""));
    if (!said.some((line) => line.includes(text) || String(text).startsWith(line))) items.push(alertItem(String(text)));
  }
  for (const attempt of debrief.eavesdropper_attempts || []) {
    items.push(el("li", { class: attempt.succeeded ? "breached" : "stopped" },
      attempt.succeeded ? "⚠ The eavesdropper decrypted the traffic: " : "⊘ The eavesdropper's decryption failed: ",
      String(attempt.reason)));
  }
  if (debrief.completed && !items.length) items.push(el("li", { class: "stopped" }, "✔ The handshake completed; no attack got through."));
  if (!items.length) items.push(el("li", {}, "The handshake has not finished yet."));
  return items;
}

export function renderProjector(container, table, debrief) {
  const source = debrief || table || {};
  const entries = Array.isArray(source.ladder) ? source.ladder : table?.ladder || [];
  const read = debrief ? debrief.attacker_read || [] : null;
  const title = table ? tableName(table) : "Table";
  container.replaceChildren(
    el("h3", { class: "projector-title", testid: "projector-title" },
      `${title} — ${source.variant ?? ""}${source.scenario ? `, ${source.scenario}` : ""}`),
    el("div", { class: "projector-body" },
      el("section", { class: "projector-ladder", "aria-label": `the ladder of ${title.toLowerCase()}`, testid: "projector-ladder" },
        ladderOf(entries, source)),
      el("div", { class: "projector-side" },
        el("section", { "aria-labelledby": "projector-stops" },
          el("h4", { id: "projector-stops" }, "Where the attack was stopped"),
          el("ul", { class: "projector-list", testid: "projector-stops" }, stops(source))),
        el("section", { "aria-labelledby": "projector-read" },
          el("h4", { id: "projector-read" }, "What the attacker read"),
          read === null
            ? el("p", { class: "muted" }, "Revealing the table…")
            : read.length
              ? el("ul", { class: "projector-list", testid: "projector-read" },
                read.map((text) => el("li", { class: "breached" }, el("code", {}, String(text)))))
              : el("p", { testid: "projector-read", class: "read-nothing" }, "⊘ Nothing: the attacker read no plaintext.")))));
}
