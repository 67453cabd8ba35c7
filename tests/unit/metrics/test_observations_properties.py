"""Property tests over `POST /observations`' parsing: whatever JSON arrives as the list of
observations (a valid observation with one part changed, removed or renamed, or anything at
all), the answer is the parsed events or a 422 whose every error names its path under
`body.observations.<index>`; nothing else escapes (no 5xx)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.metrics.api import parse_observations
from tests.unit.metrics.test_adapters_properties import json_values, paths

TENANT = "agency-1"
VALID: dict[str, Any] = {
    "client_id": "acme",
    "platform": "instagram",
    "account_id": "acct-1",
    "entity_level": "post",
    "entity_id": "p-1",
    "owned": True,
    "content_type": "reel",
    "window": "day",
    "window_start": "2025-11-19T00:00:00+01:00",
    "cumulative": False,
    "observed_at": datetime(2025, 11, 20, 9, 30, tzinfo=UTC).isoformat(),
    "source": {"api": "instagram_graph", "api_version": "v24.0", "kind": "poll"},
    "metrics": [{"name": "likes", "value": "12"}, {"name": "reach", "value": 90}],
    "spend": {"amount": "3.10", "currency": "EUR"},
    "leads": 2,
}
ODD = st.sampled_from([
    None, "", "12", 12.5, -1, 10**30, "1e1000000", "NaN", "Infinity", "2025-13-01",
    "2025-11-20T09:30:00", "9999-12-31T23:59:59Z", "lifetime", "fortnight", "XTS", "EUR",
    {"amount": "1.005", "currency": "JPY"}, [], {}, "x" * 300, "other-agency",
])  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """The valid observation with one to three parts replaced, removed or renamed."""
    item: Any = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.sampled_from(paths(item)))
        if not where:
            item = copy.deepcopy(draw(json_values | ODD))
            continue
        parent = item
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "remove", "rename", "odd"]))
        key = where[-1]
        if action == "odd":
            parent[key] = copy.deepcopy(draw(ODD))  # ODD's dicts are shared
        elif action == "replace" or (isinstance(parent, list) and action == "rename"):
            parent[key] = draw(json_values)
        elif action == "remove":
            del parent[key]
        else:
            parent[draw(st.text(max_size=12))] = parent.pop(key)
    return item


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(items=st.lists(mutated() | json_values, min_size=1, max_size=4))
def test_any_observation_list_parses_or_is_refused_with_paths(items: list[Any]) -> None:
    try:
        events = parse_observations(items, TENANT)
    except HTTPException as e:
        assert e.status_code == 422
        assert e.detail
        for error in e.detail:
            loc = error["loc"]
            assert loc[:2] == ["body", "observations"] and isinstance(loc[2], int)
            assert 0 <= loc[2] < len(items)
            assert error["msg"] and error["type"]
        return
    assert len(events) == len(items)
    assert all(e.tenant_id == TENANT for e in events)


def test_the_valid_observation_parses_and_a_wrong_tenant_is_named() -> None:
    [event] = parse_observations([VALID], TENANT)
    assert event.metrics[0].value == 12
    try:
        parse_observations([VALID, {**VALID, "tenant_id": "other"}], TENANT)
    except HTTPException as e:
        assert e.detail == [{"loc": ["body", "observations", 1, "tenant_id"],
                             "msg": "does not match your API key's agency",
                             "type": "value_error"}]  # fmt: skip
    else:
        raise AssertionError("another agency's tenant id was accepted")
