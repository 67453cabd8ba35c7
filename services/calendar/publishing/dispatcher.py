"""The dispatcher: every calendar process runs one; together they publish each due post once.

Loop: claim what is due (each post one conditional write to `publishing` with a lease, in one
transaction with their `PostDue`s), publish each post through its connector with bounded
concurrency (in all, and per account), and record the answers in group commits (one
transaction for whatever answers arrived meanwhile, with their events).

How much it claims adapts to what it measures: it holds about `publish_window_s` seconds of
work at its measured publish rate (at least a small floor, at most `publish_max_batch`), so a
burst at the top of the hour is claimed in growing batches, and a quiet minute in small ones.
Several processes share the due set: each claim is conditional on the post still being
claimable, so a post has one holder at a time; a process that dies keeps its posts only until
their lease ends, then any process takes them over. A holder never starts an attempt it could
not record before its lease ends.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from services.calendar.metrics import (
    DISPATCH_SECONDS,
    POSTS_CLAIMED,
    POSTS_OVERDUE,
    PUBLISH_ATTEMPTS,
    PUBLISH_LAG,
)
from services.calendar.publishing import lifecycle
from services.calendar.publishing.connectors import (
    PermanentError,
    TransientError,
)
from services.calendar.publishing.connectors.registry import Connectors
from services.calendar.publishing.repository import Claim, Outcome, PublishingRepository
from services.calendar.settings import CalendarSettings
from shared import tasks
from shared.envelope import utcnow

log = logging.getLogger("socialops.calendar.publishing")
MIN_WINDOW = 32  # posts held at least (a first claim before any rate is measured)
RATE_EVERY_S = 1.0
OVERDUE_EVERY_S = 5.0
GROUP_COMMIT_MAX = 1000
SCAN_MAX = 100_000  # due ids read by one scan of the due set


def _conflict(error: Exception) -> bool:
    """A transaction aborted by a concurrent write (retrying it is safe)."""
    labels = getattr(error, "has_error_label", None)
    return bool(labels and labels("TransientTransactionError")) or "conflict" in str(error).lower()


class Recorder:
    """Group commit: attempts hand in their outcome and wait; one writer records everything
    handed in since its last write in one transaction. Batches grow with the arrival rate."""

    def __init__(self, repo: PublishingRepository) -> None:
        self.repo = repo
        self.queue: asyncio.Queue[tuple[Outcome, asyncio.Future[bool]]] = asyncio.Queue()

    async def record(self, outcome: Outcome) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self.queue.put((outcome, future))
        return await future

    async def run(self) -> None:
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < GROUP_COMMIT_MAX:
                items.append(self.queue.get_nowait())
            for attempt in range(5):
                try:
                    with DISPATCH_SECONDS.labels("record").time():
                        await self.repo.record([o for o, _ in items])
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    tasks.raise_if_stopping()
                    log.exception("recording %s outcomes failed (try %s)", len(items), attempt)
                    await asyncio.sleep(0.2 * 2**attempt)
            for _, future in items:  # unrecorded ones stay held; the lease hands them on
                if not future.done():
                    future.set_result(True)


class Dispatcher:
    def __init__(
        self,
        settings: CalendarSettings,
        repo: PublishingRepository,
        connectors: Connectors,
        *,
        owner: str | None = None,
    ) -> None:
        self.s = settings
        self.repo = repo
        self.connectors = connectors
        self.owner = (
            owner
            or settings.publish_owner
            or (f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        )
        self.recorder = Recorder(repo)
        self.slots = asyncio.Semaphore(settings.publish_concurrency)
        self.accounts: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # gate, users
        self.blocked_until: dict[str, float] = {}  # account -> monotonic time (429 Retry-After)
        self.in_flight = 0
        self.completed = 0
        self.rate = 0.0  # posts/s, smoothed
        self._freed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.candidates: collections.deque[str] = collections.deque()  # scanned due ids
        self.boost = MIN_WINDOW
        self.latency = 0.0  # seconds from claim to recorded, smoothed
        self.rng = random.Random()  # noqa: S311 - jitter, not crypto

    # ------------------------------------------------------------------ loop

    def window(self) -> int:
        """Posts to hold in flight. Little's law: what the measured rate needs for the measured
        time a post takes (claim to recorded), doubled for room to grow; and while claims come
        back full (more is due than held), `boost` doubles each round, so a top-of-the-hour
        burst is claimed in growing batches. Bounded by `publish_max_batch` and by what the measured
        rate publishes in a third of the lease (an overloaded process must not claim more than
        it can record before its leases end)."""
        horizon = max(self.s.publish_window_s, self.latency)
        wanted = max(int(2 * self.rate * horizon), self.boost)
        # never more than the measured rate gets through in a third of the lease
        safe = max(MIN_WINDOW, int(self.rate * self.s.publish_lease_s / 3))
        return max(MIN_WINDOW, min(self.s.publish_max_batch, wanted, safe))

    def _adapt(self, claimed: int, room: int) -> None:
        """Grow while the due set is larger than the claims and posts still go out well within
        their lease; shrink back once a claim finds less than it had room for."""
        if claimed >= room and self.latency < self.s.publish_lease_s / 4:
            self.boost = min(self.s.publish_max_batch, max(MIN_WINDOW, self.boost) * 2)
        elif claimed < room:
            self.boost = max(MIN_WINDOW, self.boost // 2)

    async def run(self) -> None:
        """Claim and publish until cancelled."""
        helpers = [
            asyncio.create_task(self.recorder.run(), name="publish-recorder"),
            asyncio.create_task(self._measure(), name="publish-rate"),
            asyncio.create_task(self._watch_overdue(), name="publish-overdue"),
        ]
        try:
            while True:
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    tasks.raise_if_stopping()
                    if _conflict(e):  # other dispatchers claimed the same posts: expected
                        log.info("claims kept conflicting with another dispatcher's; retrying")
                        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.s.publish_idle_poll_s)
                        continue
                    log.exception("dispatch step failed; retrying")
                    await asyncio.sleep(self.s.publish_idle_poll_s)
        finally:
            await tasks.stop([*helpers, *self._tasks])
            await self.connectors.close()

    async def step(self) -> None:
        """One claim (if there is room), then wait as long as nothing more can be done."""
        window = self.window()
        room = window - self.in_flight
        if room < max(1, window // 4) and self.in_flight:
            await self._wait_freed(self.s.publish_idle_poll_s)
            return
        claim = await self._claim(room)
        self._adapt(len(claim.posts), room)
        if len(claim.posts) >= room:
            return  # more may be due: claim again as soon as there is room
        pause = self.s.publish_idle_poll_s
        next_due = await self.repo.next_due(now=utcnow(), within=timedelta(seconds=pause))
        if next_due is not None:
            pause = min(pause, max(0.0, (next_due - utcnow()).total_seconds()))
        if pause > 0:
            await self._wait_freed(pause)

    async def _claim(self, limit: int) -> Claim:
        """Claim up to `limit` posts: expired leases first, then due posts from the list read
        by the last scan of the due set (scanned again once it is used up). Each process
        takes the posts due at the same second in its own random order, so processes
        claiming at once mostly take different posts instead of aborting each other."""
        if not self.candidates:
            with DISPATCH_SECONDS.labels("scan").time():
                scanned = await self.repo.due_ids(now=utcnow(), limit=SCAN_MAX)
            order = {post_id: self.rng.random() for _, post_id in scanned}
            scanned.sort(key=lambda p: (p[0].replace(microsecond=0), order[p[1]]))
            self.candidates.extend(post_id for _, post_id in scanned)
        for attempt in range(4):
            try:
                with DISPATCH_SECONDS.labels("claim").time():
                    claim = await self.repo.claim(
                        owner=self.owner, now=utcnow(), limit=limit,
                        lease_s=self.s.publish_lease_s, candidates=self._next_candidate(),
                    )  # fmt: skip
                break
            except Exception as e:  # a write conflict with another dispatcher: try again
                if attempt == 3 or not _conflict(e):
                    raise
                await asyncio.sleep(self.rng.uniform(0.005, 0.05))
        if claim.posts:
            POSTS_CLAIMED.inc(len(claim.posts))
            self.in_flight += len(claim.posts)
            task = asyncio.create_task(self._publish_claim(claim))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return claim

    def _next_candidate(self) -> Iterator[str]:
        """The scanned due ids, each handed out once (a claim that aborts loses its share of
        them; they are still due, so the next scan finds them again)."""
        while self.candidates:
            yield self.candidates.popleft()

    async def _wait_freed(self, seconds: float) -> None:
        self._freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._freed.wait(), seconds)

    # ------------------------------------------------------------------ publishing

    async def _publish_claim(self, claim: Claim) -> None:
        deadline = time.monotonic() + self.s.publish_lease_s - self._margin()
        attempts = [self._attempt(doc, claim, deadline) for doc in claim.posts]
        await asyncio.gather(*attempts, return_exceptions=True)

    def _margin(self) -> float:
        """An attempt starts only this long before the lease ends, so its answer is recorded
        while the lease still holds."""
        return min(self.s.publish_timeout_s + 1.0, self.s.publish_lease_s / 2)

    def _release(self, n: int) -> None:
        if n:
            self.in_flight -= n
            self.completed += n
            self._freed.set()

    async def _attempt(self, doc: dict[str, Any], claim: Claim, deadline: float) -> None:
        account = f"{doc['tenant_id']}:{doc['client_id']}:{doc['platform']}"
        if account not in self.accounts:
            self.accounts[account] = (
                asyncio.Semaphore(self.s.publish_per_account_concurrency),
                [0],
            )
        gate, users = self.accounts[account]
        users[0] += 1
        try:
            async with gate, self.slots:
                wait = self.blocked_until.get(account, 0.0) - time.monotonic()
                if wait > 0 and time.monotonic() + wait < deadline:
                    await asyncio.sleep(wait)  # the account is rate limited: wait its turn
                    wait = 0
                if time.monotonic() >= deadline:
                    return  # too late to record within the lease: the lease hands it on
                if wait > 0:
                    outcome = self._retry(doc, claim, "account rate limited", wait)
                else:
                    try:
                        outcome = await self._publish(doc, claim)
                    except Exception as e:  # a bug or a connector's surprise: retried, not lost
                        log.exception("publishing %s failed unexpectedly", doc["_id"])
                        outcome = self._retry(doc, claim, f"internal error: {e!r}"[:500], None)
            # recorded with the slots given back: they bound the requests to platforms, and
            # an answer waiting for its group commit must not hold one (with the slots held
            # through the commit, 64 slots made group commits of ~32 answers: 130 posts/s)
            await self.recorder.record(outcome)
        except Exception:
            log.exception("recording %s failed; its lease hands it on", doc["_id"])
        finally:
            users[0] -= 1
            if not users[0]:
                self.accounts.pop(account, None)
                if self.blocked_until.get(account, 0.0) <= time.monotonic():
                    self.blocked_until.pop(account, None)
            self.latency = 0.9 * self.latency + 0.1 * (time.monotonic() - claim.at)
            self._release(1)

    async def _publish(self, doc: dict[str, Any], claim: Claim) -> Outcome:
        """One request to the post's platform; its outcome, to record."""
        platform = str(doc["platform"])
        try:
            connector = await self.connectors.for_post(doc)
            with DISPATCH_SECONDS.labels("request").time():
                result = await asyncio.wait_for(
                    connector.publish(lifecycle.publication(doc)), self.s.publish_timeout_s
                )
        except PermanentError as e:
            PUBLISH_ATTEMPTS.labels(platform, "permanent").inc()
            return Outcome(doc, claim.token, utcnow(), reason=e.reason, permanent=True)
        except (TransientError, TimeoutError) as e:
            reason = e.reason if isinstance(e, TransientError) else "timeout"
            after = e.retry_after_s if isinstance(e, TransientError) else None
            if after:
                key = f"{doc['tenant_id']}:{doc['client_id']}:{platform}"
                self.blocked_until[key] = time.monotonic() + after
            return self._retry(doc, claim, reason, after)
        PUBLISH_ATTEMPTS.labels(platform, "published").inc()
        now = utcnow()
        PUBLISH_LAG.labels(platform).observe(max(0.0, (now - doc["scheduled_at"]).total_seconds()))
        return Outcome(doc, claim.token, now, result=result, owner=self.owner)

    def _retry(
        self, doc: dict[str, Any], claim: Claim, reason: str, after: float | None
    ) -> Outcome:
        """The outcome of a transient failure: again after a backoff, or failed for good after
        `publish_max_attempts`."""
        attempts = int(doc.get("attempts") or 1)
        now = utcnow()
        if attempts >= self.s.publish_max_attempts:
            PUBLISH_ATTEMPTS.labels(str(doc["platform"]), "permanent").inc()
            reason = f"gave up after {attempts} attempts: {reason}"
            return Outcome(doc, claim.token, now, reason=reason, permanent=True)
        PUBLISH_ATTEMPTS.labels(str(doc["platform"]), "transient").inc()
        delay = lifecycle.backoff_s(
            attempts,
            base_s=self.s.publish_backoff_base_s,
            max_s=self.s.publish_backoff_max_s,
            retry_after_s=after,
            rng=self.rng,
        )
        retry_at = now + timedelta(seconds=delay)
        return Outcome(doc, claim.token, now, reason=reason, retry_at=retry_at)

    # ------------------------------------------------------------------ measurements

    async def _measure(self) -> None:
        last, at = self.completed, time.monotonic()
        while True:
            await asyncio.sleep(RATE_EVERY_S)
            now = time.monotonic()
            current = (self.completed - last) / (now - at)
            # smoothed both ways: answers are recorded in group commits, so completions
            # arrive in bursts; growth under a backlog comes from `boost`, not from a spike
            self.rate = 0.7 * self.rate + 0.3 * current
            last, at = self.completed, now

    async def _watch_overdue(self) -> None:
        """The overdue gauge, counted every `OVERDUE_EVERY_S` or, when a count costs more
        than a twentieth of that (SecantusDB reads every post it counts: ~1 s for 20,000 posts
        in flight at the top of the hour), twenty times its cost apart, so that counting never
        takes more than 5 % of the database."""
        while True:
            started = time.monotonic()
            try:
                grace = timedelta(seconds=self.s.publish_overdue_grace_s)
                for status, n in (await self.repo.overdue(before=utcnow() - grace)).items():
                    POSTS_OVERDUE.labels(status).set(n)
            except asyncio.CancelledError:
                raise
            except Exception:
                tasks.raise_if_stopping()
                log.warning("overdue count failed", exc_info=True)
            await asyncio.sleep(max(OVERDUE_EVERY_S, 20 * (time.monotonic() - started)))
