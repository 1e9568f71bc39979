"""The instructor's class overview in Chromium, against a real ``handshake-game serve`` (issue 16).

A class of 30 tables fits one 1920x1080 projector screen, tables in trouble first; the join
panel folds away at the start and comes back on demand; actions reach the whole class or a
selection of tiles (a class-wide inject flags each attack that never started); a stuck seat is
flagged; a class plays a second round with the seats rotated; each student opens to their
detail; the scores, the class report and the earlier classes download from buttons; one
table's debrief shows large on the projector.

The students join over websockets from the test (120 of them make 30 tables): the page under
test is the instructor's.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Page, expect
from websockets.sync.client import connect

from .conftest import SCREENSHOTS
from .test_web_accessibility import audit
from .test_web_class import downloaded, join
from .test_web_student import ask, instructor, play

PROJECTOR = {"width": 1920, "height": 1080}


def make_class(serve: Any, students: int, *, scenario: str = "honest", difficulty: str = "guided",
               variant: str = "tls12-rsa", prefix: str = "s") -> dict[str, Any]:
    """A class created over the instructor's websocket, ``students`` joined (four to a table)."""
    with instructor(serve) as ws:
        created = ask(ws, {"type": "create_session", "token": serve.token, "variant": variant,
                           "scenario": scenario, "difficulty": difficulty}, "session_created")
    for n in range(students):
        # A connection per student (a connection may send 20 messages a second); a seat is held
        # by its token, not by a socket, so each closes once seated.
        with connect(serve.base.replace("http://", "ws://") + "ws") as ws:
            ws.send(json.dumps({"type": "hello", "protocol": 1}))
            assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
            name = f"{prefix}{n + 1:02d}"
            ws.send(json.dumps({"type": "join", "join_code": created["join_code"], "name": name}))
            answer = json.loads(ws.recv(timeout=30))
            assert answer["type"] == "seated", answer
    return created


def open_class(page: Page, serve: Any, class_id: int) -> None:
    """A browser with the token opens the class by its number (as the projector's would)."""
    page.goto(serve.base)  # the join page, on the same origin: forget the class this browser saved
    page.evaluate("localStorage.removeItem('handshake.instructor')")
    page.goto(serve.instructor_url)
    page.get_by_test_id("open-class").fill(str(class_id))
    page.get_by_test_id("open").click()
    expect(page.get_by_test_id("class-info")).to_contain_text(f"Class {class_id}")


def tiles(page: Page) -> Locator:
    return page.get_by_test_id("tables").locator("article")


def tile_ids(page: Page) -> list[str]:
    """The tiles' table ids in the order the page shows them (rows, then columns)."""
    boxes = []
    for tile in tiles(page).all():
        box = tile.bounding_box()
        assert box is not None
        boxes.append((round(box["y"]), box["x"], tile.get_attribute("data-table-id")))
    return [table_id for _, _, table_id in sorted(boxes)]


def fits_one_screen(page: Page) -> None:
    """Every tile within the 1920x1080 viewport at the top of the page, the overview unscrolled."""
    page.evaluate("window.scrollTo(0, 0)")
    for tile in tiles(page).all():
        box = tile.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["y"] >= 0, box
        assert box["x"] + box["width"] <= PROJECTOR["width"], box
        assert box["y"] + box["height"] <= PROJECTOR["height"], (tile.get_attribute("data-table-id"), box)
    overview = page.get_by_test_id("overview")
    assert overview.evaluate("node => node.scrollHeight <= node.clientHeight + 1")
    box = overview.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PROJECTOR["height"], box


def server_has_rounds(page: Page) -> bool:
    """Whether the server under test speaks issue 16 (its dashboard names the round)."""
    return "round" in (page.get_by_test_id("class-heading").inner_text() or "")


# -- 30 tables on one screen ---------------------------------------------------------------------

def test_thirty_tables_fit_one_projector_screen_and_the_join_panel_folds(serve, new_page: Callable[..., Page],
                                                                         shot) -> None:
    created = make_class(serve, 120)
    teacher = new_page("projector")
    open_class(teacher, serve, created["class_session_id"])
    expect(tiles(teacher)).to_have_count(30)
    expect(teacher.get_by_test_id("join-panel")).to_be_visible()  # before the start: students are joining
    expect(teacher.get_by_test_id("join-toggle")).to_have_attribute("aria-expanded", "true")
    shot(teacher, "instructor-overview-30-joining")

    teacher.get_by_test_id("stuck-after").fill("30")
    teacher.get_by_test_id("settings-save").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("Settings saved")
    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("started", timeout=90_000)
    expect(teacher.get_by_test_id("join-panel")).to_be_hidden()
    expect(teacher.get_by_test_id("join-toggle")).to_have_attribute("aria-expanded", "false")
    for tile in tiles(teacher).all():
        expect(tile.get_by_test_id(re.compile(r"table-\d+-state"))).to_contain_text("playing")

    fits_one_screen(teacher)
    # Numbered within the class: 1 to 30 (never the server's global table ids) on a server that numbers them.
    names = sorted(int(n) for n in tiles(teacher).evaluate_all("tiles => tiles.map(t => t.dataset.number)"))
    if server_has_rounds(teacher):
        assert names == list(range(1, 31))
        expect(tiles(teacher).first.locator("h3")).to_have_text(re.compile(r"^Table \d{1,2}$"))
    shot(teacher, "instructor-overview-30")

    # The busiest screen: an attack injected everywhere that nobody starts, and every table
    # stuck at the CA's turn (30 s, the threshold set above). Still one screen.
    teacher.get_by_test_id("inject-scenario").select_option("mitm-self-signed")
    teacher.get_by_test_id("inject-all").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("injected")
    expect(teacher.get_by_test_id("tables").locator("[data-flag=attack-pending]")).to_have_count(30)
    expect(teacher.get_by_test_id("tables").locator("[data-flag=stuck]")).to_have_count(30, timeout=60_000)
    fits_one_screen(teacher)
    teacher.screenshot(path=str(SCREENSHOTS / "instructor-overview-30-busy.png"))  # the screen as it is
    audit(teacher, "instructor.html, the overview of 30 tables")

    # The join panel comes back on demand, and folds again.
    teacher.get_by_test_id("join-toggle").click()
    expect(teacher.get_by_test_id("join-code")).to_have_text(created["join_code"])
    expect(teacher.get_by_test_id("join-code")).to_be_visible()
    teacher.get_by_test_id("join-toggle").click()
    expect(teacher.get_by_test_id("join-panel")).to_be_hidden()

    # Select all / none; a tile opens its details (seats, ladder, actions) across the row.
    teacher.get_by_test_id("select-all").click()
    expect(teacher.get_by_test_id("acts-on")).to_contain_text("30 selected tables")
    teacher.get_by_test_id("select-none").click()
    expect(teacher.get_by_test_id("acts-on")).to_contain_text("whole class (30 tables)")
    first = tiles(teacher).first
    n = first.get_attribute("data-table-id")
    first.locator("summary").click()
    expect(teacher.get_by_test_id(f"table-{n}-seat-client")).to_be_visible()
    expect(teacher.get_by_test_id(f"table-{n}-inject")).to_be_visible()  # no longer under "More"
    assert first.bounding_box()["width"] > PROJECTOR["width"] * 0.9
    shot(teacher, "instructor-overview-30-tile-open")
    first.locator("summary").click()

    teacher.set_viewport_size({"width": 375, "height": 740})
    expect(tiles(teacher).first).to_be_visible()
    assert teacher.evaluate("document.documentElement.scrollWidth") <= 375
    shot(teacher, "instructor-overview-30-phone")


# -- a selection, a class-wide inject, the never-started flag ------------------------------------

def test_inject_for_a_selection_then_the_whole_class_and_the_attack_that_never_started(
        serve, new_page: Callable[..., Page], shot) -> None:
    created = make_class(serve, 12, prefix="inj")  # three tables, every seat a student
    teacher = new_page("projector")
    open_class(teacher, serve, created["class_session_id"])
    expect(tiles(teacher)).to_have_count(3)
    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("started")
    ids = sorted(tiles(teacher).evaluate_all("tiles => tiles.map(t => t.dataset.tableId)"), key=int)
    numbers = {i: teacher.locator(f"#table-{i}").get_attribute("data-number") for i in ids}

    # The last table alone: tick it, inject from the toolbar (no "More" to open).
    last = ids[-1]
    teacher.get_by_test_id(f"table-{last}-select").check()
    expect(teacher.get_by_test_id("acts-on")).to_contain_text("1 selected table")
    teacher.get_by_test_id("inject-scenario").select_option("mitm-self-signed")
    teacher.get_by_test_id("inject-all").click()
    expect(teacher.get_by_test_id("status")).to_contain_text(f"injected. Table {numbers[last]}.")
    expect(teacher.get_by_test_id(f"table-{last}-scenario")).to_contain_text("mitm-self-signed")
    expect(teacher.get_by_test_id(f"table-{ids[0]}-scenario")).to_contain_text("honest")

    # The eavesdropper (a student) has not moved since: the attack never started, and the
    # table comes first.
    flag = teacher.get_by_test_id(f"table-{last}-flag-attack-pending")
    expect(flag).to_contain_text("attack not started")
    expect(flag).to_contain_text("mitm-self-signed")
    expect(teacher.locator(f"#table-{last}")).not_to_have_attribute("data-trouble", "0")
    assert tile_ids(teacher)[0] == last
    shot(teacher, "instructor-overview-attack-pending")

    # Nothing ticked: the same scenario for the whole class.
    teacher.get_by_test_id("select-none").click()
    expect(teacher.get_by_test_id("acts-on")).to_contain_text("whole class (3 tables)")
    teacher.get_by_test_id("inject-all").click()
    for i in ids:
        expect(teacher.get_by_test_id(f"table-{i}-scenario")).to_contain_text("mitm-self-signed")
        expect(teacher.get_by_test_id(f"table-{i}-flag-attack-pending")).to_be_visible()

    # Pause and resume a selection of two.
    teacher.get_by_test_id(f"table-{ids[0]}-select").check()
    teacher.get_by_test_id(f"table-{ids[1]}-select").check()
    teacher.get_by_test_id("pause-all").click()
    expect(teacher.get_by_test_id(f"table-{ids[0]}-state")).to_contain_text("paused")
    expect(teacher.get_by_test_id(f"table-{ids[1]}-state")).to_contain_text("paused")
    expect(teacher.get_by_test_id(f"table-{last}-state")).to_contain_text("playing")
    teacher.get_by_test_id("resume-all").click()
    expect(teacher.get_by_test_id(f"table-{ids[0]}-state")).to_contain_text("playing")

    # Leak the keys and debrief the selection: the debrief names the tables by number.
    teacher.get_by_test_id("leak-all").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("leaked")
    teacher.get_by_test_id("reveal-all").click()
    expect(teacher.get_by_test_id(f"debrief-{ids[0]}")).to_contain_text(f"Table {numbers[ids[0]]}")
    expect(teacher.get_by_test_id(f"debrief-{ids[1]}")).to_be_visible()
    expect(teacher.get_by_test_id(f"debrief-{last}")).to_have_count(0)
    expect(teacher.get_by_test_id("error")).to_be_hidden()


# -- the stuck flag ------------------------------------------------------------------------------

def test_a_stuck_seat_is_flagged_after_the_threshold(serve, new_page: Callable[..., Page], shot) -> None:
    created = make_class(serve, 1, prefix="slow")  # the client; bots take the rest at the start
    teacher = new_page("laptop")
    open_class(teacher, serve, created["class_session_id"])
    expect(tiles(teacher)).to_have_count(1)
    n = tiles(teacher).first.get_attribute("data-table-id")
    teacher.get_by_test_id("stuck-after").fill("30")
    teacher.get_by_test_id("settings-save").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("Settings saved")
    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id(f"table-{n}-turn")).to_contain_text("client's turn")
    expect(teacher.get_by_test_id(f"table-{n}-flag-stuck")).to_have_count(0)

    # Nobody moves: after 30 s the client's seat is flagged, with its player and its seconds.
    flag = teacher.get_by_test_id(f"table-{n}-flag-stuck")
    expect(flag).to_contain_text("client", timeout=60_000)
    expect(flag).to_contain_text("slow01")
    expect(flag).to_contain_text(re.compile(r"\d+ s"))
    teacher.reload()  # the threshold is the server's: it survives a reload
    expect(teacher.get_by_test_id("stuck-after")).to_have_value("30")
    expect(teacher.get_by_test_id(f"table-{n}-flag-stuck")).to_contain_text("slow01")
    shot(teacher, "instructor-overview-stuck")


# -- rounds, students, exports -----------------------------------------------------------------

def test_a_second_round_rotates_the_seats_and_the_scores_add_up(serve, new_page: Callable[..., Page],
                                                                shot) -> None:
    created = make_class(serve, 4, prefix="r")
    class_id = created["class_session_id"]
    teacher = new_page("projector")
    open_class(teacher, serve, class_id)
    expect(tiles(teacher)).to_have_count(1)
    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("started")
    first = tiles(teacher).first.get_attribute("data-table-id")
    expect(teacher.get_by_test_id(f"table-{first}-seat-client")).to_contain_text("r01")
    expect(teacher.get_by_test_id("round-now")).to_contain_text("Round 1")

    # Round 2: another handshake and difficulty, the same students, every seat moved one on.
    teacher.get_by_test_id("next-variant").select_option("tls13")
    teacher.get_by_test_id("next-scenario").select_option("honest")
    teacher.get_by_test_id("next-difficulty").select_option("standard")
    teacher.get_by_test_id("next-round").click()
    expect(teacher.get_by_test_id("status")).to_contain_text("next round is open")
    expect(teacher.get_by_test_id("round-now")).to_contain_text("Round 2")
    expect(teacher.get_by_test_id("round-now")).to_contain_text("tls13")
    expect(teacher.get_by_test_id("rounds-list")).to_contain_text("Round 1: tls12-rsa · honest · guided")
    expect(teacher.get_by_test_id("start")).to_be_enabled()
    expect(teacher.get_by_test_id("start")).to_have_text("▶ Start round 2")
    expect(teacher.locator(f"#table-{first}")).to_have_count(0)  # the overview shows this round's tables
    expect(tiles(teacher)).to_have_count(1)
    second = tiles(teacher).first.get_attribute("data-table-id")
    expect(teacher.locator(f"#table-{second} h3")).to_have_text("Table 1")
    expect(teacher.get_by_test_id(f"table-{second}-seat-server")).to_contain_text("r01")
    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id("start")).to_have_text("✔ Started round 2")
    expect(teacher.get_by_test_id(f"table-{second}-state")).to_contain_text("playing")
    shot(teacher, "instructor-round-2")

    # Each student: points this round and over both, and a detail by round and step.
    board = teacher.get_by_test_id("leaderboard")
    for name in ("r01", "r02", "r03", "r04"):
        expect(board).to_contain_text(name)
    board.get_by_role("button", name="r03").click()
    dialog = teacher.get_by_test_id("student-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Round 1: table 1, the CA")
    expect(dialog).to_contain_text("Round 2: table 1, the eavesdropper")
    expect(dialog).to_contain_text("No step played in this round.")  # nobody has moved yet
    shot(teacher, "instructor-student-detail")
    audit(teacher, "instructor.html, a student's detail")
    teacher.get_by_test_id("student-close").click()
    expect(dialog).to_be_hidden()

    # The exports: the scores, one row per student per round; the class report, printable.
    scores = downloaded(teacher, teacher.get_by_test_id("scores-csv")).decode()
    rows = list(csv.DictReader(io.StringIO(scores)))
    assert {"round", "variant", "scenario", "seat", "points", "mistakes", "hints"} <= set(rows[0]), rows[0]
    assert sorted(row["round"] for row in rows if "r01" in row.values()) == ["1", "2"], rows
    assert {row["variant"] for row in rows} == {"tls12-rsa", "tls13"}
    report = downloaded(teacher, teacher.get_by_test_id("report-html")).decode()
    assert report.lstrip().lower().startswith("<!doctype html") and "r04" in report

    # Earlier classes: listed with their dates; one's report downloads, another opens.
    other = make_class(serve, 1, prefix="other")
    open_class(teacher, serve, class_id)  # a fresh page asks the server for its classes
    here = teacher.get_by_test_id("classes-here")
    listed = here.get_by_test_id(f"class-{class_id}")
    expect(listed).to_contain_text("open here")
    expect(listed.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\d"))
    assert b"r04" in downloaded(teacher, listed.get_by_test_id(f"class-{class_id}-report"))
    shot(teacher, "instructor-classes")
    here.get_by_test_id(f"class-{other['class_session_id']}-open").click()
    expect(teacher.get_by_test_id("class-info")).to_contain_text(f"Class {other['class_session_id']}")
    expect(teacher.get_by_test_id("leaderboard")).to_contain_text("other01")


# -- the projector debrief -----------------------------------------------------------------------

def test_the_projector_shows_one_tables_ladder_where_the_attack_was_stopped_and_what_was_read(
        serve, new_page: Callable[..., Page], shot) -> None:
    teacher = new_page("projector")
    teacher.goto(serve.instructor_url)
    teacher.get_by_label("Handshake", exact=True).select_option("tls12-rsa")
    teacher.get_by_label("Scenario", exact=True).select_option("honest")
    teacher.get_by_label("Difficulty", exact=True).select_option("guided")
    teacher.get_by_test_id("create").click()
    code = teacher.get_by_test_id("join-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4,12}$"))
    client = new_page("phone")
    join(client, serve.base, code.inner_text(), "ana")
    expect(tiles(teacher)).to_have_count(1)
    n = tiles(teacher).first.get_attribute("data-table-id")
    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id(f"table-{n}-turn")).to_contain_text("client's turn")

    # A man in the middle with a self-signed certificate, which the client refuses.
    teacher.get_by_test_id("inject-scenario").select_option("mitm-self-signed")
    teacher.get_by_test_id("inject-all").click()
    expect(teacher.get_by_test_id(f"table-{n}-scenario")).to_contain_text("mitm-self-signed")
    play(client, "SendClientHello")
    play(client, "RejectCertificate")
    expect(teacher.get_by_test_id(f"table-{n}-state")).to_contain_text("stopped")

    teacher.get_by_test_id("projector-open").click()
    projector = teacher.get_by_test_id("projector")
    expect(projector).to_be_visible()
    expect(teacher.get_by_test_id("projector-title")).to_contain_text("mitm-self-signed")
    expect(teacher.get_by_test_id("projector-ladder")).to_contain_text("ClientHello")
    expect(teacher.get_by_test_id("projector-ladder")).to_contain_text("Certificate")
    expect(teacher.get_by_test_id("projector-stops")).to_contain_text("client")
    expect(teacher.get_by_test_id("projector-stops")).to_contain_text("certificate chain")
    expect(teacher.get_by_test_id("projector-read")).to_contain_text("Nothing")
    # Large type: the projector's text is bigger than the dashboard's.
    size = float(teacher.get_by_test_id("projector-view").evaluate("n => getComputedStyle(n).fontSize")[:-2])
    assert size >= 24
    shot(teacher, "instructor-projector-debrief")
    audit(teacher, "instructor.html, the debrief on the projector")
    teacher.keyboard.press("Escape")
    expect(projector).to_be_hidden()

    # The client's detail: each step played, right or wrong, with its time and points.
    teacher.get_by_test_id("leaderboard").get_by_role("button", name="ana").click()
    steps = teacher.get_by_test_id("student-detail").locator("table tbody tr")
    expect(steps).to_have_count(2)
    expect(steps.first).to_contain_text("✔ right")
    expect(steps.last).to_contain_text("✔ right")
    expect(steps.first.locator("td").first).to_have_text(re.compile(r"^\d+ s$|^\d+ min \d\d s$"))
    shot(teacher, "instructor-student-steps")
    # Every push re-asked the revealed table's debrief: paced under the server's rate, never refused.
    expect(teacher.get_by_test_id("error")).to_be_hidden()
