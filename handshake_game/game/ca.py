"""The PKI phase, before any handshake: the CA's root (the client's trust store), key pairs,
certificate signing requests, and the CA's review of each — the identity check that
decides who gets a certificate for which name (RFC 2986 for CSRs, RFC 5280 for certificates).
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..tls import pki
from . import actions as a
from .facts import AttackStopped, Fact, ForgeryAccepted, HandshakeFailed, ItemStored
from .handshake import load_key, private_key_pem
from .model import Scenario, Seat
from .rules import (
    CLIENT_NAME,
    EAVESDROPPER_NAME,
    POINTS_CAUGHT,
    POINTS_MISTAKE,
    Code,
    Referee,
    Rejected,
    Step,
    mistake,
    ok,
)
from .state import TableState


def publish_root(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    ca = pki.create_root_ca(action.common_name, ref.now(), key=ref.rsa_keys())
    der = ca.certificate.public_bytes(serialization.Encoding.DER)
    return [
        ItemStored(Seat.CA, "ca_key", "private_key", private_key_pem(ca.private_key), True),
        ItemStored(Seat.CA, "ca_certificate", "certificate", der, False),
        ItemStored(Seat.CLIENT, "trust_store", "certificate", der, False),
        ItemStored(Seat.SERVER, "trust_store", "certificate", der, False),  # for client certificates
        ok(step, "the root certificate is self-signed; the client will trust what it signs"),
    ]


_IDENTITY = {  # seat -> (its name, its wallet's key item, the CA's inbox item, its certificate item)
    Seat.SERVER: ("server", "server_key", "received_csr", "server_certificate"),
    Seat.CLIENT: ("client", "client_key", "received_client_csr", "client_certificate"),
}


def _rightful_name(state: TableState, seat: Seat) -> str:
    return state.server_name if seat is Seat.SERVER else CLIENT_NAME


def generate_key(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    who, key_item, _, _ = _IDENTITY[step.seat]
    return [ItemStored(step.seat, key_item, "private_key", private_key_pem(ref.rsa_keys()), True),
            ok(step, f"a 2048-bit RSA key pair: the private half never leaves the {who}")]


def send_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    who, key_item, inbox, _ = _IDENTITY[step.seat]
    key = load_key(state.item(step.seat, key_item))
    csr = pki.build_csr(key, action.name, [action.name], client=step.seat is Seat.CLIENT)
    der = csr.public_bytes(serialization.Encoding.DER)
    facts: list[Fact] = [ItemStored(step.seat, f"{who}_csr", "csr", der, False),
                         ItemStored(Seat.CA, inbox, "csr", der, False)]
    rightful = _rightful_name(state, step.seat)
    if action.name != rightful:
        facts.append(mistake(step, f"the CSR asks for {action.name!r}, but this {who} is {rightful!r}; "
                                    "peers will refuse that certificate"))
    else:
        facts.append(ok(step, f"the CSR names the {who} and is signed with its key: proof of possession"))
    return facts


def review_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    requester = Seat.CLIENT if step.id == "ca.review_client_csr" else Seat.SERVER
    who, _, inbox, certificate_item = _IDENTITY[requester]
    rightful = _rightful_name(state, requester)
    csr = pki.load_csr(state.item(Seat.CA, inbox))
    info: pki.CsrInfo | None
    problem: str | None
    try:
        info = pki.check_csr(csr)
    except pki.CsrRejected as exc:
        info, problem = None, exc.reason
    else:
        problem = None if set(info.names) == {rightful} else (
            f"the CSR asks for {', '.join(info.names)}, but the requester is {rightful}")
    if isinstance(action, a.RefuseCsr):
        if problem is None:
            return [mistake(step, f"the CSR was sound (valid signature, the {who}'s own name); without "
                                   f"a certificate the {who} cannot take part", POINTS_MISTAKE * 2),
                    HandshakeFailed(Seat.CA, "ca refused", "the CA refused a valid request")]
        return [ok(step, f"right to refuse: {problem}", POINTS_CAUGHT),
                HandshakeFailed(Seat.CA, "ca identity check", problem)]
    if info is None:
        raise Rejected(f"the CSR cannot be issued: {problem}", Code.BAD_INPUT)
    ca = pki.CertificateAuthority(x509.load_der_x509_certificate(state.item(Seat.CA, "ca_certificate")),
                                  load_key(state.item(Seat.CA, "ca_key")))
    # The expired-cert scenario: the server runs on a certificate whose time has passed.
    flaw = pki.Flaw.EXPIRED if state.scenario is Scenario.EXPIRED_CERT and requester is Seat.SERVER else None
    usage = pki.Usage.CLIENT if requester is Seat.CLIENT else pki.Usage.SERVER
    cert = pki.issue_from_csr(ca, csr, usage, ref.now(), flaw=flaw)
    der = cert.public_bytes(serialization.Encoding.DER)
    verdict = (ok(step, f"the CSR's signature proves key possession and the name is the {who}'s: "
                         f"issued for {'clientAuth' if requester is Seat.CLIENT else 'serverAuth'}")
               if problem is None
               else mistake(step, f"issued although {problem}: a CA that skips the identity check "
                                   "signs lies", POINTS_MISTAKE * 2))
    return [ItemStored(requester, certificate_item, "certificate", der, False), verdict]


def eavesdropper_key(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    key = private_key_pem(ref.rsa_keys())
    return [ItemStored(Seat.EAVESDROPPER, "eavesdropper_key", "private_key", key, True),
            ok(step, "a key pair of its own", 0)]


def eavesdropper_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    key = load_key(state.item(Seat.EAVESDROPPER, "eavesdropper_key"))
    csr = pki.build_csr(key, action.name, [action.name])
    der = csr.public_bytes(serialization.Encoding.DER)
    return [ItemStored(Seat.CA, "received_second_csr", "csr", der, False),
            ok(step, f"a CSR for {action.name}, signed with its own key", 0)]


def review_second_csr(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    csr = pki.load_csr(state.item(Seat.CA, "received_second_csr"))
    try:
        names = pki.check_csr(csr).names
    except pki.CsrRejected as exc:
        raise Rejected(f"the CSR cannot be issued: {exc.reason}", Code.BAD_INPUT) from None
    rightful = EAVESDROPPER_NAME in names and state.server_name not in names
    if isinstance(action, a.RefuseCsr):
        if rightful:
            return [mistake(step, f"the requester owns {EAVESDROPPER_NAME}; refusing it was not needed")]
        return [ok(step, f"right to refuse: the requester is not {state.server_name}'s owner",
                    POINTS_CAUGHT),
                AttackStopped(Seat.CA, "ca identity check",
                              f"the CA refused a certificate for {state.server_name} to someone else")]
    ca = pki.CertificateAuthority(x509.load_der_x509_certificate(state.item(Seat.CA, "ca_certificate")),
                                  load_key(state.item(Seat.CA, "ca_key")))
    cert = pki.issue_from_csr(ca, csr, pki.Usage.SERVER, ref.now())
    der = cert.public_bytes(serialization.Encoding.DER)
    facts: list[Fact] = [ItemStored(Seat.EAVESDROPPER, "eavesdropper_certificate", "certificate", der, False)]
    if rightful:
        return [*facts, ok(step, f"the requester owns {EAVESDROPPER_NAME}: issued for that name only")]
    return [*facts, mistake(step, f"issued a certificate for {state.server_name} to someone who does "
                                   "not run it: anyone holding it can impersonate the server",
                             POINTS_MISTAKE * 2),
            ForgeryAccepted(f"the CA issued the eavesdropper a certificate for {state.server_name}")]
