"""The three pages checked by axe-core in a real Chromium (issue 14): the join page, a seat's
console (at its first move, at the client's certificate decision, at the end of a table with its
debrief, and every seat at each of its guided turns) and the instructor's dashboard (its token
form, a new class, a class with a table, an error, the table open and started, the debrief).

axe-core's ``axe.min.js`` comes inside the ``axe-playwright-python`` wheel and is evaluated in
the page; nothing is fetched at run time. A violation of impact "serious" or "critical" fails the
test; the others ("minor", "moderate") are printed, for a person to read with ``pytest -s``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

FAILING = frozenset({"serious", "critical"})
# After one of our moves the bots answer before the view comes back: our turn again, or the end.
SETTLED = re.compile(r"^(turn|ok|fail|stopped)$")
AXE = Axe()


def report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            checks = [check for kind in ("any", "all", "none") for check in node[kind]]
            lines.extend(f"      - {check['message']}" for check in checks)
    return "\n".join(lines)


def audit(page: Page, where: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is; fail on a serious or critical violation."""
    violations = AXE.run(page).response["violations"]
    failing = [violation for violation in violations if violation["impact"] in FAILING]
    others = [violation for violation in violations if violation["impact"] not in FAILING]
    if others:
        print(f"\n[{where}] minor/moderate accessibility findings:\n{report(others)}")
    assert not failing, f"[{where}] serious/critical accessibility violations:\n{report(failing)}"
    return violations


def open_solo(page: Page, base: str, *, seat: str, difficulty: str, scenario: str = "honest") -> None:
    """Fill the join page's solo form (checking the page first) and land on the seat console."""
    page.goto(base)
    expect(page.get_by_test_id("solo-submit")).to_be_enabled()  # the catalog filled the selects
    solo = page.get_by_test_id("solo-form")
    solo.get_by_label("Your name").fill("ana")
    solo.get_by_label("Seat").select_option(seat)
    solo.get_by_label("Handshake").select_option("tls12-rsa")
    solo.get_by_label("Scenario").select_option(scenario)
    solo.get_by_label("Difficulty").select_option(difficulty)
    solo.get_by_role("button", name="Play solo").click()
    page.wait_for_url("**/play.html")
    expect(page.get_by_test_id("seat")).to_contain_text(f"the {seat}", ignore_case=True)
    expect(page.get_by_test_id("lesson")).not_to_be_empty()


def play(page: Page, action: str, fill: Callable[[], None] | None = None) -> None:
    """Click one of the seat's moves and wait for the referee's verdict and the bots' answer."""
    verdicts = page.get_by_test_id("verdicts")
    count = int(verdicts.get_attribute("data-count") or "0")
    expect(page.get_by_test_id(f"choice-form-{action}")).to_be_visible()
    if fill is not None:
        fill()
    page.get_by_test_id(f"choice-{action}").click()
    expect(verdicts).to_have_attribute("data-count", str(count + 1))
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", SETTLED)


def choose(page: Page, field: str, option: str) -> Callable[[], None]:
    """Picks ``option`` (its label) in the select labelled ``field``."""
    return lambda: page.get_by_label(field).select_option(label=option)


# -- the join page -----------------------------------------------------------------------------

@pytest.mark.parametrize("size", ["phone", "laptop"])
def test_join_page_has_no_serious_violation(serve, new_page, size: str) -> None:
    page = new_page(size)
    page.goto(f"{serve.base}?join=k7mq2x")
    expect(page.get_by_test_id("join-code")).to_have_value("K7MQ2X")
    expect(page.get_by_test_id("solo-submit")).to_be_enabled()
    audit(page, f"index.html, {size}")
    # A failed join shows its error in the status line.
    page.get_by_test_id("join-name").fill("ana")
    page.get_by_test_id("join-submit").click()
    expect(page.get_by_test_id("status")).to_contain_text("⚠")
    audit(page, f"index.html with an error, {size}")


# -- the seat console --------------------------------------------------------------------------

def test_client_console_has_no_serious_violation_from_first_move_to_the_end(serve, new_page) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="client", difficulty="standard")
    audit(page, "play.html, the client's first move")

    # The certificate decision, with a message's bytes open in the inspector and the quiz answered.
    play(page, "SendClientHello")
    expect(page.get_by_test_id("choice-RejectCertificate")).to_be_visible()
    expect(page.get_by_test_id("choice-AcceptCertificate")).to_be_visible()
    server_hello = page.get_by_test_id("wire-1")
    server_hello.locator("summary").click()
    expect(server_hello.get_by_test_id("inspector-explain")).to_be_visible()
    quiz = page.get_by_test_id("quiz-0")
    if quiz.count():
        quiz.get_by_role("radio").first.check()
        quiz.get_by_role("button", name="Check my answer").click()
        expect(page.get_by_test_id("quiz-result-0")).not_to_be_empty()
    audit(page, "play.html, the client's certificate decision")

    # The end of the table: the decrypted answer, the ladder complete, the debrief.
    play(page, "AcceptCertificate")
    play(page, "EncryptPremaster", choose(page, "to which public key", "the server certificate's public key"))
    play(page, "DeriveAndSendFinished", choose(page, "the order of the two randoms",
                                               "client_random, then server_random"))
    play(page, "VerifyFinished")
    play(page, "SendApplicationData")
    play(page, "ReadApplicationData")
    expect(page.get_by_test_id("table-state")).to_contain_text("✓ Handshake complete")
    expect(page.get_by_test_id("appdata-response")).to_be_visible()
    expect(page.get_by_test_id("debrief")).to_be_visible()
    page.locator("details.history summary").click()
    audit(page, "play.html, the end of the table")

    # Back on the join page, the "continue your game" card is shown too.
    page.goto(serve.base)
    expect(page.get_by_test_id("continue")).to_be_visible()
    audit(page, "index.html with a game to continue")


@pytest.mark.parametrize("seat", ["client", "server", "ca", "eavesdropper"])
def test_every_turn_of_a_guided_seat_has_no_serious_violation(serve, new_page, seat: str) -> None:
    """Each seat's console at each of its turns (each move's form in turn) and at the end."""
    page = new_page("phone")
    open_solo(page, serve.base, seat=seat, difficulty="guided")
    state = page.get_by_test_id("table-state")
    for turn in range(20):
        expect(state).to_have_attribute("data-kind", SETTLED)
        audit(page, f"play.html, the {seat}'s turn {turn}")
        if state.get_attribute("data-kind") != "turn":
            return
        suggested = page.locator("[data-testid^='choice-form-'][data-recommended='true']")
        expect(suggested).to_have_count(1)
        play(page, (suggested.get_attribute("data-testid") or "").removeprefix("choice-form-"))
    raise AssertionError(f"the {seat}'s table did not end")


def test_eavesdropper_console_has_no_serious_violation(serve, new_page) -> None:
    page = new_page("phone")
    open_solo(page, serve.base, seat="eavesdropper", difficulty="standard", scenario="tamper")
    expect(page.get_by_test_id("choice-FlipByte")).to_be_visible()
    audit(page, "play.html, the eavesdropper's wire controls")
    play(page, "FlipByte", lambda: page.get_by_label("which byte of server_random").fill("3"))
    expect(page.get_by_test_id("table-state")).to_contain_text("⚑ The attack was stopped")
    audit(page, "play.html, an attack stopped")


def test_play_page_without_a_seat_has_no_serious_violation(serve, new_page) -> None:
    page = new_page("phone")
    page.goto(f"{serve.base}play.html")
    expect(page.get_by_test_id("no-seat")).to_be_visible()
    audit(page, "play.html without a seat")


# -- the instructor's dashboard ----------------------------------------------------------------

def test_instructor_dashboard_has_no_serious_violation(serve, new_page) -> None:
    asking = new_page("laptop")
    asking.goto(f"{serve.base}instructor.html")
    expect(asking.get_by_label("Token", exact=True)).to_be_visible()
    audit(asking, "instructor.html asking for the token")

    teacher = new_page("projector")
    teacher.goto(serve.instructor_url)
    expect(teacher.get_by_test_id("create")).to_be_visible()
    expect(teacher.get_by_label("Handshake", exact=True).locator("option")).not_to_have_count(0)
    audit(teacher, "instructor.html, a new class")

    teacher.get_by_label("Handshake", exact=True).select_option("tls12-rsa")
    teacher.get_by_label("Scenario", exact=True).select_option("honest")
    teacher.get_by_label("Difficulty", exact=True).select_option("guided")
    teacher.get_by_test_id("create").click()
    code = teacher.get_by_test_id("join-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4,12}$"))
    expect(teacher.get_by_test_id("qr")).to_be_visible()

    student = new_page("phone")
    student.goto(f"{serve.base}?join={code.inner_text()}")
    student.get_by_test_id("join-name").fill("ana")
    student.get_by_test_id("join-submit").click()
    expect(student).to_have_url(re.compile(r"/play\.html"))
    expect(student.get_by_test_id("table-state")).to_contain_text("Paused")
    audit(student, "play.html, a class seat waiting for the start")

    table = teacher.get_by_test_id("tables").locator("article")
    expect(table).to_have_count(1)
    expect(teacher.get_by_test_id("leaderboard")).to_contain_text("ana")
    audit(teacher, "instructor.html, a class with a table")

    # An error from the server, shown as an alert: resuming before the start.
    teacher.get_by_test_id("resume-all").click()
    expect(teacher.get_by_role("alert")).to_contain_text("start the class first")
    audit(teacher, "instructor.html with an error")

    table.locator("summary").first.click()
    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("started")
    expect(teacher.get_by_test_id("start")).to_be_disabled()
    audit(teacher, "instructor.html, the class started, a table open")

    teacher.get_by_test_id("reveal-all").click()
    expect(teacher.get_by_test_id("debrief")).not_to_be_empty()
    audit(teacher, "instructor.html with the debrief")

    teacher.get_by_test_id("join-full").click()
    expect(teacher.get_by_test_id("join-full")).to_have_attribute("aria-pressed", "true")
    audit(teacher, "instructor.html, the join code full screen")


# -- the check can fail ------------------------------------------------------------------------

def test_a_planted_violation_fails_the_audit(serve, new_page) -> None:
    """The audit is not vacuous: a button with no name, an image with no alt text and grey text on
    white are caught."""
    page = new_page("laptop")
    page.goto(serve.base)
    expect(page.get_by_test_id("solo-submit")).to_be_enabled()
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.append(Object.assign(document.createElement('button'), {type: 'button'}));
        main.append(Object.assign(document.createElement('img'), {src: 'data:,'}));
        document.querySelector('.hint').style.color = '#b8bec7';
    }""")
    with pytest.raises(AssertionError) as caught:
        audit(page, "index.html with a planted fault")
    assert "button-name (critical)" in str(caught.value)
    assert "image-alt (critical)" in str(caught.value)
    assert "color-contrast (serious)" in str(caught.value)
