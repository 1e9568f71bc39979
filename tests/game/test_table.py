"""The game's rules: every variant and scenario ends as DESIGN.md's table says, by real checks;
mistakes have their real consequences; replay rebuilds the table; no view leaks a secret."""

from __future__ import annotations

import datetime
import json
import os
import random

import pytest

from handshake_game.bots import CarelessBot, HonestBot, TrustingBot, play_table
from handshake_game.game import (
    Difficulty,
    Referee,
    Rejected,
    Scenario,
    Seat,
    TableState,
    Variant,
    apply,
    decide,
    open_table,
    replay,
    view,
)
from handshake_game.game import actions as a
from handshake_game.game.facts import Verdict
from handshake_game.game.guide import REQUEST, RESPONSE
from handshake_game.game.model import supports
from handshake_game.game.sharing import leaks
from handshake_game.game.views import alerts
from handshake_game.tls.pki import generate_rsa_key

KEYS = [generate_rsa_key() for _ in range(4)]


def referee(seed: int | None = None) -> Referee:
    keys = iter(KEYS * 4)
    rng = random.Random(seed).randbytes if seed is not None else os.urandom
    return Referee(rng=rng, now=lambda: datetime.datetime.now(datetime.UTC), rsa_keys=lambda: next(keys))


# DESIGN.md's table: how each scenario ends with honest players, and which real check decides.
EXPECTED = {
    Scenario.HONEST: (True, None),
    Scenario.PASSIVE: (True, None),
    Scenario.MITM_SELF_SIGNED: (False, "certificate chain"),
    Scenario.MITM_WRONG_NAME: (False, "certificate hostname"),
    Scenario.EXPIRED_CERT: (False, "certificate validity"),
    Scenario.ROGUE_CSR: (True, "ca identity check"),
    Scenario.TAMPER: (False, "finished"),
    Scenario.DOWNGRADE: (False, "finished"),
    Scenario.REPLAY: (False, "finished"),
    Scenario.KEY_LEAK: (True, None),
    # A careful client refuses the export-grade group the stripped offer leaves.
    Scenario.WEAK_DH: (False, "key exchange group"),
}


STAGED = [(v, s) for v in Variant for s in Scenario if supports(v, s)]


@pytest.mark.parametrize(("variant", "scenario"), STAGED)
def test_every_variant_and_scenario_ends_as_designed(variant: Variant, scenario: Scenario) -> None:
    run = play_table(variant, scenario, referee())
    state = run.state
    completed, detected_by = EXPECTED[scenario]
    if variant is Variant.TLS12_MUTUAL and scenario in (Scenario.TAMPER, Scenario.DOWNGRADE, Scenario.REPLAY):
        # With client authentication the client's CertificateVerify signs the transcript
        # first: the server sees the difference there, one check before Finished.
        detected_by = "client certificate verify"
    if variant is Variant.TLS13 and scenario in (Scenario.TAMPER, Scenario.DOWNGRADE):
        # TLS 1.3 hashes the hellos into the handshake keys: the client cannot even open
        # the server's encrypted flight.
        detected_by = "handshake keys"
    if variant in (Variant.TLS12_ECDHE, Variant.TLS12_MUTUAL) and scenario is Scenario.TAMPER:
        # The flipped bit is in server_random, which the ServerKeyExchange signature covers:
        # a careful client refuses the server before any Finished is computed.
        detected_by = "server key exchange signature"
    if variant is Variant.TLS13 and scenario is Scenario.REPLAY:
        # Resumption with 0-RTT: the careful server refuses early data for the transfer, so the
        # replayed copy never runs it; both connections of the client complete.
        completed, detected_by = True, "early-data refusal"
    if variant is Variant.TLS13 and scenario is Scenario.WEAK_DH:
        # TLS 1.3 has no weak group: stripped of its key share, the ClientHello leaves the
        # server nothing to agree on.
        detected_by = "suite negotiation"
    assert state.completed is completed
    assert state.detected_by == detected_by
    # Only the leaked key against RSA key exchange gets the eavesdropper anywhere.
    assert state.attack_succeeded is (scenario is Scenario.KEY_LEAK and variant is Variant.TLS12_RSA)
    if completed:
        assert state.wallets[Seat.CLIENT]["response"].value.startswith(b"HTTP/1.1 200 OK")
        assert state.wallets[Seat.SERVER]["request"].value.startswith(b"GET /grades")
    attempts = state.decryptions
    if scenario is Scenario.KEY_LEAK:
        assert len(attempts) == 1
        if variant is Variant.TLS12_RSA:
            assert attempts[0].succeeded
            assert b"GET /grades" in attempts[0].plaintext and b"alice: A" in attempts[0].plaintext
            assert state.scores[Seat.EAVESDROPPER] > 0
        else:
            assert not attempts[0].succeeded and "forward secrecy" in attempts[0].reason.lower()
            assert state.scores[Seat.EAVESDROPPER] == 0
    elif scenario is Scenario.PASSIVE:
        assert len(attempts) == 1 and not attempts[0].succeeded


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("scenario", [Scenario.MITM_SELF_SIGNED, Scenario.MITM_WRONG_NAME])
def test_a_client_that_clicks_through_is_relayed_read_and_lied_to(variant: Variant,
                                                                  scenario: Scenario) -> None:
    run = play_table(variant, scenario, referee(), bots={Seat.CLIENT: TrustingBot()})
    state = run.state
    trusted = next(v for v in state.verdicts if v.step == "client.check_certificate")
    assert not trusted.ok and trusted.points < 0 and state.forgery_accepted is not None
    if variant is Variant.TLS12_MUTUAL:
        # The server asked for the client's certificate: the client's CertificateVerify signs the
        # handshake it had with the eavesdropper, which the eavesdropper cannot sign again for the
        # server's. That check, not Finished, stops the relay.
        assert state.detected_by == "client certificate verify" and not state.completed
        assert state.failed is not None and state.failed.seat is Seat.SERVER
        assert not state.attack_succeeded and state.attacker_read == ()
        assert state.outcome[0] == "attack_stopped"
        return
    # Two handshakes, and both Finished checks pass: each is over the handshake its side had.
    assert state.completed and state.failed is None and state.detected_by is None
    finished_checks = [v for v in state.verdicts if v.step in ("server.finished", "server.verify_finished",
                                                               "client.verify_finished", "client.finished")]
    assert finished_checks and all(v.ok for v in finished_checks)
    client, server = state.wallets[Seat.CLIENT], state.wallets[Seat.SERVER]
    secret = "master_secret" if variant is not Variant.TLS13 else "client_application_traffic_secret"
    assert client[secret].value != server[secret].value  # two sessions, one at each end of the attacker
    # The attacker read the request and the answer, and changed a grade on the way.
    assert state.attack_succeeded and state.outcome[0] == "attack_succeeded"
    assert state.attacker_read == (REQUEST.encode(), RESPONSE.encode())
    assert server["request"].value == REQUEST.encode()
    assert client["response"].value == RESPONSE.replace("bob: B+", "bob: A+").encode()
    assert any("changed the answer" in note for note in alerts(state))
    # The client saw only the eavesdropper's certificate, the server only its own exchange.
    assert client["server_certificate"].value == state.wallets[Seat.EAVESDROPPER]["forged_certificate"].value


@pytest.mark.parametrize("variant", list(Variant))
def test_a_careful_client_stops_the_man_in_the_middle_at_its_certificate_check(variant: Variant) -> None:
    state = play_table(variant, Scenario.MITM_WRONG_NAME, referee()).state
    refused = next(v for v in state.verdicts if v.step == "client.check_certificate")
    assert refused.ok and refused.points > 0
    assert state.detected_by == "certificate hostname" and state.failed is not None
    assert state.failed.seat is Seat.CLIENT and not state.attack_succeeded and state.attacker_read == ()
    assert state.outcome == ("attack_stopped",
                             "the attack was stopped by the client's certificate hostname check")
    # The relay steps were passed over: nothing was relayed.
    assert not any(v.step.startswith("eavesdropper.relay") for v in state.verdicts)


@pytest.mark.parametrize("variant", list(Variant))
def test_replaying_the_facts_rebuilds_the_table(variant: Variant) -> None:
    run = play_table(variant, Scenario.KEY_LEAK, referee())
    assert replay(run.facts) == run.state


def test_premaster_encrypted_to_the_ca_key_fails_at_finished_for_real() -> None:
    run = play_table(Variant.TLS12_RSA, Scenario.HONEST, referee(),
                     bots={Seat.CLIENT: CarelessBot(rate=1.0)})
    state = run.state
    assert not state.completed and state.failed is not None
    assert (state.failed.seat, state.failed.check) == (Seat.SERVER, "finished")
    assert "bad_record_mac" in state.failed.reason and "premaster" in state.failed.reason
    # The server really recovered something else than the client's premaster.
    assert (state.wallets[Seat.SERVER]["pre_master_secret"].value
            != state.wallets[Seat.CLIENT]["pre_master_secret"].value)
    mistake = next(v for v in state.verdicts if v.step == "client.key_exchange")
    assert not mistake.ok and "CA's public key" in mistake.reason and mistake.points < 0


def test_swapped_randoms_give_different_keys_and_a_failing_finished() -> None:
    bots = {Seat.CLIENT: CarelessBot(rate=1.0)}
    run = play_table(Variant.TLS12_ECDHE, Scenario.HONEST, referee(), bots=bots)
    state = run.state
    assert state.failed is not None and state.failed.check == "finished"
    assert "master secrets" in state.failed.reason
    # The premaster is the same on both sides (ECDH); only the master secret differs.
    assert (state.wallets[Seat.SERVER]["pre_master_secret"].value
            == state.wallets[Seat.CLIENT]["pre_master_secret"].value)
    assert (state.wallets[Seat.SERVER]["master_secret"].value
            != state.wallets[Seat.CLIENT]["master_secret"].value)


def test_a_rogue_csr_is_refused_by_the_ca_identity_check() -> None:
    state, facts = open_table(Variant.TLS12_RSA)
    ref = referee()
    for seat, action in [(Seat.CA, a.PublishRoot()), (Seat.SERVER, a.GenerateKeyPair()),
                         (Seat.SERVER, a.SendCsr("bank.example"))]:
        for fact in decide(state, seat, action, ref):
            state = apply(state, fact)
    refused = decide(state, Seat.CA, a.RefuseCsr("not your name"), ref)
    verdict = next(f for f in refused if isinstance(f, Verdict))
    assert verdict.ok and "bank.example" in verdict.reason
    issued = decide(state, Seat.CA, a.IssueCertificate(), ref)
    assert not next(f for f in issued if isinstance(f, Verdict)).ok  # issuing it is the CA's mistake


def test_illegal_moves_are_typed_rejections_that_change_nothing() -> None:
    state, _ = open_table(Variant.TLS12_RSA)
    ref = referee()
    with pytest.raises(Rejected, match="ca's turn"):
        decide(state, Seat.CLIENT, a.SendClientHello(), ref)
    with pytest.raises(Rejected, match="PublishRoot"):
        decide(state, Seat.CA, a.IssueCertificate(), ref)
    with pytest.raises(Rejected, match="only the eavesdropper"):
        decide(state, Seat.CLIENT, a.TryDecrypt(), ref)
    assert state == open_table(Variant.TLS12_RSA)[0]


def _assert_no_foreign_secret(state, facts) -> None:
    """Every seat's view scanned for every secret the sharing table does not give that seat
    (tests/game/test_sharing.py proves the scan catches a planted one, after every fact)."""
    for seat in Seat:
        shown = view(state, seat, datetime.datetime.now(datetime.UTC), dissect=True)
        found = leaks(state, seat, shown, facts)
        assert not found, "; ".join(map(str, found))


@pytest.mark.parametrize(("variant", "scenario"), STAGED)
def test_no_view_holds_another_seats_secret(variant: Variant, scenario: Scenario) -> None:
    run = play_table(variant, scenario, referee())
    _assert_no_foreign_secret(run.state, run.facts)


# Random moves over the menu, played to the end of every table: tests/game/test_random_play.py.


def test_guided_tables_offer_the_next_correct_move_and_hints_cost_elsewhere() -> None:
    now = datetime.datetime.now(datetime.UTC)
    guided, _ = open_table(Variant.TLS12_RSA, difficulty=Difficulty.GUIDED)
    offered = view(guided, Seat.CA, now)["offered"]
    assert offered == {"action": "PublishRoot", "fields": {"common_name": "Classroom Root CA"},
                       "why": guided.current_step.act}
    assert view(guided, Seat.CLIENT, now)["offered"] is None  # not the client's turn
    standard, _ = open_table(Variant.TLS12_RSA, difficulty=Difficulty.STANDARD)
    assert view(standard, Seat.CA, now)["offered"] is None
    ref = referee()
    (free,) = decide(guided, Seat.CA, a.RequestHint(), ref)
    (paid,) = decide(standard, Seat.CA, a.RequestHint(), ref)
    # A hint in people's words: the menu's label for the move, never the action's internal name.
    assert isinstance(free, Verdict) and free.points == 0 and "Create the root certificate" in free.reason
    assert "PublishRoot" not in free.reason and "(" not in free.reason
    assert isinstance(paid, Verdict) and paid.points < 0
    with pytest.raises(Rejected):
        decide(standard, Seat.CLIENT, a.RequestHint(), ref)  # hints are for the seat whose turn it is


@pytest.mark.parametrize(("scenario", "words"), [
    (Scenario.HONEST, "Every check passes"),
    (Scenario.EXPIRED_CERT, "The certificate validity check fails"),
    (Scenario.MITM_SELF_SIGNED, "The certificate chain check fails"),
])
@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS13])
def test_a_hint_at_the_certificate_says_which_check_passes_or_fails_and_why(
        variant: Variant, scenario: Scenario, words: str) -> None:
    state, facts = open_table(variant, scenario, difficulty=Difficulty.STANDARD)
    ref = referee()
    from handshake_game.bots import AttackerBot, HonestBot

    bots = {seat: HonestBot() for seat in Seat} | {Seat.EAVESDROPPER: AttackerBot()}
    while (step := state.current_step) is not None and step.id != "client.check_certificate":
        for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
            state = apply(state, fact)
    (hint,) = decide(state, Seat.CLIENT, a.RequestHint(), ref)
    assert isinstance(hint, Verdict) and words in hint.reason, hint.reason
    assert "Certificate()" not in hint.reason


def test_the_guide_offers_rejecting_a_forged_certificate() -> None:
    state, facts = open_table(Variant.TLS12_RSA, Scenario.MITM_SELF_SIGNED, difficulty=Difficulty.GUIDED)
    ref = referee()
    from handshake_game.bots import AttackerBot, HonestBot

    bots = {seat: HonestBot() for seat in Seat} | {Seat.EAVESDROPPER: AttackerBot()}
    while state.current_step.id != "client.check_certificate":
        step = state.current_step
        for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
            state = apply(state, fact)
    offered = view(state, Seat.CLIENT, datetime.datetime.now(datetime.UTC))["offered"]
    assert offered["action"] == "RejectCertificate"


def test_the_instructor_pauses_injects_and_reveals() -> None:
    from handshake_game.game import inject_scenario, pause, resume, reveal

    # RSA key exchange: nothing signs server_random, so the flipped bit is caught at Finished.
    state, facts = open_table(Variant.TLS12_RSA)
    ref = referee()
    for fact in pause(state):
        state = apply(state, fact)
    with pytest.raises(Rejected, match="paused"):
        decide(state, Seat.CA, a.PublishRoot(), ref)
    for fact in resume(state) + inject_scenario(state, Scenario.TAMPER):
        state = apply(state, fact)
    assert state.scenario is Scenario.TAMPER
    from handshake_game.bots import AttackerBot, HonestBot

    bots = {seat: HonestBot() for seat in Seat} | {Seat.EAVESDROPPER: AttackerBot()}
    while (step := state.current_step) is not None:
        if step.id == "client.check_certificate":
            with pytest.raises(Rejected, match="too late"):
                inject_scenario(state, Scenario.DOWNGRADE)
        for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
            state = apply(state, fact)
    assert state.detected_by == "finished"
    debrief = reveal(state)
    # The debrief shows every secret — the client's and the server's premaster side by side.
    assert debrief["wallets"]["client"]["pre_master_secret"]["secret"] is True
    wallets = debrief["wallets"]
    assert wallets["server"]["master_secret"]["value"] != wallets["client"]["master_secret"]["value"]


def test_mutual_tls_server_refuses_a_client_without_a_certificate() -> None:
    class NoCertificate(TrustingBot):
        def choose(self, step_id, state, seat):
            if step_id == "client.key_exchange":
                return a.SendKeyShare(present_certificate=False)
            return super().choose(step_id, state, seat)

    run = play_table(Variant.TLS12_MUTUAL, Scenario.HONEST, referee(), bots={Seat.CLIENT: NoCertificate()})
    assert run.state.detected_by == "client certificate"
    assert "requires a client certificate" in run.state.failed.reason
    issued = run.state.wallets[Seat.CLIENT]["client_certificate"].value
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    usage = x509.load_der_x509_certificate(issued).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage.value


def test_tls13_is_staged_for_every_scenario_and_its_keys_match() -> None:
    assert all(open_table(Variant.TLS13, scenario) for scenario in Scenario)
    run = play_table(Variant.TLS13, Scenario.HONEST, referee())
    wallet = run.state.wallets[Seat.CLIENT]
    # The client's keys came from HKDF over its own transcript; the server's match them.
    for name in ("client_handshake_traffic_secret", "server_application_traffic_secret", "master_secret"):
        assert wallet[name].value == run.state.wallets[Seat.SERVER][name].value
    # Nothing after the ServerHello travels in the clear: the certificate is not on the wire.
    certificate = run.state.wallets[Seat.SERVER]["server_certificate"].value
    assert all(certificate not in f.payload for f in run.state.wire)


def test_a_replayed_flight_meets_fresh_randoms() -> None:
    run = play_table(Variant.TLS12_RSA, Scenario.REPLAY, referee())
    state = run.state
    assert len(state.past_sessions) == 1 and state.detected_by == "finished"
    first, second = state.past_sessions[0], state.wire
    old_exchange = next(f.payload for f in first if getattr(f, "label", "") == "ClientKeyExchange")
    delivered = next(f for f in second if getattr(f, "recipient", None) is Seat.SERVER
                     and f.label == "ClientKeyExchange")
    assert delivered.altered and delivered.payload == old_exchange  # byte for byte
    # The server really recovered the old premaster: the same RSA key opened it.
    assert "fresh randoms" in state.failed.reason


def _play_until(variant: Variant, scenario: Scenario, step_id: str):
    from handshake_game.bots import AttackerBot, HonestBot

    state, _ = open_table(variant, scenario)
    ref = referee()
    bots = {seat: HonestBot() for seat in Seat} | {Seat.EAVESDROPPER: AttackerBot()}
    while state.current_step.id != step_id:
        step = state.current_step
        for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
            state = apply(state, fact)
    return state, ref


def test_a_dropped_flight_times_out_and_no_secret_is_lost() -> None:
    state, ref = _play_until(Variant.TLS12_RSA, Scenario.TAMPER, "eavesdropper.tamper")
    for fact in decide(state, Seat.EAVESDROPPER, a.Drop(), ref):
        state = apply(state, fact)
    assert state.detected_by == "timeout" and state.failed.seat is Seat.CLIENT
    assert not state.attack_succeeded
    assert "not delivery" in state.failed.reason


def test_players_choose_the_suites_and_the_server_may_only_pick_from_the_offer() -> None:
    state, ref = _play_until(Variant.TLS12_ECDHE, Scenario.HONEST, "client.hello")
    with pytest.raises(Rejected, match="offers suites among"):
        decide(state, Seat.CLIENT, a.SendClientHello(suites=("TLS_RSA_WITH_AES_128_GCM_SHA256",)), ref)
    only_aes128 = a.SendClientHello(suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",))
    for fact in decide(state, Seat.CLIENT, only_aes128, ref):
        state = apply(state, fact)
    with pytest.raises(Rejected, match="not in the client's offer"):
        decide(state, Seat.SERVER, a.SendServerHello(suite="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"), ref)
    for fact in decide(state, Seat.SERVER, a.SendServerHello(), ref):
        state = apply(state, fact)
    hello = next(f for f in state.wire if getattr(f, "label", "") == "ServerHello")
    assert bytes.fromhex("c02f") in hello.payload  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256


def test_the_eavesdropper_sees_every_message_with_its_dissection() -> None:
    run = play_table(Variant.TLS12_RSA, Scenario.PASSIVE, referee())
    seen = view(run.state, Seat.EAVESDROPPER, dissect=True)
    hello = next(e for e in seen["wire"] if e["label"] == "ClientHello" and e["event"] == "sent")
    (tree,) = hello["dissection"]
    assert tree["name"] == "client_hello" and tree["offset"] == 5  # after the record header
    client_random = run.state.wallets[Seat.CLIENT]["client_random"].value.hex()
    assert client_random in json.dumps(tree)
    exchange = next(e for e in seen["wire"] if e["label"] == "ClientKeyExchange")
    assert exchange["dissection"][0]["children"][1]["children"][0]["name"] == "EncryptedPreMasterSecret"
    sealed = next(e for e in seen["wire"] if e["label"] == "application data")
    assert "dissection" not in sealed  # ciphertext stays opaque


@pytest.mark.parametrize(("variant", "check"), [(Variant.TLS12_RSA, "finished"),
                                                (Variant.TLS12_ECDHE, "finished"),
                                                (Variant.TLS13, "unexpected message")])
def test_an_injected_message_is_caught(variant: Variant, check: str) -> None:
    from handshake_game.bots import AttackerBot, HonestBot

    state, _ = _play_until(variant, Scenario.TAMPER, "eavesdropper.tamper")
    ref = referee()
    for fact in decide(state, Seat.EAVESDROPPER, a.Inject(), ref):
        state = apply(state, fact)
    bots = {seat: HonestBot() for seat in Seat} | {Seat.EAVESDROPPER: AttackerBot()}
    while (step := state.current_step) is not None:
        for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
            state = apply(state, fact)
    # TLS 1.2: the extra message entered the client's transcript only, so the Finished
    # values disagree; TLS 1.3 refuses plaintext after the ServerHello outright.
    assert state.detected_by == check and not state.completed


@pytest.mark.parametrize("action", [a.PublishRoot("x" * 65), a.PublishRoot(""), a.PublishRoot("bad\nname")])
def test_a_certificate_name_no_ca_would_sign_is_refused(action: a.Action) -> None:
    state, _ = open_table(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD)
    with pytest.raises(Rejected, match="1 to 64 printable characters"):
        decide(state, Seat.CA, action, referee())


def test_application_text_over_one_record_is_refused_and_the_table_carries_on() -> None:
    from handshake_game.bots import HonestBot

    ref = referee()
    state, facts = open_table(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.STANDARD)
    bot = HonestBot()
    while state.current_step is not None and state.current_step.id != "client.send_data":
        step = state.current_step
        for fact in decide(state, step.seat, bot.act(state, step.seat), ref):
            state = apply(state, fact)
    with pytest.raises(Rejected, match="at most 16384 bytes"):
        decide(state, Seat.CLIENT, a.SendApplicationData("x" * 16385), ref)
    for fact in decide(state, Seat.CLIENT, a.SendApplicationData("x" * 16384), ref):
        state = apply(state, fact)
    step = state.current_step
    assert step is not None and step.id == "server.send_data"
    decide(state, Seat.SERVER, bot.act(state, Seat.SERVER), ref)  # the server reads it


@pytest.mark.parametrize(("variant", "scenario"), STAGED)
def test_the_guides_move_is_always_the_one_the_referee_scores_right(variant: Variant,
                                                                     scenario: Scenario) -> None:
    """Client, server and CA play the guide's move at every step against an attacking
    eavesdropper: the referee never scores one of those moves as a mistake."""
    # HonestBot plays the guide's move at every seat (the replay's house client is in a hurry).
    run = play_table(variant, scenario, referee(), bots={Seat.CLIENT: HonestBot()})
    judged = [v for v in run.state.verdicts if v.seat is not Seat.EAVESDROPPER]
    assert judged, "no move was judged"
    wrong = [(v.step, v.reason) for v in judged if not v.ok or v.points < 0]
    assert wrong == []


# -- an instructor's injection happens -------------------------------------------------------------

ATTACKS = [s for s in Scenario if s not in (Scenario.HONEST, Scenario.PASSIVE, Scenario.KEY_LEAK,
                                             Scenario.EXPIRED_CERT)]


@pytest.mark.parametrize("variant", list(Variant))
def test_an_injected_attack_is_suggested_to_the_eavesdropper_and_played_by_its_bot(variant: Variant) -> None:
    """Injected at the start or mid-table (as late as the attack can still begin), the scenario in
    force decides the eavesdropper's guided suggestion and what its bot plays: the attack happens."""
    from handshake_game.bots.players import AttackerBot, HonestBot
    from handshake_game.game.guide import correct_action
    from handshake_game.game.instructor import inject_scenario

    injected = 0
    for scenario in ATTACKS:
        if not supports(variant, scenario):
            continue
        for played_first in range(0, 12):
            state, _ = open_table(variant, Scenario.HONEST, Difficulty.GUIDED)
            ref, bots = referee(), {seat: HonestBot() for seat in Seat}
            bots[Seat.EAVESDROPPER] = AttackerBot()
            for _ in range(played_first):
                step = state.current_step
                assert step is not None
                for fact in decide(state, step.seat, bots[step.seat].act(state, step.seat), ref):
                    state = apply(state, fact)
            try:
                facts = inject_scenario(state, scenario)
            except Rejected:
                break  # too late from here on
            for fact in facts:
                state = apply(state, fact)
            injected += 1
            suggested = attacked = False
            while (step := state.current_step) is not None:
                move = bots[step.seat].act(state, step.seat)
                if step.attack is not None:
                    assert correct_action(state, step.seat, _now()) == move  # the guided suggestion
                    suggested = True
                for fact in decide(state, step.seat, move, ref):
                    state = apply(state, fact)
            attacked = state.attacked
            assert suggested and attacked, (scenario, played_first)
    assert injected >= 10, injected


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize("scenario", [Scenario.DOWNGRADE, Scenario.TAMPER])
@pytest.mark.parametrize("trusting", [True, False])
def test_at_tls13_a_flight_that_does_not_decrypt_is_no_certificate_to_accept(
        scenario: Scenario, trusting: bool) -> None:
    """A changed hello gives the two sides different handshake keys: the client's Reject (abort)
    is right and scores; its Accept is a mistake, not an "ok" beside a failed handshake."""
    client = TrustingBot() if trusting else HonestBot()
    state = play_table(Variant.TLS13, scenario, referee(), bots={Seat.CLIENT: client}).state
    (verdict,) = [v for v in state.verdicts if v.step == "client.check_certificate"]
    assert state.failed is not None and state.failed.check == "handshake keys"
    if trusting:
        assert not verdict.ok and verdict.points < 0 and "no certificate to accept" in verdict.reason
    else:
        assert verdict.ok and verdict.points > 0 and verdict.reason.startswith("right to abort")


class _WrongOrderServer(HonestBot):
    """A server that puts the randoms in the wrong order in the master secret's seed."""

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        if step_id == "server.finished":
            return a.DeriveAndSendFinished(randoms="server+client")
        return super().choose(step_id, state, seat)


@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS12_ECDHE])
def test_a_server_stopped_by_its_own_mistake_scores_the_mistake_not_the_stop(variant: Variant) -> None:
    """The server's wrong seed gives it other keys, so the client's Finished does not open and the
    server stops: the mistake costs its points, and stopping earns none (it caught itself)."""
    state = play_table(variant, Scenario.HONEST, referee(), bots={Seat.SERVER: _WrongOrderServer()}).state
    judged = [v for v in state.verdicts if v.step == "server.finished"]
    assert [v.ok for v in judged] == [False, True], judged
    assert judged[0].points < 0 and judged[1].points == 0 and "server stops" in judged[1].reason
    assert state.failed is not None and state.failed.check == "finished"


def test_a_check_named_after_its_seat_is_said_once() -> None:
    state = play_table(Variant.TLS13, Scenario.ROGUE_CSR, referee()).state
    assert state.outcome == ("attack_stopped", "the attack was stopped by the CA's identity check")
