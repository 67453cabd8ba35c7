"""Sandbox connector: the local sandbox platform (deploy/local/sandbox_platform.py), shaped
like a real platform connector: base URL and token from settings
(`CALENDAR_PUBLISH_SANDBOX_URL`, `CALENDAR_PUBLISH_SANDBOX_TOKEN`), one endpoint per platform
(`POST {base}/v1/{platform}/posts`), the post id as `Idempotency-Key`. A real connector (Meta
Graph, LinkedIn, X) is a module like this one with that platform's endpoint and payload."""

from __future__ import annotations

import aiohttp

from services.calendar.publishing.connectors import Publication, Published
from services.calendar.publishing.connectors.http import send


class SandboxConnector:
    kind = "sandbox"

    def __init__(self, http: aiohttp.ClientSession, *, base_url: str, token: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token

    async def publish(self, publication: Publication) -> Published:
        url = f"{self.base_url}/v1/{publication.platform.value}/posts"
        auth = {"Authorization": f"Bearer {self.token}"}
        return await send(self.http, url, publication, headers=auth)

    async def close(self) -> None:
        return None
