"""Bots for every seat: honest ones, careless ones that make the classic mistakes, and a
table runner that lets them play a whole handshake.

A bot sees what its seat sees (``game.view``) and answers with an action; it holds no
secret beyond its own wallet.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509

from ..game import actions as a
from ..game.facts import Fact
from ..game.model import Scenario, Seat, Variant
from ..game.table import (
    EAVESDROPPER_NAME,
    Referee,
    TableState,
    apply,
    decide,
    leak_server_key,
    open_table,
    view,
)
from ..tls import messages as m
from ..tls import pki

REQUEST = "GET /grades HTTP/1.1\r\nHost: shop.example\r\n\r\n"
RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nalice: A, bob: B+"


class HonestBot:
    """Plays its seat by the book, checking what a careful human would check."""

    def act(self, state: TableState, seat: Seat) -> a.Action:
        step = state.current_step
        assert step is not None and step.seat is seat
        return self.choose(step.id, state, seat)

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        if step_id == "ca.publish_root":
            return a.PublishRoot()
        if step_id == "server.generate_key":
            return a.GenerateKeyPair()
        if step_id == "server.send_csr":
            return a.SendCsr(state.server_name)
        if step_id == "ca.review_csr":
            return a.IssueCertificate() if _csr_names_the_server(state, seat) else a.RefuseCsr(
                "the CSR asks for a name this requester does not own")
        if step_id == "ca.review_eavesdropper_csr":
            return a.IssueCertificate() if _csr_is_the_eavesdroppers_own(state, seat) else a.RefuseCsr(
                "the requester does not own that name")
        if step_id == "client.hello":
            return a.SendClientHello()
        if step_id == "server.hello":
            return a.SendServerHello()
        if step_id == "client.check_certificate":
            return a.AcceptCertificate() if _certificate_holds(state, seat) else a.RejectCertificate()
        if step_id == "client.key_exchange":
            return a.SendKeyShare() if state.variant is Variant.TLS12_ECDHE else a.EncryptPremaster()
        if step_id in ("client.finished", "server.finished"):
            return a.DeriveAndSendFinished()
        if step_id == "client.verify_finished":
            return a.VerifyFinished()
        if step_id == "client.send_data":
            return a.SendApplicationData(REQUEST)
        if step_id == "server.send_data":
            return a.SendApplicationData(RESPONSE)
        if step_id == "client.read_data":
            return a.ReadApplicationData()
        raise ValueError(f"no move for {step_id}")


def _csr_is_the_eavesdroppers_own(state: TableState, seat: Seat) -> bool:
    seen = view(state, seat)
    csr = pki.load_csr(bytes.fromhex(seen["wallet"]["received_eavesdropper_csr"]["value"]))
    try:
        return set(pki.check_csr(csr).names) == {EAVESDROPPER_NAME}
    except pki.CsrRejected:
        return False


class AttackerBot(HonestBot):
    """The eavesdropper's strategy for each scenario: it always tries the attack."""

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        if step_id == "eavesdropper.generate_key":
            return a.GenerateKeyPair()
        if step_id == "eavesdropper.send_csr":
            name = state.server_name if state.scenario is Scenario.ROGUE_CSR else EAVESDROPPER_NAME
            return a.SendCsr(name)
        if step_id == "eavesdropper.intercept":
            return a.SwapCertificate()
        if step_id == "eavesdropper.tamper":
            return a.FlipByte()
        if step_id == "eavesdropper.strip_suites":
            return a.StripSuites()
        return super().choose(step_id, state, seat)


def _csr_names_the_server(state: TableState, seat: Seat) -> bool:
    """The CA's identity check: the CSR must name the server that sent it."""
    seen = view(state, seat)
    csr = pki.load_csr(bytes.fromhex(seen["wallet"]["received_csr"]["value"]))
    try:
        return state.server_name in pki.check_csr(csr).names
    except pki.CsrRejected:
        return False


def _certificate_holds(state: TableState, seat: Seat) -> bool:
    """The check a careful client runs, from what its own view holds."""
    seen = view(state, seat)
    trust = [x509.load_der_x509_certificate(bytes.fromhex(seen["wallet"]["trust_store"]["value"]))]
    for entry in seen["wire"]:
        if entry["label"] == "Certificate":
            message = m.decode_handshake(bytes.fromhex(entry["bytes"])[5:])
            assert isinstance(message, m.Certificate)
            try:
                pki.verify_server_chain(message.certificate_list, trust, state.server_name, _now())
            except pki.CertificateRejected:
                return False
            return True
    return False


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class TrustingBot(HonestBot):
    """A client that accepts any certificate: what a user clicking through a warning does."""

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        if step_id == "client.check_certificate":
            return a.AcceptCertificate()
        return super().choose(step_id, state, seat)


@dataclass
class CarelessBot(HonestBot):
    """Makes the typical mistakes at a set rate; everything else by the book."""

    rate: float = 0.5
    random: random.Random = field(default_factory=random.Random)

    def choose(self, step_id: str, state: TableState, seat: Seat) -> a.Action:
        slip = self.random.random() < self.rate
        if slip and step_id == "client.key_exchange" and state.variant is Variant.TLS12_RSA:
            return a.EncryptPremaster(key="trust_store")  # the CA's key instead of the server's
        if slip and step_id in ("client.finished", "server.finished"):
            return a.DeriveAndSendFinished(randoms="server+client")
        return super().choose(step_id, state, seat)


@dataclass
class TableRun:
    state: TableState
    facts: list[Fact]


def play_table(variant: Variant, scenario: Scenario, referee: Referee,
               bots: dict[Seat, HonestBot] | None = None,
               on_fact: Callable[[Fact], None] | None = None) -> TableRun:
    """Four bots play one table to its end; the eavesdropper attacks as the scenario says,
    and then tries to read what it recorded."""
    state, facts = open_table(variant, scenario)
    players: dict[Seat, HonestBot] = {seat: HonestBot() for seat in Seat}
    players[Seat.EAVESDROPPER] = AttackerBot()
    players |= bots or {}

    def record(new: list[Fact]) -> None:
        nonlocal state
        for fact in new:
            state = apply(state, fact)
            facts.append(fact)
            if on_fact is not None:
                on_fact(fact)

    while (step := state.current_step) is not None:
        record(decide(state, step.seat, players[step.seat].act(state, step.seat), referee))
    if scenario is Scenario.KEY_LEAK and state.wallets[Seat.SERVER].get("server_key") is not None:
        record(leak_server_key(state))
    if scenario in (Scenario.PASSIVE, Scenario.KEY_LEAK, Scenario.MITM_SELF_SIGNED,
                    Scenario.MITM_WRONG_NAME):
        record(decide(state, Seat.EAVESDROPPER, a.TryDecrypt(), referee))
    return TableRun(state, facts)
