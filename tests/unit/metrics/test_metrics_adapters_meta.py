"""Instagram and Facebook adapters against recorded Graph API payload shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.metrics.adapters import (
    ObservationContext,
    PayloadError,
    facebook_insights,
    instagram_fields,
    instagram_insights,
)
from shared.events import AnalyticsObserved, EntityLevel, TimeWindow
from shared.money import Money

Load = Callable[[str], dict[str, Any]]


def values(observation: AnalyticsObserved) -> dict[str, Decimal]:
    return {m.name: m.value for m in observation.metrics}


def natives(observation: AnalyticsObserved) -> dict[str, str | None]:
    return {m.name: m.native_name for m in observation.metrics}


def test_instagram_reel_insights(payload: Load, context: ObservationContext) -> None:
    result = instagram_insights(payload("instagram_reel_insights"), context=context)

    [obs] = result.observations
    assert values(obs) == {
        "views": 4821, "reach": 3120, "likes": 412, "comments": 37, "shares": 58, "saves": 91,
        "watch_time_s": Decimal("28926.5"),
    }  # fmt: skip
    assert natives(obs)["saves"] == "saved"
    assert natives(obs)["watch_time_s"] == "ig_reels_video_view_total_time"
    assert obs.entity_id == "18031250123456789"
    assert obs.entity_level is EntityLevel.POST
    assert (obs.window, obs.window_start, obs.cumulative) == (TimeWindow.LIFETIME, None, True)
    assert obs.source.api == "instagram_graph" and obs.source.api_version == "v24.0"
    assert (obs.tenant_id, obs.client_id, obs.account_id) == ("agency-1", "acme-coffee", "acct-1")
    assert obs.producer == "metrics.adapters"
    assert set(result.ignored) == {"total_interactions", "ig_reels_avg_watch_time"}
    assert result.unmapped == ()


def test_instagram_legacy_impressions_stay_impressions_next_to_views(
    payload: Load, context: ObservationContext
) -> None:
    # Meta replaced impressions by views with another meaning: two series, linked in the
    # registry as successor, never merged (issue 7 item 4).
    old = instagram_insights(payload("instagram_post_insights_legacy"), context=context)
    new = instagram_insights(payload("instagram_post_insights"), context=context)

    [old_obs], [new_obs] = old.observations, new.observations
    assert old_obs.entity_id == new_obs.entity_id == "17895695668004550"
    assert (
        values(old_obs)["impressions"] == 2210 and natives(old_obs)["impressions"] == "impressions"
    )
    assert values(new_obs)["views"] == 2390 and natives(new_obs)["views"] == "views"
    # Legacy `engagement` (likes + comments) is stored as the platform total, its components
    # being absent (issue 7 item 5).
    assert values(old_obs) == {"impressions": 2210, "reach": 1650, "saves": 24, "engagement": 143}
    assert set(values(new_obs)) == {"views", "reach", "saves"}
    assert old.unmapped == ("profile_visits",)
    assert old.ignored == ()


def test_instagram_account_day_series(payload: Load, context: ObservationContext) -> None:
    result = instagram_insights(
        payload("instagram_account_insights_day"), context=context, entity_level=EntityLevel.ACCOUNT
    )

    first, second = result.observations
    # end_time closes the day the value covers.
    assert first.window_start == datetime(2024, 11, 3, 8, tzinfo=UTC)
    assert second.window_start == datetime(2024, 11, 4, 8, tzinfo=UTC)
    assert values(first) == {"impressions": 3521, "reach": 1893, "followers_gained": 17}
    assert values(second) == {"impressions": 4102, "reach": 2240, "followers_gained": 23}
    assert all(o.window is TimeWindow.DAY and not o.cumulative for o in result.observations)
    assert all(o.entity_id == "acct-1" for o in result.observations)


def test_instagram_total_value_window_comes_from_the_caller(
    payload: Load, context: ObservationContext
) -> None:
    day = datetime(2025, 11, 19, tzinfo=UTC)
    result = instagram_insights(
        payload("instagram_account_insights_total_value"), context=context,
        entity_level=EntityLevel.ACCOUNT, window_start=day,
    )  # fmt: skip

    [obs] = result.observations
    assert values(obs) == {"views": 4380, "reach": 2511}
    assert (obs.window, obs.window_start, obs.cumulative) == (TimeWindow.DAY, day, False)
    assert result.unmapped == ("accounts_engaged",)


def test_instagram_user_fields_give_the_follower_total(
    payload: Load, context: ObservationContext
) -> None:
    result = instagram_fields(payload("instagram_user"), context=context)

    [obs] = result.observations
    assert values(obs) == {"followers": 15230}
    assert obs.cumulative and obs.entity_level is EntityLevel.ACCOUNT
    assert set(result.unmapped) == {"follows_count", "media_count"}


def test_facebook_page_insights_split_levels_from_flows(
    payload: Load, context: ObservationContext
) -> None:
    result = facebook_insights(payload("facebook_page_insights"), context=context)

    flows = [o for o in result.observations if not o.cumulative]
    levels = [o for o in result.observations if o.cumulative]
    assert [values(o) for o in flows] == [
        {"views": 8840, "reach": 5120},
        {"views": 9312, "reach": 5388},
    ]
    assert [values(o) for o in levels] == [{"followers": 10231}, {"followers": 10245}]
    assert {o.window for o in flows} == {TimeWindow.DAY}
    assert flows[1].window_start == datetime(2025, 11, 19, 8, tzinfo=UTC)
    # page_follows per day is a level: readings of one running series (lifetime, no window
    # start) as of each day's end_time, so the later day's level wins and days never add up.
    assert {(o.window, o.window_start) for o in levels} == {(TimeWindow.LIFETIME, None)}
    ms = timedelta(milliseconds=1)  # the last instant of each day: it belongs to that day
    ends = [datetime(2025, 11, 19, 8, tzinfo=UTC), datetime(2025, 11, 20, 8, tzinfo=UTC)]
    assert [o.observed_at for o in levels] == [end - ms for end in ends]


def test_facebook_legacy_names_continue_renamed_series_only(
    payload: Load, context: ObservationContext
) -> None:
    old = facebook_insights(payload("facebook_page_insights_legacy"), context=context)
    new = facebook_insights(payload("facebook_page_insights"), context=context)

    def series(result: Any) -> set[tuple[str, TimeWindow, bool]]:
        return {(m.name, o.window, o.cumulative) for o in result.observations for m in o.metrics}

    # page_fans -> page_follows and the reach renames keep their meaning: one series each;
    # page_impressions was replaced by page_media_view (views): its own series.
    assert series(old) - series(new) == {("impressions", TimeWindow.DAY, False)}
    assert series(new) - series(old) == {("views", TimeWindow.DAY, False)}
    followers = [o for o in old.observations if "followers" in values(o)]
    # page_fans was "lifetime" with a daily end_time: the running total at the end of each day.
    assert [values(o)["followers"] for o in followers] == [9874, 9880]
    assert {natives(o)["followers"] for o in followers} == {"page_fans"}
    assert followers[0].observed_at == datetime(2024, 3, 4, 8, tzinfo=UTC) - timedelta(
        milliseconds=1
    )  # the day's end


def test_facebook_old_and_new_name_in_one_payload_count_once(context: ObservationContext) -> None:
    end = "2025-06-02T07:00:00+0000"
    page = {
        "data": [
            {"name": "page_fans", "period": "day", "values": [{"value": 700, "end_time": end}]},
            {"name": "page_follows", "period": "day", "values": [{"value": 712, "end_time": end}]},
        ]
    }
    result = facebook_insights(page, context=context)

    [obs] = result.observations
    assert values(obs) == {"followers": 712}
    assert natives(obs)["followers"] == "page_follows"
    assert result.ignored == ("page_fans",)


def test_facebook_post_reactions_are_summed_into_likes(
    payload: Load, context: ObservationContext
) -> None:
    result = facebook_insights(
        payload("facebook_post_insights"), context=context, entity_level=EntityLevel.POST
    )

    [obs] = result.observations
    assert values(obs) == {"views": 6120, "reach": 4033, "likes": 157, "clicks": 57}
    assert natives(obs)["likes"] == "post_reactions_by_type_total"
    assert obs.entity_id == "104123456789012_987654321098765"
    assert result.unmapped == ("post_clicks_by_type",)


def test_negative_native_value_is_an_error(context: ObservationContext) -> None:
    bad = {"data": [{"name": "reach", "period": "lifetime", "values": [{"value": -5}]}]}
    with pytest.raises(ValidationError, match=r"data\.0\.values\.0\.value\.count"):
        instagram_insights(bad, context=context, entity_id="1789")


def test_negative_reaction_inside_a_breakdown_is_an_error(context: ObservationContext) -> None:
    bad = {
        "data": [
            {
                "name": "post_reactions_by_type_total",
                "period": "lifetime",
                "values": [{"value": {"like": 3, "angry": -1}}],
            }
        ]
    }
    with pytest.raises(ValidationError, match=r"data\.0\.values\.0\.value\.breakdown\.angry"):
        facebook_insights(bad, context=context, entity_level=EntityLevel.POST, entity_id="p1")


def test_graph_error_payload_is_an_error(context: ObservationContext) -> None:
    error = {"error": {"message": "(#100) Invalid metric", "type": "OAuthException", "code": 100}}
    with pytest.raises(PayloadError, match="Invalid metric"):
        facebook_insights(error, context=context)


def test_same_poll_gives_the_same_event_ids(payload: Load, context: ObservationContext) -> None:
    first = facebook_insights(payload("facebook_page_insights"), context=context)
    again = facebook_insights(payload("facebook_page_insights"), context=context)
    later = facebook_insights(
        payload("facebook_page_insights"),
        context=context.model_copy(
            update={"observed_at": context.observed_at + timedelta(hours=1)}
        ),
    )
    other_tenant = facebook_insights(
        payload("facebook_page_insights"),
        context=context.model_copy(update={"tenant_id": "agency-2"}),
    )

    ids = [o.event_id for o in first.observations]
    assert len(set(ids)) == len(ids) == 4
    assert ids == [o.event_id for o in again.observations]
    # Only the correlation id (one per poll job) may differ between the two reads.
    assert [o.model_dump(exclude={"correlation_id"}) for o in first.observations] == [
        o.model_dump(exclude={"correlation_id"}) for o in again.observations
    ]
    assert not set(ids) & {o.event_id for o in later.observations}
    assert not set(ids) & {o.event_id for o in other_tenant.observations}


def test_observed_at_must_be_zone_aware() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        ObservationContext(
            tenant_id="t", client_id="c", account_id="a", observed_at=datetime(2025, 1, 1)
        )


def test_spend_attaches_to_a_single_observation(payload: Load, context: ObservationContext) -> None:
    boosted = context.model_copy(
        update={"spend": Money(amount=Decimal("40.00"), currency="EUR"), "leads": 3}
    )
    [obs] = facebook_insights(
        payload("facebook_post_insights"), context=boosted, entity_level=EntityLevel.POST
    ).observations
    assert obs.spend == Money(amount=Decimal("40.00"), currency="EUR")
    assert obs.leads == 3

    with pytest.raises(PayloadError, match="counted once"):
        facebook_insights(payload("facebook_page_insights"), context=boosted)
