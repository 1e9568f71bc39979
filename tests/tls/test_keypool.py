"""The warm key pool: keys come out instantly when warm, and the pool refills itself."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from handshake_game.tls.keypool import KeyKind, KeyPool


def test_warm_pool_hands_out_real_keys_and_refills() -> None:
    pool = KeyPool(target=2).start()
    try:
        assert pool.wait_until_full(timeout=60)
        rsa_key = pool.take(KeyKind.RSA_2048)
        ec_key = pool.take(KeyKind.P256)
        assert rsa_key.warm and ec_key.warm
        assert isinstance(rsa_key.key, rsa.RSAPrivateKey) and rsa_key.key.key_size == 2048
        assert isinstance(ec_key.key, ec.EllipticCurvePrivateKey)
        assert ec_key.key.curve.name == "secp256r1"
        # Taking woke the refiller: the pool fills back to its target by itself.
        assert pool.wait_until_full(timeout=60)
        assert pool.available(KeyKind.RSA_2048) == 2
        # Two takes never hand out the same key.
        first, second = pool.take(KeyKind.RSA_2048), pool.take(KeyKind.RSA_2048)
        assert first.key.private_numbers() != second.key.private_numbers()
    finally:
        pool.stop()


def test_empty_pool_generates_on_the_spot_and_says_so() -> None:
    pool = KeyPool(target=1)  # never started: nothing is generated ahead
    taken = pool.take(KeyKind.P256)
    assert not taken.warm
    assert isinstance(taken.key, ec.EllipticCurvePrivateKey)


def test_reserved_keys_are_made_ahead_and_used_up_by_takes() -> None:
    from handshake_game.tls.keypool import KeyKind, KeyPool

    made: list[int] = []

    def counting(kind: KeyKind) -> object:
        made.append(1)
        return object()

    pool = KeyPool(target=1, kinds=(KeyKind.P256,), generator=counting).start()  # type: ignore[arg-type]
    try:
        assert pool.wait_until_full(10)
        pool.reserve(KeyKind.P256, 3)
        assert pool.wait_until_full(10)
        assert pool.available(KeyKind.P256) == 4
        assert all(pool.take(KeyKind.P256).warm for _ in range(4))
        assert pool.wait_until_full(10)
        assert pool.available(KeyKind.P256) == 1  # the reservations are used up: back to target
    finally:
        pool.stop()
