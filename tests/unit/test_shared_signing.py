"""Delivery signatures: checked against OpenSSL's HMAC (an implementation we did not write),
then the receiver's refusals."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from shared import signing

SECRET = "whsec_test"
BODY = b'{"event_type":"PostPublished","post_id":"p1"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body_as_openssl_computes_it() -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is part of the base system"
    out = subprocess.run(
        [openssl, "dgst", "-sha256", "-hmac", SECRET],
        input=b"1700000000." + BODY,
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert out.strip().split()[-1] == signing.signature(SECRET, 1700000000, BODY)


def test_sign_then_verify_round_trip_returns_the_timestamp() -> None:
    header = signing.sign(SECRET, BODY, now=1700000000)
    assert header.startswith("t=1700000000,v1=")
    assert signing.verify(SECRET, BODY, header, now=1700000010) == 1700000000


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("v1=abc", "malformed"),
        ("t=1700000000", "malformed"),
        ("t=1699990000,v1=00", "tolerance"),
    ],
)
def test_refusals_say_why(header: str | None, reason: str) -> None:
    with pytest.raises(signing.SignatureError, match=reason):
        signing.verify(SECRET, BODY, header, now=1700000000)


def test_a_changed_body_or_another_secret_does_not_verify() -> None:
    header = signing.sign(SECRET, BODY, now=1700000000)
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify(SECRET, BODY + b" ", header, now=1700000000)
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify("whsec_other", BODY, header, now=1700000000)


def test_rotation_header_with_two_signatures_verifies_under_either_secret() -> None:
    old = signing.signature("whsec_old", 1700000000, BODY)
    new = signing.signature("whsec_new", 1700000000, BODY)
    header = f"t=1700000000,v1={new},v1={old}"
    assert signing.verify("whsec_old", BODY, header, now=1700000000) == 1700000000
    assert signing.verify("whsec_new", BODY, header, now=1700000000) == 1700000000
