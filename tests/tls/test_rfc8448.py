"""RFC 8448 §3, "Simple 1-RTT Handshake", rebuilt secret by secret (keyschedule13.py), its
protected records opened and resealed (record.py, RecordProtection13), and its handshake
messages decoded and re-encoded byte for byte (messages.py in TLS 1.3 mode). At the end, §4,
"Resumed 0-RTT Handshake": from §3's ticket, the early secret, the PSK binder and the early traffic
keys, and our server taking §4's ClientHello (binder checked, early secret as the trace's).

The inputs are the trace's own: the client's and the server's x25519 private keys and the
handshake messages exactly as printed. Every intermediate value the trace prints is then
recomputed with :class:`KeySchedule` and compared with the RFC's bytes — in tlslite-ng's
manner, one value per test, so a failure names the first step that went wrong.

Where the values come from: RFC 8448 (January 2019), §3, copied in its own spaced-hex layout;
``rfc()`` checks each against the octet count the RFC prints next to it. The messages are
further pinned by the transcript hashes the RFC prints, and the protected records by AES-GCM
itself: a single mis-copied byte in a record, or in the messages it carries, fails to open.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from handshake_game.tls import Alert, AlertDescription, DecodeError, Field, suite_by_name
from handshake_game.tls.keyexchange import verify
from handshake_game.tls.keyschedule13 import (
    KeySchedule,
    binder_key,
    finished_verify_data,
    hkdf_expand_label,
    psk_binder,
    traffic_keys,
)
from handshake_game.tls.messages import (
    Certificate13,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    ExtensionType,
    Finished,
    NewSessionTicket13,
    ServerHello,
    binders_length,
    decode_handshake,
    dissect_handshake,
    encode_handshake,
    parse_key_share_client,
    parse_key_share_server,
    parse_pre_shared_key_client,
    parse_psk_key_exchange_modes,
    parse_selected_version,
)
from handshake_game.tls.record import ContentType, RecordLayer, RecordProtection13
from handshake_game.tls.session import SessionTickets, TicketState

TLS13 = 0x0304
SUITE = suite_by_name("TLS_AES_128_GCM_SHA256")  # the trace's suite, 0x1301
SHA256 = hashes.SHA256()


def rfc(octets: int, text: str) -> bytes:
    """One value as the RFC prints it: spaced hex, with its "(N octets)" count checked."""
    value = bytes.fromhex("".join(text.split()))
    assert len(value) == octets, f"copied {len(value)} octets where the RFC says {octets}"
    return value


# -- inputs: {client}/{server} create an ephemeral x25519 key pair ----------------------------

CLIENT_PRIVATE_KEY = rfc(32, """49 af 42 ba 7f 79 94 85 2d 71 3e f2 78
   4b cb ca a7 91 1d e2 6a dc 56 42 cb 63 45 40 e7 ea 50 05""")
CLIENT_PUBLIC_KEY = rfc(32, """99 38 1d e5 60 e4 bd 43 d2 3d 8e 43 5a 7d
   ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c""")
SERVER_PRIVATE_KEY = rfc(32, """b1 58 0e ea df 6d d5 89 b8 ef 4f 2d 56
   52 57 8c c8 10 e9 98 01 91 ec 8d 05 83 08 ce a2 16 a2 1e""")
SERVER_PUBLIC_KEY = rfc(32, """c9 82 88 76 11 20 95 fe 66 76 2b db f7 c6
   72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f""")

# -- the handshake messages ("construct a … handshake message") --------------------------------

CLIENT_HELLO = rfc(196, """01 00 00 c0 03 03 cb 34 ec b1 e7 81 63
   ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99 12 ec 18 a2 ef 62 83
   02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b
   00 09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00
   12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 23
   00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d e5 60 e4 bd 43 d2
   3d 8e 43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a
   af 2c 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03
   02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02 06
   02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01""")

SERVER_HELLO = rfc(90, """02 00 00 56 03 03 a6 af 06 a4 12 18 60
   dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a c5 cb 14 34 da c1 55 77 2e
   d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88
   76 11 20 95 fe 66 76 2b db f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1
   dd 69 b1 b0 4e 75 1f 0f 00 2b 00 02 03 04""")

ENCRYPTED_EXTENSIONS = rfc(40, """08 00 00 24 00 22 00 0a 00 14 00
   12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 1c
   00 02 40 01 00 00 00 00""")

CERTIFICATE = rfc(445, """0b 00 01 b9 00 00 01 b5 00 01 b0 30 82
   01 ac 30 82 01 15 a0 03 02 01 02 02 01 02 30 0d 06 09 2a 86 48
   86 f7 0d 01 01 0b 05 00 30 0e 31 0c 30 0a 06 03 55 04 03 13 03
   72 73 61 30 1e 17 0d 31 36 30 37 33 30 30 31 32 33 35 39 5a 17
   0d 32 36 30 37 33 30 30 31 32 33 35 39 5a 30 0e 31 0c 30 0a 06
   03 55 04 03 13 03 72 73 61 30 81 9f 30 0d 06 09 2a 86 48 86 f7
   0d 01 01 01 05 00 03 81 8d 00 30 81 89 02 81 81 00 b4 bb 49 8f
   82 79 30 3d 98 08 36 39 9b 36 c6 98 8c 0c 68 de 55 e1 bd b8 26
   d3 90 1a 24 61 ea fd 2d e4 9a 91 d0 15 ab bc 9a 95 13 7a ce 6c
   1a f1 9e aa 6a f9 8c 7c ed 43 12 09 98 e1 87 a8 0e e0 cc b0 52
   4b 1b 01 8c 3e 0b 63 26 4d 44 9a 6d 38 e2 2a 5f da 43 08 46 74
   80 30 53 0e f0 46 1c 8c a9 d9 ef bf ae 8e a6 d1 d0 3e 2b d1 93
   ef f0 ab 9a 80 02 c4 74 28 a6 d3 5a 8d 88 d7 9f 7f 1e 3f 02 03
   01 00 01 a3 1a 30 18 30 09 06 03 55 1d 13 04 02 30 00 30 0b 06
   03 55 1d 0f 04 04 03 02 05 a0 30 0d 06 09 2a 86 48 86 f7 0d 01
   01 0b 05 00 03 81 81 00 85 aa d2 a0 e5 b9 27 6b 90 8c 65 f7 3a
   72 67 17 06 18 a5 4c 5f 8a 7b 33 7d 2d f7 a5 94 36 54 17 f2 ea
   e8 f8 a5 8c 8f 81 72 f9 31 9c f3 6b 7f d6 c5 5b 80 f2 1a 03 01
   51 56 72 60 96 fd 33 5e 5e 67 f2 db f1 02 70 2e 60 8c ca e6 be
   c1 fc 63 a4 2a 99 be 5c 3e b7 10 7c 3c 54 e9 b9 eb 2b d5 20 3b
   1c 3b 84 e0 a8 b2 f7 59 40 9b a3 ea c9 d9 1d 40 2d cc 0c c8 f8
   96 12 29 ac 91 87 b4 2b 4d e1 00 00""")

CERTIFICATE_VERIFY = rfc(136, """0f 00 00 84 08 04 00 80 5a 74 7c
   5d 88 fa 9b d2 e5 5a b0 85 a6 10 15 b7 21 1f 82 4c d4 84 14 5a
   b3 ff 52 f1 fd a8 47 7b 0b 7a bc 90 db 78 e2 d3 3a 5c 14 1a 07
   86 53 fa 6b ef 78 0c 5e a2 48 ee aa a7 85 c4 f3 94 ca b6 d3 0b
   be 8d 48 59 ee 51 1f 60 29 57 b1 54 11 ac 02 76 71 45 9e 46 44
   5c 9e a5 8c 18 1e 81 8e 95 b8 c3 fb 0b f3 27 84 09 d3 be 15 2a
   3d a5 04 3e 06 3d da 65 cd f5 ae a2 0d 53 df ac d4 2f 74 f3""")

SERVER_FINISHED = rfc(36, """14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb
   dc e7 1d f4 de da 4a b4 2c 30 95 72 cb 7f ff ee 54 54 b7 8f 07
   18""")

CLIENT_FINISHED = rfc(36, """14 00 00 20 a8 ec 43 6d 67 76 34 ae 52 5a
   c1 fc eb e1 1a 03 9e c1 76 94 fa c6 e9 85 27 b6 42 f2 ed d5 ce
   61""")

NEW_SESSION_TICKET = rfc(205, """04 00 00 c9 00 00 00 1e fa d6 aa
   c5 02 00 00 00 b2 2c 03 5d 82 93 59 ee 5f f7 af 4e c9 00 00 00
   00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf 1b 00 70 ad 3c
   49 88 83 c9 36 7c 09 a2 be 78 5a bc 55 cd 22 60 97 a3 a9 82 11
   72 83 f8 2a 03 a1 43 ef d3 ff 5d d3 6d 64 e8 61 be 7f d6 1d 28
   27 db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2 9e e0 37 25
   a6 a4 da fc d0 fc 67 d2 ae a7 05 29 51 3e 3d a2 67 7f a5 90 6c
   5b 3f 7d 8f 92 f2 28 bd a4 0d da 72 14 70 f9 fb f2 97 b5 ae a6
   17 64 6f ac 5c 03 27 2e 97 07 27 c6 21 a7 91 41 ef 5f 7d e6 50
   5e 5b fb c3 88 e9 33 43 69 40 93 93 4a e4 d3 57 00 08 00 2a 00
   04 00 00 04 00""")

# -- records on the wire ("send … record: complete record") ------------------------------------

CLIENT_HELLO_RECORD = rfc(5, "16 03 01 00 c4") + CLIENT_HELLO  # 201 octets in the RFC
SERVER_HELLO_RECORD = rfc(5, "16 03 03 00 5a") + SERVER_HELLO  # 95 octets in the RFC

# {server} send handshake record: EncryptedExtensions … Finished under the server handshake keys.
SERVER_FLIGHT_RECORD = rfc(679, """17 03 03 02 a2 d1 ff 33 4a 56 f5 bf
   f6 59 4a 07 cc 87 b5 80 23 3f 50 0f 45 e4 89 e7 f3 3a f3 5e df
   78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca 07 61 2e f9 f9 45
   cb 96 0b 40 68 90 51 23 ea 78 b1 11 b4 29 ba 91 91 cd 05 d2 a3
   89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b
   d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9
   b1 18 3e f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf
   51 42 73 25 25 0c 7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d
   2e d6 5b 0e 3c dd 0c ba e8 bf 2d 0b 22 78 12 cb b3 60 98 72 55
   cc 74 41 10 c4 53 ba a4 fc d6 10 92 8d 80 98 10 e4 b7 ed 1a 8f
   d9 91 f0 6a a6 24 82 04 79 7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6
   86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8 94 41 ac
   66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea
   52 0a 56 a8 d6 50 f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e
   a5 e2 2f 44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26 4e d6
   54 0c 84 83 8d 89 f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb
   31 7b 66 d9 02 f4 f2 92 a3 6a c1 b6 39 c6 37 ce 34 31 17 b6 59
   62 22 45 31 7b 49 ee da 0c 62 58 f1 00 d7 d9 61 ff b1 38 64 7e
   92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e 1b 7a 6c 71 78 af
   36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84 c8 b0 37
   8b f3 02 44 da 8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c
   f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6 6f 99 88
   2b d8 9f c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80
   f8 5d f8 81 ed be 5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69
   18 a3 96 fa 48 a1 81 d6 b6 fa 4f 9d 62 d5 13 af bb 99 2f 2b 99
   2f 67 f8 af e6 7f 76 91 3f a3 88 cb 56 30 c8 ca 01 e0 c6 5d 11
   c6 6a 1e 2a c4 c8 59 77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51
   56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38 eb ba 42
   f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f
   60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd
   d5 02 78 40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5 d2 af
   93 98 28 fd 4a e3 79 4e 44 f9 4d f5 a6 31 ed e4 2c 17 19 bf da
   bf 02 53 fe 51 75 be 89 8e 75 0e dc 53 37 0d 2b""")

# {client} send handshake record: the client's Finished under the client handshake keys.
CLIENT_FINISHED_RECORD = rfc(58, """17 03 03 00 35 75 ec 4d c2 38 cc e6
   0b 29 80 44 a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c 7a 4b fc 44
   d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c ae ac ab 68 67 d7
   26 c4 05 46""")

# {server} send handshake record: the NewSessionTicket, first record under the server's
# application keys (sequence number 0).
NEW_SESSION_TICKET_RECORD = rfc(227, """17 03 03 00 de 3a 6b 8f 90 41 4a 97
   d6 95 9c 34 87 68 0d e5 13 4a 2b 24 0e 6c ff ac 11 6e 95 d4 1d
   6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a 01 59 40 25 2f 55
   71 3e 06 1d c1 3e 07 88 91 a3 8e fb cf 57 53 ad 8e f1 70 ad 3c
   73 53 d1 6d 9d a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0
   9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43 9b 29 99 ce 13
   06 46 15 13 98 91 d5 e4 c5 b4 06 f1 6e 3f c1 81 a7 7c a4 75 84
   00 25 db 2f 0a 77 f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86
   51 9d 86 cb ee ac 87 aa c3 47 d1 43 f9 60 5d 64 f6 50 db 4d 02
   3e 70 e9 52 ca 49 fe 51 37 12 1c 74 bc 26 97 68 7e 24 87 46 d6
   df 35 30 05 f3 bc e1 86 96 12 9c 81 53 55 6b 3b 6c 67 79 b3 7b
   f1 59 85 68 4f""")

# {client}/{server} send application_data record: 50 octets, 00 01 02 … 31, each way.
APPLICATION_DATA = bytes(range(50))
CLIENT_APPLICATION_DATA_RECORD = rfc(72, """17 03 03 00 43 a2 3f 70 54 b6 2c 94
   d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc ab 3f 2b
   98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62
   92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4""")
SERVER_APPLICATION_DATA_RECORD = rfc(72, """17 03 03 00 43 2e 93 7e 11 ef 4a c7
   40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36 e3
   0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5
   f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d""")

# {client}/{server} send alert record: close_notify.
CLIENT_ALERT_RECORD = rfc(24, """17 03 03 00 13 c9 87 27 60 65 56 66
   b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3""")
SERVER_ALERT_RECORD = rfc(24, """17 03 03 00 13 b5 8f d6 71 66 eb f5
   99 d2 47 20 cf be 7e fa 7a 88 64 a9""")
CLOSE_NOTIFY = b"\x01\x00"

# -- every intermediate value the trace prints, in the trace's order -----------------------------

EXPECTED: list[tuple[str, str, bytes]] = [
    # (name, the RFC step it is printed under, value)
    ("client public key", "{client} create an ephemeral x25519 key pair", CLIENT_PUBLIC_KEY),
    ("server public key", "{server} create an ephemeral x25519 key pair", SERVER_PUBLIC_KEY),
    ("early secret", '{server} extract secret "early"', rfc(32, """33 ad 0a 1c 60 7e c0 3b 09 e6
        cd 98 93 68 0c e2 10 ad f3 00 aa 1f 26 60 e1 b2 2e 10 f1 70 f9 2a""")),
    ("empty hash", '{server} derive secret for handshake "tls13 derived": hash', rfc(32, """e3 b0
        c4 42 98 fc 1c 14 9a fb f4 c8 99 6f b9 24 27 ae 41 e4 64 9b 93 4c a4 95 99 1b 78 52 b8 55""")),
    ("derived secret for handshake", '{server} derive secret for handshake "tls13 derived"',
     rfc(32, """6f 26 15 a1 08 c7 02 c5 67 8f 54 fc 9d ba b6 97 16 c0 76 18 9c 48 25 0c eb ea c3 57
        6c 36 11 ba""")),
    ("shared secret", '{server} extract secret "handshake": IKM', rfc(32, """8b d4 05 4f b5 5b 9d
        63 fd fb ac f9 f0 4b 9f 0d 35 e6 d6 3f 53 75 63 ef d4 62 72 90 0f 89 49 2d""")),
    ("handshake secret", '{server} extract secret "handshake"', rfc(32, """1d c8 26 e9 36 06 aa 6f
        dc 0a ad c1 2f 74 1b 01 04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac""")),
    ("transcript hash CH..SH", '{server} derive secret "tls13 c hs traffic": hash', rfc(32, """86 0c
        06 ed c0 78 58 ee 8e 78 f0 e7 42 8c 58 ed d6 b4 3f 2c a3 e6 e9 5f 02 ed 06 3c f0 e1 ca d8""")),
    ("client handshake traffic secret", '{server} derive secret "tls13 c hs traffic"', rfc(32, """b3
        ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a
        21""")),
    ("server handshake traffic secret", '{server} derive secret "tls13 s hs traffic"', rfc(32, """b6
        7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad
        38""")),
    ("derived secret for master", '{server} derive secret for master "tls13 derived"', rfc(32, """43
        de 77 e0 c7 77 13 85 9a 94 4d b9 db 25 90 b5 31 90 a6 5b 3e e2 e4 f1 2d d7 a0 bb 7c e2 54
        b4""")),
    ("master secret", '{server} extract secret "master"', rfc(32, """18 df 06 84 3d 13 a0 8b f2 a4
        49 84 4c 5f 8a 47 80 01 bc 4d 4c 62 79 84 d5 a4 1d a8 d0 40 29 19""")),
    ("server handshake write key", "{server} derive write traffic keys for handshake data",
     rfc(16, "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")),
    ("server handshake write iv", "{server} derive write traffic keys for handshake data",
     rfc(12, "5d 31 3e b2 67 12 76 ee 13 00 0b 30")),
    ("server finished_key", '{server} calculate finished "tls13 finished": expanded', rfc(32, """00
        8d 3b 66 f8 16 ea 55 9f 96 b5 37 e8 85 c3 1f c0 68 bf 49 2c 65 2f 01 f2 88 a1 d8 cd c1 9f
        c8""")),
    ("server verify_data", '{server} calculate finished "tls13 finished": finished', rfc(32, """9b 9b
        14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da 4a b4 2c 30 95 72 cb 7f ff ee 54 54 b7 8f 07
        18""")),
    ("transcript hash CH..server Finished", '{server} derive secret "tls13 c ap traffic": hash',
     rfc(32, """96 08 10 2a 0f 1c cc 6d b6 25 0b 7b 7e 41 7b 1a 00 0e aa da 3d aa e4 77 7a 76 86 c9
        ff 83 df 13""")),
    ("client application traffic secret", '{server} derive secret "tls13 c ap traffic"', rfc(32, """9e
        40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04
        a5""")),
    ("server application traffic secret", '{server} derive secret "tls13 s ap traffic"', rfc(32, """a1
        1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16
        43""")),
    ("exporter master secret", '{server} derive secret "tls13 exp master"', rfc(32, """fe 22 f8 81 17
        6e da 18 eb 8f 44 52 9e 67 92 c5 0c 9a 3f 89 45 2f 68 d8 ae 31 1b 43 09 d3 cf 50""")),
    ("server application write key", "{server} derive write traffic keys for application data",
     rfc(16, "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56")),
    ("server application write iv", "{server} derive write traffic keys for application data",
     rfc(12, "cf 78 2b 88 dd 83 54 9a ad f1 e9 84")),
    ("client handshake write key", "{server} derive read traffic keys for handshake data",
     rfc(16, "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01")),
    ("client handshake write iv", "{server} derive read traffic keys for handshake data",
     rfc(12, "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f")),
    ("client finished_key", '{client} calculate finished "tls13 finished": expanded', rfc(32, """b8
        0a d0 10 15 fb 2f 0b d6 5f f7 d4 da 5d 6b f8 3f 84 82 1d 1f 87 fd c7 d3 c7 5b 5a 7b 42 d9
        c4""")),
    ("client verify_data", '{client} calculate finished "tls13 finished": finished', rfc(32, """a8 ec
        43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03 9e c1 76 94 fa c6 e9 85 27 b6 42 f2 ed d5 ce
        61""")),
    ("client application write key", "{client} derive write traffic keys for application data",
     rfc(16, "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51")),
    ("client application write iv", "{client} derive write traffic keys for application data",
     rfc(12, "5b 78 92 3d ee 08 57 90 33 e5 23 d9")),
    ("transcript hash CH..client Finished", '{client} derive secret "tls13 res master": hash',
     rfc(32, """20 91 45 a9 6e e8 e2 a1 22 ff 81 00 47 cc 95 26 84 65 8d 60 49 e8 64 29 42 6d b8 7c
        54 ad 14 3d""")),
    ("resumption master secret", '{client} derive secret "tls13 res master"', rfc(32, """7d f2 35 f2
        03 1d 2a 05 12 87 d0 2b 02 41 b0 bf da f8 6c c8 56 23 1f 2d 5a ba 46 c4 34 ec 19 6c""")),
    ("ticket PSK", '{server} generate resumption secret "tls13 resumption"', rfc(32, """4e cd 0e b6 ec
        3b 4d 87 f5 d6 02 8f 92 2c a4 c5 85 1a 27 7f d4 13 11 c9 e6 2d 2c 94 92 e1 c4 f3""")),
]


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def rebuild() -> dict[str, bytes]:
    """Walks the trace with KeySchedule, from the private keys and the RFC's messages."""
    value: dict[str, bytes] = {}
    client_key = X25519PrivateKey.from_private_bytes(CLIENT_PRIVATE_KEY)
    server_key = X25519PrivateKey.from_private_bytes(SERVER_PRIVATE_KEY)
    value["client public key"] = public_bytes(client_key)
    value["server public key"] = public_bytes(server_key)

    # The shares as they travel in the hellos' key_share extensions (RFC 8446 §4.2.8).
    hello = decode_handshake(CLIENT_HELLO, version=TLS13)
    server_hello = decode_handshake(SERVER_HELLO, version=TLS13)
    assert isinstance(hello, ClientHello) and isinstance(server_hello, ServerHello)
    ((client_group, client_share),) = parse_key_share_client(hello.extension(ExtensionType.key_share) or b"")
    server_group, server_share = parse_key_share_server(
        server_hello.extension(ExtensionType.key_share) or b"")
    assert client_group == server_group == 29  # x25519
    shared = client_key.exchange(X25519PublicKey.from_public_bytes(server_share))
    assert server_key.exchange(X25519PublicKey.from_public_bytes(client_share)) == shared
    value["shared secret"] = shared

    ks = KeySchedule(SUITE)
    value["early secret"] = ks.extract(None)
    value["empty hash"] = hashlib.sha256(b"").digest()
    value["derived secret for handshake"] = hkdf_expand_label(
        SHA256, value["early secret"], b"derived", value["empty hash"], 32)
    value["handshake secret"] = ks.extract(shared)
    ks.update_hash(CLIENT_HELLO)
    ks.update_hash(SERVER_HELLO)
    value["transcript hash CH..SH"] = ks.transcript_hash()
    client_hs = value["client handshake traffic secret"] = ks.derive_secret(b"c hs traffic")
    server_hs = value["server handshake traffic secret"] = ks.derive_secret(b"s hs traffic")
    value["derived secret for master"] = hkdf_expand_label(
        SHA256, value["handshake secret"], b"derived", value["empty hash"], 32)
    for who, secret in (("server", server_hs), ("client", client_hs)):
        keys = traffic_keys(SUITE, secret)
        value[f"{who} handshake write key"], value[f"{who} handshake write iv"] = keys.key, keys.iv
        value[f"{who} finished_key"] = hkdf_expand_label(SHA256, secret, b"finished", b"", 32)

    for message in (ENCRYPTED_EXTENSIONS, CERTIFICATE, CERTIFICATE_VERIFY):
        ks.update_hash(message)
    value["server verify_data"] = finished_verify_data(SUITE, server_hs, ks.transcript_hash())
    ks.update_hash(SERVER_FINISHED)

    value["master secret"] = ks.extract(None)
    value["transcript hash CH..server Finished"] = ks.transcript_hash()
    client_ap = value["client application traffic secret"] = ks.derive_secret(b"c ap traffic")
    server_ap = value["server application traffic secret"] = ks.derive_secret(b"s ap traffic")
    value["exporter master secret"] = ks.derive_secret(b"exp master")
    for who, secret in (("server", server_ap), ("client", client_ap)):
        keys = traffic_keys(SUITE, secret)
        value[f"{who} application write key"], value[f"{who} application write iv"] = keys.key, keys.iv
    value["client verify_data"] = finished_verify_data(SUITE, client_hs, ks.transcript_hash())

    ks.update_hash(CLIENT_FINISHED)
    value["transcript hash CH..client Finished"] = ks.transcript_hash()
    resumption = value["resumption master secret"] = ks.derive_secret(b"res master")
    ticket = decode_handshake(NEW_SESSION_TICKET, version=TLS13)
    assert isinstance(ticket, NewSessionTicket13)
    # RFC 8446 §4.6.1: the PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", nonce).
    value["ticket PSK"] = hkdf_expand_label(SHA256, resumption, b"resumption", ticket.ticket_nonce, 32)
    return value


@pytest.fixture(scope="module")
def rebuilt() -> dict[str, bytes]:
    return rebuild()


# -- the inputs are the RFC's --------------------------------------------------------------------


def test_the_hellos_hash_to_the_values_the_rfc_prints() -> None:
    # Hash(ClientHello || ServerHello) and the whole-flight hashes pin every message byte.
    expected = {name: value for name, _, value in EXPECTED}
    assert hashlib.sha256(CLIENT_HELLO + SERVER_HELLO).digest() == expected["transcript hash CH..SH"]
    server_flight = ENCRYPTED_EXTENSIONS + CERTIFICATE + CERTIFICATE_VERIFY + SERVER_FINISHED
    assert (hashlib.sha256(CLIENT_HELLO + SERVER_HELLO + server_flight).digest()
            == expected["transcript hash CH..server Finished"])
    assert (hashlib.sha256(CLIENT_HELLO + SERVER_HELLO + server_flight + CLIENT_FINISHED).digest()
            == expected["transcript hash CH..client Finished"])
    # The public keys printed in the trace are the ones inside the hellos.
    assert CLIENT_PUBLIC_KEY in CLIENT_HELLO and SERVER_PUBLIC_KEY in SERVER_HELLO


# -- the key schedule, value by value --------------------------------------------------------------


@pytest.mark.parametrize(("name", "step", "expected"), EXPECTED, ids=[name for name, _, _ in EXPECTED])
def test_key_schedule_reproduces_the_trace(rebuilt: dict[str, bytes], name: str, step: str,
                                           expected: bytes) -> None:
    assert rebuilt[name].hex() == expected.hex(), f"{name} ({step})"


def test_finished_messages_carry_the_verify_data_we_compute(rebuilt: dict[str, bytes]) -> None:
    assert encode_handshake(Finished(rebuilt["server verify_data"])) == SERVER_FINISHED
    assert encode_handshake(Finished(rebuilt["client verify_data"])) == CLIENT_FINISHED


def test_key_schedule_stages_advance_one_generation_each() -> None:
    ks = KeySchedule(SUITE)
    assert ks.generation == 0 and ks.secret == bytes(32)
    ks.extract(None)
    ks.extract(b"\x01" * 32)
    ks.extract(None)
    assert ks.generation == 3
    # The transcript hash is a running hash: reading it does not consume it.
    ks.update_hash(CLIENT_HELLO)
    assert ks.transcript_hash() == ks.transcript_hash() == hashlib.sha256(CLIENT_HELLO).digest()


def test_restart_with_message_hash_replaces_the_first_client_hello() -> None:
    # RFC 8446 §4.4.1: after a HelloRetryRequest, ClientHello1 is replaced in the transcript by
    # message_hash (254) || 00 00 Hash.length || Hash(ClientHello1).
    ks = KeySchedule(SUITE)
    ks.update_hash(b"anything before is forgotten")
    ks.restart_with_message_hash(CLIENT_HELLO)
    synthetic = bytes([254, 0, 0, 32]) + hashlib.sha256(CLIENT_HELLO).digest()
    assert ks.transcript_hash() == hashlib.sha256(synthetic).digest()
    ks.update_hash(SERVER_HELLO)
    assert ks.transcript_hash() == hashlib.sha256(synthetic + SERVER_HELLO).digest()


# -- the protected records -------------------------------------------------------------------------


def protection(rebuilt: dict[str, bytes], secret_name: str, sequence_number: int = 0) -> RecordProtection13:
    state = RecordProtection13(SUITE, traffic_keys(SUITE, rebuilt[secret_name]))
    state.sequence_number = sequence_number
    return state


# (record, the traffic secret it is protected with, its sequence number, inner type, plaintext)
RECORDS = [
    pytest.param(SERVER_FLIGHT_RECORD, "server handshake traffic secret", 0, ContentType.handshake,
                 ENCRYPTED_EXTENSIONS + CERTIFICATE + CERTIFICATE_VERIFY + SERVER_FINISHED,
                 id="server-flight"),
    pytest.param(CLIENT_FINISHED_RECORD, "client handshake traffic secret", 0, ContentType.handshake,
                 CLIENT_FINISHED, id="client-Finished"),
    pytest.param(NEW_SESSION_TICKET_RECORD, "server application traffic secret", 0, ContentType.handshake,
                 NEW_SESSION_TICKET, id="NewSessionTicket"),
    pytest.param(CLIENT_APPLICATION_DATA_RECORD, "client application traffic secret", 0,
                 ContentType.application_data, APPLICATION_DATA, id="client-application-data"),
    pytest.param(SERVER_APPLICATION_DATA_RECORD, "server application traffic secret", 1,
                 ContentType.application_data, APPLICATION_DATA, id="server-application-data"),
    pytest.param(CLIENT_ALERT_RECORD, "client application traffic secret", 1, ContentType.alert,
                 CLOSE_NOTIFY, id="client-close_notify"),
    pytest.param(SERVER_ALERT_RECORD, "server application traffic secret", 2, ContentType.alert,
                 CLOSE_NOTIFY, id="server-close_notify"),
]


@pytest.mark.parametrize(("record", "secret", "sequence_number", "content_type", "plaintext"), RECORDS)
def test_rfc_records_open_and_reseal_byte_exact(rebuilt: dict[str, bytes], record: bytes, secret: str,
                                                sequence_number: int, content_type: int,
                                                plaintext: bytes) -> None:
    opened = protection(rebuilt, secret, sequence_number).open(record[:5], record[5:])
    assert opened == (content_type, plaintext)
    assert protection(rebuilt, secret, sequence_number).seal(content_type, plaintext) == record


def test_record_layer_reads_the_servers_records_as_a_client_would(rebuilt: dict[str, bytes]) -> None:
    layer = RecordLayer()
    layer.feed(SERVER_HELLO_RECORD + SERVER_FLIGHT_RECORD)
    server_hello = layer.next_record()
    assert server_hello is not None and not server_hello.protected
    assert (server_hello.content_type, server_hello.fragment) == (ContentType.handshake, SERVER_HELLO)
    # The client switches to the server's handshake keys once it has the ServerHello.
    layer.read_protection = protection(rebuilt, "server handshake traffic secret")
    flight = layer.next_record()
    assert flight is not None and flight.protected and flight.wire == SERVER_FLIGHT_RECORD
    assert flight.content_type == ContentType.handshake
    assert flight.fragment == ENCRYPTED_EXTENSIONS + CERTIFICATE + CERTIFICATE_VERIFY + SERVER_FINISHED
    assert layer.next_record() is None and layer.buffered == 0


def test_record_layer_reproduces_the_clients_records(rebuilt: dict[str, bytes]) -> None:
    layer = RecordLayer()
    # RFC 8446 §5.1: the first ClientHello may say 0x0301 in the record header; ours says 0x0303.
    (hello,) = layer.encode(ContentType.handshake, CLIENT_HELLO)
    assert hello[5:] == CLIENT_HELLO_RECORD[5:] and hello[:3] == bytes([22, 3, 3])
    layer.write_protection = protection(rebuilt, "client handshake traffic secret")
    assert layer.encode(ContentType.handshake, CLIENT_FINISHED) == [CLIENT_FINISHED_RECORD]
    layer.write_protection = protection(rebuilt, "client application traffic secret")
    assert layer.encode(ContentType.application_data, APPLICATION_DATA) == [CLIENT_APPLICATION_DATA_RECORD]
    assert layer.encode(ContentType.alert, CLOSE_NOTIFY) == [CLIENT_ALERT_RECORD]


@pytest.mark.parametrize("position", [1, 2, 5, 300, 678])
def test_any_changed_byte_of_the_server_flight_is_bad_record_mac(rebuilt: dict[str, bytes],
                                                                 position: int) -> None:
    # Header bytes are the additional data (RFC 8446 §5.2); the rest is ciphertext and tag.
    tampered = bytearray(SERVER_FLIGHT_RECORD)
    tampered[position] ^= 0x01
    with pytest.raises(Alert) as failure:
        protection(rebuilt, "server handshake traffic secret").open(bytes(tampered[:5]), bytes(tampered[5:]))
    assert failure.value.description == AlertDescription.bad_record_mac


def test_records_do_not_open_at_another_sequence_number(rebuilt: dict[str, bytes]) -> None:
    with pytest.raises(Alert) as failure:
        protection(rebuilt, "server application traffic secret", 0).open(
            SERVER_APPLICATION_DATA_RECORD[:5], SERVER_APPLICATION_DATA_RECORD[5:])
    assert failure.value.description == AlertDescription.bad_record_mac


# -- the handshake messages, decoded and re-encoded --------------------------------------------------

MESSAGES = [
    pytest.param(CLIENT_HELLO, ClientHello, id="ClientHello"),
    pytest.param(SERVER_HELLO, ServerHello, id="ServerHello"),
    pytest.param(ENCRYPTED_EXTENSIONS, EncryptedExtensions, id="EncryptedExtensions"),
    pytest.param(CERTIFICATE, Certificate13, id="Certificate"),
    pytest.param(CERTIFICATE_VERIFY, CertificateVerify, id="CertificateVerify"),
    pytest.param(SERVER_FINISHED, Finished, id="server-Finished"),
    pytest.param(CLIENT_FINISHED, Finished, id="client-Finished"),
    pytest.param(NEW_SESSION_TICKET, NewSessionTicket13, id="NewSessionTicket"),
]


def assert_tiles(field: Field, raw: bytes) -> None:
    """Each group's children cover its bytes exactly, after at most a 1-3 byte length prefix."""
    if not field.children:
        return
    children = field.children
    prefix = children[0].offset - field.offset
    assert prefix in (0, 1, 2, 3), f"{field.name}: children start {prefix} bytes in"
    if prefix:
        stated = int.from_bytes(raw[field.offset : children[0].offset], "big")
        assert stated == field.length - prefix, f"{field.name}: length prefix says {stated}"
    for before, after in zip(children, children[1:], strict=False):
        assert before.offset + before.length == after.offset, f"gap or overlap before {after.name}"
    assert children[-1].offset + children[-1].length == field.offset + field.length, field.name
    for child in children:
        assert_tiles(child, raw)


@pytest.mark.parametrize(("raw", "kind"), MESSAGES)
def test_messages_decode_and_reencode_byte_exact(raw: bytes, kind: type) -> None:
    message = decode_handshake(raw, version=TLS13)
    assert type(message) is kind
    assert encode_handshake(message) == raw


@pytest.mark.parametrize(("raw", "kind"), MESSAGES)
def test_message_dissections_tile_the_bytes(raw: bytes, kind: type) -> None:
    tree = dissect_handshake(raw, version=TLS13)
    assert (tree.offset, tree.length) == (0, len(raw))
    assert [child.name for child in tree.children] == ["msg_type", "body"]
    assert_tiles(tree, raw)
    shifted = dissect_handshake(raw, base_offset=5, version=TLS13)
    assert [(f.name, f.offset - 5, f.length) for _, f in shifted.walk()] == [
        (f.name, f.offset, f.length) for _, f in tree.walk()]


def field_bytes(tree: Field, name: str, raw: bytes) -> bytes:
    found = tree.find(name)
    assert found is not None, f"no field {name}"
    return raw[found.offset : found.offset + found.length]


def test_hellos_say_what_the_trace_negotiates() -> None:
    hello = decode_handshake(CLIENT_HELLO, version=TLS13)
    assert isinstance(hello, ClientHello)
    assert hello.client_version == 0x0303 and hello.session_id == b""
    assert hello.cipher_suites == (0x1301, 0x1303, 0x1302)
    assert [e.type for e in hello.extensions or ()] == [0, 0xFF01, 10, 35, 51, 43, 13, 45, 28]
    server_hello = decode_handshake(SERVER_HELLO, version=TLS13)
    assert isinstance(server_hello, ServerHello) and not server_hello.is_hello_retry_request
    assert server_hello.cipher_suite == SUITE.code
    assert parse_selected_version(server_hello.extension(ExtensionType.supported_versions) or b"") == TLS13
    tree = dissect_handshake(SERVER_HELLO, version=TLS13)
    assert field_bytes(tree, "selected_version", SERVER_HELLO) == b"\x03\x04"
    # A vector field spans its length prefix too: 00 20, then the 32-byte x25519 share.
    assert field_bytes(tree, "key_exchange", SERVER_HELLO) == b"\x00\x20" + SERVER_PUBLIC_KEY


def test_server_flight_messages_carry_what_the_trace_says() -> None:
    extensions = decode_handshake(ENCRYPTED_EXTENSIONS, version=TLS13)
    assert isinstance(extensions, EncryptedExtensions)
    # supported_groups, record_size_limit, and an empty server_name acknowledging SNI.
    assert [(e.type, e.data.hex()) for e in extensions.extensions] == [
        (10, "0012001d00170018001901000101010201030104"), (28, "4001"), (0, "")]

    certificate = decode_handshake(CERTIFICATE, version=TLS13)
    assert isinstance(certificate, Certificate13)
    assert certificate.certificate_request_context == b"" and certificate.entry_extensions is None
    (der,) = certificate.certificate_list
    assert len(der) == 432
    leaf = x509.load_der_x509_certificate(der)
    assert leaf.subject.rfc4514_string() == "CN=rsa"

    verify_message = decode_handshake(CERTIFICATE_VERIFY, version=TLS13)
    assert isinstance(verify_message, CertificateVerify)
    assert verify_message.signature_scheme == 0x0804  # rsa_pss_rsae_sha256
    # RFC 8446 §4.4.3: the server signed 64 spaces, the context string, 0, Hash(CH..Certificate).
    signed = (b" " * 64 + b"TLS 1.3, server CertificateVerify\x00"
              + hashlib.sha256(CLIENT_HELLO + SERVER_HELLO + ENCRYPTED_EXTENSIONS + CERTIFICATE).digest())
    verify(leaf.public_key(), verify_message.signature_scheme, verify_message.signature, signed)
    with pytest.raises(Alert) as failure:
        verify(leaf.public_key(), verify_message.signature_scheme, verify_message.signature,
               signed.replace(b"server", b"client"))
    assert failure.value.description == AlertDescription.decrypt_error


def test_new_session_ticket_fields() -> None:
    ticket = decode_handshake(NEW_SESSION_TICKET, version=TLS13)
    assert isinstance(ticket, NewSessionTicket13)
    assert ticket.ticket_lifetime == 30
    assert ticket.ticket_age_add == 0xFAD6AAC5
    assert ticket.ticket_nonce == b"\x00\x00"
    assert len(ticket.ticket) == 178
    # early_data (RFC 8446 §4.2.10) with max_early_data_size 1024.
    assert [(e.type, e.data) for e in ticket.extensions] == [(42, (1024).to_bytes(4, "big"))]
    tree = dissect_handshake(NEW_SESSION_TICKET, version=TLS13)
    assert field_bytes(tree, "ticket_lifetime", NEW_SESSION_TICKET) == (30).to_bytes(4, "big")


@pytest.mark.parametrize("raw", [ENCRYPTED_EXTENSIONS, CERTIFICATE, NEW_SESSION_TICKET],
                         ids=["EncryptedExtensions", "Certificate", "NewSessionTicket"])
def test_tls13_layouts_do_not_decode_as_tls12(raw: bytes) -> None:
    # The version argument matters: in TLS 1.2 these types are unknown or laid out differently.
    with pytest.raises(DecodeError):
        decode_handshake(raw)


# -- RFC 8448 §4, "Resumed 0-RTT Handshake": the PSK from §3's ticket, binder and early keys --------
#
# The client resumes with §3's NewSessionTicket ("ticket PSK" above) and sends 0-RTT data. The
# ClientHello is copied with its binder; everything else here is recomputed and compared.

RESUMED_CLIENT_HELLO = rfc(512, """01 00 01 fc 03 03 1b c3 ce b6 bb e3 9c ff
   93 83 55 b5 a5 0a db 6d b2 1b 7a 6a f6 49 d7 b4 bc 41 9d 78 76
   48 7d 95 00 00 06 13 01 13 03 13 02 01 00 01 cd 00 00 00 0b 00
   09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12
   00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 33 00
   26 00 24 00 1d 00 20 e4 ff b6 8a c0 5f 8d 96 c9 9d a2 66 98 34
   6c 6b e1 64 82 ba dd da fe 05 1a 66 b4 f1 8d 66 8f 0b 00 2a 00
   00 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02
   03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02 06 02
   02 02 00 2d 00 02 01 01 00 1c 00 02 40 01 00 15 00 57 00 00 00
   00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
   00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
   00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
   00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
   00 29 00 dd 00 b8 00 b2 2c 03 5d 82 93 59 ee 5f f7 af 4e c9 00
   00 00 00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf 1b 00 70
   ad 3c 49 88 83 c9 36 7c 09 a2 be 78 5a bc 55 cd 22 60 97 a3 a9
   82 11 72 83 f8 2a 03 a1 43 ef d3 ff 5d d3 6d 64 e8 61 be 7f d6
   1d 28 27 db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2 9e e0
   37 25 a6 a4 da fc d0 fc 67 d2 ae a7 05 29 51 3e 3d a2 67 7f a5
   90 6c 5b 3f 7d 8f 92 f2 28 bd a4 0d da 72 14 70 f9 fb f2 97 b5
   ae a6 17 64 6f ac 5c 03 27 2e 97 07 27 c6 21 a7 91 41 ef 5f 7d
   e6 50 5e 5b fb c3 88 e9 33 43 69 40 93 93 4a e4 d3 57 fa d6 aa
   cb 00 21 20 3a dd 4f b2 d8 fd f8 22 a0 ca 3c f7 67 8e f5 e8 8d
   ae 99 01 41 c5 92 4d 57 bb 6f a3 1b 9e 5f 9d""")

RESUMED_EXPECTED: list[tuple[str, str, bytes]] = [
    ("early secret", '{client} extract secret "early" (same as server early secret)', rfc(32, """9b 21
        88 e9 b2 fc 6d 64 d7 1d c3 29 90 0e 20 bb 41 91 50 00 f6 78 aa 83 9c bb 79 7c b7 d8 33 2c""")),
    ("binder hash", "{client} calculate PSK binder: binder hash", rfc(32, """63 22 4b 2e 45 73 f2 d3
        45 4c a8 4b 9d 00 9a 04 f6 be 9e 05 71 1a 83 96 47 3a ef a0 1e 92 4a 14""")),
    ("binder key", "{client} calculate PSK binder: PRK", rfc(32, """69 fe 13 1a 3b ba d5 d6 3c 64 ee
        bc c3 0e 39 5b 9d 81 07 72 6a 13 d0 74 e3 89 db c8 a4 e4 72 56""")),
    ("binder", "{client} calculate PSK binder: finished", rfc(32, """3a dd 4f b2 d8 fd f8 22 a0 ca 3c
        f7 67 8e f5 e8 8d ae 99 01 41 c5 92 4d 57 bb 6f a3 1b 9e 5f 9d""")),
    ("transcript hash CH", '{client} derive secret "tls13 c e traffic": hash', rfc(32, """08 ad 0f a0
        5d 7c 72 33 b1 77 5b a2 ff 9f 4c 5b 8b 59 27 6b 7f 22 7f 13 a9 76 24 5f 5d 96 09 13""")),
    ("client early traffic secret", '{client} derive secret "tls13 c e traffic"', rfc(32, """3f bb e6
        a6 0d eb 66 c3 0a 32 79 5a ba 0e ff 7e aa 10 10 55 86 e7 be 5c 09 67 8d 63 b6 ca ab 62""")),
    ("early write key", "{client} derive write traffic keys for early application data",
     rfc(16, "92 02 05 a5 b7 bf 21 15 e6 fc 5c 29 42 83 4f 54")),
    ("early write iv", "{client} derive write traffic keys for early application data",
     rfc(12, "6d 47 5f 09 93 c8 e5 64 61 0d b2 b9")),
]


def rebuild_resumed(ticket_psk: bytes) -> dict[str, bytes]:
    """Walks §4's early stage from §3's ticket PSK and §4's ClientHello."""
    value: dict[str, bytes] = {}
    hello = decode_handshake(RESUMED_CLIENT_HELLO, version=TLS13)
    assert isinstance(hello, ClientHello)
    psk_ext = hello.extension(ExtensionType.pre_shared_key) or b""
    truncated = RESUMED_CLIENT_HELLO[:len(RESUMED_CLIENT_HELLO) - binders_length(psk_ext)]
    value["binder hash"] = hashlib.sha256(truncated).digest()
    value["binder key"] = binder_key(SUITE, ticket_psk)
    value["binder"] = psk_binder(SUITE, ticket_psk, value["binder hash"])
    ks = KeySchedule(SUITE)
    value["early secret"] = ks.extract(ticket_psk)
    ks.update_hash(RESUMED_CLIENT_HELLO)
    value["transcript hash CH"] = ks.transcript_hash()
    value["client early traffic secret"] = ks.derive_secret(b"c e traffic")
    keys = traffic_keys(SUITE, value["client early traffic secret"])
    value["early write key"], value["early write iv"] = keys.key, keys.iv
    return value


@pytest.mark.parametrize(("name", "step", "expected"), RESUMED_EXPECTED, ids=[e[0] for e in RESUMED_EXPECTED])
def test_resumed_key_schedule_reproduces_the_trace(rebuilt: dict[str, bytes], name: str, step: str,
                                                   expected: bytes) -> None:
    assert rebuild_resumed(rebuilt["ticket PSK"])[name] == expected, step


def test_resumed_client_hello_offers_the_ticket_with_its_obfuscated_age_and_binder() -> None:
    hello = decode_handshake(RESUMED_CLIENT_HELLO, version=TLS13)
    ticket = decode_handshake(NEW_SESSION_TICKET, version=TLS13)
    assert isinstance(hello, ClientHello) and isinstance(ticket, NewSessionTicket13)
    assert encode_handshake(hello) == RESUMED_CLIENT_HELLO
    assert hello.extensions is not None and hello.extensions[-1].type == ExtensionType.pre_shared_key
    (identity,), (binder,) = parse_pre_shared_key_client(hello.extensions[-1].data)
    assert identity.identity == ticket.ticket
    # RFC 8446 §4.2.11.1: (age in ms + ticket_age_add) mod 2^32; the trace's client waited 6 ms.
    assert (identity.obfuscated_ticket_age - ticket.ticket_age_add) % 2**32 == 6
    assert binder == RESUMED_EXPECTED[3][2]
    assert hello.extension(ExtensionType.early_data) == b""
    assert parse_psk_key_exchange_modes(hello.extension(ExtensionType.psk_key_exchange_modes) or b"") == (1,)
    tree = dissect_handshake(RESUMED_CLIENT_HELLO, version=TLS13)
    assert field_bytes(tree, "binder", RESUMED_CLIENT_HELLO) == bytes([32]) + binder  # opaque<32..255>


class _TraceTickets(SessionTickets):
    """Stands for the trace's server: its ticket opens to §3's PSK (issued 6 ms ago)."""

    def __init__(self, psk: bytes, ticket: NewSessionTicket13) -> None:
        super().__init__()
        self._state = TicketState(0x1301, psk, 0, ticket.ticket_age_add, 1024, "server")
        self._ticket = ticket.ticket

    def open(self, ticket: bytes) -> TicketState | None:
        if ticket != self._ticket:
            return None
        return TicketState(**{**self._state.__dict__, "issued_at_ms": self.now_ms() - 6})


def trace_server(make_server, rebuilt: dict[str, bytes]):
    ticket = decode_handshake(NEW_SESSION_TICKET, version=TLS13)
    assert isinstance(ticket, NewSessionTicket13)
    return make_server(cipher_suites=("TLS_AES_128_GCM_SHA256",), max_early_data_size=1024,
                       session_tickets=_TraceTickets(rebuilt["ticket PSK"], ticket))


def test_our_server_accepts_the_traces_binder_and_derives_its_early_secret(
        make_server, rebuilt: dict[str, bytes]) -> None:
    server = trace_server(make_server, rebuilt)
    server.receive_data(rfc(5, "16 03 01 02 00") + RESUMED_CLIENT_HELLO)
    assert server.failed is None and server.resumed and server.early_data_accepted
    lines = [line.split() for line in server.keylog_lines()]
    assert lines[0] == ["CLIENT_EARLY_TRAFFIC_SECRET", RESUMED_CLIENT_HELLO[6:38].hex(),
                        RESUMED_EXPECTED[5][2].hex()]


def test_our_server_refuses_the_trace_with_one_binder_bit_flipped(make_server,
                                                                  rebuilt: dict[str, bytes]) -> None:
    server = trace_server(make_server, rebuilt)
    tampered = bytearray(RESUMED_CLIENT_HELLO)
    tampered[-1] ^= 0x01
    server.receive_data(rfc(5, "16 03 01 02 00") + bytes(tampered))
    assert server.failed is not None and server.failed.description == AlertDescription.decrypt_error
