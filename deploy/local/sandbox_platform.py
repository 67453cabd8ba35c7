"""A sandbox social platform: what the demo, the tests and the benchmark publish to.

It behaves like a real platform's publishing API, in memory, on plain asyncio streams (HTTP/1.1
with keep-alive; no framework, so it is never the slowest part of a benchmark):

    POST /v1/{platform}/posts      headers: Idempotency-Key (required), X-Account (the account)
                                   body: JSON with at least "caption"

answered in this order:

1. a key seen before with a created post: 200 and the same post (dedupe; nothing created);
2. past the account's rate limit (token bucket, `rate_per_s` per account, `burst`): 429 with
   `Retry-After` (whole seconds, at least 1);
3. an injected server error at `fail_rate` (0..1): 503;
4. a caption longer than the platform allows: 422 with the reason (limits below);
5. else 201 `{"id", "platform_post_id", "url"}`.

Caption limits (characters, each platform's documented maximum): X 280, Instagram 2,200,
TikTok 2,200, LinkedIn 3,000, YouTube 5,000 (description), Facebook 63,206, Meta/Google ads
2,200 (primary text). A caption starting with `#permanent-fail` is refused with 400 whatever
its length (for demos).

Control (no key needed: a local test double):

    GET  /_log              {"keys": {key: {"requests", "accepted", "created"}}, totals,
                             "statuses": {"201": n, "429": n, ...}}
    GET  /_log/{key}        one key's counts
    GET  /_posts            {key: created_at (unix seconds)} of every post made
    POST /_config           {"fail_rate": 0.2, "rate_per_s": 50, "burst": 50} (any subset)
    POST /_reset            forget every post and count
    GET  /healthz

`requests` counts every request with the key, `accepted` every 2xx answer (a replay too),
`created` the posts made (never above 1 for a key). Run: `python -m deploy.local.sandbox_platform
--port 8199 [--fail-rate 0.1] [--rate-per-s 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

CAPTION_LIMITS = {
    "x": 280,
    "instagram": 2200,
    "tiktok": 2200,
    "linkedin": 3000,
    "youtube": 5000,
    "facebook": 63206,
    "meta_ads": 2200,
    "google_ads": 2200,
}
MAX_BODY = 1_000_000


@dataclass
class Counts:
    requests: int = 0
    accepted: int = 0
    created: int = 0


@dataclass
class Sandbox:
    """The platform's state: posts by idempotency key, counts per key, buckets per account."""

    fail_rate: float = 0.0
    rate_per_s: float = 1000.0
    burst: float = 1000.0
    seed: int | None = None
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, Counts] = field(default_factory=dict)
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, at
    statuses: dict[str, int] = field(default_factory=dict)  # answers to publish requests

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)  # noqa: S311 - failure injection, not crypto

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        if "fail_rate" in body:
            self.fail_rate = min(1.0, max(0.0, float(body["fail_rate"])))
        if "rate_per_s" in body:
            self.rate_per_s = max(0.001, float(body["rate_per_s"]))
        if "burst" in body:
            self.burst = max(1.0, float(body["burst"]))
        self.buckets.clear()
        return {"fail_rate": self.fail_rate, "rate_per_s": self.rate_per_s, "burst": self.burst}

    def _take(self, account: str) -> float:
        """Take a token from the account's bucket: 0 when allowed, else seconds to wait."""
        now = time.monotonic()
        tokens, at = self.buckets.get(account, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
        if tokens >= 1:
            self.buckets[account] = (tokens - 1, now)
            return 0.0
        self.buckets[account] = (tokens, now)
        return (1 - tokens) / self.rate_per_s

    def publish(
        self, platform: str, key: str | None, account: str | None, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        answer = self._publish(platform, key, account, raw)
        self.statuses[str(answer[0])] = self.statuses.get(str(answer[0]), 0) + 1
        return answer

    def _publish(  # noqa: PLR0911 - one answer per rule, in the documented order
        self, platform: str, key: str | None, account: str | None, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not key:
            return 400, {"error": "Idempotency-Key header is required"}, {}
        counts = self.counts.setdefault(key, Counts())
        counts.requests += 1
        if key in self.posts:
            counts.accepted += 1
            return 200, self.posts[key], {"Idempotent-Replayed": "true"}
        if platform not in CAPTION_LIMITS:
            return 404, {"error": f"unknown platform '{platform}'"}, {}
        wait = self._take(account or "-")
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            error = {"error": f"rate limit of {self.rate_per_s:g}/s for account {account}"}
            return 429, error, {"Retry-After": str(seconds)}
        if self.fail_rate and self.random.random() < self.fail_rate:
            return 503, {"error": "sandbox: injected server error"}, {}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"error": "body is not JSON"}, {}
        caption = str(body.get("caption") or "")
        if caption.startswith("#permanent-fail"):
            return 400, {"error": "caption refused by the platform's content policy"}, {}
        limit = CAPTION_LIMITS[platform]
        if len(caption) > limit:
            reason = f"caption is {len(caption)} characters; {platform} allows {limit}"
            return 422, {"error": reason}, {}
        number = len(self.posts) + 1
        post_id = f"{platform}_{number:08d}"
        post = {
            "id": post_id,
            "platform_post_id": post_id,
            "url": f"https://sandbox.socialops.local/{platform}/{account}/{post_id}",
            "account": account,
            "created_at": time.time(),
        }
        self.posts[key] = post
        counts.accepted += 1
        counts.created += 1
        return 201, post, {}

    def log(self) -> dict[str, Any]:
        keys = {k: vars(c) for k, c in self.counts.items()}
        return {
            "keys": keys,
            "requests": sum(c.requests for c in self.counts.values()),
            "accepted": sum(c.accepted for c in self.counts.values()),
            "created": len(self.posts),
            "statuses": dict(self.statuses),
        }

    def route(  # noqa: PLR0911 - a routing table
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        if method == "POST" and len(parts) == 3 and parts[0] == "v1" and parts[2] == "posts":
            key = headers.get("idempotency-key")
            return self.publish(parts[1], key, headers.get("x-account"), body)
        if method == "GET" and parts == ["healthz"]:
            return 200, {"status": "ok"}, {}
        if method == "GET" and parts == ["_log"]:
            return 200, self.log(), {}
        if method == "GET" and parts == ["_posts"]:  # when each post was created (unix s)
            return 200, {k: p["created_at"] for k, p in self.posts.items()}, {}
        if method == "GET" and len(parts) == 2 and parts[0] == "_log":
            return 200, vars(self.counts.get(parts[1], Counts())), {}
        if method == "POST" and parts == ["_config"]:
            return 200, self.configure(json.loads(body or b"{}")), {}
        if method == "POST" and parts == ["_reset"]:
            self.posts.clear()
            self.counts.clear()
            self.buckets.clear()
            self.statuses.clear()
            return 200, {"reset": True}, {}
        return 404, {"error": f"no route {method} {path}"}, {}


REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    413: "Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


class Routes(Protocol):
    """What the server asks for each request (the sandbox, or a test's own receiver)."""

    def route(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]: ...


async def _serve_connection(
    sandbox: Routes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY:
                extra: dict[str, str] = {}
                status, payload = 413, {"error": "body too large"}
                body = b""
            else:
                body = await reader.readexactly(length) if length else b""
                try:
                    status, payload, extra = sandbox.route(method, path, headers, body)
                except (ValueError, TypeError) as e:
                    status, payload, extra = 400, {"error": str(e)}, {}
            data = json.dumps(payload).encode()
            out = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}",
                   "Content-Type: application/json", f"Content-Length: {len(data)}"]  # fmt: skip
            out += [f"{k}: {v}" for k, v in extra.items()]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def start(sandbox: Routes, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Serve `sandbox` (or any `Routes`) on host:port (0: any free port)."""
    return await asyncio.start_server(
        lambda r, w: _serve_connection(sandbox, r, w), host, port, backlog=1024
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SocialOps sandbox social platform")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--rate-per-s", type=float, default=1000.0)
    parser.add_argument("--burst", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    sandbox = Sandbox(
        fail_rate=args.fail_rate,
        rate_per_s=args.rate_per_s,
        burst=args.burst if args.burst is not None else args.rate_per_s,
        seed=args.seed,
    )

    async def run() -> None:
        server = await start(sandbox, args.host, args.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"sandbox platform on http://{args.host}:{args.port}", flush=True)
        async with server:
            await stop.wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
