"""X (Twitter) API v2 adapter: tweet objects with their metric groups, and user objects with
`public_metrics.followers_count`.

Metric groups (docs.x.com/x-api/fundamentals/metrics): `public_metrics` and
`non_public_metrics` are totals over organic and promoted contexts; `organic_metrics` and
`promoted_metrics` split those totals by context. So for each metric name the first total group
that has it wins (public, then non-public), and only when neither has it is the total taken
from the split: organic + promoted (promoted_metrics exists only for a promoted post; organic
alone is then the whole). Every reading not used is listed, never counted twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.metrics.adapters.common import (
    AdapterResult,
    JsonCount,
    Loc,
    NativeId,
    ObservationContext,
    PayloadError,
    PayloadModel,
    Reading,
    SkipKind,
    Skipped,
    skip,
)
from services.metrics.adapters.observations import entity_observations, merge
from services.metrics.registry import canonical
from shared.events import EntityLevel, Platform

X_API = "x_api_v2"

_TOTALS = ("public_metrics", "non_public_metrics")
_SPLIT = ("organic_metrics", "promoted_metrics")


class NoOptions(BaseModel):
    """This adapter takes no options."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TweetMetrics(PayloadModel):
    """Every count any tweet metric group documents (each group carries a subset)."""

    retweet_count: JsonCount | None = None
    reply_count: JsonCount | None = None
    like_count: JsonCount | None = None
    quote_count: JsonCount | None = None
    bookmark_count: JsonCount | None = None
    impression_count: JsonCount | None = None
    url_link_clicks: JsonCount | None = None
    user_profile_clicks: JsonCount | None = None


class Tweet(PayloadModel):
    id: NativeId
    public_metrics: TweetMetrics | None = None
    non_public_metrics: TweetMetrics | None = None
    organic_metrics: TweetMetrics | None = None
    promoted_metrics: TweetMetrics | None = None


class XError(PayloadModel):
    """A partial error: one requested object could not be returned."""

    title: str | None = None
    detail: str | None = None
    type: str | None = None
    resource_id: str | None = None
    message: str | None = None


class _Errors(PayloadModel):
    errors: list[XError] | None = None


class TweetResponse(_Errors):
    data: Tweet | None = None


class TweetsResponse(_Errors):
    data: list[Tweet] | None = None


class UserMetrics(PayloadModel):
    followers_count: JsonCount | None = None
    following_count: JsonCount | None = None
    tweet_count: JsonCount | None = None
    listed_count: JsonCount | None = None
    like_count: JsonCount | None = None
    media_count: JsonCount | None = None


class User(PayloadModel):
    id: NativeId
    public_metrics: UserMetrics | None = None


class UserResponse(_Errors):
    data: User | None = None


def x_posts(payload: Any, *, context: ObservationContext) -> AdapterResult:
    """Observations from one tweet object or a `{"data": tweet | [tweets]}` lookup response."""
    if isinstance(payload, dict) and "data" not in payload and "errors" not in payload:
        tweets: list[tuple[Loc, Tweet]] = [((), Tweet.model_validate(payload))]
        errors: list[XError] = []
    elif isinstance(payload, dict) and isinstance(payload.get("data"), list):
        many = TweetsResponse.model_validate(payload)
        tweets = [(("data", i), t) for i, t in enumerate(many.data or [])]
        errors = many.errors or []
    else:
        one = TweetResponse.model_validate(payload)
        tweets = [(("data",), one.data)] if one.data is not None else []
        errors = one.errors or []
    if not tweets and errors:
        raise PayloadError(f"X API error: {_describe(errors[0])}", loc=("errors", 0))
    results = [_tweet(tweet, loc=loc, context=context) for loc, tweet in tweets]
    results.append(AdapterResult(skipped=tuple(_partial_errors(errors))))
    return merge(results, context=context)


def x_user(payload: Any, *, context: ObservationContext) -> AdapterResult:
    """The follower count of a user object (or `{"data": user}`) at account level."""
    loc: Loc
    if isinstance(payload, dict) and "data" not in payload and "errors" not in payload:
        user, loc = User.model_validate(payload), ()
        errors: list[XError] = []
    else:
        response = UserResponse.model_validate(payload)
        if response.data is None:
            first = (response.errors or [XError(detail="no 'data' user object")])[0]
            raise PayloadError(f"X API error: {_describe(first)}", loc=("data",))
        user, loc, errors = response.data, ("data",), response.errors or []
    readings: list[Reading] = []
    skipped = _partial_errors(errors)
    counts = user.public_metrics
    if counts is not None:
        where = (*loc, "public_metrics")
        for name in sorted(counts.model_fields_set | set(counts.model_extra or {})):
            value = getattr(counts, name)
            if name == "followers_count" and value is not None:
                readings.append(Reading(name, Decimal(value), loc=(*where, name)))
            elif name == "followers_count":
                skipped.append(skip((*where, name), SkipKind.NO_VALUE, "null: no value sent", name))
            else:
                reason = (
                    "posts the user liked, not likes received"
                    if name == "like_count"
                    else "no canonical metric for a user's own activity"
                )
                skipped.append(skip((*where, name), SkipKind.UNMAPPED, reason, name))
    result = entity_observations(
        readings,
        platform=Platform.X,
        api=X_API,
        context=context,
        entity_level=EntityLevel.ACCOUNT,
        skipped=skipped,
        loc=loc,
    )
    return merge([result], context=context)


def _tweet(tweet: Tweet, *, loc: Loc, context: ObservationContext) -> AdapterResult:
    groups = {g: getattr(tweet, g) for g in (*_TOTALS, *_SPLIT) if getattr(tweet, g) is not None}
    names: dict[str, None] = {}
    readings: list[Reading] = []
    skipped: list[Skipped] = []
    for group, metrics in groups.items():
        names |= dict.fromkeys(
            n for n in TweetMetrics.model_fields if n in metrics.model_fields_set
        )
        skipped += [
            skip((*loc, group, n), SkipKind.UNMAPPED, "not a documented X metric", n)
            for n in metrics.model_extra or {}
        ]
    for name in names:
        present = {g: m for g, m in groups.items() if name in m.model_fields_set}
        if canonical(Platform.X, name) is None:
            reason = f"no canonical metric for X '{name}'"
            skipped += [skip((*loc, g, name), SkipKind.UNMAPPED, reason, name) for g in present]
            continue
        values = {g: getattr(m, name) for g, m in present.items()}
        totals = [g for g in _TOTALS if g in values]
        if totals:
            used = [totals[0]]
        elif "organic_metrics" in values:
            used = [g for g in _SPLIT if g in values]
        else:
            skipped.append(skip((*loc, "promoted_metrics", name), SkipKind.IGNORED,
                                "the promoted part only: the total is unknown", name))  # fmt: skip
            continue
        if any(values[g] is None for g in used):
            skipped += [skip((*loc, g, name), SkipKind.NO_VALUE, "null: no value sent", name)
                        for g in used]  # fmt: skip
            continue
        label = name if used[0] in _TOTALS else "+".join(f"{g}.{name}" for g in used)
        value = Decimal(sum(values[g] for g in used))
        readings.append(Reading(name, value, loc=(*loc, used[0], name), label=label))
        skipped += [
            skip((*loc, g, name), SkipKind.IGNORED, f"counted from {'+'.join(used)}", name)
            for g in values
            if g not in used
        ]
    return entity_observations(
        readings,
        platform=Platform.X,
        api=X_API,
        context=context,
        entity_level=EntityLevel.POST,
        entity_id=tweet.id,
        skipped=skipped,
        loc=loc,
    )


def _describe(error: XError) -> str:
    parts = [error.title, error.detail or error.message]
    return ": ".join(p for p in parts if p) or "unknown error"


def _partial_errors(errors: list[XError]) -> list[Skipped]:
    return [
        skip(("errors", i), SkipKind.PLATFORM_ERROR, _describe(e), e.resource_id)
        for i, e in enumerate(errors)
    ]
