"""API keys: random, prefixed, stored only as a SHA-256 digest."""

from __future__ import annotations

import re

from shared.auth import KEY_PREFIX, hash_key, new_key

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_hash_key_is_hex_sha256() -> None:
    # FIPS 180-2 test vector for "abc"
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_hash_key_is_stable_and_distinguishes_keys() -> None:
    key = new_key()

    assert hash_key(key) == hash_key(key)
    assert hash_key(key) != hash_key(key + "x")
    assert key not in hash_key(key)


def test_new_key_has_the_prefix_and_256_bits_of_url_safe_randomness() -> None:
    key = new_key()

    assert key.startswith(KEY_PREFIX)
    secret = key.removeprefix(KEY_PREFIX)
    assert URL_SAFE.match(secret)
    assert len(secret) >= 43  # 32 random bytes in base64url


def test_new_keys_do_not_repeat() -> None:
    assert len({new_key() for _ in range(1000)}) == 1000
