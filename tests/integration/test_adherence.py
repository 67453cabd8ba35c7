"""Plan adherence (issue 9 item 7) on the real broker and database: a Berlin bakery's generated
March 2027 plan, posts published for part of it (`PostPublished` on Kafka, as the dispatcher
stages them), the report over HTTP checked against counts made here from the calendar's own
week views, and `AdherenceDropped` once per drop below the client's threshold."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from services.calendar.adherence.repository import PUBLISHED
from shared import topics
from shared.events import AdherenceDropped, PostPublished
from tests.integration.conftest import Platform, eventually
from tests.unit.calendar.strategies import strategy_body

MONDAYS = [date(2027, 3, 1) + timedelta(weeks=i) for i in range(4)]  # 2027-W09 .. W12


async def setup(platform: Platform) -> tuple[str, dict[str, str], str, list[dict[str, Any]]]:
    tenant, headers = await platform.new_agency()
    cal = platform.http["calendar"]
    r = await cal.post("/clients", json={"name": "Tasty Bakery", "timezone": "Europe/Berlin"},
                       headers=headers)  # fmt: skip
    client_id = r.json()["client_id"]
    r = await cal.post(f"/clients/{client_id}/strategies", json=strategy_body(), headers=headers)
    assert r.status_code == 201, r.text
    r = await cal.post(f"/clients/{client_id}/calendar/generate", headers=headers,
                       json={"strategy_id": r.json()["strategy_id"], "start": "2027-03-01",
                             "end": "2027-04-01"})  # fmt: skip
    assert r.status_code == 200, r.text
    slots = []
    for monday in MONDAYS:
        week = {"date": monday.isoformat(), "limit": 500}
        r = await cal.get(f"/clients/{client_id}/calendar/week", params=week, headers=headers)
        assert r.status_code == 200, r.text
        slots += r.json()
    return tenant, headers, client_id, slots


def published(tenant: str, slot: dict[str, Any], post_id: str) -> PostPublished:
    at = datetime.fromisoformat(slot["at"])
    return PostPublished.new(
        producer="calendar", tenant_id=tenant, client_id=slot["client_id"], post_id=post_id,
        slot_id=slot["slot_id"], platform=slot["platform"], scheduled_at=at,
        platform_post_id=f"pp-{post_id}", published_at=at + timedelta(seconds=1), attempts=1,
        pillar=slot["pillar"], content_type=slot["content_type"] or "post", stage=slot["stage"],
    )  # fmt: skip


def week_of(slot: dict[str, Any]) -> date:
    day = date.fromisoformat(slot["local_date"])
    return day - timedelta(days=day.weekday())


async def test_report_dropped_event_and_gauge(platform: Platform) -> None:
    tenant, headers, client_id, slots = await setup(platform)
    cal = platform.http["calendar"]
    planned = [s for s in slots if s["kind"] != "reactive"]
    assert len({week_of(s) for s in planned}) == 4
    # week 1: every planned slot published; week 2: Instagram only; week 3: nothing;
    # week 4: every slot, plus one Instagram post without a slot (an extra)
    chosen = [s for s in planned if week_of(s) in (MONDAYS[0], MONDAYS[3])]
    chosen += [s for s in planned if week_of(s) == MONDAYS[1] and s["platform"] == "instagram"]
    extra = next(s for s in planned if week_of(s) == MONDAYS[3] and s["platform"] == "instagram")
    events = [published(tenant, s, f"post-{i}") for i, s in enumerate(chosen)]
    events.append(published(tenant, extra | {"slot_id": None}, "post-extra"))
    for event in events:
        await platform.send(topics.POST_LIFECYCLE, event)
    await platform.send(topics.POST_LIFECYCLE, events[0])  # a replay counts once
    read_model = platform.db("calendar")[PUBLISHED]

    async def recorded() -> bool:
        return await read_model.count_documents({"tenant_id": tenant}) == len(events)

    await eventually(recorded)

    # the expected figures, counted here from the calendar's own week views
    plan = Counter((week_of(s), s["platform"]) for s in planned)
    done = Counter((week_of(s), s["platform"]) for s in chosen)
    done[(MONDAYS[3], "instagram")] += 1
    kept = {k: min(n, done[k]) for k, n in plan.items()}
    platforms = {p for _, p in plan}
    weeks_met = sum(all(done[(m, p)] >= plan[(m, p)] for p in platforms) for m in MONDAYS)
    adherence = (Decimal(sum(kept.values())) / sum(plan.values())).quantize(Decimal("0.0001"))

    march = {"from": "2027-03-01", "to": "2027-03-29", "as_of": "2027-03-29T10:00:00Z"}
    r = await cal.get(f"/clients/{client_id}/adherence", params=march, headers=headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["start"], report["end"]) == ("2027-03-01", "2027-03-29")
    assert [w["week"] for w in report["weeks"]] == ["2027-W09", "2027-W10", "2027-W11", "2027-W12"]
    totals = report["totals"]
    assert totals["planned"] == sum(plan.values())
    assert totals["published"] == len(events)
    assert totals["kept"] == sum(kept.values()) == len(chosen)  # the extra kept nothing more
    assert totals["upcoming"] == 0
    assert Decimal(totals["adherence"]) == adherence
    assert weeks_met == 2 and totals["weeks_met"] == 2 and totals["weeks_planned"] == 4
    assert Decimal(totals["consistency"]) == Decimal("0.5")
    w2 = {p["platform"]: p for p in report["weeks"][1]["platforms"]}
    assert w2["instagram"]["met"] is True and w2["facebook"]["met"] is False
    assert w2["facebook"]["published"] == 0 and w2["facebook"]["adherence"] == "0.0000"
    # the mix: Recipes' share of the published posts against the strategy's 40 %
    recipes = sum(e.pillar == "Recipes" for e in events)
    achieved = (Decimal(100) * recipes / len(events)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    row = next(p for p in report["mix"]["pillar"] if p["name"] == "Recipes")
    assert (row["published"], Decimal(row["achieved_pct"]), Decimal(row["target_pct"])) == (
        recipes, achieved, Decimal(40))  # fmt: skip
    assert Decimal(row["gap_pct"]) == achieved - 40
    assert report["strategy"]["version"] == 1

    # judged on 2027-03-29: the last 4 complete weeks are exactly these; below 0.8 -> one drop
    monitor = platform.apps["calendar"].state.adherence.monitor
    monday_after = datetime(2027, 3, 29, 10, tzinfo=UTC)
    assert adherence < Decimal("0.8")
    for _ in range(3):  # evaluating again (sweeps, late posts) announces nothing new
        await monitor.evaluate(tenant, client_id, "Europe/Berlin", now=monday_after)
    await cal.put(f"/clients/{client_id}/adherence/threshold", json={"threshold": "0.1"},
                  headers=headers)  # fmt: skip
    await monitor.evaluate(tenant, client_id, "Europe/Berlin", now=monday_after)  # back above
    r = await cal.put(f"/clients/{client_id}/adherence/threshold", json={"threshold": "0.95"},
                      headers=headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["threshold"] == "0.95"
    await monitor.evaluate(tenant, client_id, "Europe/Berlin", now=monday_after)  # drops again
    records = await platform.read_topic(topics.ADHERENCE, expect=3, timeout=5)
    drops = [AdherenceDropped.model_validate_json(r.value) for r in records]
    assert [d.threshold for d in drops] == [Decimal("0.8"), Decimal("0.95")]
    assert all(d.adherence == adherence and d.client_id == client_id for d in drops)
    assert drops[0].weeks == ("2027-W09", "2027-W10", "2027-W11", "2027-W12")
    assert (drops[0].planned, drops[0].published) == (sum(plan.values()), len(events))

    # the sweep judges every client; the gauge counts this tenant's clients below, by tenant
    assert await monitor.sweep(now=monday_after) >= 1
    exposition = (await cal.get("/metrics")).text
    line = f'socialops_calendar_adherence_clients_below_threshold{{tenant="{tenant}"}} 1.0'
    assert line in exposition
    family = [x for x in exposition.splitlines()
              if x.startswith("socialops_calendar_adherence_clients_below_threshold{")]  # fmt: skip
    assert family and all(x.split("{")[1].startswith('tenant="') and x.count("=") == 1
                          for x in family)  # bounded: the tenant is the only label  # fmt: skip


async def test_bad_ranges_and_other_agencies_are_refused(platform: Platform) -> None:
    _, headers = await platform.new_agency()
    _, other_headers = await platform.new_agency("Other")
    cal = platform.http["calendar"]
    client_id = (await cal.post("/clients", json={"name": "B"}, headers=headers)).json()[
        "client_id"
    ]
    url = f"/clients/{client_id}/adherence"
    r = await cal.get(url, params={"from": "2027-03-08", "to": "2027-03-01"}, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "to"]
    r = await cal.get(url, params={"from": "2025-01-01", "to": "2027-03-01"}, headers=headers)
    assert r.status_code == 422 and "at most 53 weeks" in r.json()["detail"][0]["msg"]
    r = await cal.put(f"{url}/threshold", json={"threshold": "1.5"}, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "threshold"]
    assert (await cal.get(url, headers=other_headers)).status_code == 404
    assert (await cal.get(url)).status_code == 401
    r = await cal.get(url, headers=headers)  # default: the last 4 complete weeks, none planned
    assert r.status_code == 200 and r.json()["totals"]["adherence"] is None
    assert len(r.json()["weeks"]) == 4
    r = await cal.get(url, params={"as_of": "2027-03-01T00:00:00"}, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "as_of"]


async def test_one_process_sweeps_per_interval(platform: Platform) -> None:
    repo = platform.apps["calendar"].state.adherence.repo
    hour = timedelta(hours=1)
    t0 = datetime.now(UTC) + 10 * hour  # after the lease this app's own sweep took at start
    assert await repo.claim_sweep(owner="a", now=t0, until=t0 + hour)
    assert not await repo.claim_sweep(owner="b", now=t0 + hour / 2, until=t0 + 2 * hour)
    assert await repo.claim_sweep(owner="b", now=t0 + hour, until=t0 + 2 * hour)
    assert not await repo.claim_sweep(owner="a", now=t0 + hour, until=t0 + 2 * hour)


async def test_a_bad_published_event_is_dead_lettered_by_the_calendar(platform: Platform) -> None:
    tenant, _ = await platform.new_agency()
    payload = {"event_type": "PostPublished", "tenant_id": tenant, "producer": "calendar",
               "client_id": "c", "post_id": "p", "platform": "instagram",
               "scheduled_at": "2027-03-01T09:00:00+00:00"}  # fmt: skip
    await platform.send(topics.POST_LIFECYCLE, json.dumps(payload).encode())

    async def from_calendar() -> list[str]:
        records = await platform.read_topic(topics.dlq(topics.POST_LIFECYCLE), expect=9,
                                            timeout=1)  # fmt: skip
        return [
            h["x-dlq-reason"]
            for r in records
            if (h := {k: v.decode() for k, v in r.headers})["x-dlq-service"] == "calendar"
        ]

    reasons = await eventually(from_calendar)
    assert all("platform_post_id" in reason for reason in reasons)
