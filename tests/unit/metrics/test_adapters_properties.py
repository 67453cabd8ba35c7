"""Property tests over every adapter: whatever JSON arrives (documented payloads with one part
changed or removed, or anything at all), the only failures are a pydantic ValidationError or a
PayloadError naming its path, and through `ingest` a refusal whose every error names the part
of the body (context, options, payload) and the path in it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.metrics.adapters import (
    REGISTRY,
    IngestRejectedError,
    ObservationContext,
    PayloadError,
    ingest,
)

PLATFORM_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "platforms"
CONTEXT = ObservationContext(
    tenant_id="agency-1", client_id="acme", account_id="acct-1",
    observed_at=datetime(2025, 11, 20, 9, 30, tzinfo=UTC),
)  # fmt: skip
RAW_CONTEXT = {"client_id": "acme", "account_id": "acct-1", "observed_at": "2025-11-20T09:30Z"}

FIXTURES = {
    "instagram_insights": ["instagram_reel_insights", "instagram_account_insights_day",
                           "instagram_account_insights_total_value",
                           "instagram_post_insights_legacy"],
    "instagram_fields": ["instagram_user", "instagram_media_fields"],
    "facebook_insights": ["facebook_page_insights", "facebook_page_insights_legacy",
                          "facebook_post_insights"],
    "x_posts": ["x_tweet", "x_tweets", "x_tweets_organic_promoted"],
    "x_user": ["x_user"],
    "tiktok_videos": ["tiktok_videos"],
    "tiktok_user": ["tiktok_user"],
    "youtube_report": ["youtube_report_day", "youtube_report_video"],
    "youtube_statistics": ["youtube_channel_statistics", "youtube_video_statistics",
                           "youtube_error"],
    "linkedin_share_statistics": ["linkedin_share_statistics", "linkedin_org_statistics_daily"],
    "meta_ads_insights": ["meta_ads_insights_daily", "meta_ads_insights_campaign_week"],
    "google_ads_search_stream": ["google_ads_search_stream"],
}  # fmt: skip
OPTIONS: list[dict[str, Any]] = [
    {}, {"entity_level": "account"}, {"entity_level": "post", "entity_id": "p1"},
    {"window_start": "2025-11-19T00:00:00Z"}, {"window": "day"},
    {"window": "week", "window_start": "2025-11-10T00:00:00-08:00"},
    {"account_timezone": "Asia/Tashkent"}, {"report_timezone": "Nowhere/City"},
    {"entity_level": 3}, {"unknown": True},
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=24)
    | st.sampled_from(["2025-13-01", "2025-03-09", "12", "1e30", "96.5", "-1", "ok", "day",
                       "lifetime", "urn:li:organization:1", "youtube#video", "EUR", "XTS",
                       "2024-11-04T08:00:00+0000", "2024-11-04T08:00:00", "lead"])
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=16), inner,
                                                               max_size=4),
    max_leaves=16,
)  # fmt: skip


def load(name: str) -> Any:
    return json.loads((PLATFORM_FIXTURES / f"{name}.json").read_text())


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, adapter: str) -> Any:
    """A documented payload of the adapter with one part replaced, removed or renamed."""
    payload = copy.deepcopy(load(draw(st.sampled_from(FIXTURES[adapter]))))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.sampled_from(paths(payload)))
        if not where:
            payload = draw(json_values)
            continue
        parent = payload
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "remove", "rename"]))
        key = where[-1]
        if action == "replace" or (isinstance(parent, list) and action == "rename"):
            parent[key] = draw(json_values)
        elif action == "remove":
            del parent[key]
        else:
            parent[draw(st.text(max_size=12))] = parent.pop(key)
    return payload


def check_refusal(errors: list[dict[str, Any]]) -> None:
    assert errors
    for error in errors:
        assert error["loc"][0] == "body"
        assert error["loc"][1] in ("context", "options", "payload")
        assert error["msg"]


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(REGISTRY))
@SETTINGS
@given(data=st.data())
def test_changed_documented_payloads_fail_only_with_a_path(name: str, data: st.DataObject) -> None:
    payload = data.draw(mutated(name))
    options = data.draw(st.sampled_from(OPTIONS[:1] + [o for o in OPTIONS if o]))
    adapter = REGISTRY[name]
    try:
        adapter.run(payload, context=CONTEXT, options={})
    except ValidationError:
        pass
    except PayloadError as e:
        assert isinstance(e.loc, tuple) and e.reason
    try:
        ingest(adapter, tenant_id="agency-1", context=RAW_CONTEXT, payload=payload,
               options=options)  # fmt: skip
    except IngestRejectedError as e:
        check_refusal(e.errors)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@SETTINGS
@given(payload=json_values, context=st.dictionaries(
    st.sampled_from(["client_id", "account_id", "observed_at", "post_id", "tenant_id",
                     "leads", "owned"]), json_values, max_size=4))  # fmt: skip
def test_any_json_fails_only_with_a_path(name: str, payload: Any, context: dict[str, Any]) -> None:
    try:
        ingest(REGISTRY[name], tenant_id="agency-1", context={**RAW_CONTEXT, **context},
               payload=payload, options={})  # fmt: skip
    except IngestRejectedError as e:
        check_refusal(e.errors)
