"""The guard in front of every service's routes (a pure ASGI middleware): the API key is checked
before a byte of the body is read, bodies are capped (413) from Content-Length and while they
stream, requests in flight per process are bounded (503), each key has a token bucket (429)
and the key's role and client restriction are enforced (403, `shared.access`). Health, metrics
and docs routes, and the token-checked feeds (`OPEN_PREFIXES`), pass unguarded.
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

from shared import access
from shared.auth import Agency, Principal
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
PRINCIPAL_STATE = "principal"  # request.state.principal: the key's id, role and clients
MISSING_KEY = "missing or invalid API key (send it as the X-API-Key header)"
MAX_TRACKED_KEYS = 100_000

Refusal = tuple[int, str, Mapping[str, str]]  # status, detail, headers
# An Agency alone (callers from before roles) acts as an admin key for every client.
Authenticate = Callable[[str], Awaitable[Principal | Agency | None]]


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
        self.buckets: BoundedCache[str, TokenBucket] = BoundedCache(MAX_TRACKED_KEYS)

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
        found = await self.authenticate(key) if key else None
        if found is None:
            await _answer(send, 401, MISSING_KEY, {"www-authenticate": "Bearer"})
            return
        principal = (
            Principal(agency=found, key_id=found.tenant_id) if isinstance(found, Agency) else found
        )
        cap = self.limits.body_cap(scope["path"])
        refused = self._refusal(principal, scope, cap)
        if refused is None and principal.clients is not None:
            refused, receive = await _client_refusal(principal, scope, receive, cap)
        if refused is not None:
            await _answer(send, *refused)
            return
        state = scope.setdefault("state", {})
        state[AGENCY_STATE], state[PRINCIPAL_STATE] = principal.agency, principal
        await self._capped(scope, receive, send, cap)

    def _refusal(self, principal: Principal, scope: Scope, cap: int) -> Refusal | None:
        """Expired key (401), rate limit (429), role (403), declared body too large (413)."""
        if principal.expires_at is not None and principal.expired():
            detail = f"API key expired at {principal.expires_at.isoformat()}; use a current key"
            return 401, detail, {"www-authenticate": "Bearer"}
        wait = self._take_token(principal.key_id)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            detail = (
                f"rate limit of {self.limits.rate_per_s:g} requests/s per key exceeded; "
                f"retry after {retry}s"
            )
            return 429, detail, {"retry-after": str(retry)}
        refusal = access.role_refusal(principal, scope["method"], scope["path"])
        if refusal is not None:
            return 403, refusal, {}
        declared = _content_length(scope["headers"])
        if declared is not None and declared > cap:
            return 413, too_large(cap), {}
        return None

    def _take_token(self, key_id: str) -> float:
        now = self.clock()
        bucket = self.buckets.get(key_id)
        if bucket is None:
            bucket = TokenBucket(self.limits.rate_per_s, self.limits.burst, now)
            self.buckets.put(key_id, bucket)
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


async def _client_refusal(
    principal: Principal, scope: Scope, receive: Receive, cap: int
) -> tuple[Refusal | None, Receive]:
    """For a key restricted to some clients: 403 unless the request names only its clients
    (path, `client_id` query parameter, top-level `client_id` of a JSON body). The body is
    read within `cap` and handed to the app again by the returned `receive`."""
    named = access.clients_in_path(scope["path"])
    named += access.clients_in_query(scope.get("query_string", b""))
    if scope["method"].upper() not in access.READ_METHODS:
        body = await _read_body(receive, cap)
        if body is None:
            return (413, too_large(cap), {}), receive
        named += access.client_in_body(body)
        receive = _replay(body, receive)
    refusal = access.client_refusal(principal, named)
    return ((403, refusal, {}) if refusal is not None else None), receive


async def _read_body(receive: Receive, cap: int) -> bytes | None:
    """The whole request body, or None once it passes `cap` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that delivers `body` once, then whatever the client sends next."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


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
