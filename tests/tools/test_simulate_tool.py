"""`handshake-game simulate`: bots play a table; the JSON summary says how it ended."""

from __future__ import annotations

import json

import pytest
from tool_helpers import handshake_game


@pytest.mark.parametrize(("variant", "attack"),
                         [("tls12-rsa", True), ("tls12-ecdhe", False), ("tls13", False)])
def test_simulate_key_leak_json(variant: str, attack: bool) -> None:
    result = handshake_game("simulate", "--variant", variant, "--scenario", "key-leak", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["variant"] == variant and summary["scenario"] == "key-leak"
    assert summary["completed"] is True and summary["detected_by"] is None
    assert summary["attack_succeeded"] is attack
    assert set(summary["scores"]) == {"client", "server", "ca", "eavesdropper"}
    assert [s["step"] for s in summary["steps"]][:2] == ["ca.publish_root", "server.generate_key"]
    # tls13: the client resumes with its ticket (psk_dhe_ke, no 0-RTT) before the leak.
    assert ("client.resume" in [s["step"] for s in summary["steps"]]) is (variant == "tls13")


def test_simulate_careless_is_stopped_by_finished_and_ladder_explains() -> None:
    result = handshake_game("simulate", "--careless", "1", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "C → S  ClientKeyExchange" in result.stdout
    assert "stopped by the server's finished check" in result.stdout
    assert "not completed" in result.stdout


def test_simulate_list_names_every_step_and_scenario() -> None:
    result = handshake_game("simulate", "--list")
    assert result.returncode == 0
    assert "tls12-rsa:" in result.stdout and "client.key_exchange" in result.stdout
    assert "scenarios: honest, passive, mitm-self-signed, mitm-wrong-name, expired-cert, rogue-csr, " \
        "tamper, downgrade, replay, key-leak" in result.stdout


@pytest.mark.parametrize(("scenario", "detected_by"), [
    ("mitm-wrong-name", "certificate hostname"), ("tamper", "finished"), ("rogue-csr", "ca identity check")])
def test_simulate_reports_the_check_that_stopped_the_attack(scenario: str, detected_by: str) -> None:
    result = handshake_game("simulate", "--scenario", scenario, "--json")
    summary = json.loads(result.stdout)
    assert summary["detected_by"] == detected_by and summary["attack_succeeded"] is False


def test_tls13_replay_is_staged_and_the_careful_server_refuses_the_0rtt_transfer() -> None:
    result = handshake_game("simulate", "--variant", "tls13", "--scenario", "replay", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["detected_by"] == "early-data refusal" and summary["attack_succeeded"] is False
    ladder = handshake_game("simulate", "--variant", "tls13", "--scenario", "replay").stdout
    assert "E → S  ClientHello" in ladder and "E → S  early data" in ladder


@pytest.mark.parametrize("variant", ["tls12-rsa", "tls12-ecdhe", "tls13"])
def test_a_trusting_client_is_relayed_and_the_attacker_reads_both_ways(variant: str) -> None:
    result = handshake_game("simulate", "--variant", variant, "--scenario", "mitm-self-signed", "--trusting",
                            "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # Both handshakes finished; only the client's certificate check could have stopped it.
    assert summary["completed"] is True and summary["detected_by"] is None
    assert summary["attack_succeeded"] is True and summary["outcome"] == "attack_succeeded"
    request, response = summary["attacker_read"]
    assert request.startswith("GET /grades") and "bob: B+" in response
    steps = [s["step"] for s in summary["steps"]]
    assert "eavesdropper.relay_request" in steps and "eavesdropper.relay_response" in steps
    finished = [s for s in summary["steps"] if s["step"] in ("server.finished", "server.verify_finished")]
    assert finished and all(s["ok"] for s in finished)

    ladder = handshake_game("simulate", "--variant", variant, "--scenario", "mitm-self-signed", "--trusting")
    assert "the eavesdropper read: 'GET /grades" in ladder.stdout
    assert "the attack succeeded" in ladder.stdout


def test_a_mutual_tls_server_stops_the_relay_at_the_clients_certificate_verify() -> None:
    result = handshake_game("simulate", "--variant", "tls12-mutual", "--scenario", "mitm-wrong-name",
                            "--trusting", "--json")
    summary = json.loads(result.stdout)
    assert result.returncode == 0 and summary["completed"] is False
    assert summary["detected_by"] == "client certificate verify"
    assert summary["attack_succeeded"] is False and summary["attacker_read"] == []
