"""Issue 14 item 7: the request guard (auth before the body, body caps, requests in flight, per
agency token buckets), the bounded cache and the page cursors, on a bare ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import HTTPException

from shared import pages
from shared.auth import Agency
from shared.http_limits import AGENCY_STATE, HttpLimits, RequestGuard, TokenBucket, api_key
from shared.lru import BoundedCache

KEYS = {
    "sok_a": Agency(tenant_id="a", name="A", created_at=datetime(2026, 1, 1, tzinfo=UTC)),
    "sok_b": Agency(tenant_id="b", name="B", created_at=datetime(2026, 1, 1, tzinfo=UTC)),
}
LIMITS = HttpLimits(max_body_bytes=1000, max_upload_bytes=5000, max_in_flight=2, rate_per_s=1.0,
                    burst=100)  # fmt: skip


class App:
    """Reads the whole body and answers what it saw; on /x it first waits for `release`."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.release.set()
        self.entered = 0
        self.two_entered = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/x":
            self.entered += 1
            if self.entered >= 2:
                self.two_entered.set()
            await self.release.wait()
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        agency = scope.get("state", {}).get(AGENCY_STATE)
        body = f'{{"size": {size}, "tenant": "{agency.tenant_id if agency else ""}"}}'.encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(app: App, limits: HttpLimits = LIMITS, clock: Clock | None = None) -> httpx.AsyncClient:
    lookups: list[str] = []

    async def authenticate(key: str) -> Agency | None:
        lookups.append(key)
        return KEYS.get(key)

    guard = RequestGuard(app, authenticate=authenticate, limits=limits, clock=clock or Clock())
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://svc")
    http.lookups = lookups  # type: ignore[attr-defined]
    return http


async def chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


async def test_the_key_is_checked_before_the_app_runs() -> None:
    """Issue 14 item 7: no or a wrong key is 401 before the app (and its body parsing) runs;
    a good key reaches the app with the agency in the request state."""
    app = App()
    async with client(app) as http:
        assert (await http.post("/x", content=b"{}")).status_code == 401
        wrong = await http.post("/x", content=b"{}", headers={"X-API-Key": "sok_zzz"})
        assert wrong.status_code == 401 and "API key" in wrong.json()["detail"]
        assert wrong.headers["WWW-Authenticate"] == "Bearer"
        assert app.entered == 0
        ok = await http.post("/x", content=b"{}", headers={"Authorization": "Bearer sok_b"})
        assert ok.json() == {"size": 2, "tenant": "b"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"])
async def test_health_metrics_and_docs_need_no_key(path: str) -> None:
    """Issue 14 item 7: open routes pass unguarded (and are never rate-limited)."""
    async with client(App()) as http:
        for _ in range(10):
            assert (await http.get(path)).status_code == 200


async def test_body_caps_from_content_length_and_while_streaming() -> None:
    """Issue 14 item 7: 413 from Content-Length up front, or once a chunked body passes the
    cap; upload routes have the larger cap."""
    app = App()
    key = {"X-API-Key": "sok_a"}
    async with client(app) as http:
        declared = await http.post("/x", content=b"x" * 1001, headers=key)
        assert declared.status_code == 413 and "1000 bytes" in declared.json()["detail"]
        assert app.entered == 0
        streamed = await http.post("/x", content=chunks(3000), headers=key)
        assert streamed.status_code == 413 and "1000 bytes" in streamed.json()["detail"]
        assert (await http.post("/x", content=chunks(1000), headers=key)).json()["size"] == 1000
        upload = await http.post("/imports/csv", content=chunks(4000), headers=key)
        assert upload.json()["size"] == 4000
        too_big = await http.post("/imports/csv", content=chunks(6000), headers=key)
        assert too_big.status_code == 413 and "5000 bytes" in too_big.json()["detail"]


async def test_requests_in_flight_are_bounded() -> None:
    """Issue 14 item 7: past `max_in_flight` requests at once the answer is 503 with
    Retry-After; health checks still answer; freed slots are usable again."""
    app = App()
    app.release.clear()
    key = {"X-API-Key": "sok_a"}
    async with client(app, clock=Clock()) as http:
        held = [asyncio.create_task(http.get("/x", headers=key)) for _ in range(2)]
        await asyncio.wait_for(app.two_entered.wait(), timeout=5)
        refused = await http.get("/x", headers=key)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
        assert "in flight" in refused.json()["detail"]
        assert (await http.get("/healthz")).status_code == 200
        app.release.set()
        assert [(await t).status_code for t in held] == [200, 200]


async def test_each_agency_has_its_own_token_bucket() -> None:
    """Issue 14 item 7: past its burst an agency gets 429 with Retry-After; another agency
    does not; tokens come back with time."""
    clock = Clock()
    limits = HttpLimits(max_body_bytes=1000, max_upload_bytes=1000, max_in_flight=10,
                        rate_per_s=0.25, burst=2)  # fmt: skip
    async with client(App(), limits, clock) as http:
        a, b = {"X-API-Key": "sok_a"}, {"X-API-Key": "sok_b"}
        assert [(await http.get("/x", headers=a)).status_code for _ in range(3)] == [200, 200, 429]
        limited = await http.get("/x", headers=a)
        assert limited.headers["Retry-After"] == "4"
        assert "rate limit of 0.25 requests/s" in limited.json()["detail"]
        assert (await http.get("/x", headers=b)).status_code == 200
        clock.now += 4
        assert (await http.get("/x", headers=a)).status_code == 200


def test_token_bucket_refills_up_to_its_burst() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=2, now=0)
    assert [bucket.take(0) for _ in range(3)] == [0, 0, 0.5]
    assert bucket.take(100) == 0 and bucket.take(100) == 0 and bucket.take(100) == 0.5


def test_api_key_from_either_header() -> None:
    assert api_key({"X-API-Key": " sok_a "}) == "sok_a"
    assert api_key([(b"authorization", b"Bearer sok_b")]) == "sok_b"
    assert api_key({"authorization": "Basic xyz"}) is None


def test_bounded_cache_evicts_the_least_recently_used_and_expires() -> None:
    """Issue 14 item 7: caches of key lookups hold at most their size."""
    clock = Clock()
    cache: BoundedCache[str, int] = BoundedCache(3, ttl_s=10, clock=clock)
    for i in range(3):
        cache.put(f"k{i}", i)
    assert cache.get("k0") == 0  # k0 used: k1 is now the least recently used
    cache.put("k3", 3)
    assert len(cache) == 3 and cache.get("k1") is None and cache.get("k0") == 0
    clock.now += 10
    assert cache.get("k0") is None


def test_cursors_round_trip_and_refuse_forgeries() -> None:
    """Issue 14 item 10: a cursor is opaque; anything but one made for this list is a 422."""
    cursor = pages.encode_cursor("brand 050", "cl-1")
    assert pages.decode_cursor(cursor, 2) == ["brand 050", "cl-1"]
    assert pages.decode_cursor(None, 2) is None
    for bad in ("not-a-cursor", pages.encode_cursor("only one"), "e30"):
        with pytest.raises(HTTPException) as e:
            pages.decode_cursor(bad, 2)
        assert e.value.status_code == 422
