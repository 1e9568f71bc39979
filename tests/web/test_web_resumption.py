"""The tls13 client's second visit, played in Chromium: its ladder draws the first session's
full handshake (with the certificate) at the first steps, and the resumed handshake (no
certificate) at the resumption's own steps — not the resumed flight where the full one was."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .test_web_student import SETTLED, open_solo, play, play_guided_to_the_end, verdict_count

ARROWS_PER_STEP = """() => {
  const arrows = {};
  let step = null;
  for (const row of document.querySelectorAll("[data-testid='ladder'] li")) {
    if (row.classList.contains("ladder-step")) {
      step = row.textContent.trim();
      arrows[step] = [];
    } else if (row.classList.contains("ladder-wire") && step !== null) {
      arrows[step].push(row.textContent.trim());
    }
  }
  return arrows;
}"""


def arrows_at(arrows: dict[str, list[str]], words: str) -> list[str]:
    found = [labels for step, labels in arrows.items() if words in step]
    assert len(found) == 1, (words, list(arrows))
    return found[0]


def test_the_ladder_draws_each_session_at_its_own_steps(serve, new_page, shot) -> None:  # type: ignore[no-untyped-def]
    page = new_page("projector")
    open_solo(page, serve.base, seat="client", difficulty="guided", variant="tls13", scenario="honest")
    state = page.get_by_test_id("table-state")
    for _ in range(30):
        expect(state).to_have_attribute("data-kind", SETTLED)
        if state.get_attribute("data-kind") != "turn":
            break
        suggested = page.locator("[data-testid^='choice-form-'][data-recommended='true']")
        play(page, (suggested.get_attribute("data-testid") or "").removeprefix("choice-form-"))
    expect(page.get_by_test_id("table-state")).to_contain_text("Handshake complete")
    shot(page, "tls13-resumed-ladder-projector")
    arrows: dict[str, Any] = page.evaluate(ARROWS_PER_STEP)
    full = arrows_at(arrows, "ServerHello and the encrypted server flight")
    assert any("Certificate" in label for label in full)
    assert any("CertificateVerify" in label for label in full)
    assert any("ClientHello" in label for label in arrows_at(arrows, "resumes the session with its ticket"))
    resumed = arrows_at(arrows, "answers the resumption")
    assert any("ServerHello" in label for label in resumed)
    assert not any("Certificate" in label for label in resumed)  # the PSK authenticates the server
    assert any("NewSession" in label for label in arrows_at(arrows, "sends a NewSessionTicket"))


def test_the_replay_tables_server_plays_an_honest_looking_second_visit_and_learns_of_the_copy_after(  # type: ignore[no-untyped-def]
        serve, new_page, shot) -> None:
    """The server seat of a tls13 replay table: until the end its steps are an honest table's
    (the same count, no eavesdropper), the first visit's request is marked as such beside the
    transfer, and at the end the ladder calls the eavesdropper's copies replayed, not altered."""
    page = new_page("phone")
    open_solo(page, serve.base, seat="server", difficulty="guided", variant="tls13", scenario="replay")
    expect(page.get_by_test_id("step")).to_contain_text("of 20")  # an honest tls13 table's count
    state = page.get_by_test_id("table-state")
    for _ in range(30):
        expect(state).to_have_attribute("data-kind", SETTLED)
        if page.get_by_test_id("step").get_attribute("data-step") == "server.answer_transfer":
            break
        suggested = page.locator("[data-testid^='choice-form-'][data-recommended='true']")
        play(page, (suggested.get_attribute("data-testid") or "").removeprefix("choice-form-"))
    # Before it reads this connection's request, the first visit's is said to be one.
    expect(page.get_by_test_id("appdata-request")).to_contain_text("in your first visit")
    expect(page.get_by_test_id("ladder")).not_to_contain_text("may replay")  # no eavesdropper step
    shot(page, "tls13-replay-server-second-visit-phone")
    play_guided_to_the_end(page)
    # The transfer it read comes first, above the first visit's request.
    expect(page.get_by_test_id("appdata-transfer")).to_contain_text("POST /transfer")
    order = page.evaluate("""() => [...document.querySelectorAll("[data-testid^='appdata-']")]
      .map((node) => node.dataset.testid)""")
    assert order.index("appdata-transfer") < order.index("appdata-request"), order
    ladder = page.get_by_test_id("ladder")
    expect(ladder).to_contain_text("⚠ replayed")
    expect(ladder).not_to_contain_text("⚠ altered")
    shot(page, "tls13-replay-server-end-phone")


def test_each_message_sits_under_the_step_that_sent_it_as_the_seat_may_know_it(  # type: ignore[no-untyped-def]
        serve, new_page, shot) -> None:
    """A tls13 client that accepts a forged certificate: while in the dark, its ladder draws the
    flight it received under the server's step, as at an honest table; at the debrief, under the
    eavesdropper's step that really sent it, and the end does not call the attacked handshake good
    news."""
    page = new_page("projector")
    open_solo(page, serve.base, seat="client", difficulty="guided", variant="tls13",
              scenario="mitm-self-signed")
    play(page, "SendClientHello")
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "client.check_certificate")
    arrows: dict[str, Any] = page.evaluate(ARROWS_PER_STEP)
    flight = arrows_at(arrows, "ServerHello and the encrypted server flight")
    assert any("ServerHello" in label for label in flight) and any("Certificate" in label for label in flight)
    assert not any("eavesdropper" in step for step in arrows), list(arrows)
    count = verdict_count(page)
    page.get_by_test_id("choice-AcceptCertificate").click()  # what a user clicking through does
    expect(page.get_by_test_id("verdicts")).to_have_attribute("data-count", str(count + 1))
    play_guided_to_the_end(page)
    expect(page.get_by_test_id("debrief")).to_be_visible()
    arrows = page.evaluate(ARROWS_PER_STEP)
    forged = arrows_at(arrows, "answers the client itself")
    assert any("ServerHello" in label for label in forged) and any("Certificate" in label for label in forged)
    assert not any("ServerHello" in label for label in arrows_at(arrows, "holds the ClientHello"))
    ladder = page.get_by_test_id("ladder")
    expect(ladder).to_contain_text("the handshake completed, with the attack in it")
    expect(ladder).not_to_contain_text("✓ handshake complete")
    shot(page, "tls13-mitm-client-ladder-places-projector")
