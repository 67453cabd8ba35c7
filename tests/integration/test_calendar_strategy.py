"""Strategies over HTTP on the real database and broker: versions with a readable diff,
`StrategyUpdated` on Kafka, bad input answered 422 naming the field, tenants isolated."""

from __future__ import annotations

import json

from shared import topics
from tests.integration.conftest import Platform
from tests.unit.calendar.strategies import strategy_body


async def _client(platform: Platform, headers: dict[str, str]) -> str:
    r = await platform.http["calendar"].post(
        "/clients", json={"name": "Tasty Bakery", "timezone": "Europe/Berlin"}, headers=headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["client_id"])


async def test_versions_diff_and_events(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    client_id = await _client(platform, headers)
    cal = platform.http["calendar"]

    created = await cal.post(f"/clients/{client_id}/strategies", json=strategy_body(),
                             headers=headers)  # fmt: skip
    assert created.status_code == 201, created.text
    sid = created.json()["strategy_id"]
    assert created.json()["version"] == 1
    assert created.json()["end"] == "2027-07-01"

    body = strategy_body()
    body["pillars"][0]["share"] = 30
    body["pillars"][1]["share"] = 40
    stale = await cal.put(f"/clients/{client_id}/strategies/{sid}", json=body,
                          headers=headers | {"If-Match": "7"})  # fmt: skip
    assert stale.status_code == 409
    updated = await cal.put(f"/clients/{client_id}/strategies/{sid}", json=body,
                            headers=headers | {"If-Match": "1"})  # fmt: skip
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2

    versions = await cal.get(f"/clients/{client_id}/strategies/{sid}/versions", headers=headers)
    assert [v["version"] for v in versions.json()] == [2, 1]
    first = await cal.get(f"/clients/{client_id}/strategies/{sid}/versions/1", headers=headers)
    assert first.json()["spec"]["pillars"][0]["share"] == "40"
    d = await cal.get(f"/clients/{client_id}/strategies/{sid}/diff?from=1", headers=headers)
    assert d.json()["lines"] == [
        "pillars[Behind the scenes].share: 30 -> 40",
        "pillars[Recipes].share: 40 -> 30",
    ]

    records = await platform.read_topic(topics.STRATEGIES, expect=2)
    events = sorted((json.loads(r.value) for r in records), key=lambda e: e["version"])
    assert [(e["event_type"], e["tenant_id"], e["version"]) for e in events] == [
        ("StrategyUpdated", tenant, 1),
        ("StrategyUpdated", tenant, 2),
    ]
    assert events[1]["previous_version"] == 1
    assert events[1]["changes"] == d.json()["lines"]
    assert records[0].key == f"{tenant}:{client_id}".encode()

    # another agency sees nothing: the same 404 as an id that does not exist
    _, other = await platform.new_agency("Other")
    for path in (f"/clients/{client_id}/strategies/{sid}",
                 f"/clients/{client_id}/strategies/{sid}/versions"):  # fmt: skip
        mine_missing = await cal.get(path.replace(sid, "st-missing"), headers=headers)
        theirs = await cal.get(path, headers=other)
        assert theirs.status_code == mine_missing.status_code == 404
    put = await cal.put(f"/clients/{client_id}/strategies/{sid}", json=body, headers=other)
    assert put.status_code == 404


async def test_bad_strategies_are_422_naming_the_field(platform: Platform) -> None:
    _, headers = await platform.new_agency()
    client_id = await _client(platform, headers)
    cal = platform.http["calendar"]
    url = f"/clients/{client_id}/strategies"

    shares = strategy_body()
    shares["stages"][0]["share"] = 10
    r = await cal.post(url, json=shares, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "stages"]
    assert "not 100 %" in r.json()["detail"][0]["msg"]

    r = await cal.post(url, json=strategy_body(holidays={"country": "QQ"}), headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "holidays"]
    assert "unknown country code 'QQ'" in r.json()["detail"][0]["msg"]

    never = strategy_body()
    never["platforms"][1]["frequency"] = {"rrules": ["FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31"]}
    r = await cal.post(url, json=never, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "platforms", 1, "frequency", "rrules", 0]
    assert "never fires" in r.json()["detail"][0]["msg"]

    pillar = strategy_body()
    pillar["series"][0]["pillar"] = "Memes"
    r = await cal.post(url, json=pillar, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body", "series", 0, "pillar"], "type": "value_error",
                                   "msg": "pillar 'Memes' is not in the strategy"}]  # fmt: skip

    assert (await cal.post(url, json=strategy_body())).status_code == 401
