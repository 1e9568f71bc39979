"""The engine pieces of the game's weak-dh scenario: the export-grade DH group, its messages,
the discrete-log attack, the passive observer on a DHE wire — and the network tools, which
never offer or accept a DHE suite."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import pytest
from helpers import Recorder, WireRecord, join_records, pump, split_handshake_messages, split_records
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import isprime

from handshake_game.tls import AlertDescription, ClientConfig, ServerConfig, TLSClient, TLSUsageError
from handshake_game.tls import messages as m
from handshake_game.tls.alerts import AlertIllegalParameter
from handshake_game.tls.keyexchange import sign
from handshake_game.tls.keyschedule import (
    CLIENT_FINISHED_LABEL,
    SERVER_FINISHED_LABEL,
    Transcript,
    key_block,
    master_secret,
    verify_data,
)
from handshake_game.tls.observer import Side, WireObserver
from handshake_game.tls.record import ContentType, RecordLayer, RecordProtection
from handshake_game.tls.suites import (
    CIPHER_SUITES,
    DEFAULT_CIPHER_SUITES,
    KeyExchange,
    SignatureScheme,
    suite_by_name,
)
from handshake_game.tls.weakdh import (
    BREAKABLE_BITS,
    EXPORT_GRADE_GROUP,
    DhGroup,
    FfdhePrivateKey,
    break_key,
    group_bits,
)
from handshake_game.tools.versions import VersionChoiceError, versions_and_suites

DHE_SUITES = ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
DHE_CODES = {0x009E, 0x009F}
GROUP = EXPORT_GRADE_GROUP
REQUEST = b"GET /grades HTTP/1.1\r\nHost: localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\n\r\nalice: A, bob: B+"


def seeded(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


# -- the group ---------------------------------------------------------------------------------


def test_the_export_grade_group_is_a_42_bit_safe_prime_with_a_generator_of_prime_order() -> None:
    p, g = GROUP.p, GROUP.g
    q = (p - 1) // 2
    assert isprime(p) and isprime(q)
    assert pow(g, q, p) == 1 and g != 1  # g generates the subgroup of order q, not all of Z_p*
    assert GROUP.bits == group_bits(GROUP.p_bytes()) == 42
    # Nothing up the sleeve: the largest 42-bit safe prime p ≡ 7 (mod 8), as the module says.
    larger = range(p + 8, 1 << 42, 8)
    assert p % 8 == 7 and not any(isprime(c) and isprime((c - 1) // 2) for c in larger)


def test_group_bytes_round_trip() -> None:
    assert DhGroup.from_bytes(GROUP.p_bytes(), GROUP.g_bytes()) == GROUP
    assert GROUP.g_bytes() == b"\x02" and len(GROUP.p_bytes()) == GROUP.length == 6
    assert DhGroup.from_bytes(b"\x00" + GROUP.p_bytes(), b"\x00\x02") == GROUP  # leading zeros allowed


@pytest.mark.parametrize(("p", "g"), [(8, 2), (5, 2), (GROUP.p, 1), (GROUP.p, GROUP.p - 1)])
def test_a_group_that_is_no_group_is_refused(p: int, g: int) -> None:
    with pytest.raises(AlertIllegalParameter):
        DhGroup(p, g)


# -- the key exchange --------------------------------------------------------------------------


def test_both_sides_agree_and_the_values_have_the_length_of_p() -> None:
    server, client = FfdhePrivateKey(GROUP, seeded(1)), FfdhePrivateKey(GROUP, seeded(2))
    assert len(server.public_bytes()) == len(client.public_bytes()) == GROUP.length
    assert len(server.private_bytes()) == GROUP.length
    assert server.public_bytes() != client.public_bytes()
    assert server.exchange(client.public_bytes()) == client.exchange(server.public_bytes())
    # The same rng bytes give the same key: a replay rebuilds it.
    assert FfdhePrivateKey(GROUP, seeded(1)).public_bytes() == server.public_bytes()


def test_a_key_rebuilt_from_its_private_bytes_is_the_same_key() -> None:
    key = FfdhePrivateKey(GROUP, seeded(3))
    again = FfdhePrivateKey.from_private_bytes(GROUP, key.private_bytes())
    assert again.public_bytes() == key.public_bytes() and again.private_bytes() == key.private_bytes()
    with pytest.raises(ValueError):
        FfdhePrivateKey.from_private_bytes(GROUP, b"\x00")


def test_leading_zero_bytes_of_z_are_stripped() -> None:
    """RFC 5246 §8.1.2: the premaster is Z without its leading zero bytes."""
    rng = seeded(5246)
    tried = 0
    while True:
        tried += 1
        server, client = FfdhePrivateKey(GROUP, rng), FfdhePrivateKey(GROUP, rng)
        z = pow(int.from_bytes(client.public_bytes(), "big"), int.from_bytes(server.private_bytes(), "big"),
                GROUP.p)
        if z < 1 << (8 * (GROUP.length - 1)):  # Z's first byte at the length of p is zero
            break
        assert tried < 1000
    pre_master = server.exchange(client.public_bytes())
    assert pre_master == client.exchange(server.public_bytes())
    assert pre_master[0] != 0 and len(pre_master) < GROUP.length
    assert int.from_bytes(pre_master, "big") == z
    assert z.to_bytes(GROUP.length, "big") == b"\x00" * (GROUP.length - len(pre_master)) + pre_master


@pytest.mark.parametrize("value", [0, 1, GROUP.p - 1, GROUP.p, GROUP.p + 1])
def test_a_peer_value_outside_2_to_p_minus_2_is_refused(value: int) -> None:
    key = FfdhePrivateKey(GROUP, seeded(7))
    with pytest.raises(AlertIllegalParameter, match=r"outside 2\.\.p-2") as refused:
        key.exchange(value.to_bytes(GROUP.length + 1, "big"))
    assert refused.value.description == AlertDescription.illegal_parameter
    key.exchange((2).to_bytes(1, "big"))  # the edges inside the range pass
    key.exchange((GROUP.p - 2).to_bytes(GROUP.length, "big"))


# -- the attack --------------------------------------------------------------------------------

# A 24-bit safe prime (the largest ≡ 7 mod 8) where a discrete log takes milliseconds, so that
# the property test can try many keys; the 42-bit group is broken once, below.
SMALL_GROUP = DhGroup(16774679, 2)


def test_the_small_group_is_a_safe_prime_group_too() -> None:
    q = (SMALL_GROUP.p - 1) // 2
    assert isprime(SMALL_GROUP.p) and isprime(q) and pow(SMALL_GROUP.g, q, SMALL_GROUP.p) == 1


def test_break_key_recovers_every_private_exponent_of_a_small_group() -> None:
    reached = []

    @settings(max_examples=60, deadline=None)
    @given(st.binary(min_size=SMALL_GROUP.length + 8, max_size=SMALL_GROUP.length + 8))
    def check(draw: bytes) -> None:
        key = FfdhePrivateKey(SMALL_GROUP, lambda n: draw[:n])
        recovered = break_key(SMALL_GROUP.p_bytes(), SMALL_GROUP.g_bytes(), key.public_bytes())
        # A safe-prime group: the smallest logarithm is the very exponent the owner drew.
        assert recovered == key.private_bytes()
        reached.append(True)

    check()
    assert len(reached) >= 50


def test_break_key_refuses_a_group_too_big_and_a_value_that_is_not_a_power_of_g() -> None:
    big = DhGroup((1 << (BREAKABLE_BITS + 8)) - 59, 2)  # the size is refused before any math
    with pytest.raises(ValueError, match="beyond this attack"):
        break_key(big.p_bytes(), big.g_bytes(), b"\x05")
    p, q = SMALL_GROUP.p, (SMALL_GROUP.p - 1) // 2
    outside = next(v for v in range(3, 100) if pow(v, q, p) == p - 1)  # a non-residue: not in <g>
    with pytest.raises(ValueError, match="no discrete logarithm"):
        break_key(SMALL_GROUP.p_bytes(), SMALL_GROUP.g_bytes(), outside.to_bytes(SMALL_GROUP.length, "big"))
    with pytest.raises(AlertIllegalParameter):
        break_key(SMALL_GROUP.p_bytes(), SMALL_GROUP.g_bytes(), b"\x01")


# -- the messages ------------------------------------------------------------------------------


def signed_params(identity, client_random: bytes, server_random: bytes,
                  share: FfdhePrivateKey) -> m.DhServerKeyExchange:
    group = share.group
    unsigned = m.DhServerKeyExchange(group.p_bytes(), group.g_bytes(), share.public_bytes(),
                                     SignatureScheme.rsa_pss_rsae_sha256, b"")
    signature = sign(identity.private_key, unsigned.signature_scheme,
                     client_random + server_random + unsigned.params())
    return dataclasses.replace(unsigned, signature=signature)


def test_dh_server_key_exchange_round_trips_and_explains_each_field(rsa_server) -> None:
    share = FfdhePrivateKey(GROUP, seeded(11))
    message = signed_params(rsa_server, b"c" * 32, b"s" * 32, share)
    raw = m.encode_handshake(message)
    # RFC 5246 §7.4.3: three 2-byte-length vectors, then the signature's scheme and vector.
    assert message.params() == (b"\x00\x06" + GROUP.p_bytes() + b"\x00\x01\x02"
                                + b"\x00\x06" + share.public_bytes())
    assert raw[4:] == message.params() + b"\x08\x04" + len(message.signature).to_bytes(2, "big") \
        + message.signature
    decoded = m.decode_handshake(raw, KeyExchange.DHE)
    assert decoded == message and isinstance(decoded, m.DhServerKeyExchange)
    assert decoded.handshake_type is m.HandshakeType.server_key_exchange
    assert m.encode_handshake(decoded) == raw

    tree = m.dissect_handshake(raw, KeyExchange.DHE)
    fields = {name: tree.find(name) for name in ("params", "dh_p", "dh_g", "dh_Ys",
                                                 "signature_algorithm", "signature")}
    assert all(f is not None for f in fields.values()), fields
    shown = {name: (f.value, f.explanation) for name, f in fields.items() if f is not None}
    assert shown["dh_p"] == (f"{GROUP.p} (42 bits)",
                             "the prime modulus p: its size is the group's strength")
    assert shown["dh_g"] == ("2 (2 bits)", "the generator g")
    public = int.from_bytes(share.public_bytes(), "big")
    assert shown["dh_Ys"] == (f"{public} ({public.bit_length()} bits)",
                              "the server's public value g^x mod p; x stays with the server")
    assert "ServerDHParams" in shown["params"][1]
    assert shown["signature_algorithm"][0] == "0x0804 (rsa_pss_rsae_sha256)"
    assert "client_random + server_random + params" in shown["signature"][1]
    # Each field's bytes are where the inspector says: dh_p's value right after its length.
    dh_p = fields["dh_p"]
    assert dh_p is not None and raw[dh_p.offset : dh_p.offset + dh_p.length] == b"\x00\x06" + GROUP.p_bytes()
    assert "42 bits" in m.summarize(decoded)


def test_server_key_exchange_layout_follows_the_negotiated_key_exchange(rsa_server) -> None:
    share = FfdhePrivateKey(GROUP, seeded(12))
    raw = m.encode_handshake(signed_params(rsa_server, b"c" * 32, b"s" * 32, share))
    # Read as ECDHE (or without a suite, as before), the DH params are no ServerECDHParams.
    for key_exchange in (None, KeyExchange.ECDHE):
        with pytest.raises(m.DecodeError):
            m.decode_handshake(raw, key_exchange)
    ecdhe = m.ServerKeyExchange(29, b"\x07" * 32, 0x0804, b"sig")
    ecdhe_raw = m.encode_handshake(ecdhe)
    assert m.decode_handshake(ecdhe_raw) == m.decode_handshake(ecdhe_raw, KeyExchange.ECDHE) == ecdhe


def test_dhe_client_key_exchange_is_a_two_byte_vector_and_round_trips() -> None:
    share = FfdhePrivateKey(GROUP, seeded(13))
    message = m.ClientKeyExchange(KeyExchange.DHE, share.public_bytes())
    raw = m.encode_handshake(message)
    # RFC 5246 §7.4.7.2: ClientDiffieHellmanPublic, explicit: opaque dh_Yc<1..2^16-1>.
    assert raw[4:] == b"\x00\x06" + share.public_bytes()
    assert m.decode_handshake(raw, KeyExchange.DHE) == message
    field = m.dissect_handshake(raw, KeyExchange.DHE).find("dh_Yc")
    public = int.from_bytes(share.public_bytes(), "big")
    assert field is not None and field.value == f"{public} ({public.bit_length()} bits)"
    assert field.explanation == "the client's public value g^y mod p in the server's group; y stays " \
                                "with the client"
    assert m.summarize(message) == "ClientKeyExchange DH public (6 bytes)"
    with pytest.raises(m.DecodeError):  # dh_Yc<1..2^16-1>: never empty
        m.decode_handshake(bytes([16, 0, 0, 2, 0, 0]), KeyExchange.DHE)


# -- a DHE session on the wire, as the game's eavesdropper sees it -------------------------------


@dataclasses.dataclass
class DheSession:
    tap: WireObserver
    server_share: FfdhePrivateKey
    client_share: FfdhePrivateKey


def dhe_session(identity, suite_name: str, seed: int) -> DheSession:
    """A whole TLS 1.2 DHE handshake and one request/response, built message by message (the
    engine endpoints refuse DHE), with real signatures, Finished and AEAD records."""
    rng = seeded(seed)
    suite = suite_by_name(suite_name)
    client_random, server_random = rng(32), rng(32)
    server_share, client_share = FfdhePrivateKey(GROUP, rng), FfdhePrivateKey(GROUP, rng)
    params = signed_params(identity, client_random, server_random, server_share)
    exchange = m.ClientKeyExchange(KeyExchange.DHE, client_share.public_bytes())
    client_flight = [m.encode_handshake(m.ClientHello(0x0303, client_random, b"", (suite.code,)))]
    server_flight = [m.encode_handshake(msg) for msg in (
        m.ServerHello(0x0303, server_random, b"", suite.code), m.Certificate(identity.chain), params,
        m.ServerHelloDone())]
    pre_master = client_share.exchange(params.public)
    assert pre_master == server_share.exchange(exchange.exchange_keys)
    master = master_secret(suite, pre_master, client_random, server_random)
    keys = key_block(suite, master, client_random, server_random)
    transcript = Transcript()
    for raw in (*client_flight, *server_flight, m.encode_handshake(exchange)):
        transcript.add(raw)
    client_finished = m.encode_handshake(m.Finished(verify_data(suite, master, CLIENT_FINISHED_LABEL,
                                                                transcript.digest(suite.hash))))
    transcript.add(client_finished)
    server_finished = m.encode_handshake(m.Finished(verify_data(suite, master, SERVER_FINISHED_LABEL,
                                                                transcript.digest(suite.hash))))

    def send(layer: RecordLayer, content_type: ContentType, data: bytes) -> bytes:
        return b"".join(layer.encode(content_type, data))

    client, server = RecordLayer(), RecordLayer()
    tap = WireObserver()
    tap.client_sent(send(client, ContentType.handshake, client_flight[0]))
    tap.server_sent(send(server, ContentType.handshake, b"".join(server_flight)))
    tap.client_sent(send(client, ContentType.handshake, m.encode_handshake(exchange))
                    + send(client, ContentType.change_cipher_spec, b"\x01"))
    client.write_protection = RecordProtection(suite, keys.client_write)
    tap.client_sent(send(client, ContentType.handshake, client_finished))
    tap.server_sent(send(server, ContentType.change_cipher_spec, b"\x01"))
    server.write_protection = RecordProtection(suite, keys.server_write)
    tap.server_sent(send(server, ContentType.handshake, server_finished))
    tap.client_sent(send(client, ContentType.application_data, REQUEST))
    tap.server_sent(send(server, ContentType.application_data, RESPONSE))
    return DheSession(tap, server_share, client_share)


@pytest.mark.parametrize("suite", DHE_SUITES)
def test_the_observer_reads_a_dhe_session_only_with_a_dh_private_value(rsa_server, suite: str) -> None:
    session = dhe_session(rsa_server, suite, seed=42)
    tap = session.tap
    assert tap.suite is suite_by_name(suite) and isinstance(tap.server_key_exchange, m.DhServerKeyExchange)
    dissected = [msg.dissection.name for record in tap.records for msg in record.messages]
    assert "server_key_exchange" in dissected and "client_key_exchange" in dissected

    # Passive, no key: AES-GCM ciphertext. The leaked certificate key: forward secrecy.
    nothing = tap.try_decrypt()
    assert not nothing.succeeded and "holds no key" in nothing.reason
    leaked = tap.try_decrypt(server_private_key=rsa_server.private_key)
    assert not leaked.succeeded and "forward secrecy" in leaked.reason.lower()
    assert not tap.try_decrypt(ecdhe_private=b"\x01" * 32).succeeded  # no ECDH share on this wire
    stranger = FfdhePrivateKey(GROUP, seeded(99)).private_bytes()
    wrong = tap.try_decrypt(dhe_private=stranger)
    assert not wrong.succeeded and "neither public value" in wrong.reason

    # Either side's DH private value opens every record.
    for share, whose in ((session.server_share, "the server's"), (session.client_share, "the client's")):
        attempt = tap.try_decrypt(dhe_private=share.private_bytes())
        assert attempt.succeeded, attempt.reason
        assert whose in attempt.reason
        assert attempt.application_data(Side.CLIENT) == REQUEST
        assert attempt.application_data(Side.SERVER) == RESPONSE


def test_breaking_the_export_group_recovers_the_servers_key_and_opens_the_recording(rsa_server) -> None:
    """The weak-dh attack end to end: only public bytes from the wire go in."""
    session = dhe_session(rsa_server, DHE_SUITES[0], seed=2015)
    params = session.tap.server_key_exchange
    assert isinstance(params, m.DhServerKeyExchange) and group_bits(params.p) == 42
    recovered = break_key(params.p, params.g, params.public)
    key = FfdhePrivateKey.from_private_bytes(DhGroup.from_bytes(params.p, params.g), recovered)
    assert key.public_bytes() == params.public
    assert recovered == session.server_share.private_bytes()
    client_public = session.client_share.public_bytes()
    assert key.exchange(client_public) == session.client_share.exchange(params.public)
    attempt = session.tap.try_decrypt(dhe_private=recovered)
    assert attempt.succeeded and attempt.application_data(Side.SERVER) == RESPONSE


# -- the suites: real for the game, never on the network -----------------------------------------


@pytest.mark.parametrize(("dhe", "ecdhe"), [(DHE_SUITES[0], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
                                            (DHE_SUITES[1], "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")])
def test_the_dhe_suites_protect_records_as_their_ecdhe_rsa_twins(dhe: str, ecdhe: str) -> None:
    weak, strong = suite_by_name(dhe), suite_by_name(ecdhe)
    assert weak.key_exchange is KeyExchange.DHE and weak.authentication is strong.authentication
    same = ("aead", "key_length", "fixed_iv_length", "record_iv_length", "hash_name", "tls13")
    assert all(getattr(weak, name) == getattr(strong, name) for name in same)
    assert {weak.code, suite_by_name(weak.openssl_name).code} <= DHE_CODES


def test_no_default_list_holds_a_dhe_suite() -> None:
    dhe = {s.name for s in CIPHER_SUITES.values() if s.key_exchange is KeyExchange.DHE}
    assert dhe == set(DHE_SUITES)
    assert not dhe & set(DEFAULT_CIPHER_SUITES)
    assert not dhe & set(ClientConfig().cipher_suites)
    server_default = next(f.default for f in dataclasses.fields(ServerConfig) if f.name == "cipher_suites")
    assert not dhe & set(server_default)  # type: ignore[arg-type]


def offered_codes(client: TLSClient) -> set[int]:
    client.start()
    hello = m.decode_handshake(split_records(client.data_to_send())[0].fragment)
    assert isinstance(hello, m.ClientHello)
    return set(hello.cipher_suites)


@pytest.mark.parametrize("tls", [None, "1.2", "1.3"])
def test_the_network_tools_never_offer_a_dhe_suite(tls: str | None) -> None:
    # What `connect` and `listen` build from --tls when --cipher is not given.
    versions, suites = versions_and_suites(tls, None)
    assert not {suite_by_name(name).code for name in suites} & DHE_CODES
    client = TLSClient(ClientConfig(server_name="localhost", cipher_suites=suites, versions=versions))
    offered = offered_codes(client)
    assert offered and not offered & DHE_CODES


@pytest.mark.parametrize("suite", DHE_SUITES)
def test_the_engines_and_tools_refuse_to_be_configured_with_dhe(make_client, make_server,
                                                                suite: str) -> None:
    with pytest.raises(TLSUsageError, match="weak-dh"):
        make_client(cipher_suites=(suite, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
    with pytest.raises(TLSUsageError, match="weak-dh"):
        make_server(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", suite))
    for name in (suite, suite_by_name(suite).openssl_name):
        with pytest.raises(VersionChoiceError, match="weak-dh"):
            versions_and_suites(None, [name])


def rewrite_first_message(data: bytes, change: Callable[[m.HandshakeMessage], m.HandshakeMessage]) -> bytes:
    records = split_records(data)
    first, *rest = split_handshake_messages(records[0].fragment)
    edited = m.encode_handshake(change(m.decode_handshake(first)))
    records[0] = WireRecord(records[0].content_type, records[0].version, edited + b"".join(rest))
    return join_records(records)


@pytest.mark.parametrize("tls", [None, "1.2"])
def test_the_engine_server_never_selects_dhe_even_when_offered_nothing_else(make_client, make_server,
                                                                            tls: str | None) -> None:
    versions, suites = versions_and_suites(tls, None)
    client, server = make_client(), make_server(cipher_suites=suites, versions=versions)
    client_events, server_events = Recorder(client), Recorder(server)
    rewritten = []

    def only_dhe(direction: str, data: bytes) -> bytes:
        if direction != "c2s" or rewritten:
            return data
        rewritten.append(True)
        return rewrite_first_message(data, lambda hello: dataclasses.replace(
            hello, cipher_suites=tuple(sorted(DHE_CODES))))

    client.start()
    pump(client, server, only_dhe)
    assert rewritten
    assert server_events.alerts_sent == [AlertDescription.handshake_failure]
    assert not server_events.sent_raw("ServerHello") and client_events.completed is None


def test_the_engine_client_refuses_a_server_hello_that_picks_dhe(make_client, make_server) -> None:
    client, server = make_client(), make_server()
    client_events = Recorder(client)

    def pick_dhe(direction: str, data: bytes) -> bytes:
        if direction != "s2c" or client_events.received_raw("ServerHello"):
            return data
        return rewrite_first_message(data, lambda hello: dataclasses.replace(hello, cipher_suite=0x009E))

    client.start()
    pump(client, server, pick_dhe)
    assert client_events.alerts_sent == [AlertDescription.illegal_parameter]
    assert client_events.completed is None
