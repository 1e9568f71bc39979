"""Finite-field Diffie-Hellman for the game's weak-dh scenario, and the attack that breaks it.

TLS 1.2's DHE suites send the whole group with every handshake: the prime ``dh_p``, the
generator ``dh_g`` and the server's public value ``dh_Ys`` (RFC 5246 §7.4.3), so a server
can pick any group, however small. The 1990s US export rules capped these groups at 512
bits. Logjam (Adrian et al., "Imperfect Forward Secrecy", 2015) showed what that meant:
the number field sieve spends one precomputation on a fixed prime (about a week for a
512-bit one), after which every key in that group falls in about a minute. Most export
servers shared a handful of primes, so one precomputation broke them all; and a man in
the middle could talk a server that still enabled export DHE into using it.

The game plays this in small. :data:`EXPORT_GRADE_GROUP` is a deliberately weak 42-bit
group, so that :func:`break_key` (sympy's discrete logarithm, no precomputation) takes
about as long as a student is willing to wait. It is used by the game's weak-dh scenario
only: the network tools (``connect``, ``listen``) never offer or accept a DHE suite, and
nothing here is fit to protect anything.

``cryptography`` refuses finite-field groups under 512 bits, so the arithmetic is Python's
own modular exponentiation. Randomness comes from the caller's ``rng``, as in
``keyexchange``, so a replay rebuilds the same keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .alerts import AlertIllegalParameter

Rng = Callable[[int], bytes]

# Above this, break_key refuses rather than run for hours: the point is that the export
# group is small, not that discrete logarithms are easy.
BREAKABLE_BITS = 48


def _byte_length(value: int) -> int:
    return (value.bit_length() + 7) // 8


@dataclass(frozen=True)
class DhGroup:
    """A finite-field DH group: the prime modulus ``p`` and the generator ``g``."""

    p: int
    g: int

    def __post_init__(self) -> None:
        # The group arrives from the wire (ServerDHParams): refuse what makes no group at all.
        if self.p <= 5 or self.p % 2 == 0:
            raise AlertIllegalParameter(f"dh_p = {self.p} is not an odd prime modulus above 5")
        if not 2 <= self.g <= self.p - 2:
            raise AlertIllegalParameter(f"dh_g must lie in 2..p-2, not {self.g}")

    @classmethod
    def from_bytes(cls, p: bytes, g: bytes) -> DhGroup:
        """The group of a ServerDHParams: dh_p and dh_g are big-endian integers."""
        return cls(int.from_bytes(p, "big"), int.from_bytes(g, "big"))

    @property
    def bits(self) -> int:
        return self.p.bit_length()

    @property
    def length(self) -> int:
        """Bytes of p: the length every public value is encoded at."""
        return _byte_length(self.p)

    def p_bytes(self) -> bytes:
        return self.p.to_bytes(self.length, "big")

    def g_bytes(self) -> bytes:
        return self.g.to_bytes(_byte_length(self.g), "big")

    def exponent_modulus(self) -> int:
        """The modulus private exponents are drawn below.

        When g is a quadratic residue its order divides (p-1)/2; for a safe prime p = 2q+1
        it is exactly q, and an exponent below q is the one the discrete logarithm returns.
        """
        half = (self.p - 1) // 2
        return half if pow(self.g, half, self.p) == 1 else self.p - 1


# The largest 42-bit safe prime p = 2q + 1 with p ≡ 7 (mod 8): 2 is then a quadratic
# residue and generates the subgroup of prime order q, as 2 does in RFC 7919's groups.
# Found once with sympy (tests/tls/test_weak_dh.py checks it); nothing up the sleeve.
EXPORT_GRADE_GROUP = DhGroup(p=4398046508903, g=2)


def group_bits(p: bytes) -> int:
    """The size of a dh_p in bits: what a client must check before trusting the group."""
    return int.from_bytes(p, "big").bit_length()


def _check_public(group: DhGroup, value: int, whose: str) -> None:
    # RFC 7919 §5.1: "Peers MUST validate each other's public key Y by ensuring that
    # 1 < Y < p-1"; 1 and p-1 would pin the shared secret to 1 or ±1.
    if not 2 <= value <= group.p - 2:
        raise AlertIllegalParameter(
            f"{whose} DH public value {value} is outside 2..p-2 (RFC 7919 §5.1)")


class FfdhePrivateKey:
    """One side's ephemeral finite-field DH key in a group (mirrors ``EcdhePrivateKey``)."""

    def __init__(self, group: DhGroup, rng: Rng) -> None:
        modulus = group.exponent_modulus()
        draw = int.from_bytes(rng(group.length + 8), "big")  # 64 spare bits: no visible bias
        self._set(group, draw % (modulus - 2) + 2)

    @classmethod
    def from_private_bytes(cls, group: DhGroup, private: bytes) -> FfdhePrivateKey:
        """The key whose private exponent is ``private`` (big-endian), e.g. from a wallet."""
        exponent = int.from_bytes(private, "big")
        if not 1 <= exponent <= group.p - 2:
            raise ValueError(f"a private exponent must lie in 1..p-2, not {exponent}")
        key = cls.__new__(cls)
        key._set(group, exponent)
        return key

    def _set(self, group: DhGroup, exponent: int) -> None:
        self.group = group
        self._exponent = exponent
        self._public = pow(group.g, exponent, group.p)

    def public_bytes(self) -> bytes:
        """g^x mod p, big-endian at the length of p (dh_Ys or dh_Yc)."""
        return self._public.to_bytes(self.group.length, "big")

    def private_bytes(self) -> bytes:
        """The private exponent x — for the game's wallet and the debrief only."""
        return self._exponent.to_bytes(self.group.length, "big")

    def exchange(self, peer_public: bytes) -> bytes:
        """The premaster of a DHE suite: Z = Y^x mod p (RFC 5246 §8.1.2).

        "Leading bytes of Z that contain all zero bits are stripped before it is used as
        the pre_master_secret", unlike TLS 1.3 and RFC 7919, which keep Z at the length of p.
        """
        peer = int.from_bytes(peer_public, "big")
        _check_public(self.group, peer, "the peer's")
        shared = pow(peer, self._exponent, self.group.p)
        return shared.to_bytes(self.group.length, "big").lstrip(b"\x00")


def break_key(p: bytes, g: bytes, public: bytes) -> bytes:
    """The eavesdropper's attack: the private exponent behind ``public``, by discrete log.

    Returns it as private bytes for :meth:`FfdhePrivateKey.from_private_bytes`: the
    smallest exponent that gives ``public``, which in a safe-prime group is the very one
    the owner drew. Raises ``ValueError`` for a group too big to break here or a value
    that is not a power of g.
    """
    group = DhGroup.from_bytes(p, g)
    if group.bits > BREAKABLE_BITS:
        raise ValueError(f"a {group.bits}-bit group is beyond this attack (at most "
                         f"{BREAKABLE_BITS} bits): that is the point of large groups")
    value = int.from_bytes(public, "big")
    _check_public(group, value, "the")
    # Imported here: only the attacker needs sympy, and it takes a while to load.
    from sympy.ntheory import discrete_log  # type: ignore[import-untyped]

    try:
        exponent = int(discrete_log(group.p, value, group.g))
    except ValueError as exc:
        raise ValueError(f"no discrete logarithm of {value} to base {group.g} mod {group.p}: "
                         f"{exc}") from None
    return exponent.to_bytes(group.length, "big")
