"""Documented shapes of Meta Graph API responses: insights edges of Instagram and Facebook
objects, IG User / IG Media node fields, Marketing API ads insights, and Graph errors.

References: developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights,
.../instagram-platform/api-reference/instagram-user/insights, .../docs/graph-api/reference/
insights (Page), .../docs/marketing-api/insights and .../reference/ads-action-stats,
.../docs/graph-api/guides/error-handling.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Discriminator, Field, Strict, Tag

from services.metrics.adapters.common import JsonCount, NativeId, PayloadError, PayloadModel
from shared.bounds import MAX_NAME_LENGTH, Instant

NativeName = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_NAME_LENGTH)]


def _value_kind(value: Any) -> str:
    return "breakdown" if isinstance(value, dict) else "count"


# An insights value: a count, or a breakdown of counts (reactions by type).
InsightNumber = Annotated[
    Annotated[JsonCount, Tag("count")] | Annotated[dict[str, JsonCount | None], Tag("breakdown")],
    Discriminator(_value_kind),
]


class GraphError(PayloadModel):
    """`{"error": {...}}`: the request failed; nothing else is in the response."""

    message: str
    type: str | None = None
    code: int | None = None
    error_subcode: int | None = None
    fbtrace_id: str | None = None


class GraphErrorResponse(PayloadModel):
    error: GraphError | None = None

    def raise_error(self) -> None:
        """A PayloadError naming the Graph error, when the response is one."""
        if self.error is not None:
            code = f" {self.error.code}" if self.error.code is not None else ""
            raise PayloadError(f"Graph API error{code}: {self.error.message}", loc=("error",))


class InsightValue(PayloadModel):
    value: InsightNumber | None = None
    end_time: Instant | None = Field(
        default=None, description="Closes the period the value covers."
    )


class InsightTotal(PayloadModel):
    value: InsightNumber | None = None


class InsightEntry(PayloadModel):
    name: NativeName
    period: NativeName
    values: list[InsightValue] | None = None
    total_value: InsightTotal | None = None
    id: str | None = None
    title: str | None = None
    description: str | None = None

    @property
    def object_id(self) -> str | None:
        """The id of the object the entry is about (`{object-id}/insights/{name}/{period}`)."""
        if self.id and "/insights/" in self.id:
            return self.id.split("/insights/")[0] or None
        return None


class InsightsResponse(GraphErrorResponse):
    data: list[InsightEntry] | None = None


# IG User and IG Media node fields that are counts, and the ones that describe the node.
IG_USER_COUNTS = ("followers_count", "follows_count", "media_count")
IG_MEDIA_COUNTS = ("like_count", "comments_count")
IG_NODE_FIELDS = frozenset(
    {
        "id", "ig_id", "username", "name", "biography", "website", "profile_picture_url",
        "caption", "media_type", "media_product_type", "media_url", "permalink", "shortcode",
        "thumbnail_url", "timestamp", "is_comment_enabled", "is_shared_to_feed", "owner",
        "children", "alt_text", "has_profile_pic", "legacy_instagram_user_id",
    }
)  # fmt: skip


class IgNode(GraphErrorResponse):
    id: NativeId | None = None
    followers_count: JsonCount | None = None
    follows_count: JsonCount | None = None
    media_count: JsonCount | None = None
    like_count: JsonCount | None = None
    comments_count: JsonCount | None = None


# --------------------------------------------------------------------------- Marketing API

# Counts are numeric strings in the Marketing API ("361324"), amounts decimal strings ("53.2").
# At most 15 digits: below MAX_COUNT (10^15), like every count we store.
DigitString = Annotated[str, Strict(), Field(pattern=r"^[0-9]{1,15}$")]
DecimalString = Annotated[str, Strict(), Field(pattern=r"^[0-9]{1,15}(\.[0-9]{1,12})?$")]


def string_count(value: str) -> int:
    """A validated digit string as an int."""
    return int(value)


class AdsAction(PayloadModel):
    """AdsActionStats: one action type's count (a numeric string) in the attribution window."""

    action_type: NativeName
    value: DecimalString


class AdsInsightsRow(PayloadModel):
    account_id: NativeId | None = None
    account_currency: str | None = None
    campaign_id: NativeId | None = None
    adset_id: NativeId | None = None
    ad_id: NativeId | None = None
    date_start: date
    date_stop: date
    spend: DecimalString | None = None
    impressions: DigitString | None = None
    reach: DigitString | None = None
    clicks: DigitString | None = None
    inline_link_clicks: DigitString | None = None
    actions: list[AdsAction] | None = None


class AdsInsightsResponse(GraphErrorResponse):
    data: list[AdsInsightsRow] | None = None


ADS_COUNTS = ("impressions", "reach", "inline_link_clicks")
ADS_RATIOS = ("ctr", "inline_link_click_ctr", "cpc", "cpm", "cpp", "frequency")
ADS_DESCRIPTIVE = frozenset(
    {
        "account_id", "account_name", "account_currency", "campaign_id", "campaign_name",
        "adset_id", "adset_name", "ad_id", "ad_name", "date_start", "date_stop", "objective",
        "optimization_goal", "buying_type", "attribution_setting", "created_time",
        "updated_time",
    }
)  # fmt: skip


def exact(value: str) -> Decimal:
    """A validated decimal string as an exact Decimal."""
    return Decimal(value)
