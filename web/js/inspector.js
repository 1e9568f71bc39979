// The byte inspector: the real bytes of one wire message as hex, and each field of the
// engine's dissection highlighted and explained — under the mouse and under keyboard focus.
//
// A wire entry's `bytes` are whole TLS records (RFC 5246 §6.2.1: content type, version,
// length, fragment). `dissection` has one field tree per record, with offsets counted from
// the start of that record (the 5-byte header is offset 0..4). Records without a
// dissection (ChangeCipherSpec, encrypted Finished and application data) get their header
// and an explained fragment here. Everything is built with createElement/textContent.
//
// When the server sends `records` (one per record: `header` fields, the encrypted record's
// `fragment` parts and `status`, and `decrypted` when the viewing seat's own keys open it),
// those are shown instead: the server knows the TLS version and what this seat holds. A
// decrypted record gets its own block, "decrypted with your keys": the nonce, the sequence
// number, and the inner plaintext's bytes and fields (offsets from the plaintext's start).

const CONTENT_TYPES = { 20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data" };
const VERSIONS = { "0301": "TLS 1.0", "0302": "TLS 1.1", "0303": "TLS 1.2", "0304": "TLS 1.3" };

export function hexToBytes(hex) {
  const clean = String(hex ?? "");
  const out = new Uint8Array(Math.floor(clean.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

const byteHex = (b) => b.toString(16).padStart(2, "0");

// The records in a payload: [{start, type, version, length}] (a short tail counts as one).
export function splitRecords(bytes) {
  const records = [];
  let at = 0;
  while (at + 5 <= bytes.length) {
    const length = (bytes[at + 3] << 8) | bytes[at + 4];
    records.push({
      start: at,
      type: bytes[at],
      version: byteHex(bytes[at + 1]) + byteHex(bytes[at + 2]),
      length: Math.min(length, bytes.length - at - 5),
    });
    at += 5 + length;
  }
  return records;
}

// Every field as a flat list in document order: {name, value, explanation, start, length, depth}.
export function fieldsOf(entry, variant = "") {
  const bytes = hexToBytes(entry.bytes);
  const records = splitRecords(bytes);
  const dissections = Array.isArray(entry.dissection) ? entry.dissection : [];
  const fields = [];
  const told = Array.isArray(entry.records) ? entry.records : null;
  records.forEach((record, index) => {
    const s = record.start;
    const server = told?.[index];
    if (server && Array.isArray(server.header)) {
      const typeName = CONTENT_TYPES[record.type] ?? "unknown";
      fields.push({ name: `record ${index + 1}`, value: server.decrypted ? `${typeName}, decrypted with your keys`
        : typeName, depth: 0, start: s, length: 5 + record.length,
      explanation: "a TLS record: a 5-byte header, then the fragment (RFC 5246 §6.2.1, RFC 8446 §5.1)" });
      for (const node of server.header) walk(node, 1, s, fields);
      const tree = dissections[index];
      if (!server.encrypted && tree && typeof tree === "object") walk(tree, 1, s, fields);
      else if (server.encrypted) {
        fields.push({ name: "encrypted fragment", value: String(server.status ?? ""), depth: 1, start: s + 5,
          length: record.length, explanation: String(server.status ?? "") });
        for (const node of server.fragment ?? []) walk(node, 2, s, fields);
      } else fields.push(...opaqueFragment(entry, record, variant));
      return;
    }
    const typeName = CONTENT_TYPES[record.type] ?? "unknown";
    fields.push({ name: `record ${index + 1}`, value: typeName, depth: 0, start: s, length: 5 + record.length,
      explanation: "a TLS record: a 5-byte header, then the fragment (RFC 5246 §6.2.1)" });
    fields.push({ name: "content_type", value: `${record.type} (${typeName})`, depth: 1, start: s, length: 1,
      explanation: "what the record carries: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data" });
    fields.push({ name: "legacy_record_version", value: `0x${record.version} (${VERSIONS[record.version] ?? "?"})`,
      depth: 1, start: s + 1, length: 2,
      explanation: "the record layer's version; TLS 1.3 still writes 0x0303 here for old middleboxes" });
    fields.push({ name: "length", value: String(record.length), depth: 1, start: s + 3, length: 2,
      explanation: "how many bytes of fragment follow the header" });
    const tree = dissections[index];
    if (tree && typeof tree === "object") {
      walk(tree, 1, s, fields);
    } else {
      fields.push(...opaqueFragment(entry, record, variant));
    }
  });
  return { bytes, fields };
}

function walk(node, depth, base, out) {
  // The engine's offsets count from the record start (the header is bytes 0..4).
  out.push({
    name: String(node.name ?? "?"),
    value: String(node.value ?? ""),
    explanation: String(node.explanation ?? node.explain ?? ""),
    start: base + Number(node.offset ?? 0),
    length: Number(node.length ?? 0),
    depth,
  });
  for (const child of node.children ?? []) walk(child, depth + 1, base, out);
}

function opaqueFragment(entry, record, variant) {
  const start = record.start + 5;
  const length = record.length;
  if (record.type === 20) {
    return [{ name: "change_cipher_spec", value: "1", depth: 1, start, length,
      explanation: "from the next record on, this side encrypts with the new keys (RFC 5246 §7.1)" }];
  }
  if (record.type === 21) {
    return [{ name: "alert", value: `${length} bytes`, depth: 1, start, length,
      explanation: "an alert: a level and a description (RFC 5246 §7.2); encrypted once keys are in use" }];
  }
  const sealed = { name: "encrypted fragment", value: `${length} bytes`, depth: 1, start, length,
    explanation: `encrypted${entry.label ? ` ${entry.label}` : ""}: only someone with the session keys can open it` };
  if (String(variant).startsWith("tls12") && length > 24) {
    // RFC 5288 §3: AES-GCM records carry an 8-byte explicit nonce and a 16-byte tag.
    return [sealed,
      { name: "explicit_nonce", value: "8 bytes", depth: 2, start, length: 8,
        explanation: "the per-record part of the AES-GCM nonce (the sequence number), sent in the clear" },
      { name: "ciphertext", value: `${length - 24} bytes`, depth: 2, start: start + 8, length: length - 24,
        explanation: "the encrypted content: unreadable without the write key" },
      { name: "tag", value: "16 bytes", depth: 2, start: start + length - 16, length: 16,
        explanation: "the GCM authentication tag: a single flipped bit anywhere makes decryption fail" }];
  }
  return [sealed];
}

let serial = 0;

// The inspector for one wire entry, as an element: the wire bytes, then one block per record
// the viewing seat's own keys opened.
export function renderInspector(entry, { variant = "" } = {}) {
  const id = `insp-${++serial}`;
  const { bytes, fields } = fieldsOf(entry, variant);
  const root = document.createElement("div");
  root.className = "inspector";
  root.dataset.testid = "inspector";

  const explain = document.createElement("p");
  explain.className = "inspector-explain";
  explain.id = `${id}-explain`;
  explain.setAttribute("aria-live", "polite");
  explain.dataset.testid = "inspector-explain";
  explain.textContent = "Point at a byte or a field (or tab to the fields, then use ↑ ↓) to see what it is.";

  const wire = block(bytes, fields, explain, `fields of ${entry.label ?? "the message"}`,
    `${bytes.length} bytes on the wire`);
  root.append(wire.hexBox, explain, wire.list);
  for (const { index, opened } of decryptedOf(entry)) {
    const inner = hexToBytes(opened.bytes);
    const innerFields = [
      { name: "nonce", value: String(opened.nonce ?? ""), depth: 0, start: 0, length: 0,
        explanation: String(opened.nonce_explanation ?? "") },
      { name: "sequence_number", value: String(opened.sequence_number ?? ""), depth: 0, start: 0, length: 0,
        explanation: "this record's number under its key, counted by both sides and never sent (RFC 8446 §5.3, "
          + "RFC 5246 §6.1)" },
      { name: "opened with", value: String(opened.key ?? ""), depth: 0, start: 0, length: 0,
        explanation: `your own key, from your wallet (${opened.suite ?? ""}); the key itself is not shown` },
    ];
    for (const node of opened.fields ?? []) walk(node, 0, 0, innerFields);
    const section = document.createElement("section");
    section.className = "inspector-decrypted";
    section.dataset.testid = `inspector-decrypted-${index}`;
    const title = document.createElement("h4");
    title.className = "inspector-decrypted-title";
    title.textContent = `Record ${index + 1}, decrypted with your keys: ${opened.content_type_name ?? ""}`;
    // Its own explanation, next to its fields (on a phone the wire's is a screen away).
    const innerExplain = document.createElement("p");
    innerExplain.className = "inspector-explain";
    innerExplain.id = `${id}-explain-${index}`;
    innerExplain.setAttribute("aria-live", "polite");
    innerExplain.dataset.testid = "inspector-decrypted-explain";
    innerExplain.textContent = "The plaintext only your keys reveal: point at a byte or a field.";
    const inside = block(inner, innerFields, innerExplain, `decrypted fields of record ${index + 1}`,
      `${inner.length} bytes of plaintext, never on the wire`);
    section.append(title, inside.hexBox, innerExplain, inside.list);
    root.append(section);
  }
  return root;
}

// The records this seat's keys opened: [{index, opened}].
export function decryptedOf(entry) {
  const records = Array.isArray(entry?.records) ? entry.records : [];
  return records.map((record, index) => ({ index, opened: record?.decrypted }))
    .filter(({ opened }) => opened && typeof opened === "object" && typeof opened.bytes === "string");
}

// One hex view and its field list, explained in the shared `explain` paragraph.
function block(bytes, fields, explain, label, captionText) {
  const hex = document.createElement("div");
  hex.className = "inspector-hex";
  hex.setAttribute("aria-hidden", "true"); // the field list below carries the same for screen readers
  const spans = [];
  bytes.forEach((b, i) => {
    const span = document.createElement("span");
    span.textContent = byteHex(b);
    span.dataset.i = String(i);
    spans.push(span);
    hex.append(span);
  });

  const list = document.createElement("ol");
  list.className = "inspector-fields";
  list.setAttribute("aria-label", label);
  const buttons = [];
  let current = null;
  const clear = () => show(null);

  const show = (index) => {
    if (current !== null) {
      const old = fields[current];
      for (let i = old.start; i < old.start + old.length && i < spans.length; i++) spans[i].classList.remove("hl");
      buttons[current].removeAttribute("aria-current");
    }
    current = index;
    if (index === null) return;
    // One highlight at a time across the blocks that share this explanation.
    if (explain.clearOther && explain.clearOther !== clear) explain.clearOther();
    explain.clearOther = clear;
    const field = fields[index];
    for (let i = field.start; i < field.start + field.length && i < spans.length; i++) spans[i].classList.add("hl");
    buttons[index].setAttribute("aria-current", "true");
    explain.replaceChildren();
    const head = document.createElement("strong");
    head.textContent = field.name;
    explain.append(head);
    const where = field.length === 0 ? "not bytes of this block"
      : field.length === 1 ? `byte ${field.start}` : `bytes ${field.start}–${field.start + field.length - 1}`;
    const size = field.length === 0 ? "" : `, ${field.length} byte${field.length === 1 ? "" : "s"}`;
    explain.append(document.createTextNode(` (${where}${size})`));
    if (field.value) {
      const value = document.createElement("code");
      value.textContent = field.value;
      explain.append(document.createTextNode(" = "), value);
    }
    if (field.explanation) {
      explain.append(document.createElement("br"), document.createTextNode(field.explanation));
    }
  };
  fields.forEach((field, index) => {
    const li = document.createElement("li");
    li.style.setProperty("--depth", String(field.depth));
    const button = document.createElement("button");
    button.type = "button";
    button.className = "field";
    button.setAttribute("aria-describedby", explain.id);
    const name = document.createElement("span");
    name.className = "field-name";
    name.textContent = field.name;
    button.append(name);
    if (field.value) {
      const value = document.createElement("span");
      value.className = "field-value";
      value.textContent = field.value.length > 48 ? `${field.value.slice(0, 46)}…` : field.value;
      button.append(value);
    }
    button.title = field.explanation;
    // One tab stop for the whole list (roving tabindex); arrows, Home and End move within it.
    button.tabIndex = index === 0 ? 0 : -1;
    // Only a real pointer movement counts: the browser's synthetic move after a scroll must
    // not steal the highlight from the field that has keyboard focus.
    button.addEventListener("mousemove", (event) => {
      if ((event.movementX || event.movementY) && current !== index) show(index);
    });
    button.addEventListener("focus", () => {
      buttons.forEach((b, i) => { b.tabIndex = i === index ? 0 : -1; });
      show(index);
    });
    button.addEventListener("click", () => show(index));
    buttons.push(button);
    li.append(button);
    list.append(li);
  });

  list.addEventListener("keydown", (event) => {
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, to))].focus();
  });
  list.setAttribute("aria-description", "use the up and down arrows to move between fields");

  // Pointing at a byte shows the deepest (most specific) field that covers it.
  const deepest = (i) => {
    let best = null;
    fields.forEach((f, index) => {
      if (i >= f.start && i < f.start + f.length && (best === null || f.depth >= fields[best].depth)) best = index;
    });
    return best;
  };
  hex.addEventListener("mousemove", (event) => {
    const i = event.target?.dataset?.i;
    if (i !== undefined && (event.movementX || event.movementY)) {
      const index = deepest(Number(i));
      if (index !== null) show(index);
    }
  });
  hex.addEventListener("click", (event) => {
    const i = event.target?.dataset?.i;
    if (i !== undefined) {
      const index = deepest(Number(i));
      if (index !== null) buttons[index].focus();
    }
  });

  const hexBox = document.createElement("div");
  hexBox.className = "inspector-hexbox";
  const caption = document.createElement("p");
  caption.className = "inspector-caption";
  caption.textContent = captionText;
  hexBox.append(caption, hex);
  return { hexBox, list };
}
