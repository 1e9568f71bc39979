// The class overview: one compact tile face per table (its number within the class, a step
// progress bar, its state and alert badges), ordered with the tables in trouble first. The
// table's details (seats, ladder, actions) live in instructor.js, under the face.
//
// The server judges trouble (`trouble`, `stuck`, `attack_pending`: issue 16); an older server
// sends none of them, so each is optional here. A stuck seat's seconds keep counting between
// pushes (the server pushes on a change, not on the clock), and a seat is also flagged when
// the page's own clock sees its turn run past the class's `stuck_after` with no push.

import { seatName } from "./catalog.js";
import { el, duration } from "./elements.js";

// The server's verdict on how a table ended (game/state.py `outcome`): an attack stopped is
// never confused with a student's own mistake.
export const OUTCOME_STATUS = {
  attack_succeeded: { key: "breached", text: "⚠ attack succeeded" },
  attack_stopped: { key: "stopped", text: "⊘ attack stopped" },
  refused: { key: "stopped", text: "⊘ refused" },
  mistake: { key: "failed", text: "✖ failed on a mistake" },
  dropped: { key: "failed", text: "✖ never finished" },
};

export function tableStatus(table, started) {
  const known = OUTCOME_STATUS[table.outcome?.kind];
  if (known) return known;
  if (table.attack_succeeded) return { key: "breached", text: "⚠ attack succeeded" };
  if (table.failed) return { key: "failed", text: "✖ failed" };
  if (table.completed) return { key: "completed", text: "✔ completed" };
  if (table.paused) return { key: "paused", text: started ? "❚❚ paused" : "❚❚ waiting" };
  return { key: "playing", text: "▶ playing" };
}

// Where the table ended, and why, in words.
export function outcomeOf(table) {
  const failed = table.failed;
  const known = OUTCOME_STATUS[table.outcome?.kind];
  if (known) {
    const mark = known.text.slice(0, 1);
    const reason = failed && !table.outcome.text.includes(failed.reason) ? ` — ${failed.reason}` : "";
    return { key: known.key, text: `${mark} ${table.outcome.text}${reason}` };
  }
  if (table.attack_succeeded) return { key: "breached", text: `⚠ The attack succeeded (${table.scenario}).` };
  if (failed) {
    const where = `${seatName(failed.seat)}: ${failed.check}`;
    if (table.scenario === "honest") return { key: "failed", text: `✖ The handshake failed at the ${where} — ${failed.reason}` };
    return { key: "stopped", text: `⊘ Attack stopped by the ${where} — ${failed.reason}` };
  }
  if (table.detected_by) return { key: "stopped", text: `⊘ Attack stopped by ${table.detected_by}.` };
  if (table.completed) return { key: "completed", text: "✔ Handshake completed: application data went both ways." };
  return null;
}

// The server's alerts for a table; an older server sends none, so derive one from the outcome.
export function alertsOf(table) {
  if (Array.isArray(table.alerts)) return table.alerts.map(String);
  const result = outcomeOf(table);
  return result && result.key !== "completed" ? [result.text] : [];
}

// An alert as a list item, marked by a symbol and a class as well as its words: ⊘ where an
// attack was stopped (or the eavesdropper failed), ⚠ for everything that went wrong.
export function alertItem(text, prefix = null) {
  const good = /^(the attack was stopped|attack stopped|⊘)|refused what deserved it|could not read/i.test(text);
  const mark = /^[⊘⚠✖✔]/.test(text) ? "" : good ? "⊘ " : "⚠ ";
  return el("li", { class: good ? "stopped" : "breached" }, prefix, mark, text);
}

export const tableNumber = (table) => table.number ?? table.table_id;
export const tableName = (table) => `Table ${tableNumber(table)}`;

// -- trouble ----------------------------------------------------------------------------------

const finished = (table) => Boolean(table.completed || table.failed || !table.step);

// The seat whose turn has run long: the server's word, its seconds counted on since it came;
// else what the page's clock sees (a player's turn, the table playing, no move for
// `stuckAfter` seconds).
export function stuckOf(table, { now, receivedAt, stuckAfter, started }) {
  if (table.stuck && typeof table.stuck === "object") {
    return { ...table.stuck, seconds: Number(table.stuck.seconds || 0) + (now - receivedAt) / 1000 };
  }
  if (!started || !stuckAfter || table.paused || finished(table) || !table.last_move_at) return null;
  const holder = (table.seats || {})[table.turn];
  if (!holder || holder.player === undefined) return null;
  const since = Date.parse(table.last_move_at);
  if (!Number.isFinite(since)) return null;
  const seconds = (now - since) / 1000;
  return seconds >= stuckAfter ? { seat: table.turn, player: holder.player, seconds, local: true } : null;
}

// An injected attack whose eavesdropper has not moved since: still waiting (its seconds count
// on), or never to happen (the table ended without it).
export function attackPendingOf(table, { now, receivedAt }) {
  const pending = table.attack_pending;
  if (!pending || typeof pending !== "object") return null;
  if (finished(table)) return { ...pending, never: true };
  return { ...pending, seconds: Number(pending.seconds || 0) + (now - receivedAt) / 1000 };
}

// How urgent a table is (higher first): the server's `trouble`, else one judged here in the
// same spirit; a stuck seat the page saw on its own clock adds to either.
export function troubleOf(table, ctx) {
  const stuck = stuckOf(table, ctx);
  const pending = attackPendingOf(table, ctx);
  // The server's scale (server/app.py): 3 a stuck seat; 2 an attack that got through, or one
  // overdue (the threshold passed, or the table ended without it); 1 a failure, an attack still
  // to come, an alert; 0 fine. Its verdict is a snapshot: the clock here may raise it.
  let trouble = typeof table.trouble === "number" ? table.trouble : 0;
  if (typeof table.trouble !== "number") {
    const status = tableStatus(table, ctx.started).key;
    if (status === "breached") trouble = 2;
    else if (status === "failed" || pending || alertsOf(table).length) trouble = 1;
  }
  if (stuck) trouble = Math.max(trouble, 3);
  if (pending && (pending.never || (ctx.stuckAfter && pending.seconds >= ctx.stuckAfter))) trouble = Math.max(trouble, 2);
  return trouble;
}

// The badges under a tile's progress bar: each an icon and words, never colour alone.
export function flagsOf(table, ctx) {
  const flags = [];
  const stuck = stuckOf(table, ctx);
  if (stuck) {
    const who = stuck.player !== undefined && stuck.player !== null ? ` ${stuck.player}` : "";
    flags.push({ key: "stuck", text: `◷ stuck ${duration(stuck.seconds)}: ${seatName(stuck.seat)}${who}` });
  }
  const pending = attackPendingOf(table, ctx);
  if (pending) {
    flags.push({ key: "attack-pending", text: pending.never
      ? `⚠ the attack never started (${pending.scenario})`
      : `⚠ attack not started ${duration(pending.seconds)}: ${pending.scenario}` });
  }
  const status = tableStatus(table, ctx.started);
  if (status.key === "breached") flags.push({ key: "breached", text: "⚠ the attack succeeded" });
  if (status.key === "failed") flags.push({ key: "failed", text: table.failed ? `✖ failed at the ${seatName(table.failed.seat)}` : "✖ failed" });
  const alerts = alertsOf(table);
  const extra = alerts.filter((text) => /leak/i.test(text));
  if (extra.length) flags.push({ key: "leaked", text: "⚷ key leaked" });
  if (alerts.length) flags.push({ key: "alerts", text: `⚑ ${alerts.length} alert${alerts.length > 1 ? "s" : ""}` });
  return flags;
}

// -- the tile face ----------------------------------------------------------------------------

export function buildFace(id, onSelect) {
  const titleId = `table-${id}-title`;
  return el("div", { class: "tile-face" },
    el("div", { class: "tile-head" },
      el("input", { type: "checkbox", id: `table-${id}-select`, class: "tile-select", testid: `table-${id}-select`,
        onchange: onSelect }),
      el("h3", { id: titleId }, el("label", { for: `table-${id}-select`, class: "tile-title" })),
      el("span", { class: "badge", testid: `table-${id}-state` })),
    el("div", { class: "progress" },
      el("progress", { "aria-label": `table ${id} progress`, class: "tile-progress" }),
      el("span", { class: "progress-text", testid: `table-${id}-progress` })),
    el("ul", { class: "flags", testid: `table-${id}-flags`, "aria-label": `alert badges of table ${id}` }),
    el("p", { class: "tile-turn", testid: `table-${id}-turn` }));
}

export function renderFace(tile, table, ctx) {
  const id = table.table_id;
  const name = tableName(table);
  tile.dataset.number = String(tableNumber(table));
  tile.querySelector(".tile-title").textContent = name;
  tile.querySelector(".tile-select").setAttribute("aria-label", `Select ${name.toLowerCase()}`);
  const status = tableStatus(table, ctx.started);
  tile.dataset.state = status.key;
  const badge = tile.querySelector(".badge");
  badge.textContent = status.text;
  badge.className = `badge ${status.key}`;
  const progress = tile.querySelector(".tile-progress");
  progress.max = table.steps_total || 1;
  progress.value = table.steps_done || 0;
  progress.setAttribute("aria-label", `${name} progress`);
  tile.querySelector(".progress-text").textContent = `${table.steps_done ?? 0} / ${table.steps_total ?? "?"} steps`;

  const turn = tile.querySelector(".tile-turn");
  if (table.step && !table.completed && !table.failed) {
    const holder = (table.seats || {})[table.turn];
    const who = holder?.player !== undefined ? holder.player : holder?.bot ? "⚙ bot" : "empty";
    turn.replaceChildren(el("span", { class: "turn" }, `${seatName(table.turn)}'s turn`), " · ", el("bdi", {}, String(who)));
  } else {
    turn.replaceChildren(table.completed ? "✔ all steps done" : table.failed ? "■ the handshake ended" : "no step to play");
  }

  const flags = flagsOf(table, ctx);
  tile.querySelector(".flags").replaceChildren(...flags.map((flag) =>
    el("li", { class: `flag ${flag.key}`, "data-flag": flag.key, testid: `table-${id}-flag-${flag.key}` }, flag.text)));
  const trouble = troubleOf(table, ctx);
  tile.dataset.trouble = String(trouble);
  return trouble;
}

// Tables in trouble first, then by number. The order is visual (CSS `order`): the tiles keep
// their place in the document, so a focused control is never moved out from under the keyboard.
export function orderTiles(container, troubles) {
  const ranked = [...container.children].sort((a, b) =>
    (troubles.get(Number(b.dataset.tableId)) ?? 0) - (troubles.get(Number(a.dataset.tableId)) ?? 0)
    || Number(a.dataset.number) - Number(b.dataset.number));
  ranked.forEach((tile, index) => { tile.style.order = String(index); });
}
