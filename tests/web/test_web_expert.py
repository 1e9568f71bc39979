"""In Chromium: an expert computes its own master secret, key block and Finished with the
workbench and plays them; a student reads further, and a quiz's first answer scores —
including a prediction built on the student's own values."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .test_web_student import SETTLED, choose, open_solo, play


def compute(page: Page, op: str, **args: str) -> str:
    """Runs one workbench operation and returns its hex result (the newest result)."""
    bench = page.get_by_test_id("workbench")
    bench.get_by_test_id("workbench-op").select_option(op)
    for name, value in args.items():
        field = bench.get_by_test_id(f"workbench-{name}")
        if name == "hash":
            field.select_option(value)
        else:
            field.fill(value)
    results = bench.get_by_test_id("workbench-result")
    before = results.count()
    bench.get_by_test_id("workbench-compute").click()
    expect(results).to_have_count(min(before + 1, 8))
    expect(bench.get_by_test_id("workbench-status")).to_contain_text("bytes computed")
    return results.first.locator("code").inner_text()


def test_an_expert_computes_its_keys_with_the_workbench_and_the_server_agrees(serve, new_page, shot) -> None:
    page = new_page("laptop")
    open_solo(page, serve.base, seat="client", difficulty="expert", variant="tls12-rsa")
    expect(page.get_by_test_id("workbench")).to_be_visible()
    play(page, "SendClientHello")
    play(page, "AcceptCertificate")
    play(page, "EncryptPremaster", choose(page, "to which public key", "the server certificate's public key"))
    # The move asks for six values, each with how it is made and never with the value.
    form = page.get_by_test_id("choice-form-DeriveAndSendFinished")
    expect(form).to_contain_text("RFC 5246 §8.1")
    # The form says which hash the suite's PRF uses, and how long its keys and IVs are.
    how = form.inner_text()
    sha = "sha384" if "SHA-384" in how else "sha256"
    k, iv = (int(n) for n in re.search(r"(\d+)-byte keys and (\d+)-byte IVs", how).groups())
    master = compute(page, "prf", hash=sha, secret="@pre_master_secret", label="master secret",
                     seed="@client_random + @server_random", length="48")
    assert re.fullmatch("[0-9a-f]{96}", master)
    block = compute(page, "prf", hash=sha, secret=master, label="key expansion",
                    seed="@server_random + @client_random", length=str(2 * k + 2 * iv))
    transcript = page.get_by_test_id("workbench").locator("[data-testid^='workbench-input-transcript:']")
    last = (transcript.last.get_attribute("data-testid") or "").removeprefix("workbench-input-")
    digest = compute(page, "hash", hash=sha, data=f"@{last}")
    verify = compute(page, "prf", hash=sha, secret=master, label="client finished", seed=digest, length="12")
    shot(page, "expert-workbench-laptop")
    count = int(page.get_by_test_id("verdicts").get_attribute("data-count") or "0")
    cut = [0, k, 2 * k, 2 * k + iv, 2 * k + 2 * iv]  # in bytes; two hex digits each
    keys = [block[2 * a:2 * b] for a, b in zip(cut, cut[1:], strict=False)]
    values = {"master_secret_hex": master, "client_write_key_hex": keys[0], "server_write_key_hex": keys[1],
              "client_write_iv_hex": keys[2], "server_write_iv_hex": keys[3], "verify_data_hex": verify}
    for name, value in values.items():
        page.get_by_test_id(f"field-DeriveAndSendFinished-{name}").fill(value)
    page.get_by_test_id("choice-DeriveAndSendFinished").click()
    expect(page.get_by_test_id("verdicts")).to_have_attribute("data-count", str(count + 1))
    expect(page.get_by_test_id("feedback")).to_contain_text("you computed every value yourself")
    expect(page.get_by_test_id("table-state")).to_have_attribute("data-kind", SETTLED)
    # The server opened the client's Finished with its own keys: the handshake goes on.
    expect(page.get_by_test_id("choice-form-VerifyFinished")).to_be_visible()
    bench = page.get_by_test_id("workbench")
    bench.get_by_test_id("workbench-op").select_option("hash")
    bench.get_by_test_id("workbench-data").fill("@server_key")
    bench.get_by_test_id("workbench-compute").click()
    expect(bench.get_by_test_id("workbench-status")).to_contain_text("no value named")
    page.set_viewport_size({"width": 375, "height": 740})
    shot(page, "expert-workbench-phone")


def test_further_reading_opens_beside_the_step_and_a_prediction_scores(serve, new_page, shot) -> None:
    page = new_page("phone")
    open_solo(page, serve.base, seat="client", difficulty="standard", variant="tls12-rsa")
    lesson = page.get_by_test_id("lesson")
    reading = page.get_by_test_id("read-more")
    expect(reading).to_contain_text("Read more")
    page.get_by_test_id("read-what-tls-hides").click()
    expect(lesson).to_contain_text("Encrypted Client Hello")
    back = page.get_by_test_id("lesson-back")
    expect(back).to_be_visible()
    shot(page, "read-more-phone")
    back.click()
    expect(page.get_by_test_id("read-what-tls-hides")).to_be_visible()

    play(page, "SendClientHello")
    play(page, "AcceptCertificate")
    quiz = page.get_by_test_id("quiz")
    predict = quiz.locator("form", has=page.locator(".badge-predict"))
    expect(predict).to_have_count(1)
    question = predict.locator("legend").inner_text()
    bits = int(re.search(r"(\d+)-bit", question).group(1))
    score = page.get_by_test_id("score-client").locator(".points")
    before = int(score.inner_text())
    predict.get_by_label(f"{bits // 8} bytes", exact=True).check()
    predict.get_by_role("button", name="Check my answer").click()
    expect(predict.locator(".quiz-result")).to_contain_text("✓ Correct.")
    expect(score).to_have_text(str(before + 3))
    # A retry teaches but never scores again.
    predict.get_by_role("button", name="Check my answer").click()
    expect(predict.locator(".quiz-result")).to_contain_text("✓ Correct.")
    expect(score).to_have_text(str(before + 3))
    shot(page, "prediction-phone")
