"""The byte inspector in a real Chromium: a TLS 1.3 client opens the server's encrypted flight.
Before it holds the handshake keys the Certificate record is ciphertext, said so; once it has
derived them (its certificate check), the open inspector shows the record decrypted with its
keys — the nonce, the real content type and the dissected Certificate. Screenshots at phone and
projector size, for a person to look at.

Every wait is on something the page shows (``expect``); nothing sleeps.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

SETTLED = re.compile(r"^(turn|ok|fail|stopped)$")


def open_solo_tls13_client(page: Page, base: str) -> None:
    page.goto(base)
    solo = page.get_by_test_id("solo-form")
    solo.get_by_label("Your name").fill("ines")
    solo.get_by_label("Seat").select_option("client")
    solo.get_by_label("Handshake").select_option("tls13")
    solo.get_by_label("Scenario").select_option("honest")
    solo.get_by_label("Difficulty").select_option("guided")
    solo.get_by_role("button", name="Play solo").click()
    page.wait_for_url("**/play.html")
    expect(page.get_by_test_id("seat")).to_contain_text("the client")


def play(page: Page, action: str) -> None:
    """Click one choice and wait for the referee's verdict on it."""
    count = int(page.get_by_test_id("verdicts").get_attribute("data-count") or "0")
    expect(page.get_by_test_id(f"choice-form-{action}")).to_be_visible()
    page.get_by_test_id(f"choice-{action}").click()
    expect(page.get_by_test_id("verdicts")).to_have_attribute("data-count", str(count + 1))
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", SETTLED)


def wire_item(page: Page, label: str) -> Locator:
    name = page.locator(".wire-label", has_text=re.compile(f"^{label}$"))
    item = page.locator("#wire > li").filter(has=name)
    expect(item).to_have_count(1)
    return item


@pytest.mark.parametrize("size", ["phone", "projector"])
def test_the_client_sees_the_certificate_decrypted_with_its_keys(serve, new_page, shot, size: str) -> None:
    page = new_page(size)
    open_solo_tls13_client(page, serve.base)
    play(page, "SendClientHello")

    # The server's flight has arrived, but the client has not derived the handshake keys yet.
    certificate = wire_item(page, "Certificate")
    certificate.locator("summary").click()
    fields = certificate.locator(".inspector-fields").first
    expect(fields).to_contain_text("legacy_record_version")
    expect(fields).to_contain_text("encrypted: you do not hold the keys")
    expect(certificate.get_by_test_id("inspector-decrypted-0")).to_have_count(0)
    certificate.get_by_role("button", name=re.compile(r"^legacy_record_version")).focus()
    explain = certificate.get_by_test_id("inspector-explain")
    expect(explain).to_contain_text("RFC 8446 §5.1")

    # Checking the certificate derives the handshake keys: the open inspector now opens the record.
    play(page, "AcceptCertificate")
    opened = certificate.get_by_test_id("inspector-decrypted-0")
    expect(opened).to_be_visible()
    expect(opened).to_contain_text("decrypted with your keys")
    expect(certificate.locator(".opened-mark")).to_have_text("✓ decrypted with your keys")
    expect(opened.get_by_role("button", name=re.compile(r"^certificate\b")).first).to_be_visible()
    expect(opened.get_by_role("button", name=re.compile(r"^opened with server_handshake_traffic_secret"))
           ).to_be_visible()
    nonce = opened.get_by_role("button", name=re.compile(r"^nonce [0-9a-f]{24}$"))
    nonce.focus()
    expect(opened.get_by_test_id("inspector-decrypted-explain")).to_contain_text("RFC 8446 §5.3")
    # The real content type, inside the encryption; the key itself is never shown.
    expect(opened.get_by_role("button", name=re.compile(r"^type 22 \(handshake\)"))).to_be_visible()
    nonce.scroll_into_view_if_needed()
    full = shot(page, f"inspector-decrypted-{size}")
    # The message alone as well: a whole phone page is too tall to look at.
    certificate.screenshot(path=str(full.with_name(f"inspector-decrypted-{size}-message.png")))

    # The ClientHello's version, explained for TLS 1.3.
    hello = wire_item(page, "ClientHello")
    hello.locator("summary").click()
    legacy = hello.get_by_role("button", name=re.compile(r"^legacy_version"))
    expect(legacy).to_contain_text("0x0303")
    legacy.focus()
    expect(hello.get_by_test_id("inspector-explain")).to_contain_text("frozen for middleboxes")
