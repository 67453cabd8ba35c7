"""TikTok API v2 adapter: video objects (`/v2/video/list/`, `/v2/video/query/`) and user info
(`/v2/user/info/`). Every TikTok metric field ends in `_count`.
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

TIKTOK_API = "tiktok_api_v2"


def tiktok_videos(payload: dict[str, Any], *, context: ObservationContext) -> AdapterResult:
    """Observations from a video list/query response, one per video (lifetime totals)."""
    data = _data(payload)
    results = []
    for video in data.get("videos") or []:
        if not video.get("id"):
            raise PayloadError("tiktok video without 'id'")
        readings, unknown = read_known(video, platform=Platform.TIKTOK, names=_counts(video))
        results.append(
            entity_observations(
                readings,
                platform=Platform.TIKTOK,
                api=TIKTOK_API,
                context=context,
                entity_level=EntityLevel.VIDEO,
                entity_id=str(video["id"]),
                content_type=context.content_type or "video",
                unknown=unknown,
            )
        )
    return merge(results, context=context)


def tiktok_user(payload: dict[str, Any], *, context: ObservationContext) -> AdapterResult:
    """The account-level counts of a user info response (`follower_count`)."""
    user = _data(payload).get("user")
    if not isinstance(user, dict):
        raise PayloadError("tiktok user info: expected data.user")
    readings, unknown = read_known(user, platform=Platform.TIKTOK, names=_counts(user))
    result = entity_observations(
        readings,
        platform=Platform.TIKTOK,
        api=TIKTOK_API,
        context=context,
        entity_level=EntityLevel.ACCOUNT,
        unknown=unknown,
    )
    return merge([result], context=context)


def _data(payload: dict[str, Any]) -> dict[str, Any]:
    error = payload.get("error") or {}
    if error.get("code", "ok") != "ok":
        raise PayloadError(f"tiktok API error {error.get('code')}: {error.get('message')}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PayloadError("tiktok response: expected a 'data' object")
    return data


def _counts(fields: dict[str, Any]) -> list[str]:
    return [name for name in fields if name.endswith("_count")]
