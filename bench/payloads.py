"""A realistic analytics workload for the benchmarks: AnalyticsObserved messages for many
clients, built once (exact wire bytes and Kafka keys) so no timed phase pays for building them.

Each client has a few organic posts on two or three platforms, observed as running totals
(lifetime window, cumulative), and two promoted ads observed hour by hour as increments with
spend in EUR (and sometimes leads). Messages go round-robin over clients; each entity's
readings are in time order, as a polling pipeline would send them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.metrics.ingest import period_start
from services.metrics.repository import BucketKey, bucket_key
from shared.events import AnalyticsObserved

# platform -> (source api, canonical metrics its posts report as running totals)
ORGANIC: dict[str, tuple[str, tuple[str, ...]]] = {
    "instagram": ("instagram_graph", ("impressions", "reach", "likes", "comments", "saves")),
    "facebook": ("facebook_graph", ("impressions", "reach", "likes", "comments", "clicks")),
    "linkedin": ("linkedin_marketing", ("impressions", "likes", "comments", "shares", "clicks")),
    "tiktok": ("tiktok_business", ("views", "likes", "comments", "shares", "watch_time_s")),
    "x": ("x_api_v2", ("impressions", "likes", "comments", "shares")),
    "youtube": ("youtube_analytics", ("views", "likes", "comments", "watch_time_s")),
}
ADS: dict[str, str] = {
    "meta_ads": "meta_marketing",
    "google_ads": "google_ads_api",
    "linkedin": "linkedin_marketing",
    "tiktok": "tiktok_business",
}
CONTENT_TYPES = ("post", "video", "carousel", "story", "reel")
POSTS_PER_CLIENT = 4
ADS_PER_CLIENT = 2
ENTITIES_PER_CLIENT = POSTS_PER_CLIENT + ADS_PER_CLIENT


@dataclass(frozen=True)
class Message:
    """One message as it goes onto Kafka."""

    key: bytes
    value: bytes
    event_id: str
    bucket: BucketKey  # where the metrics service stores it: (tenant, client shard, UTC day)


@dataclass
class _Entity:
    client_id: str
    platform: str
    api: str
    level: str
    entity_id: str
    post_id: str
    content_type: str
    metrics: tuple[str, ...]
    paid: bool
    totals: dict[str, int] = field(default_factory=dict)
    readings: int = 0


class Workload:
    """Deterministic observations for `clients` clients of one tenant; `take(n)` continues
    where the previous call stopped, so later messages are later readings (never replays)."""

    def __init__(
        self,
        tenant_id: str,
        *,
        clients: int,
        seed: int = 7,
        client_ids: list[str] | None = None,
        start: datetime | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not secrets
        self.start = start or datetime.now(UTC).replace(
            minute=0, second=0, microsecond=0
        ) - timedelta(days=7)
        self.clients = client_ids or [f"client-{c:05d}" for c in range(clients)]
        self.entities = {cid: self._entities(cid) for cid in self.clients}
        self.sent = 0

    def _entities(self, client_id: str) -> list[_Entity]:
        rng = self.rng
        platforms = rng.sample(sorted(ORGANIC), k=rng.choice((2, 3)))
        posts = []
        for j in range(POSTS_PER_CLIENT):
            platform = platforms[j % len(platforms)]
            api, metrics = ORGANIC[platform]
            posts.append(
                _Entity(client_id, platform, api, "post", f"{platform[:2]}-media-{client_id}-{j}",
                        f"{client_id}-post-{j}", rng.choice(CONTENT_TYPES), metrics, paid=False)
            )  # fmt: skip
        ad_platform = rng.choice(sorted(ADS))
        ads = [
            _Entity(client_id, ad_platform, ADS[ad_platform], "ad", f"ad-{client_id}-{j}",
                    posts[j].post_id, posts[j].content_type, ("impressions", "reach", "clicks"),
                    paid=True)
            for j in range(ADS_PER_CLIENT)
        ]  # fmt: skip
        return posts + ads

    def take(self, n: int) -> list[Message]:
        """The next `n` messages (round-robin over clients, then over each client's entities)."""
        out = []
        for i in range(self.sent, self.sent + n):
            client_id = self.clients[i % len(self.clients)]
            k = i // len(self.clients)
            entity = self.entities[client_id][k % ENTITIES_PER_CLIENT]
            event = self._observe(entity)
            out.append(
                Message(
                    event.partition_key(),
                    event.model_dump_json().encode(),
                    event.event_id,
                    bucket_key(event.tenant_id, event.client_id, period_start(event)),
                )
            )
        self.sent += n
        return out

    def _observe(self, e: _Entity) -> AnalyticsObserved:
        rng = self.rng
        hour = self.start + timedelta(hours=e.readings)
        e.readings += 1
        common: dict[str, Any] = {
            "producer": "bench.pipeline",
            "tenant_id": self.tenant_id,
            "client_id": e.client_id,
            "platform": e.platform,
            "account_id": f"{e.platform}-{e.client_id}",
            "entity_level": e.level,
            "entity_id": e.entity_id,
            "post_id": e.post_id,
            "content_type": e.content_type,
            "source": {"api": e.api, "api_version": "v21.0", "kind": "poll"},
        }
        if e.paid:  # hourly increments with spend
            impressions = rng.randint(200, 8000)
            leads = rng.randint(0, 3) if rng.random() < 0.3 else None
            return AnalyticsObserved.new(
                **common,
                window="hour",
                window_start=hour,
                cumulative=False,
                observed_at=hour + timedelta(hours=1, minutes=rng.randint(1, 20)),
                metrics=[
                    {"name": "impressions", "value": impressions},
                    {"name": "reach", "value": int(impressions * rng.uniform(0.5, 0.9))},
                    {"name": "clicks", "value": rng.randint(0, impressions // 40)},
                ],
                spend={"amount": str(Decimal(rng.randint(5, 400)) / 100), "currency": "EUR"},
                leads=leads,
            )
        for name in e.metrics:  # running totals only ever grow
            step = rng.randint(0, 900) if name in ("impressions", "reach", "views") else 0
            step = step or rng.randint(0, 40)
            e.totals[name] = e.totals.get(name, 0) + step
        return AnalyticsObserved.new(
            **common,
            window="lifetime",
            cumulative=True,
            observed_at=hour + timedelta(minutes=rng.randint(0, 59)),
            metrics=[{"name": n, "value": v} for n, v in e.totals.items()],
        )
