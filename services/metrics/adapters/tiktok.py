"""TikTok API v2 adapter: video objects (`/v2/video/list/`, `/v2/video/query/`) and user info
(`/v2/user/info/`), each with the documented `error` object (`code` "ok" on success).

References: developers.tiktok.com/doc/tiktok-api-v2-video-object, .../tiktok-api-v2-get-user-info,
.../tiktok-api-v2-error-handling.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import Field

from services.metrics.adapters.common import (
    AdapterResult,
    JsonCount,
    Loc,
    NativeId,
    ObservationContext,
    PayloadError,
    PayloadModel,
    SkipKind,
    Skipped,
    count_readings,
    model_counts,
    skip,
)
from services.metrics.adapters.observations import entity_observations, merge
from shared.events import EntityLevel, Platform

TIKTOK_API = "tiktok_api_v2"
T = TypeVar("T")

VIDEO_COUNTS = ("view_count", "like_count", "comment_count", "share_count")
VIDEO_FIELDS = frozenset(
    {
        "id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
        "height", "width", "title", "embed_html", "embed_link",
    }
)  # fmt: skip
USER_COUNTS = ("follower_count", "following_count", "likes_count", "video_count")
USER_FIELDS = frozenset(
    {
        "open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url",
        "display_name", "bio_description", "profile_deep_link", "is_verified", "username",
        "profile_web_link",
    }
)  # fmt: skip


class TikTokError(PayloadModel):
    code: str
    message: str = ""
    log_id: str | None = None


class Video(PayloadModel):
    id: NativeId
    view_count: JsonCount | None = None
    like_count: JsonCount | None = None
    comment_count: JsonCount | None = None
    share_count: JsonCount | None = None


class VideoPage(PayloadModel):
    videos: list[Video] = Field(default_factory=list)
    cursor: int | None = None
    has_more: bool | None = None


class VideoResponse(PayloadModel):
    data: VideoPage | None = None
    error: TikTokError | None = None


class TikTokUser(PayloadModel):
    follower_count: JsonCount | None = None
    following_count: JsonCount | None = None
    likes_count: JsonCount | None = None
    video_count: JsonCount | None = None


class UserData(PayloadModel):
    user: TikTokUser


class UserResponse(PayloadModel):
    data: UserData | None = None
    error: TikTokError | None = None


def tiktok_videos(payload: Any, *, context: ObservationContext) -> AdapterResult:
    """Observations from a video list/query response, one per video (lifetime totals)."""
    response = VideoResponse.model_validate(payload)
    data = _data(response.data, response.error)
    results = []
    for i, video in enumerate(data.videos):
        loc = ("data", "videos", i)
        readings, skipped = count_readings(model_counts(video, VIDEO_COUNTS), loc=loc)
        results.append(
            entity_observations(
                readings,
                platform=Platform.TIKTOK,
                api=TIKTOK_API,
                context=context,
                entity_level=EntityLevel.VIDEO,
                entity_id=video.id,
                content_type=context.content_type or "video",
                skipped=[*skipped, *_undocumented(video, VIDEO_FIELDS, loc, "TikTok video")],
                loc=loc,
            )
        )
    return merge(results, context=context)


def tiktok_user(payload: Any, *, context: ObservationContext) -> AdapterResult:
    """The account-level counts of a user info response (`follower_count`)."""
    response = UserResponse.model_validate(payload)
    user = _data(response.data, response.error).user
    loc = ("data", "user")
    readings, skipped = count_readings(model_counts(user, USER_COUNTS), loc=loc)
    result = entity_observations(
        readings,
        platform=Platform.TIKTOK,
        api=TIKTOK_API,
        context=context,
        entity_level=EntityLevel.ACCOUNT,
        skipped=[*skipped, *_undocumented(user, USER_FIELDS, loc, "TikTok user")],
        loc=loc,
    )
    return merge([result], context=context)


def _data(data: T | None, error: TikTokError | None) -> T:
    if error is not None and error.code != "ok":
        raise PayloadError(f"TikTok API error '{error.code}': {error.message}", loc=("error",))
    if data is None:
        raise PayloadError("a TikTok response has a 'data' object", loc=("data",))
    return data


def _undocumented(model: PayloadModel, known: frozenset[str], loc: Loc, what: str) -> list[Skipped]:
    return [
        skip((*loc, name), SkipKind.UNMAPPED, f"not a documented field of a {what}", name)
        for name in model.model_extra or {}
        if name not in known
    ]
