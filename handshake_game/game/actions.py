"""Actions: what a player asks to do (imperative, frozen). Humans and bots use the same ones.

Most actions carry a choice. The choice may be wrong; the referee then lets the real
cryptography show the consequence (a premaster encrypted to the wrong key cannot be
opened; keys derived from the wrong inputs give a Finished that does not verify).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishRoot:
    common_name: str = "Classroom Root CA"


@dataclass(frozen=True)
class GenerateKeyPair:
    pass


@dataclass(frozen=True)
class SendCsr:
    name: str  # the host name the server asks to be certified for


@dataclass(frozen=True)
class IssueCertificate:
    pass


@dataclass(frozen=True)
class RefuseCsr:
    reason: str


@dataclass(frozen=True)
class SendClientHello:
    """``suites``: IANA names to offer, strongest first (default: the variant's two suites)."""

    suites: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SendServerHello:
    """``suite``: the IANA name to choose from the offer (default: the strongest the server has)."""

    suite: str | None = None


@dataclass(frozen=True)
class AcceptCertificate:
    """At expert difficulty in TLS 1.3 the client also submits the handshake traffic secrets
    it computed to open the server's flight (``game.expert``)."""

    client_handshake_traffic_secret_hex: str | None = None
    server_handshake_traffic_secret_hex: str | None = None


@dataclass(frozen=True)
class RejectCertificate:
    client_handshake_traffic_secret_hex: str | None = None
    server_handshake_traffic_secret_hex: str | None = None


@dataclass(frozen=True)
class EncryptPremaster:
    """RSA key exchange: encrypt a fresh premaster to the public key in wallet item ``key``."""

    key: str = "server_certificate"


@dataclass(frozen=True)
class SendKeyShare:
    """ECDHE key exchange: send the client's share for the server's group. In tls12-mutual
    the client also presents its certificate and signs the handshake (CertificateVerify)."""

    present_certificate: bool = True


@dataclass(frozen=True)
class DeriveAndSendFinished:
    """Derive the master secret from wallet items and send ChangeCipherSpec + Finished.

    ``randoms`` is the order of the two randoms in the PRF seed: "client+server" is
    right (RFC 5246 §8.1); "server+client" is the classic mistake. At expert
    difficulty the ``*_hex`` fields are the player's own computations (``game.expert``):
    the master secret, the TLS 1.2 key block's write keys and IVs or the TLS 1.3
    application traffic secrets, and the seat's own Finished verify_data.
    """

    randoms: str = "client+server"
    master_secret_hex: str | None = None
    client_write_key_hex: str | None = None
    server_write_key_hex: str | None = None
    client_write_iv_hex: str | None = None
    server_write_iv_hex: str | None = None
    client_application_traffic_secret_hex: str | None = None
    server_application_traffic_secret_hex: str | None = None
    verify_data_hex: str | None = None


@dataclass(frozen=True)
class VerifyFinished:
    """At expert difficulty ``verify_data_hex`` is the peer's verify_data as the player
    computed it: the value the received Finished is checked against."""

    verify_data_hex: str | None = None


@dataclass(frozen=True)
class SendApplicationData:
    text: str


@dataclass(frozen=True)
class ReadApplicationData:
    pass


@dataclass(frozen=True)
class Forward:
    """The eavesdropper lets what it holds through, unchanged."""


@dataclass(frozen=True)
class SwapCertificate:
    """The eavesdropper replaces the server's certificate (and, with ECDHE, the signed
    share) by its own: a self-signed certificate, or the one the CA issued it."""


@dataclass(frozen=True)
class Relay:
    """The man in the middle answers what it holds with bytes of its own making: its half
    of each handshake, or a record opened with one side's keys and sealed again with the
    other's. ``text`` (application data only) replaces what it read."""

    text: str | None = None


@dataclass(frozen=True)
class Drop:
    """The eavesdropper throws away what it holds: the recipient waits, then gives up."""


@dataclass(frozen=True)
class Inject:
    """The eavesdropper forwards what it holds and slips in one more handshake message of its
    own making (a second ServerHelloDone) on the way to the client."""


@dataclass(frozen=True)
class FlipByte:
    """The eavesdropper flips one bit of the held ServerHello's server_random."""

    offset: int = 0  # within server_random


@dataclass(frozen=True)
class StripSuites:
    """The eavesdropper removes the client's first (strongest) suite from the ClientHello."""


@dataclass(frozen=True)
class Reconnect:
    """The client starts a new session with the same server."""


@dataclass(frozen=True)
class ReplayOldFlight:
    """The eavesdropper swaps the client's ClientKeyExchange, ChangeCipherSpec and Finished
    for the ones it recorded in an earlier session."""


@dataclass(frozen=True)
class SendNewSessionTicket:
    """TLS 1.3: the server sends the client a ticket to resume with (RFC 8446 §4.6.1)."""


# The server's answers to a ClientHello that resumes with 0-RTT early data (RFC 8446 §8).
EARLY_DATA_REFUSE = "refuse"  # the request waits for 1-RTT (RFC 8446 §4.2.10, RFC 8470 §5.2)
EARLY_DATA_SINGLE_USE = "single-use-tickets"  # accept, each ticket good once (§8.1)
EARLY_DATA_NO_ANTI_REPLAY = "no-anti-replay"  # accept, every time the ticket comes
EARLY_DATA_POLICIES = (EARLY_DATA_SINGLE_USE, EARLY_DATA_NO_ANTI_REPLAY, EARLY_DATA_REFUSE)


@dataclass(frozen=True)
class AnswerResumption:
    """The server answers a ClientHello that resumes with its ticket and carries 0-RTT early
    data. ``early_data`` is its policy for that data: one of ``EARLY_DATA_POLICIES``."""

    early_data: str = EARLY_DATA_REFUSE


# The client's key exchange modes for a resumption (RFC 8446 §4.2.9).
PSK_DHE_KE = "psk_dhe_ke"  # the PSK and a fresh (EC)DHE exchange: forward secret (§2.2)
PSK_KE = "psk_ke"  # the PSK alone: no key_share, no forward secrecy
PSK_MODES = (PSK_DHE_KE, PSK_KE)


@dataclass(frozen=True)
class ResumeSession:
    """The client connects again with its ticket (key-leak): ``psk_mode`` is one of
    ``PSK_MODES``; ``early_data`` whether it sends its request as 0-RTT data."""

    psk_mode: str = PSK_DHE_KE
    early_data: bool = False


@dataclass(frozen=True)
class ReplayEarlyData:
    """The eavesdropper sends the recorded resuming ClientHello and its 0-RTT early data to
    the server again, byte for byte, in a connection of its own."""


@dataclass(frozen=True)
class RequestHint:
    """Ask what the current step wants. Free when guided, costs points otherwise."""


@dataclass(frozen=True)
class TryDecrypt:
    """The eavesdropper tries to read the recorded traffic with what it holds."""


Action = (PublishRoot | GenerateKeyPair | SendCsr | IssueCertificate | RefuseCsr | SendClientHello
          | SendServerHello | AcceptCertificate | RejectCertificate | EncryptPremaster | SendKeyShare
          | DeriveAndSendFinished | VerifyFinished | SendApplicationData | ReadApplicationData
          | Forward | Relay | Drop | Inject | SwapCertificate | FlipByte | StripSuites | Reconnect
          | ReplayOldFlight | SendNewSessionTicket | AnswerResumption | ResumeSession | ReplayEarlyData
          | RequestHint | TryDecrypt)
