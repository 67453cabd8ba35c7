"""Signed HTTP deliveries, the scheme Stripe uses (and GitHub's HMAC-SHA256 idea): the sender
puts `X-SocialOps-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` on
the request; the receiver recomputes it with the shared secret over the exact bytes it got,
compares in constant time and refuses a timestamp older than its tolerance (replays).

Used by the publishing webhook connector and by outgoing agency webhooks.

Verify on the receiving side in a few lines:

    t, v1 = dict(p.split("=", 1) for p in header.split(",")).values()
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, v1) and abs(time.time() - int(t)) < 300
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-SocialOps-Signature"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """A signature header that is missing, malformed, stale or does not match."""


def new_secret() -> str:
    """A fresh signing secret (shown once to the agency; store only what you must)."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, now: float | None = None) -> str:
    """The header value for `body`: `t=<unix>,v1=<hex>`."""
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check `header` against `body`; returns its timestamp or raises `SignatureError`.

    Several `v1=` entries are accepted (a sender signing with an old and a new secret during
    rotation); one matching is enough."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header: expected t=<unix>,v1=<hex>")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(f"timestamp {timestamp} is outside the {tolerance_s} s tolerance")
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("signature does not match the body")
    return timestamp
