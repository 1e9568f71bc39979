"""The TLS 1.2 handshake as the seats play it (RFC 5246, RFC 8422 for ECDHE): hellos, the
client's certificate check, RSA or ECDHE key exchange, the PRF key schedule, Finished, and
application data in AES-GCM records.

Each side works only from what it sent and what was delivered to it: with an eavesdropper
on the wire the two can differ, and every check below then runs on the receiving side's own
copy — as in real TLS. Wrong choices are allowed and their consequences are real: a
premaster encrypted to the wrong key is not what the server recovers, so the keys differ
and the Finished record does not authenticate.
"""

from __future__ import annotations

import datetime
import hmac
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519

from ..tls import messages as m
from ..tls import pki, weakdh
from ..tls.alerts import Alert
from ..tls.keyexchange import (
    EcdhePrivateKey,
    new_pre_master_secret,
    rsa_decrypt_pre_master,
    rsa_encrypt_pre_master,
    sign,
    verify,
)
from ..tls.keyschedule import (
    CLIENT_FINISHED_LABEL,
    SERVER_FINISHED_LABEL,
    KeyBlock,
    TrafficKeys,
    key_block,
    prf,
    verify_data,
)
from ..tls.record import ContentType, RecordLayer, RecordProtection
from ..tls.suites import CIPHER_SUITES, CipherSuite, KeyExchange, NamedGroup, SignatureScheme, suite_by_name
from . import actions as a
from . import expert
from .facts import Fact, ForgeryAccepted, HandshakeFailed, ItemStored, MessageSent, Verdict
from .handshake import (
    check_words,
    chosen_suite,
    is_ecdhe,
    is_mutual,
    load_key,
    offered_suites,
    signed_dh_share,
    signed_share,
)
from .model import SUITES_FOR_VARIANT, Difficulty, Scenario, Seat
from .records import handshake_raws, other, plain_handshake
from .rules import POINTS_BAD_TRUST, POINTS_CAUGHT, POINTS_STEP, Code, Referee, Rejected, Step, mistake, ok
from .state import TableState
from .wire import delivered_payload, find, post

SKE_SIGNATURE = "server key exchange signature"  # the check, in words
WEAK_GROUP = "key exchange group"
MIN_DH_BITS = 2048  # RFC 7919's smallest group; browsers refused DHE under 1024 bits after Logjam


def suite_of(state: TableState, seat: Seat) -> CipherSuite:
    """The suite ``seat`` believes in: from the ServerHello it sent or received."""
    for message in state.decoded(seat):
        if isinstance(message, m.ServerHello):
            return CIPHER_SUITES[message.cipher_suite]
    return suite_by_name(SUITES_FOR_VARIANT[state.variant][0])


def randoms(state: TableState, seat: Seat) -> tuple[bytes, bytes]:
    return find(state, seat, m.ClientHello).random, find(state, seat, m.ServerHello).random


def client_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    client_random = ref.rng(32)
    extensions = [m.server_name_extension(state.server_name),
                  m.signature_algorithms_extension((SignatureScheme.rsa_pss_rsae_sha256,
                                                    SignatureScheme.rsa_pkcs1_sha256)),
                  m.renegotiation_info_extension()]
    if is_ecdhe(state):
        extensions[1:1] = [m.supported_groups_extension((NamedGroup.x25519,)),
                           m.ec_point_formats_extension()]
    suites = offered_suites(state, action)
    hello = m.ClientHello(0x0303, client_random, b"", suites, b"\x00", tuple(extensions))
    raw, sent = plain_handshake(Seat.CLIENT, hello)
    return [ItemStored(Seat.CLIENT, "client_random", "random", client_random, False), *post(state, sent),
            ok(step, "32 fresh random bytes and the offered suites, strongest first")]


def server_hello(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    hello_in: m.ClientHello = find(state, Seat.SERVER, m.ClientHello)
    suite = chosen_suite(state, action, hello_in.cipher_suites)
    if suite is None:
        return [HandshakeFailed(Seat.SERVER, "suite negotiation", "no cipher suite in common")]
    server_random = ref.rng(32)
    hello = m.ServerHello(0x0303, server_random, b"", suite.code, 0, (m.renegotiation_info_extension(),))
    chain = (state.item(Seat.SERVER, "server_certificate"),)
    facts: list[Fact] = [ItemStored(Seat.SERVER, "server_random", "random", server_random, False)]
    flight: list[m.HandshakeMessage] = [hello, m.Certificate(chain)]
    if suite.key_exchange is KeyExchange.ECDHE:
        share = EcdhePrivateKey(NamedGroup.x25519, ref.rng)
        facts.append(ItemStored(Seat.SERVER, "ecdhe_private", "secret", share.private_bytes(), True))
        key = load_key(state.item(Seat.SERVER, "server_key"))
        flight.append(signed_share(key, hello_in.random, server_random, share))
    elif suite.key_exchange is KeyExchange.DHE:  # the weak-dh scenario's export-grade group
        dh = weakdh.FfdhePrivateKey(weakdh.EXPORT_GRADE_GROUP, ref.rng)
        facts.append(ItemStored(Seat.SERVER, "dhe_private", "secret", dh.private_bytes(), True))
        key = load_key(state.item(Seat.SERVER, "server_key"))
        flight.append(signed_dh_share(key, hello_in.random, server_random, dh))
    if is_mutual(state):
        ca_name = x509.load_der_x509_certificate(state.item(Seat.SERVER, "server_certificate")).issuer
        flight.append(m.CertificateRequest(bytes([1]), (SignatureScheme.rsa_pss_rsae_sha256,),
                                           (ca_name.public_bytes(),)))  # RFC 5246 §7.4.4
    flight.append(m.ServerHelloDone())
    for message in flight:
        facts.extend(post(state, plain_handshake(Seat.SERVER, message)[1]))
    share_words = {KeyExchange.ECDHE: ", and an ECDH share signed with the certificate key",
                   KeyExchange.DHE: ", and a DH share in its export-grade group, signed with the certificate "
                                    "key"}.get(suite.key_exchange, "")
    facts.append(ok(step, f"server_random, {suite.name}, and the certificate{share_words}"))
    return facts


def server_identity_problem(state: TableState, now: datetime.datetime) -> tuple[str, str] | None:
    """What a careful client checks before it trusts the server, from what reached it: the
    chain to its trust store, the name, the validity (RFC 5280 §6), and with ECDHE the
    ServerKeyExchange signature over both randoms and the share (RFC 8422 §5.4). None when
    all hold, else (the check that failed, why)."""
    certificate: m.Certificate = find(state, Seat.CLIENT, m.Certificate)
    trust = [x509.load_der_x509_certificate(state.item(Seat.CLIENT, "trust_store"))]
    try:
        leaf = pki.verify_server_chain(certificate.certificate_list, trust, state.server_name, now)
        exchange_kind = suite_of(state, Seat.CLIENT).key_exchange
        if exchange_kind is not KeyExchange.RSA:
            exchange: m.ServerKeyExchange | m.DhServerKeyExchange = find(
                state, Seat.CLIENT, m.ServerKeyExchange if exchange_kind is KeyExchange.ECDHE
                else m.DhServerKeyExchange)
            client_random, server_random = randoms(state, Seat.CLIENT)
            verify(leaf.public_key(), exchange.signature_scheme, exchange.signature,
                   client_random + server_random + exchange.params())
            if isinstance(exchange, m.DhServerKeyExchange) and weakdh.group_bits(exchange.p) < MIN_DH_BITS:
                bits = weakdh.group_bits(exchange.p)
                return (WEAK_GROUP, f"the server's DH group is only {bits} bits, export grade: anyone can "
                                    f"compute its discrete logarithms; a client refuses a group under "
                                    f"{MIN_DH_BITS} bits (insufficient_security)")
    except pki.CertificateRejected as exc:
        return check_words(exc), exc.reason
    except Alert as exc:
        return SKE_SIGNATURE, f"the ServerKeyExchange signature does not verify ({exc.reason})"
    return None


def check_certificate(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    certificate: m.Certificate = find(state, Seat.CLIENT, m.Certificate)
    problem = server_identity_problem(state, ref.now())
    facts: list[Fact] = [ItemStored(Seat.CLIENT, "server_certificate", "certificate",
                                    certificate.certificate_list[0], False)]
    genuine = certificate.certificate_list[0] == state.item(Seat.SERVER, "server_certificate")
    if isinstance(action, a.AcceptCertificate):
        if problem is None:
            signed = ("" if suite_of(state, Seat.CLIENT).key_exchange is KeyExchange.RSA
                      else ", and the ServerKeyExchange signature verifies with its key")
            facts.append(ok(step, f"issued by the trusted CA, for this name, valid now{signed}"))
        else:
            # Name what failed: the ServerKeyExchange's signature or group is not the certificate's fault.
            what = ("a key exchange that fails its check" if problem[0] in (SKE_SIGNATURE, WEAK_GROUP)
                    else "a certificate that fails its checks")
            facts.append(mistake(step, f"accepted {what}: {problem[1]}", POINTS_BAD_TRUST))
        if not genuine:
            facts.append(ForgeryAccepted("the client trusted a certificate that is not the server's"))
        return facts
    if problem is None:
        return [mistake(step, "the certificate passes every check; rejecting it ends a good connection"),
                HandshakeFailed(Seat.CLIENT, "client refused", "the client rejected a valid certificate")]
    return [ok(step, f"right to refuse: {problem[1]}", POINTS_CAUGHT),
            HandshakeFailed(Seat.CLIENT, problem[0], problem[1])]


def client_key_exchange(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    suite = suite_of(state, Seat.CLIENT)
    if suite.key_exchange is not KeyExchange.RSA:
        if not isinstance(action, a.SendKeyShare):
            raise Rejected("with (EC)DHE the client sends its own share (SendKeyShare)", Code.NOT_ALLOWED)
        if suite.key_exchange is KeyExchange.DHE:
            dh_params: m.DhServerKeyExchange = find(state, Seat.CLIENT, m.DhServerKeyExchange)
            dh = weakdh.FfdhePrivateKey(weakdh.DhGroup.from_bytes(dh_params.p, dh_params.g), ref.rng)
            pre_master, public, name, private = (dh.exchange(dh_params.public), dh.public_bytes(),
                                                 "dhe_private", dh.private_bytes())
        else:
            exchange: m.ServerKeyExchange = find(state, Seat.CLIENT, m.ServerKeyExchange)
            share = EcdhePrivateKey(NamedGroup(exchange.named_curve), ref.rng)
            pre_master, public, name, private = (share.exchange(exchange.public), share.public_bytes(),
                                                 "ecdhe_private", share.private_bytes())
        exchange_out = m.ClientKeyExchange(suite.key_exchange, public)
        facts: list[Fact] = [ItemStored(Seat.CLIENT, name, "secret", private, True),
                             ItemStored(Seat.CLIENT, "pre_master_secret", "secret", pre_master, True)]
        present = is_mutual(state) and action.present_certificate
        messages: list[bytes] = []
        if is_mutual(state):
            chain = (state.item(Seat.CLIENT, "client_certificate"),) if present else ()
            raw_certificate, sent_certificate = plain_handshake(Seat.CLIENT, m.Certificate(chain))
            messages.append(raw_certificate)
            facts.extend(post(state, sent_certificate))
        raw, sent = plain_handshake(Seat.CLIENT, exchange_out)
        messages.append(raw)
        facts.extend(post(state, sent))
        if present:
            # RFC 5246 §7.4.8: sign every handshake message so far, ClientKeyExchange included.
            transcript = b"".join(handshake_raws(state.wire, Seat.CLIENT)) + b"".join(messages)
            key = load_key(state.item(Seat.CLIENT, "client_key"))
            signature = sign(key, SignatureScheme.rsa_pss_rsae_sha256, transcript)
            facts.extend(post(state, plain_handshake(
                Seat.CLIENT, m.CertificateVerify(SignatureScheme.rsa_pss_rsae_sha256, signature))[1]))
        reason = (f"the premaster is {suite.key_exchange.value}(client private, server share); only public "
                  "shares crossed the wire"
                  + ("; the client's certificate and a signature over the handshake prove who it is"
                     if present else ""))
        if is_mutual(state) and not present:
            return [*facts, mistake(step, "the server asked for a certificate and the client sent none")]
        return [*facts, ok(step, reason)]
    if not isinstance(action, a.EncryptPremaster):
        raise Rejected("with RSA key exchange the client encrypts a premaster (EncryptPremaster)",
                       Code.NOT_ALLOWED)
    if action.key not in ("server_certificate", "trust_store"):
        raise Rejected(f"{action.key} is not a certificate in the client's wallet", Code.BAD_INPUT)
    certificate = x509.load_der_x509_certificate(state.item(Seat.CLIENT, action.key))
    pre_master = new_pre_master_secret(0x0303, ref.rng)
    encrypted = rsa_encrypt_pre_master(certificate.public_key(), pre_master)
    raw, sent = plain_handshake(Seat.CLIENT, m.ClientKeyExchange(suite.key_exchange, encrypted))
    rsa_facts: list[Fact] = [ItemStored(Seat.CLIENT, "pre_master_secret", "secret", pre_master, True),
                             *post(state, sent)]
    if action.key == "server_certificate":
        rsa_facts.append(ok(step, "encrypted to the server certificate's key: only its owner can open it"))
    else:
        rsa_facts.append(mistake(step, "the premaster was encrypted to the CA's public key; only the CA's "
                                    "private key could open it — the server cannot"))
    return rsa_facts


def master_from(state: TableState, seat: Seat, pre_master: bytes, order: str) -> bytes:
    client_random, server_random = randoms(state, seat)
    seed = client_random + server_random if order == "client+server" else server_random + client_random
    return prf(suite_of(state, seat).hash, pre_master, b"master secret", seed, 48)


def session_keys(state: TableState, seat: Seat, master: bytes) -> KeyBlock:
    client_random, server_random = randoms(state, seat)
    return key_block(suite_of(state, seat), master, client_random, server_random)


def transcript_hash(state: TableState, seat: Seat, extra: bytes = b"") -> bytes:
    digest = hashes.Hash(suite_of(state, seat).hash)
    for raw in handshake_raws(state.wire, seat):
        digest.update(raw)
    digest.update(extra)
    return digest.finalize()


def finished_message(state: TableState, seat: Seat, master: bytes, label: bytes,
                     extra: bytes = b"") -> bytes:
    return m.encode_handshake(m.Finished(verify_data(suite_of(state, seat), master, label,
                                                     transcript_hash(state, seat, extra))))


def protection(state: TableState, seat: Seat, keys: KeyBlock, sender: Seat,
                sequence: int) -> RecordProtection:
    protection = RecordProtection(suite_of(state, seat), keys.client_write if sender is Seat.CLIENT
                                  else keys.server_write)
    protection.sequence_number = sequence
    return protection


def seal(state: TableState, seat: Seat, keys: KeyBlock, sequence: int, content_type: ContentType,
          data: bytes) -> bytes:
    layer = RecordLayer()
    layer.write_protection = protection(state, seat, keys, seat, sequence)
    return b"".join(layer.encode(content_type, data))


def server_finished_for_client(state: TableState, master: bytes) -> bytes:
    """A server Finished over the client's own handshake, sealed with the client's session keys
    under ``master``: the record a client's check accepts, whoever made it (a relaying man in
    the middle, or an eavesdropper that broke the key exchange)."""
    client_finished = finished_message(state, Seat.CLIENT, master, CLIENT_FINISHED_LABEL)
    finished = finished_message(state, Seat.CLIENT, master, SERVER_FINISHED_LABEL, client_finished)
    keys = session_keys(state, Seat.CLIENT, master)
    return seal(state, Seat.SERVER, keys, 0, ContentType.handshake, finished)


def open_record(state: TableState, seat: Seat, keys: KeyBlock, sequence: int, record: bytes) -> bytes:
    opener = protection(state, seat, keys, other(seat), sequence)
    return opener.open(record[0], int.from_bytes(record[1:3], "big"), record[5:])


def change_cipher_spec(state: TableState, sender: Seat) -> list[Fact]:
    record = b"".join(RecordLayer().encode(ContentType.change_cipher_spec, b"\x01"))
    return post(state, MessageSent(sender, "ChangeCipherSpec", ContentType.change_cipher_spec, record))


def expert_values(state: TableState, step: Step, pre_master: bytes | None = None,
                  rng: Any = None) -> dict[str, bytes]:
    """The real values ``step``'s seat derives (``game.expert``), from its own inputs: its
    premaster (the server's from the ClientKeyExchange it received), randoms and transcript."""
    seat = step.seat
    suite = suite_of(state, seat)
    if step.id == "client.verify_finished":
        master = state.item(Seat.CLIENT, "master_secret")
        own = state.item(Seat.CLIENT, "client_finished")
        return {"verify_data_hex": verify_data(suite, master, SERVER_FINISHED_LABEL,
                                               transcript_hash(state, Seat.CLIENT, own))}
    if pre_master is None:
        pre_master = (state.item(Seat.CLIENT, "pre_master_secret") if seat is Seat.CLIENT
                      else server_pre_master(state, rng or (lambda n: bytes(n))))
    master = master_from(state, seat, pre_master, "client+server")
    keys = session_keys(state, seat, master)
    if seat is Seat.CLIENT:
        mine = verify_data(suite, master, CLIENT_FINISHED_LABEL, transcript_hash(state, seat))
    else:
        theirs = finished_message(state, seat, master, CLIENT_FINISHED_LABEL)
        mine = verify_data(suite, master, SERVER_FINISHED_LABEL, transcript_hash(state, seat, theirs))
    return {"master_secret_hex": master, "client_write_key_hex": keys.client_write.key,
            "server_write_key_hex": keys.server_write.key, "client_write_iv_hex": keys.client_write.iv,
            "server_write_iv_hex": keys.server_write.iv, "verify_data_hex": mine}


def _played_keys(played: dict[str, bytes]) -> KeyBlock:
    return KeyBlock(TrafficKeys(played["client_write_key_hex"], played["client_write_iv_hex"]),
                    TrafficKeys(played["server_write_key_hex"], played["server_write_iv_hex"]))


def client_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    pre_master = state.item(Seat.CLIENT, "pre_master_secret")
    facts: list[Fact]
    if state.difficulty is Difficulty.EXPERT:  # the player's own values, right or wrong, are played
        verdicts, played = expert.judge(state, step, action, expert_values(state, step, pre_master))
        master, keys = played["master_secret_hex"], _played_keys(played)
        finished = m.encode_handshake(m.Finished(played["verify_data_hex"]))
        facts = list(verdicts)
    else:
        master = master_from(state, Seat.CLIENT, pre_master, action.randoms)
        facts = [ok(step, "master secret = PRF(premaster, \"master secret\", client_random + "
                          "server_random)") if action.randoms == "client+server" else
                 mistake(step, "the randoms go client_random first (RFC 5246 §8.1); with the "
                               "order swapped the keys differ from the server's")]
        keys = session_keys(state, Seat.CLIENT, master)
        finished = finished_message(state, Seat.CLIENT, master, CLIENT_FINISHED_LABEL)
    sent = MessageSent(Seat.CLIENT, "Finished", ContentType.handshake,
                       seal(state, Seat.CLIENT, keys, 0, ContentType.handshake, finished))
    return [ItemStored(Seat.CLIENT, "master_secret", "secret", master, True),
            ItemStored(Seat.CLIENT, "client_write_key", "secret", keys.client_write.key, True),
            ItemStored(Seat.CLIENT, "server_write_key", "secret", keys.server_write.key, True),
            ItemStored(Seat.CLIENT, "client_finished", "secret", finished, True),
            *change_cipher_spec(state, Seat.CLIENT), *post(state, sent), *facts]


def server_pre_master(state: TableState, rng: Any) -> bytes:
    """The premaster as the server gets it from the ClientKeyExchange it received: decrypted
    with its RSA key (a random one on bad padding, RFC 5246 §7.4.7.1), or computed from its
    (EC)DH share and the client's."""
    exchange: m.ClientKeyExchange = find(state, Seat.SERVER, m.ClientKeyExchange)
    if suite_of(state, Seat.SERVER).key_exchange is KeyExchange.DHE:
        dh = weakdh.FfdhePrivateKey.from_private_bytes(weakdh.EXPORT_GRADE_GROUP,
                                                       state.item(Seat.SERVER, "dhe_private"))
        try:
            return dh.exchange(exchange.exchange_keys)
        except ValueError:
            return b""
    if is_ecdhe(state):
        private = x25519.X25519PrivateKey.from_private_bytes(state.item(Seat.SERVER, "ecdhe_private"))
        try:
            return private.exchange(x25519.X25519PublicKey.from_public_bytes(exchange.exchange_keys))
        except ValueError:
            return b""
    key = load_key(state.item(Seat.SERVER, "server_key"))
    return rsa_decrypt_pre_master(key, exchange.exchange_keys, 0x0303, rng)


def _check_client_identity(state: TableState, ref: Referee) -> HandshakeFailed | None:
    """Mutual TLS, on the server: the client's chain, then its CertificateVerify (RFC 5246 §7.4.8)."""
    messages = state.decoded(Seat.SERVER)
    client_certificates = [msg for msg in messages if isinstance(msg, m.Certificate)][1:]
    if not client_certificates or not client_certificates[0].certificate_list:
        return HandshakeFailed(Seat.SERVER, "client certificate",
                               "handshake_failure: the server requires a client certificate and got none")
    chain = client_certificates[0].certificate_list
    trust = [x509.load_der_x509_certificate(state.item(Seat.SERVER, "trust_store"))]
    try:
        leaf = pki.verify_client_chain(chain, trust, ref.now())
    except pki.CertificateRejected as exc:
        return HandshakeFailed(Seat.SERVER, "client " + check_words(exc, "certificate"),
                               exc.reason)
    raws = handshake_raws(state.wire, Seat.SERVER)
    verify_index = next((i for i, msg in enumerate(messages) if isinstance(msg, m.CertificateVerify)), None)
    if verify_index is None:
        return HandshakeFailed(Seat.SERVER, "client certificate verify", "no CertificateVerify arrived")
    proof = messages[verify_index]
    assert isinstance(proof, m.CertificateVerify)
    try:
        verify(leaf.public_key(), proof.signature_scheme, proof.signature, b"".join(raws[:verify_index]))
    except Alert:
        return HandshakeFailed(Seat.SERVER, "client certificate verify",
                               "the client's CertificateVerify does not verify over the handshake the "
                               "server saw: the client signed a different handshake, and only the client's "
                               "key could sign this one")
    return None


def server_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    if is_mutual(state):
        refused = _check_client_identity(state, ref)
        if refused is not None:
            return [ok(step, f"the server checks who the client is and stops: {refused.reason}"), refused]
    pre_master = server_pre_master(state, ref.rng)
    verdicts: list[Verdict] = []
    if state.difficulty is Difficulty.EXPERT:  # the player's own values, right or wrong, are played
        verdicts, played = expert.judge(state, step, action, expert_values(state, step, pre_master))
        master, keys = played["master_secret_hex"], _played_keys(played)
    else:
        master = master_from(state, Seat.SERVER, pre_master, action.randoms)
        keys = session_keys(state, Seat.SERVER, master)
        verdicts.append(ok(step, "same premaster, same randoms, same transcript: the client's Finished "
                                 "verifies") if action.randoms == "client+server" else
                        mistake(step, "the randoms go client_random first (RFC 5246 §8.1)"))
    wrong = [verdict for verdict in verdicts if not verdict.ok]
    facts: list[Fact] = [ItemStored(Seat.SERVER, "pre_master_secret", "secret", pre_master, True),
                         ItemStored(Seat.SERVER, "master_secret", "secret", master, True)]
    try:
        opened = open_record(state, Seat.SERVER, keys, 0, delivered_payload(state, Seat.SERVER, "Finished"))
    except Alert:
        why = _why_keys_differ(state, pre_master, master)
        if wrong and state.difficulty is Difficulty.EXPERT:
            why = "the values you computed differ from the keys that sealed the client's Finished"
        # The server did its job: the Finished check is what stops a broken session. When the
        # server's own mistake broke it, stopping earns nothing: the mistake is what it scored.
        return [*facts, *wrong,
                ok(step, "the client's Finished record does not decrypt, so the server stops: " + why,
                   0 if wrong else POINTS_STEP),
                HandshakeFailed(Seat.SERVER, "finished", "bad_record_mac: " + why)]
    expected = finished_message(state, Seat.SERVER, master, CLIENT_FINISHED_LABEL)
    if not hmac.compare_digest(opened, expected):
        return [*facts, *wrong,
                ok(step, "the client's verify_data differs from the server's: the two sides "
                         "hashed different handshake messages, so the server stops",
                   0 if wrong else POINTS_STEP),
                HandshakeFailed(Seat.SERVER, "finished", "verify_data differs: a handshake message was "
                                                         "changed between client and server, and whoever "
                                                         "changed it could not fix the Finished up without "
                                                         "the master secret")]
    if state.difficulty is Difficulty.EXPERT:
        finished = m.encode_handshake(m.Finished(played["verify_data_hex"]))
    else:
        finished = finished_message(state, Seat.SERVER, master, SERVER_FINISHED_LABEL, expected)
    sent = MessageSent(Seat.SERVER, "Finished", ContentType.handshake,
                       seal(state, Seat.SERVER, keys, 0, ContentType.handshake, finished))
    return [*facts, ItemStored(Seat.SERVER, "client_write_key", "secret", keys.client_write.key, True),
            ItemStored(Seat.SERVER, "server_write_key", "secret", keys.server_write.key, True),
            *change_cipher_spec(state, Seat.SERVER), *post(state, sent), *verdicts]


def _why_keys_differ(state: TableState, server_pre_master: bytes, server_master: bytes) -> str:
    """The referee knows both sides; it names the cause the AEAD failure came from."""
    client = state.wallets[Seat.CLIENT]
    if state.scenario is Scenario.REPLAY and state.past_sessions:
        return ("the server worked from the first session's recorded key exchange but this session's "
                "fresh randoms, so its keys differ from the ones that sealed the replayed Finished")
    if "pre_master_secret" in client and client["pre_master_secret"].value != server_pre_master:
        return ("the server recovered a different premaster than the client chose, so the two sides "
                "derived different keys")
    if "master_secret" in client and client["master_secret"].value != server_master:
        return ("the two sides derived different master secrets from the same premaster (different "
                "randoms, or in a different order)")
    return "the record was not sealed with the keys the server derived"


def verify_finished(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    master = state.item(Seat.CLIENT, "master_secret")
    keys = session_keys(state, Seat.CLIENT, master)
    verdicts, played = expert.judge(state, step, action, expert_values(state, step))
    try:
        opened = open_record(state, Seat.CLIENT, keys, 0, delivered_payload(state, Seat.CLIENT, "Finished"))
    except Alert:
        return [*verdicts, HandshakeFailed(Seat.CLIENT, "finished", "the server's Finished does not decrypt")]
    expected = m.encode_handshake(m.Finished(played["verify_data_hex"]))
    if not hmac.compare_digest(opened, expected):
        return [*verdicts, HandshakeFailed(Seat.CLIENT, "finished", "the server's verify_data differs")]
    return [*verdicts, ok(step, "the server's Finished verifies: it holds the same keys and saw the same "
                                "handshake")]


def send_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    sender = step.seat
    keys = session_keys(state, sender, state.item(sender, "master_secret"))
    facts: list[Fact] = []
    if sender is Seat.SERVER:
        record = delivered_payload(state, Seat.SERVER, "application data")
        request = open_record(state, Seat.SERVER, keys, 1, record)
        facts.append(ItemStored(Seat.SERVER, "request", "text", request, True))
    data = action.text.encode()
    record = seal(state, sender, keys, 1, ContentType.application_data, data)
    return [*facts, ItemStored(sender, "sent_data", "text", data, True),
            *post(state, MessageSent(sender, "application data", ContentType.application_data, record)),
            ok(step, "sealed with AES-GCM under the session keys")]


def read_data(state: TableState, step: Step, action: Any, ref: Referee) -> list[Fact]:
    keys = session_keys(state, Seat.CLIENT, state.item(Seat.CLIENT, "master_secret"))
    record = delivered_payload(state, Seat.CLIENT, "application data")
    response = open_record(state, Seat.CLIENT, keys, 1, record)
    return [ItemStored(Seat.CLIENT, "response", "text", response, True),
            ok(step, "the answer decrypts and its tag verifies under the session's keys: it came from "
                     "whoever holds them, the party whose certificate you accepted")]
