"""The HTTP exchange both HTTP connectors share: send a signed JSON post with its idempotency
key, then read the answer as `Published`, `TransientError` or `PermanentError`."""

from __future__ import annotations

import json
from dataclasses import asdict
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from services.calendar.publishing.connectors import (
    PermanentError,
    Publication,
    Published,
    TransientError,
)
from shared import signing
from shared.envelope import utcnow

# Answers worth trying again: timeouts, "too early", rate limits and server errors.
TRANSIENT_STATUSES = frozenset({408, 425, 429})


def body_of(publication: Publication) -> bytes:
    """The post as the JSON a receiver gets (stable key order, so signatures are reproducible)."""
    data: dict[str, Any] = asdict(publication)
    data["platform"] = publication.platform.value
    data["scheduled_at"] = publication.scheduled_at.isoformat()
    data["account"] = publication.account
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "reason"):
            if data.get(key):
                return f"{response.status_code}: {str(data[key])[:1000]}"
    return f"{response.status_code}: {response.text[:500] or response.reason_phrase}"


async def send(
    http: httpx.AsyncClient,
    url: str,
    publication: Publication,
    *,
    secret: str | None = None,
    headers: dict[str, str] | None = None,
) -> Published:
    """POST the publication to `url` (signed when `secret` is set) and classify the answer."""
    body = body_of(publication)
    sent = {"Content-Type": "application/json", "Idempotency-Key": publication.post_id,
            "X-Account": publication.account, **(headers or {})}  # fmt: skip
    if secret:
        sent[signing.SIGNATURE_HEADER] = signing.sign(secret, body)
    try:
        response = await http.post(url, content=body, headers=sent)
    except httpx.TimeoutException as e:
        raise TransientError(f"timeout: {type(e).__name__}") from e
    except httpx.HTTPError as e:
        raise TransientError(f"connection failed: {type(e).__name__}: {e}") from e
    status = response.status_code
    if 200 <= status < 300:
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            platform_id = data.get("platform_post_id") or data.get("id")
            if platform_id:
                url_ = data.get("url")
                return Published(str(platform_id)[:200], str(url_)[:2000] if url_ else None)
        raise PermanentError(f"{status} without a platform post id (platform_post_id or id)")
    if status in TRANSIENT_STATUSES or status >= 500:
        raise TransientError(_reason(response), retry_after(response.headers.get("Retry-After")))
    raise PermanentError(_reason(response))
