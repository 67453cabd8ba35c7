"""API keys and tenant isolation over HTTP, request validation, health and metrics routes."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_body, budget_knows

PROTECTED = [
    ("calendar", "GET", "/clients"),
    ("calendar", "POST", "/clients"),
    ("budget", "GET", "/budgets"),
    ("metrics", "POST", "/observations"),
    ("metrics", "GET", "/clients/cl-1/observations"),
    ("audit", "GET", "/clients/cl-1/summary"),
]


@pytest.mark.parametrize(("service", "method", "path"), PROTECTED)
async def test_every_route_needs_a_valid_key(
    platform: Platform, service: str, method: str, path: str
) -> None:
    http = platform.http[service]
    missing = await http.request(method, path, json={})
    wrong = await http.request(method, path, json={}, headers={"X-API-Key": "sok_not-a-key"})
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "API key" in wrong.json()["detail"]


async def test_health_routes_are_open_and_ready(platform: Platform) -> None:
    for service, http in platform.http.items():
        assert (await http.get("/healthz")).json()["service"] == service
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": True, "broker": True}


async def test_an_agency_never_sees_another_agencys_data(platform: Platform) -> None:
    alice_tenant, alice = await platform.new_agency("Alice Agency")
    _, bob = await platform.new_agency("Bob Agency")
    cal, budget = platform.http["calendar"], platform.http["budget"]

    client_id = (await cal.post("/clients", json={"name": "Alice's brand"}, headers=alice)).json()[
        "client_id"
    ]
    r = await cal.post(
        f"/clients/{client_id}/posts",
        json={"platform": "linkedin", "scheduled_at": "2026-12-02T10:00:00Z"},
        headers=alice,
    )
    assert r.status_code == 201
    await budget_knows(platform, alice_tenant, client_id)
    budget_id = (await budget.post("/budgets", json=budget_body(client_id), headers=alice)).json()[
        "budget_id"
    ]

    assert (await cal.get("/clients", headers=bob)).json() == []
    assert (await cal.get(f"/clients/{client_id}/posts", headers=bob)).status_code == 404
    denied = await cal.post(
        f"/clients/{client_id}/posts",
        json={"platform": "x", "scheduled_at": "2026-12-02T10:00:00Z"},
        headers=bob,
    )
    assert denied.status_code == 404
    assert (await budget.get(f"/budgets/{budget_id}", headers=bob)).status_code == 404
    assert (await budget.get("/budgets", headers=bob)).json() == []
    # and Alice still sees her own
    assert len((await cal.get("/clients", headers=alice)).json()) == 1
    assert (await budget.get(f"/budgets/{budget_id}", headers=alice)).status_code == 200


async def test_bad_bodies_get_4xx_naming_field_and_reason(platform: Platform) -> None:
    _, headers = await platform.new_agency()
    cal = platform.http["calendar"]
    r = await cal.post("/clients", json={"name": "X", "timezone": "Mars/Olympus"}, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "timezone"]
    assert "IANA" in r.json()["detail"][0]["msg"]

    client_id = (
        await cal.post("/clients", json={"name": "Y", "timezone": "Europe/Berlin"}, headers=headers)
    ).json()["client_id"]
    gap = await cal.post(
        f"/clients/{client_id}/posts",
        json={"platform": "instagram", "scheduled_at": "2026-03-29T02:30:00"},
        headers=headers,
    )
    assert gap.status_code == 422
    assert "does not exist in Europe/Berlin" in gap.json()["detail"][0]["msg"]

    r = await platform.http["budget"].post(
        "/budgets",
        json={**budget_body(client_id), "limit": {"amount": "10", "currency": "EURO"}},
        headers=headers,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "currency"

    r = await platform.http["metrics"].post(
        "/observations",
        json={"observations": [{"tenant_id": "someone-else", "client_id": "c"}]},
        headers=headers,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "observations", 0, "tenant_id"]


async def test_metrics_route_shows_faststream_counters_rising(platform: Platform) -> None:
    _, headers = await platform.new_agency()
    cal = platform.http["calendar"]

    def published(text: str) -> float:
        total = 0.0
        for line in text.splitlines():
            if line.startswith("faststream_published_messages_total") and "posts.scheduled" in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    before = published((await cal.get("/metrics")).text)
    client_id = (await cal.post("/clients", json={"name": "Z"}, headers=headers)).json()[
        "client_id"
    ]
    await cal.post(
        f"/clients/{client_id}/posts",
        json={"platform": "youtube", "scheduled_at": "2026-12-03T10:00:00Z"},
        headers=headers,
    )

    async def rose() -> bool:
        return published((await cal.get("/metrics")).text) > before

    await eventually(rose)
