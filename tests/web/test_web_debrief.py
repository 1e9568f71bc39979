"""The seat console in Chromium tells a victim only what its party would know, at standard
difficulty points at no answer, speaks in people's words, and ends every table with a debrief
that offers to play again.

Every wait is on something the page shows (``expect``); nothing sleeps.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .test_web_student import SETTLED, open_solo, play

# Internal names a student must never read: a step id (client.hello) or Python call syntax.
STEP_ID = re.compile(r"\b(client|server|ca|eavesdropper)\.[a-z]+_[a-z_]+\b|\b(client|server|ca)\.hello\b")
CALL = re.compile(r"\b[A-Z][a-z]+[A-Z][A-Za-z]*\(")


def _visible_text(page: Page) -> str:
    return page.locator("body").inner_text()


def test_a_victim_sees_no_scenario_no_mark_then_a_debrief_with_play_again(serve, new_page, shot) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="client", difficulty="standard", scenario="mitm-self-signed")
    play(page, "SendClientHello")
    # At the certificate decision: the forged certificate has arrived, and nothing says so.
    expect(page.get_by_test_id("choice-form-AcceptCertificate")).to_be_visible()
    text = _visible_text(page)
    assert "mitm" not in text and "self-signed" not in page.get_by_test_id("seat").inner_text()
    assert "altered" not in text.lower() and "changed by the eavesdropper" not in text
    assert not STEP_ID.search(text) and not CALL.search(text), (STEP_ID.search(text), CALL.search(text))
    expect(page.get_by_test_id("debrief")).to_be_hidden()
    # Standard: nothing points at the answer, and the focus is on no choice.
    assert page.locator(".choice.offered").count() == 0
    focused = page.evaluate("document.activeElement?.dataset?.testid ?? ''")
    assert not focused.startswith("choice-") or focused == "choice-RequestHint", focused
    shot(page, "debrief-before-laptop")

    page.get_by_test_id("choice-RejectCertificate").click()
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", SETTLED)
    debrief = page.get_by_test_id("debrief")
    expect(debrief).to_be_visible()
    expect(page.get_by_test_id("debrief-outcome")).to_contain_text("The attack was stopped")
    expect(page.get_by_test_id("debrief-scenario")).to_contain_text("mitm-self-signed")
    expect(page.get_by_test_id("debrief-stopped")).to_contain_text("certificate chain")
    expect(page.get_by_test_id("debrief-read")).to_contain_text("Nothing")
    expect(page.get_by_test_id("debrief-scores")).to_contain_text("(you)")
    # The whole wire now, with the forged certificate marked.
    page.get_by_text("The whole wire, as the eavesdropper saw it").click()
    expect(page.get_by_test_id("debrief-ladder")).to_contain_text("changed by the eavesdropper")
    expect(page.get_by_test_id("again-new")).to_be_visible()
    shot(page, "debrief-end-laptop")

    # "Try this scenario again": a fresh table, same scenario and seat, from the first move.
    table_line = page.get_by_test_id("seat").inner_text()
    page.get_by_test_id("again-same").click()
    expect(page.get_by_test_id("seat")).not_to_have_text(table_line)
    expect(page.get_by_test_id("choice-form-SendClientHello")).to_be_visible()
    expect(page.get_by_test_id("debrief")).to_be_hidden()
    assert "mitm" not in page.get_by_test_id("seat").inner_text()


def test_a_victims_debrief_says_what_the_eavesdropper_read(serve, new_page, shot) -> None:
    page = new_page("phone")
    open_solo(page, serve.base, seat="client", difficulty="guided", scenario="mitm-self-signed")
    play(page, "SendClientHello")
    # Guided recommends Reject; this student clicks through the forged certificate anyway.
    page.get_by_test_id("choice-AcceptCertificate").click()
    expect(page.get_by_test_id("choice-form-EncryptPremaster")).to_be_visible()
    for action in ("EncryptPremaster", "DeriveAndSendFinished", "VerifyFinished", "SendApplicationData",
                   "ReadApplicationData"):
        form = page.get_by_test_id(f"choice-form-{action}")
        expect(form).to_be_visible()
        page.get_by_test_id(f"choice-{action}").click()
        expect(form).to_be_hidden()
    expect(page.get_by_test_id("debrief-outcome")).to_contain_text("The attack succeeded")
    expect(page.get_by_test_id("debrief-read")).to_contain_text("GET /grades")
    expect(page.get_by_test_id("debrief-stopped")).to_contain_text("no check")
    shot(page, "debrief-attack-phone")


def test_standard_lists_have_nothing_chosen_and_must_be_chosen(serve, new_page) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="client", difficulty="standard")
    play(page, "SendClientHello")
    play(page, "AcceptCertificate")
    select = page.get_by_label("to which public key")
    expect(select.locator("option:checked")).to_have_text("— choose —")
    page.get_by_test_id("choice-EncryptPremaster").click()
    expect(page.get_by_test_id("status")).to_contain_text("Choose to which public key first")
    select.select_option(label="the server certificate's public key")
    page.get_by_test_id("choice-EncryptPremaster").click()
    expect(page.get_by_test_id("choice-form-DeriveAndSendFinished")).to_be_visible()
