"""Issue 14 (hardening), ingestion side, on the real broker and database: one tenant's input
never costs another tenant its data, its facts or its events."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.metrics.pipeline import Ingestion
from services.metrics.repository import MetricsRepository
from shared import mongo, topics
from shared.events import MetricsIngested, MetricValue
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_body, budget_knows, observation
from tests.integration.test_ingestion_dedupe import records

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _poison(tenant: str) -> list[tuple[str, dict[str, Any]]]:
    """One record of each kind that passed validation before and failed when stored: the
    field the dead letter must name, and the payload."""

    def base(**changes: Any) -> dict[str, Any]:
        doc = observation(tenant, "cl-a", metrics={"likes": 1}).model_dump(mode="json")
        return doc | changes

    metric = base()["metrics"][0]
    return [
        ("leads", base(leads=2**64)),
        ("metrics.0.value", base(metrics=[metric | {"value": "0." + "1" * 40}])),
        ("metrics.0.value", base(metrics=[metric | {"value": "1E+1000000"}])),
        ("observed_at", base(observed_at="0001-01-01T00:30:00+01:00")),
        ("spend.amount", base(spend={"amount": "1" * 40, "currency": "EUR"})),
        ("client_id", base(client_id="c" * 100_000)),
    ]


async def test_poison_records_of_one_tenant_cost_another_tenant_nothing(
    platform: Platform,
) -> None:
    """Issue 14 item 1: tenant B streams observations while tenant A sends one record of each
    poison kind; all of B's are stored, only A's records are dead-lettered, naming the field."""
    tenant_a, _ = await platform.new_agency("A")
    tenant_b, _ = await platform.new_agency("B")
    topic = platform.topic(topics.ANALYTICS_OBSERVATIONS)
    poison = _poison(tenant_a)
    n = 2000
    every = n // len(poison)
    sent = []
    for i in range(n):
        e = observation(tenant_b, f"cl-{i % 40}", entity_id=f"m-{i}", metrics={"likes": 2},
                        observed_at=T0 + timedelta(seconds=i))  # fmt: skip
        sent.append(await platform.producer.send(topic, e.model_dump_json().encode(),
                                                 key=e.partition_key()))  # fmt: skip
        if i % every == 7:
            _, doc = poison.pop(0)
            key = f"{tenant_a}:{doc['client_id']}".encode()
            sent.append(await platform.producer.send(topic, json.dumps(doc).encode(), key=key))
    await asyncio.gather(*sent)
    assert not poison, "every poison record was sent"

    async def stored() -> int:
        return await MetricsRepository(platform.db("metrics")).count(tenant_b)

    assert await eventually(lambda: _equals(stored, n), timeout=60)
    dlq = await platform.read_topic(topics.dlq(topics.ANALYTICS_OBSERVATIONS), expect=6)
    assert len(dlq) == 6
    reasons = sorted(dict(r.headers)["x-dlq-reason"].decode() for r in dlq)
    for field, _ in _poison(tenant_a):
        assert any(f"{field}:" in r for r in reasons), (field, reasons)
    assert {json.loads(r.value)["tenant_id"] for r in dlq} == {tenant_a}
    assert await platform.observations(tenant_a) == []


async def _equals(fn: Any, expected: int) -> bool:
    return bool(await fn() == expected)


async def test_a_record_that_cannot_be_stored_is_isolated_and_dead_lettered_alone(
    platform: Platform,
) -> None:
    """Issue 14 item 1: a record that passes decoding but fails the write (here a value the
    database cannot hold, built past validation) splits its batch until it stands alone; the
    rest of the batch, of every tenant, is stored."""
    tenant_a, _ = await platform.new_agency("A")
    tenant_b, _ = await platform.new_agency("B")
    good = [
        observation(tenant_b if i % 2 else tenant_a, f"cl-{i % 5}", entity_id=f"m-{i}",
                    observed_at=T0 + timedelta(minutes=i))
        for i in range(40)
    ]  # fmt: skip
    bad = observation(tenant_a, "cl-1", entity_id="m-bad", observed_at=T0).model_copy(
        update={"metrics": (MetricValue.model_construct(name="likes", value=Decimal("1E+7000"),
                                                       unit="count", native_name=None),)}
    )  # fmt: skip
    batch = records([*good[:23], bad, *good[23:]])
    for record, _ in batch:
        record.topic = platform.topic(topics.ANALYTICS_OBSERVATIONS)
    runtime = platform.apps["metrics"].state.runtime
    ingestion = Ingestion(runtime=runtime, repo=MetricsRepository(runtime.db))

    async def decode(chunk: Any) -> Any:
        by_offset = {r.offset: e for r, e in batch}
        return [(r, by_offset[r.offset]) for r in chunk]

    stored = await ingestion.ingest_records([r for r, _ in batch], decode, chunk=16)

    assert stored == 40
    ids = {d["_id"] for t in (tenant_a, tenant_b) for d in await platform.observations(t)}
    assert ids == {e.event_id for e in good}
    [letter] = await platform.read_topic(topics.dlq(topics.ANALYTICS_OBSERVATIONS), expect=1)
    headers = {k: v.decode() for k, v in letter.headers}
    assert int(headers["x-dlq-source-offset"]) == 23
    assert headers["x-dlq-reason"].startswith("cannot be stored: ")
    assert headers["x-dlq-kind"] == "permanent"


async def test_naming_another_tenants_post_joins_none_of_its_facts(platform: Platform) -> None:
    """Issue 14 item 4: agency A's observation naming agency B's post id gets neither B's
    pillar and content type nor B's budget; A's own PostScheduled for that id does not
    overwrite B's post."""
    tenant_b, headers_b = await platform.new_agency("B")
    tenant_a, _ = await platform.new_agency("A")
    cal, bud = platform.http["calendar"], platform.http["budget"]
    client = (await cal.post("/clients", json={"name": "Bakery", "timezone": "UTC"},
                             headers=headers_b)).json()["client_id"]  # fmt: skip
    await budget_knows(platform, tenant_b, client)
    budget = (await bud.post("/budgets", json=budget_body(client), headers=headers_b)).json()
    r = await cal.post(
        f"/clients/{client}/posts", headers=headers_b,
        json={"platform": "instagram", "scheduled_at": "2026-12-01T09:00:00", "paid": True,
              "budget_id": budget["budget_id"], "content_type": "video", "pillar": "secret"},
    )  # fmt: skip
    post_id = r.json()["post_id"]
    posts = platform.db("metrics")["posts"]
    await eventually(lambda: posts.find_one({"tenant_id": tenant_b, "post_id": post_id}))

    spy = observation(tenant_a, "cl-a", spend="99.00", post_id=post_id, entity_id="ad-a")
    await platform.send(topics.ANALYTICS_OBSERVATIONS, spy)
    mine = observation(tenant_b, client, spend="10.00", post_id=post_id, entity_id="ad-b")
    await platform.send(topics.ANALYTICS_OBSERVATIONS, mine)

    [doc_a] = await eventually(lambda: platform.observations(tenant_a))
    assert "pillar" not in doc_a and "budget_id" not in doc_a
    assert doc_a.get("content_type") is None
    [doc_b] = await eventually(lambda: platform.observations(tenant_b))
    assert (doc_b["pillar"], doc_b["budget_id"]) == ("secret", budget["budget_id"])

    async def b_spent() -> str:
        got = await bud.get(f"/budgets/{budget['budget_id']}", headers=headers_b)
        return str(got.json()["spent"]["amount"])

    assert await eventually(lambda: _is(b_spent, "10.00"))
    facts = await posts.find_one({"tenant_id": tenant_b, "post_id": post_id})
    assert facts is not None and facts["pillar"] == "secret"


async def _is(fn: Any, expected: Any) -> bool:
    return bool(await fn() == expected)


async def test_one_tenant_reusing_another_tenants_event_id_suppresses_nothing(
    platform: Platform,
) -> None:
    """Issue 14 item 9: event ids are the producer's; in-batch dedupe and processed-event
    records are scoped by tenant, so A reusing B's event id takes nothing from B."""
    tenant_a, _ = await platform.new_agency("A")
    tenant_b, _ = await platform.new_agency("B")
    theirs = observation(tenant_b, "cl-1", entity_id="m-b", observed_at=T0)
    copycat = observation(tenant_a, "cl-1", entity_id="m-a", observed_at=T0).model_copy(
        update={"event_id": theirs.event_id}
    )
    runtime = platform.apps["metrics"].state.runtime
    ingestion = Ingestion(runtime=runtime, repo=MetricsRepository(runtime.db))
    assert await ingestion.ingest(records([copycat, theirs])) == 2
    assert [d["entity_id"] for d in await platform.observations(tenant_b)] == ["m-b"]

    db = platform.db("budget")
    effects: list[str] = []

    async def effect(tenant: str) -> str:
        effects.append(tenant)
        return tenant

    for tenant in (tenant_a, tenant_b, tenant_b):
        await mongo.run_once(platform.mongo, db, consumer="probe", tenant_id=tenant,
                             event_id="same-id", effect=lambda _s, t=tenant: effect(t))  # fmt: skip
    assert effects == [tenant_a, tenant_b]


async def test_an_event_kafka_cannot_take_is_parked_and_the_rest_keep_flowing(
    platform: Platform,
) -> None:
    """Issue 14 item 2: an outbox entry over Kafka's message size is parked aside with its
    reason; events staged after it are published, those before it are published once."""
    tenant, _ = await platform.new_agency()
    runtime = platform.apps["metrics"].state.runtime
    await runtime.outbox.relay()  # nothing of earlier tests pending

    def ingested(n_totals: int) -> MetricsIngested:
        totals = [{"client_id": f"client-{i:06d}-{'x' * 100}", "platform": "instagram",
                   "observations": 1, "metrics": {"likes": "1"}}
                  for i in range(n_totals)]  # fmt: skip
        return MetricsIngested.new(producer="tests", tenant_id=tenant, observations=n_totals,
                                   totals=totals)  # fmt: skip

    before, huge, after = ingested(1), ingested(9000), ingested(2)
    topic = runtime.topics(topics.METRICS_INGESTED)
    async with mongo.transaction(runtime.mongo) as session:
        await runtime.outbox.stage(session, topic, before, huge, after)
    runtime.outbox.kick()

    parked = runtime.db["outbox_parked"]
    doc = await eventually(lambda: parked.find_one({"_id": huge.event_id}))
    assert "MessageSizeTooLargeError" in doc["reason"]
    published = await platform.read_topic(topics.METRICS_INGESTED, expect=3, timeout=10)
    mine = [json.loads(r.value)["event_id"] for r in published
            if json.loads(r.value)["tenant_id"] == tenant]  # fmt: skip
    assert mine == [before.event_id, after.event_id]
    assert await runtime.outbox.collection.count_documents({"sent_at": None}) == 0
