// Certificates and CSRs for people: the seat's `documents` (game/certview.py) drawn as cards.
//
// Each card says what the certificate says — who it is for, who signed it, from when until
// when, what key and signature, what it may be used for — and its chain drawn as a short list
// up to a root the seat trusts, or to where the climb stops. The badges beside its name are
// facts the seat itself reads from the bytes, the clock and its own trust store, styled by what
// they mean: a plain fact ("valid now", "CA", a trusted root's "self-signed") in grey, a sign a
// careful client stops at ("⚠ expired", "⚠ self-signed" on a certificate no trusted root
// vouches for) in the warning colour. Never a scenario's name: only what the seat can tell.
// Pass/fail marks appear only where the server sends the careful client's checks (guided
// difficulty). The DER itself stays in the wallet, folded. Nothing goes through innerHTML.
//
// The document the seat's move is about now (`at_hand`: the certificate to accept or reject,
// the CSR to review) is also summed up right above the move's buttons (`renderAtHand`), with a
// link down to its whole card: on a phone the card is a long scroll below.

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
  const guided = Array.isArray(documents.checks);
  cards.forEach((card, index) => body.append(renderCard(card, index, guided)));
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

function renderCard(card, index, guided) {
  const key = cardKey(card, index);
  const details = el("details", `doc-card doc-${card.kind}`);
  details.id = `doc-card-${index}`;
  details.dataset.key = key;
  details.dataset.testid = `doc-${index}`;
  details.open = openCards.has(key) ? openCards.get(key) : openByDefault(card);
  const summary = el("summary", "doc-summary");
  const icon = card.kind === "csr" ? "✎ CSR" : card.kind === "certificate" ? "▤ Certificate" : "⚠ Unreadable";
  summary.append(el("span", "doc-kind", icon), el("strong", "doc-name", card.name ?? "bytes"),
    el("span", "doc-label", card.label ?? ""));
  summary.append(factBadges(card, guided));
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
  if (card.at_hand) { // reached from the summary above the move's buttons: the way back
    const back = el("p", "doc-back");
    const link = el("a", null, "↑ Back to your move");
    link.href = "#move";
    back.append(link);
    details.append(back);
  }
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

// The facts beside the name, each {text, warn}: its status against the clock, self-signed, a CA,
// whether its chain reaches the seat's trust store. At guided difficulty a warning marks what a
// careful client would stop at: outside its dates; signed by itself yet no root the seat trusts;
// a chain that reaches no trusted root (a self-signed root in the trust store is how roots are).
// Elsewhere every fact looks the same: judging them is the student's move.
function factsOf(card, guided) {
  const facts = [];
  const fact = (text, warn = false) => facts.push({ text, warn: warn && guided });
  if (card.kind === "certificate") {
    if (card.status) fact(STATUS_WORDS[card.status] ?? card.status, card.status !== "valid");
    const trusted = card.chain?.reaches_trust;
    if (card.self_signed) fact("self-signed", trusted === false);
    if (card.ca) fact("CA");
    if (trusted === false && !card.self_signed) fact("no root you trust signed it", true);
  }
  if (card.kind === "csr") {
    fact(card.signature_valid ? "signature verifies" : "signature does not verify", !card.signature_valid);
  }
  return facts;
}

function factBadges(card, guided) {
  const box = el("span", "doc-facts");
  for (const { text, warn } of factsOf(card, guided)) {
    const badge = el("span", `doc-fact ${warn ? "doc-fact-warn" : "doc-fact-plain"}`);
    badge.dataset.tone = warn ? "warn" : "plain";
    if (warn) badge.append(el("span", "doc-fact-icon", "⚠ "));
    badge.append(text);
    if (warn) badge.title = "a careful client stops here";
    box.append(badge);
  }
  return box;
}

let atHandText = null; // the summary last drawn: redraw only when it changes

/** Sums up, above the move's buttons, the document the move is about (`at_hand`), with a link
 * down to its whole card in `documentsPanel`; hidden when the move is about none. */
export function renderAtHand(container, documents, documentsPanel) {
  if (!container) return;
  const cards = Array.isArray(documents?.cards) ? documents.cards : [];
  const index = cards.findIndex((card) => card.at_hand && ["certificate", "csr", "malformed"].includes(card.kind));
  const card = index >= 0 ? cards[index] : null;
  const guided = Array.isArray(documents?.checks);
  const text = JSON.stringify(card ? [card, guided] : null);
  if (text === atHandText) return;
  atHandText = text;
  container.replaceChildren();
  container.hidden = !card;
  if (!card) return;
  if (card.kind === "malformed") { // what reached the seat does not open: say so by the buttons
    const title = el("h3", "at-hand-title", `⚠ ${card.name ?? "What reached you"}`);
    title.id = "at-hand-title";
    container.append(title, el("p", "doc-problem", card.problem ?? ""));
    return;
  }
  const certificate = card.kind === "certificate";
  const title = el("h3", "at-hand-title", certificate ? "▤ The certificate you are judging"
    : "✎ The request you are reviewing");
  title.id = "at-hand-title";
  container.append(title, factBadges(card, guided));
  const fields = el("dl", "at-hand-fields");
  const row = (term, value) => {
    if (value === undefined || value === null || value === "") return;
    fields.append(el("dt", null, term), el("dd", null, value));
  };
  row(certificate ? "Issued to" : "Asks for", card.name);
  row("Names", card.san?.length ? card.san.join(", ") : "none");
  if (certificate) {
    row("Issued by", card.issuer_name);
    const valid = el("dd");
    const when = (words) => el("span", "at-hand-date", words); // a date and time never broken in two
    valid.append("from ", when(card.not_before), " until ", when(card.not_after));
    if (card.now) valid.append(el("span", "at-hand-now", "the clock now: "), when(card.now));
    fields.append(el("dt", null, "Valid"), valid);
    // The chain as the seat's own trust store sees it: each link in the card's words.
    const links = (card.chain?.links ?? []).filter((link) => !link.root);
    if (links.length) {
      const dd = el("dd", "at-hand-chain");
      for (const link of links) dd.append(el("span", null, links.length > 1 ? `${link.name}: ${link.words}` : link.words));
      fields.append(el("dt", null, "Chain"), dd);
    }
  } else {
    row("Public key", card.key);
    row("Proof of possession", card.signature_words);
  }
  container.append(fields);
  const jump = el("a", "at-hand-link", certificate
    ? `See the whole certificate${guided ? " and what a careful client checks" : ": key, usages, chain"} ↓`
    : "See the whole request ↓");
  const target = guided ? documentsPanel : container.ownerDocument.getElementById(`doc-card-${index}`);
  jump.href = `#${target?.id ?? "documents"}`;
  jump.dataset.testid = "at-hand-link";
  jump.addEventListener("click", (event) => {
    const card = documentsPanel?.querySelector(`#doc-card-${index}`);
    if (!card) return; // the plain link does what it can
    event.preventDefault();
    card.open = true;
    const goal = guided ? documentsPanel : card;
    goal.scrollIntoView({ block: "start" });
    (guided ? documentsPanel : card.querySelector("summary"))?.focus({ preventScroll: true });
  });
  container.append(jump);
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
