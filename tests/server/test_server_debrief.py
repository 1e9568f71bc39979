"""A seat sees what its party would see: no scenario name, no alteration mark, no eavesdropper's
step while the table plays; then a debrief for every seat at the end, or when the instructor
reveals the table (pushed over the websocket to the table's students)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from handshake_game.game import actions as a
from handshake_game.game.model import Difficulty, Scenario, Seat, Variant
from handshake_game.server import GameServer

from .classroom import INSTRUCTOR_TOKEN, instructor_message, open_peer
from .conftest import Classroom

MakeGame = Callable[[], GameServer]


def _in_the_dark(shown: dict[str, Any]) -> None:
    assert shown["scenario"] is None and shown["debrief"] is None
    assert all("altered" not in entry for entry in shown["wire"])
    assert all(step["seat"] != "eavesdropper" for step in shown["steps"])
    assert not (shown["lesson"] or {}).get("id", "").startswith("scenario-")
    assert "mitm" not in json.dumps(shown)


def test_a_victim_sees_no_scenario_and_no_mark_then_gets_the_debrief(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.MITM_SELF_SIGNED, Difficulty.STANDARD, Seat.CLIENT, "ana")
    game.move(seated.table_id, seated.token, a.SendClientHello())
    shown = game.seat_view(seated.table_id, Seat.CLIENT)
    assert shown["step"] == "client.check_certificate" and shown["your_turn"]
    # The forged certificate did reach the client, altered on the way: its view does not say so.
    state = game.state(seated.table_id)
    assert any(getattr(f, "altered", False) for f in state.wire)
    _in_the_dark(shown)
    # Its progress counts only the steps a client knows of.
    assert shown["steps"][shown["step_index"]]["id"] == "client.check_certificate"
    # The eavesdropper's own seat knows its scenario all along.
    assert game.seat_view(seated.table_id, Seat.EAVESDROPPER)["scenario"] == "mitm-self-signed"

    final = game.move(seated.table_id, seated.token, a.RejectCertificate())
    debrief = final["debrief"]
    assert debrief["scenario"] == "mitm-self-signed" and final["scenario"] == "mitm-self-signed"
    assert debrief["outcome"]["kind"] == "attack_stopped" and debrief["stopped"]["seat"] == "client"
    assert debrief["attacker_read"] == []
    assert any(row.get("altered") for row in debrief["ladder"])
    assert set(debrief["scores"]) == {seat.value for seat in Seat}
    assert (debrief["variant"], debrief["difficulty"]) == ("tls12-rsa", "standard")
    assert final["lesson"]["id"] == "scenario-mitm-self-signed"
    assert any(step["seat"] == "eavesdropper" for step in final["steps"])  # the whole table now
    assert "wallets" not in debrief  # a seat's secrets stay its own


def test_the_debrief_tells_every_seat_what_the_eavesdropper_read(make_game: MakeGame) -> None:
    game = make_game()
    seated = game.solo(Variant.TLS12_RSA, Scenario.MITM_SELF_SIGNED, Difficulty.STANDARD, Seat.CA, "cy")
    game.move(seated.table_id, seated.token, a.PublishRoot())
    game.move(seated.table_id, seated.token, a.IssueCertificate())
    # The bot client clicks through nothing: it rejects the forged certificate; the CA learns how.
    shown = game.seat_view(seated.table_id, Seat.CA)
    assert shown["debrief"]["outcome"]["kind"] == "attack_stopped"
    assert shown["debrief"]["stopped"]["check"] == "certificate chain"


async def test_the_instructors_reveal_pushes_the_debrief_to_the_tables_students(classroom: Classroom) -> None:
    instructor = await open_peer(classroom.ws_url)
    created = await instructor.ask({"type": "create_session", "token": INSTRUCTOR_TOKEN,
                                    "variant": "tls12-rsa", "scenario": "tamper", "difficulty": "standard"},
                                   "session_created")
    class_id = created["class_session_id"]
    student = await open_peer(classroom.ws_url)
    seat = await student.ask({"type": "join", "join_code": created["join_code"], "name": "ana"}, "seated")
    first = await student.receive()
    assert first["type"] == "view" and first["view"]["scenario"] is None and first["view"]["debrief"] is None
    await instructor.ask(instructor_message("start", class_id), "done")
    while True:  # the start's news: the client's turn at its first step
        news = await student.receive()
        if news["type"] == "view" and news["view"]["your_turn"]:
            break
    assert news["view"]["debrief"] is None and news["view"]["scenario"] is None
    reveal = await instructor.ask(instructor_message("reveal", class_id) | {"table_id": seat["table_id"]},
                                  "debrief")
    assert reveal["debrief"]["scenario"] == "tamper"
    pushed = await student.receive()
    assert pushed["type"] == "view" and pushed["view"]["debrief"]["scenario"] == "tamper"
    assert pushed["view"]["scenario"] == "tamper"
