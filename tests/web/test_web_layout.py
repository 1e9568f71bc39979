"""The seat console's layout in a real Chromium (issue 14): the bots' moves replayed one by one
with a skip control, the ladder from the first step with the wire in the middle and no label
over a line or another label, the moves and the ladder before the lesson on a phone, and lesson
diagrams and formulas kept line by line.

Every wait is on something the page shows (``expect`` / ``wait_for_function``); nothing sleeps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from .conftest import SCREENSHOTS
from .test_web_student import SETTLED, ask, instructor, open_solo, play, play_guided_to_the_end

LESSONS = Path(__file__).resolve().parents[2] / "lessons"

# The replay's state and the ladder, read in one go (so the two agree on the same moment).
REPLAY_STATE = """() => {
  const box = document.querySelector("[data-testid=pacing]");
  return {
    replaying: Boolean(box && !box.hidden),
    shown: box ? Number(box.dataset.shown) : 0,
    captions: document.querySelectorAll("#ladder .ladder-step").length,
    forms: document.querySelectorAll("#choices form").length,
  };
}"""

# Every label and line of the ladder, as boxes in page coordinates.
LADDER_BOXES = """() => {
  const box = (node) => {
    const r = node.getBoundingClientRect();
    return { x0: r.left, x1: r.right, y0: r.top, y1: r.bottom, text: node.textContent.trim() };
  };
  const ladder = document.querySelector("#ladder");
  return {
    labels: [...ladder.querySelectorAll(".arrow-label, .step-caption, .chip, .lifeline-name")].map(box),
    lines: [...ladder.querySelectorAll(".arrow-line")].map(box),
    arrows: [...ladder.querySelectorAll(".arrow")].map((arrow) => ({
      label: box(arrow.querySelector(".arrow-label")), line: box(arrow.querySelector(".arrow-line")),
      stub: arrow.classList.contains("arrow-stub") })),
    heads: Object.fromEntries([...ladder.querySelectorAll(".lifeline-name")].map((n) => {
      const r = n.getBoundingClientRect();
      return [n.textContent.replace(/\\u00ad/g, "").replace(" (you)", "").trim(), (r.left + r.right) / 2];
    })),
  };
}"""


def replay_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(REPLAY_STATE)
    return state


def skip_replay(page: Page) -> None:
    """Show the bots' moves at once, if a replay is running; then wait for the page to settle."""
    skip = page.get_by_test_id("pacing-skip")
    if skip.is_visible():
        skip.click()
    expect(page.get_by_test_id("pacing")).to_be_hidden()
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", SETTLED)


def intersects(a: dict[str, float], b: dict[str, float], slack: float = 0.5) -> bool:
    return (a["x0"] < b["x1"] - slack and b["x0"] < a["x1"] - slack
            and a["y0"] < b["y1"] - slack and b["y0"] < a["y1"] - slack)


def assert_no_overlap(page: Page, where: str) -> int:
    """No label of the ladder overlaps another label or a line; every arrow's label sits between
    the lifelines its arrow joins (so it crosses none). Returns how many labels were measured."""
    boxes = page.evaluate(LADDER_BOXES)
    labels = [b for b in boxes["labels"] if b["x1"] > b["x0"]]
    for i, one in enumerate(labels):
        for other in labels[i + 1:]:
            assert not intersects(one, other), f"{where}: {one['text']!r} overlaps {other['text']!r}"
        for line in boxes["lines"]:
            assert not intersects(one, {**line, "y0": line["y0"] - 1, "y1": line["y1"] + 1}), (
                f"{where}: {one['text']!r} lies on an arrow's line")
    for arrow in boxes["arrows"]:
        label, line = arrow["label"], arrow["line"]
        assert label["y1"] <= line["y0"] + 0.5, f"{where}: {label['text']!r} is not above its arrow"
        if not arrow["stub"]:  # between the two lifelines the arrow joins
            assert line["x0"] - 0.5 <= label["x0"] and label["x1"] <= line["x1"] + 0.5, (
                f"{where}: {label['text']!r} crosses a lifeline")
    return len(labels)


# -- pacing ------------------------------------------------------------------------------------

def test_the_bots_moves_come_one_at_a_time_and_skip_shows_the_rest(serve, new_page, shot) -> None:
    page = new_page("projector")
    # Six steps are played before the eavesdropper's first turn: the replay shows them one by one.
    open_solo(page, serve.base, seat="eavesdropper", difficulty="guided", scenario="tamper")
    for shown in (2, 3):
        page.wait_for_function(f"() => ({REPLAY_STATE})().shown === {shown}")
        state = replay_state(page)
        if state["shown"] == shown:  # the same moment: the ladder shows exactly the steps replayed
            assert state == {"replaying": True, "shown": shown, "captions": shown, "forms": 0}, state
    expect(page.get_by_test_id("pacing")).to_contain_text(re.compile(r"step \d of 6"))
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", "wait")
    shot(page, "layout-replay-projector")
    page.get_by_test_id("pacing-skip").click()
    # Everything at once: all six steps, the held server flight, and the eavesdropper's turn.
    expect(page.get_by_test_id("pacing")).to_be_hidden()
    expect(page.locator("#ladder .ladder-step")).to_have_count(6)
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", "turn")
    expect(page.get_by_test_id("choice-FlipByte")).to_be_visible()
    expect(page.get_by_test_id("progress")).to_contain_text("6 of 15 steps done")

    # A reload replays nothing already shown.
    page.reload()
    expect(page.get_by_test_id("choice-FlipByte")).to_be_visible()
    assert not replay_state(page)["replaying"]


def test_after_a_move_the_replay_ends_by_itself_at_the_next_turn(serve, new_page) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="server", difficulty="guided")  # the CA's root comes first: one step
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", "turn")
    assert not replay_state(page)["replaying"]
    play(page, "GenerateKeyPair")
    # SendCsr, then the CA reviews it and the client says hello: the replay runs, then stops.
    play(page, "SendCsr")
    expect(page.get_by_test_id("pacing")).to_be_hidden()
    expect(page.locator("#ladder .ladder-step")).to_have_count(5)
    expect(page.get_by_test_id("choice-SendServerHello")).to_be_visible()


# -- the ladder --------------------------------------------------------------------------------

def test_the_ladder_starts_at_the_first_step_with_the_wire_in_the_middle(serve, new_page, shot) -> None:
    page = new_page("projector")
    open_solo(page, serve.base, seat="client", difficulty="guided")
    skip_replay(page)
    catalog = json.loads(page.request.get(f"{serve.base}catalog.json").text())
    first = next(v for v in catalog["variants"] if v["id"] == "tls12-rsa")["steps"][0]
    rows = page.locator("#ladder .ladder-rows > li:not(.ladder-head)")
    expect(rows.first).to_have_attribute("data-step-index", "0")
    expect(rows.first).to_contain_text(first["label"])  # the CA publishes its root certificate
    expect(page.locator("#ladder .ladder-step")).to_have_count(4)  # the PKI steps, before any message
    play(page, "SendClientHello")
    play(page, "AcceptCertificate")
    heads = page.evaluate(LADDER_BOXES)["heads"]
    assert heads["client"] < heads["eavesdropper"] < heads["server"] < heads["CA"], heads
    # The client's ClientHello goes from its lifeline to the wire (the eavesdropper's); the
    # ServerHello reaches it from the wire.
    hello = page.locator("#ladder .ladder-wire[data-event=sent]", has_text="ClientHello")
    answer = page.locator("#ladder .ladder-wire[data-event=delivered]", has_text="ServerHello")
    expect(hello).to_have_count(1)
    expect(answer).to_have_count(2)  # ServerHello and ServerHelloDone
    sent = hello.locator(".arrow-line").bounding_box()
    delivered = answer.first.locator(".arrow-line").bounding_box()
    assert sent and delivered
    assert abs(sent["x"] - heads["client"]) < 3 and abs(sent["x"] + sent["width"] - heads["eavesdropper"]) < 3
    assert abs(delivered["x"] - heads["client"]) < 3
    assert abs(delivered["x"] + delivered["width"] - heads["eavesdropper"]) < 3
    # The step's arrows follow its caption: step 5 (ClientHello) comes right before its arrow.
    caption_5 = page.locator("#ladder .ladder-step[data-step-index='4']")
    expect(caption_5).to_contain_text("ClientHello")
    assert caption_5.evaluate("node => node.nextElementSibling.dataset.event") == "sent"
    shot(page, "layout-ladder-projector")


def test_no_label_overlaps_a_line_or_another_label(serve, new_page, shot) -> None:
    measured = 0
    for size in ("phone", "projector"):
        page = new_page(size)
        open_solo(page, serve.base, seat="client", difficulty="guided", variant="tls12-ecdhe")
        skip_replay(page)
        measured += assert_no_overlap(page, f"{size}, first turn")
        play_guided_to_the_end(page)
        skip_replay(page)
        measured += assert_no_overlap(page, f"{size}, the end")
        shot(page, f"layout-client-end-{size}")

        eve = new_page(size)
        open_solo(eve, serve.base, seat="eavesdropper", difficulty="standard", scenario="tamper")
        skip_replay(eve)
        play(eve, "FlipByte", lambda page=eve: page.get_by_label("which byte of server_random").fill("5"))
        skip_replay(eve)
        expect(eve.locator("#ladder .arrow-altered").first).to_be_visible()
        measured += assert_no_overlap(eve, f"{size}, tamper")
        shot(eve, f"layout-tamper-{size}")
    assert measured > 100  # the check looked at many labels: captions, arrows, checks, ends


def test_the_check_catches_a_planted_overlap(serve, new_page) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="client", difficulty="guided")
    skip_replay(page)
    assert_no_overlap(page, "as drawn")
    page.add_style_tag(content="#ladder .ladder-step { margin-top: -1.6em; }")  # captions pulled up
    try:
        assert_no_overlap(page, "planted")
    except AssertionError as caught:
        assert "overlaps" in str(caught)
    else:
        raise AssertionError("the overlap check missed captions drawn over each other")


# -- phone order -------------------------------------------------------------------------------

def test_on_a_phone_the_moves_and_the_ladder_come_before_the_lesson(serve, new_page, shot) -> None:
    page = new_page("phone")
    open_solo(page, serve.base, seat="client", difficulty="guided")
    skip_replay(page)
    top = {name: (page.locator(selector).bounding_box() or {"y": -1})["y"]
           for name, selector in [("move", "#move"), ("choices", "#choices"), ("ladder", "#ladder-panel"),
                                  ("lesson", "#lesson-panel"), ("wire", "#wire-panel")]}
    assert 0 <= top["move"] < top["choices"] < top["ladder"] < top["lesson"] < top["wire"], top
    shot(page, "layout-phone-first-turn")
    play(page, "SendClientHello")
    page.get_by_test_id("ladder").scroll_into_view_if_needed()
    shot(page, "layout-phone-after-hello")
    page.screenshot(path=str(SCREENSHOTS / "layout-phone-ladder.png"))  # the screen where the ladder is


# -- lessons: diagrams and formulas as written ---------------------------------------------------

def test_the_overview_lessons_diagram_is_preformatted_line_by_line(serve, new_page, shot) -> None:
    page = new_page("phone")
    # A student who joined a class that has not started yet reads the handshake's overview.
    with instructor(serve) as ws:
        created = ask(ws, {"type": "create_session", "token": serve.token, "variant": "tls12-rsa",
                           "scenario": "honest", "difficulty": "guided"}, "session_created")
    page.goto(created["join_url"])
    page.get_by_test_id("join-name").fill("di")
    page.get_by_role("button", name="Join the class").click()
    page.wait_for_url("**/play.html")
    lesson = page.get_by_test_id("lesson")
    expect(lesson).to_have_attribute("data-lesson-id", "overview-tls12-rsa")
    diagram = lesson.locator("pre").first
    expect(diagram).to_be_visible()
    text = diagram.inner_text()
    lines = text.split("\n")
    assert len(lines) >= 7, text
    assert lines[0].startswith("ClientHello ") and lines[1].startswith("ServerHello ")
    assert re.search(r"ClientHello {4,}client_random", text), text  # the columns' spaces kept
    assert diagram.evaluate("node => getComputedStyle(node).whiteSpace") == "pre"
    diagram.scroll_into_view_if_needed()
    shot(page, "layout-overview-lesson-phone")


def test_formulas_and_fenced_code_stay_lines(serve, new_page) -> None:
    page = new_page("laptop")
    page.goto(f"{serve.base}play.html")
    card = (LESSONS / "ecdhe-key-exchange.md").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    source = card + "\n\nAfter it:\n\n```\nline one\n    indented two\n```\n\nA paragraph\n    continued.\n"
    rendered = page.evaluate("""async (source) => {
      const { renderMarkdown } = await import("./js/markdown.js");
      const box = document.createElement("div");
      box.append(renderMarkdown(source));
      return { pres: [...box.querySelectorAll("pre")].map((p) => p.textContent),
               paragraphs: [...box.querySelectorAll("p")].map((p) => p.textContent) };
    }""", source)
    formulas, fenced = rendered["pres"][0], rendered["pres"][-1]
    assert formulas.split("\n") == ["client: premaster = X25519(client_private, server_share)",
                                    "server: premaster = X25519(server_private, client_share)"]
    assert fenced == "line one\n    indented two"
    assert "A paragraph continued." in rendered["paragraphs"]  # an indented line inside a paragraph


# -- the eavesdropper's own last move --------------------------------------------------------------

def test_a_passive_eavesdropper_tries_to_decrypt_before_the_table_ends(serve, new_page, shot) -> None:
    page = new_page("phone")
    open_solo(page, serve.base, seat="eavesdropper", difficulty="guided", scenario="passive")
    expect(page.get_by_test_id("pacing")).to_be_visible()  # the whole handshake, replayed
    skip_replay(page)
    state = page.get_by_test_id("table-state")
    expect(state).to_have_attribute("data-kind", "turn")  # the table waits for the student
    expect(page.get_by_test_id("debrief")).to_be_hidden()
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "eavesdropper.try_decrypt")
    shot(page, "layout-passive-eavesdropper-turn-phone")
    play_decrypt = page.get_by_test_id("choice-TryDecrypt")
    expect(play_decrypt).to_be_visible()
    play_decrypt.click()
    expect(page.get_by_test_id("feedback")).to_contain_text("the recording stays closed")
    expect(state).to_have_attribute("data-kind", SETTLED)
    expect(page.get_by_test_id("debrief")).to_be_visible()
    expect(page.locator("#ladder .ladder-step").last).to_contain_text("the eavesdropper tries to decrypt")


def test_a_lessons_pipe_table_renders_as_a_table(serve, new_page) -> None:
    page = new_page("phone")
    page.goto(f"{serve.base}play.html")
    card = (LESSONS / "scenario-tamper.md").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    rendered = page.evaluate("""async (source) => {
      const { renderMarkdown } = await import("./js/markdown.js");
      const box = document.createElement("div");
      box.append(renderMarkdown(source));
      return { headers: [...box.querySelectorAll("th")].map((th) => th.textContent),
               rows: [...box.querySelectorAll("tbody tr")].map((tr) => tr.children.length),
               bold: [...box.querySelectorAll("td strong")].map((b) => b.textContent),
               pipes: [...box.querySelectorAll("p")].filter((p) => p.textContent.includes("|---")).length };
    }""", card)
    assert rendered["headers"] == ["variant", "the check that catches it", "how it fails"]
    assert rendered["rows"] == [3, 3, 3] and rendered["pipes"] == 0
    assert "ServerKeyExchange signature" in rendered["bold"]
