"""Outgoing webhook rules: URLs, backoff with jitter, Retry-After (RFC 9110's own examples) and
the signature header checked with hmac written out as Stripe documents it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from services.calendar.webhooks.policy import backoff, retry_after, signature_header, url_problem
from shared import signing


@pytest.mark.parametrize(
    ("url", "dev", "problem"),
    [
        ("https://hooks.example.com/socialops?x=1", False, None),
        ("http://localhost:8080/hook", True, None),
        ("http://127.0.0.1/hook", True, None),
        ("http://[::1]:9000/hook", True, None),
        ("http://localhost:8080/hook", False, "must use https"),
        ("http://10.0.0.5/hook", True, "must use https (http only for localhost in development)"),
        ("ftp://example.com/x", True, "must be an absolute https:// URL"),
        ("/relative/path", True, "must be an absolute https:// URL"),
        ("https://u:p@example.com/", True, "must not carry credentials"),
        ("https://example.com/#frag", True, "must not have a #fragment"),
        ("https://example.com:99999/", True, "not a URL"),
        ("https://e.com/" + "a" * 2000, True, "at most 2000 characters"),
    ],
)
def test_url_rules(url: str, dev: bool, problem: str | None) -> None:
    found = url_problem(url, allow_http_localhost=dev)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def test_backoff_doubles_to_the_cap_with_full_jitter() -> None:
    # ceiling min(cap, base * 2^(n-1)): 10, 20, 40, ... 2560, then the 3600 cap
    top = [backoff(n, base_s=10, cap_s=3600, rand=lambda: 1.0) for n in range(1, 11)]
    assert top == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert backoff(3, base_s=10, cap_s=3600, rand=lambda: 0.25) == 10  # a quarter of 40
    assert backoff(3, base_s=10, cap_s=3600, rand=lambda: 0.0) == 0


def test_retry_after_is_a_floor_and_is_capped() -> None:
    assert backoff(1, base_s=10, cap_s=3600, retry_after_s=120, rand=lambda: 0.5) == 120
    assert backoff(9, base_s=10, cap_s=3600, retry_after_s=1, rand=lambda: 0.5) == 1280
    assert backoff(1, base_s=10, cap_s=600, retry_after_s=86_400, rand=lambda: 0.5) == 600


def test_retry_after_reads_both_forms_of_rfc_9110() -> None:
    # RFC 9110 section 10.2.3: "Retry-After: Fri, 31 Dec 1999 23:59:59 GMT" / "Retry-After: 120"
    assert retry_after("120") == 120
    now = datetime(1999, 12, 31, 23, 58, 59, tzinfo=UTC)
    assert retry_after("Fri, 31 Dec 1999 23:59:59 GMT", now=now) == 60
    assert retry_after("Fri, 31 Dec 1999 23:59:59 GMT", now=datetime(2000, 1, 1, tzinfo=UTC)) == 0
    assert retry_after(None) is None
    assert retry_after("soon") is None


def test_signature_header_is_stripes_scheme_under_both_secrets() -> None:
    body = b'{"event_type":"PostPublished"}'
    header = signature_header("whsec_new", body, now=1_700_000_000.9, previous_secret="whsec_old")
    t, v1_new, v1_old = header.split(",")
    assert t == "t=1700000000"
    for secret, part in (("whsec_new", v1_new), ("whsec_old", v1_old)):
        expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
        assert part == f"v1={expected}"
    assert signing.verify("whsec_old", body, header, now=1_700_000_010) == 1_700_000_000
    assert signature_header("whsec_new", body, now=1_700_000_000).count("v1=") == 1
