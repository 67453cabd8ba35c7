"""`POST /observations` over the real app, broker and database, fed generated bodies: no body
gives a 5xx, every refusal is a 4xx and a 422 names its path under `body`; what is accepted
reaches the store."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Platform, eventually
from tests.unit.metrics.test_adapters_properties import json_values
from tests.unit.metrics.test_observations_properties import VALID, mutated

bodies = (
    st.fixed_dictionaries({"observations": st.lists(mutated() | json_values, max_size=3)})
    | json_values
)


async def test_generated_bodies_never_answer_5xx(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    http = platform.http["metrics"]
    json_headers = {**headers, "content-type": "application/json"}
    accepted: set[str] = set()
    statuses: list[int] = []

    # Hypothesis draws the bodies (its runner is synchronous); each is then posted for real.
    drawn: list[Any] = []

    @settings(
        max_examples=80,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(body=bodies)
    def draw(body: Any) -> None:  # fmt: skip
        drawn.append(copy.deepcopy(body))

    draw()
    for body in drawn:
        try:  # JSON has no NaN or infinity: a client cannot send them either
            content = json.dumps(body, allow_nan=False)
        except ValueError:
            continue
        r = await http.post("/observations", content=content, headers=json_headers)
        statuses.append(r.status_code)
        assert r.status_code < 500, (body, r.text)
        if r.status_code == 202:
            accepted.update(r.json()["event_ids"])
        else:
            assert 400 <= r.status_code < 500, (body, r.text)
        if r.status_code == 422:
            for error in r.json()["detail"]:
                assert error["loc"][0] == "body" and error["msg"], error

    # A valid observation always gets through, and every accepted one is stored.
    r = await http.post("/observations", json={"observations": [VALID]}, headers=headers)
    assert r.status_code == 202, r.text
    accepted.update(r.json()["event_ids"])

    async def all_stored() -> bool:
        ids = {d["_id"] for d in await platform.observations(tenant)}
        return accepted <= ids

    await eventually(all_stored, timeout=30)
    assert 422 in statuses
