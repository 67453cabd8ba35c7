"""Publishing's writes to the `posts` collection, and the per-client publishing targets.

Every transition is one conditional write (on the post's current status and, for the
dispatcher, its lease token; for the routes, its version) in a transaction that also stages
the transition's event in the outbox. A write whose condition no longer holds changes nothing
(a paused, cancelled or taken-over post is left alone).

Claims are leases: `lease` = {owner, token} and `lease_until` on the post. A post is claimable
when it is `scheduled` and its `scheduled_at` has passed, or when it is `due`/`publishing` and
its `lease_until` has passed (`due`: waiting for a retry's time after a transient error;
`publishing`: a dead process's claim).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.calendar.models import PostStatus
from services.calendar.publishing import lifecycle
from services.calendar.publishing.connectors import Published
from shared import mongo, topics
from shared.envelope import Event
from shared.runtime import Runtime

SCHEDULED = PostStatus.SCHEDULED.value
DUE = PostStatus.DUE.value
PUBLISHING = PostStatus.PUBLISHING.value
HELD = [DUE, PUBLISHING]
OPEN = [SCHEDULED, DUE, PUBLISHING]

INDEXES = {
    "posts": [
        # the due query: scheduled posts whose instant has passed, oldest first
        IndexModel([("status", ASCENDING), ("scheduled_at", ASCENDING)]),
        # expired leases (a dead process's claims) and retries whose time has come
        IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)]),
    ],
    "publish_targets": [
        IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING), ("platform", ASCENDING)])
    ],
}


@dataclass(frozen=True)
class Claim:
    """Posts one dispatcher holds until `until` (the lease token guards every later write)."""

    token: str
    until: datetime
    posts: list[dict[str, Any]]
    at: float = field(default_factory=time.monotonic)  # when claimed (this process's clock)


@dataclass(frozen=True)
class Outcome:
    """The answer to one attempt, to record: published, or failed (retry at `retry_at`
    unless permanent)."""

    doc: dict[str, Any]
    token: str
    at: datetime
    result: Published | None = None
    reason: str = ""
    permanent: bool = False
    retry_at: datetime | None = None
    owner: str = ""


class PublishingRepository:
    def __init__(self, runtime: Runtime, db: AsyncDatabase[Any]) -> None:
        self.runtime = runtime
        self.posts = db["posts"]
        self.targets = db["publish_targets"]

    def _topic(self) -> str:
        return self.runtime.topics(topics.POST_LIFECYCLE)

    async def _stage(self, session: AsyncClientSession, events: Sequence[Event]) -> None:
        if events:
            await self.runtime.outbox.stage(session, self._topic(), *events)

    # ------------------------------------------------------------------ dispatcher

    async def claim(
        self, *, owner: str, now: datetime, limit: int, lease_s: float, newest_first: bool = False
    ) -> Claim:
        """Take up to `limit` claimable posts (expired leases and retries whose time came
        first, then due ones oldest first) and hand them to this publisher, in one
        transaction: each post one conditional write to `publishing` (a fresh one passes
        through due: its `PostDue` is staged with it; one taken over or retried was announced
        before), its attempts counted and its lease set. `newest_first` takes the due posts
        from the other end, so processes claiming at once mostly take different posts."""
        token = uuid.uuid4().hex
        until = now + timedelta(seconds=lease_s)
        changes = {"status": PUBLISHING, "lease": {"owner": owner, "token": token},
                   "lease_until": until}  # fmt: skip
        # candidates are read outside the transaction (short transactions hold the database
        # least); the writes re-check that each is still claimable
        expired = (
            await self.posts.find({"status": {"$in": HELD}, "lease_until": {"$lte": now}})
            .sort("lease_until", ASCENDING)
            .to_list(limit)
        )
        fresh = []
        if len(expired) < limit:
            fresh = (
                await self.posts.find({"status": SCHEDULED, "scheduled_at": {"$lte": now}})
                .sort("scheduled_at", DESCENDING if newest_first else ASCENDING)
                .to_list(limit - len(expired))
            )
        if not expired and not fresh:
            return Claim(token, until, [])
        async with mongo.transaction(self.runtime.mongo) as s:
            taken = 0
            if expired:
                result = await self.posts.update_many(
                    {"_id": {"$in": [d["_id"] for d in expired]}, "status": {"$in": HELD},
                     "lease_until": {"$lte": now}},
                    {"$set": changes, "$inc": {"version": 1, "attempts": 1}},
                    session=s,
                )  # fmt: skip
                taken += result.modified_count
            if fresh:
                result = await self.posts.update_many(
                    {
                        "_id": {"$in": [d["_id"] for d in fresh]},
                        "status": SCHEDULED,
                        "scheduled_at": {"$lte": now},
                    },
                    {"$set": changes | {"due_at": now}, "$inc": {"version": 1, "attempts": 1}},
                    session=s,
                )
                taken += result.modified_count
            # the posts as claimed (an edit between the read and the claim is seen here)
            was_fresh = {d["_id"] for d in fresh}
            ids = [d["_id"] for d in expired + fresh]
            posts = await self.posts.find(
                {"_id": {"$in": ids}, "lease.token": token}, session=s
            ).to_list(None) if taken else []  # fmt: skip
            fresh = [d for d in posts if d["_id"] in was_fresh]
            await self._stage(s, [lifecycle.due(d) for d in fresh])
        if fresh:
            self.runtime.outbox.kick()
        return Claim(token, until, posts)

    async def record(self, outcomes: Sequence[Outcome]) -> int:
        """Record attempts' answers in one transaction (each a write conditional on the lease
        token and `publishing`) with their events; returns how many were recorded. When some
        no longer hold (taken over), each is recorded alone so only the held ones count."""
        if not outcomes:
            return 0
        try:
            async with mongo.transaction(self.runtime.mongo) as s:
                result = await self.posts.bulk_write(
                    [UpdateOne(*_write(o)) for o in outcomes], ordered=False, session=s
                )
                if result.modified_count != len(outcomes):
                    raise _NotAllHeldError
                await self._stage(s, [_event(o) for o in outcomes])
        except _NotAllHeldError:
            recorded = 0
            for o in outcomes:
                async with mongo.transaction(self.runtime.mongo) as s:
                    one = await self.posts.update_one(*_write(o), session=s)
                    if one.modified_count:
                        await self._stage(s, [_event(o)])
                        recorded += 1
            self.runtime.outbox.kick()
            return recorded
        self.runtime.outbox.kick()
        return len(outcomes)

    async def next_due(self, *, now: datetime, within: timedelta) -> datetime | None:
        """The earliest instant up to `now + within` something becomes claimable (None:
        nothing by then). Bounded on purpose: SecantusDB sorts every match in memory, so the
        earliest of all scheduled posts took 534 ms at 20,000 posts (seconds at a million,
        holding the database on every idle step); the few due within the window take 1 ms."""
        until = now + within
        first = await self.posts.find_one(
            {"status": SCHEDULED, "scheduled_at": {"$lte": until}},
            {"scheduled_at": 1},
            sort=[("scheduled_at", ASCENDING)],
        )
        lease = await self.posts.find_one(
            {"status": {"$in": HELD}, "lease_until": {"$lte": until}},
            {"lease_until": 1},
            sort=[("lease_until", ASCENDING)],
        )
        instants = [d[k] for d, k in ((first, "scheduled_at"), (lease, "lease_until")) if d]
        return min(instants) if instants else None

    async def overdue(self, *, before: datetime) -> dict[str, int]:
        """How many posts due before `before` are still not out, by status."""
        counts = {}
        for status in OPEN:
            counts[status] = await self.posts.count_documents(
                {"status": status, "scheduled_at": {"$lt": before}}
            )
        return counts

    # ------------------------------------------------------------------ by hand and budgets

    async def transition(
        self,
        doc: dict[str, Any],
        *,
        to: PostStatus,
        changes: dict[str, Any],
        unset: Iterable[str] = (),
        event: Event,
        activity: Callable[[dict[str, Any]], Event] | None = None,
    ) -> dict[str, Any] | None:
        """One post from its current status and version to `to`, with its event (and, given
        `activity`, the activity-log entry it builds from the post after); None when the post
        changed meanwhile."""
        version = doc.get("version", 1)
        query: dict[str, Any] = {"_id": doc["_id"], "tenant_id": doc["tenant_id"],
                                 "status": doc["status"], "version": version}  # fmt: skip
        update: dict[str, Any] = {"$set": {**changes, "status": to.value, "version": version + 1}}
        if unset:
            update["$unset"] = {f: "" for f in unset}
        async with mongo.transaction(self.runtime.mongo) as s:
            result = await self.posts.update_one(query, update, session=s)
            if not result.modified_count:
                return None
            await self._stage(s, [event])
            if activity is not None:
                after = {k: v for k, v in doc.items() if k not in set(update.get("$unset", {}))}
                entry = activity(after | update["$set"])
                await self.runtime.outbox.stage(s, self.runtime.topics(topics.ACTIVITY), entry)
        self.runtime.outbox.kick()
        return await self.posts.find_one({"_id": doc["_id"], "tenant_id": doc["tenant_id"]})

    async def get(self, tenant_id: str, client_id: str, post_id: str) -> dict[str, Any] | None:
        return await self.posts.find_one(
            {"_id": post_id, "tenant_id": tenant_id, "client_id": client_id}
        )

    # ------------------------------------------------------------------ targets

    async def target(self, tenant_id: str, client_id: str, platform: str) -> dict[str, Any] | None:
        return await self.targets.find_one(
            {"tenant_id": tenant_id, "client_id": client_id, "platform": platform}
        )

    async def put_target(self, target: dict[str, Any]) -> None:
        key = f"{target['tenant_id']}:{target['client_id']}:{target['platform']}"
        await self.targets.replace_one({"_id": key}, {"_id": key, **target}, upsert=True)

    async def list_targets(self, tenant_id: str, client_id: str) -> list[dict[str, Any]]:
        cursor = self.targets.find({"tenant_id": tenant_id, "client_id": client_id})
        return await cursor.sort("platform", ASCENDING).to_list(100)

    async def delete_target(self, tenant_id: str, client_id: str, platform: str) -> bool:
        result = await self.targets.delete_one(
            {"tenant_id": tenant_id, "client_id": client_id, "platform": platform}
        )
        return bool(result.deleted_count)


class _NotAllHeldError(Exception):
    """Raised inside a transaction to abort it when some outcomes no longer hold."""


def _write(o: Outcome) -> tuple[dict[str, Any], dict[str, Any]]:
    """The conditional update recording an outcome: (filter, update)."""
    query = {"_id": o.doc["_id"], "lease.token": o.token, "status": PUBLISHING}
    if o.result is not None:
        changes: dict[str, Any] = {
            "status": PostStatus.PUBLISHED.value,
            "platform_post_id": o.result.platform_post_id,
            "platform_url": o.result.url,
            "published_at": o.at,
            "published_by": o.owner,
            "last_error": None,
            "retry_at": None,
        }
        return query, {"$set": changes, "$unset": {"lease": "", "lease_until": ""},
                       "$inc": {"version": 1}}  # fmt: skip
    if o.permanent:
        changes = {"status": PostStatus.FAILED.value, "last_error": o.reason, "failed_at": o.at,
                   "retry_at": None}  # fmt: skip
        return query, {"$set": changes, "$unset": {"lease": "", "lease_until": ""},
                       "$inc": {"version": 1}}  # fmt: skip
    changes = {"status": DUE, "last_error": o.reason, "retry_at": o.retry_at,
               "lease_until": o.retry_at, "lease": None}  # fmt: skip
    return query, {"$set": changes, "$inc": {"version": 1}}


def _event(o: Outcome) -> Event:
    if o.result is not None:
        return lifecycle.published(o.doc, o.result, at=o.at)
    return lifecycle.failed(o.doc, o.reason, permanent=o.permanent, retry_at=o.retry_at)
