"""Issue 9 end to end, driven by real publishing: the calendar's dispatcher publishes due posts
to the sandbox platform (its own process), and from the events it stages

- an agency's webhook receiver (signature checked with hmac written out, Stripe's scheme) sees
  every lifecycle event of its posts once: scheduled, due, published, and a failure with the
  platform's reason;
- the metrics service joins an observation keyed only by the platform's post id to the post;
- the calendar's adherence read model counts the published post."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.calendar.adherence.repository import PUBLISHED
from tests.integration.conftest import Platform, eventually
from tests.integration.test_publishing_lifecycle import start_sandbox
from tests.integration.test_webhooks import LIFECYCLE, Receiver, fast, serve, subscribe


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A sandbox platform the calendar of `platform` publishes to (request it first)."""
    proc, url = start_sandbox("--seed", "7")
    monkeypatch.setenv("CALENDAR_PUBLISH_SANDBOX_URL", url)
    monkeypatch.setenv("CALENDAR_PUBLISH_IDLE_POLL_S", "0.1")
    yield url
    proc.terminate()
    proc.wait(10)


def soon(seconds: float = 1.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_real_publishing_reaches_webhooks_metrics_and_adherence(
    sandbox: str, platform: Platform
) -> None:
    fast(platform)
    tenant, headers = await platform.new_agency("Publisher")
    cal = platform.http["calendar"]
    r = await cal.post("/clients", json={"name": "Bakery", "timezone": "Europe/Berlin"},
                       headers=headers)  # fmt: skip
    client_id = r.json()["client_id"]
    async with serve(Receiver()) as receiver:
        sub = await subscribe(platform, headers, receiver.url, LIFECYCLE)
        receiver.secrets.append(sub["secret"])
        ok = (await cal.post(f"/clients/{client_id}/posts", headers=headers, json={
            "platform": "instagram", "scheduled_at": soon(), "caption": "Rye bread",
            "pillar": "recipes", "content_type": "video_how_to"})).json()  # fmt: skip
        too_long = (await cal.post(f"/clients/{client_id}/posts", headers=headers, json={
            "platform": "x", "scheduled_at": soon(), "caption": "y" * 300})).json()  # fmt: skip

        def seen(post_id: str, kind: str) -> list[dict[str, Any]]:
            events = [a["event"] for a in receiver.accepted]
            return [e for e in events if (e["post_id"], e["event_type"]) == (post_id, kind)]

        async def settled() -> bool:
            return bool(seen(ok["post_id"], "PostPublished")) and any(
                e["permanent"] for e in seen(too_long["post_id"], "PostFailed")
            )

        await eventually(settled, timeout=45)
        await asyncio.sleep(0.5)  # a duplicate would arrive meanwhile

    kinds = Counter((a["event"]["post_id"], a["event"]["event_type"]) for a in receiver.accepted)
    assert kinds == Counter({
        (ok["post_id"], "PostScheduled"): 1, (ok["post_id"], "PostDue"): 1,
        (ok["post_id"], "PostPublished"): 1, (too_long["post_id"], "PostScheduled"): 1,
        (too_long["post_id"], "PostDue"): 1, (too_long["post_id"], "PostFailed"): 1,
    })  # fmt: skip
    assert all(r["verified"] == [True] for r in receiver.requests)
    assert len({a["event"]["event_id"] for a in receiver.accepted}) == 6
    [failure] = seen(too_long["post_id"], "PostFailed")
    assert "x allows 280" in failure["reason"] and failure["permanent"] is True
    [published] = seen(ok["post_id"], "PostPublished")
    platform_post_id = published["platform_post_id"]
    assert platform_post_id.startswith("instagram_")

    # analytics that only know the platform's id join the calendar post
    observation = {
        "client_id": client_id, "platform": "instagram", "account_id": "ig-1",
        "entity_level": "post", "entity_id": platform_post_id,
        "observed_at": datetime.now(UTC).isoformat(),
        "source": {"api": "instagram_graph", "kind": "poll"},
        "metrics": [{"name": "likes", "value": 41}],
    }  # fmt: skip

    platform_posts = platform.db("metrics")["platform_posts"]
    await eventually(lambda: platform_posts.find_one({"platform_post_id": platform_post_id}))
    r = await platform.http["metrics"].post(
        "/observations", json={"observations": [observation]}, headers=headers
    )
    assert r.status_code == 202, r.text

    async def joined() -> list[dict[str, Any]]:
        return await platform.observations(tenant, entity_id=platform_post_id)

    [doc] = await eventually(joined)
    assert doc["post_id"] == ok["post_id"]
    assert (doc["pillar"], doc["content_type"]) == ("recipes", "video_how_to")

    # the calendar's adherence read model has it (by its planned instant)
    model = platform.db("calendar")[PUBLISHED]
    row = await eventually(lambda: model.find_one({"tenant_id": tenant, "post_id": ok["post_id"]}))
    assert row["platform"] == "instagram" and row["pillar"] == "recipes"
