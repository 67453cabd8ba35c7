"""Platform adapters: native analytics payloads in, normalized AnalyticsObserved events out."""

from services.metrics.adapters.common import (
    AdapterResult,
    ObservationContext,
    PayloadError,
)
from services.metrics.adapters.linkedin import linkedin_share_statistics
from services.metrics.adapters.meta import facebook_insights, instagram_fields, instagram_insights
from services.metrics.adapters.tiktok import tiktok_user, tiktok_videos
from services.metrics.adapters.x import x_posts, x_user
from services.metrics.adapters.youtube import youtube_report, youtube_statistics

__all__ = [
    "AdapterResult",
    "ObservationContext",
    "PayloadError",
    "facebook_insights",
    "instagram_fields",
    "instagram_insights",
    "linkedin_share_statistics",
    "tiktok_user",
    "tiktok_videos",
    "x_posts",
    "x_user",
    "youtube_report",
    "youtube_statistics",
]
