"""A typed error for every bad input, and ``internal`` never — on SQLite and on PostgreSQL.

Hypothesis builds well-formed messages of every client type with odd values in them: numbers
no database id can hold, names with NUL and bidi overrides, unknown enum values, unknown
cipher suites and lesson ids, the real table's token or a wrong one. Each goes through
``reply_to`` (the one place errors become ``error`` replies) against a GameServer holding a
class and a solo table; the test counts how many messages reached the game rather than being
refused by the protocol's types, so a fuzz that only ever bounced off the parser fails.
"""

from __future__ import annotations

import asyncio
import json
import typing
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import GameServer
from handshake_game.server import protocol as p
from handshake_game.server.ws import Session, reply_to

from .classroom import INSTRUCTOR_TOKEN

MakeGame = Callable[[], GameServer]

HUGE = st.sampled_from([10**30, -(10**30), 2**31, 2**31 - 1, -(2**31) - 1, 2**63, 2**64, 0, -1, 1, 2, 3])
ODD_TEXT = st.sampled_from(["", " ", "\x00", "ana\x00", "\u202eevil", "\u200b", "x" * 65, "é", "e\u0301",
                            "NOPE", "TLS_FAKE_WITH_NULL", "client", "../../etc/passwd", "=1+1"])
ENUMS = {"variant": [v.value for v in Variant] + ["tls14", ""],
         "scenario": [s.value for s in Scenario] + ["evil"],
         "difficulty": [d.value for d in Difficulty] + ["impossible"],
         "seat": [s.value for s in Seat] + ["referee"], "to_seat": [s.value for s in Seat] + ["x"]}
ACTIONS = ["SendClientHello", "SendServerHello", "AcceptCertificate", "RejectCertificate", "EncryptPremaster",
           "DeriveAndSendFinished", "VerifyFinished", "SendApplicationData", "IssueCertificate", "RefuseCsr",
           "SendCsr", "PublishRoot", "GenerateKeyPair", "TryDecrypt", "Tamper", "StripSuites", "Relay",
           "Forward", "Drop", "NoSuchAction"]
FIELD_VALUES = st.one_of(HUGE, ODD_TEXT, st.lists(ODD_TEXT, max_size=3), st.none(), st.booleans())
ACTION = st.fixed_dictionaries({"name": st.sampled_from(ACTIONS)}, optional={"fields": st.dictionaries(
    st.sampled_from(["suite", "suites", "key", "randoms", "text", "name", "reason", "common_name",
                     "master_secret_hex", "verify_data_hex", "offset", "byte", "message"]),
    FIELD_VALUES, max_size=3)})


def _models() -> dict[str, type]:
    """Each client message type with its model (the protocol's own list)."""
    return {model.model_fields["type"].default: model for model in typing.get_args(p.AnyClientMessage)
            if "type" in model.model_fields}


def messages(tokens: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    """Messages of every type with exactly that type's fields (so they pass the shape check
    and reach the game), each filled with odd values or, sometimes, the real ones."""
    token = st.sampled_from([tokens["class"], tokens["table"], tokens["student"], ":wrong-token-x"])
    values: dict[str, st.SearchStrategy[Any]] = {
        "table_id": st.one_of(HUGE, st.sampled_from([int(tokens["table"].split(":")[0]),
                                                     int(tokens["student"].split(":")[0])])),
        "class_session_id": st.one_of(HUGE, st.just(int(tokens["class"].split(":")[0]))),
        "to_table_id": HUGE, "token": token.map(lambda t: t.split(":", 1)[1]),
        "name": ODD_TEXT, "join_code": st.one_of(ODD_TEXT, st.just(tokens["code"])),
        "lesson_id": st.one_of(ODD_TEXT, st.sampled_from(["finished", "what-tls-hides", "overview-tls13"])),
        "question": HUGE, "choice": HUGE, "op": st.one_of(ODD_TEXT, st.sampled_from(["hash", "prf"])),
        "args": st.dictionaries(ODD_TEXT, ODD_TEXT, max_size=3), "action": ACTION, "protocol": HUGE,
        **{name: st.sampled_from(options) for name, options in ENUMS.items()}}

    def shaped(kind: str, model: type) -> st.SearchStrategy[dict[str, Any]]:
        fields = [name for name in model.model_fields if name != "type"]
        required = {name: values.get(name, ODD_TEXT) for name in fields
                    if model.model_fields[name].is_required()}
        optional = {name: values.get(name, ODD_TEXT) for name in fields if name not in required}
        return st.fixed_dictionaries({"type": st.just(kind), **required}, optional=optional)

    return st.one_of(*(shaped(kind, model) for kind, model in _models().items()))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'typed.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_every_bad_input_gets_a_typed_error_never_internal(make_game: MakeGame) -> None:
    game = make_game()
    room = game.create_session(INSTRUCTOR_TOKEN, Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD)
    student = game.join(room.join_code, "ana")
    solo = game.solo(Variant.TLS13, Scenario.HONEST, Difficulty.EXPERT, Seat.SERVER, "bo")
    tokens = {"class": f"{room.class_session_id}:{INSTRUCTOR_TOKEN}",
              "table": f"{solo.table_id}:{solo.token}", "student": f"{student.table_id}:{student.token}",
              "code": room.join_code}
    reached: dict[str, int] = {"refused by the protocol": 0, "reached the game": 0}
    loop = asyncio.new_event_loop()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(message=messages(tokens))
    def check(message: dict[str, Any]) -> None:
        session = Session(rate=1e9)
        session.greeted = True
        replies = loop.run_until_complete(reply_to(game, session, json.dumps(message)))
        for reply in replies:
            if reply.type == "error":
                assert reply.code != "internal", (message, reply)
                protocol = reply.code in ("invalid_fields", "unknown_type", "malformed_json",
                                          "unknown_action")
                reached["refused by the protocol" if protocol else "reached the game"] += 1
            else:
                reached["reached the game"] += 1

    try:
        check()
    finally:
        loop.close()
    # The fuzz went past the parser: at least a third of the messages reached the game's rules.
    assert reached["reached the game"] >= 400 // 3, reached
    assert reached["refused by the protocol"] > 0, reached
