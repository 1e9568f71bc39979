"""The step catalog: the one table that says what every step of every variant is.

For each step — keyed by variant and step id — it gives the seat that acts, a label and a
sentence for people, the lesson card, the actions it is done with, the handler that runs
the real cryptography, the careful player's move (the guide), the menu a seat console
offers, the eavesdropper's attacking move where there is one, and whether the move makes
a fresh RSA key pair. ``decide``, the guide, the menu, the lessons check, the server's key
reservation and the pages (``catalog_json``, served as ``/catalog.json``) all read it.

A scenario adds the eavesdropper's steps to a variant's (``steps_for``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from . import actions as a
from . import ca, eavesdropper, menu, relay, tls12, tls13, weakdh, zerortt
from . import guide as g
from .model import Difficulty, Scenario, Seat, Variant, supports
from .recording import RECORDING_SCENARIOS, decrypt_step
from .rules import CLIENT_NAME, EAVESDROPPER_NAME, Step
from .wire import breaking, in_the_middle

SEAT_NAMES: dict[Seat, str] = {Seat.CLIENT: "client", Seat.SERVER: "server", Seat.CA: "CA",
                               Seat.EAVESDROPPER: "eavesdropper"}

VARIANT_NAMES: dict[Variant, str] = {
    Variant.TLS12_RSA: "TLS 1.2, RSA key exchange",
    Variant.TLS12_ECDHE: "TLS 1.2, ECDHE key exchange",
    Variant.TLS12_MUTUAL: "TLS 1.2, ECDHE with client certificates (mutual TLS)",
    Variant.TLS13: "TLS 1.3",
}

DIFFICULTY_NAMES: dict[Difficulty, str] = {
    Difficulty.GUIDED: "guided: the next move is marked",
    Difficulty.STANDARD: "standard: you choose every move; hints cost points",
    Difficulty.EXPERT: "expert: you compute the derived values yourself",
}

SCENARIO_STORIES: dict[Scenario, str] = {
    Scenario.HONEST: "everyone plays by the book",
    Scenario.PASSIVE: "the eavesdropper records every byte and tries to read them",
    Scenario.MITM_SELF_SIGNED: "the eavesdropper swaps the server's certificate for a self-signed one "
                               "for the same name",
    Scenario.MITM_WRONG_NAME: "the eavesdropper swaps in a genuine certificate the CA issued it — for "
                              "its own name",
    Scenario.EXPIRED_CERT: "the server's certificate expired long ago",
    Scenario.ROGUE_CSR: "the eavesdropper asks the CA for a certificate in the server's name",
    Scenario.TAMPER: "the eavesdropper changes one byte of the ServerHello in flight",
    Scenario.DOWNGRADE: "the eavesdropper strips the strongest cipher suite from the ClientHello",
    Scenario.REPLAY: "the client connects a second time, and the eavesdropper replays what it recorded: "
                     "in TLS 1.2 the first session's ClientKeyExchange and Finished, in TLS 1.3 the "
                     "resuming ClientHello and any request the client sent with it as 0-RTT early data",
    Scenario.KEY_LEAK: "after the session, the server's private key leaks to the eavesdropper (TLS 1.3: the "
                       "client resumes with its ticket first, and the server's ticket key leaks too)",
    Scenario.WEAK_DH: "the server still enables an export-grade Diffie-Hellman group; the eavesdropper "
                      "strips the strong suites and tries to break the key exchange",
}

_REVIEW = (a.IssueCertificate, a.RefuseCsr)
_FORWARD_OR_DROP = (a.Forward, a.Drop)
_RELAY_OR_DROP = (a.Relay, a.Drop)

# -- the PKI phase -----------------------------------------------------------------------------

_PKI_STEPS = (
    Step("ca.publish_root", Seat.CA, "the CA publishes its root certificate",
         "the CA creates its root certificate; it becomes the client's trust store", "pki-root",
         (a.PublishRoot,), ca.publish_root, g.always(a.PublishRoot()), menu.publish_root, makes_key=True),
    Step("server.generate_key", Seat.SERVER, "the server generates its key pair",
         "the server generates its key pair", "key-pair",
         (a.GenerateKeyPair,), ca.generate_key, g.always(a.GenerateKeyPair()), menu.generate_key,
         makes_key=True),
    Step("server.send_csr", Seat.SERVER, "the server sends its CSR",
         "the server sends a certificate signing request (CSR) for its name", "csr",
         (a.SendCsr,), ca.send_csr, g.server_csr, menu.send_csr),
    Step("ca.review_csr", Seat.CA, "the CA reviews the server's CSR",
         "the CA checks the CSR (its signature proves key possession; the name must be the server's) "
         "and issues or refuses", "ca-review",
         _REVIEW, ca.review_csr, g.review("received_csr", g.server_name), menu.review),
)

_CLIENT_PKI = (
    Step("client.generate_key", Seat.CLIENT, "the client generates its key pair",
         "the client generates its own key pair", "key-pair",
         (a.GenerateKeyPair,), ca.generate_key, g.always(a.GenerateKeyPair()), menu.generate_key,
         makes_key=True),
    Step("client.send_csr", Seat.CLIENT, "the client sends its CSR",
         "the client asks the CA for a client certificate", "csr",
         (a.SendCsr,), ca.send_csr, g.always(a.SendCsr(CLIENT_NAME)), menu.send_csr),
    Step("ca.review_client_csr", Seat.CA, "the CA reviews the client's CSR",
         "the CA checks the client's CSR and issues a clientAuth certificate", "ca-review",
         _REVIEW, ca.review_csr, g.review("received_client_csr", g.client_name), menu.review),
)

# -- TLS 1.2 -------------------------------------------------------------------------------------

_CLIENT_HELLO = Step(
    "client.hello", Seat.CLIENT, "ClientHello", "ClientHello: client_random and the offered suites",
    "client-hello", (a.SendClientHello,), tls12.client_hello, g.always(a.SendClientHello()),
    menu.client_hello)
_CHECK_CERTIFICATE = Step(
    "client.check_certificate", Seat.CLIENT, "the client checks the certificate",
    "the client checks the chain, the name and the validity, and accepts or rejects", "certificate-check",
    (a.AcceptCertificate, a.RejectCertificate), tls12.check_certificate, g.check_certificate,
    menu.check_certificate)
_CLIENT_FINISHED = Step(
    "client.finished", Seat.CLIENT, "the client's Finished",
    "the client derives the master secret and keys, sends ChangeCipherSpec and Finished", "finished",
    (a.DeriveAndSendFinished,), tls12.client_finished, g.always(a.DeriveAndSendFinished()),
    menu.client_finished)
_VERIFY_FINISHED = Step(
    "client.verify_finished", Seat.CLIENT, "the client checks the server's Finished",
    "the client checks the server's Finished", "finished",
    (a.VerifyFinished,), tls12.verify_finished, g.always(a.VerifyFinished()), menu.verify_finished)


def _data_steps(send: Any, read: Any) -> tuple[Step, ...]:
    return (
        Step("client.send_data", Seat.CLIENT, "the client sends its request",
             "the client sends its request in an encrypted record", "application-data",
             (a.SendApplicationData,), send, g.always(a.SendApplicationData(g.REQUEST)), menu.send_data),
        Step("server.send_data", Seat.SERVER, "the server answers",
             "the server reads the request and answers", "application-data",
             (a.SendApplicationData,), send, g.always(a.SendApplicationData(g.RESPONSE)), menu.send_data),
        Step("client.read_data", Seat.CLIENT, "the client reads the answer",
             "the client decrypts the answer", "application-data",
             (a.ReadApplicationData,), read, g.always(a.ReadApplicationData()), menu.read_data),
    )


def _server_finished(how: str) -> Step:
    return Step("server.finished", Seat.SERVER, "the server's Finished",
                f"the server {how}, derives the same keys, checks the client's Finished and sends its own",
                "finished", (a.DeriveAndSendFinished,), tls12.server_finished,
                g.always(a.DeriveAndSendFinished()), menu.server_finished)


_TLS12_RSA = _PKI_STEPS + (
    _CLIENT_HELLO,
    Step("server.hello", Seat.SERVER, "ServerHello and certificate",
         "ServerHello + Certificate + ServerHelloDone: server_random, the chosen suite, the certificate "
         "chain", "server-hello", (a.SendServerHello,), tls12.server_hello, g.always(a.SendServerHello()),
         menu.server_hello),
    _CHECK_CERTIFICATE,
    Step("client.key_exchange", Seat.CLIENT, "ClientKeyExchange",
         "ClientKeyExchange: a fresh premaster secret, encrypted to the server certificate's public key",
         "rsa-key-exchange", (a.EncryptPremaster, a.SendKeyShare), tls12.client_key_exchange, g.key_exchange,
         menu.key_exchange),
    _CLIENT_FINISHED,
    _server_finished("decrypts the premaster with its certificate's private key (RSA key transport)"),
    _VERIFY_FINISHED,
    *_data_steps(tls12.send_data, tls12.read_data),
)

_ECDHE_KEY_EXCHANGE = Step(
    "client.key_exchange", Seat.CLIENT, "ClientKeyExchange",
    "ClientKeyExchange: the client's ephemeral ECDH share; both sides compute the premaster from the "
    "two shares", "ecdhe-key-exchange", (a.SendKeyShare,), tls12.client_key_exchange, g.key_exchange,
    menu.key_exchange)

_TLS12_ECDHE = _PKI_STEPS + (
    _CLIENT_HELLO,
    Step("server.hello", Seat.SERVER, "ServerHello, certificate and signed ECDH share",
         "ServerHello + Certificate + ServerKeyExchange (an ephemeral ECDH share signed with the "
         "certificate key) + ServerHelloDone", "server-key-exchange", (a.SendServerHello,),
         tls12.server_hello, g.always(a.SendServerHello()), menu.server_hello),
    _CHECK_CERTIFICATE,
    _ECDHE_KEY_EXCHANGE,
    _CLIENT_FINISHED,
    _server_finished("computes the premaster from its ephemeral Diffie-Hellman share and the client's"),
    _VERIFY_FINISHED,
    *_data_steps(tls12.send_data, tls12.read_data),
)

_TLS12_MUTUAL = _PKI_STEPS + _CLIENT_PKI + (
    _CLIENT_HELLO,
    Step("server.hello", Seat.SERVER, "ServerHello, certificate, ECDH share and CertificateRequest",
         "ServerHello + Certificate + ServerKeyExchange + CertificateRequest (the server wants the "
         "client's certificate too) + ServerHelloDone", "mutual-authentication", (a.SendServerHello,),
         tls12.server_hello, g.always(a.SendServerHello()), menu.server_hello),
    _CHECK_CERTIFICATE,
    dataclasses.replace(
        _ECDHE_KEY_EXCHANGE, label="client Certificate, ClientKeyExchange and CertificateVerify",
        act="the client's Certificate, its ECDH share, and CertificateVerify: a signature over the "
            "handshake with the client's key", lesson="mutual-authentication"),
    _CLIENT_FINISHED,
    _server_finished("checks the client's certificate and CertificateVerify, computes the premaster "
                     "from its ephemeral Diffie-Hellman share and the client's"),
    _VERIFY_FINISHED,
    *_data_steps(tls12.send_data, tls12.read_data),
)

# -- TLS 1.3 -------------------------------------------------------------------------------------

_TLS13 = _PKI_STEPS + (
    Step("client.hello", Seat.CLIENT, "ClientHello with a key share",
         "ClientHello with supported_versions and an x25519 key_share: the client's half of the key "
         "exchange goes in the very first message", "tls13-client-hello",
         (a.SendClientHello,), tls13.client_hello, g.always(a.SendClientHello()), menu.client_hello),
    Step("server.hello", Seat.SERVER, "ServerHello and the encrypted server flight",
         "ServerHello with the server's key_share; then, encrypted under the handshake keys: "
         "EncryptedExtensions, Certificate, CertificateVerify, Finished", "tls13-server-flight",
         (a.SendServerHello,), tls13.server_hello, g.always(a.SendServerHello()), menu.server_hello),
    dataclasses.replace(
        _CHECK_CERTIFICATE, handler=tls13.check_certificate,
        act="the client derives the handshake keys, decrypts the flight, checks the certificate and the "
            "CertificateVerify signature"),
    Step("client.finished", Seat.CLIENT, "the client's Finished",
         "the client checks the server's Finished, derives the application keys (HKDF) and sends its "
         "Finished", "tls13-key-schedule", (a.DeriveAndSendFinished,), tls13.client_finished,
         g.always(a.DeriveAndSendFinished()), menu.client_finished),
    Step("server.verify_finished", Seat.SERVER, "the server checks the client's Finished",
         "the server checks the client's Finished", "finished", (a.VerifyFinished,),
         tls13.server_verify_finished, g.always(a.VerifyFinished()), menu.verify_finished),
    *_data_steps(tls13.send_data, tls13.read_data),
)

CATALOG: dict[Variant, tuple[Step, ...]] = {
    Variant.TLS12_RSA: _TLS12_RSA,
    Variant.TLS12_ECDHE: _TLS12_ECDHE,
    Variant.TLS12_MUTUAL: _TLS12_MUTUAL,
    Variant.TLS13: _TLS13,
}

# -- the eavesdropper's steps, which scenarios add -----------------------------------------------

_EAVESDROPPER_KEY = Step(
    "eavesdropper.generate_key", Seat.EAVESDROPPER, "the eavesdropper generates a key pair",
    "the eavesdropper generates a key pair of its own", "key-pair",
    (a.GenerateKeyPair,), ca.eavesdropper_key, g.always(a.GenerateKeyPair()), menu.generate_key,
    makes_key=True)


def _eavesdropper_csr(act: str, lesson: str) -> Step:
    return Step("eavesdropper.send_csr", Seat.EAVESDROPPER, "the eavesdropper sends a CSR", act, lesson,
                (a.SendCsr,), ca.eavesdropper_csr, g.always(a.SendCsr(EAVESDROPPER_NAME)), menu.send_csr,
                attack=g.eavesdropper_csr_attack)


def _review_second_csr(act: str) -> Step:
    # The CA does not know who sent it: its seat sees "a second CSR", the debrief says whose.
    return Step("ca.review_second_csr", Seat.CA, "the CA reviews a second CSR", act,
                "ca-review", _REVIEW, ca.review_second_csr,
                g.review("received_second_csr", g.eavesdropper_name), menu.review)


_INTERCEPT_12 = Step(
    "eavesdropper.intercept", Seat.EAVESDROPPER, "the eavesdropper holds the server's flight",
    "the eavesdropper holds the server's flight: forward it, or answer the client with its own certificate "
    "(and its own signed ECDH share) and keep the real flight for its own connection to the server", "mitm",
    (*_FORWARD_OR_DROP, a.SwapCertificate), eavesdropper.intercept, g.always(a.Forward()), menu.intercept,
    attack=g.always(a.SwapCertificate()))
_INTERCEPT_13 = dataclasses.replace(
    _INTERCEPT_12, label="the eavesdropper holds the ClientHello",
    act="the eavesdropper holds the ClientHello: forward it, or pass it on with its own key share instead of "
        "the client's, to stand in the middle of the key exchange", handler=relay.intercept_hello)
_ANSWER_CLIENT = Step(
    "eavesdropper.answer_client", Seat.EAVESDROPPER, "the eavesdropper answers the client itself",
    "the eavesdropper opens the server's flight with the keys its own share made, and answers the client "
    "with its own key share, certificate, CertificateVerify and Finished", "mitm",
    _RELAY_OR_DROP, relay.answer_client, g.always(a.Relay()), menu.relay, only_if=in_the_middle)
_RELAY_HANDSHAKE = Step(
    "eavesdropper.relay_handshake", Seat.EAVESDROPPER, "the eavesdropper finishes both handshakes",
    "the eavesdropper checks the client's Finished with the keys of the client's connection, and finishes "
    "its own handshake with the server: its own key exchange, its own Finished", "mitm",
    _RELAY_OR_DROP, relay.relay_handshake, g.always(a.Relay()), menu.relay, only_if=in_the_middle)
_RELAY_FINISHED = Step(
    "eavesdropper.relay_finished", Seat.EAVESDROPPER, "the eavesdropper sends the client its Finished",
    "the server's Finished ends the server's connection at the eavesdropper; the client gets a Finished the "
    "eavesdropper made over the client's own handshake", "mitm",
    _RELAY_OR_DROP, relay.relay_finished, g.always(a.Relay()), menu.relay, only_if=in_the_middle)
_RELAY_REQUEST = Step(
    "eavesdropper.relay_request", Seat.EAVESDROPPER, "the eavesdropper reads the request",
    "the eavesdropper opens the client's request with the keys of the client's connection, and seals it "
    "again for the server", "mitm",
    _RELAY_OR_DROP, relay.relay_request, g.always(a.Relay()), menu.relay_data, only_if=in_the_middle)
_RELAY_RESPONSE = Step(
    "eavesdropper.relay_response", Seat.EAVESDROPPER, "the eavesdropper reads the answer",
    "the eavesdropper opens the server's answer, may change it, and seals it again for the client", "mitm",
    _RELAY_OR_DROP, relay.relay_response, g.always(a.Relay()), menu.relay_data, attack=g.change_answer,
    only_if=in_the_middle)


def _man_in_the_middle(variant: Variant, steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """The relaying man in the middle: its first move, then a relay step wherever a flight
    crosses it (played only once the eavesdropper is in the middle)."""
    if variant is Variant.TLS13:
        steps = _after(steps, "client.hello", _INTERCEPT_13)
        steps = _after(steps, "server.hello", _ANSWER_CLIENT)
        steps = _after(steps, "client.finished", _RELAY_HANDSHAKE)
    else:
        steps = _after(steps, "server.hello", _INTERCEPT_12)
        steps = _after(steps, "client.finished", _RELAY_HANDSHAKE)
        steps = _after(steps, "server.finished", _RELAY_FINISHED)
    steps = _after(steps, "client.send_data", _RELAY_REQUEST)
    return _after(steps, "server.send_data", _RELAY_RESPONSE)


_TAMPER = Step(
    "eavesdropper.tamper", Seat.EAVESDROPPER, "the eavesdropper may tamper",
    "the eavesdropper changes a byte of the ServerHello in flight", "tamper",
    (*_FORWARD_OR_DROP, a.Inject, a.FlipByte), eavesdropper.tamper, g.always(a.Forward()), menu.tamper,
    attack=g.always(a.FlipByte()))
_STRIP_SUITES = Step(
    "eavesdropper.strip_suites", Seat.EAVESDROPPER, "the eavesdropper may strip suites",
    "the eavesdropper removes the strongest suite from the ClientHello", "downgrade",
    (*_FORWARD_OR_DROP, a.StripSuites), eavesdropper.strip_suites, g.always(a.Forward()), menu.strip_suites,
    attack=g.always(a.StripSuites()))
_DOWNGRADE_TO_DHE = Step(
    "eavesdropper.downgrade_to_dhe", Seat.EAVESDROPPER, "the eavesdropper strips the strong suites",
    "the eavesdropper removes every strong option from the ClientHello, leaving only the weak, export-grade "
    "finite-field DHE the server still enables", "weak-dh",
    (*_FORWARD_OR_DROP, a.StripSuites), weakdh.downgrade_to_dhe, g.always(a.Forward()), menu.downgrade_to_dhe,
    attack=g.downgrade_to_dhe)
_BREAK_DH = Step(
    "eavesdropper.break_dh", Seat.EAVESDROPPER, "the eavesdropper breaks the weak key exchange",
    "the eavesdropper computes the discrete logarithm of the server's share in the weak group, learns the "
    "master secret, and sends the server a client Finished forged over the server's transcript", "weak-dh",
    _RELAY_OR_DROP, weakdh.break_dh, g.always(a.Relay()), menu.relay, only_if=breaking)
_FORGE_FINISHED = Step(
    "eavesdropper.forge_finished", Seat.EAVESDROPPER, "the eavesdropper forges the server's Finished",
    "the eavesdropper replaces the server's Finished with one forged over the client's transcript", "weak-dh",
    _RELAY_OR_DROP, weakdh.forge_finished, g.always(a.Relay()), menu.relay, only_if=breaking)
_RECONNECT = Step(
    "client.reconnect", Seat.CLIENT, "the client reconnects",
    "later, the client connects again: a new session, fresh randoms", "replay",
    (a.Reconnect,), eavesdropper.reconnect, g.always(a.Reconnect()), menu.reconnect)
_REPLAY = Step(
    "eavesdropper.replay", Seat.EAVESDROPPER, "the eavesdropper may replay",
    "the eavesdropper swaps in the ClientKeyExchange and Finished it recorded in the first session", "replay",
    (*_FORWARD_OR_DROP, a.ReplayOldFlight), eavesdropper.replay, g.always(a.Forward()), menu.replay,
    attack=g.always(a.ReplayOldFlight()))


# TLS 1.3 resumption (RFC 8446 §2.2, §4.6.1): the first session ends with a NewSessionTicket,
# and the client's second visit resumes with it: no Certificate, no CertificateVerify.
_NEW_SESSION_TICKET = Step(
    "server.new_session_ticket", Seat.SERVER, "the server sends a NewSessionTicket",
    "the server derives resumption_master_secret and a PSK from it, seals the PSK into a ticket under its "
    "ticket key, and sends the ticket under its application keys", "tls13-resumption",
    (a.SendNewSessionTicket,), zerortt.issue_ticket, g.always(a.SendNewSessionTicket()),
    menu.new_session_ticket)
_RESUME_FINISHED = Step(
    "client.resume_finished", Seat.CLIENT, "the client's Finished, resumed",
    "the client derives the handshake keys from the PSK (and, with psk_dhe_ke, both fresh shares), checks "
    "the server's Finished, sees whether its early data was taken, if it sent any, and sends its Finished",
    "tls13-resumption", (a.DeriveAndSendFinished,), zerortt.client_resume_finished,
    g.always(a.DeriveAndSendFinished()), menu.client_finished)
_RESUME_VERIFY = Step(
    "server.resume_verify", Seat.SERVER, "the server checks the client's Finished",
    "the server reads EndOfEarlyData if it took early data, then checks the client's Finished",
    "tls13-resumption", (a.VerifyFinished,), zerortt.server_resume_verify, g.always(a.VerifyFinished()),
    menu.verify_finished)
_ANSWER_TRANSFER = Step(
    "server.answer_transfer", Seat.SERVER, "the server runs the transfer and answers",
    "the server runs the request (from the accepted early data, or the 1-RTT record) and answers",
    "application-data", (a.SendApplicationData,), zerortt.answer_transfer,
    g.always(a.SendApplicationData(g.TRANSFER_DONE)), menu.answer_transfer)


def _no_early_data_taken(state: Any) -> bool:
    return not zerortt.early_data_accepted(state)


# The second visit as every seat but the eavesdropper plays it at an honest, passive or key-leak
# table (the same steps, so that they give the scenario away to no one): the client chooses psk_dhe_ke
# or psk_ke and whether to send its request as 0-RTT data (RFC 8446 §4.2.9, §4.2.10), the server
# whether to take such data; the request and the answer follow. A key-leak eavesdropper holds the
# ticket key at the end, and its recording's resumed half opens only as far as those choices allow.
_RESUMPTION_13 = (
    _NEW_SESSION_TICKET,
    Step("client.resume", Seat.CLIENT, "the client resumes the session with its ticket",
         "later, the client connects again with its ticket: a ClientHello with pre_shared_key (and its "
         "binder), psk_ke or psk_dhe_ke (with a fresh key share), and, if it chooses, its request as 0-RTT "
         "early data", "tls13-resumption", (a.ResumeSession,), zerortt.resume, g.resume, menu.resume),
    Step("server.resume", Seat.SERVER, "the server answers the resumption",
         "the server opens the ticket and checks the binder; if 0-RTT data came, it checks the ticket's age "
         "and takes or refuses the data; then ServerHello, EncryptedExtensions and Finished, with no "
         "certificate: the PSK stands for it", "tls13-resumption", (a.AnswerResumption,),
         zerortt.server_resume, g.always(a.AnswerResumption()), menu.answer_resumption),
    _RESUME_FINISHED,
    _RESUME_VERIFY,
    Step("client.send_transfer", Seat.CLIENT, "the client sends its request, in 1-RTT",
         "the client sends its request under the application keys of the resumed session (unless the "
         "server took it as 0-RTT data)", "application-data", (a.SendApplicationData,), tls13.send_data,
         g.always(a.SendApplicationData(g.TRANSFER)), menu.retry_request, only_if=_no_early_data_taken),
    _ANSWER_TRANSFER,
    Step("client.read_transfer", Seat.CLIENT, "the client reads the answer",
         "the client decrypts the answer under the resumed session's application keys", "application-data",
         (a.ReadApplicationData,), tls13.read_data, g.always(a.ReadApplicationData()), menu.read_data),
)

# TLS 1.3 replay: the client and the server play the same second visit as at an honest table (the
# steps do not give the scenario away); then the eavesdropper may replay the resumed ClientHello
# and its early data, if the client sent any, in a connection of its own.
_RESUMPTION_13_REPLAY = (
    *_RESUMPTION_13,
    Step("eavesdropper.replay_early_data", Seat.EAVESDROPPER, "the eavesdropper may replay the 0-RTT data",
         "the eavesdropper sends the recorded ClientHello and its early data to the server again, in a "
         "connection of its own", "zero-rtt", (a.Forward, a.ReplayEarlyData), zerortt.replay_early_data,
         g.always(a.Forward()), menu.replay_early_data, attack=g.always(a.ReplayEarlyData())),
)


# The scenarios whose tls13 tables go on to the client's second visit, resumed with its ticket.
# (A man in the middle, a tampered or downgraded hello, a refused certificate: the table ends
# with the first session.)
_SECOND_VISIT = frozenset({Scenario.HONEST, Scenario.PASSIVE, Scenario.KEY_LEAK})


def _after(steps: tuple[Step, ...], step_id: str, *extra: Step) -> tuple[Step, ...]:
    index = next(i for i, step in enumerate(steps) if step.id == step_id) + 1
    return steps[:index] + extra + steps[index:]


@functools.cache
def steps_for(variant: Variant, scenario: Scenario) -> tuple[Step, ...]:
    """The variant's steps, with the eavesdropper's moves the scenario adds; where it records
    to read later, its last move is the attempt to decrypt the recording."""
    steps = _scenario_steps(variant, scenario)
    if scenario in RECORDING_SCENARIOS:
        steps += (decrypt_step(scenario),)
    return steps


def _scenario_steps(variant: Variant, scenario: Scenario) -> tuple[Step, ...]:
    steps = CATALOG[variant]
    if scenario is Scenario.MITM_SELF_SIGNED:
        steps = _after(steps, "ca.review_csr", _EAVESDROPPER_KEY)
        return _man_in_the_middle(variant, steps)
    if scenario is Scenario.MITM_WRONG_NAME:
        steps = _after(steps, "ca.review_csr", _EAVESDROPPER_KEY,
                       _eavesdropper_csr("the eavesdropper asks the CA for a certificate for its own name",
                                         "csr"),
                       _review_second_csr("a second certificate request arrives: the CA checks the name it "
                                          "claims and the key that signed it"))
        return _man_in_the_middle(variant, steps)
    if scenario is Scenario.ROGUE_CSR:
        return _after(steps, "ca.review_csr", _EAVESDROPPER_KEY,
                      _eavesdropper_csr("the eavesdropper asks the CA for a certificate in the server's name",
                                        "rogue-csr"),
                      _review_second_csr("a second certificate request arrives: the CA checks the name it "
                                         "claims and who asks for it"))
    if scenario is Scenario.TAMPER:
        return _after(steps, "server.hello", _TAMPER)
    if scenario is Scenario.REPLAY and variant is Variant.TLS13:
        return steps + _RESUMPTION_13_REPLAY
    if scenario in _SECOND_VISIT and variant is Variant.TLS13:
        return steps + _RESUMPTION_13
    if scenario is Scenario.REPLAY:
        pki_ids = {step.id for step in _PKI_STEPS}
        handshake = tuple(step for step in steps if step.id not in pki_ids)
        second = tuple(step for step in handshake if not step.id.endswith("_data")
                       and step.id != "client.verify_finished")
        return steps + (_RECONNECT,) + _after(second, "client.finished", _REPLAY)
    if scenario is Scenario.DOWNGRADE:
        return _after(steps, "client.hello", _STRIP_SUITES)
    if scenario is Scenario.WEAK_DH:
        steps = _after(steps, "client.hello", _DOWNGRADE_TO_DHE)
        if variant is Variant.TLS13:
            return steps
        steps = _after(steps, "client.finished", _BREAK_DH)
        return _after(steps, "server.finished", _FORGE_FINISHED)
    return steps


# Further reading: cards a seat console links beside a step's own card, and beside a
# scenario's card once the seat may know the scenario. A card is linked only at the variants
# its front matter names; ``handshake-game lessons`` checks these links against the cards.
READ_MORE: dict[str, tuple[str, ...]] = {
    "client.hello": ("what-tls-hides",),
    "ca.review_csr": ("revocation",),
    "client.check_certificate": ("revocation", "hsts"),
    "client.finished": ("extended-master-secret",),
    "server.finished": ("extended-master-secret",),
    "client.send_data": ("record-layer",),
    "server.send_data": ("record-layer",),
    "client.read_data": ("resumption", "key-logs"),
    "client.reconnect": ("resumption",),
    "eavesdropper.tamper": ("record-layer",),
    "eavesdropper.replay": ("resumption",),
    "eavesdropper.try_decrypt": ("what-tls-hides", "key-logs"),
}
SCENARIO_READ_MORE: dict[Scenario, tuple[str, ...]] = {
    Scenario.PASSIVE: ("what-tls-hides", "key-logs"),
    Scenario.MITM_SELF_SIGNED: ("hsts",),
    Scenario.MITM_WRONG_NAME: ("revocation", "hsts"),
    Scenario.EXPIRED_CERT: ("hsts",),
    Scenario.ROGUE_CSR: ("revocation",),
    Scenario.TAMPER: ("record-layer",),
    Scenario.REPLAY: ("resumption", "record-layer"),
    Scenario.KEY_LEAK: ("revocation", "key-logs"),
}


def every_step(variant: Variant) -> dict[str, Step]:
    """Every step the variant plays in any staged scenario, by id (the first definition wins)."""
    found: dict[str, Step] = {}
    for scenario in Scenario:
        if supports(variant, scenario):
            for step in steps_for(variant, scenario):
                found.setdefault(step.id, step)
    return found


def rsa_keys_needed(variant: Variant, scenario: Scenario) -> int:
    """How many fresh RSA key pairs a table of this variant and scenario draws."""
    return sum(step.makes_key for step in steps_for(variant, scenario))


def catalog_json() -> dict[str, Any]:
    """The catalog for the pages: seats, variants with their steps (per scenario), scenarios,
    difficulties, and a label for every step id. Words only: no handlers, no secrets."""
    labels: dict[str, str] = {}
    variants = []
    for variant, base in CATALOG.items():
        per_scenario = {}
        for scenario in Scenario:
            if supports(variant, scenario):
                steps = steps_for(variant, scenario)
                per_scenario[scenario.value] = [step.id for step in steps]
                for step in steps:
                    labels.setdefault(step.id, step.label)
        variants.append({
            "id": variant.value, "name": VARIANT_NAMES[variant],
            "steps": [{"id": step.id, "seat": step.seat.value, "label": step.label, "act": step.act,
                       "lesson": step.lesson} for step in base],
            "scenarios": per_scenario,
        })
    return {
        "seats": [{"id": seat.value, "name": SEAT_NAMES[seat]} for seat in Seat],
        "variants": variants,
        "scenarios": [{"id": scenario.value, "story": SCENARIO_STORIES[scenario],
                       "variants": [v.value for v in Variant if supports(v, scenario)]}
                      for scenario in Scenario],
        "difficulties": [{"id": d.value, "name": DIFFICULTY_NAMES[d]} for d in Difficulty],
        "step_labels": labels,
    }
