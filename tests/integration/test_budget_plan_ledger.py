"""Issue 10 over HTTP on the real broker and database: a planned quarter for a client the
calendar announced, an append-only ledger booked once per idempotency key, conversion at the
agency's rate of the entry's date, thresholds and a day-of-week pacing alert published once,
and resuming a paused budget."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import topics
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_knows


async def _client(platform: Platform, tenant: str, headers: dict[str, str]) -> str:
    r = await platform.http["calendar"].post("/clients", json={"name": "Bakery"}, headers=headers)
    assert r.status_code == 201, r.text
    client_id = str(r.json()["client_id"])
    await budget_knows(platform, tenant, client_id)
    return client_id


def _quarter(client_id: str, **extra: Any) -> dict[str, Any]:
    """Five categories (staff time as hours x rate), 3,000.00 EUR in Q1 2026."""
    return {
        "client_id": client_id,
        "name": "Q1 social",
        "limit": {"amount": "3000.00", "currency": "EUR"},
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
        "allocations": [
            {"category": "paid_ads", "platform": "instagram",
             "amount": {"amount": "1200.00", "currency": "EUR"}},
            {"category": "tools", "amount": {"amount": "100.00", "currency": "EUR"}},
            {"category": "staff_hours", "hours": "20", "hourly_rate":
             {"amount": "45.50", "currency": "EUR"}},
            {"category": "design", "amount": {"amount": "500.00", "currency": "EUR"}},
            {"category": "test_budget", "amount": {"amount": "250.00", "currency": "EUR"}},
        ],
    } | extra  # fmt: skip


def _msgs(detail: Any) -> str:
    return json.dumps(detail)


async def test_plan_a_quarter_with_validation_and_versions(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    http = platform.http["budget"]
    r = await http.post("/budgets", json=_quarter("cl-nobody"), headers=headers)
    assert r.status_code == 404 and "cl-nobody" in r.json()["detail"]
    client_id = await _client(platform, tenant, headers)

    bad: list[tuple[dict[str, Any], str]] = [
        ({"limit": {"amount": "1.005", "currency": "EUR"}}, "limit.amount: 1.005 EUR has more "),
        ({"limit": {"amount": "3000.5", "currency": "JPY"}}, "JPY has minor units (0)"),
        ({"allocations": [{"category": "tools", "amount": {"amount": "-1", "currency": "EUR"}}]},
         "amount: -1 EUR must be 0 or more"),
        ({"allocations": [{"category": "tools", "amount": {"amount": "9", "currency": "USD"}}]},
         "allocations[0]: in USD, but the budget is in EUR"),
        ({"limit": {"amount": "2000.00", "currency": "EUR"}},
         "they add up to 2960.00 EUR, more than the limit 2000.00 EUR"),
    ]  # fmt: skip
    for override, reason in bad:
        r = await http.post("/budgets", json=_quarter(client_id, **override), headers=headers)
        assert r.status_code == 422 and reason in _msgs(r.json()), (override, r.text)
    r = await http.post("/budgets", json=_quarter(client_id, **bad[0][0]), headers=headers)
    assert r.json()["detail"][0]["loc"] == ["body", "limit"]  # the field, and why in msg

    # 1,200 + 100 + 20 x 45.50 (= 910.00) + 500 + 250 = 2,960.00 > 2,000: allowed as an overdraft
    over = _quarter(client_id, limit={"amount": "2000.00", "currency": "EUR"}, overdraft=True)
    r = await http.post("/budgets", json=over, headers=headers)
    assert r.status_code == 201, r.text
    first = r.json()
    staff = next(a for a in first["allocations"] if a["category"] == "staff_hours")
    assert staff["planned_amount"] == {"amount": "910.00", "currency": "EUR"}
    assert staff["id"] == "staff_hours"

    overlapping = _quarter(client_id, period_start="2026-03-01", period_end="2026-04-30")
    r = await http.post("/budgets", json=overlapping, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "period_start"]
    assert first["budget_id"] in r.json()["detail"][0]["msg"]

    plan = {"limit": {"amount": "3000.00", "currency": "EUR"},
            "allocations": _quarter(client_id)["allocations"], "note": "money added"}  # fmt: skip
    r = await http.put(f"/budgets/{first['budget_id']}/plan", json=plan, headers=headers)
    assert r.status_code == 200 and r.json()["version"] == 2 and not r.json()["overdraft"]
    versions = (await http.get(f"/budgets/{first['budget_id']}/versions", headers=headers)).json()
    assert [(v["version"], v["limit"]["amount"], v["replaced_because"]) for v in versions] == [
        (1, "2000.00", "money added")
    ]
    wrong = {"limit": {"amount": "3000", "currency": "USD"}}
    r = await http.put(f"/budgets/{first['budget_id']}/plan", json=wrong, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "limit", "currency"]


async def test_manual_entries_convert_at_the_rate_of_their_date_and_book_once(
    platform: Platform,
) -> None:
    tenant, headers = await platform.new_agency()
    http = platform.http["budget"]
    client_id = await _client(platform, tenant, headers)
    budget = (await http.post("/budgets", json=_quarter(client_id), headers=headers)).json()
    bid = budget["budget_id"]
    rates = "date,base,quote,rate\n2026-02-02,USD,EUR,0.9215\n2026-02-03,USD,EUR,0.9300\n"
    r = await http.post("/rates.csv", content=rates, headers=headers | {"content-type": "text/csv"})
    assert r.status_code == 200 and r.json() == {"stored": 2}

    invoice = {"idempotency_key": "inv-41", "spent_on": "2026-02-02", "category": "tools",
               "amount": {"amount": "49.00", "currency": "USD"}}  # fmt: skip
    r = await http.post(f"/budgets/{bid}/entries", json=invoice, headers=headers)
    assert r.status_code == 201, r.text
    entry = r.json()
    # 49.00 x 0.9215 = 45.1535 -> 45.15 EUR; the rate of 2 Feb, not of 3 Feb (0.9300)
    assert (entry["amount"], entry["rate"], entry["rate_date"]) == ("45.15", "0.9215", "2026-02-02")
    assert entry["original"] == {"amount": "49.00", "currency": "USD"}
    assert entry["allocation_id"] == "tools"
    again = await http.post(f"/budgets/{bid}/entries", json=invoice, headers=headers)
    assert again.status_code == 200 and again.json()["entry_id"] == entry["entry_id"]

    missing = invoice | {"idempotency_key": "inv-42", "spent_on": "2026-02-04"}
    r = await http.post(f"/budgets/{bid}/entries", json=missing, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "amount", "currency"]
    assert "no USD->EUR rate for 2026-02-04" in r.json()["detail"][0]["msg"]
    precise = invoice | {"idempotency_key": "x", "amount": {"amount": "1.005", "currency": "EUR"}}
    r = await http.post(f"/budgets/{bid}/entries", json=precise, headers=headers)
    assert r.status_code == 422 and "1.005 EUR has more decimals" in _msgs(r.json())

    csv_text = (
        "idempotency_key,spent_on,amount,currency,category,description\n"
        "des-1,2026-02-03,300.00,EUR,design,logo\n"
        "tool-2,2026-02-03,10.00,USD,tools,plugin\n"
    )
    for _ in range(2):
        r = await http.post(f"/budgets/{bid}/entries.csv", content=csv_text,
                            headers=headers | {"content-type": "text/csv"})  # fmt: skip
        assert r.status_code == 200, r.text
    assert r.json() == {"rows": 2, "booked": 0, "already_booked": 2}
    bad_csv = csv_text.replace("des-1,2026-02-03,300.00", "des-9,2026-02-03,3.001")
    r = await http.post(f"/budgets/{bid}/entries.csv", content=bad_csv,
                        headers=headers | {"content-type": "text/csv"})  # fmt: skip
    assert r.status_code == 422 and "row 1." in _msgs(r.json())

    # 45.15 + 300.00 + 10.00 x 0.9300 (= 9.30): booked once each despite the replays
    body = (await http.get(f"/budgets/{bid}", headers=headers)).json()
    assert body["spent"]["amount"] == "354.45"
    assert body["allocation_spent"] == {"tools": "54.45", "design": "300.00"}

    r = await http.post(f"/budgets/{bid}/entries/{entry['entry_id']}/reverse",
                        json={"reason": "billed twice by the vendor"}, headers=headers)  # fmt: skip
    assert r.status_code == 201 and r.json()["amount"] == "-45.15"
    r = await http.post(f"/budgets/{bid}/entries/{entry['entry_id']}/reverse",
                        json={"reason": "again"}, headers=headers)  # fmt: skip
    assert r.status_code == 200
    ledger = (await http.get(f"/budgets/{bid}/entries", headers=headers)).json()
    assert len(ledger) == 4  # nothing edited: the invoice stays, its reversal is added
    body = (await http.get(f"/budgets/{bid}", headers=headers)).json()
    assert body["spent"]["amount"] == "309.30"
    # tools 54.45 of 100.00 and design 300.00 of 500.00 each crossed 50 % once; the reversal
    # takes tools below 50 % without raising anything again
    alerts = await platform.read_topic(topics.BUDGET_ALERTS, expect=3, timeout=5)
    crossed = sorted(
        (e["event_type"], e["allocation_id"], e["threshold_pct"])
        for e in (json.loads(a.value) for a in alerts)
    )
    assert crossed == [
        ("BudgetAllocationThresholdCrossed", "design", 50),
        ("BudgetAllocationThresholdCrossed", "tools", 50),
    ]


async def test_day_of_week_pacing_warns_once_before_the_money_is_gone_then_resume(
    platform: Platform,
) -> None:
    """Period: 9 days ago .. 20 days ahead (30 days); all spend today. Today's weekday was seen
    twice (today, a week ago), and comes twice more (+7, +14 days): the day-of-week model
    projects spent + 2 x spent/2 = 2 x spent, where linear projects spent / 10 x 30."""
    tenant, headers = await platform.new_agency()
    http = platform.http["budget"]
    client_id = await _client(platform, tenant, headers)
    today = datetime.now(UTC).date()
    body = {"client_id": client_id, "name": "month", "limit": {"amount": "1000.00",
            "currency": "EUR"}, "period_start": (today - timedelta(days=9)).isoformat(),
            "period_end": (today + timedelta(days=20)).isoformat()}  # fmt: skip
    bid = (await http.post("/budgets", json=body, headers=headers)).json()["budget_id"]

    async def spend(key: str, amount: str) -> None:
        entry = {"idempotency_key": key, "spent_on": today.isoformat(),
                 "amount": {"amount": amount, "currency": "EUR"}}  # fmt: skip
        r = await http.post(f"/budgets/{bid}/entries", json=entry, headers=headers)
        assert r.status_code in (200, 201), r.text

    await spend("a", "400.00")  # linear 1,200 would warn; day-of-week says 800: no warning
    pacing = (await http.get(f"/budgets/{bid}/pacing", headers=headers)).json()
    total = pacing["scopes"][0]
    assert (total["projected_linear"], total["projected_day_of_week"], total["over"]) == (
        "1200.00",
        "800.00",
        False,
    )
    await spend("b", "200.00")  # 600 spent: 1,200 projected > 1,000, with 400 still left
    await spend("b", "200.00")  # a replay
    await spend("c", "50.00")  # still over: no second alert
    alerts = await platform.read_topic(topics.BUDGET_ALERTS, expect=2, timeout=8)
    paced = [json.loads(a.value) for a in alerts]
    assert [(p["event_type"], p["projected"]["amount"]) for p in paced] == [
        ("BudgetPacingAlert", "1200.00")
    ]
    crossings = await platform.read_topic(topics.BUDGET_THRESHOLDS, expect=2, timeout=5)
    assert [json.loads(c.value)["threshold_pct"] for c in crossings] == [50]

    await spend("d", "400.00")  # 1,050: 80 and 100 %, paid posts paused
    crossings = await platform.read_topic(topics.BUDGET_THRESHOLDS, expect=4, timeout=8)
    assert [json.loads(c.value)["threshold_pct"] for c in crossings] == [50, 80, 100]
    r = await http.post(f"/budgets/{bid}/resume", json={"reason": "more"}, headers=headers)
    assert r.status_code == 409 and "raise the limit first" in r.json()["detail"]
    plan = {"limit": {"amount": "2000.00", "currency": "EUR"}, "note": "client added 1,000"}
    assert (await http.put(f"/budgets/{bid}/plan", json=plan, headers=headers)).status_code == 200
    r = await http.post(f"/budgets/{bid}/resume", json={"reason": "Q topped up"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["crossed_pct"] == [50]  # 1,050 of 2,000 = 52.5 %: 80 and 100 re-armed
    resumed = await platform.read_topic(topics.BUDGET_RESUMPTIONS, expect=1)
    event = json.loads(resumed[0].value)
    assert (event["event_type"], event["budget_id"], event["client_id"], event["reason"]) == (
        "BudgetResumed",
        bid,
        client_id,
        "Q topped up",
    )
    await spend("e", "600.00")  # 1,650 of 2,000: 80 % again, with a new event id
    # asking for one more than expected: nothing else was published
    crossings = await platform.read_topic(topics.BUDGET_THRESHOLDS, expect=5, timeout=8)
    assert [json.loads(c.value)["threshold_pct"] for c in crossings] == [50, 80, 100, 80]
    # pacing re-armed by the resume: 1,650 all today projects 2 x 1,650 = 3,300 > 2,000, once
    await spend("f", "10.00")  # 1,660: still over, no third alert
    alerts = await platform.read_topic(topics.BUDGET_ALERTS, expect=3, timeout=8)
    paced = [json.loads(a.value) for a in alerts]
    assert [(p["event_type"], p["projected"]["amount"]) for p in paced] == [
        ("BudgetPacingAlert", "1200.00"),
        ("BudgetPacingAlert", "3300.00"),
    ]


async def test_underspend_at_the_check_point_is_published_once(platform: Platform) -> None:
    """A 20-day budget checked at 50 %: 11 days elapsed, 1,000.00 x 11 / 20 = 550.00 expected;
    100.00 spent is under 50 % of that (275.00): BudgetUnderspent, once over two sweeps."""
    from services.budget import underspend  # noqa: PLC0415 (the sweep the service runs)

    tenant, headers = await platform.new_agency()
    http = platform.http["budget"]
    client_id = await _client(platform, tenant, headers)
    today = datetime.now(UTC).date()
    body = {"client_id": client_id, "name": "m", "limit": {"amount": "1000.00",
            "currency": "EUR"}, "period_start": (today - timedelta(days=10)).isoformat(),
            "period_end": (today + timedelta(days=9)).isoformat()}  # fmt: skip
    bid = (await http.post("/budgets", json=body, headers=headers)).json()["budget_id"]
    entry = {"idempotency_key": "k", "spent_on": today.isoformat(),
             "amount": {"amount": "100.00", "currency": "EUR"}}  # fmt: skip
    assert (await http.post(f"/budgets/{bid}/entries", json=entry, headers=headers)).is_success
    state = platform.apps["budget"].state
    assert await underspend.sweep(runtime=state.runtime, repo=state.repo) == 1
    assert await underspend.sweep(runtime=state.runtime, repo=state.repo) == 0
    alerts = await platform.read_topic(topics.BUDGET_ALERTS, expect=2, timeout=6)
    events = [json.loads(a.value) for a in alerts]
    assert [(e["event_type"], e["expected"]["amount"], e["spent"]["amount"]) for e in events] == [
        ("BudgetUnderspent", "550.00", "100.00")
    ]


async def test_threshold_and_pacing_fire_once_across_a_restart(platform: Platform) -> None:
    """Spend from MetricsIngested crosses 50 % and paces over the limit; a new budget process
    (same database and consumer group) then gets the same event again and the same line in a
    new event: nothing is booked twice and neither alert is published again."""
    from services.budget.app import create_app  # noqa: PLC0415 (a second process, in process)
    from shared.events import MetricsIngested  # noqa: PLC0415

    tenant, headers = await platform.new_agency()
    http = platform.http["budget"]
    client_id = await _client(platform, tenant, headers)
    now = datetime.now(UTC)
    today = now.date()
    body = {"client_id": client_id, "name": "m", "limit": {"amount": "1000.00",
            "currency": "EUR"}, "period_start": (today - timedelta(days=9)).isoformat(),
            "period_end": (today + timedelta(days=20)).isoformat()}  # fmt: skip
    body["thresholds_pct"] = [50, 100]
    bid = (await http.post("/budgets", json=body, headers=headers)).json()["budget_id"]

    def ingested(obs: str, amount: str) -> MetricsIngested:
        line = {"observation_id": obs, "client_id": client_id, "platform": "instagram",
                "amount": amount, "currency": "EUR", "observed_at": now.isoformat()}  # fmt: skip
        return MetricsIngested.new(producer="tests", tenant_id=tenant, observations=1,
                                   spend=[line])  # fmt: skip

    async def spent(amount: str) -> bool:
        got = (await http.get(f"/budgets/{bid}", headers=headers)).json()["spent"]["amount"]
        return bool(got == amount)

    first = ingested("obs-1", "600.00")  # 60 %; day-of-week projection 1,200.00 > 1,000.00
    await platform.send(topics.METRICS_INGESTED, first)
    await eventually(lambda: spent("600.00"))

    settings = platform.apps["budget"].state.runtime.settings
    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        await platform.send(topics.METRICS_INGESTED, first)  # the same event again
        await platform.send(topics.METRICS_INGESTED, ingested("obs-1", "600.00"))  # re-ingested
        await platform.send(topics.METRICS_INGESTED, ingested("obs-2", "10.00"))  # new spend
        await eventually(lambda: spent("610.00"))
    crossings = await platform.read_topic(topics.BUDGET_THRESHOLDS, expect=2, timeout=6)
    assert [json.loads(c.value)["threshold_pct"] for c in crossings] == [50]
    alerts = await platform.read_topic(topics.BUDGET_ALERTS, expect=2, timeout=4)
    assert [json.loads(a.value)["event_type"] for a in alerts] == ["BudgetPacingAlert"]


async def test_an_allocation_for_a_platform_the_strategy_does_not_use_is_a_warning(
    platform: Platform,
) -> None:
    from shared.events import StrategyUpdated  # noqa: PLC0415

    tenant, headers = await platform.new_agency()
    client_id = await _client(platform, tenant, headers)
    await platform.send(topics.STRATEGIES, StrategyUpdated.new(
        producer="calendar", tenant_id=tenant, client_id=client_id, strategy_id="st-1",
        version=1, period="quarter", start="2026-01-01", end="2026-04-01",
        platforms=["instagram", "linkedin"],
    ))  # fmt: skip
    stored = platform.db("budget")["strategy_platforms"]

    async def learned() -> bool:
        return await stored.find_one({"_id": f"{tenant}|st-1"}) is not None

    await eventually(learned)
    body = _quarter(client_id)
    body["allocations"][4]["platform"] = "tiktok"  # test budget on a platform not in the plan
    r = await platform.http["budget"].post("/budgets", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["warnings"] == [
        "allocations[4].platform: tiktok is not used by the client's strategy (instagram, linkedin)"
    ]


async def test_ad_spend_in_the_ad_accounts_currency_converts_at_that_days_rate(
    platform: Platform,
) -> None:
    """A USD ad account spends on 2026-02-02 and 2026-02-04 against an EUR budget: the first
    line converts at 2 Feb's rate (12.00 x 0.9215 = 11.058 -> 11.06), the second has no rate
    for its day and is dead-lettered, not guessed."""
    from shared.events import MetricsIngested  # noqa: PLC0415

    tenant, headers = await platform.new_agency()
    http = platform.http["budget"]
    client_id = await _client(platform, tenant, headers)
    bid = (await http.post("/budgets", json=_quarter(client_id), headers=headers)).json()[
        "budget_id"
    ]
    rates = [{"date": "2026-02-02", "base": "USD", "quote": "EUR", "rate": "0.9215"},
             {"date": "2026-02-03", "base": "USD", "quote": "EUR", "rate": "0.9300"}]  # fmt: skip
    assert (await http.post("/rates", json=rates, headers=headers)).json() == {"stored": 2}
    lines = [{"observation_id": f"obs-{day}", "client_id": client_id, "platform": "instagram",
              "amount": "12.00", "currency": "USD", "observed_at": f"2026-02-0{day}T10:00:00Z"}
             for day in (2, 4)]  # fmt: skip
    event = MetricsIngested.new(producer="tests", tenant_id=tenant, observations=2, spend=lines)
    await platform.send(topics.METRICS_INGESTED, event)
    dead = await platform.read_topic(topics.dlq(topics.METRICS_INGESTED), expect=1)
    assert "obs-4" in json.loads(dead[0].value)["spend"][0]["observation_id"]

    async def booked() -> list[dict[str, Any]]:
        # the good line is booked apart from the dead-lettered one: it may land just after
        return (await http.get(f"/budgets/{bid}/entries", headers=headers)).json()  # type: ignore[no-any-return]

    entries = await eventually(booked)
    assert [(e["amount"], e["rate"], e["rate_date"], e["original"]) for e in entries] == [
        ("11.06", "0.9215", "2026-02-02", {"amount": "12.00", "currency": "USD"})
    ]
    assert entries[0]["allocation_id"] == "paid_ads:instagram"
