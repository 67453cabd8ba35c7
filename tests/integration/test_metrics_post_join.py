"""Platform post ids reach analytics (issue 9 item 6), on the real broker and database: the
metrics service learns the platform's id of a published post from `PostPublished`, so an
observation keyed only by that id joins the calendar post (pillar, content type, stage), and
its post facts follow `PostRescheduled` / `PostCancelled` (a stale version never wins)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from services.metrics.post_facts import platform_key, post_key
from shared import topics
from shared.events import PostCancelled, PostPublished, PostRescheduled, PostScheduled
from tests.integration.conftest import Platform, eventually

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
RANGE = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


def published(tenant: str, client_id: str, post_id: str, platform_post_id: str, **facts: Any) -> (
    PostPublished
):  # fmt: skip
    return PostPublished.new(
        producer="calendar",
        tenant_id=tenant,
        client_id=client_id,
        post_id=post_id,
        platform="instagram",
        scheduled_at=T0,
        platform_post_id=platform_post_id,
        url=f"https://instagram.example/p/{platform_post_id}",
        published_at=T0 + timedelta(seconds=2),
        attempts=1,
        **facts,
    )


def observation_body(client_id: str, entity_id: str, likes: int) -> dict[str, Any]:
    """What an analytics pipeline knows: the platform's media id, not ours."""
    return {
        "client_id": client_id,
        "platform": "instagram",
        "account_id": "ig-acct-1",
        "entity_level": "post",
        "entity_id": entity_id,
        "observed_at": (T0 + timedelta(hours=3)).isoformat(),
        "source": {"api": "instagram_graph", "kind": "poll"},
        "metrics": [{"name": "likes", "value": likes}, {"name": "impressions", "value": 1000}],
    }


async def kpis(platform: Platform, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await platform.http["metrics"].get("/kpis", params=RANGE | params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_observation_by_platform_post_id_joins_the_calendar_post(
    platform: Platform,
) -> None:
    tenant, headers = await platform.new_agency("Joined")
    other, other_headers = await platform.new_agency("Other")
    facts = {"pillar": "recipes", "content_type": "video_how_to", "stage": "awareness"}
    await platform.send(
        topics.POST_LIFECYCLE, published(tenant, "cl-1", "post-1", "17900000001", **facts)
    )
    await platform.send(
        topics.POST_LIFECYCLE,
        published(tenant, "cl-1", "post-2", "17900000002", pillar="team", content_type="visual"),
    )
    platform_posts = platform.db("metrics")["platform_posts"]

    async def learned() -> bool:
        return await platform_posts.count_documents({}) == 2

    await eventually(learned)
    stored = await platform_posts.find_one(
        {"_id": platform_key(tenant, "instagram", "17900000001")}
    )
    assert stored is not None and stored["post_id"] == "post-1"

    # the pipeline posts observations naming only the platform's ids (and an unknown one)
    observations = [
        observation_body("cl-1", "17900000001", 30),
        observation_body("cl-1", "17900000002", 12),
        observation_body("cl-1", "native-only-post", 5),
    ]
    r = await platform.http["metrics"].post(
        "/observations", json={"observations": observations}, headers=headers
    )
    assert r.status_code == 202, r.text
    # another agency naming the same platform id joins nothing of ours
    r = await platform.http["metrics"].post(
        "/observations",
        json={"observations": [observation_body("cl-x", "17900000001", 99)]},
        headers=other_headers,
    )
    assert r.status_code == 202, r.text

    async def all_stored() -> bool:
        return len(await platform.observations(tenant)) == 3 and bool(
            await platform.observations(other)
        )

    await eventually(all_stored)
    by_pillar = await kpis(platform, headers, client_id="cl-1", group_by="pillar")
    assert {g["key"]: g["totals"]["likes"] for g in by_pillar["groups"]} == {
        "recipes": "30",
        "team": "12",
        None: "5",  # published natively: nothing to join
    }
    by_type = await kpis(platform, headers, client_id="cl-1", group_by="content_type")
    assert {g["key"]: g["totals"]["likes"] for g in by_type["groups"]} == {
        "video_how_to": "30",
        "visual": "12",
        None: "5",
    }
    by_post = await kpis(platform, headers, client_id="cl-1", group_by="post")
    assert {g["key"]: g["totals"]["likes"] for g in by_post["groups"]} == {
        "post-1": "30",
        "post-2": "12",
        None: "5",
    }
    by_stage = await kpis(platform, headers, client_id="cl-1", group_by="stage")
    assert {g["key"]: g["totals"]["likes"] for g in by_stage["groups"]} == {
        "awareness": "30",
        None: "17",  # post-2 was published without a stage, the native post has none
    }
    [joined] = await platform.observations(tenant, entity_id="17900000001")
    assert joined["stage"] == "awareness" and joined["post_id"] == "post-1"
    [foreign] = await platform.observations(other)
    assert "pillar" not in foreign and "post_id" not in foreign
    other_pillars = await kpis(platform, other_headers, group_by="pillar")
    assert [g["key"] for g in other_pillars["groups"]] == [None]


async def test_post_facts_follow_reschedule_and_cancel_in_version_order(
    platform: Platform,
) -> None:
    tenant, _ = await platform.new_agency()
    posts = platform.db("metrics")["posts"]
    key = post_key(tenant, "post-9")
    base = {"producer": "calendar", "tenant_id": tenant, "client_id": "cl-1", "post_id": "post-9",
            "platform": "instagram"}  # fmt: skip
    moved = T0 + timedelta(days=1)
    # the lifecycle topic may be read before the scheduled topic: order must not matter
    reschedule_v2 = PostRescheduled.new(
        **base, previous_scheduled_at=T0, scheduled_at=moved, version=2
    )
    await platform.send(topics.POST_LIFECYCLE, reschedule_v2)

    async def at(version: int) -> dict[str, Any] | None:
        doc = await posts.find_one({"_id": key})
        return doc if doc and doc.get("version") == version else None

    doc = await eventually(lambda: at(2))
    assert doc["scheduled_at"] == moved
    await platform.send(
        topics.POSTS_SCHEDULED, PostScheduled.new(**base, scheduled_at=T0, pillar="recipes")
    )

    async def pillar_known() -> dict[str, Any] | None:
        doc = await posts.find_one({"_id": key, "pillar": "recipes"})
        return doc

    doc = await eventually(pillar_known)
    assert doc["scheduled_at"] == moved and doc["version"] == 2  # the late PostScheduled lost
    cancel_v3 = PostCancelled.new(**base, scheduled_at=moved, reason="client asked", version=3)
    await platform.send(topics.POST_LIFECYCLE, cancel_v3)
    doc = await eventually(lambda: at(3))
    assert doc["status"] == "cancelled" and doc["cancelled_reason"] == "client asked"
    # a replay of v2 (older) arrives after v3: ignored, then a marker proves it was consumed
    await platform.send(topics.POST_LIFECYCLE, reschedule_v2)
    await platform.send(
        topics.POST_LIFECYCLE, PostRescheduled.new(**{**base, "post_id": "marker"},
                                                   previous_scheduled_at=T0, scheduled_at=T0,
                                                   version=2),
    )  # fmt: skip
    await eventually(lambda: posts.find_one({"_id": post_key(tenant, "marker")}))
    doc = await posts.find_one({"_id": key})
    assert doc is not None and doc["version"] == 3 and doc["status"] == "cancelled"
    assert doc["scheduled_at"] == moved


async def test_a_bad_lifecycle_message_is_dead_lettered_with_its_reason(
    platform: Platform,
) -> None:
    tenant, _ = await platform.new_agency()
    # a PostPublished without the platform's post id, published_at or attempts
    payload = {"event_type": "PostPublished", "event_id": "e-1", "tenant_id": tenant,
               "producer": "calendar", "client_id": "cl-1", "post_id": "p-1",
               "platform": "instagram", "scheduled_at": T0.isoformat()}  # fmt: skip
    await platform.send(topics.POST_LIFECYCLE, json.dumps(payload).encode())

    async def dead_lettered_by_metrics() -> dict[str, str] | None:
        records = await platform.read_topic(topics.dlq(topics.POST_LIFECYCLE), expect=9,
                                            timeout=1)  # fmt: skip
        for record in records:
            headers = {k: v.decode() for k, v in record.headers}
            if headers["x-dlq-service"] == "metrics":
                return headers
        return None

    headers = await eventually(dead_lettered_by_metrics)
    assert "platform_post_id" in headers["x-dlq-reason"], headers["x-dlq-reason"]
    assert headers["x-dlq-kind"] == "permanent"
