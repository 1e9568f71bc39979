"""`--tls` and `--cipher` as both tools read them: which versions and suites to offer."""

from __future__ import annotations

from ..tls.suites import DEFAULT_CIPHER_SUITES, KeyExchange, ProtocolVersion, suite_by_name

TLS_CHOICES = ("1.2", "1.3")


class VersionChoiceError(ValueError):
    pass


def versions_and_suites(tls: str | None, ciphers: list[str] | None
                        ) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """No --tls: TLS 1.3 and 1.2, like a browser. ``--tls 1.2`` or ``1.3`` pins one."""
    try:
        named = tuple(suite_by_name(n) for n in ciphers) if ciphers else None
    except KeyError as exc:
        raise VersionChoiceError(str(exc.args[0])) from None
    if named is not None and any(s.key_exchange is KeyExchange.DHE for s in named):
        raise VersionChoiceError("the DHE suites belong to the game's weak-dh scenario; "
                                 "connect and listen never offer or accept them")
    suites = named if named is not None else tuple(suite_by_name(n) for n in DEFAULT_CIPHER_SUITES)
    if tls is None:
        versions: tuple[int, ...] = (ProtocolVersion.TLSv1_3, ProtocolVersion.TLSv1_2)
    elif tls == "1.3":
        versions = (ProtocolVersion.TLSv1_3,)
        suites = tuple(s for s in suites if s.tls13)
    elif tls == "1.2":
        versions = (ProtocolVersion.TLSv1_2,)
        suites = tuple(s for s in suites if not s.tls13)
    else:
        raise VersionChoiceError(f"--tls must be one of {', '.join(TLS_CHOICES)}, not {tls!r}")
    if not suites:
        raise VersionChoiceError(f"none of the --cipher suites can be used with TLS {tls}")
    return versions, tuple(s.name for s in suites)
