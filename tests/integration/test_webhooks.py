"""Outgoing webhooks (issue 9 item 5) on the real broker and database, delivered over real HTTP
to a receiver in this test that checks each signature the way Stripe documents it
(HMAC-SHA256 of "<t>.<raw body>", hex, in `t=...,v1=...`), computed here with hmac directly.

A receiver sees every lifecycle event once (retries and Kafka replays included), failing
deliveries are logged and retried, N failures in a row disable the subscription with one
`WebhookSubscriptionDisabled`, a secret rotation signs with both secrets for a while, and a
delivery claimed by a sender that died goes out after its lease."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.calendar.webhooks.settings import WebhookSettings
from shared import topics
from shared.events import (
    PostDue,
    PostFailed,
    PostPaused,
    PostPublished,
    PostResumed,
    WebhookSubscriptionDisabled,
)
from tests.integration.conftest import Platform, eventually

LIFECYCLE = [
    "PostScheduled",
    "PostRescheduled",
    "PostCancelled",
    "PostDue",
    "PostPublished",
    "PostFailed",
    "PostPaused",
    "PostResumed",
]
T0 = datetime(2027, 1, 12, 9, tzinfo=UTC)


def stripe_verify(secret: str, body: bytes, header: str) -> bool:
    """Stripe's documented check, written out: split t= and every v1=, HMAC-SHA256 over
    "<t>.<body>" with the secret, compare in constant time, and a timestamp within 5 minutes."""
    parts = [p.split("=", 1) for p in header.split(",")]
    t = next(v for k, v in parts if k == "t")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    signatures = [v for k, v in parts if k == "v1"]
    fresh = abs(time.time() - int(t)) < 300
    return fresh and any(hmac.compare_digest(expected, s) for s in signatures)


@dataclass
class Receiver:
    """An agency's endpoint: answers `fail_first` requests per event with 500, then 200."""

    secrets: list[str] = field(default_factory=list)
    fail_first: dict[str, int] = field(default_factory=dict)
    always_fail: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        header = request.headers.get("x-socialops-signature", "")
        event = json.loads(body)
        seen = {
            "event": event,
            "header": header,
            "event_id_header": request.headers.get("x-socialops-event-id"),
            "verified": [stripe_verify(s, body, header) for s in self.secrets],
        }
        self.requests.append(seen)
        if not any(seen["verified"]):
            return Response(status_code=401)
        event_id = event["event_id"]
        if self.always_fail or self.fail_first.get(event_id, 0) > 0:
            self.fail_first[event_id] = self.fail_first.get(event_id, 0) - 1
            return Response(status_code=500)
        if any(a["event"]["event_id"] == event_id for a in self.accepted):
            return Response(status_code=200)  # a receiver dedupes by the event id header
        self.accepted.append(seen)
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def serve(receiver: Receiver) -> AsyncIterator[Receiver]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        receiver.port = s.getsockname()[1]
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=receiver.port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, result=server.started), timeout=10)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task


def fast(platform: Platform, **overrides: Any) -> WebhookSettings:
    """Test timings: retries in tens of milliseconds."""
    timings = {"base_delay_s": 0.05, "max_delay_s": 0.2, "poll_interval_s": 0.05, "timeout_s": 5}
    settings = WebhookSettings(**timings | overrides)
    webhooks = platform.apps["calendar"].state.webhooks
    webhooks.settings = settings
    webhooks.sender.settings = settings
    return settings


async def subscribe(
    platform: Platform, headers: dict[str, str], url: str, event_types: list[str]
) -> dict[str, Any]:
    r = await platform.http["calendar"].post(
        "/webhooks", json={"url": url, "event_types": event_types}, headers=headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert body["secret"].startswith("whsec_")
    return body


def lifecycle_event(
    kind: type[Any], tenant: str, client_id: str, post_id: str, **extra: Any
) -> Any:
    return kind.new(producer="calendar", tenant_id=tenant, client_id=client_id,
                    post_id=post_id, platform="instagram", scheduled_at=T0, **extra)  # fmt: skip


async def test_a_receiver_verifies_every_lifecycle_event_once(platform: Platform) -> None:
    fast(platform)
    tenant, headers = await platform.new_agency("Hooked")
    _, other_headers = await platform.new_agency("Other")
    cal = platform.http["calendar"]
    async with serve(Receiver()) as receiver, serve(Receiver()) as other_receiver:
        sub = await subscribe(platform, headers, receiver.url, LIFECYCLE)
        receiver.secrets.append(sub["secret"])
        other_sub = await subscribe(platform, other_headers, other_receiver.url, LIFECYCLE)
        other_receiver.secrets.append(other_sub["secret"])
        # the calendar's own events: scheduled (twice), rescheduled, cancelled
        client_id = (await cal.post("/clients", json={"name": "Bakery"}, headers=headers)).json()[
            "client_id"
        ]
        posts = []
        for _ in range(2):
            new_post = {"platform": "instagram", "scheduled_at": "2027-01-12T09:00:00Z"}
            r = await cal.post(f"/clients/{client_id}/posts", headers=headers, json=new_post)
            assert r.status_code == 201, r.text
            posts.append(r.json())
        r = await cal.post(f"/clients/{client_id}/posts/{posts[0]['post_id']}/reschedule",
                           json={"version": 1, "scheduled_at": "2027-01-13T09:00:00Z"},
                           headers=headers)  # fmt: skip
        assert r.status_code == 200, r.text
        r = await cal.post(f"/clients/{client_id}/posts/{posts[1]['post_id']}/cancel",
                           json={"version": 1, "reason": "duplicate"}, headers=headers)  # fmt: skip
        assert r.status_code == 200, r.text
        # the publisher's events, as the dispatcher stages them
        post_id = posts[0]["post_id"]
        published = lifecycle_event(
            PostPublished, tenant, client_id, post_id, platform_post_id="1790001",
            published_at=T0, attempts=2, url="https://instagram.example/p/1790001",
        )  # fmt: skip
        failed = lifecycle_event(PostFailed, tenant, client_id, post_id, reason="HTTP 503",
                                 attempts=1, permanent=False, retry_at=T0)  # fmt: skip
        receiver.fail_first[published.event_id] = 2  # the receiver is down twice for this one
        for event in (
            lifecycle_event(PostDue, tenant, client_id, post_id),
            failed,
            published,
            lifecycle_event(PostPaused, tenant, client_id, "p-x", reason="budget"),
            lifecycle_event(PostResumed, tenant, client_id, "p-x"),
        ):
            await platform.send(topics.POST_LIFECYCLE, event)
        await platform.send(topics.POST_LIFECYCLE, published)  # Kafka redelivers it

        async def all_accepted() -> bool:
            return len(receiver.accepted) >= 9

        await eventually(all_accepted, timeout=30)
        await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive meanwhile

    kinds = Counter(a["event"]["event_type"] for a in receiver.accepted)
    assert kinds == Counter({"PostScheduled": 2, **dict.fromkeys(LIFECYCLE[1:], 1)})
    ids = [a["event"]["event_id"] for a in receiver.accepted]
    assert len(set(ids)) == len(ids) == 9
    assert all(a["verified"] == [True] for a in receiver.requests)
    assert all(a["event_id_header"] == a["event"]["event_id"] for a in receiver.requests)
    assert all(a["event"]["tenant_id"] == tenant for a in receiver.requests)
    # three requests for the published event: two 500s, then accepted; nothing else repeated
    wire = Counter(a["event"]["event_id"] for a in receiver.requests)
    assert wire[published.event_id] == 3 and sum(wire.values()) == 11
    assert other_receiver.requests == []  # another agency's subscription sees none of it

    # the delivery log shows the attempts of the retried delivery
    r = await cal.get(f"/webhooks/{sub['subscription_id']}/deliveries", headers=headers)
    assert r.status_code == 200, r.text
    log = {d["event_id"]: d for d in r.json()}
    assert len(log) == 9 and {d["status"] for d in log.values()} == {"delivered"}
    retried = log[published.event_id]
    assert [a["status_code"] for a in retried["attempts"]] == [500, 500, 204]
    assert retried["attempts"][0]["error"] == "HTTP 500"
    times = [datetime.fromisoformat(a["at"]) for a in retried["attempts"]]
    assert times == sorted(times)
    # another agency cannot read it
    r = await cal.get(f"/webhooks/{sub['subscription_id']}/deliveries", headers=other_headers)
    assert r.status_code == 404


async def test_failing_endpoint_is_disabled_once_then_enabled_and_caught_up(
    platform: Platform,
) -> None:
    fast(platform, disable_after=3, max_attempts=2, concurrency=1)
    tenant, headers = await platform.new_agency()
    cal = platform.http["calendar"]
    async with serve(Receiver(always_fail=True)) as receiver:
        sub = await subscribe(platform, headers, receiver.url, ["PostDue"])
        receiver.secrets.append(sub["secret"])
        sub_id = sub["subscription_id"]
        events = [lifecycle_event(PostDue, tenant, "cl-1", f"p-{i}") for i in range(4)]
        for event in events[:2]:
            await platform.send(topics.POST_LIFECYCLE, event)

        async def disabled() -> dict[str, Any] | None:
            r = await cal.get(f"/webhooks/{sub_id}", headers=headers)
            body: dict[str, Any] = r.json()
            return body if body["status"] == "disabled" else None

        state = await eventually(disabled, timeout=20)
        assert state["consecutive_failures"] == 3
        assert "3 failed attempts in a row; last: HTTP 500" in state["disabled_reason"]
        assert "secret" not in state and state["secret_hint"] == sub["secret"][:10]
        # events while disabled are not queued; held ones wait
        for event in events[2:]:
            await platform.send(topics.POST_LIFECYCLE, event)
        [record] = await platform.read_topic(topics.WEBHOOKS, expect=1)
        announced = WebhookSubscriptionDisabled.model_validate_json(record.value)
        assert announced.subscription_id == sub_id and announced.tenant_id == tenant
        assert announced.consecutive_failures == 3 and announced.last_error == "HTTP 500"
        await asyncio.sleep(0.5)
        assert len(await platform.read_topic(topics.WEBHOOKS, expect=2, timeout=1)) == 1

        # the log: one delivery used both attempts (failed), one is suspended after one
        r = await cal.get(f"/webhooks/{sub_id}/deliveries", params={"limit": 1}, headers=headers)
        assert r.status_code == 200 and len(r.json()) == 1
        cursor = r.headers["X-Next-Cursor"]
        r2 = await cal.get(f"/webhooks/{sub_id}/deliveries", params={"limit": 1, "cursor": cursor},
                           headers=headers)  # fmt: skip
        page = r.json() + r2.json()
        assert {d["event_id"] for d in page} == {events[0].event_id, events[1].event_id}
        assert sorted(d["status"] for d in page) == ["failed", "suspended"]
        assert sorted(len(d["attempts"]) for d in page) == [1, 2]
        assert all(a["status_code"] == 500 for d in page for a in d["attempts"])
        r3 = await cal.get(f"/webhooks/{sub_id}/deliveries", params={"cursor": "bad"},
                           headers=headers)  # fmt: skip
        assert r3.status_code == 422 and r3.json()["detail"][0]["loc"] == ["query", "cursor"]

        # the endpoint heals; enabling sends what was held
        receiver.always_fail = False
        r = await cal.post(f"/webhooks/{sub_id}/enable", headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "active"

        async def caught_up() -> bool:
            return len(receiver.accepted) == 1

        await eventually(caught_up)
        suspended = next(d for d in page if d["status"] == "suspended")
        assert receiver.accepted[0]["event"]["event_id"] == suspended["event_id"]


async def test_rotated_secret_signs_alongside_the_old_one(platform: Platform) -> None:
    fast(platform)
    tenant, headers = await platform.new_agency()
    cal = platform.http["calendar"]
    async with serve(Receiver()) as receiver:
        sub = await subscribe(platform, headers, receiver.url, ["PostDue"])
        old = sub["secret"]
        r = await cal.post(f"/webhooks/{sub['subscription_id']}/rotate-secret", headers=headers)
        assert r.status_code == 200, r.text
        new = r.json()["secret"]
        assert new != old and new.startswith("whsec_")
        until = datetime.fromisoformat(r.json()["previous_secret_valid_until"])
        assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
        listed = (await cal.get("/webhooks", headers=headers)).json()
        assert [s["secret_hint"] for s in listed] == [new[:10]] and "secret" not in listed[0]
        receiver.secrets[:] = [new, old]
        await platform.send(topics.POST_LIFECYCLE, lifecycle_event(PostDue, tenant, "c", "p"))

        async def delivered() -> bool:
            return len(receiver.accepted) == 1

        await eventually(delivered)
    assert receiver.accepted[0]["verified"] == [True, True]  # both secrets verify
    assert receiver.accepted[0]["header"].count("v1=") == 2


async def test_a_delivery_claimed_by_a_dead_sender_goes_out_after_its_lease(
    platform: Platform,
) -> None:
    fast(platform, lease_s=1.0)
    tenant, headers = await platform.new_agency()
    webhooks = platform.apps["calendar"].state.webhooks
    async with serve(Receiver()) as receiver:
        sub = await subscribe(platform, headers, receiver.url, ["PostPaused"])
        receiver.secrets.append(sub["secret"])
        # a sender claims the delivery and dies before sending. The live sender must not take
        # it first: make it idle (its current short wait ends within 50 ms), then queue the
        # delivery without waking it and claim it under another owner.
        fast(platform, lease_s=1.0, poll_interval_s=60)
        await asyncio.sleep(0.2)
        event = lifecycle_event(PostPaused, tenant, "c", "p", reason="by hand")
        await webhooks.repo.enqueue(tenant_id=tenant, subscription_ids=[sub["subscription_id"]],
                                    event_id=event.event_id, event_type=event.event_type,
                                    body=event.model_dump_json().encode(),
                                    now=datetime.now(UTC))  # fmt: skip
        deliveries = platform.db("calendar")["webhook_deliveries"]
        [claimed] = await webhooks.repo.claim(now=datetime.now(UTC), lease_s=1.0, owner="dead")
        claimed_at = time.monotonic()
        assert claimed["event_id"] == event.event_id
        # claimed: no other sender can take it before the lease ends
        assert await webhooks.repo.claim(now=datetime.now(UTC), lease_s=1.0, owner="b") == []
        fast(platform, lease_s=1.0)  # the live sender polls again
        webhooks.sender.kick()

        async def delivered() -> bool:
            return len(receiver.accepted) == 1

        await eventually(delivered)
        assert time.monotonic() - claimed_at >= 0.9  # not before the dead claim expired
    doc = await deliveries.find_one({"event_id": event.event_id})
    assert doc is not None and doc["status"] == "delivered" and len(doc["attempts"]) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "must use https (http only for localhost in development)"),
        ("ftp://hooks.example.com/x", "must be an absolute https:// URL"),
        ("https://user:pw@hooks.example.com/x", "must not carry credentials"),
        ("hooks.example.com/x", "must be an absolute https:// URL"),
    ],
)
async def test_bad_urls_are_refused_naming_the_field(
    platform: Platform, url: str, reason: str
) -> None:
    _, headers = await platform.new_agency()
    r = await platform.http["calendar"].post(
        "/webhooks", json={"url": url, "event_types": ["PostPublished"]}, headers=headers
    )
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "url"] and error["msg"].startswith(reason)


async def test_unknown_event_types_and_missing_keys_are_refused(platform: Platform) -> None:
    _, headers = await platform.new_agency()
    cal = platform.http["calendar"]
    r = await cal.post("/webhooks", json={"url": "https://h.example/x", "event_types": ["Nope"]},
                       headers=headers)  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "event_types", 0]
    r = await cal.post("/webhooks", json={"url": "https://h.example/x", "event_types": ["PostDue"]})
    assert r.status_code == 401
    assert (await cal.get("/webhooks/wh_missing", headers=headers)).status_code == 404
