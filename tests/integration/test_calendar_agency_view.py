"""The agency view reads a range of clients' week documents at a time; every page size gives
the same slots in (client, local time, id) order, each once, against the order worked out here
from the slots inserted (real database); with filters and pages, every read is planned on an
index of the week documents."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from services.calendar.planning.repository import WEEKS, PlanningRepository, week_documents
from tests.integration.conftest import Platform


def _slot(tenant: str, client: str, n: int, day: int, hour: int) -> dict[str, Any]:
    local = f"2027-01-{day:02d}T{hour:02d}:00:00"
    return {
        "_id": f"{tenant}-{client}-{n}",
        "slot_id": f"{tenant}-{client}-{n}",
        "tenant_id": tenant,
        "client_id": client,
        "strategy_id": None,
        "strategy_version": None,
        "platform": "instagram",
        "kind": "planned",
        "local": local,
        "local_date": local[:10],
        "timezone": "UTC",
        "at": datetime(2027, 1, day, hour, tzinfo=UTC),
        "status": "open",
    }


@pytest.mark.parametrize("limit", [1, 3, 17, 500])
async def test_agency_week_pages_cover_every_client_in_order(
    platform: Platform, limit: int
) -> None:
    rng = random.Random(7)
    docs: list[dict[str, Any]] = []
    # 60 clients: most with none in the week, some with one, a few with many (density varies)
    for c in range(60):
        client = f"c{c:03d}"
        count = rng.choice([0, 0, 0, 1, 2, 9, 30])
        for n in range(count):
            docs.append(_slot("A", client, n, rng.randint(11, 17), rng.randint(0, 23)))
        docs.append(_slot("A", client, 99, 20, 9))  # next week: never in this view
        docs.append(_slot("B", client, 0, 12, 9))  # another agency's client of the same id
    db = platform.db("calendar")
    await db[WEEKS].insert_many(week_documents(docs))
    for c in range(60):
        await db.clients.insert_one({"_id": f"c{c:03d}", "tenant_id": "A"})
    repo = PlanningRepository(db)

    expected = sorted(
        ((d["client_id"], d["local"], d["_id"]) for d in docs
         if d["tenant_id"] == "A" and "2027-01-11" <= d["local"] < "2027-01-18"),
    )  # fmt: skip
    assert len(expected) > 100  # the page sizes below really page
    seen: list[tuple[str, str, str]] = []
    after: tuple[str, str, str] | None = None
    for _ in range(len(expected) + 2):
        page = await repo.agency_slots(
            "A", start="2027-01-11", end="2027-01-18", filters={}, limit=limit, start_after=after
        )
        seen += [(s.client_id, s.local, s.slot_id) for s in page]
        if len(page) < limit:
            break
        after = seen[-1]
    assert seen == expected


class _Finds(monitoring.CommandListener):
    """The filters of the `find`s sent on the week documents' collection."""

    def __init__(self) -> None:
        self.filters: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command["find"] == WEEKS:
            self.filters.append(event.command["filter"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _stages(plan: dict[str, Any] | None) -> list[str]:
    """A winning plan's stages, outermost first (FETCH, IXSCAN; or COLLSCAN)."""
    stages = []
    while plan:
        stages.append(str(plan.get("stage")))
        plan = plan.get("inputStage")
    return stages


async def test_slot_reads_are_planned_on_the_index_with_filters_and_pages(
    platform: Platform,
) -> None:
    """Filters (platform, status) and a page's position are applied after an indexed range:
    SecantusDB plans only equalities on an index's leading fields and one range on the next; a
    `$in` of clients, another field or the `$or` of a position made it read the tenant's (or
    the collection's) documents. Every read is explained against the service's own indexes."""
    docs = []
    for c in range(12):
        for n in range(10):
            doc = _slot("A", f"c{c:03d}", n, 11 + n % 7, n)
            doc["platform"] = "x" if n % 3 else "instagram"
            doc["status"] = "scheduled" if n % 2 else "open"
            docs.append(doc)
    db = platform.db("calendar")  # the calendar app created its indexes in it
    await db[WEEKS].insert_many(week_documents(docs))
    await db.clients.insert_many([{"_id": f"c{c:03d}", "tenant_id": "A"} for c in range(12)])
    finds = _Finds()
    watched: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        platform.infra.mongodb_uri, tz_aware=True, event_listeners=[finds]
    )
    try:
        repo = PlanningRepository(watched[db.name])
        week = {"start": "2027-01-11", "end": "2027-01-18"}
        filters = {"platform": "x", "status": "scheduled"}
        expected = sorted(
            (d["client_id"], d["local"], d["_id"]) for d in docs
            if d["platform"] == "x" and d["status"] == "scheduled"
        )  # fmt: skip
        seen: list[tuple[str, str, str]] = []
        after: tuple[str, str, str] | None = None
        while True:
            page = await repo.agency_slots("A", **week, filters=filters, limit=4, start_after=after)
            seen += [(s.client_id, s.local, s.slot_id) for s in page]
            if len(page) < 4:
                break
            after = seen[-1]
        assert seen == expected
        month: list[tuple[str, str, str]] = []
        position: tuple[str, str] | None = None
        while True:
            slots = await repo.list_slots(
                "A", "c003", start="2027-01-01", end="2027-02-01", filters={"platform": "x"},
                limit=2, start_after=position,
            )  # fmt: skip
            month += [(s.client_id, s.local, s.slot_id) for s in slots]
            if len(slots) < 2:
                break
            position = (slots[-1].local, slots[-1].slot_id)
        assert month == sorted(
            (d["client_id"], d["local"], d["_id"]) for d in docs
            if d["client_id"] == "c003" and d["platform"] == "x"
        )  # fmt: skip
        assert finds.filters
        for spec in finds.filters:
            explained = await db.command("explain", {"find": WEEKS, "filter": spec})
            stages = _stages(explained["queryPlanner"]["winningPlan"])
            assert "IXSCAN" in stages, (spec, stages)
    finally:
        await watched.close()
