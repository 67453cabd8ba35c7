"""X (Twitter) API v2 adapter: tweet objects with `public_metrics` and `non_public_metrics`, and
user objects with `public_metrics.followers_count`.
"""

from __future__ import annotations

from typing import Any

from services.metrics.adapters.common import (
    AdapterResult,
    ObservationContext,
    PayloadError,
    entity_observations,
    merge,
    read_known,
)
from shared.events import EntityLevel, Platform

X_API = "x_api_v2"

# Breakdowns of the same totals by organic/paid delivery; reading them too would double count.
_BREAKDOWNS = ("organic_metrics", "promoted_metrics")


def x_posts(payload: dict[str, Any], *, context: ObservationContext) -> AdapterResult:
    """Observations from one tweet object or a `{"data": tweet | [tweets]}` lookup response."""
    results = []
    for tweet in _objects(payload):
        if not tweet.get("id"):
            raise PayloadError("x tweet without 'id'")
        public = dict(tweet.get("public_metrics") or {})
        private = dict(tweet.get("non_public_metrics") or {})
        readings, unknown = read_known(public, platform=Platform.X)
        duplicate = [n for n in private if n in public]  # impression_count is in both
        private_readings, private_unknown = read_known(
            private, platform=Platform.X, names=[n for n in private if n not in public]
        )
        result = entity_observations(
            readings + private_readings,
            platform=Platform.X,
            api=X_API,
            context=context,
            entity_level=EntityLevel.POST,
            entity_id=str(tweet["id"]),
            unknown=unknown + private_unknown,
        )
        skipped = duplicate + [b for b in _BREAKDOWNS if b in tweet]
        results.append(result.model_copy(update={"ignored": result.ignored + tuple(skipped)}))
    return merge(results, context=context)


def x_user(payload: dict[str, Any], *, context: ObservationContext) -> AdapterResult:
    """The follower count of a user object (or `{"data": user}`) at account level."""
    users = _objects(payload)
    if len(users) != 1:
        raise PayloadError(f"x_user expects one user, got {len(users)}")
    counts = dict(users[0].get("public_metrics") or {})
    # A user's like_count is posts the user liked, not likes received: only followers map.
    readings, _ = read_known(counts, platform=Platform.X, names=["followers_count"])
    result = entity_observations(
        readings,
        platform=Platform.X,
        api=X_API,
        context=context,
        entity_level=EntityLevel.ACCOUNT,
        unknown=[f"user.{name}" for name in counts if name != "followers_count"],
    )
    return merge([result], context=context)


def _objects(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if "data" not in payload:
        if payload.get("errors"):
            raise PayloadError(f"x API errors: {payload['errors']}")
        return [payload]
    data = payload["data"]
    return list(data) if isinstance(data, list) else [data]
