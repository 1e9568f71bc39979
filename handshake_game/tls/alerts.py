"""TLS alerts (RFC 5246 §7.2, RFC 8446 §6) as one exception hierarchy.

Every failure the engine detects is raised as an :class:`Alert` subclass whose
``description`` is the wire code the peer is sent. The endpoints turn these into
alert records in one place, so a decode error or a failed check can never escape
as an unexpected exception.
"""

from __future__ import annotations

import enum


class AlertLevel(enum.IntEnum):
    WARNING = 1
    FATAL = 2


class AlertDescription(enum.IntEnum):
    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    record_overflow = 22
    handshake_failure = 40
    bad_certificate = 42
    unsupported_certificate = 43
    certificate_revoked = 44
    certificate_expired = 45
    certificate_unknown = 46
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    no_renegotiation = 100
    missing_extension = 109
    unsupported_extension = 110
    unrecognized_name = 112
    certificate_required = 116
    no_application_protocol = 120


class Alert(Exception):
    """A fatal protocol failure, carrying the alert sent to the peer."""

    description: AlertDescription = AlertDescription.internal_error

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or self.description.name)
        self.reason = reason or self.description.name


class AlertUnexpectedMessage(Alert):
    description = AlertDescription.unexpected_message


class AlertBadRecordMac(Alert):
    description = AlertDescription.bad_record_mac


class AlertRecordOverflow(Alert):
    description = AlertDescription.record_overflow


class AlertHandshakeFailure(Alert):
    description = AlertDescription.handshake_failure


class AlertBadCertificate(Alert):
    description = AlertDescription.bad_certificate


class AlertUnsupportedCertificate(Alert):
    description = AlertDescription.unsupported_certificate


class AlertCertificateExpired(Alert):
    description = AlertDescription.certificate_expired


class AlertCertificateUnknown(Alert):
    description = AlertDescription.certificate_unknown


class AlertIllegalParameter(Alert):
    description = AlertDescription.illegal_parameter


class AlertUnknownCa(Alert):
    description = AlertDescription.unknown_ca


class AlertDecodeError(Alert):
    description = AlertDescription.decode_error


class AlertDecryptError(Alert):
    description = AlertDescription.decrypt_error


class AlertProtocolVersion(Alert):
    description = AlertDescription.protocol_version


class AlertInsufficientSecurity(Alert):
    description = AlertDescription.insufficient_security


class AlertInternalError(Alert):
    description = AlertDescription.internal_error


class AlertUnsupportedExtension(Alert):
    description = AlertDescription.unsupported_extension


class AlertMissingExtension(Alert):
    description = AlertDescription.missing_extension


class AlertCertificateRequired(Alert):
    description = AlertDescription.certificate_required


ALERT_EXPLANATIONS: dict[AlertDescription, str] = {
    AlertDescription.close_notify: "the sender will send no more data on this connection",
    AlertDescription.unexpected_message: "a message arrived that the protocol does not allow here",
    AlertDescription.bad_record_mac: "a record failed its AEAD authentication: "
    "wrong keys, or the bytes were changed in transit",
    AlertDescription.record_overflow: "a record was longer than TLS allows",
    AlertDescription.handshake_failure: "the two sides could not agree on security parameters",
    AlertDescription.bad_certificate: "a certificate was corrupt or its signature did not verify",
    AlertDescription.certificate_expired: "a certificate has expired or is not yet valid",
    AlertDescription.certificate_unknown: "a certificate could not be accepted",
    AlertDescription.illegal_parameter: "a field held a value out of range or inconsistent",
    AlertDescription.unknown_ca: "the certificate chain does not lead to a trusted CA",
    AlertDescription.decode_error: "a message could not be decoded: wrong length or bad field",
    AlertDescription.decrypt_error: "a signature or Finished check failed",
    AlertDescription.protocol_version: "the peer's protocol version is not supported",
    AlertDescription.insufficient_security: "the peer offered only parameters too weak to accept",
    AlertDescription.internal_error: "the sender hit an internal error",
    AlertDescription.no_renegotiation: "the sender refuses to renegotiate",
    AlertDescription.unsupported_extension: "an extension appeared that was never offered",
    AlertDescription.missing_extension: "a required extension was absent",
    AlertDescription.unrecognized_name: "the server does not serve the requested name",
}


def describe_alert(description: int) -> str:
    """A one-line human explanation of an alert code."""
    try:
        known = AlertDescription(description)
    except ValueError:
        return f"unknown alert {description}"
    text = ALERT_EXPLANATIONS.get(known, known.name.replace("_", " "))
    return f"{known.name} ({int(known)}): {text}"
