"""Webhook connector: POSTs the post as JSON to the URL an agency set for a client and
platform (Zapier, n8n, Make, their own publisher).

Request: `Content-Type: application/json`, `Idempotency-Key: <post id>`, `X-Account`, and
`X-SocialOps-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (shared/signing.py,
the Stripe/GitHub scheme). A 2xx answer carries `{"platform_post_id": "...", "url": "..."}`
(or `id`); 408/425/429/5xx are retried (honouring `Retry-After`); any other 4xx fails the
post with the answer's reason."""

from __future__ import annotations

import aiohttp

from services.calendar.publishing.connectors import Publication, Published
from services.calendar.publishing.connectors.http import send


class WebhookConnector:
    kind = "webhook"

    def __init__(self, http: aiohttp.ClientSession, *, url: str, secret: str) -> None:
        self.http = http
        self.url = url
        self.secret = secret

    async def publish(self, publication: Publication) -> Published:
        return await send(self.http, self.url, publication, secret=self.secret)

    async def close(self) -> None:  # the HTTP client belongs to the registry
        return None
