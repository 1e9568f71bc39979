"""The pages take their names from the server's catalog (``GET /catalog.json``) and keep no
copy of them: the solo form's scenarios are those the server stages for the chosen
handshake, the dashboard labels a step as the catalog does, and no step id, scenario story,
handshake or difficulty name is written into ``web/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect
from websockets.sync.client import connect

from handshake_game.game import catalog_json

WEB = Path(__file__).resolve().parents[2] / "web"

# web/js/ladder.js names the steps that send each TLS message, to put the checks between the
# right arrows: the wire entries do not say which step sent them. These ids, in that one
# function, are the only step ids the pages may name (and they must be the catalog's).
LADDER_STEP_IDS = frozenset({"client.hello", "client.key_exchange", "client.finished", "client.send_data",
                             "server.hello", "server.finished", "server.send_data",
                             # tls13's second visit with a ticket
                             "server.new_session_ticket", "client.resume", "server.resume",
                             "client.resume_finished", "client.send_transfer",
                             "server.answer_transfer"})


def page_sources() -> dict[str, str]:
    return {path.relative_to(WEB).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted([*WEB.glob("*.html"), *(WEB / "js").glob("*.js")])}


def producing_step(ladder: str) -> str:
    """The text of ladder.js's ``producingStep`` function."""
    match = re.search(r"^function producingStep\(.*?^}$", ladder, re.MULTILINE | re.DOTALL)
    assert match, "ladder.js has no producingStep function"
    return match.group(0)


def names(text: str, step_id: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(step_id)}(?![\w])", text) is not None


def catalog_copies(sources: dict[str, str], catalog: dict[str, Any]) -> list[str]:
    """Every copy of a catalog name in the page sources, as ``file: what``."""
    step_ids = set(catalog["step_labels"])
    # Names long enough to be the catalog's own words, not a page's prose ("the server
    # answers `seated`") or plain TLS vocabulary ("ClientHello", "TLS 1.3").
    phrases = {scenario["story"] for scenario in catalog["scenarios"]}
    phrases |= {difficulty["name"] for difficulty in catalog["difficulties"]}
    phrases |= {variant["name"] for variant in catalog["variants"]}
    phrases |= {label for label in catalog["step_labels"].values()}
    phrases = {phrase for phrase in phrases if len(phrase.split()) >= 4}
    option_ids = ({seat["id"] for seat in catalog["seats"]} | {v["id"] for v in catalog["variants"]}
                  | {s["id"] for s in catalog["scenarios"]} | {d["id"] for d in catalog["difficulties"]})
    found = []
    for name, text in sources.items():
        scanned = text
        if name == "js/ladder.js":  # its producingStep may name LADDER_STEP_IDS, and nothing else
            mapping = producing_step(text)
            scanned = text.replace(mapping, "")
            found += [f"{name}: step id {step_id}" for step_id in sorted(step_ids - LADDER_STEP_IDS)
                      if names(mapping, step_id)]
        found += [f"{name}: step id {step_id}" for step_id in sorted(step_ids) if names(scanned, step_id)]
        for phrase in sorted(phrases):
            if phrase in text:
                found.append(f"{name}: {phrase!r}")
        if name.endswith(".html"):
            for value in re.findall(r"<option[^>]*\bvalue=\"([^\"]*)\"", text):
                if value in option_ids:
                    found.append(f"{name}: <option value={value!r}>")
    return found


def test_no_page_keeps_a_copy_of_the_catalog() -> None:
    catalog = catalog_json()
    assert set(catalog["step_labels"]) >= LADDER_STEP_IDS, "ladder.js names a step the catalog lost"
    assert catalog_copies(page_sources(), catalog) == []


def test_a_planted_copy_is_caught() -> None:
    catalog = catalog_json()
    sources = page_sources()
    replay = next(scenario for scenario in catalog["scenarios"] if scenario["id"] == "replay")
    planted = {
        "js/play.js": sources["js/play.js"] + '\nconst STEP = {"client.key_exchange": "ClientKeyExchange"};',
        "js/instructor.js": sources["js/instructor.js"] + f"\nconst REPLAY = {json.dumps(replay['story'])};",
        "index.html": sources["index.html"].replace(
            "</select>", '<option value="tls13">TLS 1.3</option></select>', 1),
        # Outside producingStep, ladder.js may not name even the steps it maps messages to.
        "js/ladder.js": sources["js/ladder.js"] + '\nexport const FIRST = "client.hello";\n',
    }
    found = catalog_copies(sources | planted, catalog)
    assert sorted(found) == ["index.html: <option value='tls13'>",
                             f"js/instructor.js: {replay['story']!r}",
                             "js/ladder.js: step id client.hello",
                             "js/play.js: step id client.key_exchange"], found


# -- in Chromium -----------------------------------------------------------------------------------

def option_values(page: Page, testid: str) -> list[str]:
    select = page.get_by_test_id(testid)
    return select.locator("option").evaluate_all("options => options.map(o => o.value)")


def test_the_solo_form_offers_what_the_server_stages(serve, new_page: Callable[..., Page]) -> None:
    # Every scenario is staged for every handshake today; the form must still follow the
    # catalog it is served, so it is served one where tls13 does not stage replay.
    catalog = catalog_json()
    assert all(len(s["variants"]) == len(catalog["variants"]) for s in catalog["scenarios"])
    for scenario in catalog["scenarios"]:
        if scenario["id"] == "replay":
            scenario["variants"] = [v for v in scenario["variants"] if v != "tls13"]
    staged = {v["id"]: [s["id"] for s in catalog["scenarios"] if v["id"] in s["variants"]]
              for v in catalog["variants"]}

    page = new_page("phone")
    page.route("**/catalog.json", lambda route: route.fulfill(json=catalog))
    page.goto(serve.base)
    variant = page.get_by_test_id("solo-variant")
    expect(variant.locator("option")).to_have_text([v["name"] for v in catalog["variants"]])
    expect(page.get_by_test_id("solo-seat").locator("option")).to_have_text(
        [seat["name"] for seat in catalog["seats"]])
    expect(page.get_by_test_id("solo-difficulty")).to_have_value("standard")
    assert option_values(page, "solo-difficulty") == [d["id"] for d in catalog["difficulties"]]

    scenario = page.get_by_test_id("solo-scenario")
    variant.select_option("tls12-rsa")
    scenario.select_option("replay")
    assert option_values(page, "solo-scenario") == staged["tls12-rsa"]
    variant.select_option("tls13")
    expect(scenario.locator("option[value='replay']")).to_have_count(0)
    assert option_values(page, "solo-scenario") == staged["tls13"]
    expect(scenario).to_have_value(staged["tls13"][0])  # replay is gone; the first staged one is chosen
    story = next(s["story"] for s in catalog["scenarios"] if s["id"] == "tamper")
    expect(scenario.locator("option[value='tamper']")).to_have_text(f"tamper — {story}")
    expect(page.get_by_test_id("solo-submit")).to_be_enabled()


def join_by_websocket(base: str, join_code: str, name: str) -> None:
    with connect(base.replace("http://", "ws://") + "ws") as ws:
        ws.send(json.dumps({"type": "hello", "protocol": 1}))
        assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        ws.send(json.dumps({"type": "join", "join_code": join_code, "name": name}))
        assert json.loads(ws.recv(timeout=15))["type"] == "seated"


def test_the_dashboard_labels_steps_from_the_catalog(serve, new_page: Callable[..., Page]) -> None:
    catalog = catalog_json()
    tls13 = next(v for v in catalog["variants"] if v["id"] == "tls13")
    teacher = new_page("laptop")
    teacher.goto(serve.instructor_url)  # a fresh browser: the form to create a class
    teacher.get_by_test_id("variant").select_option("tls13")
    assert option_values(teacher, "scenario") == [s["id"] for s in catalog["scenarios"]
                                                   if "tls13" in s["variants"]]
    teacher.get_by_test_id("scenario").select_option("honest")
    teacher.get_by_test_id("create").click()
    code = teacher.get_by_test_id("join-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4,12}$"))
    join_by_websocket(serve.base, code.inner_text(), "ana")

    # Before the start the table waits at its first step, labelled as the catalog says.
    first = tls13["steps"][0]
    card = teacher.get_by_test_id("tables").locator("article")
    expect(card).to_have_count(1)
    n = card.get_attribute("data-table-id")
    step = teacher.get_by_test_id(f"table-{n}-step")
    expect(step).to_contain_text(f"{first['label']} {first['id']}")
    # The card's inject list is the scenarios staged for the class's handshake.
    assert option_values(teacher, f"table-{n}-inject-scenario") == [
        s["id"] for s in catalog["scenarios"] if "tls13" in s["variants"]]

    # The words are the served catalog's: serve another label, and the card shows it.
    def relabel(route: Route) -> None:
        served = route.fetch().json()
        for variant in served["variants"]:
            for entry in variant["steps"]:
                if entry["id"] == first["id"]:
                    entry["label"] = "the root of all trust"
        route.fulfill(json=served)

    teacher.route("**/catalog.json", relabel)
    teacher.reload()
    expect(step).to_contain_text(f"the root of all trust {first['id']}")
