"""The fact codec: every fact of every staged variant and scenario survives JSON and replays
to the same table; anything that is not a fact is refused with the codec's own error."""

from __future__ import annotations

import json
import typing

import pytest

import handshake_game.game as game_table
from handshake_game.bots import CarelessBot, TrustingBot, play_table
from handshake_game.game import Scenario, Seat, Variant, replay
from handshake_game.game.facts import Fact, ItemStored, ScenarioInjected, TableOpened
from handshake_game.game.model import Difficulty, supports
from handshake_game.store import FactDecodeError, fact_from_json, fact_to_json

STAGED = [(v, s) for v in Variant for s in Scenario if supports(v, s)]


@pytest.mark.parametrize(("variant", "scenario"), STAGED, ids=[f"{v.value}-{s.value}" for v, s in STAGED])
def test_round_trip_replays_to_the_same_state(make_referee, variant: Variant, scenario: Scenario) -> None:
    run = play_table(variant, scenario, make_referee(7))
    through_json = [fact_from_json(json.loads(json.dumps(fact_to_json(f)))) for f in run.facts]
    assert through_json == run.facts
    assert replay(through_json) == run.state


def test_every_fact_type_is_produced_and_round_trips(make_referee) -> None:
    seen: set[type] = set()
    for variant, scenario in STAGED:
        careless = {Seat.CLIENT: CarelessBot(rate=1.0), Seat.SERVER: CarelessBot(rate=1.0)}
        for bots in (None, {Seat.CLIENT: TrustingBot()}, careless):
            run = play_table(variant, scenario, make_referee(1), bots=bots)
            seen |= {type(f) for f in run.facts}
            assert [fact_from_json(fact_to_json(f)) for f in run.facts] == run.facts
    # The instructor's controls and the quizzes make the rest; they round-trip too.
    state, facts = game_table.open_table(Variant.TLS12_RSA, Scenario.HONEST)
    paused = game_table.apply(state, game_table.pause(state)[0])
    for extra in (game_table.pause(state), game_table.resume(paused),
                  game_table.inject_scenario(state, Scenario.PASSIVE),
                  game_table.score_quiz(state, Seat.CLIENT, "finished", 0, True),
                  game_table.reveal_debrief(state)):
        seen |= {type(f) for f in extra}
        assert [fact_from_json(fact_to_json(f)) for f in extra] == extra
    assert seen == set(typing.get_args(Fact))


def test_encoding_is_plain_json() -> None:
    item = ItemStored(Seat.SERVER, "server_key", "private_key", b"\x00\xff", True)
    assert fact_to_json(item) == {"type": "ItemStored", "seat": "server", "name": "server_key",
                                  "kind": "private_key", "value": "00ff", "secret": True}
    opened = TableOpened(Variant.TLS13, Scenario.TAMPER, Difficulty.EXPERT, "shop.example")
    assert fact_to_json(opened)["variant"] == "tls13"
    injected = ScenarioInjected(Scenario.KEY_LEAK)
    assert fact_from_json(fact_to_json(injected)) == injected


@pytest.mark.parametrize("payload", [
    {},
    {"type": "NoSuchFact"},
    {"type": "__class__"},
    {"type": "StepDone"},  # missing field
    {"type": "StepDone", "step": "x", "extra": 1},
    {"type": "StepDone", "step": 3},
    {"type": "ItemStored", "seat": "dealer", "name": "n", "kind": "k", "value": "00", "secret": False},
    {"type": "ItemStored", "seat": "ca", "name": "n", "kind": "k", "value": "zz", "secret": False},
    {"type": "ItemStored", "seat": "ca", "name": "n", "kind": "k", "value": "00", "secret": 1},
    {"type": "Verdict", "seat": "ca", "step": "s", "ok": True, "points": True, "reason": "", "lesson": ""},
])
def test_malformed_payloads_raise_the_codec_error(payload: dict[str, object]) -> None:
    with pytest.raises(FactDecodeError):
        fact_from_json(payload)
