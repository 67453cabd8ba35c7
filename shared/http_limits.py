"""The guard in front of every service's routes (a pure ASGI middleware): the API key is checked
before a byte of the body is read, bodies are capped (413) from Content-Length and while they
stream, requests in flight per process are bounded (503) and each agency has a token bucket
(429). Health, metrics and docs routes, and the token-checked feeds (`OPEN_PREFIXES`), pass
unguarded.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Agency
from shared.lru import BoundedCache
from shared.settings import ServiceSettings

OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"}
    | {"/asyncapi", "/asyncapi.json"}  # event documentation (issue 12), like /docs
)
# Routes that check a credential of their own: a calendar app subscribing to an iCalendar
# feed cannot send headers, so the feed's unguessable, revocable token is in its path.
OPEN_PREFIXES = ("/feeds/",)
UPLOAD_PATHS = ("/imports/",)  # file uploads: the larger body cap
AGENCY_STATE = "agency"  # request.state.agency, set once the key is checked
MISSING_KEY = "missing or invalid API key (send it as the X-API-Key header)"
MAX_TRACKED_TENANTS = 100_000

Authenticate = Callable[[str], Awaitable[Agency | None]]


def api_key(headers: Iterable[tuple[bytes, bytes]] | Mapping[str, str]) -> str | None:
    """The key sent as `X-API-Key` or `Authorization: Bearer`, if any."""
    pairs = (
        headers.items()
        if isinstance(headers, Mapping)
        else ((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers)
    )
    key = bearer = None
    for name, value in pairs:
        lowered = name.lower()
        if lowered == "x-api-key":
            key = value.strip()
        elif lowered == "authorization" and value[:7].lower() == "bearer ":
            bearer = value[7:].strip()
    return key or bearer or None


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int
    max_upload_bytes: int
    max_in_flight: int
    rate_per_s: float
    burst: int
    upload_paths: tuple[str, ...] = UPLOAD_PATHS

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> HttpLimits:
        return cls(
            max_body_bytes=settings.max_body_bytes,
            max_upload_bytes=settings.max_upload_bytes,
            max_in_flight=settings.max_in_flight_requests,
            rate_per_s=settings.rate_limit_per_s,
            burst=settings.rate_limit_burst,
        )

    def body_cap(self, path: str) -> int:
        return self.max_upload_bytes if path.startswith(self.upload_paths) else self.max_body_bytes


class TokenBucket:
    """`burst` tokens, refilled at `rate_per_s`; each request takes one."""

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate_per_s, self.burst = rate_per_s, burst
        self.tokens, self.updated = float(burst), now

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate_per_s


class BodyTooLargeError(HTTPException):
    """Raised from `receive` once a streamed body passes its cap; answered 413."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, detail=too_large(cap))


def too_large(cap: int) -> str:
    return f"request body larger than {cap} bytes, the limit of this route; send less per request"


class RequestGuard:
    """Pure ASGI middleware: authenticate, rate-limit and bound each request before the app
    reads its body (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: Authenticate,
        limits: HttpLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.limits = limits
        self.clock = clock
        self.in_flight = 0
        self.buckets: BoundedCache[str, TokenBucket] = BoundedCache(MAX_TRACKED_TENANTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in OPEN_PATHS
            or scope["path"].startswith(OPEN_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limits.max_in_flight:
            detail = f"more than {self.limits.max_in_flight} requests in flight; retry later"
            await _answer(send, 503, detail, {"retry-after": "1"})
            return
        self.in_flight += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = api_key(scope["headers"])
        agency = await self.authenticate(key) if key else None
        if agency is None:
            await _answer(send, 401, MISSING_KEY, {"www-authenticate": "Bearer"})
            return
        wait = self._take_token(agency.tenant_id)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            detail = (
                f"rate limit of {self.limits.rate_per_s:g} requests/s per agency exceeded; "
                f"retry after {retry}s"
            )
            await _answer(send, 429, detail, {"retry-after": str(retry)})
            return
        cap = self.limits.body_cap(scope["path"])
        declared = _content_length(scope["headers"])
        if declared is not None and declared > cap:
            await _answer(send, 413, too_large(cap))
            return
        scope.setdefault("state", {})[AGENCY_STATE] = agency
        await self._capped(scope, receive, send, cap)

    def _take_token(self, tenant_id: str) -> float:
        now = self.clock()
        bucket = self.buckets.get(tenant_id)
        if bucket is None:
            bucket = TokenBucket(self.limits.rate_per_s, self.limits.burst, now)
            self.buckets.put(tenant_id, bucket)
        return bucket.take(now)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """Run the app with a `receive` that refuses to deliver more than `cap` body bytes."""
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLargeError(cap)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except BodyTooLargeError:  # the app did not turn it into a response itself
            if started:
                raise
            await _answer(send, 413, too_large(cap))


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(
    send: Send, status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
