"""One agency's real entities, one of each kind a route path names, created over HTTP the way
a user would: the harnesses fix these path ids so generated cases get past the 404."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_body, budget_knows
from tests.unit.calendar.strategies import strategy_body


def _ok(r: Any, *statuses: int) -> Any:
    assert r.status_code in (statuses or (200, 201)), (r.request.url, r.status_code, r.text)
    return r.json()


async def real_ids(platform: Platform, tenant: str, headers: dict[str, str]) -> dict[str, str]:
    """Path parameter name -> an id of this agency (client announced to budget and audit)."""
    cal, metrics, budget = (platform.http[s] for s in ("calendar", "metrics", "budget"))
    client_id = _ok(await cal.post("/clients", json={"name": "Fuzz"}, headers=headers))["client_id"]
    ids = {"client_id": client_id}
    base = f"/clients/{client_id}"
    strategy = _ok(await cal.post(f"{base}/strategies", json=strategy_body(), headers=headers))
    ids["strategy_id"] = strategy["strategy_id"]
    window = {"strategy_id": strategy["strategy_id"], "start": "2027-01-01", "end": "2027-02-01"}
    _ok(await cal.post(f"{base}/calendar/generate", json=window, headers=headers))
    slots = _ok(await cal.get(f"{base}/calendar/month?date=2027-01-01&limit=2", headers=headers))
    ids["slot_id"] = slots[0]["slot_id"]
    post = {"platform": "instagram", "scheduled_at": "2027-03-01T09:00:00Z"}
    ids["post_id"] = _ok(await cal.post(f"{base}/posts", json=post, headers=headers))["post_id"]
    ids["entity_id"] = ids["post_id"]  # GET /activity?entity_id= (any logged entity's id)
    feed = _ok(await cal.post(f"{base}/feeds", headers=headers))
    ids["feed_id"], ids["token"] = feed["feed_id"], feed["token"]
    hook = {"url": "https://hooks.example.com/socialops", "event_types": ["PostPublished"]}
    ids["subscription_id"] = _ok(await cal.post("/webhooks", json=hook, headers=headers))[
        "subscription_id"
    ]

    # A second key, never the one the harness sends: fuzzed rotations and the revocation the
    # harness sorts last act on it, so the harness's own key keeps working.
    spare = {"name": "Fuzz spare", "role": "editor", "clients": [client_id]}
    ids["key_id"] = _ok(await cal.post("/keys", json=spare, headers=headers))["record"]["key_id"]

    now = datetime.now(UTC)
    goal = {
        "client_id": client_id,
        "name": "Followers",
        "metric": "followers",
        "platform": "instagram",
        "baseline": "1000",
        "target_value": "1100",
        "start": (now - timedelta(days=2)).isoformat(),
        "deadline": (now + timedelta(days=3)).isoformat(),
    }
    ids["goal_id"] = _ok(await metrics.post("/goals", json=goal, headers=headers))["goal_id"]

    await budget_knows(platform, tenant, client_id)
    own = {"platform": "instagram", "account_id": f"@fuzz-{uuid.uuid4().hex[:8]}", "owned": True}

    async def audited() -> bool:  # the audit service learns the client from Kafka too
        r = await platform.http["audit"].put(
            f"{base}/audit/accounts", json={"accounts": [own]}, headers=headers
        )
        return r.status_code == 200

    await eventually(audited)
    ids["account_id"] = own["account_id"]
    ids["budget_id"] = _ok(
        await budget.post("/budgets", json=budget_body(client_id), headers=headers)
    )["budget_id"]
    entry = {"idempotency_key": "fuzz-1", "spent_on": "2026-02-02",
             "amount": {"amount": "10.00", "currency": "EUR"}}  # fmt: skip
    ids["entry_id"] = _ok(
        await budget.post(f"/budgets/{ids['budget_id']}/entries", json=entry, headers=headers)
    )["entry_id"]
    return ids
