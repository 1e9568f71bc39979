"""Lesson cards: loading, validating, mapping steps and scenarios to cards, and rendering a
card with one seat's own values.

A card is a Markdown file in ``lessons/`` with front matter between two ``---`` lines.
The front matter is a small, strict subset of YAML (parsed here, so an error names the
file and the line)::

    ---
    id: client-hello
    title: "ClientHello: the client's offer"
    variants: [tls12-rsa, tls12-ecdhe]
    steps: [client.hello]
    scenarios: []
    key_terms: [client random, cipher suite]
    quiz:
      - question: Why is the client random fresh for every handshake?
        choices:
          - So that every session gets its own keys
          - To compress the handshake
        correct: 0
        explanation: The randoms go into the master secret (RFC 5246 §8.1).
    ---
    The body, Markdown, with placeholders such as {{client_random}}.

Values are plain text to the end of the line, a double-quoted string (JSON escapes), or a
flow list ``[a, b]`` of plain items (no commas inside an item). ``#`` starts a comment
only at the beginning of a line.

Which card explains a step is the catalog's business (``Step.lesson``), and which card
explains a verdict is the referee's (``Verdict.lesson``); the card's ``steps`` and
``variants`` say what it is written for. ``handshake-game lessons`` (:func:`report`) fails
when the two drift apart, when a step, verdict, scenario or overview lacks its card, and
when a card is used by none of them, and when a quiz's answers can be guessed from the
choices' lengths or positions (:func:`quiz_tells`). A card renders only from ``view(state, seat)`` — the
seat's own wallet and wire — so it cannot show another seat's secret.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .game.catalog import CATALOG, READ_MORE, SCENARIO_READ_MORE, steps_for
from .game.eavesdropper import DECRYPT_LESSON, DECRYPT_LESSONS, DECRYPT_STEP
from .game.model import Scenario, Seat, Variant, supports
from .resources import resource_directory
from .tls import messages as m
from .tls.suites import suite_name

UNKNOWN = "(not yet known)"
REQUIRED_KEYS = ("id", "title", "variants", "steps", "scenarios", "key_terms", "quiz")
QUESTION_KEYS = ("question", "choices", "correct", "explanation")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

# Wallet items a card may show, by name (hex). Keys, certificates and CSRs are not shown:
# they are long, and a card is no place for a private key.
WALLET_PLACEHOLDERS = (
    "client_random", "server_random", "pre_master_secret", "master_secret",
    "client_write_key", "server_write_key",
)
DERIVED_PLACEHOLDERS = (
    "seat", "variant", "scenario", "server_name", "cipher_suite", "offered_suites", "verify_data",
)
PLACEHOLDERS = WALLET_PLACEHOLDERS + DERIVED_PLACEHOLDERS


def default_directory() -> Path:
    """``$HANDSHAKE_LESSONS``, else ``lessons/`` beside the package (a source checkout), else
    the installed copy (``resources``)."""
    return resource_directory("lessons", "HANDSHAKE_LESSONS")


# -- errors ------------------------------------------------------------------------------------

class LessonError(Exception):
    """Something wrong with the lesson cards."""


class CardError(LessonError):
    """A malformed card: names the file, and the line when there is one."""

    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        where = f"{path.name}:{line}" if line is not None else path.name
        super().__init__(f"{where}: {problem}")


class CardsInvalid(LessonError):
    """One or more cards are malformed (every problem, not only the first)."""

    def __init__(self, errors: list[CardError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class LessonMissing(LessonError, LookupError):
    """No card for a step or a lesson id."""


# -- the cards ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    question: str
    choices: tuple[str, ...]
    correct: int
    explanation: str


@dataclass(frozen=True)
class Card:
    id: str
    title: str
    variants: tuple[str, ...]
    steps: tuple[str, ...]
    scenarios: tuple[str, ...]
    key_terms: tuple[str, ...]
    quiz: tuple[Question, ...]
    body: str
    path: Path


# -- the front-matter parser (a strict YAML subset) ---------------------------------------------

@dataclass
class _Line:
    number: int
    indent: int
    text: str


class _FrontMatter:
    def __init__(self, path: Path, lines: list[_Line]) -> None:
        self.path = path
        self.lines = lines
        self.at = 0

    def fail(self, problem: str, line: _Line | None = None) -> CardError:
        return CardError(self.path, problem, line.number if line else None)

    def peek(self) -> _Line | None:
        return self.lines[self.at] if self.at < len(self.lines) else None

    def block(self, indent: int) -> Any:
        line = self.peek()
        if line is None or line.indent < indent:
            raise self.fail("expected an indented block", line)
        if line.text.startswith("- ") or line.text == "-":
            return self.sequence(line.indent)
        return self.mapping(line.indent)

    def mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while (line := self.peek()) is not None and line.indent >= indent:
            if line.indent > indent:
                raise self.fail("unexpected indentation", line)
            if line.text.startswith("-"):
                raise self.fail("a list item where a 'key: value' line belongs", line)
            self.at += 1
            key, value = self.key_value(line)
            if key in out:
                raise self.fail(f"duplicate key {key!r}", line)
            if value == "":
                following = self.peek()
                out[key] = self.block(indent + 1) if following and following.indent > indent else ""
            else:
                out[key] = self.scalar(value, line)
        return out

    def sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while (line := self.peek()) is not None and line.indent >= indent:
            if line.indent > indent:
                raise self.fail("unexpected indentation", line)
            if not (line.text.startswith("- ") or line.text == "-"):
                raise self.fail("expected a list item ('- ...')", line)
            item = line.text[1:].strip()
            if not item:
                raise self.fail("empty list item", line)
            if re.match(r"^[A-Za-z_]+:(\s|$)", item):
                # "- key: value": a mapping whose keys sit two columns in.
                self.lines[self.at] = _Line(line.number, indent + 2, item)
                out.append(self.mapping(indent + 2))
            else:
                self.at += 1
                out.append(self.scalar(item, line))
        return out

    def key_value(self, line: _Line) -> tuple[str, str]:
        match = re.match(r"^([A-Za-z_]+):(?:\s+(.*))?$", line.text)
        if match is None:
            raise self.fail(f"expected 'key: value', got {line.text!r}", line)
        return match.group(1), (match.group(2) or "").strip()

    def scalar(self, value: str, line: _Line) -> Any:
        if value.startswith('"'):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                raise self.fail(f"bad quoted string {value}", line) from None
            if not isinstance(parsed, str):
                raise self.fail(f"bad quoted string {value}", line)
            return parsed
        if value.startswith("["):
            if not value.endswith("]"):
                raise self.fail("a flow list must close with ']' on the same line", line)
            inner = value[1:-1].strip()
            items = [item.strip() for item in inner.split(",")] if inner else []
            if any(not item for item in items):
                raise self.fail("empty item in a flow list", line)
            return [json.loads(item) if item.startswith('"') else item for item in items]
        return value


def parse_card_text(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """The front matter (as plain data) and the Markdown body of one card file."""
    raw_lines = text.splitlines()
    if not raw_lines or raw_lines[0].strip() != "---":
        raise CardError(path, "the file must start with a '---' line (front matter)", 1)
    try:
        end = next(i for i in range(1, len(raw_lines)) if raw_lines[i].strip() == "---")
    except StopIteration:
        raise CardError(path, "the front matter is not closed by a '---' line") from None
    lines: list[_Line] = []
    for number, raw in enumerate(raw_lines[1:end], start=2):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise CardError(path, "indent with spaces, not tabs", number)
        lines.append(_Line(number, len(raw) - len(raw.lstrip(" ")), raw.strip()))
    parser = _FrontMatter(path, lines)
    if lines and lines[0].indent != 0:
        raise parser.fail("the front matter's keys start in the first column", lines[0])
    data = parser.mapping(0)
    if parser.peek() is not None:
        raise parser.fail("unexpected line", parser.peek())
    return data, "\n".join(raw_lines[end + 1:]).strip() + "\n"


# -- validation --------------------------------------------------------------------------------

def _strings(path: Path, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CardError(path, f"{key!r} must be a list of names, e.g. {key}: [a, b]")
    return tuple(value)


def _question(path: Path, number: int, data: Any) -> Question:
    where = f"quiz question {number}"
    if not isinstance(data, dict):
        raise CardError(path, f"{where} must be a mapping with {', '.join(QUESTION_KEYS)}")
    missing = [k for k in QUESTION_KEYS if k not in data]
    extra = sorted(set(data) - set(QUESTION_KEYS))
    if missing:
        raise CardError(path, f"{where} lacks {', '.join(missing)}")
    if extra:
        raise CardError(path, f"{where} has unknown keys: {', '.join(extra)}")
    if not isinstance(data["question"], str) or not data["question"].strip():
        raise CardError(path, f"{where} has an empty question")
    choices = data["choices"]
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise CardError(path, f"{where} needs a list of at least two choices")
    if len(set(choices)) != len(choices):
        raise CardError(path, f"{where} repeats a choice")
    correct = data["correct"]
    if isinstance(correct, list):
        raise CardError(path, f"{where} must have exactly one correct answer, not a list")
    if not isinstance(correct, str) or not correct.isdigit():
        raise CardError(path, f"{where}: 'correct' must be the index of the one right choice (0-based)")
    index = int(correct)
    if index >= len(choices):
        raise CardError(path, f"{where}: 'correct' is {index}, but there are {len(choices)} choices")
    if not isinstance(data["explanation"], str) or not data["explanation"].strip():
        raise CardError(path, f"{where} has no explanation")
    return Question(data["question"], tuple(choices), index, data["explanation"])


def card_from_text(text: str, path: Path) -> Card:
    data, body = parse_card_text(text, path)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise CardError(path, f"front matter lacks {', '.join(missing)}")
    unknown = sorted(set(data) - set(REQUIRED_KEYS))
    if unknown:
        raise CardError(path, f"front matter has unknown keys: {', '.join(unknown)}")
    card_id, title = data["id"], data["title"]
    if not isinstance(card_id, str) or not _ID.match(card_id):
        raise CardError(path, f"id {card_id!r} must be lowercase words joined by '-'")
    if path.stem != card_id:
        raise CardError(path, f"id {card_id!r} differs from the file name (expected {card_id}.md)")
    if not isinstance(title, str) or not title.strip():
        raise CardError(path, "the title is empty")
    variants = _strings(path, data, "variants")
    known_variants = {v.value for v in Variant}
    strange = [v for v in variants if v not in known_variants]
    if strange:
        raise CardError(path, f"unknown variants: {', '.join(strange)}")
    if not variants:
        raise CardError(path, "'variants' is empty: name the variants the card is written for")
    key_terms = _strings(path, data, "key_terms")
    if not key_terms:
        raise CardError(path, "'key_terms' is empty")
    quiz_data = data["quiz"]
    if not isinstance(quiz_data, list) or not quiz_data:
        raise CardError(path, "'quiz' must be a list of at least one question")
    quiz = tuple(_question(path, n, q) for n, q in enumerate(quiz_data, start=1))
    if not body.strip():
        raise CardError(path, "the card has no body")
    bad = sorted({name for name in _PLACEHOLDER.findall(body) if name not in PLACEHOLDERS})
    if bad:
        raise CardError(path, f"unknown placeholders: {', '.join(bad)} (known: {', '.join(PLACEHOLDERS)})")
    return Card(card_id, title.strip(), variants, _strings(path, data, "steps"),
                _strings(path, data, "scenarios"), key_terms, quiz, body, path)


def load_card(path: Path) -> Card:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(path, f"cannot read: {exc}") from None
    return card_from_text(text, path)


def load_cards(directory: Path | None = None) -> dict[str, Card]:
    """Every card in ``directory`` (``*.md`` except README.md), by id; :class:`CardsInvalid`
    listing every malformed file otherwise."""
    directory = directory or default_directory()
    if not directory.is_dir():
        raise LessonError(f"no lessons directory at {directory}")
    cards: dict[str, Card] = {}
    errors: list[CardError] = []
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            card = load_card(path)
        except CardError as exc:
            errors.append(exc)
            continue
        if card.id in cards:
            errors.append(CardError(path, f"id {card.id!r} is also used by {cards[card.id].path.name}"))
            continue
        cards[card.id] = card
    if errors:
        raise CardsInvalid(errors)
    return cards


# -- coverage: which card explains what ------------------------------------------------------------

@dataclass(frozen=True)
class Covered:
    """One step of a variant, one verdict the referee gives outside the steps, one scenario or
    one variant's overview, and its lesson."""

    subject: str  # "step", "verdict", "scenario", "overview", "more" (further reading)
    variant: str | None  # None for a scenario: it is shown at every variant that stages it
    step: str | None
    seat: str | None
    scenarios: tuple[str, ...]  # for steps: the scenarios in which it is played
    lesson: str
    card: Card | None
    what: str

    @property
    def missing(self) -> bool:
        return self.card is None

    @property
    def variants(self) -> tuple[str, ...]:
        """The variants at whose tables this row's card is shown."""
        if self.variant is not None:
            return (self.variant,)
        return tuple(v.value for v in CATALOG if any(supports(v, Scenario(s)) for s in self.scenarios))


def _scenarios(variant: Variant) -> list[Scenario]:
    """The scenarios the game stages for ``variant``."""
    return [scenario for scenario in Scenario if supports(variant, scenario)]


# The verdicts the referee gives outside the catalog's steps, as (seat, step, lesson) in the
# referee's own ids. Every other verdict judges a catalog step (``rules.ok``/``rules.mistake``
# take the step's id and lesson); the eavesdropper's decryption attempt (``TryDecrypt``) is a
# step only where it recorded to read later (``game.recording``): elsewhere it may try at any
# table once the handshake is over (``game.referee.decide``).
# tests/test_lessons.py plays every staged table with bots to prove this list complete.
OFF_CATALOG_VERDICTS: tuple[tuple[Seat, str, str], ...] = tuple(
    (Seat.EAVESDROPPER, DECRYPT_STEP, lesson)
    for lesson in sorted({DECRYPT_LESSON, *DECRYPT_LESSONS.values()}))


def _variant_steps(variant: Variant) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """(step id, seat, lesson, act, scenarios) for every step the variant plays in any scenario,
    catalog order first; a step id taught by different lessons in different scenarios appears
    once per lesson."""
    seen: dict[tuple[str, str], list[Any]] = {}
    for scenario in _scenarios(variant):
        for step in steps_for(variant, scenario):
            entry = seen.setdefault((step.id, step.lesson), [step.seat.value, step.act, []])
            if scenario.value not in entry[2]:
                entry[2].append(scenario.value)
    return [(step_id, seat, lesson, act, tuple(scenarios))
            for (step_id, lesson), (seat, act, scenarios) in seen.items()]


def coverage(cards: Mapping[str, Card] | None = None) -> list[Covered]:
    """Every step of every variant (all scenarios), every verdict the referee gives outside
    them, every scenario and every variant's overview, with the card that covers it (``card``
    is None when it is missing)."""
    cards = load_cards() if cards is None else cards
    rows: list[Covered] = []
    for variant in CATALOG:
        for step_id, seat, lesson, act, scenarios in _variant_steps(variant):
            rows.append(Covered("step", variant.value, step_id, seat, scenarios, lesson,
                                cards.get(lesson), act))
        for verdict_seat, step_id, lesson in OFF_CATALOG_VERDICTS:
            rows.append(Covered("verdict", variant.value, step_id, verdict_seat.value, (), lesson,
                                cards.get(lesson), "a verdict outside the catalog's steps"))
    for scenario in Scenario:
        lesson = f"scenario-{scenario.value}"
        rows.append(Covered("scenario", None, None, None, (scenario.value,), lesson, cards.get(lesson),
                            scenario.value))
    for variant in CATALOG:
        lesson = f"overview-{variant.value}"
        rows.append(Covered("overview", variant.value, None, None, (), lesson, cards.get(lesson),
                            variant.value))
    return rows + _read_more_rows(cards)


def _read_more_rows(cards: Mapping[str, Card]) -> list[Covered]:
    """The catalog's further-reading links (``READ_MORE``, ``SCENARIO_READ_MORE``): a step's
    link at each variant the card is written for (a missing card at every variant)."""
    rows: list[Covered] = []
    for variant in CATALOG:
        linked: set[str] = set()
        for step_id, seat, _lesson, act, scenarios in _variant_steps(variant):
            if step_id in linked:
                continue
            linked.add(step_id)
            for lesson in READ_MORE.get(step_id, ()):
                card = cards.get(lesson)
                if card is None or variant.value in card.variants:
                    rows.append(Covered("more", variant.value, step_id, seat, scenarios, lesson, card, act))
    for scenario, lessons in SCENARIO_READ_MORE.items():
        rows += [Covered("more", None, None, None, (scenario.value,), lesson, cards.get(lesson),
                         f"scenario {scenario.value}") for lesson in lessons]
    return rows


def read_more(step_id: str | None, variant: Variant | str, scenario: Scenario | str | None,
              cards: Mapping[str, Card] | None = None) -> list[Card]:
    """The further-reading cards beside a step's card (at its variant), then beside the
    scenario's (``scenario`` None when the seat may not know it yet), each once."""
    cards = load_cards() if cards is None else cards
    variant = Variant(variant).value
    ids = list(READ_MORE.get(step_id or "", ()))
    if scenario is not None:
        ids += SCENARIO_READ_MORE.get(Scenario(scenario), ())
    found = [cards[i] for i in dict.fromkeys(ids) if i in cards]
    return [card for card in found if variant in card.variants]


def drift(rows: Iterable[Covered], cards: Mapping[str, Card] | None = None) -> list[str]:
    """Where a card's front matter and the game disagree. From ``rows`` (:func:`coverage`): a
    step or verdict whose card's ``steps`` omit its id, or whose card's ``variants`` omit its
    variant; a scenario or overview whose card's ``variants`` omit a variant it is shown at.
    With ``cards``, also: a card naming a step id or variant the game does not have, or (for a
    card that is used at all) one that never shows this card."""
    rows = list(rows)
    notes = []
    for row in rows:
        if row.card is None:
            continue
        name = row.card.path.name
        if row.subject == "more":
            if row.step is not None and row.step not in row.card.steps:
                notes.append(f"{name}: is linked from {row.variant} {row.step} but its 'steps' omit it")
            if row.step is None and row.scenarios[0] not in row.card.scenarios:
                notes.append(f"{name}: is linked from the {row.scenarios[0]} scenario but its 'scenarios' "
                             "omit it")
        elif row.subject in ("step", "verdict"):
            if row.step not in row.card.steps:
                notes.append(f"{name}: covers {row.variant} {row.step} but its 'steps' omit it")
            if row.variant not in row.card.variants:
                notes.append(f"{name}: covers {row.variant} {row.step} but its 'variants' omit "
                             f"{row.variant}")
        else:
            notes += [f"{name}: is the {row.subject} card for {row.what} at {variant} tables but its "
                      f"'variants' omit {variant}"
                      for variant in row.variants if variant not in row.card.variants]
    if cards is not None:
        step_ids = {row.step for row in rows if row.step is not None}
        variant_ids = {variant.value for variant in CATALOG}
        for card in cards.values():
            uses = [row for row in rows if row.lesson == card.id]
            taught = {row.step for row in uses}
            shown_at = {variant for row in uses for variant in row.variants}
            for step_id in card.steps:
                if step_id not in step_ids:
                    notes.append(f"{card.path.name}: names step {step_id}, which no variant plays")
                elif uses and step_id not in taught:
                    others = sorted({row.lesson for row in rows
                                     if row.step == step_id and row.subject != "more"})
                    notes.append(f"{card.path.name}: names step {step_id}, which the game teaches with "
                                 f"{', '.join(others)}")
            for variant in card.variants:
                if variant not in variant_ids:
                    notes.append(f"{card.path.name}: names variant {variant}, which does not exist")
                elif uses and variant not in shown_at:
                    notes.append(f"{card.path.name}: names variant {variant}, but no {variant} step, "
                                 "verdict, scenario or overview shows this card")
    return sorted(set(notes))


# A quiz must not be answerable without the lesson: the right choice may not be the longest
# one in most of a card's questions, and the right answers' stored positions must be spread.
# (The server shuffles the displayed order per seat, but the cards themselves should be sound.)
MAX_POSITION_SHARE = 0.40  # no position is right for more than 40% of the questions offering it
MIN_POSITION_SHARE = 0.10  # ... nor for fewer than 10%, once at least MIN_POSITION_OFFERS offer it
MIN_POSITION_OFFERS = 10


def longest_is_correct(question: Question) -> bool:
    """True when the right choice is strictly the longest, in characters."""
    right = len(question.choices[question.correct])
    return all(right > len(choice) for n, choice in enumerate(question.choices) if n != question.correct)


def quiz_tells(cards: Mapping[str, Card]) -> list[str]:
    """Where the quizzes give their answers away: a card whose right choice is strictly the
    longest in more than half of its questions, and (over the whole catalogue) a position that
    holds the right answer for more than :data:`MAX_POSITION_SHARE` or (when enough questions
    offer it) fewer than :data:`MIN_POSITION_SHARE` of the questions that offer that position."""
    notes = []
    for lesson in cards.values():
        tells = sum(longest_is_correct(q) for q in lesson.quiz)
        if tells * 2 > len(lesson.quiz):
            notes.append(f"{lesson.path.name}: the right choice is the longest in {tells} of "
                         f"{len(lesson.quiz)} questions (at most half may be)")
    questions = [q for lesson in cards.values() for q in lesson.quiz]
    for position in range(max((len(q.choices) for q in questions), default=0)):
        offering = [q for q in questions if len(q.choices) > position]
        right = sum(q.correct == position for q in offering)
        share = right / len(offering)
        too_rare = len(offering) >= MIN_POSITION_OFFERS and share < MIN_POSITION_SHARE
        if share > MAX_POSITION_SHARE or too_rare:
            notes.append(f"choice {position} is the right one in {right} of the {len(offering)} questions "
                         f"that have it ({share:.0%}; keep it between {MIN_POSITION_SHARE:.0%} and "
                         f"{MAX_POSITION_SHARE:.0%})")
    return notes


def lesson_for(step_id: str, variant: Variant | str | None = None, scenario: Scenario | str | None = None,
               cards: Mapping[str, Card] | None = None) -> Card:
    """The card for a step, as the catalog assigns it. Without ``variant`` (or ``scenario``)
    the first variant (scenario) in catalog order that plays the step decides."""
    cards = load_cards() if cards is None else cards
    variants = [Variant(variant)] if variant is not None else list(CATALOG)
    scenarios = [Scenario(scenario)] if scenario is not None else list(Scenario)
    for v in variants:
        for s in scenarios:
            for step in steps_for(v, s):
                if step.id == step_id:
                    card = cards.get(step.lesson)
                    if card is None:
                        raise LessonMissing(f"step {step_id} needs lesson {step.lesson!r}, which has no card")
                    return card
    raise LessonMissing(f"no variant plays a step {step_id!r}")


def card(lesson_id: str, cards: Mapping[str, Card] | None = None) -> Card:
    cards = load_cards() if cards is None else cards
    try:
        return cards[lesson_id]
    except KeyError:
        raise LessonMissing(f"no card {lesson_id!r}") from None


# -- rendering with the seat's own values -------------------------------------------------------

def _handshake_messages(view: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(how it came, message) for each plaintext handshake message on the seat's own wire.
    Encrypted records and anything that does not decode are skipped."""
    out: list[tuple[str, Any]] = []
    for entry in view.get("wire", []):
        if entry.get("content_type") != 22:
            continue
        message = _decoded(entry["bytes"])
        if message is not None:
            out.append((entry.get("event", ""), message))
    return out


@functools.lru_cache(maxsize=4096)
def _decoded(record_hex: str) -> Any:
    """A handshake record's message, or None (a sealed Finished, a tampered byte: nothing to
    show). Cached: every view of a table renders its card from the same few records."""
    try:
        return m.decode_handshake(bytes.fromhex(record_hex)[5:])
    except Exception:
        return None


def _latest(view: Mapping[str, Any], kind: type) -> Any:
    found = [(event, msg) for event, msg in _handshake_messages(view) if isinstance(msg, kind)]
    # The latest session's; what reached this seat is what it acted on, what it sent comes next.
    for event, msg in reversed(found):
        if event == "delivered":
            return msg
    return found[-1][1] if found else None


def _server_name(view: Mapping[str, Any]) -> str | None:
    hello = _latest(view, m.ClientHello)
    if hello is not None:
        sni = hello.extension(m.ExtensionType.server_name)
        if sni is not None:
            try:
                name = m.parse_server_name(sni)
            except Exception:
                name = None
            if name:
                return name
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    wallet = view.get("wallet", {})
    for item_name in ("server_certificate", "server_csr", "received_csr"):
        item = wallet.get(item_name)
        if item is None:
            continue
        try:
            raw = bytes.fromhex(item["value"])
            loaded: Any = (x509.load_der_x509_certificate(raw) if item["kind"] == "certificate"
                           else x509.load_der_x509_csr(raw))
            names = loaded.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        except Exception:
            continue
        if names:
            return str(names[0].value)
    return None


def values_for(view: Mapping[str, Any]) -> dict[str, str]:
    """Every placeholder's value from one seat's view; absent ones are :data:`UNKNOWN`."""
    wallet = view.get("wallet", {})
    values = {name: UNKNOWN for name in PLACEHOLDERS}
    for name in WALLET_PLACEHOLDERS:
        item = wallet.get(name)
        if item is not None and item.get("value"):
            values[name] = item["value"]
    for name in ("seat", "variant", "scenario"):
        if view.get(name):
            values[name] = str(view[name])
    values["server_name"] = _server_name(view) or UNKNOWN
    server_hello = _latest(view, m.ServerHello)
    if server_hello is not None:
        values["cipher_suite"] = suite_name(server_hello.cipher_suite)
        if values["server_random"] == UNKNOWN:  # public: it came in the clear on this seat's wire
            values["server_random"] = server_hello.random.hex()
    client_hello = _latest(view, m.ClientHello)
    if client_hello is not None:
        if values["client_random"] == UNKNOWN:
            values["client_random"] = client_hello.random.hex()
        values["offered_suites"] = ", ".join(suite_name(code) for code in client_hello.cipher_suites)
    finished = wallet.get("client_finished") or wallet.get("server_finished")
    if finished is not None and len(finished.get("value", "")) > 8:
        values["verify_data"] = finished["value"][8:]  # past the 4-byte handshake header
    return values


def render(lesson: Card, view: Mapping[str, Any]) -> str:
    """The card as Markdown, its placeholders filled from ``view`` — the seat's own view,
    so nothing another seat holds can appear."""
    values = values_for(view)

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), UNKNOWN)

    return f"# {lesson.title}\n\n" + _PLACEHOLDER.sub(fill, lesson.body)


# -- the `handshake-game lessons` report ----------------------------------------------------------

def report(out: Any, directory: Path | None = None) -> int:
    """Prints every variant's steps and every scenario with its lesson, from the game's step
    catalog and the referee's own verdict ids; 0 when every card is well formed, each step,
    verdict, scenario and overview has its card, no card's front matter drifts from the
    catalog, no card goes unused and no quiz gives its answers away (:func:`quiz_tells`);
    1 otherwise."""
    try:
        cards = load_cards(directory)
    except CardsInvalid as exc:
        for error in exc.errors:
            print(f"malformed card: {error}", file=out)
        print(f"{len(exc.errors)} malformed card(s); fix them and run again", file=out)
        return 1
    except LessonError as exc:
        print(f"error: {exc}", file=out)
        return 1
    rows = coverage(cards)
    missing = 0
    current = None
    for row in rows:
        heading = (f"{row.variant}" if row.subject in ("step", "verdict") else
                   "further reading" if row.subject == "more" else f"{row.subject}s")
        if heading != current:
            print(heading if current is None else f"\n{heading}", file=out)
            current = heading
        status = row.lesson if row.card else f"MISSING {row.lesson}"
        missing += row.missing
        if row.subject == "verdict":
            print(f"  {row.step:<28} {row.seat:<13} {status}  [verdict, any scenario]", file=out)
        elif row.subject == "more":
            print(f"  {row.step or row.what:<28} {row.variant or 'any variant':<13} {status}", file=out)
        elif row.subject == "step":
            staged = _scenarios(Variant(row.variant))
            only = "" if not row.scenarios or len(row.scenarios) == len(staged) else \
                f"  [{', '.join(row.scenarios)}]"
            print(f"  {row.step:<28} {row.seat:<13} {status}{only}", file=out)
        else:
            print(f"  {row.what:<28} {status}", file=out)
    notes = drift(rows, cards)
    used = {row.lesson for row in rows}
    for note in notes:
        print(f"drift: {note}", file=out)
    unused = sorted(set(cards) - used)
    if unused:
        print(f"unused: cards no step, verdict, scenario or overview uses: {', '.join(unused)}", file=out)
    tells = quiz_tells(cards)
    for tell in tells:
        print(f"quiz: {tell}", file=out)
    if missing or notes or unused or tells:
        print(f"\n{missing} item(s) lack a lesson card, {len(notes)} drift(s), {len(unused)} unused card(s), "
              f"{len(tells)} quiz tell(s)", file=out)
        return 1
    print(f"\n{len(cards)} cards; every step and verdict of {len(CATALOG)} variants and all "
          f"{len(Scenario)} scenarios have a lesson; no drift, no unused card, no quiz tell", file=out)
    return 0
