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


@pytest.mark.parametrize(("mode", "early", "policy", "read"), [
    ("psk_dhe_ke", False, None, False),  # the careful client: the leaked ticket key opens nothing
    ("psk_dhe_ke", True, None, True),  # 0-RTT data: not forward secret w.r.t. the PSK, taken or not
    ("psk_ke", False, None, True),  # no key share: the whole resumed session opens
    ("psk_ke", True, "single-use-tickets", True)])
def test_simulate_chooses_the_resumptions_psk_mode_and_0rtt(mode: str, early: bool, policy: str | None,
                                                           read: bool) -> None:
    flags = ["--psk-mode", mode, *(["--early-data"] if early else []),
             *(["--server-early-data", policy] if policy else [])]
    result = handshake_game("simulate", "--variant", "tls13", "--scenario", "key-leak", "--json", *flags)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["completed"] is True and summary["attack_succeeded"] is read
    steps = {s["step"]: s for s in summary["steps"]}
    resume = steps["client.resume"]["reason"]
    assert ("psk_ke: the PSK alone" in resume) is (mode == "psk_ke")
    assert ("then the request as 0-RTT data" in resume) is early
    taken = policy == "single-use-tickets"
    # Early data the server took runs the request from it: the client sends no 1-RTT copy.
    assert ("client.send_transfer" in steps) is not taken
    assert ("the ticket's age as the client reports it" in steps["server.resume"]["reason"]) is taken
    read_texts = " ".join(summary["attacker_read"])
    assert ("amount=100&to=carol" in read_texts) is read
    assert ("transferred 100 to carol" in read_texts) is (mode == "psk_ke")


def test_simulate_resumption_flags_need_a_table_that_resumes() -> None:
    result = handshake_game("simulate", "--variant", "tls12-ecdhe", "--early-data", "--json")
    assert result.returncode == 2 and "has no resumption" in result.stderr
    honest = handshake_game("simulate", "--variant", "tls13", "--early-data", "--server-early-data",
                            "no-anti-replay", "--json")
    assert honest.returncode == 0, honest.stderr
    steps = {s["step"]: s for s in json.loads(honest.stdout)["steps"]}
    assert not steps["server.resume"]["ok"]  # 0-RTT without anti-replay is the server's mistake
    assert "client.send_transfer" not in steps and steps["client.read_transfer"]["ok"]
