"""The next correct move: what guided difficulty offers, what a hint says, what honest bots do.

Each step of the catalog names its guide: a function of the acting seat's own knowledge
(its wallet, what reached it) that runs the same real checks a careful player would — a
certificate is accepted only if it verifies, a CSR is signed only for the name its
requester owns. The eavesdropper's attacking moves are here too: in an attack scenario
they are the eavesdropper's part, so its guided suggestion and its bot follow the scenario
in force (an injected one included).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from ..tls import pki
from ..tls.suites import KeyExchange
from . import actions as a
from . import tls12, tls13
from .expert import derived_at, filled
from .model import Scenario, Seat, Variant
from .relay import open_held
from .rules import CLIENT_NAME, EAVESDROPPER_NAME
from .state import TableState
from .tls12 import server_identity_problem, suite_of
from .tls13 import inspect_flight
from .weakdh import strip_possible
from .wire import held

REQUEST = "GET /grades HTTP/1.1\r\nHost: shop.example\r\n\r\n"
_BODY = "alice: A, bob: B+"
RESPONSE = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(_BODY)}\r\n\r\n{_BODY}"

# The tls13 replay scenario's request: not idempotent, so running it twice is the harm (RFC 8446 §8).
_FORM = "amount=100&to=carol"
TRANSFER = ("POST /transfer HTTP/1.1\r\nHost: shop.example\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(_FORM)}\r\n\r\n{_FORM}")
_DONE = "transferred 100 to carol"
TRANSFER_DONE = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(_DONE)}\r\n\r\n{_DONE}"

GuideFn = Callable[[TableState, Seat, datetime.datetime], a.Action]


def correct_action(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action | None:
    """The move a careful player in ``seat`` makes now, or None when it is not their turn."""
    step = state.current_step
    if step is None or step.seat is not seat:
        return None
    if step.attack is not None:  # the eavesdropper's part in the scenario in force is its attack
        return step.attack(state, seat, now)
    move = step.guide(state, seat, now)
    if derived_at(state, step):  # expert: the careful player computes every derived value right
        real = (tls13.expert_values(state, step) if state.variant is Variant.TLS13
                else tls12.expert_values(state, step))
        move = filled(move, state, step, real)
    return move


def attack_action(state: TableState, seat: Seat, now: datetime.datetime | None = None) -> a.Action | None:
    """The eavesdropper's attack at the current step, when the step has one."""
    step = state.current_step
    if step is None or step.seat is not seat or step.attack is None:
        return None
    return step.attack(state, seat, now or datetime.datetime.now(datetime.UTC))


# -- the guides the catalog names ------------------------------------------------------------

def always(action: a.Action) -> GuideFn:
    """A step whose careful move does not depend on the table."""
    def guide(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
        return action
    return guide


def resume(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
    """The client's second visit: the careful client resumes with psk_dhe_ke and keeps its
    transfer, which is not idempotent, out of 0-RTT data: a copy of early data can run again
    (RFC 8446 §8, §E.5), and psk_dhe_ke keeps a later leak of the ticket key from opening the
    session (§2.2, §2.3). The same at every table: the replay scenario's bot client is the one
    that sends its request early (``bots.HurriedClientBot``)."""
    return a.ResumeSession(a.PSK_DHE_KE, early_data=False)


def server_csr(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
    return a.SendCsr(state.server_name)


def review(inbox: str, rightful: Callable[[TableState], set[str]]) -> GuideFn:
    """The CA's identity check: issue only when the CSR asks for exactly the names its
    requester owns (and its signature proves possession of the key)."""
    def guide(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
        csr = pki.load_csr(state.item(seat, inbox))
        try:
            names = set(pki.check_csr(csr).names)
        except pki.CsrRejected:
            return a.RefuseCsr("the CSR's signature does not verify: no proof of key possession")
        if names == rightful(state):
            return a.IssueCertificate()
        return a.RefuseCsr("the CSR asks for a name this requester does not own")
    return guide


def check_certificate(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
    return a.AcceptCertificate() if certificate_holds(state, seat, now) else a.RejectCertificate()


def key_exchange(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
    rsa = suite_of(state, Seat.CLIENT).key_exchange is KeyExchange.RSA
    return a.EncryptPremaster() if rsa else a.SendKeyShare()


def certificate_problem(state: TableState, now: datetime.datetime) -> tuple[str, str] | None:
    """The checks a careful client runs, from what reached it — the referee's own: None when
    all hold, else (the check that fails, why)."""
    if state.variant is Variant.TLS13:  # the certificate travels encrypted: open the flight first
        flight = inspect_flight(state, now)
        if flight.unreadable:
            return ("handshake keys", "the server's encrypted flight does not open with the handshake keys "
                                      "your transcript gives: someone changed a hello on the way")
        return flight.problem
    return server_identity_problem(state, now)


def certificate_holds(state: TableState, seat: Seat, now: datetime.datetime) -> bool:
    return certificate_problem(state, now) is None


# -- the eavesdropper's attacks ----------------------------------------------------------------

def change_answer(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
    """The man in the middle changes a grade in the server's answer (or, in any other answer,
    adds a line of its own)."""
    record = next(s.payload for s in held(state) if s.label == "application data" and s.sender is Seat.SERVER)
    read = open_held(state, Seat.SERVER, record).decode("utf-8", "replace")
    return a.Relay(read.replace("bob: B+", "bob: A+") if "bob: B+" in read else read + "\r\nX-Note: edited")


def downgrade_to_dhe(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
    """Strip down to the weak suite, when the client offered it; otherwise there is no attack."""
    return a.StripSuites() if strip_possible(state) else a.Forward()


def eavesdropper_csr_attack(state: TableState, seat: Seat, now: datetime.datetime) -> a.Action:
    return a.SendCsr(state.server_name if state.scenario is Scenario.ROGUE_CSR else EAVESDROPPER_NAME)


def client_name(state: TableState) -> set[str]:
    return {CLIENT_NAME}


def server_name(state: TableState) -> set[str]:
    return {state.server_name}


def eavesdropper_name(state: TableState) -> set[str]:
    return {EAVESDROPPER_NAME}
