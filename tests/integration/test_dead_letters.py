"""Poison messages on every service's input topic land in `<topic>.dlq` with the reason,
and the next valid message is still processed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared import topics
from shared.events import BudgetThresholdCrossed, MetricsIngested, PostScheduled
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import observation

POISON = [
    (b"\x00\xffnot json", "undecodable"),
    (b'{"event_type": "whatever", "tenant_id": "x"}', "unknown event_type"),
]


def _headers(record) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v.decode() for k, v in record.headers}


async def _assert_dead_lettered(
    platform: Platform, topic: str, expected: list[str], *, consumers: int = 1
) -> None:
    """Each expected reason is on exactly one dead letter per consumer group reading the topic
    (each group judges the record on its own; partitions do not keep order)."""
    want = len(expected) * consumers
    dlq = await platform.read_topic(topics.dlq(topic), expect=want)
    assert len(dlq) == want, f"expected {want} dead letters on {topic}"
    headers = [_headers(record) for record in dlq]
    for reason in expected:
        matching = [h for h in headers if reason in h["x-dlq-reason"]]
        assert len(matching) == consumers, (reason, [h["x-dlq-reason"] for h in headers])
    for h in headers:
        assert h["x-dlq-source-topic"] == platform.topic(topic)
        assert h["x-dlq-kind"] == "permanent"
        assert int(h["x-dlq-source-offset"]) >= 0
        assert h["x-dlq-service"]


async def test_posts_topic_poison_then_valid(platform: Platform) -> None:
    tenant, _ = await platform.new_agency()
    for value, _reason in POISON:
        await platform.send(topics.POSTS_SCHEDULED, value)
    ghost = PostScheduled.new(
        producer="tests", tenant_id="no-such-agency", client_id="c", post_id="p-ghost",
        platform="x", scheduled_at=datetime.now(UTC),
    )  # fmt: skip
    await platform.send(topics.POSTS_SCHEDULED, ghost)
    valid = PostScheduled.new(
        producer="tests", tenant_id=tenant, client_id="c", post_id="p-ok",
        platform="x", scheduled_at=datetime.now(UTC),
    )  # fmt: skip
    await platform.send(topics.POSTS_SCHEDULED, valid)

    async def stored() -> bool:
        return bool(await platform.db("metrics")["posts"].find_one({"_id": f"{tenant}|p-ok"}))

    await eventually(stored)
    assert not await platform.db("metrics")["posts"].find_one({"post_id": "p-ghost"})
    # read by metrics (post facts) and by the calendar's outgoing webhooks
    await _assert_dead_lettered(
        platform, topics.POSTS_SCHEDULED, ["undecodable", "unknown event_type", "unknown tenant"],
        consumers=2,
    )  # fmt: skip


async def test_observations_topic_poison_in_a_batch(platform: Platform) -> None:
    tenant, _ = await platform.new_agency()
    good = observation(tenant, "cl-1")
    negative = observation(tenant, "cl-1").model_dump(mode="json")
    negative["metrics"][0]["value"] = -5
    await platform.send(topics.ANALYTICS_OBSERVATIONS, POISON[0][0])
    await platform.send(topics.ANALYTICS_OBSERVATIONS, json.dumps(negative).encode())
    await platform.send(topics.ANALYTICS_OBSERVATIONS, good)

    async def stored() -> bool:
        return bool(await platform.observations(tenant, _id=good.event_id))

    await eventually(stored)
    await _assert_dead_lettered(
        platform, topics.ANALYTICS_OBSERVATIONS, ["undecodable", "metrics.0.value"]
    )


@pytest.mark.parametrize("service", ["budget", "audit"])
async def test_metrics_ingested_poison_then_valid(platform: Platform, service: str) -> None:
    tenant, _ = await platform.new_agency()
    for value, _reason in POISON:
        await platform.send(topics.METRICS_INGESTED, value)
    valid = MetricsIngested.new(
        producer="tests", tenant_id=tenant, observations=1,
        totals=[{"client_id": "c1", "platform": "x", "observations": 1, "metrics": {"likes": "3"}}],
    )  # fmt: skip
    await platform.send(topics.METRICS_INGESTED, valid)

    async def audited() -> bool:
        return bool(await platform.db("audit")["platform_totals"].find_one({"client_id": "c1"}))

    await eventually(audited)
    # both services consume the topic: each dead-letters each poison message once
    dlq = await platform.read_topic(topics.dlq(topics.METRICS_INGESTED), expect=4)
    by_service = [_headers(r) for r in dlq if _headers(r)["x-dlq-service"] == service]
    reasons = [h["x-dlq-reason"] for h in by_service]
    assert len(reasons) == 2
    assert reasons[0].startswith("undecodable")
    assert reasons[1].startswith("unknown event_type 'whatever'")


async def test_thresholds_topic_poison_then_valid(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    r = await platform.http["calendar"].post("/clients", json={"name": "B"}, headers=headers)
    client_id = r.json()["client_id"]
    r = await platform.http["calendar"].post(
        f"/clients/{client_id}/posts",
        json={"platform": "tiktok", "scheduled_at": "2026-12-24T18:00:00Z", "paid": True,
              "budget_id": "bu-x"},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 201
    for value, _reason in POISON:
        await platform.send(topics.BUDGET_THRESHOLDS, value)
    crossed = BudgetThresholdCrossed.new(
        producer="tests", tenant_id=tenant, budget_id="bu-x", client_id=client_id,
        threshold_pct=100, spent={"amount": "10", "currency": "EUR"},
        limit={"amount": "10", "currency": "EUR"}, pause_paid_posts=True,
    )  # fmt: skip
    await platform.send(topics.BUDGET_THRESHOLDS, crossed)

    async def paused() -> bool:
        r = await platform.http["calendar"].get(f"/clients/{client_id}/posts", headers=headers)
        return r.json()[0]["status"] == "paused"

    await eventually(paused)
    # read by the calendar's pause handler and by its outgoing webhooks
    await _assert_dead_lettered(
        platform, topics.BUDGET_THRESHOLDS, ["undecodable", "unknown event_type"], consumers=2
    )
