"""Publishing rules with no I/O: retry delays, and the lifecycle event each transition stages.

draft -> scheduled -> due -> publishing -> published
             ^  |      |        |  `----> failed --(retry by hand)--> scheduled
             |  |      |        `-------> due (transient error: again at retry_at)
             |  `------+--> paused --(resume)--> scheduled
             `-- any of draft/scheduled/paused/failed --> cancelled
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.calendar.publishing.connectors import Publication, Published
from shared.envelope import Event
from shared.events import (
    Platform,
    PostDue,
    PostFailed,
    PostPaused,
    PostPublished,
    PostResumed,
)

PRODUCER = "calendar"


def backoff_s(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before the attempt after `attempt` (1-based): capped exponential backoff with
    full jitter (uniform in [0, min(max, base * 2^(attempt-1))]), never sooner than the
    platform's `Retry-After`."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempt - 1))
    jittered = (rng or random).uniform(0.0, ceiling)
    if retry_after_s is not None:
        return max(retry_after_s, jittered)
    return jittered


def publication(doc: Mapping[str, Any]) -> Publication:
    """What a connector gets from a stored post."""
    return Publication(
        post_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        client_id=doc["client_id"],
        platform=Platform(doc["platform"]),
        scheduled_at=doc["scheduled_at"],
        caption=doc.get("caption") or "",
        content_type=doc.get("content_type") or "post",
        media=tuple(doc.get("media") or ()),
        link=doc.get("link"),
        pillar=doc.get("pillar"),
        attempt=int(doc.get("attempts") or 0),
    )


def _base(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "tenant_id": doc["tenant_id"],
        "client_id": doc["client_id"],
        "post_id": doc["_id"],
        "slot_id": doc.get("slot_id"),
        "platform": doc["platform"],
        "scheduled_at": doc["scheduled_at"],
    }


def due(doc: Mapping[str, Any]) -> Event:
    return PostDue.new(producer=PRODUCER, **_base(doc))


def published(doc: Mapping[str, Any], result: Published, *, at: datetime) -> Event:
    return PostPublished.new(
        producer=PRODUCER,
        **_base(doc),
        platform_post_id=result.platform_post_id,
        url=result.url,
        published_at=at,
        attempts=max(1, int(doc.get("attempts") or 1)),
        strategy_id=doc.get("strategy_id"),
        content_type=doc.get("content_type") or "post",
        pillar=doc.get("pillar"),
        stage=doc.get("stage"),
        series=doc.get("series"),
        paid=bool(doc.get("paid")),
        budget_id=doc.get("budget_id"),
    )


def failed(
    doc: Mapping[str, Any], reason: str, *, permanent: bool, retry_at: datetime | None
) -> Event:
    return PostFailed.new(
        producer=PRODUCER,
        **_base(doc),
        reason=reason[:2000],
        attempts=max(1, int(doc.get("attempts") or 1)),
        permanent=permanent,
        retry_at=retry_at,
    )


def paused(doc: Mapping[str, Any], reason: str, *, cause: Event | None = None) -> Event:
    return PostPaused.new(producer=PRODUCER, cause=cause, **_base(doc), reason=reason[:500])


def resumed(doc: Mapping[str, Any], *, cause: Event | None = None) -> Event:
    return PostResumed.new(producer=PRODUCER, cause=cause, **_base(doc))
