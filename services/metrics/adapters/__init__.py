"""Platform adapters: native analytics payloads in, normalized AnalyticsObserved events out.

`REGISTRY` names every adapter with its options model; `ingest` runs one on raw JSON parts and
reports every refusal as a list of `{"loc", "msg", "type"}` errors whose `loc` starts with
`body`, then `context`, `options` or `payload`, then the JSON path inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from services.metrics.adapters.ads import AdsOptions, google_ads_search_stream, meta_ads_insights
from services.metrics.adapters.common import (
    AdapterResult,
    ObservationContext,
    PayloadError,
    SkipKind,
    Skipped,
)
from services.metrics.adapters.linkedin import linkedin_share_statistics
from services.metrics.adapters.meta import (
    InsightsOptions,
    InstagramFieldsOptions,
    facebook_insights,
    instagram_fields,
    instagram_insights,
)
from services.metrics.adapters.tiktok import tiktok_user, tiktok_videos
from services.metrics.adapters.x import NoOptions, x_posts, x_user
from services.metrics.adapters.youtube import ReportOptions, youtube_report, youtube_statistics
from shared.events import Platform


@dataclass(frozen=True)
class Adapter:
    """One platform adapter: its convert function and the model of the options it takes."""

    name: str
    platform: Platform
    convert: Callable[..., AdapterResult]
    options_model: type[BaseModel]
    description: str

    def run(
        self, payload: Any, *, context: ObservationContext, options: Mapping[str, Any] | None
    ) -> AdapterResult:
        """Validate the options, then convert. Raises ValidationError (options or payload, as
        its title says) or PayloadError."""
        parsed = self.options_model.model_validate(dict(options or {}))
        return self.convert(payload, context=context, **dict(parsed))


REGISTRY: dict[str, Adapter] = {
    a.name: a
    for a in (
        Adapter("instagram_insights", Platform.INSTAGRAM, instagram_insights, InsightsOptions,
                "IG User or IG Media `/insights` response."),
        Adapter("instagram_fields", Platform.INSTAGRAM, instagram_fields, InstagramFieldsOptions,
                "IG User (followers_count) or IG Media (like_count) node fields."),
        Adapter("facebook_insights", Platform.FACEBOOK, facebook_insights, InsightsOptions,
                "Facebook Page or Page post `/insights` response."),
        Adapter("x_posts", Platform.X, x_posts, NoOptions,
                "X API v2 tweet lookup: one tweet or `{data: [tweets]}`."),
        Adapter("x_user", Platform.X, x_user, NoOptions, "X API v2 user lookup."),
        Adapter("tiktok_videos", Platform.TIKTOK, tiktok_videos, NoOptions,
                "TikTok `/v2/video/list/` or `/v2/video/query/` response."),
        Adapter("tiktok_user", Platform.TIKTOK, tiktok_user, NoOptions,
                "TikTok `/v2/user/info/` response."),
        Adapter("youtube_report", Platform.YOUTUBE, youtube_report, ReportOptions,
                "YouTube Analytics `reports.query` result table."),
        Adapter("youtube_statistics", Platform.YOUTUBE, youtube_statistics, NoOptions,
                "YouTube Data API `videos.list` / `channels.list` with part=statistics."),
        Adapter("linkedin_share_statistics", Platform.LINKEDIN, linkedin_share_statistics,
                NoOptions, "LinkedIn `organizationalEntityShareStatistics` response."),
        Adapter("meta_ads_insights", Platform.META_ADS, meta_ads_insights, AdsOptions,
                "Meta Marketing API `/insights` rows (ad, ad set, campaign or account)."),
        Adapter("google_ads_search_stream", Platform.GOOGLE_ADS, google_ads_search_stream,
                AdsOptions, "Google Ads `googleAds:searchStream` REST response rows."),
    )
}  # fmt: skip


class IngestRejectedError(ValueError):
    """Context, options or payload refused; `errors` in FastAPI's 422 shape, loc from `body`."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))


def ingest(
    adapter: Adapter,
    *,
    tenant_id: str,
    context: Mapping[str, Any],
    payload: Any,
    options: Mapping[str, Any] | None = None,
) -> AdapterResult:
    """Run an adapter on the parts of a `POST /ingest/{adapter}` body; IngestRejectedError
    lists every refusal with its JSON path (`body.payload.data.0.name`) and reason."""
    errors: list[dict[str, Any]] = []
    if context.get("tenant_id", tenant_id) != tenant_id:
        errors.append(_error(["context", "tenant_id"], "does not match your API key's agency"))
    parsed_context = parsed_options = None
    try:
        parsed_context = ObservationContext.model_validate({**context, "tenant_id": tenant_id})
    except ValidationError as e:
        errors += _errors(e, "context")
    try:
        parsed_options = adapter.options_model.model_validate(dict(options or {}))
    except ValidationError as e:
        errors += _errors(e, "options")
    if errors or parsed_context is None or parsed_options is None:
        raise IngestRejectedError(errors)
    try:
        return adapter.convert(payload, context=parsed_context, **dict(parsed_options))
    except ValidationError as e:
        raise IngestRejectedError(_errors(e, "payload")) from e
    except PayloadError as e:
        raise IngestRejectedError([_error(["payload", *e.loc], e.reason)]) from e


def _error(loc: list[Any], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}


def _errors(error: ValidationError, part: str) -> list[dict[str, Any]]:
    return [
        _error([part, *e["loc"]], e["msg"], e["type"])
        for e in error.errors(include_url=False, include_input=False)
    ]


__all__ = [
    "REGISTRY",
    "Adapter",
    "AdapterResult",
    "IngestRejectedError",
    "ObservationContext",
    "PayloadError",
    "SkipKind",
    "Skipped",
    "facebook_insights",
    "google_ads_search_stream",
    "ingest",
    "instagram_fields",
    "instagram_insights",
    "linkedin_share_statistics",
    "meta_ads_insights",
    "tiktok_user",
    "tiktok_videos",
    "x_posts",
    "x_user",
    "youtube_report",
    "youtube_statistics",
]
