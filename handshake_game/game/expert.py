"""Expert difficulty: the student computes every value its step derives, and submits it as hex.

At expert difficulty a step that derives keys asks its seat for each derived value
(``derived_at``); the seat console's workbench (``game.workbench``) computes them with the
referee's own functions on the seat's own values. The phase handlers (``tls12``,
``tls13``) compute the real values from the seat's inputs and call :func:`judge`:

* every value right earns the step's points, once;
* each value left empty or wrong is a mistake, never a pass;
* the table then plays the player's values, right or wrong — a wrong write key seals a
  Finished the peer cannot open, a wrong verify_data fails the peer's check — except an
  empty one, for which the game plays the real value (the mistake is already scored).

TLS 1.3's server derives its handshake secrets in the same move that makes its
ServerHello, so nothing can be computed before it: the server computes the client's
Finished it checks. Its application traffic secrets come from the same move too.
"""

from __future__ import annotations

import dataclasses
import hmac
from dataclasses import dataclass
from typing import Any

from ..tls import messages as m
from ..tls.suites import CIPHER_SUITES, CipherSuite
from .facts import Verdict
from .model import Difficulty, Variant
from .rules import Code, Rejected, Step, mistake, ok
from .state import TableState

MAX_HEX = 256  # the longest value asked for is a 48-byte secret; refuse anything far longer


@dataclass(frozen=True)
class Derived:
    """One value a seat computes: the action field it goes in, what it is, how it is made."""

    field: str
    words: str
    formula: str
    sized: bool = False  # a key or IV: the AEAD takes nothing but its exact length


def _tls12(suite: CipherSuite | None) -> dict[str, Derived]:
    hash_words = "SHA-384" if suite is not None and suite.hash_name == "SHA384" else "SHA-256"
    prf = f"the TLS 1.2 PRF with {hash_words}"
    k, iv = (suite.key_length, suite.fixed_iv_length) if suite is not None else (0, 0)
    sizes = (f"; {suite.name}: {k}-byte keys and {iv}-byte IVs, {2 * k + 2 * iv} bytes in all"
             if suite is not None else "")
    block = ("PRF(master_secret, \"key expansion\", server_random + client_random) — note the order — "
             "split as client_write_key | server_write_key | client_write_IV | server_write_IV "
             f"(RFC 5246 §6.3; AEAD suites have no MAC keys{sizes})")
    return {
        "master": Derived("master_secret_hex", "the master secret",
                          f"{prf}: PRF(pre_master_secret, \"master secret\", client_random + server_random), "
                          "48 bytes (RFC 5246 §8.1)"),
        "cwk": Derived("client_write_key_hex", "client_write_key",
                       f"the first bytes of the key block: {block}", True),
        "swk": Derived("server_write_key_hex", "server_write_key", f"next in the key block: {block}", True),
        "civ": Derived("client_write_iv_hex", "client_write_IV (the implicit nonce part)",
                       f"after the two keys in the key block: {block}", True),
        "siv": Derived("server_write_iv_hex", "server_write_IV",
                       f"the last bytes of the key block: {block}", True),
    }


def _verify12(whose: str, extra: str) -> Derived:
    return Derived("verify_data_hex", f"the {whose} Finished's verify_data",
                   f"PRF(master_secret, \"{whose} finished\", Hash(every handshake message so far{extra}))"
                   ", first 12 bytes (RFC 5246 §7.4.9)")


_HS = {
    "chs": Derived("client_handshake_traffic_secret_hex", "client_handshake_traffic_secret",
                   "Derive-Secret(handshake_secret, \"c hs traffic\", ClientHello…ServerHello), where "
                   "handshake_secret = HKDF-Extract(Derive-Secret(early_secret, \"derived\", \"\"), the "
                   "x25519 shared secret) and early_secret = HKDF-Extract(0, 0) (RFC 8446 §7.1)"),
    "shs": Derived("server_handshake_traffic_secret_hex", "server_handshake_traffic_secret",
                   "Derive-Secret(handshake_secret, \"s hs traffic\", ClientHello…ServerHello) "
                   "(RFC 8446 §7.1)"),
}
_AP = {
    "master": Derived("master_secret_hex", "the master secret",
                      "HKDF-Extract(Derive-Secret(handshake_secret, \"derived\", \"\"), 0): no transcript "
                      "enters it (RFC 8446 §7.1)"),
    "cap": Derived("client_application_traffic_secret_hex", "client_application_traffic_secret_0",
                   "Derive-Secret(master_secret, \"c ap traffic\", ClientHello…server Finished) "
                   "(RFC 8446 §7.1)"),
    "sap": Derived("server_application_traffic_secret_hex", "server_application_traffic_secret_0",
                   "Derive-Secret(master_secret, \"s ap traffic\", ClientHello…server Finished) "
                   "(RFC 8446 §7.1)"),
}


def _verify13(whose: str, base: str, through: str) -> Derived:
    return Derived("verify_data_hex", f"the {whose} Finished's verify_data",
                   f"HMAC(finished_key, Transcript-Hash(ClientHello…{through})), where finished_key = "
                   f"HKDF-Expand-Label({base}, \"finished\", \"\", Hash.length) (RFC 8446 §4.4.4)")


def derived_at(state: TableState, step: Step) -> tuple[Derived, ...]:
    """The values the step's seat computes at expert difficulty (none at the other two)."""
    if state.difficulty is not Difficulty.EXPERT:
        return ()
    if state.variant is Variant.TLS13:
        return {
            "client.check_certificate": (_HS["chs"], _HS["shs"]),
            "client.finished": (_AP["master"], _AP["cap"], _AP["sap"],
                                _verify13("client", "client_handshake_traffic_secret", "server Finished")),
            "server.verify_finished": (_verify13("client", "client_handshake_traffic_secret",
                                                 "server Finished"),),
        }.get(step.id, ())
    values = _tls12(_suite(state, step))
    block = (values["master"], values["cwk"], values["swk"], values["civ"], values["siv"])
    return {
        "client.finished": (*block, _verify12("client", "")),
        "server.finished": (*block, _verify12("server", ", the client's Finished included")),
        "client.verify_finished": (_verify12("server", ", your own Finished included"),),
    }.get(step.id, ())


def _suite(state: TableState, step: Step) -> CipherSuite | None:
    """The suite the step's seat negotiated: its PRF hash, key and IV sizes."""
    for message in state.decoded(step.seat):
        if isinstance(message, m.ServerHello) and message.cipher_suite in CIPHER_SUITES:
            return CIPHER_SUITES[message.cipher_suite]
    return None


def judge(state: TableState, step: Step, action: Any,
          real: dict[str, bytes]) -> tuple[list[Verdict], dict[str, bytes]]:
    """The verdicts on the player's own values at ``step``, and the values the table plays:
    the player's where given (right or wrong), the real ones where left empty. Outside expert
    difficulty: no verdict, and the real values."""
    asked = derived_at(state, step)
    if not asked:
        return [], dict(real)
    played = dict(real)
    wrong: list[str] = []
    for value in asked:
        text = getattr(action, value.field, None)
        if text is None or not str(text).strip():
            wrong.append(f"you left {value.words} empty, so the game derived it for you; it is "
                         f"{value.formula}")
            continue
        theirs = _hex(value, str(text))
        if value.sized and len(theirs) != len(real[value.field]):
            # No AEAD takes a key or IV of another size: a real stack refuses it outright.
            raise Rejected(f"{value.words} is {len(real[value.field])} bytes for this suite, not "
                           f"{len(theirs)}: {value.formula}", Code.BAD_INPUT)
        if not hmac.compare_digest(theirs, real[value.field]):
            wrong.append(f"your {value.words} is wrong ({len(theirs)} bytes; the right one has "
                         f"{len(real[value.field])}); it is {value.formula}")
        played[value.field] = theirs
    if not wrong:
        names = ", ".join(value.words for value in asked)
        return [ok(step, f"you computed every value yourself, and each is right: {names}")], played
    return [mistake(step, reason) for reason in wrong], played


def _hex(value: Derived, text: str) -> bytes:
    cleaned = "".join(text.split()).removeprefix("0x")
    if len(cleaned) > MAX_HEX:
        raise Rejected(f"{value.words} is at most {MAX_HEX // 2} bytes", Code.BAD_INPUT)
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise Rejected(f"{value.words} must be hexadecimal (0-9, a-f)", Code.BAD_INPUT) from None


def filled(action: Any, state: TableState, step: Step, real: dict[str, bytes]) -> Any:
    """``action`` with every value the step asks for filled in right (the careful player)."""
    fields = {value.field: real[value.field].hex() for value in derived_at(state, step)}
    return dataclasses.replace(action, **fields) if fields else action
