"""The instructor's dashboard in Chromium, against a real ``handshake-game serve``.

A class from the instructor's side: create it, let four students join through the join
page, start, follow the table live while the students click, inject a man in the middle
that the client student refuses, and read where the attack was stopped; a player's name
is shown as text; seats move; a reload returns to the same class.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

SEATS = ("client", "server", "ca", "eavesdropper")
XSS_NAME = "<img src=x onerror=alert(1)>"


def no_dialogs(page: Page, dialogs: list[str]) -> Page:
    """Record (and dismiss) any dialog: an alert() from a player's name would be one."""
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return page


def create_class(page: Page, instructor_url: str, scenario: str = "honest",
                 difficulty: str = "guided") -> str:
    """Open the instructor URL, create a tls12-rsa class; returns its join code."""
    page.goto(instructor_url)
    page.get_by_label("Handshake", exact=True).select_option("tls12-rsa")
    page.get_by_label("Scenario", exact=True).select_option(scenario)
    page.get_by_label("Difficulty", exact=True).select_option(difficulty)
    page.get_by_test_id("create").click()
    code = page.get_by_test_id("join-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4,12}$"))
    return code.inner_text()


def join(page: Page, base: str, code: str, name: str) -> None:
    """A student joins through the join page (the code as the QR code's link fills it in)."""
    page.goto(f"{base}?join={code}")
    expect(page.get_by_test_id("join-code")).to_have_value(code)
    page.get_by_test_id("join-name").fill(name)
    page.get_by_test_id("join-submit").click()
    expect(page).to_have_url(re.compile(r"/play\.html"))


def play(page: Page, action: str) -> None:
    """The student clicks one of the moves their seat console offers."""
    button = page.get_by_test_id(f"choice-{action}")
    expect(button).to_be_enabled()
    button.click()


def test_instructor_follows_a_class_table_live_and_sees_where_the_mitm_was_stopped(
        serve, new_page: Callable[..., Page], shot) -> None:
    dialogs: list[str] = []
    teacher = no_dialogs(new_page("projector"), dialogs)
    code = create_class(teacher, serve.instructor_url)

    # The token leaves the address bar (it is a password) but stays in the browser.
    assert "token" not in teacher.url
    assert serve.token in (teacher.evaluate("localStorage.getItem('handshake.instructor')") or "")
    # The QR code is an image of the join link, big enough for a projector.
    qr = teacher.get_by_test_id("qr")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    assert teacher.evaluate("document.querySelector('[data-testid=qr]').naturalWidth") > 0
    assert qr.bounding_box()["width"] >= 250
    expect(teacher.get_by_test_id("join-url")).to_have_text(f"{serve.base}?join={code}")

    names = {"client": "ana", "server": "bo", "ca": "chidi", "eavesdropper": "dee"}
    students = {}
    for seat in SEATS:  # seated in join order: client, server, CA, eavesdropper
        students[seat] = no_dialogs(new_page("phone"), dialogs)
        join(students[seat], serve.base, code, names[seat])

    # One table (its id depends on what else this server has run).
    expect(teacher.get_by_test_id("tables").locator("article")).to_have_count(1)
    table = teacher.get_by_test_id("tables").locator("article")
    n = table.get_attribute("data-table-id")
    number = table.get_attribute("data-number")  # its number within the class, which the page shows

    def card(part: str) -> Locator:
        return teacher.get_by_test_id(f"table-{n}-{part}")

    for seat in SEATS:
        expect(card(f"seat-{seat}")).to_contain_text(names[seat])
    expect(card("state")).to_contain_text("waiting")
    shot(teacher, "instructor-projector-waiting")

    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("started")
    expect(card("state")).to_contain_text("playing")
    expect(card("step")).to_contain_text("CA's turn")
    expect(teacher.get_by_test_id("start")).to_be_disabled()

    # The dashboard follows every click.
    play(students["ca"], "PublishRoot")
    expect(card("progress")).to_have_text("1 / 15 steps")
    expect(card("step")).to_contain_text("server's turn")
    play(students["server"], "GenerateKeyPair")
    expect(card("progress")).to_have_text("2 / 15 steps")
    play(students["server"], "SendCsr")
    expect(card("progress")).to_have_text("3 / 15 steps")
    play(students["ca"], "IssueCertificate")
    expect(card("progress")).to_have_text("4 / 15 steps")
    expect(card("seat-ca")).to_contain_text(re.compile(r"[1-9]\d*$"))

    # Before any hello: the eavesdropper becomes a man in the middle with a self-signed certificate.
    table.locator("summary").click()  # the tile opens its details: seats, ladder, actions
    card("inject-scenario").select_option("mitm-self-signed")
    card("inject").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("injected")
    expect(card("scenario")).to_contain_text("mitm-self-signed")
    expect(card("progress")).to_have_text("4 / 20 steps")  # the relay steps included

    play(students["eavesdropper"], "GenerateKeyPair")
    play(students["client"], "SendClientHello")
    expect(card("ladder")).to_contain_text("ClientHello")
    play(students["server"], "SendServerHello")
    play(students["eavesdropper"], "SwapCertificate")
    expect(card("step")).to_contain_text("client checks the certificate")
    play(students["client"], "RejectCertificate")

    # Where the attack was stopped, on the card and in the class's alerts.
    expect(card("state")).to_contain_text("stopped")
    expect(card("alerts")).to_contain_text("the attack was stopped by the client's certificate chain check")
    expect(teacher.get_by_test_id("alerts")).to_contain_text(
        f"Table {number}: ⊘ the attack was stopped by the client's certificate chain check")
    expect(card("ladder")).to_contain_text("Certificate")

    # The leaderboard ranks the four players by points.
    board = teacher.get_by_test_id("leaderboard")
    for name in names.values():
        expect(board).to_contain_text(name)
    points = [int(cell) for cell in board.locator("tbody tr td.points").all_inner_texts()]
    assert points == sorted(points, reverse=True) and len(points) == 4

    # The debrief: every secret of the table, and where the attack was stopped.
    teacher.get_by_test_id("reveal-all").click()
    debrief = teacher.get_by_test_id(f"debrief-{n}")
    expect(debrief).to_contain_text("Stopped by the client")
    expect(debrief).to_contain_text("certificate chain")
    expect(debrief).to_contain_text("secret")
    expect(debrief).to_contain_text("server key")

    # Downloads: the scores and the table's capture, from the buttons on the page; the token
    # travels in a header, never in an address the page shows (or the projector's status bar).
    assert serve.token not in teacher.url and serve.token not in teacher.content()
    csv = downloaded(teacher, teacher.get_by_test_id("scores-csv"))
    assert b"chidi" in csv
    capture = downloaded(teacher, card("pcap"))
    assert capture[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header block
    # The client refused the forged certificate before it had a master secret: no key to log.
    assert downloaded(teacher, card("keylog")) == b""

    shot(teacher, "instructor-projector")
    teacher.set_viewport_size({"width": 375, "height": 740})
    teacher.get_by_test_id("join-toggle").click()  # folded away since the start: back on demand
    expect(teacher.get_by_test_id("join-code")).to_be_visible()
    shot(teacher, "instructor-phone")
    assert dialogs == []


def downloaded(page: Page, button: Locator) -> bytes:
    """Clicks a download button and returns the file the browser saved."""
    with page.expect_download() as started:
        button.click()
    path = started.value.path()
    assert path is not None, started.value.failure()
    with open(path, "rb") as saved:
        return saved.read()


def test_a_players_name_is_text_seats_move_and_a_reload_returns_to_the_class(
        serve, new_page: Callable[..., Page], shot) -> None:
    dialogs: list[str] = []
    teacher = no_dialogs(new_page("laptop"), dialogs)
    code = create_class(teacher, serve.instructor_url, difficulty="standard")
    student = no_dialogs(new_page("phone"), dialogs)
    join(student, serve.base, code, XSS_NAME)

    tables = teacher.get_by_test_id("tables")
    card = tables.locator("article").first
    table_id = card.get_attribute("data-table-id")
    seat = teacher.get_by_test_id(f"table-{table_id}-seat-client")
    expect(seat).to_contain_text(XSS_NAME)
    expect(teacher.get_by_test_id("leaderboard")).to_contain_text(XSS_NAME)
    expect(tables.locator("img")).to_have_count(0)
    expect(teacher.get_by_test_id("leaderboard").locator("img")).to_have_count(0)

    # An error from the server shows in the page: resuming before the start.
    teacher.get_by_test_id("resume-all").click()
    expect(teacher.get_by_role("alert")).to_contain_text("start the class first")

    # Move the player from the client's seat to the CA's, then rotate: CA -> eavesdropper.
    teacher.get_by_label("From table").select_option(table_id)
    teacher.get_by_test_id("move-from-seat").select_option("client")
    teacher.get_by_label("to table").select_option(table_id)
    teacher.get_by_test_id("move-to-seat").select_option("ca")
    teacher.get_by_test_id("move").click()
    expect(teacher.get_by_test_id(f"table-{table_id}-seat-ca")).to_contain_text(XSS_NAME)
    expect(teacher.get_by_test_id(f"table-{table_id}-seat-client")).to_contain_text("empty")
    teacher.get_by_test_id("rotate-all").click()
    expect(teacher.get_by_test_id(f"table-{table_id}-seat-eavesdropper")).to_contain_text(XSS_NAME)
    expect(teacher.get_by_test_id("leaderboard")).to_contain_text("eavesdropper")

    # The join code full screen, for the projector; Escape closes it.
    teacher.get_by_test_id("join-full").click()
    expect(teacher.get_by_test_id("join-full")).to_have_attribute("aria-pressed", "true")
    assert teacher.get_by_test_id("qr").bounding_box()["width"] >= 500
    shot(teacher, "instructor-join-full")
    teacher.keyboard.press("Escape")
    expect(teacher.get_by_test_id("join-full")).to_have_attribute("aria-pressed", "false")

    # A reload (or a reopened laptop) returns to the same class, token kept out of the URL.
    teacher.goto(f"{serve.base}instructor.html")
    expect(teacher.get_by_test_id("join-code")).to_have_text(code)
    expect(teacher.get_by_test_id(f"table-{table_id}-seat-eavesdropper")).to_contain_text(XSS_NAME)
    expect(teacher.get_by_test_id("connection")).to_contain_text("connected")
    shot(teacher, "instructor-xss-name")
    assert dialogs == []


@pytest.mark.parametrize("size", ["phone", "projector"])
def test_without_a_token_the_page_asks_for_one(serve, new_page: Callable[..., Page], size: str) -> None:
    page = new_page(size)
    page.goto(f"{serve.base}instructor.html")
    expect(page.get_by_label("Token", exact=True)).to_be_visible()
    page.get_by_label("Token", exact=True).fill("not-the-token")
    page.get_by_role("button", name="Use this token").click()
    page.get_by_test_id("create").click()
    expect(page.get_by_role("alert")).to_contain_text("bad_instructor_token")
    expect(page.get_by_label("Token", exact=True)).to_be_visible()


def test_another_browser_with_the_token_opens_the_class_by_number(serve,
                                                                   new_page: Callable[..., Page]) -> None:
    laptop = new_page("laptop")
    code = create_class(laptop, serve.instructor_url)
    student = new_page("phone")
    join(student, serve.base, code, "ana")
    summary = laptop.locator("#class-info")
    expect(summary).to_have_text(re.compile(r"^Class \d+"))
    number = re.match(r"^Class (\d+)", summary.inner_text()).group(1)

    # The projector's browser: the instructor URL, nothing saved. The class comes back
    # whole from the server — join code, QR code, its table and its player.
    projector = new_page("projector")
    projector.goto(serve.instructor_url)
    projector.get_by_test_id("open-class").fill(number)
    projector.get_by_test_id("open").click()
    expect(projector.get_by_test_id("join-code")).to_have_text(code)
    expect(projector.get_by_test_id("qr")).to_be_visible()
    expect(projector.get_by_test_id("tables")).to_contain_text("ana")

    projector.goto(serve.instructor_url)  # a class that is not there: said politely
    projector.get_by_test_id("new-class").click()
    projector.get_by_test_id("open-class").fill("999999")
    projector.get_by_test_id("open").click()
    expect(projector.get_by_role("alert")).to_contain_text("could not be opened")
