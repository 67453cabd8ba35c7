"""Pure rules of outgoing webhooks: which URLs are accepted, when a failed delivery is tried
again (capped exponential backoff with full jitter, honouring Retry-After), and the signature
header (`shared.signing`, with the previous secret too while a rotation overlaps)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from shared import signing

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_URL_LENGTH = 2000


def url_problem(url: str, *, allow_http_localhost: bool) -> str | None:
    """Why `url` cannot receive webhooks, or None: https only (http on localhost in dev), a
    host, no credentials in the URL (secrets belong in the signature), no fragment."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as e:
        return f"not a URL: {e}"
    problems = [
        (parts.scheme not in ("https", "http") or not host, "must be an absolute https:// URL"),
        (bool(parts.username or parts.password),
         "must not carry credentials (deliveries are signed instead)"),
        (bool(parts.fragment), "must not have a #fragment"),
        (parts.scheme == "http" and not allow_http_localhost, "must use https"),
        (parts.scheme == "http" and host not in LOCAL_HOSTS,
         "must use https (http only for localhost in development)"),
    ]  # fmt: skip
    return next((reason for failed, reason in problems if failed), None)


def backoff(
    attempt: int,
    *,
    base_s: float,
    cap_s: float,
    retry_after_s: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before the attempt after `attempt` (1-based): "full jitter" over the capped
    exponential min(cap, base * 2^(attempt-1)) (AWS Architecture Blog, "Exponential Backoff
    And Jitter"), never sooner than the receiver's Retry-After (itself capped)."""
    ceiling = min(cap_s, base_s * 2.0 ** (attempt - 1))
    delay = ceiling * rand()
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap_s))
    return delay


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (RFC 9110 10.2.3: delay-seconds or an
    HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def signature_header(
    secret: str, body: bytes, *, now: float, previous_secret: str | None = None
) -> str:
    """`t=<unix>,v1=<hmac>` and, while a rotation overlaps, a second `v1=` under the previous
    secret, so a receiver still holding it keeps verifying (`shared.signing.verify`)."""
    header = signing.sign(secret, body, now=now)
    if previous_secret:
        header += f",v1={signing.signature(previous_secret, int(now), body)}"
    return header
