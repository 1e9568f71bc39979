"""`handshake-game simulate`: one table played by four bots, printed as a ladder."""

from __future__ import annotations

import datetime
import json
import os
import random
import sys
from typing import TextIO

from cryptography.hazmat.primitives.asymmetric import rsa

from ..bots import CarelessBot, HonestBot, ResumingBot, TrustingBot, house_bot, play_table
from ..game import Referee
from ..game import actions as a
from ..game.catalog import CATALOG, SCENARIO_STORIES, steps_for
from ..game.export import table_capture, table_keylog
from ..game.facts import (
    AttackStopped,
    DecryptionTried,
    Fact,
    ForgeryAccepted,
    HandshakeFailed,
    MessageDelivered,
    MessageSent,
    Verdict,
)
from ..game.model import Difficulty, Scenario, Seat, Variant, supports
from ..game.state import check_words
from ..tls.keypool import KeyKind, KeyPool
from .capture_files import append_keylog, write_capture


def list_catalog(out: TextIO) -> None:
    for variant, steps in CATALOG.items():
        print(f"{variant.value}:", file=out)
        for step in steps:
            print(f"  {step.id:<26} {step.seat.value:<12} {step.act}  [lesson: {step.lesson}]", file=out)
    print("scenarios: " + ", ".join(s.value for s in Scenario), file=out)
    for scenario in Scenario:
        extra = [s for s in steps_for(Variant.TLS12_RSA, scenario) if s not in CATALOG[Variant.TLS12_RSA]]
        added = "; adds " + ", ".join(s.id for s in extra) if extra else ""
        print(f"  {scenario.value:<17} {SCENARIO_STORIES[scenario]}{added}", file=out)


def run_simulate(variant: str, scenario: str, difficulty: str, seed: int | None, careless: float,
                 as_json: bool, out: TextIO = sys.stdout, trusting: bool = False,
                 pcap: str | None = None, keylog: str | None = None, psk_mode: str | None = None,
                 early_data: bool = False, server_early_data: str | None = None) -> int:
    """``psk_mode``, ``early_data`` and ``server_early_data`` are the client's and the server's
    choices where the client resumes with its ticket (tls13): psk_dhe_ke or psk_ke, its request
    as 0-RTT data or not, and the server's answer to such data (None: the careful bot's)."""
    chosen = Variant(variant)
    plot = Scenario(scenario)
    Difficulty(difficulty)
    if not supports(chosen, plot):
        print(f"handshake-game simulate: {plot.value} is not staged for {chosen.value}", file=sys.stderr)
        return 2
    resumes = any(step.id == "client.resume" for step in steps_for(chosen, plot))
    resumption_flags = psk_mode is not None or early_data or server_early_data is not None
    if resumption_flags and not resumes:
        print(f"handshake-game simulate: a {chosen.value} {plot.value} table has no resumption: "
              "--psk-mode, --early-data and --server-early-data are for tls13 tables", file=sys.stderr)
        return 2
    if psk_mode is not None and psk_mode not in a.PSK_MODES:
        print(f"handshake-game simulate: --psk-mode is one of {', '.join(a.PSK_MODES)}", file=sys.stderr)
        return 2
    if server_early_data is not None and server_early_data not in a.EARLY_DATA_POLICIES:
        print("handshake-game simulate: --server-early-data is one of "
              f"{', '.join(a.EARLY_DATA_POLICIES)}", file=sys.stderr)
        return 2
    rng = random.Random(seed) if seed is not None else None
    pool = KeyPool(target=2, kinds=(KeyKind.RSA_2048,)).start()
    def rsa_key() -> rsa.RSAPrivateKey:
        key = pool.take(KeyKind.RSA_2048).key
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    referee = Referee(rng=rng.randbytes if rng else os.urandom,
                      now=lambda: datetime.datetime.now(datetime.UTC), rsa_keys=rsa_key)
    bots: dict[Seat, HonestBot] = {}
    if careless:
        bots = {seat: CarelessBot(rate=careless, random=random.Random(seed)) for seat in
                (Seat.CLIENT, Seat.SERVER)}
    if trusting:
        bots[Seat.CLIENT] = TrustingBot()
    if resumption_flags:  # the resumption's choices; every other move as the seat's bot makes it
        for seat in (Seat.CLIENT, Seat.SERVER):
            bots[seat] = ResumingBot(psk_mode or a.PSK_DHE_KE, early_data or None, server_early_data,
                                     inner=bots.get(seat, house_bot(plot, seat)))

    arrows = {Seat.CLIENT: "C → S", Seat.SERVER: "S → C", Seat.EAVESDROPPER: "E → S"}
    replayed: set[str] = set()  # what the eavesdropper sent itself: delivered as sent, not altered

    def ladder(fact: Fact) -> None:
        if as_json:
            return
        if isinstance(fact, MessageSent):
            if fact.sender is Seat.EAVESDROPPER:
                replayed.add(fact.label)
            print(f"{arrows[fact.sender]}  {fact.label} ({len(fact.payload)} bytes on the wire)", file=out)
        elif isinstance(fact, MessageDelivered) and fact.label in replayed:
            replayed.discard(fact.label)
        elif isinstance(fact, Verdict):
            mark = "✓" if fact.ok else "✗"
            print(f"   {mark} {fact.seat.value} {fact.step} {fact.points:+d}: {fact.reason}", file=out)
        elif isinstance(fact, MessageDelivered) and fact.altered:
            print(f"   ! the eavesdropper altered the {fact.label} on its way to the {fact.recipient.value}",
                  file=out)
        elif isinstance(fact, HandshakeFailed | AttackStopped):
            print(f"== stopped by {check_words(fact.seat, fact.check)}: {fact.reason}", file=out)
        elif isinstance(fact, ForgeryAccepted):
            print(f"!! {fact.reason}", file=out)
        elif isinstance(fact, DecryptionTried):
            result = "reads the traffic" if fact.succeeded else "cannot read the traffic"
            print(f"   eavesdropper {result}: {fact.reason}", file=out)

    started = datetime.datetime.now(datetime.UTC)
    try:
        run = play_table(chosen, plot, referee, bots, on_fact=ladder)
    finally:
        pool.stop()
    state = run.state
    if pcap is not None:  # the client's side of the wire, for Wireshark
        write_capture(pcap, table_capture(state, started=started), table_keylog(state))
    if keylog is not None:
        append_keylog(keylog, table_keylog(state))
    steps = [{"step": v.step, "seat": v.seat.value, "ok": v.ok, "points": v.points, "reason": v.reason}
             for v in state.verdicts]
    summary = {
        "variant": chosen.value,
        "scenario": plot.value,
        "completed": state.completed,
        "detected_by": state.detected_by,
        "attack_succeeded": state.attack_succeeded,
        "attacker_read": [text.decode("utf-8", "replace") for text in state.attacker_read],
        "outcome": state.outcome[0],
        "scores": {seat.value: points for seat, points in state.scores.items()},
        "steps": steps,
    }
    if as_json:
        print(json.dumps(summary), file=out)
    else:
        scores = ", ".join(f"{seat.value} {points}" for seat, points in state.scores.items())
        done = "completed" if state.completed else "not completed"
        print(f"== {done}: {state.outcome[1]}; scores: {scores}", file=out)
        for text in state.attacker_read:
            print(f"   the eavesdropper read: {text.decode('utf-8', 'replace')!r}", file=out)
    return 0
