// A small, safe Markdown subset for lesson cards, rendered as DOM nodes.
//
// Lesson cards come from the server filled with the seat's own values, and anything in
// them may have been typed by a player, so nothing here ever goes through innerHTML: every
// piece of text becomes a text node. Supported: headings (#, ##, ###…), paragraphs,
// **bold**, *emphasis* / _emphasis_, `code`, lists (- or * or 1.), fenced code (```) and
// indented blocks (diagrams, formulas) as <pre> with their whitespace and lines kept,
// pipe tables (| a | b | with a |---| rule under the header), and [text](url) shown as
// plain text (no links leave the game).

export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let list = null; // {element, ordered}

  const flushParagraph = () => {
    if (paragraph.length) {
      const p = document.createElement("p");
      appendInline(p, paragraph.join(" "));
      fragment.append(p);
      paragraph = [];
    }
  };
  const flushList = () => {
    list = null;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^\s*(```|~~~)(.*)$/);
    if (fence) {
      flushParagraph();
      flushList();
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      fragment.append(preformatted(body, fence[2].trim()));
      continue;
    }
    // An indented block (four spaces or a tab) that does not continue a paragraph or a list:
    // a diagram or a formula, kept exactly as written, line by line.
    if (!paragraph.length && !list && /^( {4}|\t)/.test(line) && line.trim()) {
      const body = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || (!lines[i].trim() && indentedAfter(lines, i)))) {
        body.push(lines[i++].replace(/^( {4}|\t)/, ""));
      }
      i--;
      fragment.append(preformatted(body));
      continue;
    }
    // A pipe table: a header row, a |---| rule, then rows (the per-variant comparisons).
    if (isTableRow(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(lines[i + 1])) {
      flushParagraph();
      flushList();
      const rows = [line];
      i += 2;
      while (i < lines.length && isTableRow(lines[i])) rows.push(lines[i++]);
      i--;
      fragment.append(table(rows));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      flushParagraph();
      flushList();
      // Card headings sit under the page's own h1/h2: shift them down so the outline holds.
      const level = Math.min(6, heading[1].length + 2);
      const h = document.createElement(`h${level}`);
      appendInline(h, heading[2].replace(/\s+#+\s*$/, ""));
      fragment.append(h);
      continue;
    }
    const item = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
    if (item) {
      flushParagraph();
      const ordered = /\d/.test(item[1]);
      if (!list || list.ordered !== ordered) {
        list = { element: document.createElement(ordered ? "ol" : "ul"), ordered };
        fragment.append(list.element);
      }
      const li = document.createElement("li");
      // Continuation lines (indented, not a new item) belong to this item.
      let text = item[2];
      while (i + 1 < lines.length && /^\s{2,}\S/.test(lines[i + 1]) && !/^\s*([-*+]|\d+[.)])\s+/.test(lines[i + 1])) {
        text += " " + lines[++i].trim();
      }
      appendInline(li, text);
      list.element.append(li);
      continue;
    }
    if (!line.trim()) {
      flushParagraph();
      flushList();
      continue;
    }
    if (list && /^\s+\S/.test(line)) {
      appendInline(list.element.lastElementChild, " " + line.trim());
      continue;
    }
    flushList();
    paragraph.push(line.trim());
  }
  flushParagraph();
  return fragment;
}

function isTableRow(line) {
  return /^\s*\|.*\|\s*$/.test(line);
}

function cells(row) {
  return row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim());
}

// A table with a header row; every cell's text goes through the inline rules (as text nodes).
// On a narrow screen the CSS shows each row as a card, every cell under its column's name
// (`data-label`, read by `content: attr()` as text); the explicit roles keep it a table for
// screen readers whatever its display.
function table(rows) {
  const wrap = document.createElement("div");
  wrap.className = "md-table";
  wrap.tabIndex = 0; // a table wider than its box scrolls sideways: keyboard users can scroll it too
  const element = document.createElement("table");
  element.setAttribute("role", "table");
  const head = document.createElement("thead");
  head.setAttribute("role", "rowgroup");
  const headRow = document.createElement("tr");
  headRow.setAttribute("role", "row");
  const names = [];
  for (const text of cells(rows[0])) {
    const th = document.createElement("th");
    th.scope = "col";
    th.setAttribute("role", "columnheader");
    appendInline(th, text);
    names.push(th.textContent.trim());
    headRow.append(th);
  }
  head.append(headRow);
  const body = document.createElement("tbody");
  body.setAttribute("role", "rowgroup");
  for (const row of rows.slice(1)) {
    const tr = document.createElement("tr");
    tr.setAttribute("role", "row");
    cells(row).forEach((text, column) => {
      const td = document.createElement("td");
      td.setAttribute("role", "cell");
      td.dataset.label = names[column] ?? "";
      appendInline(td, text);
      tr.append(td);
    });
    body.append(tr);
  }
  element.append(head, body);
  wrap.append(element);
  return wrap;
}

// A <pre><code> block: whitespace and line breaks exactly as written (the CSS keeps them).
function preformatted(lines, language = "") {
  const pre = document.createElement("pre");
  pre.className = "md-pre";
  pre.tabIndex = 0; // a diagram wider than a phone scrolls: keyboard users can scroll it too
  const code = document.createElement("code");
  if (/^[\w-]+$/.test(language)) code.dataset.language = language;
  code.textContent = lines.join("\n");
  pre.append(code);
  return pre;
}

// Whether the blank line at `index` sits inside an indented block (more of it follows).
function indentedAfter(lines, index) {
  let next = index;
  while (next < lines.length && !lines[next].trim()) next++;
  return next < lines.length && /^( {4}|\t)/.test(lines[next]);
}

// Inline spans: `code` first (nothing inside it is formatted), then **bold**, then
// *emphasis*, then [text](url) as text.
const INLINE = /(`+)([\s\S]*?)\1|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\*([^*\s][^*]*?)\*|(?<![\w])_([^_\s][^_]*?)_(?![\w])|\[([^\]]+)\]\(([^)\s]*)\)/g;

export function appendInline(parent, text) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
    last = match.index + match[0].length;
    if (match[1]) {
      const code = document.createElement("code");
      code.textContent = match[2].trim() ? match[2].replace(/^ (.*) $/, "$1") : match[2];
      parent.append(code);
    } else if (match[3] !== undefined || match[4] !== undefined) {
      const strong = document.createElement("strong");
      appendInline(strong, match[3] ?? match[4]);
      parent.append(strong);
    } else if (match[5] !== undefined || match[6] !== undefined) {
      const em = document.createElement("em");
      appendInline(em, match[5] ?? match[6]);
      parent.append(em);
    } else {
      appendInline(parent, match[7]);
      if (match[8]) parent.append(document.createTextNode(` (${match[8]})`));
    }
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}
