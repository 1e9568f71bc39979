"""TLS 1.3 resumption, PSK modes and 0-RTT between our client and our server (RFC 8446 §2.2,
§2.3, §4.2.10, §4.2.11, §4.6.1, §8), and the server's ticket keys and anti-replay (session.py).

What is asserted is what crosses the wire (which messages, which extensions, which alert) and
what each side reads; the clock is passed in, so ticket ages are exact.
"""

from __future__ import annotations

import datetime
import random

import pytest
from helpers import Recorder, of_type, pump
from hypothesis import given, settings
from hypothesis import strategies as st

from handshake_game.tls import AlertDescription, ServerState
from handshake_game.tls.client import ClientState
from handshake_game.tls.events import EarlyDataReceived, SessionTicketReceived
from handshake_game.tls.messages import (
    PSK_DHE_KE,
    PSK_KE,
    Certificate13,
    ClientHello,
    EncryptedExtensions,
    EndOfEarlyData,
    ExtensionType,
    NewSessionTicket12,
    NewSessionTicket13,
    ServerHello,
    encode_handshake,
)
from handshake_game.tls.session import AntiReplay, Session, SessionDecodeError, SessionTickets

D = AlertDescription
SUITE = "TLS_AES_128_GCM_SHA256"
REQUEST = b"POST /transfer HTTP/1.1\r\nHost: localhost\r\n\r\namount=100"


class Clock:
    """A clock that moves only when told; it starts at the real time, which the certificates
    (issued by the session's CA against the real clock) are checked against."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tickets(clock: Clock) -> SessionTickets:
    return SessionTickets(now=clock, lifetime=3600, rotate_after=600)


def sent(events: Recorder, kind: type) -> list:
    from handshake_game.tls import HandshakeMessageSent
    return [e.message for e in events.of(HandshakeMessageSent) if isinstance(e.message, kind)]


def first_session(make_client, make_server, clock: Clock, tickets: SessionTickets,
                  max_early_data_size: int = 0, **server_config) -> Session:
    client = make_client(cipher_suites=(SUITE,), now=clock)
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets,
                         max_early_data_size=max_early_data_size, **server_config)
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert client.state is ClientState.CLIENT_CONNECTED
    received = events.of(SessionTicketReceived)
    assert len(received) == 1
    return received[0].session


def resume(make_client, make_server, clock: Clock, tickets: SessionTickets, session: Session,
           client_config: dict | None = None, server_config: dict | None = None):
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session, **(client_config or {}))
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets, **(server_config or {}))
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)
    return client, server, client_events, server_events


def test_the_server_issues_a_ticket_and_a_second_connection_resumes_without_a_certificate(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets)
    assert (session.lifetime, session.max_early_data_size, session.server_name) == (3600, 0, "localhost")
    clock.advance(5)
    client, server, client_events, server_events = resume(make_client, make_server, clock, tickets, session)

    assert client.state is ClientState.CLIENT_CONNECTED and server.state is ServerState.SERVER_CONNECTED
    assert client_events.completed is not None and client_events.completed.resumed
    assert server_events.completed is not None and server_events.completed.resumed
    assert client_events.completed.peer_certificate is None
    # RFC 8446 §2.2: no Certificate, no CertificateVerify; the ServerHello names the PSK.
    assert not sent(server_events, Certificate13)
    hello = sent(server_events, ServerHello)[0]
    assert hello.extension(ExtensionType.pre_shared_key) == b"\x00\x00"
    assert hello.extension(ExtensionType.key_share) is not None  # psk_dhe_ke
    # The obfuscated age the client sent is its real age (5 s) plus ticket_age_add.
    offered = sent(client_events, ClientHello)[0]
    assert offered.extensions[-1].type == ExtensionType.pre_shared_key
    assert offered.extension(ExtensionType.psk_key_exchange_modes) == b"\x01\x01"
    # The resumed connection carries data, and issues a fresh ticket.
    client.send_application_data(b"ping")
    pump(client, server)
    assert server_events.application_data == b"ping"
    assert len(client_events.of(SessionTicketReceived)) == 1


def test_psk_ke_resumes_without_a_key_share(make_client, make_server, clock: Clock,
                                             tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets)
    client, server, client_events, server_events = resume(
        make_client, make_server, clock, tickets, session, client_config={"psk_modes": (PSK_KE,)},
        server_config={"psk_modes": (PSK_KE,)})
    assert server.state is ServerState.SERVER_CONNECTED
    hello = sent(server_events, ServerHello)[0]
    assert hello.extension(ExtensionType.key_share) is None
    assert server_events.completed is not None and server_events.completed.named_group is None
    assert "shared_secret" not in {e.name for e in server_events.collect() if hasattr(e, "explanation")}


def test_a_server_that_prefers_psk_dhe_ke_picks_it_when_both_are_offered(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets)
    _, server, _, server_events = resume(make_client, make_server, clock, tickets, session,
                                         client_config={"psk_modes": (PSK_KE, PSK_DHE_KE)})
    assert sent(server_events, ServerHello)[0].extension(ExtensionType.key_share) is not None


def test_early_data_is_accepted_read_once_and_ended_by_end_of_early_data(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=1024)
    assert session.max_early_data_size == 1024
    clock.advance(2)
    client, server, client_events, server_events = resume(
        make_client, make_server, clock, tickets, session, client_config={"early_data": REQUEST},
        server_config={"max_early_data_size": 1024})
    assert server.state is ServerState.SERVER_CONNECTED, server_events.alerts_sent
    assert [e.data for e in server_events.of(EarlyDataReceived)] == [REQUEST]
    assert EncryptedExtensions((e := sent(server_events, EncryptedExtensions)[0]).extensions) == e
    assert e.extensions[0].type == ExtensionType.early_data
    assert sent(client_events, EndOfEarlyData) == [EndOfEarlyData()]
    assert client_events.completed is not None and client_events.completed.early_data_accepted
    assert server_events.completed is not None and server_events.completed.early_data_accepted
    labels = [line.split()[0] for line in client.keylog_lines()]
    assert labels[0] == "CLIENT_EARLY_TRAFFIC_SECRET"
    assert set(client.keylog_lines()) == set(server.keylog_lines())


def test_a_replayed_client_hello_is_refused_by_single_use_tickets(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    """RFC 8446 §8.1: the attacker resends the client's first flight (ClientHello + 0-RTT data) to
    another server instance sharing the ticket keys. The second gets a full handshake, and the
    early data is never read."""
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=1024)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session, early_data=REQUEST)
    client.start()
    first_flight = client.data_to_send()
    servers = [make_server(cipher_suites=(SUITE,), session_tickets=tickets, max_early_data_size=1024)
               for _ in range(2)]
    recorders = [Recorder(s) for s in servers]
    for server in servers:
        server.receive_data(first_flight)
    assert [e.data for e in recorders[0].of(EarlyDataReceived)] == [REQUEST]
    assert recorders[1].of(EarlyDataReceived) == []
    assert sent(recorders[1], Certificate13), "the replay gets a full handshake"
    assert "anti-replay" in [c.name for c in recorders[1].collect() if type(c).__name__ == "CheckPassed"]


def test_without_anti_replay_the_replayed_early_data_is_read_twice(
        make_client, make_server, clock: Clock) -> None:
    tickets = SessionTickets(now=clock, anti_replay=False)
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=1024)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session, early_data=REQUEST)
    client.start()
    first_flight = client.data_to_send()
    read = []
    for _ in range(2):
        server = make_server(cipher_suites=(SUITE,), session_tickets=tickets, max_early_data_size=1024)
        events = Recorder(server)
        server.receive_data(first_flight)
        read += [e.data for e in events.of(EarlyDataReceived)]
    assert read == [REQUEST, REQUEST]


def seeded(seed: int):
    """A deterministic rng: two clients given the same seed (and clock) send the same bytes."""
    return random.Random(seed).randbytes


def checks(events: Recorder) -> list[str]:
    return [c.name for c in events.collect() if type(c).__name__ == "CheckPassed"]


def test_a_replayed_client_hello_is_refused_by_the_client_hello_record(
        make_client, make_server, clock: Clock) -> None:
    """RFC 8446 §8.2: the server keeps the (verified) binder of each ClientHello whose 0-RTT data it took.
    A copy of that ClientHello and its early data, byte for byte, gets its early data refused; the PSK is
    still accepted and the handshake completes in 1-RTT. The ticket stays reusable: a fresh ClientHello
    with it resumes with 0-RTT again."""
    tickets = SessionTickets(now=clock, anti_replay=AntiReplay.HELLOS)
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=1024)
    clock.advance(2)
    runs = []
    for _ in range(2):  # the same rng and clock: the second client's flight is a copy of the first's
        runs.append(resume(make_client, make_server, clock, tickets, session,
                           client_config={"early_data": REQUEST, "rng": seeded(7)},
                           server_config={"max_early_data_size": 1024}))
    (first_client, first_server, first_ce, first_se), (copy_client, copy_server, copy_ce, copy_se) = runs
    assert first_ce.sent_raw("ClientHello") == copy_ce.sent_raw("ClientHello")
    assert [e.data for e in first_se.of(EarlyDataReceived)] == [REQUEST]
    assert first_se.completed is not None and first_se.completed.early_data_accepted

    assert copy_se.of(EarlyDataReceived) == [], "the copy's early data is never read"
    assert "anti-replay" in checks(copy_se)
    assert copy_client.state is ClientState.CLIENT_CONNECTED
    assert copy_server.state is ServerState.SERVER_CONNECTED
    assert copy_se.completed is not None and copy_se.completed.resumed
    assert not copy_se.completed.early_data_accepted
    assert copy_ce.completed is not None and not copy_ce.completed.early_data_accepted
    assert sent(copy_se, Certificate13) == [] and sent(copy_ce, EndOfEarlyData) == []
    copy_client.send_application_data(REQUEST)  # the request again, in 1-RTT (RFC 8446 §4.2.10)
    pump(copy_client, copy_server)
    assert copy_se.application_data == REQUEST

    clock.advance(1)
    _, _, fresh_ce, fresh_se = resume(make_client, make_server, clock, tickets, session,
                                      client_config={"early_data": REQUEST},
                                      server_config={"max_early_data_size": 1024})
    assert [e.data for e in fresh_se.of(EarlyDataReceived)] == [REQUEST]
    assert fresh_ce.completed is not None and fresh_ce.completed.resumed
    assert fresh_ce.completed.early_data_accepted and "anti-replay" not in checks(fresh_se)


def test_the_client_hello_record_refuses_0rtt_outside_the_freshness_window(
        make_client, make_server, clock: Clock) -> None:
    """RFC 8446 §8.2, §8.3: the record holds a ClientHello only while a copy would pass the freshness check;
    a copy sent later, or a ClientHello whose ticket age is off, is refused 0-RTT by that check, and the
    handshake still resumes in 1-RTT."""
    tickets = SessionTickets(now=clock, anti_replay=AntiReplay.HELLOS, freshness_window_ms=10_000)
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=1024)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session, early_data=REQUEST)
    client.start()
    first_flight = client.data_to_send()
    read = []
    for wait in (0, 11):  # the original, then a copy 11 s later: outside the 10 s window
        clock.advance(wait)
        server = make_server(cipher_suites=(SUITE,), session_tickets=tickets, max_early_data_size=1024)
        events = Recorder(server)
        server.receive_data(first_flight)
        read.append([e.data for e in events.of(EarlyDataReceived)])
    assert read == [[REQUEST], []]
    assert "0-RTT freshness" in checks(events) and "anti-replay" not in checks(events)
    assert sent(events, ServerHello)[0].extension(ExtensionType.pre_shared_key) == b"\x00\x00"

    # A whole connection whose client misjudges the ticket's age by 20 s: resumed, without 0-RTT.
    later = session.received_at + datetime.timedelta(seconds=20)
    skewed = Session(**{**session.__dict__, "received_at": later})
    skewed_client, skewed_server, client_events, server_events = resume(
        make_client, make_server, clock, tickets, skewed, client_config={"early_data": REQUEST},
        server_config={"max_early_data_size": 1024})
    assert skewed_client.state is ClientState.CLIENT_CONNECTED
    assert skewed_server.state is ServerState.SERVER_CONNECTED
    assert server_events.completed is not None and server_events.completed.resumed
    assert not server_events.completed.early_data_accepted and server_events.of(EarlyDataReceived) == []
    assert "0-RTT freshness" in checks(server_events)


def test_refused_early_data_is_skipped_and_the_handshake_still_resumes(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=1024)
    # This server instance no longer takes early data.
    client, server, client_events, server_events = resume(
        make_client, make_server, clock, tickets, session, client_config={"early_data": REQUEST})
    assert server.state is ServerState.SERVER_CONNECTED
    assert server_events.of(EarlyDataReceived) == []
    assert server_events.completed is not None and server_events.completed.resumed
    assert client_events.completed is not None and not client_events.completed.early_data_accepted
    assert sent(client_events, EndOfEarlyData) == []


def test_a_ticket_age_far_from_the_servers_refuses_early_data(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=1024)
    # The client believes the ticket arrived 20 s later than it did: its age is 20 s short.
    later = session.received_at + datetime.timedelta(seconds=20)
    skewed = Session(**{**session.__dict__, "received_at": later})
    clock.advance(30)
    _, server, _, server_events = resume(make_client, make_server, clock, tickets, skewed,
                                         client_config={"early_data": REQUEST},
                                         server_config={"max_early_data_size": 1024})
    assert server.state is ServerState.SERVER_CONNECTED
    assert server_events.of(EarlyDataReceived) == []
    assert "0-RTT freshness" in [c.name for c in server_events.collect() if type(c).__name__ == "CheckPassed"]


def test_more_early_data_than_allowed_is_unexpected_message(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=16)
    # A client that ignores the ticket's limit (ours would not send it): claim a larger one.
    greedy = Session(**{**session.__dict__, "max_early_data_size": 1 << 14})
    _, server, _, server_events = resume(make_client, make_server, clock, tickets, greedy,
                                         client_config={"early_data": REQUEST},
                                         server_config={"max_early_data_size": 16})
    assert server_events.alerts_sent == [D.unexpected_message]


def test_a_wrong_binder_is_decrypt_error(make_client, make_server, clock: Clock,
                                         tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets)
    # The attacker holds the ticket but not the PSK.
    stolen = Session(**{**session.__dict__, "psk": bytes(len(session.psk))})
    client, server, _, server_events = resume(make_client, make_server, clock, tickets, stolen)
    assert server_events.alerts_sent == [D.decrypt_error]
    assert client.state is ClientState.CLIENT_ERROR


def test_a_changed_client_hello_fails_its_binder(make_client, make_server, clock: Clock,
                                                 tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session)
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets)
    events = Recorder(server)
    client.start()
    flight = bytearray(client.data_to_send())
    flight[5 + 4 + 2 + 5] ^= 1  # a byte of client_random
    server.receive_data(bytes(flight))
    assert events.alerts_sent == [D.decrypt_error]


def test_an_expired_ticket_or_one_from_another_server_gives_a_full_handshake(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets)
    other = SessionTickets(now=clock)
    _, server, _, events = resume(make_client, make_server, clock, other, session)
    assert server.state is ServerState.SERVER_CONNECTED and not events.completed.resumed
    clock.advance(3601)
    # The client no longer offers it (its lifetime is over) ...
    client, _, client_events, _ = resume(make_client, make_server, clock, tickets, session)
    assert sent(client_events, ClientHello)[0].extension(ExtensionType.pre_shared_key) is None
    # ... and the server would not take it either.
    assert tickets.open(session.ticket) is None


def test_session_files_round_trip_and_refuse_garbage(make_client, make_server, clock: Clock,
                                                     tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=99)
    assert Session.decode(session.encode()) == session
    with pytest.raises(SessionDecodeError):
        Session.decode(b"-----BEGIN SSL SESSION PARAMETERS-----\nMIIB\n"
                       b"-----END SSL SESSION PARAMETERS-----\n")


def test_new_session_ticket_carries_max_early_data_size(make_client, make_server, clock: Clock,
                                                        tickets: SessionTickets) -> None:
    client = make_client(cipher_suites=(SUITE,), now=clock)
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets, max_early_data_size=4096,
                         tickets_per_handshake=2)
    events = Recorder(server)
    client.start()
    pump(client, server)
    issued = sent(events, NewSessionTicket13)
    assert len(issued) == 2 and issued[0].ticket_nonce != issued[1].ticket_nonce
    # RFC 8446 §4.6.1: extensions<0..2^16-2> holding early_data(42) with max_early_data_size 4096.
    assert encode_handshake(issued[0]).endswith(bytes.fromhex("0008 002a 0004 00001000"))
    assert issued[0].max_early_data_size() == 4096
    received = of_type(Recorder(client).collect(), SessionTicketReceived)
    assert [e.session.max_early_data_size for e in received] == [4096, 4096]


# -- TLS 1.2: by session id (RFC 5246 §7.3) and by ticket (RFC 5077) ---------------------------

SUITE12 = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


def session12(make_client, make_server, clock: Clock, tickets: SessionTickets, **client_config) -> Session:
    client = make_client(cipher_suites=(SUITE12,), now=clock, **client_config)
    server = make_server(cipher_suites=(SUITE12,), session_tickets=tickets)
    events = Recorder(client)
    client.start()
    pump(client, server)
    assert client.state is ClientState.CLIENT_CONNECTED
    (received,) = events.of(SessionTicketReceived)
    return received.session


@pytest.mark.parametrize("by_ticket", [False, True], ids=["session-id", "ticket"])
def test_tls12_resumes_with_an_abbreviated_handshake(make_client, make_server, clock: Clock,
                                                    tickets: SessionTickets, by_ticket: bool) -> None:
    session = session12(make_client, make_server, clock, tickets, offer_session_ticket=by_ticket)
    assert session.version == 0x0303 and len(session.session_id) == 32 and len(session.psk) == 48
    assert bool(session.ticket) is by_ticket
    client = make_client(cipher_suites=(SUITE12,), now=clock, session=session)
    server = make_server(cipher_suites=(SUITE12,), session_tickets=tickets)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)
    assert client.state is ClientState.CLIENT_CONNECTED and server.state is ServerState.SERVER_CONNECTED
    assert client_events.completed is not None and client_events.completed.resumed
    assert server_events.completed is not None and server_events.completed.resumed
    # RFC 5246 §7.3: ServerHello, then the server's ChangeCipherSpec and Finished; no certificate,
    # no key exchange; the client's Finished last. Resumed from a ticket, the server renews it: a
    # NewSessionTicket before its ChangeCipherSpec (RFC 5077 §3.1, figure 2).
    names = [type(m).__name__ for m in sent(server_events, object)]
    assert names == (["ServerHello", "NewSessionTicket12", "Finished"] if by_ticket
                     else ["ServerHello", "Finished"])
    assert [type(m).__name__ for m in sent(client_events, object)] == ["ClientHello", "Finished"]
    hello = sent(server_events, ServerHello)[0]
    offered = sent(client_events, ClientHello)[0]
    assert hello.session_id == offered.session_id
    if by_ticket:
        assert offered.extension(ExtensionType.session_ticket) == session.ticket
        assert hello.extension(ExtensionType.session_ticket) == b""  # RFC 5077 §3.2: a ticket follows
    else:
        assert offered.session_id == session.session_id
        assert hello.extension(ExtensionType.session_ticket) is None
    assert client.master_secret == server.master_secret == session.psk
    client.send_application_data(b"ping")
    pump(client, server)
    assert server_events.application_data == b"ping"


def resume12(make_client, make_server, clock: Clock, tickets: SessionTickets, session: Session):
    client = make_client(cipher_suites=(SUITE12,), now=clock, session=session)
    server = make_server(cipher_suites=(SUITE12,), session_tickets=tickets)
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)
    assert client_events.completed is not None and client_events.completed.resumed
    assert server_events.completed is not None and server_events.completed.resumed
    return client_events, server_events


def test_tls12_a_ticket_resumption_renews_the_ticket_and_the_client_keeps_the_new_one(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    """RFC 5077 §3.1 (figure 2): the renewed ticket seals the same session under the current ticket key;
    the client keeps it, and it resumes again."""
    session = session12(make_client, make_server, clock, tickets, offer_session_ticket=True)
    clock.advance(700)  # past rotate_after (600 s): the ticket key has changed since the first ticket
    client_events, server_events = resume12(make_client, make_server, clock, tickets, session)
    (renewal,) = sent(server_events, NewSessionTicket12)
    (kept,) = client_events.of(SessionTicketReceived)
    renewed = kept.session
    assert renewed.ticket == renewal.ticket != session.ticket
    assert renewed.ticket[:16] != session.ticket[:16], "sealed under the current ticket key"
    assert renewed.psk == session.psk and renewed.version == 0x0303
    # The session keeps the lifetime of the full handshake that made it: 3600 - 700 s left.
    assert renewal.ticket_lifetime_hint == renewed.lifetime == 2900
    clock.advance(5)
    again_client, again_server = resume12(make_client, make_server, clock, tickets, renewed)
    assert sent(again_client, ClientHello)[0].extension(ExtensionType.session_ticket) == renewed.ticket
    assert len(sent(again_server, NewSessionTicket12)) == 1


def test_tls12_a_renewed_ticket_does_not_stretch_the_session(make_client, make_server, clock: Clock,
                                                            tickets: SessionTickets) -> None:
    session = session12(make_client, make_server, clock, tickets, offer_session_ticket=True)
    clock.advance(3000)
    client_events, _ = resume12(make_client, make_server, clock, tickets, session)
    (renewed,) = client_events.of(SessionTicketReceived)
    assert renewed.session.lifetime == 600
    clock.advance(601)  # 3601 s after the full handshake: the session is over, renewed or not
    # A client that ignores the lifetime hint, and offers the renewed ticket anyway:
    stale = Session(**{**renewed.session.__dict__, "received_at": clock.now})
    client = make_client(cipher_suites=(SUITE12,), now=clock, session=stale)
    server = make_server(cipher_suites=(SUITE12,), session_tickets=tickets)
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert events.completed is not None and not events.completed.resumed


def test_tls12_resumption_needs_the_same_kind_of_master_secret(make_client, make_server, clock: Clock,
                                                               tickets: SessionTickets) -> None:
    """RFC 7627 §5.3: a session made with the extended master secret is not resumed without it."""
    session = session12(make_client, make_server, clock, tickets)
    forged = Session(**{**session.__dict__, "extended_master_secret": False})
    client = make_client(cipher_suites=(SUITE12,), now=clock, session=forged,
                         offer_extended_master_secret=False)
    server = make_server(cipher_suites=(SUITE12,), session_tickets=tickets)
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert events.completed is not None and not events.completed.resumed
    assert "Certificate" in [type(m).__name__ for m in sent(events, object)]


def test_tls12_forged_ticket_gives_a_full_handshake(make_client, make_server, clock: Clock,
                                                   tickets: SessionTickets) -> None:
    session = session12(make_client, make_server, clock, tickets, offer_session_ticket=True)
    forged = bytearray(session.ticket)
    forged[-1] ^= 1
    client = make_client(cipher_suites=(SUITE12,), now=clock,
                         session=Session(**{**session.__dict__, "ticket": bytes(forged)}))
    server = make_server(cipher_suites=(SUITE12,), session_tickets=tickets)
    events = Recorder(server)
    client.start()
    pump(client, server)
    assert client.state is ClientState.CLIENT_CONNECTED
    assert events.completed is not None and not events.completed.resumed


def test_after_a_hello_retry_request_the_binder_is_recomputed_and_early_data_dropped(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    """RFC 8446 §4.1.4, §4.2.10, §4.2.11.2: the server wants another group. The second ClientHello
    carries no early_data, and its binder covers message_hash(ClientHello1), the HelloRetryRequest
    and itself; the server resumes with it and skips the 0-RTT records already sent."""
    from handshake_game.tls import NamedGroup

    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=1024)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session, early_data=REQUEST,
                         groups=(NamedGroup.x25519, NamedGroup.secp256r1))
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets, max_early_data_size=1024,
                         groups=(NamedGroup.secp256r1,))
    client_events, server_events = Recorder(client), Recorder(server)
    client.start()
    pump(client, server)
    assert server.state is ServerState.SERVER_CONNECTED, server_events.alerts_sent
    hellos = sent(client_events, ClientHello)
    assert len(hellos) == 2
    assert hellos[0].extension(ExtensionType.early_data) == b""
    assert hellos[1].extension(ExtensionType.early_data) is None
    binders = [h.extensions[-1].data[-32:] for h in hellos]
    assert binders[0] != binders[1]
    assert server_events.completed is not None and server_events.completed.resumed
    assert not server_events.completed.early_data_accepted and server_events.of(EarlyDataReceived) == []
    assert client_events.completed is not None and not client_events.completed.early_data_accepted


def test_the_client_sends_no_more_early_data_than_the_ticket_allows(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets, max_early_data_size=16)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session, early_data=REQUEST)
    events = Recorder(client)
    client.start()
    assert not client.sends_early_data and client.offers_session
    hello = sent(events, ClientHello)[0]
    assert hello.extension(ExtensionType.early_data) is None
    assert "CLIENT_EARLY_TRAFFIC_SECRET" not in " ".join(client.keylog_lines())


# -- a server that misbehaves, a client that does, and random bytes ------------------------------

def rewrite_server_hello(old: bytes, new: bytes):
    """A tap that changes bytes of the ServerHello (in the clear) on their way to the client."""
    def tap(direction: str, data: bytes) -> bytes:
        if direction == "s2c" and data[:1] == b"\x16" and old in data:
            return data.replace(old, new, 1)
        return data
    return tap


@pytest.mark.parametrize(("old", "new", "alert"), [
    # pre_shared_key(41), 2 bytes: selected_identity 1, and the client offered one PSK.
    (bytes.fromhex("0029 0002 0000"), bytes.fromhex("0029 0002 0001"), D.illegal_parameter),
    # The same length, another extension the client never offered (early_data is not allowed here).
    (bytes.fromhex("0029 0002 0000"), bytes.fromhex("ff02 0002 0000"), D.unsupported_extension),
], ids=["selected_identity out of range", "pre_shared_key replaced"])
def test_the_client_checks_the_servers_psk_answer(make_client, make_server, clock: Clock,
                                                 tickets: SessionTickets, old: bytes, new: bytes,
                                                 alert: int) -> None:
    session = first_session(make_client, make_server, clock, tickets)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session)
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets)
    events = Recorder(client)
    client.start()
    pump(client, server, tap=rewrite_server_hello(old, new))
    assert events.alerts_sent == [alert]


def test_changed_psk_modes_break_the_binder(make_client, make_server, clock: Clock,
                                            tickets: SessionTickets) -> None:
    """An attacker who turns psk_ke into psk_dhe_ke (or back) changes what the binder covers."""
    session = first_session(make_client, make_server, clock, tickets)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session, psk_modes=(PSK_KE,))
    client.start()
    hello = client.data_to_send()
    forged = hello.replace(bytes.fromhex("002d 0002 0100"), bytes.fromhex("002d 0002 0101"))
    assert forged != hello
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets)
    events = Recorder(server)
    server.receive_data(forged)
    assert events.alerts_sent == [D.decrypt_error]


def test_the_server_wants_psk_key_exchange_modes_with_a_psk(make_client, make_server, clock: Clock,
                                                            tickets: SessionTickets) -> None:
    session = first_session(make_client, make_server, clock, tickets)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session)
    client.start()
    hello = client.data_to_send()
    # psk_key_exchange_modes(45) renamed to an unknown extension of the same length.
    forged = hello.replace(bytes.fromhex("002d 0002 0101"), bytes.fromhex("fe2d 0002 0101"))
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets)
    events = Recorder(server)
    server.receive_data(forged)
    assert events.alerts_sent == [D.missing_extension]


def test_end_of_early_data_without_accepted_early_data_is_unexpected(
        make_client, make_server, clock: Clock, tickets: SessionTickets) -> None:
    from handshake_game.tls.messages import encode_handshake as encode
    from handshake_game.tls.record import ContentType

    session = first_session(make_client, make_server, clock, tickets)
    client = make_client(cipher_suites=(SUITE,), now=clock, session=session)
    server = make_server(cipher_suites=(SUITE,), session_tickets=tickets)
    events = Recorder(server)
    client.start()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    client.data_to_send()  # its Finished, dropped: an EndOfEarlyData goes in its place
    client._records.write_protection = None  # noqa: SLF001 -- reuse the handshake keys below
    client._protect13("write", client._client_handshake_secret)  # noqa: SLF001
    client._write_records(ContentType.handshake, encode(EndOfEarlyData()))  # noqa: SLF001
    server.receive_data(client.data_to_send())
    assert events.alerts_sent == [D.unexpected_message]


@settings(max_examples=300)
@given(data=st.data())
def test_mutated_psk_offers_only_raise_alerts(data: st.DataObject) -> None:
    """Random damage to an OfferedPsks either still parses or raises the engine's own Alert."""
    from handshake_game.tls import Alert
    from handshake_game.tls.messages import (
        PskIdentity,
        parse_pre_shared_key_client,
        pre_shared_key_client_extension,
    )

    offer = pre_shared_key_client_extension((PskIdentity(b"ticket-1", 7), PskIdentity(b"t2", 9)),
                                            (bytes(32), bytes(range(48)))).data
    mutated = bytearray(offer)
    for _ in range(data.draw(st.integers(0, 3))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    try:
        identities, binders = parse_pre_shared_key_client(bytes(mutated))
    except Alert:
        OUTCOMES["refused"] += 1
        return
    OUTCOMES["parsed"] += 1
    assert len(identities) == len(binders) and all(len(b) >= 32 for b in binders)


OUTCOMES = {"parsed": 0, "refused": 0}


def test_the_psk_fuzzer_reached_both_outcomes() -> None:
    """Rule 12: the property test above must not pass by refusing everything (or nothing)."""
    test_mutated_psk_offers_only_raise_alerts()
    assert OUTCOMES["parsed"] > 10 and OUTCOMES["refused"] > 10, OUTCOMES
