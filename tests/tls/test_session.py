"""The server's ticket keys, session cache and anti-replay record, and the client's session file
(session.py). The clock is passed in, so lifetimes, rotation and ages are exact."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handshake_game.tls.session import AntiReplay, Session, SessionDecodeError, SessionTickets, TicketState


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


def state(tickets: SessionTickets, **changes: object) -> TicketState:
    fields: dict[str, object] = {"cipher_suite": 0x1301, "psk": b"k" * 32, "issued_at_ms": tickets.now_ms(),
                                 "ticket_age_add": 7, "max_early_data_size": 0, "server_name": "localhost"}
    return TicketState(**{**fields, **changes})  # type: ignore[arg-type]


def test_ticket_state_round_trips_both_versions() -> None:
    tickets = SessionTickets(now=Clock())
    for kept in (state(tickets, max_early_data_size=1024),
                 state(tickets, version=0x0303, psk=bytes(range(48)), extended_master_secret=False)):
        assert TicketState.decode(kept.encode()) == kept


def test_ticket_keys_rotate_and_old_ones_retire() -> None:
    clock = Clock()
    tickets = SessionTickets(now=clock, lifetime=100, rotate_after=60)
    first = tickets.seal(state(tickets))
    clock.advance(61)
    second = tickets.seal(state(tickets))
    assert first[:16] != second[:16], "a new key name after rotate_after"
    assert tickets.open(first) is not None, "the old key still opens the tickets it sealed"
    clock.advance(100)
    assert tickets.open(first) is None and tickets.open(second) is None


def test_a_ticket_is_good_for_its_lifetime_only() -> None:
    clock = Clock()
    tickets = SessionTickets(now=clock, lifetime=10)
    ticket = tickets.seal(state(tickets))
    clock.advance(9.9)
    assert tickets.open(ticket) is not None
    clock.advance(0.2)
    assert tickets.open(ticket) is None


def test_single_use_tickets_and_the_switch_that_turns_them_off() -> None:
    clock = Clock()
    for anti_replay, second_use in ((True, False), (False, True)):
        tickets = SessionTickets(now=clock, anti_replay=anti_replay)
        kept = state(tickets)
        ticket = tickets.seal(kept)
        assert tickets.first_use(ticket, kept)
        assert tickets.first_use(ticket, kept) is second_use


def test_the_client_hello_record_keeps_each_binder_while_a_copy_would_be_fresh() -> None:
    """RFC 8446 §8.2: keyed by the verified binder; an entry lasts until its expected_arrival_time
    (issued_at + the client's claimed age) falls out of the window, when the freshness check takes over."""
    clock = Clock()
    tickets = SessionTickets(now=clock, anti_replay=AntiReplay.HELLOS, freshness_window_ms=1000)
    kept = state(tickets, ticket_age_add=123)
    ticket = tickets.seal(kept)
    clock.advance(5)
    age = 5000 + kept.ticket_age_add
    assert tickets.first_use(ticket, kept) and tickets.first_use(ticket, kept), "tickets stay reusable"
    assert tickets.first_hello(b"binder A", kept, age)
    assert not tickets.first_hello(b"binder A", kept, age), "a copy of the same ClientHello"
    assert tickets.first_hello(b"binder B", kept, age), "another ClientHello with the same ticket"
    clock.advance(1.0)  # 1000 ms after its expected arrival: a copy is still fresh, and still refused
    assert tickets.fresh(kept, age) and not tickets.first_hello(b"binder A", kept, age)
    clock.advance(0.002)  # past the window: the freshness check refuses a copy; the record forgot it
    assert not tickets.fresh(kept, age) and tickets.first_hello(b"binder A", kept, age)


@pytest.mark.parametrize(("setting", "mode"), [
    (True, AntiReplay.TICKETS), (False, AntiReplay.OFF), ("hellos", AntiReplay.HELLOS),
    (AntiReplay.OFF, AntiReplay.OFF)])
def test_anti_replay_settings_and_what_each_records(setting: object, mode: AntiReplay) -> None:
    clock = Clock()
    tickets = SessionTickets(now=clock, anti_replay=setting)  # type: ignore[arg-type]
    assert tickets.anti_replay is mode
    kept = state(tickets)
    ticket = tickets.seal(kept)
    uses = [tickets.first_use(ticket, kept) for _ in range(2)]
    hellos = [tickets.first_hello(b"binder", kept, kept.ticket_age_add) for _ in range(2)]
    assert uses == [True, mode is not AntiReplay.TICKETS]
    assert hellos == [True, mode is not AntiReplay.HELLOS]


def test_freshness_compares_the_clients_ticket_age_with_the_servers() -> None:
    """RFC 8446 §8.3: obfuscated_ticket_age - ticket_age_add is the client's view of the age."""
    clock = Clock()
    tickets = SessionTickets(now=clock, freshness_window_ms=1000)
    kept = state(tickets, ticket_age_add=2**32 - 5)  # the sum wraps around 2^32
    clock.advance(30)
    assert tickets.fresh(kept, (30_000 + kept.ticket_age_add) % 2**32)
    assert tickets.fresh(kept, (29_200 + kept.ticket_age_add) % 2**32)
    assert not tickets.fresh(kept, (28_000 + kept.ticket_age_add) % 2**32)


def test_the_tls12_session_cache_forgets_after_the_lifetime() -> None:
    clock = Clock()
    tickets = SessionTickets(now=clock, lifetime=60)
    tickets.remember(b"\x01" * 32, state(tickets, version=0x0303))
    assert tickets.recall(b"\x01" * 32) is not None and tickets.recall(b"\x02" * 32) is None
    clock.advance(61)
    assert tickets.recall(b"\x01" * 32) is None


def test_lifetimes_beyond_seven_days_are_refused() -> None:
    with pytest.raises(ValueError, match="604800"):
        SessionTickets(lifetime=604801)


def test_session_files_round_trip_and_refuse_others() -> None:
    session = Session("localhost", 0x1301, b"p" * 32, b"t" * 40, 5, 7200, Clock()(), 1024)
    assert Session.decode(session.encode()) == session
    twelve = Session("localhost", 0xC02F, b"m" * 48, b"", 0, 7200, Clock()(), version=0x0303,
                     session_id=b"\x07" * 32, extended_master_secret=False)
    assert Session.decode(twelve.encode()) == twelve
    for other in (b"-----BEGIN SSL SESSION PARAMETERS-----\nMIIB\n-----END SSL SESSION PARAMETERS-----\n",
                  session.encode().replace(b"\n", b"\n!", 1)):
        with pytest.raises(SessionDecodeError):
            Session.decode(other)


@settings(max_examples=200)
@given(ticket=st.binary(max_size=120), flip=st.integers(0, 10_000))
def test_forged_or_random_tickets_never_open(ticket: bytes, flip: int) -> None:
    tickets = SessionTickets()
    genuine = tickets.seal(state(tickets))
    assert tickets.open(genuine) is not None
    damaged = bytearray(genuine)
    damaged[flip % len(damaged)] ^= 1 + flip % 255
    assert tickets.open(bytes(damaged)) is None
    assert tickets.open(ticket) is None
