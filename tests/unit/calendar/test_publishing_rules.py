"""Publishing rules without I/O: backoff (AWS "full jitter": uniform in [0, min(cap, base*2^n)]),
Retry-After in both RFC 9110 forms, how the HTTP connectors read answers (from a receiver on a
local port; signature checked with an HMAC written out here), and the sandbox platform's rules
(dedupe, per-account limit, caption limits)."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from deploy.local.sandbox_platform import Sandbox, start
from services.calendar.publishing import lifecycle
from services.calendar.publishing.connectors import (
    PermanentError,
    Publication,
    Published,
    TransientError,
)
from services.calendar.publishing.connectors.http import retry_after, send
from shared.events import Platform

PUB = Publication(
    post_id="po-1",
    tenant_id="t-1",
    client_id="cl-1",
    platform=Platform.X,
    scheduled_at=datetime(2026, 12, 1, 8, tzinfo=UTC),
    caption="Fresh rye at 9",
)


class Highest(random.Random):
    """A random source at the top of every range: the backoff's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_ceiling_doubles_until_the_cap() -> None:
    # base 1 s, cap 300 s: ceilings 1, 2, 4, 8, ..., 256, then 300 (2^9 = 512 > 300)
    ceilings = [lifecycle.backoff_s(n, base_s=1, max_s=300, rng=Highest()) for n in range(1, 12)]
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_backoff_is_jittered_below_the_ceiling_and_honours_retry_after() -> None:
    rng = random.Random(1)
    delays = [lifecycle.backoff_s(4, base_s=1, max_s=300, rng=rng) for _ in range(200)]
    assert all(0 <= d <= 8 for d in delays)
    assert len({round(d, 6) for d in delays}) > 150  # spread out, not one value
    assert lifecycle.backoff_s(1, base_s=1, max_s=300, retry_after_s=30, rng=rng) == 30


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("120") == 120.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert retry_after("Fri, 31 Dec 1999 23:59:59 GMT") == 0.0  # a date in the past: now


Answer = tuple[int, dict[str, Any], dict[str, str]]


class Receiver:
    """A receiver on a local port answering every request with `answer(headers, body)`."""

    def __init__(self, answer: Callable[[dict[str, str], bytes], Answer]) -> None:
        self.answer = answer

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        return self.answer(headers, body)


@asynccontextmanager
async def receiving(
    answer: Callable[[dict[str, str], bytes], Answer],
) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    server = await start(Receiver(answer))
    port = server.sockets[0].getsockname()[1]
    try:
        async with server, aiohttp.ClientSession() as http:
            yield http, f"http://127.0.0.1:{port}/p"
    finally:
        server.close()


async def test_a_2xx_carries_the_platform_id_and_the_request_is_signed() -> None:
    seen: dict[str, Any] = {}

    def answer(headers: dict[str, str], body: bytes) -> Answer:
        seen["headers"], seen["body"] = headers, body
        return 201, {"platform_post_id": "zap-9", "url": "https://z/9"}, {}

    async with receiving(answer) as (http, url):
        result = await send(http, url, PUB, secret="whsec_test")
    assert result == Published("zap-9", "https://z/9")
    headers = seen["headers"]  # names as the receiver read them: lower case
    assert headers["idempotency-key"] == "po-1"
    t, v1 = (part.split("=", 1)[1] for part in headers["x-socialops-signature"].split(","))
    body = seen["body"]
    assert isinstance(body, bytes)
    expected = hmac.new(b"whsec_test", t.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert v1 == expected
    assert json.loads(body)["caption"] == "Fresh rye at 9"


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry"),
    [
        (429, {"Retry-After": "7"}, TransientError, 7.0),
        (503, {}, TransientError, None),
        (408, {}, TransientError, None),
        (422, {}, PermanentError, None),
        (401, {}, PermanentError, None),
    ],
)
async def test_answers_are_transient_or_permanent(
    status: int, headers: dict[str, str], error: type[Exception], retry: float | None
) -> None:
    async with receiving(lambda _h, _b: (status, {"error": "nope"}, headers)) as (http, url):
        with pytest.raises(error) as caught:
            await send(http, url, PUB)
    assert str(caught.value) == f"{status}: nope"
    if isinstance(caught.value, TransientError):
        assert caught.value.retry_after_s == retry


async def test_a_2xx_without_an_id_and_a_dead_host() -> None:
    async with receiving(lambda _h, _b: (200, {}, {})) as (http, url):
        with pytest.raises(PermanentError, match="without a platform post id"):
            await send(http, url, PUB)

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TransientError, match="connection failed"):
            await send(http, f"http://127.0.0.1:{port}/p", PUB)


def test_sandbox_dedupes_limits_per_account_and_checks_captions() -> None:
    sandbox = Sandbox(rate_per_s=0.001, burst=2)
    body = json.dumps({"caption": "hi"}).encode()
    first = sandbox.publish("x", "k1", "acct", body)
    assert first[0] == 201
    assert sandbox.publish("x", "k1", "acct", body)[:2] == (200, first[1])  # same post again
    assert sandbox.publish("x", "k2", "acct", body)[0] == 201
    limited = sandbox.publish("x", "k3", "acct", body)
    assert limited[0] == 429 and int(limited[2]["Retry-After"]) >= 1
    assert sandbox.publish("x", "k3", "other", body)[0] == 201  # another account's bucket
    assert sandbox.log()["keys"]["k1"] == {"requests": 2, "accepted": 2, "created": 1}

    roomy = Sandbox()
    tweet = json.dumps({"caption": "a" * 281}).encode()
    assert roomy.publish("x", "t", "a", tweet)[:2] == (
        422,
        {"error": "caption is 281 characters; x allows 280"},
    )
    assert roomy.publish("instagram", "i", "a", tweet)[0] == 201  # 2,200 there
    assert roomy.publish("x", None, "a", tweet)[0] == 400
