"""The seat console's layout fixes from the Chromium play-test, checked in a real Chromium:

1. phone: no ladder label cut inside a word ("Encrypted Extension|s", "applicatio|n data"), short
   message names whole ("ClientHello" on one line), nothing wider than the screen;
2. phone: a lesson's table fits the screen (each row a card), nothing cut off at the right edge;
3. phone: the certificate the client judges is summed up right above Accept/Reject, with a link
   down to its whole card and back; its badges styled by meaning (a warning sign vs a plain fact),
   in words the client itself can know;
4. projector: a quiz question of several lines sits below its box's top border, not across it;
5. projector: the ladder scrolls in its own box and keeps the current step in view there, while
   the page stays at the moves.

Each check is planted once with the fault it looks for, to prove it can fail. Every wait is on
something the page shows; nothing sleeps. Screenshots in build/screenshots/.
"""

from __future__ import annotations

import base64
from typing import Any

from playwright.sync_api import Page, expect

from .conftest import SCREENSHOTS
from .test_web_layout import assert_no_overlap, skip_replay
from .test_web_student import SETTLED, open_solo, play, verdict_count

# Every word of every ladder label: the visible text of a label (its text nodes, outside the
# screen-reader-only prefix) cut at its spaces. A "part" is a word within one text node (a
# message name's parts, "Encrypted" and "Extensions", are text nodes of their own: it may break
# between them when it must); a "token" is a whole word, across text nodes ("EncryptedExtensions").
# For each, on how many lines it is drawn (distinct tops of its range's rects).
LADDER_WORDS = """() => {
  const words = [];
  const lines = (range) => new Set([...range.getClientRects()].filter((r) => r.width > 0.5)
    .map((r) => Math.round(r.top))).size;
  const labels = document.querySelectorAll("#ladder .arrow-label, #ladder .step-caption, #ladder .chip");
  for (const label of labels) {
    const nodes = [];
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.closest(".visually-hidden")) nodes.push(node);
    }
    for (const node of nodes) {
      for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        words.push({ kind: "part", word: match[0], lines: lines(range), label: label.textContent.trim() });
      }
    }
    const text = nodes.map((node) => node.data).join("");
    const at = (offset) => { // the text node and offset of a character of `text`
      for (const node of nodes) {
        if (offset <= node.data.length) return [node, offset];
        offset -= node.data.length;
      }
      return [nodes[nodes.length - 1], nodes[nodes.length - 1].data.length];
    };
    for (const match of text.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(...at(match.index));
      range.setEnd(...at(match.index + match[0].length));
      words.push({ kind: "token", word: match[0], lines: lines(range), label: label.textContent.trim() });
    }
  }
  return words;
}"""

PAGE_WIDTH = "() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth })"

# Short message names that fit a phone's gap between two lifelines, at most a little smaller.
WHOLE_NAMES = {"ClientHello", "ServerHello", "Certificate", "Finished", "application"}


def words(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(LADDER_WORDS)
    return found


def cut_words(page: Page, whole: bool = True) -> list[str]:
    """Words drawn on more than one line: a part cut inside, or (``whole``) a short name broken
    in two."""
    return [f"{w['word']!r} in {w['label']!r}" for w in words(page)
            if w["lines"] > 1 and (w["kind"] == "part" or (whole and w["word"] in WHOLE_NAMES))]


def play_suggested_to_the_end(page: Page) -> None:
    """Guided: the suggested move, each time the seat's turn comes, until the table ends."""
    state = page.get_by_test_id("table-state")
    for _ in range(30):
        skip_replay(page)
        if state.get_attribute("data-kind") != "turn":
            return
        suggested = page.locator("[data-testid^='choice-form-'][data-recommended='true']")
        expect(suggested).to_have_count(1)
        count = verdict_count(page)
        action = (suggested.get_attribute("data-testid") or "").removeprefix("choice-form-")
        page.get_by_test_id(f"choice-{action}").click()
        expect(page.get_by_test_id("verdicts")).to_have_attribute("data-count", str(count + 1))
    raise AssertionError("the table did not end")


def in_viewport(page: Page, selector: str) -> dict[str, Any]:
    box: dict[str, Any] = page.evaluate("""(selector) => {
      const r = document.querySelector(selector).getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, inner: innerHeight };
    }""", selector)
    return box


# -- 1. ladder labels on a phone -------------------------------------------------------------------

def test_ladder_labels_on_a_phone_break_only_between_words(serve, new_page, shot) -> None:
    page = new_page("phone")
    # The eavesdropper's ladder of a tls13 attack: every message twice, altered ones in bold with
    # "⚠ altered:" in front, the widest labels a ladder draws.
    open_solo(page, serve.base, seat="eavesdropper", difficulty="guided", variant="tls13",
              scenario="mitm-self-signed")
    play_suggested_to_the_end(page)
    expect(page.locator("#ladder .arrow-altered", has_text="EncryptedExtensions")).to_have_count(1)
    measured = words(page)
    assert sum(w["word"] == "EncryptedExtensions" for w in measured) >= 2, measured
    assert not cut_words(page), cut_words(page)
    assert_no_overlap(page, "phone, smaller labels")  # still between their lifelines
    width = page.evaluate(PAGE_WIDTH)
    assert width["scroll"] <= width["inner"], width
    page.get_by_test_id("ladder").screenshot(path=str(SCREENSHOTS / "layout-fixes-ladder-phone.png"))

    # A narrower phone (320 px): the labels are fitted again as the ladder's width changes; a name
    # too wide even a little smaller now breaks between its parts ("Client|Hello"), never inside one.
    page.set_viewport_size({"width": 320, "height": 740})
    page.wait_for_function(f"() => ({LADDER_WORDS})().every((w) => w.lines === 1 || w.kind === 'token')")
    assert not cut_words(page, whole=False), cut_words(page, whole=False)
    assert_no_overlap(page, "320 px")
    width = page.evaluate(PAGE_WIDTH)
    assert width["scroll"] <= width["inner"], width
    shot(page, "layout-fixes-ladder-phone-320")

    # The check catches a label cut inside its words (the old overflow-wrap, in a narrow box).
    page.add_style_tag(content="#ladder .arrow-label { overflow-wrap: anywhere !important;"
                               " max-width: 3.5em !important; font-size: 12px !important; }")
    assert any("Extensions" in cut or "Certificate" in cut for cut in cut_words(page)), cut_words(page)


# -- 2. a lesson's table on a phone ----------------------------------------------------------------

TABLE_FIT = """() => {
  const wrap = document.querySelector("[data-testid=lesson] .md-table");
  const box = wrap.getBoundingClientRect();
  const cells = [...wrap.querySelectorAll("td")];
  return {
    display: getComputedStyle(wrap.querySelector("table")).display,
    scroll: wrap.scrollWidth, client: wrap.clientWidth,
    outside: cells.filter((td) => {
      const r = td.getBoundingClientRect();
      return r.right > box.right + 0.5 || r.left < box.left - 0.5;
    }).map((td) => td.textContent),
    labels: cells.map((td) => getComputedStyle(td, "::before").content),
    names: cells.map((td) => td.dataset.label),
    cells: cells.length,
  };
}"""


def test_a_lessons_table_fits_a_phone_and_stays_a_table_on_a_projector(serve, new_page, shot) -> None:
    for size in ("phone", "projector"):
        page = new_page(size)
        open_solo(page, serve.base, seat="client", difficulty="guided", variant="tls13")
        lesson = page.get_by_test_id("lesson")
        state = page.get_by_test_id("table-state")
        for _ in range(10):  # to the step whose card compares the record layer of 1.2 and 1.3
            skip_replay(page)
            if lesson.get_attribute("data-lesson-id") == "application-data":
                break
            suggested = page.locator("[data-testid^='choice-form-'][data-recommended='true']")
            play(page, (suggested.get_attribute("data-testid") or "").removeprefix("choice-form-"))
            expect(state).to_have_attribute("data-kind", SETTLED)
        expect(lesson).to_have_attribute("data-lesson-id", "application-data")
        table = lesson.locator(".md-table").first
        table.scroll_into_view_if_needed()
        fit = page.evaluate(TABLE_FIT)
        assert fit["cells"] >= 9, fit
        # Nothing hidden past the right edge: no sideways scroll in the table or the page.
        assert fit["scroll"] <= fit["client"] + 1, fit
        assert not fit["outside"], fit
        width = page.evaluate(PAGE_WIDTH)
        assert width["scroll"] <= width["inner"], width
        if size == "phone":
            # Each row a card: every cell but the row's first under its column's name.
            assert fit["display"] == "block", fit
            for label, name in list(zip(fit["labels"], fit["names"], strict=True))[1:3]:
                assert name and name in label, (label, name)
            page.evaluate("(node) => node.scrollIntoView({block: 'start'})", table.element_handle())
            page.screenshot(path=str(SCREENSHOTS / "layout-fixes-lesson-table-phone.png"))
        else:
            assert fit["display"] == "table", fit  # room enough: a real table, columns side by side
            shot(page, "layout-fixes-lesson-table-projector")

    # The check catches the old layout: a table at least 34em wide scrolls out of a phone's box.
    page = new_page("phone")
    page.goto(f"{serve.base}play.html")
    fit = page.evaluate("""async () => {
      const { renderMarkdown } = await import("./js/markdown.js");
      const box = document.createElement("article");
      box.className = "lesson";
      box.dataset.testid = "lesson";
      box.style.width = "300px";
      box.append(renderMarkdown("| a | b | c |\\n|---|---|---|\\n| one | two | three |"));
      document.body.replaceChildren(box);
      const style = document.createElement("style");
      style.textContent = ".lesson .md-table { container-type: normal !important; }"
        + " .lesson .md-table table { width: max(100%, 34em) !important; }";
      document.head.append(style);
      return null;
    }""")
    fit = page.evaluate(TABLE_FIT)
    assert fit["scroll"] > fit["client"] + 1 and fit["outside"], fit


# -- 3. the certificate by the buttons ------------------------------------------------------------

BADGES = """(root) => [...root.querySelectorAll(".doc-fact")].map((badge) => {
  const style = getComputedStyle(badge);
  return { text: badge.textContent, tone: badge.dataset.tone, background: style.backgroundColor,
           border: style.borderTopColor, color: style.color, weight: style.fontWeight };
})"""


def test_the_certificate_to_judge_is_summed_up_by_the_buttons(serve, new_page, shot) -> None:
    page = new_page("phone")
    open_solo(page, serve.base, seat="client", difficulty="standard", scenario="mitm-self-signed")
    play(page, "SendClientHello")
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "client.check_certificate")
    summary = page.get_by_test_id("at-hand")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("The certificate you are judging")
    expect(summary).to_contain_text("Issued to")
    expect(summary).to_contain_text("Issued by")
    expect(summary).to_contain_text("shop.example")
    expect(summary).to_contain_text("not in your trust store")  # the chain, as the client's store sees it
    text = summary.inner_text().lower()
    for word in ("mitm", "attack", "forged", "eavesdropper", "scenario"):
        assert word not in text, word  # only what the client itself can tell

    # Right above the buttons: with the decision on screen, the summary's end and link are too.
    page.get_by_test_id("choice-form-AcceptCertificate").scroll_into_view_if_needed()
    gap = page.evaluate("""() => document.querySelector("#choices").getBoundingClientRect().top
      - document.querySelector("[data-testid=at-hand]").getBoundingClientRect().bottom""")
    assert 0 <= gap <= 24, gap
    link = page.get_by_test_id("at-hand-link")
    box = link.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= 740, box
    page.screenshot(path=str(SCREENSHOTS / "layout-fixes-certificate-decision-phone.png"))

    # At standard every fact looks alike: judging them is the student's move (guided: below).
    badges = {b["text"].replace("⚠", "").strip(): b for b in page.evaluate(BADGES, summary.element_handle())}
    assert {"self-signed", "valid now"} <= set(badges), badges
    assert all(b["tone"] == "plain" and "⚠" not in b["text"] for b in badges.values()), badges

    # The link jumps to the whole certificate, opened; a link there leads back to the buttons.
    link.click()
    card = page.get_by_test_id("doc-0")
    expect(card).to_have_attribute("open", "")
    top = in_viewport(page, "[data-testid=doc-0]")
    assert -2 <= top["top"] < top["inner"] / 3, top
    page.screenshot(path=str(SCREENSHOTS / "layout-fixes-certificate-card-phone.png"))
    card.get_by_role("link", name="Back to your move").click()
    page.wait_for_function("""() => { const r = document.querySelector("#move").getBoundingClientRect();
      return r.top > -2 && r.top < innerHeight / 3; }""")

    # Decided: nothing at hand any more.
    page.get_by_test_id("choice-RejectCertificate").click()
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", SETTLED)
    expect(summary).to_be_hidden()


def test_a_trusted_roots_self_signed_badge_is_a_plain_fact(serve, new_page) -> None:
    page = new_page("projector")
    open_solo(page, serve.base, seat="client", difficulty="guided", scenario="honest")
    play(page, "SendClientHello")
    summary = page.get_by_test_id("at-hand")
    expect(summary).to_contain_text("which your trust store holds")
    expect(page.get_by_test_id("at-hand-link")).to_contain_text("what a careful client checks")
    badges = page.evaluate(BADGES, summary.element_handle())
    tones = {b["text"].replace("⚠", "").strip(): b["tone"] for b in badges}
    assert tones == {"valid now": "plain"}, tones
    root = page.locator(".doc-card", has_text="your trust store (the root you trust)")
    root_tones = {b["text"].strip(): b["tone"] for b in page.evaluate(BADGES, root.element_handle())}
    assert root_tones.get("self-signed") == "plain" and root_tones.get("CA") == "plain", root_tones


# -- 4. quiz questions of several lines -----------------------------------------------------------

# Each quiz legend of two lines or more: its lines' tops, and the y of its box's top border.
LEGENDS = """() => [...document.querySelectorAll("#quiz fieldset")].map((set) => {
  const legend = set.querySelector("legend");
  const range = document.createRange();
  range.selectNodeContents(legend);
  const lines = [...range.getClientRects()].filter((r) => r.width > 0.5);
  const box = set.getBoundingClientRect();
  return { tops: [...new Set(lines.map((r) => Math.round(r.top)))],
           top: Math.min(...lines.map((r) => r.top)), bottom: Math.max(...lines.map((r) => r.bottom)),
           border: box.top + parseFloat(getComputedStyle(set).borderTopWidth),
           box: [box.left, box.right, box.top] };
}).filter((legend) => legend.tops.length >= 2)"""

# Anything but white paper in a strip at the right of the box, inside its border and padding, level
# with the question's lines (where no text reaches): the box's top border drawn through the
# question. A screenshot of that strip, decoded in the page (no image library needed here).
BORDER_PIXELS = """async (png) => {
  const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
  const image = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
  const canvas = new OffscreenCanvas(image.width, image.height);
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  let found = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] < 245 || data[i + 1] < 245 || data[i + 2] < 245) found++; // not the white paper
  }
  return found;
}"""


def border_through_legends(page: Page) -> list[str]:
    found = []
    for legend in page.evaluate(LEGENDS):
        if legend["top"] < legend["border"] - 0.5:
            found.append(f"a line of the question starts above its box's border: {legend}")
        left, right, _ = legend["box"]
        clip = {"x": right - 14, "y": legend["top"] + 2, "width": 10,
                "height": legend["bottom"] - legend["top"] - 4}
        png = page.screenshot(clip=clip)
        if page.evaluate(BORDER_PIXELS, base64.b64encode(png).decode()):
            found.append(f"the box's border runs through the question's lines: {legend}")
    return found


def test_a_quiz_question_of_several_lines_sits_below_its_box_border(serve, new_page, shot) -> None:
    page = new_page("projector")
    open_solo(page, serve.base, seat="client", difficulty="guided", variant="tls13")
    expect(page.locator("#quiz fieldset").first).to_be_visible()
    page.get_by_test_id("quiz").scroll_into_view_if_needed()
    assert page.evaluate(LEGENDS), "no question of two lines to measure"
    assert not border_through_legends(page), border_through_legends(page)
    page.get_by_test_id("quiz").screenshot(path=str(SCREENSHOTS / "layout-fixes-quiz-projector.png"))
    # The check catches a legend drawn across the border, as a fieldset draws it by default.
    page.add_style_tag(content=".quiz-question legend { float: none !important; width: auto !important; }")
    assert border_through_legends(page)


# -- 5. the ladder keeps the current step in view -------------------------------------------------

CURRENT_STEP = """() => {
  const box = document.querySelector("#ladder");
  const view = box.getBoundingClientRect();
  const rows = box.querySelectorAll(".ladder-rows > li");
  const current = box.querySelector(".ladder-next") ?? rows[rows.length - 1];
  const r = current.getBoundingClientRect();
  const button = document.querySelector("#choices button");
  const move = button ? button.getBoundingClientRect() : { top: 0, bottom: 0 };
  return { box: [view.top, view.bottom], current: [r.top, r.bottom], inner: innerHeight,
           scrolls: box.scrollHeight > box.clientHeight + 1, move: [move.top, move.bottom],
           text: current.textContent };
}"""


def test_the_ladder_keeps_the_current_step_in_view_beside_the_moves(serve, new_page, shot) -> None:
    page = new_page("projector")
    open_solo(page, serve.base, seat="client", difficulty="guided", variant="tls13")
    state = page.get_by_test_id("table-state")
    scrolled = 0
    for _ in range(30):
        skip_replay(page)
        if state.get_attribute("data-kind") != "turn":
            break
        page.evaluate("window.scrollTo(0, 0)")  # the student at the top of the page, at the moves
        at = page.evaluate(CURRENT_STEP)
        # The step being played is in the ladder's box, on screen; the moves are on screen too.
        assert at["box"][0] - 1 <= at["current"][0] and at["current"][1] <= at["box"][1] + 1, at
        assert at["current"][1] <= at["inner"] and at["move"][1] <= at["inner"], at
        scrolled += at["scrolls"]
        suggested = page.locator("[data-testid^='choice-form-'][data-recommended='true']")
        play(page, (suggested.get_attribute("data-testid") or "").removeprefix("choice-form-"))
        assert page.evaluate("scrollY") < 200  # the move's answer did not carry the page off the moves
    assert scrolled >= 3, scrolled  # late in the game the ladder is taller than its box
    expect(state).to_contain_text("Handshake complete")
    at = page.evaluate(CURRENT_STEP)  # the end of the table, in view
    assert at["box"][0] - 1 <= at["current"][0] and at["current"][1] <= at["box"][1] + 1, at
    page.screenshot(path=str(SCREENSHOTS / "layout-fixes-ladder-projector.png"))


def test_at_guided_a_warning_badge_marks_what_a_careful_client_stops_at(serve, new_page) -> None:
    page = new_page("phone")
    open_solo(page, serve.base, seat="client", difficulty="guided", scenario="mitm-self-signed")
    play(page, "SendClientHello")
    summary = page.get_by_test_id("at-hand")
    expect(summary).to_be_visible()
    # "self-signed" with no root the client trusts is a warning; "valid now" is not.
    badges = {b["text"].replace("⚠", "").strip(): b for b in page.evaluate(BADGES, summary.element_handle())}
    assert badges["self-signed"]["tone"] == "warn" and badges["valid now"]["tone"] == "plain", badges
    warn, plain = badges["self-signed"], badges["valid now"]
    looks = ("background", "border", "color")
    assert [warn[k] for k in looks] != [plain[k] for k in looks], (warn, plain)
    assert "⚠" in warn["text"] and "⚠" not in plain["text"]


def test_a_flight_that_does_not_decrypt_is_said_so_by_the_buttons(serve, new_page, shot) -> None:
    """tls13 downgrade, the client at standard: no certificate to judge, and the page says why
    (what a real client learns when its keys do not open the flight), right above the buttons."""
    page = new_page("phone")
    open_solo(page, serve.base, seat="client", difficulty="standard", variant="tls13", scenario="downgrade")
    play(page, "SendClientHello")
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "client.check_certificate")
    summary = page.get_by_test_id("at-hand")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("does not decrypt under the handshake keys")
    expect(summary).not_to_contain_text("downgrade")
    page.get_by_test_id("choice-form-RejectCertificate").scroll_into_view_if_needed()
    shot(page, "tls13-downgrade-client-undecryptable-phone")
