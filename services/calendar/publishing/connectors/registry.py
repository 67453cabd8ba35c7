"""Which connector publishes a post: the client's target for that platform (set with
`PUT /clients/{id}/publishing/targets/{platform}`), else the sandbox platform when the
process has one (`CALENDAR_PUBLISH_SANDBOX_URL`, the local stack), else none (the post fails
with a reason saying how to set a target)."""

from __future__ import annotations

from typing import Any

import httpx

from services.calendar.publishing.connectors import Connector, PermanentError
from services.calendar.publishing.connectors.sandbox import SandboxConnector
from services.calendar.publishing.connectors.webhook import WebhookConnector
from services.calendar.publishing.repository import PublishingRepository
from services.calendar.settings import CalendarSettings
from shared.lru import BoundedCache

TARGET_TTL_S = 10.0  # a changed target is used within this long
KINDS = ("webhook", "sandbox")


class Connectors:
    """One HTTP client per process; connectors are cheap views over it."""

    def __init__(self, settings: CalendarSettings, repo: PublishingRepository) -> None:
        self.settings = settings
        self.repo = repo
        self.http = httpx.AsyncClient(
            timeout=settings.publish_timeout_s,
            limits=httpx.Limits(
                max_connections=settings.publish_concurrency,
                max_keepalive_connections=settings.publish_concurrency,
            ),
            headers={"User-Agent": "SocialOps-Publisher/1"},
        )
        self.sandbox = (
            SandboxConnector(
                self.http,
                base_url=settings.publish_sandbox_url,
                token=settings.publish_sandbox_token,
            )
            if settings.publish_sandbox_url
            else None
        )
        self._targets: BoundedCache[tuple[str, str, str], dict[str, Any]] = BoundedCache(
            10_000, TARGET_TTL_S
        )

    async def for_post(self, doc: dict[str, Any]) -> Connector:
        key = (doc["tenant_id"], doc["client_id"], str(doc["platform"]))
        target = self._targets.get(key)
        if target is None:
            target = await self.repo.target(*key) or {}
            self._targets.put(key, target)
        if target.get("kind") == "webhook":
            return WebhookConnector(self.http, url=target["url"], secret=target["secret"])
        if self.sandbox is not None:
            return self.sandbox
        raise PermanentError(
            f"no publishing target for {key[2]}: set one with "
            f"PUT /clients/{key[1]}/publishing/targets/{key[2]}"
        )

    async def close(self) -> None:
        await self.http.aclose()
