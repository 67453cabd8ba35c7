"""Which connector publishes a post: the client's target for that platform (set with
`PUT /clients/{id}/publishing/targets/{platform}`), else the sandbox platform when the
process has one (`CALENDAR_PUBLISH_SANDBOX_URL`, the local stack), else none (the post fails
with a reason saying how to set a target)."""

from __future__ import annotations

from typing import Any

import aiohttp

from services.calendar.publishing.connectors import Connector, PermanentError
from services.calendar.publishing.connectors.sandbox import SandboxConnector
from services.calendar.publishing.connectors.webhook import WebhookConnector
from services.calendar.publishing.repository import PublishingRepository
from services.calendar.settings import CalendarSettings
from shared.lru import BoundedCache

TARGET_TTL_S = 10.0  # a changed target is used within this long
KINDS = ("webhook", "sandbox")


class Connectors:
    """One HTTP session per process (opened on first use, inside the event loop); connectors
    are cheap views over it."""

    def __init__(self, settings: CalendarSettings, repo: PublishingRepository) -> None:
        self.settings = settings
        self.repo = repo
        self._http: aiohttp.ClientSession | None = None
        self._targets: BoundedCache[tuple[str, str, str], dict[str, Any]] = BoundedCache(
            10_000, TARGET_TTL_S
        )

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.publish_timeout_s),
                connector=aiohttp.TCPConnector(
                    limit=self.settings.publish_concurrency, limit_per_host=0
                ),
                headers={"User-Agent": "SocialOps-Publisher/1"},
            )
        return self._http

    async def for_post(self, doc: dict[str, Any]) -> Connector:
        key = (doc["tenant_id"], doc["client_id"], str(doc["platform"]))
        target = self._targets.get(key)
        if target is None:
            target = await self.repo.target(*key) or {}
            self._targets.put(key, target)
        if target.get("kind") == "webhook":
            return WebhookConnector(self.http, url=target["url"], secret=target["secret"])
        if self.settings.publish_sandbox_url:
            return SandboxConnector(
                self.http,
                base_url=self.settings.publish_sandbox_url,
                token=self.settings.publish_sandbox_token,
            )
        raise PermanentError(
            f"no publishing target for {key[2]}: set one with "
            f"PUT /clients/{key[1]}/publishing/targets/{key[2]}"
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
