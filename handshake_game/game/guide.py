"""The next correct move: what guided difficulty offers, what a hint says, what honest bots do.

It decides from the acting seat's own view of the table (its wallet, what reached it),
running the same real checks a careful player would: a certificate is accepted only if
it verifies, a CSR is signed only for the name its requester owns.
"""

from __future__ import annotations

import datetime

from cryptography import x509

from ..tls import messages as m
from ..tls import pki
from . import actions as a
from .model import Scenario, Seat, Variant
from .table import CLIENT_NAME, EAVESDROPPER_NAME, TableState, view

REQUEST = "GET /grades HTTP/1.1\r\nHost: shop.example\r\n\r\n"
_BODY = "alice: A, bob: B+"
RESPONSE = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(_BODY)}\r\n\r\n{_BODY}"


def correct_action(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action | None:
    """The move a careful player in ``seat`` makes now, or None when it is not their turn."""
    step = state.current_step
    if step is None or step.seat is not seat:
        return None
    return _by_the_book(step.id, state, seat, now)


_SIMPLE: dict[str, a.Action] = {
    "ca.publish_root": a.PublishRoot(),
    "server.generate_key": a.GenerateKeyPair(),
    "client.generate_key": a.GenerateKeyPair(),
    "client.hello": a.SendClientHello(),
    "server.hello": a.SendServerHello(),
    "client.finished": a.DeriveAndSendFinished(),
    "server.finished": a.DeriveAndSendFinished(),
    "client.verify_finished": a.VerifyFinished(),
    "server.verify_finished": a.VerifyFinished(),
    "client.send_data": a.SendApplicationData(REQUEST),
    "server.send_data": a.SendApplicationData(RESPONSE),
    "client.read_data": a.ReadApplicationData(),
    "client.send_csr": a.SendCsr(CLIENT_NAME),
    "eavesdropper.generate_key": a.GenerateKeyPair(),
    "eavesdropper.send_csr": a.SendCsr(EAVESDROPPER_NAME),
    "eavesdropper.intercept": a.Forward(),
    "eavesdropper.tamper": a.Forward(),
    "eavesdropper.strip_suites": a.Forward(),
    "eavesdropper.replay": a.Forward(),
    "client.reconnect": a.Reconnect(),
}


def _by_the_book(step_id: str, state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
    if step_id in _SIMPLE:
        return _SIMPLE[step_id]
    if step_id == "server.send_csr":
        return a.SendCsr(state.server_name)
    if step_id == "ca.review_csr":
        return a.IssueCertificate() if _csr_names(state, seat, "received_csr", {state.server_name}) \
            else a.RefuseCsr("the CSR asks for a name this requester does not own")
    if step_id == "ca.review_client_csr":
        return a.IssueCertificate() if _csr_names(state, seat, "received_client_csr", {CLIENT_NAME}) \
            else a.RefuseCsr("the CSR asks for a name this requester does not own")
    if step_id == "ca.review_eavesdropper_csr":
        return a.IssueCertificate() if _csr_names(state, seat, "received_eavesdropper_csr",
                                                  {EAVESDROPPER_NAME}) \
            else a.RefuseCsr("the requester does not own that name")
    if step_id == "client.check_certificate":
        return a.AcceptCertificate() if certificate_holds(state, seat, now) else a.RejectCertificate()
    if step_id == "client.key_exchange":
        return a.EncryptPremaster() if state.variant is Variant.TLS12_RSA else a.SendKeyShare()
    raise ValueError(f"no move for {step_id}")


def _csr_names(state: TableState, seat: Seat, item: str, rightful: set[str]) -> bool:
    """The CA's identity check: the CSR must ask for exactly the names its requester owns."""
    seen = view(state, seat)
    csr = pki.load_csr(bytes.fromhex(seen["wallet"][item]["value"]))
    try:
        return set(pki.check_csr(csr).names) == rightful
    except pki.CsrRejected:
        return False


def certificate_holds(state: TableState, seat: Seat, now: datetime.datetime) -> bool:
    """The check a careful client runs, from what its own view holds."""
    if state.variant is Variant.TLS13:  # the certificate travels encrypted: open the flight first
        from .tls13 import inspect_flight

        flight = inspect_flight(state, now)
        return not flight.unreadable and flight.problem is None
    seen = view(state, seat)
    trust = [x509.load_der_x509_certificate(bytes.fromhex(seen["wallet"]["trust_store"]["value"]))]
    for entry in seen["wire"]:
        if entry["label"] == "Certificate" and entry["event"] == "delivered":
            message = m.decode_handshake(bytes.fromhex(entry["bytes"])[5:])
            assert isinstance(message, m.Certificate)
            try:
                pki.verify_server_chain(message.certificate_list, trust, state.server_name, now)
            except pki.CertificateRejected:
                return False
            return True
    return False


def attack_action(state: TableState, seat: Seat) -> a.Action | None:
    """The eavesdropper's attack for the scenario's steps (bots use it; it is never a hint)."""
    step = state.current_step
    if step is None or step.seat is not seat or seat is not Seat.EAVESDROPPER:
        return None
    attacks: dict[str, a.Action] = {
        "eavesdropper.send_csr": a.SendCsr(state.server_name if state.scenario is Scenario.ROGUE_CSR
                                           else EAVESDROPPER_NAME),
        "eavesdropper.intercept": a.SwapCertificate(),
        "eavesdropper.tamper": a.FlipByte(),
        "eavesdropper.strip_suites": a.StripSuites(),
        "eavesdropper.replay": a.ReplayOldFlight(),
    }
    return attacks.get(step.id)
