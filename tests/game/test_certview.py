"""Certificates and CSRs decoded for people (``certview.py``): the game's real certificates read
back field by field, the status against the table's clock, self-signed and untrusted chains in
words, garbage bytes as a clear entry, and the careful client's pass/fail checks only at guided
difficulty."""

from __future__ import annotations

import datetime
import functools
import json
import os
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from handshake_game.bots import play_table
from handshake_game.game import (
    Difficulty,
    Referee,
    Scenario,
    Seat,
    TableState,
    Variant,
    apply,
    open_table,
    view,
)
from handshake_game.game.certview import (
    describe_certificate,
    describe_chain,
    describe_csr,
    seat_documents,
    status_at,
)
from handshake_game.game.facts import Fact
from handshake_game.game.sharing import leaks
from handshake_game.game.wire import find
from handshake_game.tls import messages as m
from handshake_game.tls.pki import create_root_ca, generate_rsa_key

KEYS = [generate_rsa_key() for _ in range(4)]
DECISION = "client.check_certificate"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def referee() -> Referee:
    keys = iter(KEYS * 4)
    return Referee(rng=os.urandom, now=_now, rsa_keys=lambda: next(keys))


@functools.cache
def _played(variant: Variant, scenario: Scenario) -> tuple[TableState, tuple[Fact, ...]]:
    run = play_table(variant, scenario, referee())
    return run.state, tuple(run.facts)


def at_decision(variant: Variant, scenario: Scenario,
                difficulty: Difficulty = Difficulty.STANDARD) -> TableState:
    """The bot-played table replayed (at ``difficulty``) up to the client's certificate decision."""
    _, facts = _played(variant, scenario)
    state, _ = open_table(variant, scenario, difficulty)
    for fact in facts[1:]:
        state = apply(state, fact)
        if state.current_step is not None and state.current_step.id == DECISION:
            return state
    raise AssertionError(f"{variant.value}/{scenario.value} never reached {DECISION}")


def received(documents: dict[str, Any]) -> dict[str, Any]:
    """The certificate that reached the client for its decision."""
    (card,) = [c for c in documents["cards"] if not c["label"].startswith("in your wallet")]
    return card


def trust_store(documents: dict[str, Any]) -> dict[str, Any]:
    (card,) = [c for c in documents["cards"] if "trust store" in c["label"]]
    return card


# -- the real certificates, read back ----------------------------------------------------------

@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS13])
def test_the_servers_certificate_reads_as_what_it_says(variant: Variant) -> None:
    state = at_decision(variant, Scenario.HONEST)
    documents = view(state, Seat.CLIENT, _now())["documents"]
    card = received(documents)
    assert card["kind"] == "certificate" and card["name"] == "shop.example"
    assert "CN=shop.example" in card["subject"]
    assert card["issuer_name"] == "Classroom Root CA" and "CN=Classroom Root CA" in card["issuer"]
    assert card["san"] == ["shop.example"]
    assert card["status"] == "valid"
    assert card["key"] == "RSA 2048-bit"
    assert card["signature_algorithm"].endswith("with SHA-256")
    assert card["extended_key_usage"] == ["TLS server authentication (serverAuth)"]
    assert "digital signature" in card["key_usage"]
    assert card["ca"] is False and card["self_signed"] is False
    assert card["chain"]["reaches_trust"] is True
    assert card["chain"]["links"][0]["words"] == "signed by Classroom Root CA, which your trust store holds"
    # The words match what the bytes say, read independently.
    der = state.item(Seat.SERVER, "server_certificate")
    certificate = x509.load_der_x509_certificate(der)
    assert card["not_after"] == certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    if variant is Variant.TLS13:  # it travelled encrypted: the client opened it with its own keys
        assert card["label"] == "the server's encrypted flight, opened with your handshake keys"
    root = trust_store(documents)
    assert root["ca"] is True and root["self_signed"] is True and "signing certificates" in root["key_usage"]
    assert root["chain"]["links"] == [{"name": "Classroom Root CA",
                                       "words": "Classroom Root CA is a root your trust store holds"}]


def test_no_raw_certificate_bytes_in_the_documents() -> None:
    state = at_decision(Variant.TLS12_RSA, Scenario.HONEST)
    shown = json.dumps(view(state, Seat.CLIENT, _now())["documents"])
    for der in (state.item(Seat.SERVER, "server_certificate"), state.item(Seat.CLIENT, "trust_store")):
        assert der.hex()[40:80] not in shown.lower()


def test_an_expired_certificate_shows_expired_against_the_tables_clock() -> None:
    state = at_decision(Variant.TLS12_RSA, Scenario.EXPIRED_CERT)
    card = received(view(state, Seat.CLIENT, _now())["documents"])
    assert card["status"] == "expired"
    assert trust_store(view(state, Seat.CLIENT, _now())["documents"])["status"] == "valid"
    # The same bytes, judged at other moments of the clock.
    der = received_der(state)
    certificate = x509.load_der_x509_certificate(der)
    before = certificate.not_valid_before_utc - datetime.timedelta(days=1)
    inside = certificate.not_valid_before_utc + datetime.timedelta(hours=1)
    assert describe_certificate(der, before)["status"] == "not yet valid"
    assert describe_certificate(der, inside)["status"] == "valid"
    assert describe_certificate(der)["status"] is None  # no clock, no judgement
    assert status_at(certificate.not_valid_before_utc, certificate.not_valid_after_utc,
                     certificate.not_valid_after_utc) == "valid"  # RFC 5280: notAfter inclusive


def received_der(state: TableState) -> bytes:
    return bytes(find(state, Seat.CLIENT, m.Certificate).certificate_list[0])


@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS12_ECDHE, Variant.TLS13])
def test_a_self_signed_forgery_shows_self_signed_and_not_in_your_trust_store(variant: Variant) -> None:
    state = at_decision(variant, Scenario.MITM_SELF_SIGNED)
    shown = view(state, Seat.CLIENT, _now())
    card = received(shown["documents"])
    assert card["self_signed"] is True
    assert card["chain"]["reaches_trust"] is False
    (link,) = card["chain"]["links"]
    assert "not in your trust store" in link["words"] and "self-signed" in link["words"]
    # Facts a real client computes; never what the game knows behind its back.
    text = json.dumps(shown["documents"]).lower()
    for giveaway in ("forged", "mitm", "eavesdropper", "attack", Scenario.MITM_SELF_SIGNED.value):
        assert giveaway not in text


def test_a_chain_signed_by_a_stranger_is_not_in_your_trust_store() -> None:
    leaf = at_decision(Variant.TLS12_RSA, Scenario.HONEST).item(Seat.SERVER, "server_certificate")
    # Another CA of the same name, with its own key: the name matches, the signature does not.
    stranger = create_root_ca("Classroom Root CA", _now(), key=generate_rsa_key())
    stranger_root = stranger.certificate.public_bytes(serialization.Encoding.DER)
    chain = describe_chain((leaf,), (stranger_root,))
    assert chain["reaches_trust"] is False
    assert chain["links"][0]["words"].startswith("names Classroom Root CA as its signer, but the signature "
                                                 "does not verify")
    assert describe_chain((leaf,), ())["links"][0]["words"] == ("signed by Classroom Root CA, which is not "
                                                               "in your trust store")


# -- bytes that are not a certificate ----------------------------------------------------------

GARBAGE = [b"", b"\x00", b"not a certificate at all", b"\x30\x82\x01\x00" + b"\x00" * 40, bytes(range(256))]


@pytest.mark.parametrize("der", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_gives_a_clear_entry_never_an_exception(der: bytes) -> None:
    certificate = describe_certificate(der, _now())
    assert certificate == {"kind": "malformed", "problem": certificate["problem"]}
    assert certificate["problem"].startswith("this is not a certificate: ")
    assert describe_csr(der)["problem"].startswith("this is not a certificate signing request: ")
    chain = describe_chain((der,), ())
    assert chain["reaches_trust"] is False
    assert chain["links"][0]["words"].startswith("this is not a certificate")


def test_a_truncated_real_certificate_is_not_a_certificate() -> None:
    der = at_decision(Variant.TLS12_RSA, Scenario.HONEST).item(Seat.CLIENT, "trust_store")
    assert describe_certificate(der[:-20], _now())["kind"] == "malformed"
    # The end of its signature zeroed: still a certificate, but its own key no longer verifies it.
    damaged = describe_certificate(der[:-20] + bytes(20), _now())
    assert damaged["kind"] == "certificate" and damaged["self_signed"] is False
    assert describe_certificate(der, _now())["self_signed"] is True


# -- CSRs ----------------------------------------------------------------------------------------

def test_a_csr_shows_its_subject_names_key_and_proof_of_possession() -> None:
    state, _ = _played(Variant.TLS12_RSA, Scenario.HONEST)
    documents = view(state, Seat.CA, _now())["documents"]
    (card,) = [c for c in documents["cards"] if c["kind"] == "csr"]
    assert card["name"] == "shop.example" and card["san"] == ["shop.example"]
    assert card["key"] == "RSA 2048-bit"
    assert card["signature_valid"] is True and "proof of possession" in card["signature_words"]
    # One byte of the signature changed: the proof fails (or the bytes no longer parse).
    der = state.item(Seat.CA, "received_csr")
    tampered = describe_csr(der[:-1] + bytes([der[-1] ^ 1]))
    assert tampered.get("signature_valid") is False or tampered["kind"] == "malformed"
    if tampered["kind"] == "csr":
        assert "no proof" in tampered["signature_words"]


# -- what each seat sees -------------------------------------------------------------------------

def test_each_seat_sees_only_documents_it_holds_or_received() -> None:
    state, facts = _played(Variant.TLS12_ECDHE, Scenario.MITM_SELF_SIGNED)
    now = _now()
    for seat in Seat:
        shown = view(state, seat, now, dissect=True)
        assert leaks(state, seat, shown, facts) == []
    assert all(c["label"].startswith("in your wallet") for c in seat_documents(state, Seat.CA, now)["cards"])
    # The eavesdropper sees both certificates on the wire: the server's, and the one the client got.
    sources = [s for c in seat_documents(state, Seat.EAVESDROPPER, now)["cards"] for s in c["sources"]]
    assert "seen on the wire: the server's Certificate message" in sources
    assert "seen on the wire: the Certificate message delivered to the client" in sources
    # The server never received the forged certificate: it does not see it.
    forged = state.item(Seat.EAVESDROPPER, "forged_certificate")
    names = {c.get("fingerprint_sha256") for c in seat_documents(state, Seat.SERVER, now)["cards"]}
    assert describe_certificate(forged)["fingerprint_sha256"] not in names


@pytest.mark.parametrize("variant", [Variant.TLS12_RSA, Variant.TLS13])
def test_a_guided_view_at_the_decision_leaks_nothing(variant: Variant) -> None:
    state = at_decision(variant, Scenario.MITM_SELF_SIGNED, Difficulty.GUIDED)
    _, facts = _played(variant, Scenario.MITM_SELF_SIGNED)
    for seat in Seat:
        assert leaks(state, seat, view(state, seat, _now(), dissect=True), facts) == []


# -- the careful client's checks: guided only ------------------------------------------------------

def _checks(variant: Variant, scenario: Scenario) -> list[dict[str, Any]]:
    state = at_decision(variant, scenario, Difficulty.GUIDED)
    checks = view(state, Seat.CLIENT, _now())["documents"]["checks"]
    assert isinstance(checks, list)
    return checks


def test_guided_checks_pass_on_an_honest_server() -> None:
    checks = _checks(Variant.TLS12_ECDHE, Scenario.HONEST)
    assert [c["check"] for c in checks] == ["certificate chain", "certificate validity", "certificate usage",
                                            "certificate hostname", "server key exchange signature"]
    assert all(c["ok"] is True for c in checks)
    assert "shop.example" in checks[3]["detail"]


@pytest.mark.parametrize(("variant", "scenario", "failed", "words"), [
    (Variant.TLS12_RSA, Scenario.EXPIRED_CERT, "certificate validity", "expired"),
    (Variant.TLS12_RSA, Scenario.MITM_SELF_SIGNED, "certificate chain", "self-signed"),
    (Variant.TLS12_ECDHE, Scenario.MITM_WRONG_NAME, "certificate hostname", "not shop.example"),
    (Variant.TLS12_ECDHE, Scenario.TAMPER, "server key exchange signature", "does not verify"),
    (Variant.TLS12_ECDHE, Scenario.WEAK_DH, "key exchange group", "export grade"),
    (Variant.TLS13, Scenario.MITM_SELF_SIGNED, "certificate chain", "self-signed"),
])
def test_guided_checks_name_the_failing_check(variant: Variant, scenario: Scenario, failed: str,
                                              words: str) -> None:
    checks = _checks(variant, scenario)
    verdicts = [c["ok"] for c in checks]
    index = [c["check"] for c in checks].index(failed)
    assert verdicts[:index] == [True] * index  # what the referee checked before it passed
    assert verdicts[index] is False and words in checks[index]["detail"]
    assert verdicts[index + 1:] == [None] * (len(checks) - index - 1)


@pytest.mark.parametrize("difficulty", [Difficulty.STANDARD, Difficulty.EXPERT])
def test_standard_and_expert_show_the_certificate_but_no_verdict(difficulty: Difficulty) -> None:
    state = at_decision(Variant.TLS12_RSA, Scenario.EXPIRED_CERT, difficulty)
    documents = view(state, Seat.CLIENT, _now())["documents"]
    assert documents["checks"] is None
    assert received(documents)["status"] == "expired"  # the fact; the judgement is the student's
    text = json.dumps(documents)
    assert '"ok"' not in text and "not checked" not in text


def test_checks_only_at_the_clients_decision() -> None:
    state = at_decision(Variant.TLS12_RSA, Scenario.HONEST, Difficulty.GUIDED)
    for seat in (Seat.SERVER, Seat.CA, Seat.EAVESDROPPER):
        assert view(state, seat, _now())["documents"]["checks"] is None
    assert view(state, Seat.CLIENT)["documents"]["checks"] is None  # no clock, no judgement


@pytest.mark.parametrize("scenario", [Scenario.DOWNGRADE, Scenario.TAMPER])
def test_a_tls13_flight_that_does_not_decrypt_says_so_by_the_decision(scenario: Scenario) -> None:
    """What the client really learns when its handshake keys do not open the server's flight: a
    card at hand says so (at every difficulty), where an honest table has the certificate."""
    for difficulty in (Difficulty.STANDARD, Difficulty.EXPERT):
        documents = view(at_decision(Variant.TLS13, scenario, difficulty), Seat.CLIENT, _now())["documents"]
        first = documents["cards"][0]
        assert first["kind"] == "malformed" and first["at_hand"], first
        assert "does not decrypt" in first["problem"] and "bad_record_mac" in first["problem"]
        assert not any(card["kind"] == "certificate" and card["at_hand"] for card in documents["cards"])
        assert scenario.value not in json.dumps(documents)
    honest = view(at_decision(Variant.TLS13, Scenario.HONEST), Seat.CLIENT, _now())["documents"]
    assert not any(card["kind"] == "malformed" for card in honest["cards"])
