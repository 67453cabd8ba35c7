"""The webhook sender: a background task of every calendar process. It claims due pending
deliveries (`repository.claim`, a lease: several processes share the queue, a killed one's
claims come back after `lease_s`), POSTs each signed body, and logs the attempt. A 2xx is
delivered; anything else (or no answer) is retried with capped exponential backoff and full
jitter, never sooner than a Retry-After; after `max_attempts` the delivery is failed. Every
failed attempt counts against its subscription; `disable_after` in a row disable it, with
`WebhookSubscriptionDisabled` staged in the outbox in the same transaction (once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from services.calendar.webhooks import metrics
from services.calendar.webhooks.models import DeliveryStatus, SubscriptionStatus
from services.calendar.webhooks.policy import backoff, retry_after, signature_header
from services.calendar.webhooks.repository import WebhookRepository
from services.calendar.webhooks.settings import WebhookSettings
from shared import mongo, tasks, topics
from shared.envelope import utcnow
from shared.events import WebhookSubscriptionDisabled
from shared.runtime import Runtime
from shared.signing import SIGNATURE_HEADER

log = logging.getLogger("socialops.calendar.webhooks")
EVENT_ID_HEADER = "X-SocialOps-Event-Id"
EVENT_TYPE_HEADER = "X-SocialOps-Event-Type"
DELIVERY_HEADER = "X-SocialOps-Delivery"
ATTEMPT_HEADER = "X-SocialOps-Attempt"
USER_AGENT = "SocialOps-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt of a delivery came to, and what follows."""

    delivery: dict[str, Any]
    sub: dict[str, Any]
    attempt: dict[str, Any]
    status: DeliveryStatus
    next_attempt_at: datetime | None
    outcome: str  # the metric's label: delivered, retrying, failed


class Sender:
    def __init__(
        self,
        runtime: Runtime,
        repo: WebhookRepository,
        settings: WebhookSettings,
    ) -> None:
        self.runtime = runtime
        self.repo = repo
        self.settings = settings
        self.owner = f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """New deliveries are due: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Send forever (cancelled on shutdown; claims in flight come back after the lease)."""
        # aiohttp, not httpx: a twentieth of the CPU per request (publishing/connectors/http.py)
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            while True:
                sent = 0
                try:
                    sent = await self.drain(client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    tasks.raise_if_stopping()
                    log.exception("webhook sender failed; will retry")
                if not sent:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), timeout=self.settings.poll_interval_s
                        )
                    self._wake.clear()

    async def drain(self, client: aiohttp.ClientSession) -> int:
        """Send what is due, `concurrency` at a time, until nothing is; returns how many."""
        done = 0
        while True:
            batch = await self.repo.claim(
                now=utcnow(),
                lease_s=self.settings.lease_s,
                owner=self.owner,
                limit=self.settings.concurrency,
            )
            if not batch:
                return done
            subs = await self.repo.subscriptions_by_id({d["subscription_id"] for d in batch})
            outcomes = await asyncio.gather(
                *(self.deliver(client, d, subs.get(d["subscription_id"])) for d in batch)
            )
            await self._settle([o for o in outcomes if o is not None])
            done += len(batch)

    async def deliver(
        self, client: aiohttp.ClientSession, delivery: dict[str, Any], sub: dict[str, Any] | None
    ) -> Outcome | None:
        """One attempt of one delivery (`sub`: its subscription as read for this batch) and
        what follows from its answer (None: not sent, its subscription is gone or off)."""
        if sub is None:
            await self.repo.set_status(delivery["_id"], DeliveryStatus.CANCELLED)
            return None
        if sub["status"] != SubscriptionStatus.ACTIVE.value:
            await self.repo.set_status(delivery["_id"], DeliveryStatus.SUSPENDED)
            return None
        number = len(delivery.get("attempts", [])) + 1
        now = utcnow()
        body: bytes = delivery["body"]
        previous = sub.get("previous_secret")
        if previous and not (
            sub.get("previous_secret_until") and sub["previous_secret_until"] > now
        ):
            previous = None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: delivery["event_id"],
            EVENT_TYPE_HEADER: delivery["event_type"],
            DELIVERY_HEADER: delivery["_id"],
            ATTEMPT_HEADER: str(number),
            SIGNATURE_HEADER: signature_header(
                sub["secret"], body, now=now.timestamp(), previous_secret=previous
            ),
        }
        started = time.monotonic()
        code: int | None = None
        wait: float | None = None
        try:
            async with client.post(
                sub["url"], data=body, headers=headers, allow_redirects=False
            ) as answer:
                code = answer.status
                if code in (429, 503):
                    wait = retry_after(answer.headers.get("Retry-After"), now=now)
            error = None if 200 <= code < 300 else f"HTTP {code}"
        except (aiohttp.ClientError, TimeoutError) as e:
            error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        attempt: dict[str, Any] = {
            "at": now,
            "status_code": code,
            "error": error,
            "duration_ms": int((time.monotonic() - started) * 1000),
        }
        if error is None:
            return Outcome(delivery, sub, attempt, DeliveryStatus.DELIVERED, None, "delivered")
        s = self.settings
        last = number >= s.max_attempts
        delay = backoff(number, base_s=s.base_delay_s, cap_s=s.max_delay_s, retry_after_s=wait)
        if last:
            return Outcome(delivery, sub, attempt, DeliveryStatus.FAILED, None, "failed")
        next_at = attempt["at"] + timedelta(seconds=delay)
        return Outcome(delivery, sub, attempt, DeliveryStatus.PENDING, next_at, "retrying")

    async def _settle(self, outcomes: list[Outcome]) -> None:
        """Log the batch's attempts in one bulk write, then count each subscription's
        failures in a row (a success in the batch resets the count to the failures beside it);
        `disable_after` in a row disable it."""
        await self.repo.finish_many(
            [(o.delivery, o.attempt, o.status, o.next_attempt_at) for o in outcomes]
        )
        by_sub: dict[str, list[Outcome]] = {}
        for o in outcomes:
            metrics.ATTEMPTS.labels(o.outcome).inc()
            if o.status is DeliveryStatus.DELIVERED:
                occurred = _occurred_at(o.delivery)
                if occurred is not None:
                    metrics.LAG.observe(max(0.0, (o.attempt["at"] - occurred).total_seconds()))
            by_sub.setdefault(o.sub["_id"], []).append(o)
        for sub_id, mine in by_sub.items():
            failed = [o for o in mine if o.status is not DeliveryStatus.DELIVERED]
            if not failed:
                if mine[0].sub.get("consecutive_failures"):
                    await self.repo.record_success(sub_id)
                continue
            reset = len(failed) < len(mine)
            after = await self.repo.record_failures(sub_id, len(failed), reset=reset)
            if after is not None and after["consecutive_failures"] >= self.settings.disable_after:
                await self._disable(after, failed[-1].attempt["error"] or "")

    async def _disable(self, sub: dict[str, Any], error: str) -> None:
        runtime = self.runtime
        failures = int(sub["consecutive_failures"])
        reason = f"{failures} failed attempts in a row; last: {error}"[:500]
        event = WebhookSubscriptionDisabled.new(
            producer="calendar",
            tenant_id=sub["tenant_id"],
            subscription_id=sub["_id"],
            url=sub["url"],
            consecutive_failures=failures,
            last_error=error[:2000],
        )
        async with mongo.transaction(runtime.mongo) as session:
            disabled = await self.repo.disable(sub["_id"], reason=reason, session=session)
            if disabled:
                await runtime.outbox.stage(session, runtime.topics(topics.WEBHOOKS), event)
        if disabled:
            runtime.outbox.kick()
            metrics.DISABLED.labels(sub["tenant_id"]).inc()
            log.warning("webhook subscription %s of %s disabled: %s", sub["_id"],
                        sub["tenant_id"], reason)  # fmt: skip


def _occurred_at(delivery: dict[str, Any]) -> datetime | None:
    created = delivery.get("created_at")
    return created if isinstance(created, datetime) else None
