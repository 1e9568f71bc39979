// Certificates and CSRs for people: the seat's `documents` (game/certview.py) drawn as cards.
//
// Each card says what the certificate says — who it is for, who signed it, from when until
// when, what key and signature, what it may be used for — and its chain drawn as a short list
// up to a root the seat trusts, or to where the climb stops. "expired" and "self-signed" are
// facts of the bytes and the clock, shown in plain words and neutral colours; pass/fail marks
// appear only where the server sends the careful client's checks (guided difficulty). The
// DER itself stays in the wallet, folded. Nothing goes through innerHTML.

import { el } from "./dom.js";

const STATUS_WORDS = {
  valid: "valid now",
  expired: "expired",
  "not yet valid": "not yet valid",
};
const CHECK_MARKS = { true: ["✓", "pass"], false: ["✗", "fail"], null: ["–", "not checked"] };

let shownText = null; // the documents last drawn: redraw only when they change
const openCards = new Map(); // card key -> open, as the student left it

/** Draws `documents` ({cards, checks}) into `container` (a section with a `.documents-body`). */
export function renderDocuments(container, documents) {
  if (!container) return;
  const cards = Array.isArray(documents?.cards) ? documents.cards : [];
  const text = JSON.stringify(documents ?? null);
  if (text === shownText) return;
  shownText = text;
  const body = container.querySelector(".documents-body") ?? container;
  for (const node of body.querySelectorAll("details.doc-card")) openCards.set(node.dataset.key, node.open);
  body.replaceChildren();
  container.hidden = cards.length === 0;
  if (!cards.length) return;
  if (Array.isArray(documents.checks)) body.append(renderChecks(documents.checks));
  cards.forEach((card, index) => body.append(renderCard(card, index)));
}

/** A certificate or CSR in the wallet: the bytes folded, a pointer to the decoded card. */
export function documentValue(item) {
  const value = String(item.value ?? "");
  const details = el("details", "fold doc-bytes");
  const summary = el("summary");
  const what = item.kind === "csr" ? "certificate signing request" : "certificate";
  summary.append(el("span", "doc-ref", `${what}, decoded under “Certificates and CSRs”`),
    el("span", "fold-size", ` · ${value.length / 2} bytes of DER — show the bytes`));
  details.append(summary, el("pre", "hex full", value));
  return details;
}

function renderChecks(checks) {
  const box = el("div", "doc-checks");
  box.dataset.testid = "doc-checks";
  box.append(el("h3", null, "What a careful client checks"));
  const list = el("ol", "doc-check-list");
  for (const check of checks) {
    const [mark, word] = CHECK_MARKS[String(check.ok)] ?? CHECK_MARKS.null;
    const li = el("li", `doc-check doc-check-${word.replace(" ", "-")}`);
    li.dataset.ok = String(check.ok);
    li.append(el("span", "doc-check-mark", `${mark} ${word}`), el("strong", "doc-check-name", check.check));
    // A check not reached needs no detail of its own: one note below says why.
    if (check.ok !== null) li.append(el("span", "doc-check-detail", check.detail ?? ""));
    list.append(li);
  }
  box.append(list);
  if (checks.some((check) => check.ok === null)) {
    box.append(el("p", "doc-check-note", "A careful client stops at its first failed check: the checks after it "
      + "were not reached."));
  }
  return box;
}

function cardKey(card, index) {
  return `${card.fingerprint_sha256 ?? card.subject ?? card.problem ?? index}|${card.kind}`;
}

// Open: what the seat's move is about now (the certificate to judge, the CSR to review), and
// any unreadable bytes; the rest folded to one line each until the student opens them.
function openByDefault(card) {
  return Boolean(card.at_hand) || card.kind === "malformed";
}

function renderCard(card, index) {
  const key = cardKey(card, index);
  const details = el("details", `doc-card doc-${card.kind}`);
  details.dataset.key = key;
  details.dataset.testid = `doc-${index}`;
  details.open = openCards.has(key) ? openCards.get(key) : openByDefault(card);
  const summary = el("summary", "doc-summary");
  const icon = card.kind === "csr" ? "✎ CSR" : card.kind === "certificate" ? "▤ Certificate" : "⚠ Unreadable";
  summary.append(el("span", "doc-kind", icon), el("strong", "doc-name", card.name ?? "bytes"),
    el("span", "doc-label", card.label ?? ""));
  const facts = el("span", "doc-facts");
  for (const fact of factsOf(card)) facts.append(el("span", "doc-fact", fact));
  summary.append(facts);
  details.append(summary);

  if (card.kind === "malformed") {
    details.append(el("p", "doc-problem", card.problem));
    return details;
  }
  const fields = el("dl", "doc-fields");
  const row = (term, value, extra) => {
    if (value === undefined || value === null || value === "") return;
    const dt = el("dt", null, term);
    const dd = el("dd", null, value);
    if (extra) dd.append(el("span", "doc-extra", extra));
    fields.append(dt, dd);
  };
  row("Issued to (subject)", card.name, card.subject !== card.name ? card.subject : null);
  row("Names it covers (subjectAltName)", card.san?.length ? card.san.join(", ") : "none");
  if (card.kind === "certificate") {
    row("Issued by (issuer)", card.issuer_name, card.issuer !== card.issuer_name ? card.issuer : null);
    row("Valid", `from ${card.not_before} until ${card.not_after}`, validityWords(card));
  }
  row("Public key", card.key);
  row("Signed with", card.signature_algorithm);
  if (card.kind === "csr") row("Proof of possession", card.signature_words);
  if (card.kind === "certificate") {
    row("Key usage", card.key_usage?.length ? card.key_usage.join(", ") : "not stated");
    row("Extended key usage", card.extended_key_usage?.length ? card.extended_key_usage.join(", ") : "not stated");
    row("Certificate authority", card.ca_words);
  }
  details.append(fields);
  if (card.sources?.length > 1) {
    details.append(el("p", "doc-sources", `You have it from: ${card.sources.join("; ")}.`));
  }
  if (card.chain?.links?.length) details.append(renderChain(card.chain));
  if (card.kind === "certificate") {
    const more = el("details", "doc-more");
    more.append(el("summary", null, "Serial number and fingerprint"));
    const list = el("dl", "doc-fields");
    list.append(el("dt", null, "Serial number"), el("dd", "doc-mono", card.serial));
    list.append(el("dt", null, "SHA-256 fingerprint"), el("dd", "doc-mono", card.fingerprint_sha256));
    more.append(list);
    details.append(more);
  }
  return details;
}

// The plain facts beside the name: its status against the clock, self-signed, a CA.
function factsOf(card) {
  const facts = [];
  if (card.kind === "certificate") {
    if (card.status) facts.push(STATUS_WORDS[card.status] ?? card.status);
    if (card.self_signed) facts.push("self-signed");
    if (card.ca) facts.push("CA");
  }
  if (card.kind === "csr") facts.push(card.signature_valid ? "signature verifies" : "signature does not verify");
  return facts;
}

function validityWords(card) {
  if (!card.status) return null;
  const clock = card.now ? ` (the table's clock says ${card.now})` : "";
  if (card.status === "expired") return ` — expired: it ended on ${card.not_after}${clock}`;
  if (card.status === "not yet valid") return ` — not yet valid: it starts on ${card.not_before}${clock}`;
  return ` — valid now${clock}`;
}

function renderChain(chain) {
  const box = el("div", "doc-chain");
  box.append(el("h4", null, "Chain of trust"));
  const list = el("ol", "doc-chain-list");
  for (const link of chain.links) {
    const li = el("li", link.root ? "doc-link doc-root" : "doc-link");
    li.append(el("strong", null, link.name), el("span", null, ` — ${link.words}`));
    list.append(li);
  }
  box.append(list);
  return box;
}
