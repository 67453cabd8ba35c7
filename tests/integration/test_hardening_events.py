"""Issue 14 ("Hardening first"), event-flow findings, on the real broker and database:
item 9 (idempotency scoped by tenant), item 11 (spend that books nowhere is dead-lettered and
counted, the rest of its event still booked), item 12 (unknown event_type / event_version is
dead-lettered, not half-read)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from shared import topics
from shared.events import BudgetThresholdCrossed, MetricsIngested, PostScheduled
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_body, budget_knows, observation


def _headers(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def _dead_letters(platform: Platform, topic: str, expect: int) -> list[dict[str, str]]:
    """Headers of the first `expect` dead letters of a topic (fails if fewer arrive)."""
    records = await platform.read_topic(topics.dlq(topic), expect=expect)
    assert len(records) >= expect, f"expected {expect} dead letters on {topic}, got {len(records)}"
    return [_headers(r) | {"value": r.value.decode(errors="replace")} for r in records]


async def _sample(platform: Platform, service: str, name: str, **labels: str) -> float:
    """A counter's value on a service's /metrics (0 when the series does not exist yet)."""
    text = (await platform.http[service].get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def _post(tenant: str, post_id: str, **changes: Any) -> dict[str, Any]:
    event = PostScheduled.new(
        producer="tests", tenant_id=tenant, client_id="c", post_id=post_id, platform="x",
        scheduled_at=datetime.now(UTC),
    )  # fmt: skip
    return event.model_dump(mode="json") | changes


def _ingested(tenant: str, client_id: str, *spend: dict[str, Any], **fields: Any) -> Any:
    return MetricsIngested.new(
        producer="tests", tenant_id=tenant, observations=len(spend),
        totals=[{"client_id": client_id, "platform": "instagram", "observations": len(spend),
                 "metrics": {"likes": "1"}}],
        spend=list(spend), **fields,
    )  # fmt: skip


def _line(obs: str, client_id: str, amount: str, currency: str = "EUR", **extra: Any) -> Any:
    return {"observation_id": obs, "client_id": client_id, "platform": "instagram",
            "amount": amount, "currency": currency, "observed_at": "2026-06-01T10:00:00Z",
            **extra}  # fmt: skip


# --------------------------------------------------------------------------- item 12


async def test_single_event_of_unknown_type_or_version_is_dead_lettered(
    platform: Platform,
) -> None:
    """Issue 14 item 12: a PostScheduled-shaped message whose event_type names another schema,
    or whose event_version is newer than the consumer reads, is dead-lettered with that reason
    and has no effect; the next valid message is processed."""
    tenant, _ = await platform.new_agency()
    wrong_type = _post(tenant, "p-type", event_type="PostDeleted")
    newer = _post(tenant, "p-version", event_version=2)
    for payload in (wrong_type, newer):
        await platform.send(topics.POSTS_SCHEDULED, json.dumps(payload).encode())
    await platform.send(topics.POSTS_SCHEDULED, json.dumps(_post(tenant, "p-ok")).encode())

    posts = platform.db("metrics")["posts"]

    async def stored() -> bool:
        return bool(await posts.find_one({"post_id": "p-ok"}))

    await eventually(stored)
    assert await posts.count_documents({"post_id": {"$in": ["p-type", "p-version"]}}) == 0
    reasons = [h["x-dlq-reason"] for h in await _dead_letters(platform, topics.POSTS_SCHEDULED, 2)]
    assert any("unknown event_type 'PostDeleted' (expected 'PostScheduled')" in r for r in reasons)
    assert any("unsupported event_version 2" in r for r in reasons), reasons


async def test_metrics_ingested_of_unknown_type_books_and_audits_nothing(
    platform: Platform,
) -> None:
    """Issue 14 item 12: budget and audit each dead-letter a MetricsIngested of an unknown
    event_type instead of booking its spend or adding its totals."""
    tenant, headers = await platform.new_agency()
    await budget_knows(platform, tenant, "cl-1")
    r = await platform.http["budget"].post("/budgets", json=budget_body("cl-1"), headers=headers)
    budget_id = r.json()["budget_id"]
    retracted = _ingested(tenant, "cl-1", _line("obs-x", "cl-1", "40.00")).model_dump(mode="json")
    retracted["event_type"] = "MetricsRetracted"
    await platform.send(topics.METRICS_INGESTED, json.dumps(retracted).encode(), key=b"k")
    await platform.send(topics.METRICS_INGESTED, _ingested(tenant, "cl-1", _line("o", "cl-1", "1")))

    async def booked() -> bool:
        body = (await platform.http["budget"].get(f"/budgets/{budget_id}", headers=headers)).json()
        return bool(body["spent"]["amount"] == "1")

    await eventually(booked)
    dead = await _dead_letters(platform, topics.METRICS_INGESTED, 2)
    assert sorted(h["x-dlq-service"] for h in dead) == ["audit", "budget"]
    assert all("unknown event_type 'MetricsRetracted'" in h["x-dlq-reason"] for h in dead)
    totals = await platform.db("audit")["platform_totals"].find_one({"client_id": "cl-1"})
    assert totals["observations"] == 1  # only the valid event's


async def test_batch_records_of_unknown_type_or_version_are_dead_lettered_alone(
    platform: Platform,
) -> None:
    """Issue 14 item 12: in a consumed batch of observations, a record of another event_type or
    a newer event_version goes to the dead-letter topic alone, with that reason; the valid
    records of the batch are stored."""
    tenant, _ = await platform.new_agency()
    good = observation(tenant, "cl-1")
    wrong = observation(tenant, "cl-1").model_dump(mode="json") | {"event_type": "PostScheduled"}
    newer = observation(tenant, "cl-1").model_dump(mode="json") | {"event_version": 9}
    for payload in (wrong, newer):
        await platform.send(
            topics.ANALYTICS_OBSERVATIONS, json.dumps(payload).encode(), key=good.partition_key()
        )
    await platform.send(topics.ANALYTICS_OBSERVATIONS, good)

    async def stored() -> bool:
        return bool(await platform.observations(tenant, _id=good.event_id))

    await eventually(stored)
    assert len(await platform.observations(tenant)) == 1
    dead = await _dead_letters(platform, topics.ANALYTICS_OBSERVATIONS, 2)
    reasons = sorted(h["x-dlq-reason"] for h in dead)
    assert reasons == [
        "unknown event_type 'PostScheduled' (expected 'AnalyticsObserved')",
        "unsupported event_version 9 of 'AnalyticsObserved' (this consumer reads up to 2)",
    ]
    assert all(h["x-dlq-kind"] == "permanent" for h in dead)


# --------------------------------------------------------------------------- item 9


async def test_an_event_id_reused_by_another_tenant_does_not_suppress_the_event(
    platform: Platform,
) -> None:
    """Issue 14 item 9: tenant A's MetricsIngested reusing tenant B's event id must not make
    budget (or audit) drop B's event as already processed."""
    tenant_a, headers_a = await platform.new_agency("A")
    tenant_b, headers_b = await platform.new_agency("B")
    budget = platform.http["budget"]
    await budget_knows(platform, tenant_a, "cl-a")
    await budget_knows(platform, tenant_b, "cl-b")
    a_budget = (await budget.post("/budgets", json=budget_body("cl-a"), headers=headers_a)).json()
    b_budget = (await budget.post("/budgets", json=budget_body("cl-b"), headers=headers_b)).json()
    shared_id = "evt-chosen-by-a-producer"
    await platform.send(
        topics.METRICS_INGESTED,
        _ingested(tenant_a, "cl-a", _line("obs-a", "cl-a", "5.00"), event_id=shared_id),
    )

    async def spent(headers: dict[str, str], budget_id: str, amount: str) -> bool:
        body = (await budget.get(f"/budgets/{budget_id}", headers=headers)).json()
        return bool(body["spent"]["amount"] == amount)

    await eventually(lambda: spent(headers_a, a_budget["budget_id"], "5.00"))
    await platform.send(
        topics.METRICS_INGESTED,
        _ingested(tenant_b, "cl-b", _line("obs-b", "cl-b", "7.00"), event_id=shared_id),
    )
    await eventually(lambda: spent(headers_b, b_budget["budget_id"], "7.00"))

    async def audited() -> bool:
        doc = await platform.db("audit")["platform_totals"].find_one({"tenant_id": tenant_b})
        return doc is not None

    await eventually(audited)


async def test_a_threshold_event_id_reused_by_another_tenant_still_pauses_posts(
    platform: Platform,
) -> None:
    """Issue 14 item 9: calendar records processed events per tenant, so tenant A's threshold
    event carrying tenant B's event id does not stop B's paid posts from being paused."""
    shared_id = "evt-threshold-reused"
    pauses = {}
    for name in ("A", "B"):
        tenant, headers = await platform.new_agency(name)
        r = await platform.http["calendar"].post("/clients", json={"name": name}, headers=headers)
        client_id = r.json()["client_id"]
        r = await platform.http["calendar"].post(
            f"/clients/{client_id}/posts",
            json={"platform": "x", "scheduled_at": "2026-12-24T18:00:00Z", "paid": True,
                  "budget_id": f"bu-{name}"},
            headers=headers,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        pauses[name] = (tenant, headers, client_id)
    for name, (tenant, _, client_id) in pauses.items():
        crossed = BudgetThresholdCrossed.new(
            producer="tests", tenant_id=tenant, event_id=shared_id, budget_id=f"bu-{name}",
            client_id=client_id, threshold_pct=100, spent={"amount": "10", "currency": "EUR"},
            limit={"amount": "10", "currency": "EUR"}, pause_paid_posts=True,
        )  # fmt: skip
        await platform.send(topics.BUDGET_THRESHOLDS, crossed)

    for _tenant, headers, client_id in pauses.values():

        async def paused(headers: dict[str, str] = headers, client_id: str = client_id) -> bool:
            r = await platform.http["calendar"].get(f"/clients/{client_id}/posts", headers=headers)
            return bool(r.json()[0]["status"] == "paused")

        await eventually(paused)


# --------------------------------------------------------------------------- item 11


async def test_spend_that_books_nowhere_is_dead_lettered_per_line_and_counted(
    platform: Platform,
) -> None:
    """Issue 14 item 11: of one MetricsIngested, the lines a budget takes are booked, and each
    line that names an unknown budget, or is in a currency none of its client's budgets has,
    is dead-lettered alone with its reason and counted; a client with no budget at all is
    organic spend, neither booked nor dead-lettered."""
    tenant, headers = await platform.new_agency()
    http = platform.http["budget"]
    await budget_knows(platform, tenant, "cl-1")
    budget_id = (await http.post("/budgets", json=budget_body("cl-1"), headers=headers)).json()[
        "budget_id"
    ]
    before = {
        reason: await _sample(
            platform, "budget", "socialops_budget_spend_unbooked_total", reason=reason
        )
        for reason in ("unknown_budget", "currency_mismatch")
    }
    event = _ingested(
        tenant,
        "cl-1",
        _line("obs-ok", "cl-1", "10.00"),
        _line("obs-named", "cl-1", "3.00", budget_id=budget_id),
        _line("obs-usd", "cl-1", "20.00", currency="USD"),
        _line("obs-ghost", "cl-1", "4.00", budget_id="bu-of-nobody"),
        _line("obs-organic", "cl-organic", "9.00"),
    )
    await platform.send(topics.METRICS_INGESTED, event)

    async def booked() -> bool:
        body = (await http.get(f"/budgets/{budget_id}", headers=headers)).json()
        return bool(body["spent"]["amount"] == "13.00")

    await eventually(booked)
    dead = await _dead_letters(platform, topics.METRICS_INGESTED, 2)
    assert len(dead) == 2
    by_reason = {h["x-dlq-reason"].split(":")[0]: h for h in dead}
    assert set(by_reason) == {"unknown_budget", "currency_mismatch"}, dead
    for reason, header in by_reason.items():
        assert header["x-dlq-kind"] == "permanent"
        assert header["x-dlq-service"] == "budget"
        assert header["x-dlq-source-topic"] == platform.topic(topics.METRICS_INGESTED)
        # each dead letter is a MetricsIngested of that one line, replayable after a fix
        replay = MetricsIngested.model_validate_json(header["value"])
        assert replay.tenant_id == tenant and replay.causation_id == event.event_id
        assert replay.totals == () and len(replay.spend) == 1
        expected = {"unknown_budget": "obs-ghost", "currency_mismatch": "obs-usd"}[reason]
        assert replay.spend[0].observation_id == expected
        after = await _sample(
            platform, "budget", "socialops_budget_spend_unbooked_total", reason=reason
        )
        assert after == before[reason] + 1
    assert "bu-of-nobody" in by_reason["unknown_budget"]["x-dlq-reason"]
    assert "USD" in by_reason["currency_mismatch"]["x-dlq-reason"]
    ledger = platform.db("budget")["ledger"]
    assert sorted([d["observation_id"] async for d in ledger.find({})]) == ["obs-named", "obs-ok"]
