"""The agency view reads clients in batches sized by the density it finds; whatever the batch
sizes, every page size gives the same slots in (client, local time, id) order, each once,
against the order worked out here from the slots inserted (real database)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from services.calendar.planning.repository import PlanningRepository
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
    await db.slots.insert_many(docs)
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
