"""The connector interface: how a post reaches a platform.

A connector is one module with one class implementing `Connector.publish(publication)`:

- returns `Published(platform_post_id, url)` when the platform took the post;
- raises `TransientError(reason, retry_after_s)` when trying again later may work (timeouts,
  connection errors, 429, 5xx; `retry_after_s` from the platform's `Retry-After`);
- raises `PermanentError(reason)` when it never will (4xx: caption too long, bad media,
  revoked credentials): the post ends `failed` at once with that reason.

`publication.post_id` is the idempotency key: a connector must pass it to the platform (an
`Idempotency-Key` header, a client reference field...) so a repeated attempt after a crash
never posts twice. Connectors are built once per process by `build_connectors(settings)`;
their credentials come from `CalendarSettings` (env `CALENDAR_...`). To add a real platform
(Meta Graph, LinkedIn, X): write `connectors/<platform>.py` with a class like
`SandboxConnector`, add its credentials to `CalendarSettings`, and register it in
`build_connectors` under a target kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.events import Platform


@dataclass(frozen=True)
class Publication:
    """What a connector gets: the post's content and where it goes (one account = one client
    on one platform)."""

    post_id: str
    tenant_id: str
    client_id: str
    platform: Platform
    scheduled_at: datetime
    caption: str
    content_type: str = "post"
    media: tuple[str, ...] = ()
    link: str | None = None
    pillar: str | None = None
    attempt: int = 1

    @property
    def account(self) -> str:
        """The platform account publishing it (rate limits count per account)."""
        return f"{self.client_id}:{self.platform.value}"


@dataclass(frozen=True)
class Published:
    platform_post_id: str
    url: str | None = None


class PublishError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:2000]


class TransientError(PublishError):
    """Try again later (after `retry_after_s` when the platform said so)."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class PermanentError(PublishError):
    """Never retried: the post fails with this reason."""


class Connector(Protocol):
    kind: str

    async def publish(self, publication: Publication) -> Published: ...

    async def close(self) -> None: ...
