// Pacing: the other seats' moves shown one by one.
//
// Bots answer at once, so one view from the server may bring several steps done by others
// (a solo page opens with the CA's root, the server's key and CSR and the CA's review already
// played). The pacer shows such a view as a short replay: one step more every PACE_MS, with
// what that step put on the wire, while "Skip" shows the rest at once. During the replay the
// page is drawn from a *frame*: the view cut back to the steps shown so far, with no choices
// (the seat's turn comes at the end of the replay). A view that brings one step or none is
// drawn at once. What was shown is remembered per table for the tab (sessionStorage), so a
// reload or a reconnect replays only what is new.

import { assignSteps } from "./ladder.js";

export const PACE_MS = 500;

const doneIds = (view) => {
  const steps = Array.isArray(view.steps) ? view.steps : [];
  const failedOne = view.failed ? 1 : 0; // the failed step was played: its check stopped the table
  return steps.slice(0, Math.min(steps.length, (view.step_index ?? 0) + failedOne)).map((step) => step.id);
};

// How many of `ids` (the steps done in a new view) were already shown: the position after the
// last one that follows the shown ones in order (the end of a table may reveal steps a seat did
// not know of; they are older news, not replayed).
function alreadyShown(shown, ids) {
  let matched = 0; // of `shown`
  let upTo = 0; // of `ids`
  ids.forEach((id, index) => {
    if (matched < shown.length && id === shown[matched]) {
      matched++;
      upTo = index + 1;
    }
  });
  return upTo;
}

// The view as it stood when its first `count` steps were done (for the replay).
// What the seat held before the replay (`before`, the last view shown whole) stays on screen
// until the replay ends: a certificate must not show up before the message that brings it.
export function frameOf(view, count, before = null) {
  const steps = Array.isArray(view.steps) ? view.steps : [];
  const wire = Array.isArray(view.wire) ? view.wire : [];
  const eventSteps = assignSteps(wire, steps, doneIds(view).length);
  let shownWire = 0;
  while (shownWire < wire.length && eventSteps[shownWire] < count) shownWire++;
  const ids = steps.map((step) => step.id);
  let cursor = 0;
  const verdicts = (view.verdicts ?? []).filter((verdict) => {
    const at = ids.indexOf(verdict.step, cursor);
    if (at >= 0) cursor = at;
    return at >= 0 && at < count;
  });
  return {
    ...view, step_index: count, step: steps[count]?.id ?? view.step, wire: wire.slice(0, shownWire), verdicts,
    your_turn: false, choices: [], offered: null, completed: false, failed: null, outcome: null,
    detected_by: null, debrief: null, paced: { shown: count, total: doneIds(view).length },
    wallet: before ? before.wallet : view.wallet, documents: before ? before.documents : null,
  };
}

export class Pacer {
  // `show(view)` draws a view (a frame while replaying, else the server's); `key` names the
  // table (the remembered steps are per table).
  constructor({ show, delay = PACE_MS }) {
    this.show = show;
    this.delay = delay;
    this.view = null;
    this.shownWhole = null; // the last view drawn whole
    this.key = null;
    this.count = 0; // steps shown in the frame on screen
    this.timer = null;
    this.box = null;
  }

  get replaying() {
    return this.timer !== null;
  }

  // A new view from the server for table `tableId`.
  arrive(view, tableId) {
    const key = `handshake.paced.${tableId}`;
    if (key !== this.key) {
      this.stop();
      this.key = key;
      this.shownWhole = null;
    }
    this.view = view;
    const ids = doneIds(view);
    const shown = this.remembered();
    const from = shown === null ? 0 : alreadyShown(shown, ids);
    if (this.replaying) {
      this.count = Math.min(this.count, ids.length);
      this.drawFrame();
      return;
    }
    if (ids.length - from <= 1) {
      this.finish();
      return;
    }
    this.count = from + 1;
    this.drawFrame();
    this.timer = setInterval(() => this.tick(), this.delay);
  }

  tick() {
    const total = doneIds(this.view).length;
    this.count += 1;
    if (this.count >= total) this.finish();
    else this.drawFrame();
  }

  // Show the rest at once.
  skip() {
    if (this.view) this.finish();
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  finish() {
    this.stop();
    this.remember(doneIds(this.view));
    this.showControl(null);
    this.shownWhole = this.view;
    this.show(this.view);
  }

  drawFrame() {
    const frame = frameOf(this.view, this.count, this.shownWhole);
    this.remember(doneIds(frame));
    this.show(frame);
    this.showControl(frame);
  }

  remembered() {
    try {
      const kept = JSON.parse(sessionStorage.getItem(this.key) ?? "null");
      return Array.isArray(kept) ? kept : null;
    } catch {
      return null;
    }
  }

  remember(ids) {
    try {
      sessionStorage.setItem(this.key, JSON.stringify(ids));
    } catch {
      // private mode or full: the next reload replays again, nothing worse
    }
  }

  // The replay's line above the choices: which step of how many, and the skip button.
  showControl(frame) {
    const choices = document.getElementById("choices");
    if (!choices) return;
    if (!this.box) {
      this.box = document.createElement("div");
      this.box.className = "pacing";
      this.box.dataset.testid = "pacing";
      this.box.setAttribute("role", "status");
      this.text = document.createElement("span");
      this.text.className = "pacing-text";
      const skip = document.createElement("button");
      skip.type = "button";
      skip.className = "button pacing-skip";
      skip.dataset.testid = "pacing-skip";
      skip.textContent = "Skip » show all moves now";
      skip.addEventListener("click", () => this.skip());
      this.box.append(this.text, skip);
      choices.before(this.box);
    }
    this.box.hidden = frame === null;
    if (frame) {
      const { shown, total } = frame.paced;
      const step = frame.steps[shown - 1];
      this.text.textContent = `▶ Showing the other seats' moves: step ${shown} of ${total}` +
        (step ? ` — ${step.label}` : "");
      this.box.dataset.shown = String(shown);
      this.box.dataset.total = String(total);
    }
  }
}
