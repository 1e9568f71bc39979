"""protocol.parse: every valid message type, and every class of bad input as its own error."""

from __future__ import annotations

import json

import pytest

from handshake_game.game import actions as a
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import protocol as p


def test_parses_each_client_message() -> None:
    assert p.parse('{"type": "hello", "protocol": 1}') == p.Hello(protocol=1)
    solo = p.parse(json.dumps({"type": "solo", "variant": "tls13", "seat": "client", "name": "ana",
                               "difficulty": "guided"}))
    assert isinstance(solo, p.Solo)
    assert (solo.variant, solo.scenario, solo.difficulty, solo.seat) == (
        Variant.TLS13, Scenario.HONEST, Difficulty.GUIDED, Seat.CLIENT)
    resume = p.parse(b'{"type": "resume", "table_id": 3, "token": "t"}')
    assert resume == p.Resume(table_id=3, token="t")
    move = p.parse(json.dumps({"type": "move", "table_id": 3, "token": "t",
                               "action": {"name": "EncryptPremaster", "fields": {"key": "trust_store"}}}))
    assert isinstance(move, p.Move)
    assert p.build_action(move.action) == a.EncryptPremaster(key="trust_store")
    assert p.parse('{"type": "hint", "table_id": 3, "token": "t"}') == p.Hint(table_id=3, token="t")


def test_builds_actions_with_defaults_and_typed_fields() -> None:
    assert p.build_action(p.ActionSpec(name="SendClientHello")) == a.SendClientHello()
    hello = p.build_action(p.ActionSpec(name="SendClientHello",
                                        fields={"suites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"]}))
    assert hello == a.SendClientHello(suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",))
    assert p.build_action(p.ActionSpec(name="FlipByte", fields={"offset": 3})) == a.FlipByte(3)
    assert set(p.ACTIONS) >= {"PublishRoot", "RequestHint", "TryDecrypt", "ReplayOldFlight"}


@pytest.mark.parametrize("raw, error", [
    ("x" * (p.MAX_MESSAGE_BYTES + 1), p.MessageTooLarge),
    # Fewer characters than the limit, but more UTF-8 bytes.
    (json.dumps({"type": "hello", "protocol": 1, "pad": "é" * (p.MAX_MESSAGE_BYTES // 2)},
                ensure_ascii=False), p.MessageTooLarge),
    ("{not json", p.MalformedJson),
    (b"\xff\xfe{}", p.MalformedJson),
    ("", p.MalformedJson),
    ("[1, 2]", p.InvalidFields),
    ('"hello"', p.InvalidFields),
    ("{}", p.UnknownType),
    ('{"type": "launch_missiles"}', p.UnknownType),
    ('{"type": 7}', p.UnknownType),
    ('{"type": "hello", "protocol": 2}', p.InvalidFields),
    ('{"type": "hello"}', p.InvalidFields),
    ('{"type": "hello", "protocol": 1, "extra": true}', p.InvalidFields),
    ('{"type": "solo", "variant": "ssl3", "seat": "client", "name": "x"}', p.InvalidFields),
    ('{"type": "solo", "variant": "tls13", "seat": "client", "name": ""}', p.InvalidFields),
    ('{"type": "resume", "table_id": "one", "token": "t"}', p.InvalidFields),
    ('{"type": "move", "table_id": 1, "token": "t"}', p.InvalidFields),
    ('{"type": "move", "table_id": 1, "token": "t", "action": {"fields": {}}}', p.InvalidFields),
])
def test_bad_input_raises_its_typed_error(raw: str | bytes, error: type[p.ProtocolError]) -> None:
    with pytest.raises(error) as raised:
        p.parse(raw)
    assert raised.value.code == error.code and raised.value.message


@pytest.mark.parametrize("spec, error", [
    (p.ActionSpec(name="FormatHardDrive"), p.UnknownAction),
    (p.ActionSpec(name="__class__"), p.UnknownAction),
    (p.ActionSpec(name="SendCsr"), p.InvalidFields),  # missing the name
    (p.ActionSpec(name="SendCsr", fields={"name": 5}), p.InvalidFields),
    (p.ActionSpec(name="Forward", fields={"evil": 1}), p.InvalidFields),
    (p.ActionSpec(name="FlipByte", fields={"offset": "first"}), p.InvalidFields),
])
def test_bad_actions_raise_typed_errors(spec: p.ActionSpec, error: type[p.ProtocolError]) -> None:
    with pytest.raises(error):
        p.build_action(spec)


def test_error_messages_do_not_echo_the_input() -> None:
    with pytest.raises(p.InvalidFields) as raised:
        p.parse('{"type": "resume", "table_id": "SECRET-INPUT", "token": "t"}')
    assert "SECRET-INPUT" not in raised.value.message


def test_server_messages_encode_with_their_type() -> None:
    assert json.loads(p.encode(p.Seated(table_id=1, seat=Seat.CLIENT, token="t"))) == {
        "type": "seated", "table_id": 1, "seat": "client", "token": "t"}
    assert json.loads(p.encode(p.Error(code="bad_token", message="no")))["type"] == "error"
    assert json.loads(p.encode(p.Welcome()))["protocol"] == p.PROTOCOL_VERSION
