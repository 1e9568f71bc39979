"""The lesson cards: every step and scenario has one, every card is well formed, every quiz has
one right answer, and a card rendered for a seat shows that seat's values and no one else's secrets."""

from __future__ import annotations

import datetime
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from handshake_game import lessons
from handshake_game.bots import play_table
from handshake_game.game import Referee, Scenario, Seat, Variant, apply, view
from handshake_game.game.catalog import CATALOG, steps_for
from handshake_game.game.eavesdropper import DECRYPT_LESSON, DECRYPT_STEP
from handshake_game.game.facts import ItemStored, StepDone, TableOpened
from handshake_game.game.fold import initial_state
from handshake_game.game.model import supports
from handshake_game.game.state import TableState
from handshake_game.tls.pki import generate_rsa_key

ROOT = Path(__file__).resolve().parent.parent
KEYS = [generate_rsa_key() for _ in range(4)]

VOCABULARY = [
    "asymmetric encryption", "symmetric encryption", "cipher suite", "digital certificate",
    "certificate authority", "CSR", "chain of trust", "client random", "server random",
    "premaster secret", "master secret", "session keys", "Finished", "transcript hash",
    "Diffie-Hellman parameters", "forward secrecy", "mutual authentication",
]


def referee(seed: int = 7) -> Referee:
    keys = iter(KEYS * 4)
    return Referee(rng=random.Random(seed).randbytes, now=lambda: datetime.datetime.now(datetime.UTC),
                   rsa_keys=lambda: next(keys))


@pytest.fixture(scope="module")
def cards() -> dict[str, lessons.Card]:
    return lessons.load_cards(ROOT / "lessons")


def test_lessons_command_passes() -> None:
    done = subprocess.run([sys.executable, "-m", "handshake_game", "lessons"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MISSING" not in done.stdout
    for variant in CATALOG:
        assert f"\n{variant.value}\n" in "\n" + done.stdout
    assert "scenario-key-leak" in done.stdout


def test_every_step_and_scenario_has_a_card(cards: dict[str, lessons.Card]) -> None:
    rows = lessons.coverage(cards)
    assert not [row for row in rows if row.missing]
    played = {(v.value, step.id) for v in CATALOG for s in Scenario for step in steps_for(v, s)
              if supports(v, s)}
    assert played <= {(row.variant, row.step) for row in rows if row.subject == "step"}
    scenario_cards = {row.lesson for row in rows if row.subject == "scenario"}
    assert scenario_cards == {f"scenario-{s.value}" for s in Scenario}
    assert {f"overview-{v.value}" for v in CATALOG} <= set(cards)
    assert {"tls13-client-hello", "tls13-server-flight", "tls13-key-schedule"} <= set(cards)


def test_front_matter_is_truthful(cards: dict[str, lessons.Card]) -> None:
    assert lessons.drift(lessons.coverage(cards), cards) == []
    for card in cards.values():
        assert card.path.name == f"{card.id}.md"
        assert card.title and card.key_terms and card.body.strip()


def test_every_quiz_has_exactly_one_correct_answer(cards: dict[str, lessons.Card]) -> None:
    for card in cards.values():
        assert card.quiz, card.id
        for question in card.quiz:
            assert 0 <= question.correct < len(question.choices) >= 2, card.id
            assert len(set(question.choices)) == len(question.choices), card.id
            assert question.explanation.strip(), card.id


def test_the_vocabulary_is_covered(cards: dict[str, lessons.Card]) -> None:
    terms = {term.lower() for card in cards.values() for term in card.key_terms}
    text = " ".join(card.body.lower() for card in cards.values())
    for word in VOCABULARY:
        assert word.lower() in terms or word.lower() in text, word


def test_lesson_for_follows_the_catalog(cards: dict[str, lessons.Card]) -> None:
    assert lessons.lesson_for("client.hello", cards=cards).id == "client-hello"
    assert lessons.lesson_for("server.hello", Variant.TLS12_ECDHE, cards=cards).id == "server-key-exchange"
    assert lessons.lesson_for("eavesdropper.send_csr", scenario=Scenario.ROGUE_CSR, cards=cards).id == \
        "rogue-csr"
    with pytest.raises(lessons.LessonMissing):
        lessons.lesson_for("nobody.dances", cards=cards)


GOOD = """---
id: sample
title: A sample
variants: [tls12-rsa]
steps: [client.hello]
scenarios: []
key_terms: [client random]
quiz:
  - question: Pick one
    choices:
      - "this one: yes"
      - that one
    correct: 0
    explanation: Because.
---
Your random: {{client_random}}
"""

MALFORMED = {
    "two correct answers": (GOOD.replace("correct: 0", "correct: [0, 1]"), "exactly one correct"),
    "correct out of range": (GOOD.replace("correct: 0", "correct: 2"), "there are 2 choices"),
    "no quiz": (GOOD.split("quiz:")[0] + "---\nbody\n", "lacks quiz"),
    "unknown placeholder": (GOOD.replace("client_random", "server_private_key"), "unknown placeholders"),
    "unclosed front matter": (GOOD.replace("---\nYour", "Your"), "not closed"),
    "bad indentation": (GOOD.replace("    correct: 0", "     correct: 0"), "indentation"),
    "unknown key": (GOOD.replace("title:", "colour: red\ntitle:"), "unknown keys: colour"),
    "no explanation": (GOOD.replace("    explanation: Because.\n", ""), "lacks explanation"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_card_is_reported_with_its_file_name(case: str, tmp_path: Path) -> None:
    text, problem = MALFORMED[case]
    (tmp_path / "sample.md").write_text(text)
    with pytest.raises(lessons.CardsInvalid) as caught:
        lessons.load_cards(tmp_path)
    assert "sample.md" in str(caught.value)
    assert problem in str(caught.value)


def test_the_command_fails_on_a_malformed_card(tmp_path: Path, cards: dict[str, lessons.Card]) -> None:
    for card in cards.values():
        (tmp_path / card.path.name).write_text(card.path.read_text())
    (tmp_path / "client-hello.md").write_text(GOOD.replace("id: sample", "id: client-hello")
                                              .replace("correct: 0", "correct: 5"))
    done = subprocess.run([sys.executable, "-m", "handshake_game", "lessons", "--dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "client-hello.md" in done.stdout
    (tmp_path / "client-hello.md").unlink()
    done = subprocess.run([sys.executable, "-m", "handshake_game", "lessons", "--dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "MISSING client-hello" in done.stdout


def test_a_good_card_parses(tmp_path: Path) -> None:
    (tmp_path / "sample.md").write_text(GOOD)
    card = lessons.load_cards(tmp_path)["sample"]
    assert card.quiz[0].choices == ("this one: yes", "that one")
    assert card.quiz[0].correct == 0
    assert card.steps == ("client.hello",)
    shown = lessons.render(card, {"wallet": {}, "wire": []})
    assert "Your random: (not yet known)" in shown


SCENARIOS_TO_PLAY = [Scenario.HONEST, Scenario.TAMPER, Scenario.ROGUE_CSR, Scenario.KEY_LEAK]


@pytest.mark.parametrize("variant", list(CATALOG))
@pytest.mark.parametrize("scenario", SCENARIOS_TO_PLAY)
def test_placeholders_resolve_and_show_no_other_seats_secret(
        variant: Variant, scenario: Scenario, cards: dict[str, lessons.Card]) -> None:
    if not supports(variant, scenario):
        pytest.skip(f"{scenario.value} is not staged for {variant.value}")
    run = play_table(variant, scenario, referee())
    opened = run.facts[0]
    assert isinstance(opened, TableOpened)
    state = initial_state(opened)
    secrets: list[tuple[Seat, str, str]] = []
    checked = 0
    for fact in run.facts:
        state = apply(state, fact)
        if isinstance(fact, ItemStored) and fact.secret and fact.value:
            secrets.append((fact.seat, fact.name, fact.value.hex()))
        if not isinstance(fact, StepDone) and fact is not run.facts[-1]:
            continue
        step = next(s for s in state.steps if s.id == fact.step) if isinstance(fact, StepDone) else None
        for seat in Seat:
            seat_view = view(state, seat)
            own = {item["value"] for item in seat_view["wallet"].values()}
            shown_cards = [cards[f"scenario-{scenario.value}"], cards[f"overview-{variant.value}"]]
            if step is not None:
                shown_cards.append(cards[step.lesson])
            for card in shown_cards:
                text = lessons.render(card, seat_view)
                checked += 1
                assert "{{" not in text and "}}" not in text, card.id
                for holder, name, secret_hex in secrets:
                    if holder is not seat and secret_hex not in own:
                        assert secret_hex not in text, f"{card.id} shows {holder.value}'s {name} to {seat}"
    assert checked
    if scenario is Scenario.HONEST:
        _own_values_appear(run.state, cards)


def _own_values_appear(state: TableState, cards: dict[str, lessons.Card]) -> None:
    client_view = view(state, Seat.CLIENT)
    wallet = client_view["wallet"]
    hello_card = "tls13-client-hello" if client_view["variant"] == "tls13" else "client-hello"
    hello = lessons.render(cards[hello_card], client_view)
    assert wallet["client_random"]["value"] in hello
    assert "shop.example" in hello
    finished = lessons.render(cards["finished"], client_view)
    assert wallet["master_secret"]["value"] in finished
    assert lessons.UNKNOWN not in finished.split("verify_data: ")[-1][:20]
    assert "TLS_" in lessons.render(cards["application-data"], client_view)
    # The eavesdropper sees the public randoms and the suite, but none of the keys.
    tapped = lessons.values_for(view(state, Seat.EAVESDROPPER))
    assert tapped["client_random"] == wallet["client_random"]["value"]
    assert tapped["cipher_suite"].startswith("TLS_")
    assert tapped["master_secret"] == lessons.UNKNOWN


def test_lessons_directory_default_honours_environment(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDSHAKE_LESSONS", str(tmp_path))
    assert lessons.default_directory() == tmp_path
    monkeypatch.delenv("HANDSHAKE_LESSONS")
    assert lessons.default_directory() == ROOT / "lessons"
    assert os.path.isdir(lessons.default_directory())


def _copy_cards(tmp_path: Path, cards: dict[str, lessons.Card]) -> None:
    for card in cards.values():
        (tmp_path / card.path.name).write_text(card.path.read_text())


def _report(directory: Path) -> tuple[int, str]:
    import io

    out = io.StringIO()
    return lessons.report(out, directory), out.getvalue()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"the plant does not apply to {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_the_real_cards_pass_the_check(cards: dict[str, lessons.Card]) -> None:
    code, printed = _report(ROOT / "lessons")
    assert code == 0, printed
    assert "drift:" not in printed and "unused:" not in printed and "MISSING" not in printed
    # The verdict outside the catalog is listed under the referee's own ids.
    assert "eavesdropper.try_decrypt     eavesdropper  key-leak  [verdict" in printed


def test_a_copy_of_the_real_cards_passes(tmp_path: Path, cards: dict[str, lessons.Card]) -> None:
    """The baseline for the plants below: the copy alone does not fail the check."""
    _copy_cards(tmp_path, cards)
    code, printed = _report(tmp_path)
    assert code == 0, printed


PLANTS: dict[str, tuple[str, str, str, str]] = {
    # plant: (card file, text to replace, replacement, the line the check must print)
    "a card's steps omit a step the catalog gives it": (
        "finished.md", "client.verify_finished, ", "",
        "drift: finished.md: covers tls12-rsa client.verify_finished but its 'steps' omit it"),
    "a card's steps omit the referee's decryption verdict": (
        "key-leak.md", "steps: [eavesdropper.try_decrypt]", "steps: []",
        "drift: key-leak.md: covers tls12-rsa eavesdropper.try_decrypt but its 'steps' omit it"),
    "a card's variants omit a variant that plays its step": (
        "finished.md", ", tls13]", "]",
        "drift: finished.md: covers tls13 server.verify_finished but its 'variants' omit tls13"),
    "a scenario card's variants omit a variant that stages it": (
        "scenario-tamper.md", ", tls13]", "]",
        "drift: scenario-tamper.md: is the scenario card for tamper at tls13 tables but its 'variants' "
        "omit tls13"),
    "a card names a step no variant plays": (
        "finished.md", "steps: [", "steps: [client.teleport, ",
        "drift: finished.md: names step client.teleport, which no variant plays"),
    "a card names a step the catalog teaches with other cards": (
        "finished.md", "steps: [", "steps: [client.hello, ",
        "drift: finished.md: names step client.hello, which the game teaches with client-hello, "
        "tls13-client-hello"),
    "a card names a variant that never shows it": (
        "client-hello.md", "variants: [tls12-rsa", "variants: [tls13, tls12-rsa",
        "drift: client-hello.md: names variant tls13, but no tls13 step, verdict, scenario or overview "
        "shows this card"),
    "a card names a variant that does not exist": (
        "finished.md", "variants: [", "variants: [sslv3, ",
        "malformed card: finished.md: unknown variants: sslv3"),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_drift_fails_the_check(tmp_path: Path, cards: dict[str, lessons.Card], plant: str) -> None:
    name, old, new, expected = PLANTS[plant]
    _copy_cards(tmp_path, cards)
    _edit(tmp_path / name, old, new)
    code, printed = _report(tmp_path)
    assert code == 1, printed
    assert expected in printed.splitlines(), printed


def test_an_unused_card_fails_the_check(tmp_path: Path, cards: dict[str, lessons.Card]) -> None:
    _copy_cards(tmp_path, cards)
    # (its wrong choice is the longer one, so that the card's quiz gives nothing away)
    (tmp_path / "orphan.md").write_text(GOOD.replace("id: sample", "id: orphan")
                                        .replace("- that one", "- that one, not this one"))
    code, printed = _report(tmp_path)
    assert code == 1, printed
    assert "unused: cards no step, verdict, scenario or overview uses: orphan" in printed.splitlines()
    assert "0 item(s) lack a lesson card, 0 drift(s), 1 unused card(s), 0 quiz tell(s)" in printed


@pytest.mark.parametrize(("card_file", "expected"), [
    ("tamper.md", "  eavesdropper.tamper          eavesdropper  MISSING tamper  [tamper]"),
    ("key-leak.md", "  eavesdropper.try_decrypt     eavesdropper  MISSING key-leak  [verdict, any scenario]"),
    ("scenario-replay.md", "  replay                       MISSING scenario-replay"),
    ("overview-tls13.md", "  tls13                        MISSING overview-tls13"),
])
def test_a_missing_card_fails_the_check(tmp_path: Path, cards: dict[str, lessons.Card],
                                        card_file: str, expected: str) -> None:
    _copy_cards(tmp_path, cards)
    (tmp_path / card_file).unlink()
    code, printed = _report(tmp_path)
    assert code == 1, printed
    assert expected in printed.splitlines(), printed


@pytest.fixture(scope="module")
def verdicts_in_play() -> set[tuple[Seat, str, str]]:
    """(seat, step, lesson) of every verdict bots meet in every staged table: honest players,
    an attacking eavesdropper, a client that trusts any certificate, players who always slip."""
    from handshake_game.bots import CarelessBot, HonestBot, TrustingBot
    from handshake_game.game import decide
    from handshake_game.game.actions import TryDecrypt
    from handshake_game.game.facts import Verdict

    seen: set[tuple[Seat, str, str]] = set()
    tables = 0
    for variant in CATALOG:
        for scenario in Scenario:
            if not supports(variant, scenario):
                continue
            careless: dict[Seat, HonestBot] = {seat: CarelessBot(rate=1.0, random=random.Random(1))
                                               for seat in (Seat.CLIENT, Seat.SERVER)}
            trusting: dict[Seat, HonestBot] = {Seat.CLIENT: TrustingBot()}
            for bots in ({}, trusting, careless):
                run = play_table(variant, scenario, referee(), bots=bots)
                facts = list(run.facts)
                if not run.state.decryptions:  # a human eavesdropper may try at any table's end
                    facts += decide(run.state, Seat.EAVESDROPPER, TryDecrypt(), referee())
                seen |= {(f.seat, f.step, f.lesson) for f in facts if isinstance(f, Verdict)}
                tables += 1
    assert tables >= 3 * 39
    return seen


def _known_verdicts(declared: tuple[tuple[Seat, str, str], ...]) -> set[tuple[Seat, str, str]]:
    known = {(step.seat, step.id, step.lesson) for variant in CATALOG for scenario in Scenario
             if supports(variant, scenario) for step in steps_for(variant, scenario)}
    return known | set(declared)


def test_every_verdict_the_referee_gives_is_in_the_catalog_or_declared(
        verdicts_in_play: set[tuple[Seat, str, str]]) -> None:
    """The check's steps and verdicts are complete: every verdict met in play cites a seat, a
    step and a lesson the catalog or the declared off-catalog verdicts give."""
    assert len(verdicts_in_play) > 20  # the scan got far: PKI, handshake, attacks and decryption
    assert verdicts_in_play - _known_verdicts(lessons.OFF_CATALOG_VERDICTS) == set()
    # Every declared verdict really occurs, under the referee's own ids.
    assert set(lessons.OFF_CATALOG_VERDICTS) <= verdicts_in_play
    assert (Seat.EAVESDROPPER, DECRYPT_STEP, DECRYPT_LESSON) in lessons.OFF_CATALOG_VERDICTS
    assert (Seat.EAVESDROPPER, DECRYPT_STEP, "key-leak") in lessons.OFF_CATALOG_VERDICTS


def test_the_verdict_scan_catches_an_undeclared_verdict(verdicts_in_play: set[tuple[Seat, str, str]]) -> None:
    """The scan above can fail: without the declared list, the decryption verdicts given off
    the catalog's steps (after a failed handshake, at a relaying man in the middle) are unknown."""
    undeclared = verdicts_in_play - _known_verdicts(())
    assert undeclared and undeclared == set(lessons.OFF_CATALOG_VERDICTS) - _known_verdicts(())


def test_no_quiz_gives_its_answers_away(cards: dict[str, lessons.Card]) -> None:
    """The right choice is the longest in at most half of each card's questions, and no stored
    position holds the right answer too often or too rarely."""
    assert lessons.quiz_tells(cards) == []
    for card in cards.values():
        assert sum(map(lessons.longest_is_correct, card.quiz)) * 2 <= len(card.quiz), card.id


def _make_longest_right(path: Path) -> None:
    """Plant the tell: pad every right choice of the card until it is strictly the longest."""
    card = lessons.load_card(path)
    text = path.read_text()
    for question in card.quiz:
        right = question.choices[question.correct]
        longest = max(len(choice) for choice in question.choices)
        padded = right + ", as the RFC requires" + "!" * max(0, longest - len(right))
        old = f"      - {right}\n" if f"      - {right}\n" in text else f"      - {json.dumps(right)}\n"
        assert old in text, f"the plant does not apply to {path.name}"
        text = text.replace(old, f"      - {json.dumps(padded)}\n", 1)
    path.write_text(text)


def test_a_card_whose_right_choice_is_the_longest_fails_the_check(
        tmp_path: Path, cards: dict[str, lessons.Card]) -> None:
    _copy_cards(tmp_path, cards)
    _make_longest_right(tmp_path / "finished.md")
    planted = lessons.load_card(tmp_path / "finished.md")
    assert all(map(lessons.longest_is_correct, planted.quiz))
    code, printed = _report(tmp_path)
    assert code == 1, printed
    count = len(planted.quiz)
    assert (f"quiz: finished.md: the right choice is the longest in {count} of {count} questions "
            "(at most half may be)") in printed.splitlines(), printed


def _move_right_answers_to(path: Path, position: int) -> None:
    """Plant the other tell: reorder the card's choices so the right one is stored at ``position``."""
    card = lessons.load_card(path)
    lines = path.read_text().splitlines(keepends=True)
    out: list[str] = []
    number = -1
    at = 0
    while at < len(lines):
        line = lines[at]
        if line.startswith("  - question:"):
            number += 1
        if line.strip() == "choices:" and number >= 0:
            question = card.quiz[number]
            block = lines[at + 1: at + 1 + len(question.choices)]
            right = block.pop(question.correct)
            block.insert(min(position, len(block)), right)
            out += [line, *block]
            at += 1 + len(question.choices)
            continue
        if line.startswith("    correct:") and number >= 0:
            line = f"    correct: {min(position, len(card.quiz[number].choices) - 1)}\n"
        out.append(line)
        at += 1
    path.write_text("".join(out))


def test_right_answers_piled_on_one_position_fail_the_check(
        tmp_path: Path, cards: dict[str, lessons.Card]) -> None:
    _copy_cards(tmp_path, cards)
    for path in tmp_path.glob("*.md"):
        _move_right_answers_to(path, 0)
    moved = lessons.load_cards(tmp_path)
    assert {(c.id, q.question, q.choices[q.correct]) for c in moved.values() for q in c.quiz} == \
        {(c.id, q.question, q.choices[q.correct]) for c in cards.values() for q in c.quiz}
    count = sum(len(c.quiz) for c in cards.values())
    code, printed = _report(tmp_path)
    assert code == 1, printed
    assert (f"quiz: choice 0 is the right one in {count} of the {count} questions that have it (100%; "
            "keep it between 10% and 40%)") in printed.splitlines(), printed


def test_a_position_never_right_fails_the_check(tmp_path: Path, cards: dict[str, lessons.Card]) -> None:
    _copy_cards(tmp_path, cards)
    for path in tmp_path.glob("*.md"):
        card = lessons.load_card(path)
        if any(q.correct == 3 for q in card.quiz):
            _move_right_answers_to(path, 2)
    code, printed = _report(tmp_path)
    assert code == 1, printed
    lines = printed.splitlines()
    assert any(line.startswith("quiz: choice 3 is the right one in 0 of ") for line in lines), printed
