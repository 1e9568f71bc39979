"""The student's pages in a real Chromium against a real ``handshake-game serve``: the join page
(solo and class forms), the seat console (choices, lesson and quiz, byte inspector, ladder,
wallet, decrypted application data), reloads, and player text shown as text.

Every wait is on something the page shows (``expect``); nothing sleeps.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from playwright.sync_api import Page, expect
from websockets.sync.client import ClientConnection, connect

from handshake_game.game.guide import REQUEST, RESPONSE

XSS_NAME = "<img src=x onerror=alert(1)>"
# After one of our moves the bots answer before the view comes back: our turn again, or the end
# (completed, failed, or an attack stopped by a real check).
SETTLED = re.compile(r"^(turn|ok|fail|stopped)$")


def open_solo(page: Page, base: str, *, seat: str, difficulty: str, name: str = "ana",
              variant: str = "tls12-rsa", scenario: str = "honest") -> None:
    """Fill the join page's solo form and land on the seat console."""
    page.goto(base)
    solo = page.get_by_test_id("solo-form")
    solo.get_by_label("Your name").fill(name)
    solo.get_by_label("Seat").select_option(seat)
    solo.get_by_label("Handshake").select_option(variant)
    solo.get_by_label("Scenario").select_option(scenario)
    solo.get_by_label("Difficulty").select_option(difficulty)
    solo.get_by_role("button", name="Play solo").click()
    page.wait_for_url("**/play.html")
    expect(page.get_by_test_id("seat")).to_contain_text(f"the {seat}")
    expect(page.get_by_test_id("lesson")).not_to_be_empty()


def verdict_count(page: Page) -> int:
    return int(page.get_by_test_id("verdicts").get_attribute("data-count") or "0")


def play(page: Page, action: str, fill: Callable[[], None] | None = None) -> None:
    """Fill one choice's fields, click it, and wait for the referee's verdict on it: ok."""
    count = verdict_count(page)
    expect(page.get_by_test_id(f"choice-form-{action}")).to_be_visible()
    if fill is not None:
        fill()
    page.get_by_test_id(f"choice-{action}").click()
    expect(page.get_by_test_id("verdicts")).to_have_attribute("data-count", str(count + 1))
    expect(page.get_by_test_id("feedback")).to_contain_text("✓ ok")
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", SETTLED)


def choose(page: Page, field: str, option: str) -> Callable[[], None]:
    """Picks ``option`` (its label) in the select labelled ``field``."""
    def pick() -> None:
        page.get_by_label(field).select_option(label=option)

    return pick


def play_guided_to_the_end(page: Page) -> list[str]:
    """At guided difficulty: click the suggested move until the table ends; the actions played."""
    played: list[str] = []
    state = page.get_by_test_id("table-state")
    for _ in range(20):
        expect(state).to_have_attribute("data-kind", SETTLED)
        if state.get_attribute("data-kind") != "turn":
            return played
        suggested = page.locator("[data-testid^='choice-form-'][data-recommended='true']")
        expect(suggested).to_have_count(1)
        action = (suggested.get_attribute("data-testid") or "").removeprefix("choice-form-")
        play(page, action)
        played.append(action)
    raise AssertionError(f"the table did not end after {played}")


def no_dialogs(page: Page) -> list[str]:
    """Every alert/confirm the page opens (there must be none); each is dismissed."""
    opened: list[str] = []

    def record(dialog) -> None:  # type: ignore[no-untyped-def]
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return opened


# -- 1. the client, solo, clicking through every step ------------------------------------------

def test_client_guided_clicks_through_to_the_decrypted_answer(serve, new_page, shot) -> None:
    page = new_page("projector")
    open_solo(page, serve.base, seat="client", difficulty="guided")
    # People's words on the page; the step's id only in an attribute, for tests.
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "client.hello")
    expect(page.get_by_test_id("step")).not_to_contain_text("client.hello")
    expect(page.get_by_test_id("progress")).to_contain_text("of 14 steps done")

    # The byte inspector: the ServerHello arrives after our first move; keyboard focus on a
    # field highlights its bytes and explains it.
    play(page, "SendClientHello")
    server_hello = page.get_by_test_id("wire-1")
    expect(server_hello.locator("summary")).to_contain_text("ServerHello")
    server_hello.locator("summary").click()
    page.mouse.move(0, 0)  # a keyboard user: the pointer is out of the way
    random_field = server_hello.get_by_role("button", name=re.compile(r"^random "))
    random_field.focus()
    explain = server_hello.get_by_test_id("inspector-explain")
    expect(explain).to_contain_text("server_random")
    expect(explain).to_contain_text("32 bytes")
    expect(server_hello.locator(".inspector-hex span.hl")).to_have_count(32)
    page.keyboard.press("ArrowDown")  # the field list is one tab stop; arrows move within it
    expect(explain).to_contain_text("session_id")
    expect(server_hello.get_by_role("button", name=re.compile(r"^session_id"))).to_be_focused()
    # ... and pointing at a byte shows the field it belongs to (the record header's type).
    first_byte = server_hello.locator(".inspector-hex span").first
    first_byte.hover(position={"x": 1, "y": 1})
    first_byte.hover(position={"x": 4, "y": 4})
    expect(explain).to_contain_text("content_type")

    # The lesson card's quiz: an answer goes to the server and its verdict comes back.
    quiz = page.get_by_test_id("quiz-0")
    quiz.get_by_role("radio").first.check()
    quiz.get_by_role("button", name="Check my answer").click()
    expect(page.get_by_test_id("quiz-result-0")).to_contain_text(re.compile("✓ Correct|✗ Not quite"))
    shot(page, "student-play-projector")

    played = play_guided_to_the_end(page)
    assert played == ["AcceptCertificate", "EncryptPremaster", "DeriveAndSendFinished", "VerifyFinished",
                      "SendApplicationData", "ReadApplicationData"]
    expect(page.get_by_test_id("table-state")).to_contain_text("✓ Handshake complete")
    answer = page.get_by_test_id("appdata-response")
    expect(answer).to_be_visible()
    expect(answer).to_contain_text("HTTP/1.1 200 OK")
    expect(answer).to_contain_text(RESPONSE.rsplit("\r\n", 1)[1])  # the body: "alice: A, bob: B+"
    ladder = page.get_by_test_id("ladder")
    expect(ladder).to_contain_text("✓ handshake complete")
    expect(ladder.locator(".chip-ok")).to_have_count(8)  # seven checks and the end
    # After the end the client sees the whole table: 14 steps, and the eavesdropper's attempt.
    expect(page.get_by_test_id("progress")).to_contain_text("15 of 15 steps done")
    expect(page.get_by_test_id("score-client")).to_contain_text("70")
    shot(page, "student-done-projector")


def test_client_standard_picks_from_the_choices(serve, new_page, shot) -> None:
    page = new_page("phone")
    open_solo(page, serve.base, seat="client", difficulty="standard")
    # Nothing is suggested at standard difficulty, and the wrong moves are on the menu too.
    expect(page.locator("[data-recommended='true']")).to_have_count(0)
    play(page, "SendClientHello")
    expect(page.get_by_test_id("choice-RejectCertificate")).to_be_visible()
    play(page, "AcceptCertificate")
    play(page, "EncryptPremaster", choose(page, "to which public key", "the server certificate's public key"))
    play(page, "DeriveAndSendFinished", choose(page, "the order of the two randoms",
                                               "client_random, then server_random"))
    play(page, "VerifyFinished")
    request = "GET /mine HTTP/1.1\r\nHost: shop.example\r\n\r\n"
    play(page, "SendApplicationData", lambda: page.get_by_label("the message").fill(request))
    shot(page, "student-play-phone")
    play(page, "ReadApplicationData")
    expect(page.get_by_test_id("table-state")).to_contain_text("✓ Handshake complete")
    expect(page.get_by_test_id("appdata-response")).to_contain_text(RESPONSE.rsplit("\r\n", 1)[1])
    expect(page.get_by_test_id("appdata-sent_data")).to_contain_text("GET /mine HTTP/1.1")
    expect(page.get_by_test_id("choices")).to_contain_text("nothing more to play")
    shot(page, "student-done-phone")


# -- 2. the server seat ------------------------------------------------------------------------

def test_server_guided_reads_the_decrypted_request(serve, new_page, shot) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="server", difficulty="guided")
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "server.generate_key")
    played = play_guided_to_the_end(page)
    assert played == ["GenerateKeyPair", "SendCsr", "SendServerHello", "DeriveAndSendFinished",
                      "SendApplicationData"]
    expect(page.get_by_test_id("table-state")).to_contain_text("✓ Handshake complete")
    request = page.get_by_test_id("appdata-request")
    expect(request).to_be_visible()
    expect(request).to_contain_text(REQUEST.split("\r\n")[0])  # GET /grades HTTP/1.1
    # The server's own private key is in its wallet, marked secret and folded.
    key = page.get_by_test_id("wallet-server_key")
    expect(key).to_contain_text("⚷ secret")
    expect(key).to_contain_text("show all")
    shot(page, "student-server-laptop")


def test_server_standard_picks_from_the_choices(serve, new_page) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="server", difficulty="standard")
    play(page, "GenerateKeyPair")
    play(page, "SendCsr", choose(page, "for which name", "shop.example: the server's host name"))
    play(page, "SendServerHello",
         lambda: page.get_by_label("the cipher suite to choose").select_option(index=1))
    play(page, "DeriveAndSendFinished", choose(page, "the order of the two randoms",
                                               "client_random, then server_random"))
    play(page, "SendApplicationData")
    expect(page.get_by_test_id("table-state")).to_contain_text("✓ Handshake complete")
    expect(page.get_by_test_id("appdata-request")).to_contain_text("GET /grades HTTP/1.1")


# -- the eavesdropper: the wire with its controls ----------------------------------------------

def test_eavesdropper_flips_a_byte_and_finished_catches_it(serve, new_page, shot) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="eavesdropper", difficulty="standard", scenario="tamper")
    expect(page.get_by_role("heading", name="Wire controls")).to_be_visible()
    wire = page.get_by_test_id("wire")
    # The server's flight waits with the eavesdropper; every control is on offer.
    expect(wire.locator("li", has_text="ServerHello").first).to_contain_text("held by you")
    for control in ("Forward", "Drop", "Inject", "FlipByte"):
        expect(page.get_by_test_id(f"choice-{control}")).to_be_visible()
    play(page, "FlipByte", lambda: page.get_by_label("which byte of server_random").fill("3"))
    expect(wire).to_contain_text("⚠ altered on the way")
    expect(wire).not_to_contain_text("held by you")
    ladder = page.get_by_test_id("ladder")
    expect(ladder.locator(".arrow-altered")).to_contain_text("ServerHello")
    # The bots play on; a real check stops the attack: with static RSA nothing signs server_random,
    # so it is the server's check of the client's Finished (the two sides derived different keys).
    state = page.get_by_test_id("table-state")
    expect(state).to_contain_text("⚑ The attack was stopped by the server's finished check")
    expect(ladder).to_contain_text("⚑ the attack was stopped by the server's finished check")
    shot(page, "student-eavesdropper-laptop")


# -- 3. what a player types is text, never HTML ------------------------------------------------

def test_a_name_with_markup_shows_as_text(serve, new_page, shot) -> None:
    page = new_page("phone")
    dialogs = no_dialogs(page)
    open_solo(page, serve.base, seat="client", difficulty="guided", name=XSS_NAME)
    expect(page.get_by_test_id("seat")).to_contain_text(XSS_NAME)
    expect(page.get_by_test_id("score-client")).to_contain_text(XSS_NAME)
    play(page, "SendClientHello")
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("img").count() == 0
    # The join page remembers the name, again as text in a field.
    page.goto(serve.base)
    expect(page.get_by_test_id("solo-name")).to_have_value(XSS_NAME)
    expect(page.get_by_test_id("continue")).to_contain_text("the client at table")
    assert page.locator("img").count() == 0
    assert dialogs == []


# -- 4. reload in the middle of a handshake ----------------------------------------------------

def test_reload_returns_to_the_same_step(serve, new_page) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="client", difficulty="guided")
    play(page, "SendClientHello")
    play(page, "AcceptCertificate")
    step = page.get_by_test_id("step").inner_text()
    wallet = page.get_by_test_id("wallet").inner_text()
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "client.key_exchange")
    assert "server certificate" in wallet
    page.reload()
    expect(page.get_by_test_id("step")).to_have_text(step, use_inner_text=True)
    expect(page.get_by_test_id("wallet")).to_have_text(wallet, use_inner_text=True)
    expect(page.get_by_test_id("verdicts")).to_have_attribute("data-count", "2")
    # ... and play goes on from there.
    play(page, "EncryptPremaster")
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "client.finished")


# -- the join page ---------------------------------------------------------------------------

def test_join_link_fills_the_code_and_errors_are_shown_politely(serve, new_page, shot) -> None:
    page = new_page("phone")
    page.goto(f"{serve.base}?join=k7mq2x")
    expect(page.get_by_test_id("join-code")).to_have_value("K7MQ2X")
    expect(page.get_by_test_id("join-name")).to_be_focused()
    shot(page, "student-index-phone")
    page.get_by_test_id("join-name").fill("ana")
    page.get_by_role("button", name="Join the class").click()
    status = page.get_by_test_id("status")
    expect(status).to_contain_text("⚠")
    expect(status).to_have_attribute("role", "alert")
    expect(page).to_have_url(re.compile(r"\?join=k7mq2x$"))  # still here, nothing lost
    expect(page.get_by_test_id("join-submit")).to_be_enabled()

    wide = new_page("projector")
    wide.goto(serve.base)
    expect(wide.get_by_test_id("solo-form")).to_be_visible()
    shot(wide, "student-index-projector")


def test_play_page_without_a_seat_says_where_to_go(serve, new_page) -> None:
    page = new_page("phone")
    page.goto(f"{serve.base}play.html")
    expect(page.get_by_test_id("no-seat")).to_be_visible()
    page.get_by_role("link", name="Go to the join page").click()
    expect(page.get_by_test_id("solo-form")).to_be_visible()
    # A saved seat the server does not know (a forged token) is refused politely and forgotten.
    page.evaluate("""localStorage.setItem('handshake.seat',
        JSON.stringify({table_id: 999999, token: 'forged', seat: 'client', class_session_id: null}))""")
    page.goto(f"{serve.base}play.html")
    expect(page.get_by_test_id("no-seat")).to_contain_text("no longer valid")
    assert page.evaluate("localStorage.getItem('handshake.seat')") is None


# -- a class: the instructor moves the student to another seat ---------------------------------

@contextlib.contextmanager
def instructor(serve: Any) -> Iterator[ClientConnection]:
    """The instructor's websocket (driven from the test: this file is about the student page)."""
    with connect(serve.base.replace("http://", "ws://") + "ws") as ws:
        ws.send(json.dumps({"type": "hello", "protocol": 1}))
        assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        yield ws


def ask(ws: ClientConnection, message: dict[str, Any], reply: str) -> dict[str, Any]:
    """Send an instructor message and return its reply (pushed table updates are skipped)."""
    ws.send(json.dumps(message))
    for _ in range(50):
        answer = json.loads(ws.recv(timeout=15))
        if answer["type"] == reply:
            return answer
        assert answer["type"] != "error", answer
    raise AssertionError(f"no {reply}")


def test_class_join_paused_then_reseated_and_started(serve, new_page) -> None:
    with instructor(serve) as ws:
        created = ask(ws, {"type": "create_session", "token": serve.token, "variant": "tls12-rsa",
                           "scenario": "honest", "difficulty": "guided"}, "session_created")
        page = new_page("phone")
        page.goto(created["join_url"])
        expect(page.get_by_test_id("join-code")).to_have_value(created["join_code"])
        page.get_by_test_id("join-name").fill("bo")
        page.get_by_role("button", name="Join the class").click()
        page.wait_for_url("**/play.html")
        expect(page.get_by_test_id("seat")).to_contain_text("bo: the client")
        expect(page.get_by_test_id("table-state")).to_contain_text("Paused")
        expect(page.get_by_test_id("choices")).to_contain_text("paused")

        session = created["class_session_id"]
        ask(ws, {"type": "rotate_seats", "token": serve.token, "class_session_id": session}, "done")
        expect(page.get_by_test_id("seat")).to_contain_text("bo: the server")
        expect(page.get_by_test_id("status")).to_contain_text("You now play the server")
        expect(page.get_by_test_id("score-server")).to_contain_text("(you)")
        kept = page.evaluate("JSON.parse(localStorage.getItem('handshake.seat'))")
        assert kept["seat"] == "server" and kept["class_session_id"] == session
        page.reload()
        expect(page.get_by_test_id("seat")).to_contain_text("bo: the server")

        ask(ws, {"type": "start", "token": serve.token, "class_session_id": session}, "done")
        expect(page.get_by_test_id("table-state")).to_contain_text("Your turn")
        play(page, "GenerateKeyPair")
