"""The certificate decision in a real Chromium: the client reads the server's certificate as words
(subject, issuer, validity, chain up to its trust store), never as hex; pass/fail marks only at
guided difficulty. Screenshots at phone and projector sizes under build/screenshots/."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from .conftest import SCREENSHOTS
from .test_web_student import open_solo, play

# The start of a DER certificate in hex (RFC 5280 §4.1: SEQUENCE { SEQUENCE { [0] version 3 ...):
# what the wallet and the byte inspector used to show instead of the certificate's fields.
CERTIFICATE_HEX = re.compile(r"3082[0-9a-f]{4}3082[0-9a-f]{4}a003020102", re.IGNORECASE)


def at_the_decision(page: Page, base: str, *, difficulty: str, scenario: str,
                    variant: str = "tls12-rsa") -> None:
    open_solo(page, base, seat="client", difficulty=difficulty, scenario=scenario, variant=variant)
    play(page, "SendClientHello")
    expect(page.get_by_test_id("step")).to_have_attribute("data-step", "client.check_certificate")
    expect(page.get_by_test_id("choice-form-AcceptCertificate")).to_be_visible()


def screen(page: Page, where: Locator, name: str) -> None:
    """What the student's screen shows with ``where`` scrolled to the top (not the whole page)."""
    where.scroll_into_view_if_needed()
    page.evaluate("(node) => node.scrollIntoView({block: 'start'})", where.element_handle())
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_standard_the_expired_certificate_reads_in_words_without_verdicts(serve, new_page, shot) -> None:
    page = new_page("phone")
    at_the_decision(page, serve.base, difficulty="standard", scenario="expired-cert")
    documents = page.get_by_test_id("documents")
    expect(documents).to_be_visible()
    card = page.get_by_test_id("doc-0")
    expect(card).to_have_attribute("open", "")
    expect(card).to_contain_text("the Certificate message that reached you")
    expect(card).to_contain_text("Issued to (subject)")
    expect(card).to_contain_text("shop.example")
    expect(card).to_contain_text("Issued by (issuer)")
    expect(card).to_contain_text("Classroom Root CA")
    expect(card).to_contain_text(re.compile(r"from \d{4}-\d\d-\d\d \d\d:\d\d UTC until \d{4}-\d\d-\d\d"))
    expect(card).to_contain_text("expired: it ended on")
    expect(card).to_contain_text("RSA 2048-bit")
    expect(card).to_contain_text("TLS server authentication")
    expect(card.locator(".doc-chain")).to_contain_text(
        "signed by Classroom Root CA, which your trust store holds")
    # Standard: the student does the checking; the page gives the facts, no verdict.
    expect(page.get_by_test_id("doc-checks")).to_have_count(0)
    assert "✓ pass" not in documents.inner_text() and "✗ fail" not in documents.inner_text()
    # No raw certificate bytes anywhere the student can read (the wallet folds them away).
    text = page.locator("body").inner_text()
    assert not CERTIFICATE_HEX.search(text), CERTIFICATE_HEX.search(text)
    expect(page.get_by_test_id("wallet-trust_store")).to_contain_text("decoded under")
    shot(page, "certificate-expired-standard-phone")
    screen(page, documents, "certificate-expired-standard-phone-screen")
    screen(page, card.locator(".doc-chain"), "certificate-expired-standard-phone-chain")


def test_guided_the_self_signed_forgery_shows_the_checks(serve, new_page, shot) -> None:
    page = new_page("projector")
    at_the_decision(page, serve.base, difficulty="guided", scenario="mitm-self-signed")
    card = page.get_by_test_id("doc-0")
    expect(card).to_contain_text("self-signed")
    expect(card.locator(".doc-chain")).to_contain_text("not in your trust store")
    checks = page.get_by_test_id("doc-checks")
    expect(checks).to_be_visible()
    expect(checks.locator("[data-ok='false']")).to_have_count(1)
    expect(checks.locator("[data-ok='false']")).to_contain_text("certificate chain")
    expect(checks.locator("[data-ok='false']")).to_contain_text("✗ fail")
    expect(checks).to_contain_text("not checked")
    expect(checks).to_contain_text("stops at its first failed check")
    # The trust store is a card too, closed until opened: the root the client trusts.
    root = page.locator(".doc-card", has_text="your trust store (the root you trust)")
    expect(root).to_have_count(1)
    root.locator("summary").first.click()
    expect(root).to_contain_text("a CA: it may sign other certificates")
    text = page.locator("body").inner_text()
    assert not CERTIFICATE_HEX.search(text)
    assert "mitm" not in text.lower() and "forged" not in text.lower()
    shot(page, "certificate-self-signed-guided-projector")
    screen(page, page.locator("#move"), "certificate-self-signed-guided-projector-screen")


def test_tls13_the_encrypted_certificate_is_read_with_the_clients_keys(serve, new_page, shot) -> None:
    page = new_page("phone")
    at_the_decision(page, serve.base, difficulty="guided", scenario="honest", variant="tls13")
    card = page.get_by_test_id("doc-0")
    expect(card).to_contain_text("opened with your handshake keys")
    expect(card).to_contain_text("valid now")
    checks = page.get_by_test_id("doc-checks")
    expect(checks.locator("[data-ok='true']")).to_have_count(5)
    expect(checks).to_contain_text("CertificateVerify")
    shot(page, "certificate-tls13-guided-phone")
    screen(page, checks, "certificate-tls13-guided-phone-screen")
