// The join page: join a class with a code and a name (a `?join=CODE` link fills the code),
// or open a solo table. The server answers `seated`; the seat (with its reconnect token) is
// kept in the browser and the seat console takes over. The solo form's seats, handshakes,
// scenarios and difficulties come from the server's catalog; the scenario list offers only
// those staged for the chosen handshake.

import { Connection, saved, save, forget } from "./net.js";
import {
  loadCatalog, seats, seatName, variants, scenariosFor, difficulties, fillSelect, scenarioOption,
} from "./catalog.js";

// The solo form's first choice of difficulty (the server's default too).
const DEFAULT_DIFFICULTY = "standard";

const $ = (id) => document.getElementById(id);
const status = $("status");
let connection = null;
let busy = null; // the form waiting for `seated`
let soloReady = false; // the catalog filled the solo form

function say(text, kind = "info") {
  status.textContent = text;
  status.dataset.kind = kind;
  status.setAttribute("role", kind === "error" ? "alert" : "status");
}

function connect() {
  if (connection) return connection;
  connection = new Connection({
    onMessage(message) {
      if (message.type === "seated") {
        save("seat", {
          table_id: message.table_id,
          token: message.token,
          seat: message.seat,
          class_session_id: message.class_session_id ?? null,
        });
        say("Seated. Opening your seat…");
        location.assign("play.html");
      } else if (message.type === "error") {
        say(`⚠ ${message.message || message.code}`, "error");
        setBusy(null);
      }
    },
    onClose() {
      if (busy) say("Connection lost; trying again…", "error");
    },
  });
  connection.open();
  return connection;
}

function setBusy(form) {
  busy = form;
  for (const button of document.querySelectorAll("form button[type=submit]")) button.disabled = Boolean(form);
  if (!soloReady) $("solo-submit").disabled = true;
}

function fillScenarios() {
  fillSelect($("solo-scenario"), scenariosFor($("solo-variant").value), scenarioOption);
}

function fillSoloForm() {
  fillSelect($("solo-seat"), seats(), (seat) => seat.name);
  fillSelect($("solo-variant"), variants(), (variant) => variant.name);
  fillScenarios();
  fillSelect($("solo-difficulty"), difficulties(), (difficulty) => difficulty.name, DEFAULT_DIFFICULTY);
  soloReady = true;
  $("solo-submit").disabled = Boolean(busy);
  showContinue(); // now with the seat's name
}

$("solo-variant").addEventListener("change", fillScenarios);
loadCatalog().then(fillSoloForm, () => {
  say("⚠ The game's catalog could not be loaded, so solo play is off: reload the page.", "error");
});

function showContinue() {
  const seat = saved("seat");
  const box = $("continue");
  if (!seat || !seat.token) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const kind = seat.class_session_id ? "class" : "solo";
  $("continue-text").textContent = `You have a seat: the ${seatName(seat.seat)} at table ${seat.table_id} (${kind}).`;
}

$("continue-forget").addEventListener("click", () => {
  forget("seat");
  showContinue();
  say("Forgotten. Join a class or play solo.");
});

const params = new URLSearchParams(location.search);
const code = params.get("join");
const name = saved("name");
if (typeof name === "string") {
  $("join-name").value = name;
  $("solo-name").value = name;
}
if (code) {
  $("join-code").value = code.toUpperCase().slice(0, 32);
  $("join-name").focus();
  say(`Join code ${$("join-code").value} filled in: type your name and join.`);
}
showContinue();

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const joinCode = $("join-code").value.trim();
  const playerName = $("join-name").value.trim();
  if (!joinCode || !playerName) {
    say("⚠ Type the join code and your name.", "error");
    return;
  }
  save("name", playerName);
  setBusy(event.target);
  say("Joining…");
  connect().send({ type: "join", join_code: joinCode, name: playerName });
});

$("solo-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const playerName = String(form.get("name") ?? "").trim();
  if (!playerName) {
    say("⚠ Type your name.", "error");
    return;
  }
  save("name", playerName);
  setBusy(event.target);
  say("Opening a table; the bots take their seats…");
  connect().send({
    type: "solo",
    variant: form.get("variant"),
    scenario: form.get("scenario"),
    difficulty: form.get("difficulty"),
    seat: form.get("seat"),
    name: playerName,
  });
});
