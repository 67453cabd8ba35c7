"""Publishing's writes to the `posts` collection, and the per-client publishing targets.

Every transition is one conditional write (on the post's current status and, for the
dispatcher, its lease token; for the routes, its version; the dispatcher checks its condition
in the transaction: see below) in a transaction that also stages the transition's event in the
outbox. A write whose condition no longer holds changes nothing (a paused, cancelled or
taken-over post is left alone).

Claims are leases: `lease` = {owner, token} and `lease_until` on the post. A post is claimable
when it is `scheduled` and its `scheduled_at` has passed, or when it is `due`/`publishing` and
its `lease_until` has passed (`due`: waiting for a retry's time after a transient error;
`publishing`: a dead process's claim).

What SecantusDB makes slow, measured at 22,500 posts: an `$in` on the status with a range on
`lease_until` scans the whole collection (57 ms, seconds at a million; one query per status:
2 ms); an `$in` over many ids compares every post found with every id (reading 1,000 posts by
one `$in`: 722 ms; in chunks of 50: 120 ms); and a write whose filter has more than its `_id`
costs half as much again (claiming 1,000 posts: 1.76 ms each, by `_id` alone 1.18 ms). So the
dispatcher's writes check their condition on the posts as its transaction reads them (the
claim's candidates are read in it, recording reads its posts in chunks of 50) and then write
by `_id` alone. The snapshot keeps that as safe as the condition in each filter: a post
changed by anyone after the read fails the write with a WriteConflict (a
TransientTransactionError) and the transaction aborts with nothing written.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
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
READ_CHUNK = 50  # ids in one `$in` read (see `_read`)

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

    async def due_ids(self, *, now: datetime, limit: int) -> list[tuple[datetime, str]]:
        """(instant, id) of up to `limit` scheduled posts whose instant has passed, oldest
        first. SecantusDB reads every match of an index range before it sorts or limits (50 of
        4,000 due posts: 250 ms, the same as all 4,000), so the dispatcher reads the due set
        once per burst and claims from that list, instead of paying for the whole set again
        in every claim (quadratic in a burst: 4,000 posts due at once took 150 s)."""
        cursor = self.posts.find(
            {"status": SCHEDULED, "scheduled_at": {"$lte": now}}, {"_id": 1, "scheduled_at": 1}
        )
        docs = await cursor.sort("scheduled_at", ASCENDING).to_list(limit)
        return [(d["scheduled_at"], d["_id"]) for d in docs]

    async def claim(
        self,
        *,
        owner: str,
        now: datetime,
        limit: int,
        lease_s: float,
        candidates: Iterable[str] = (),
    ) -> Claim:
        """Take up to `limit` claimable posts (expired leases and retries whose time came
        first, then due ones from `candidates`, ids from `due_ids`, in their order) and hand
        them to this publisher, in one transaction: each post still claimable as the
        transaction reads it, one write to `publishing` (a fresh one passes through due: its
        `PostDue` is staged with it; one taken over or retried was announced before), its
        attempts counted and its lease set. Candidates are consumed as they are read: one that
        is no longer claimable (another process took it, it was paused) is dropped."""
        token = uuid.uuid4().hex
        until = now + timedelta(seconds=lease_s)
        changes = {"status": PUBLISHING, "lease": {"owner": owner, "token": token},
                   "lease_until": until}  # fmt: skip
        inc = {"version": 1, "attempts": 1}
        pending = iter(candidates)
        # the candidates are read in the transaction: its snapshot then guards the writes by
        # `_id` (read outside, they had to be read again inside: twice the reads, and by one
        # large `$in`, quadratic in SecantusDB)
        async with mongo.transaction(self.runtime.mongo) as s:
            expired = await self._expired(s, now, limit)
            fresh: list[dict[str, Any]] = []
            while len(expired) + len(fresh) < limit:
                ids = list(islice(pending, min(READ_CHUNK, limit - len(expired) - len(fresh))))
                if not ids:
                    break
                found = await self._read(s, ids)
                fresh += [found[i] for i in ids if _due(found.get(i), now)]
            if not expired and not fresh:
                await s.abort_transaction()  # nothing written: nothing to commit
                return Claim(token, until, [])
            # one write per post, by `_id` alone: read in this transaction, it is still claimable
            took_over = {"$set": changes, "$inc": inc}
            due = {"$set": changes | {"due_at": now}, "$inc": inc}
            writes = [UpdateOne({"_id": d["_id"]}, took_over) for d in expired]
            writes += [UpdateOne({"_id": d["_id"]}, due) for d in fresh]
            result = await self.posts.bulk_write(writes, ordered=False, session=s)
            if result.modified_count != len(writes):  # cannot happen under the snapshot
                raise RuntimeError(f"claimed {result.modified_count} of {len(writes)}")
            # the posts as claimed: as read in this transaction, with the write applied
            posts = [_applied(d, changes, inc) for d in expired]
            fresh = [_applied(d, changes | {"due_at": now}, inc) for d in fresh]
            posts += fresh
            await self._stage(s, [lifecycle.due(d) for d in fresh])
        if fresh:
            self.runtime.outbox.kick()
        return Claim(token, until, posts)

    async def _expired(
        self, session: AsyncClientSession, now: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Held posts whose lease ended, oldest first: one query per held status (an `$in` on
        the status with the range on `lease_until` is a collection scan in SecantusDB)."""
        found: list[dict[str, Any]] = []
        for status in HELD:
            found += (
                await self.posts.find(
                    {"status": status, "lease_until": {"$lte": now}}, session=session
                )
                .sort("lease_until", ASCENDING)
                .to_list(limit)
            )
        return sorted(found, key=lambda d: d["lease_until"])[:limit]

    async def _read(
        self, session: AsyncClientSession, ids: list[Any], projection: dict[str, Any] | None = None
    ) -> dict[Any, dict[str, Any]]:
        """The posts with these ids as this transaction sees them, by id. `_id` alone is
        planned on the index; `READ_CHUNK` ids a query, since SecantusDB compares each post
        found with every id of an `$in` (quadratic in one large `$in`)."""
        found: dict[Any, dict[str, Any]] = {}
        for start in range(0, len(ids), READ_CHUNK):
            chunk = ids[start : start + READ_CHUNK]
            cursor = self.posts.find({"_id": {"$in": chunk}}, projection, session=session)
            found |= {d["_id"]: d async for d in cursor}
        return found

    async def record(self, outcomes: Sequence[Outcome]) -> int:
        """Record attempts' answers in one transaction with their events; returns how many
        were recorded. Each is one write by `_id`, made only when the post as read in the
        transaction is still `publishing` under the attempt's lease token: one taken over
        meanwhile is left alone, and the others are recorded all the same."""
        if not outcomes:
            return 0
        async with mongo.transaction(self.runtime.mongo) as s:
            now_as = await self._read(
                s, [o.doc["_id"] for o in outcomes], {"status": 1, "lease.token": 1}
            )
            held = [o for o in outcomes if _holds(now_as.get(o.doc["_id"]), o.token)]
            if held:
                result = await self.posts.bulk_write(
                    [UpdateOne({"_id": o.doc["_id"]}, _update(o)) for o in held],
                    ordered=False, session=s,
                )  # fmt: skip
                if result.modified_count != len(held):  # cannot happen under the snapshot
                    raise RuntimeError(f"recorded {result.modified_count} of {len(held)} held")
                await self._stage(s, [_event(o) for o in held])
        if held:
            self.runtime.outbox.kick()
        return len(held)

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
        instants = [first["scheduled_at"]] if first else []
        for status in HELD:  # one query each: `$in` with a range is a collection scan
            lease = await self.posts.find_one(
                {"status": status, "lease_until": {"$lte": until}},
                {"lease_until": 1},
                sort=[("lease_until", ASCENDING)],
            )
            if lease:
                instants.append(lease["lease_until"])
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


def _applied(doc: dict[str, Any], changes: dict[str, Any], inc: dict[str, int]) -> dict[str, Any]:
    """`doc` after `{"$set": changes, "$inc": inc}` (the post as a claim wrote it)."""
    return doc | changes | {k: int(doc.get(k) or 0) + n for k, n in inc.items()}


def _due(doc: dict[str, Any] | None, now: datetime) -> bool:
    """Whether `doc` (as a claim's transaction read it) is a scheduled post due by `now`."""
    return doc is not None and doc.get("status") == SCHEDULED and doc["scheduled_at"] <= now


def _holds(doc: dict[str, Any] | None, token: str) -> bool:
    """Whether an attempt under lease `token` may still record its answer on `doc`."""
    lease = (doc or {}).get("lease") or {}
    return doc is not None and doc.get("status") == PUBLISHING and lease.get("token") == token


def _update(o: Outcome) -> dict[str, Any]:
    """The update recording an outcome (on a post that `_holds` for its token)."""
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
        return {"$set": changes, "$unset": {"lease": "", "lease_until": ""},
                "$inc": {"version": 1}}  # fmt: skip
    if o.permanent:
        changes = {"status": PostStatus.FAILED.value, "last_error": o.reason, "failed_at": o.at,
                   "retry_at": None}  # fmt: skip
        return {"$set": changes, "$unset": {"lease": "", "lease_until": ""},
                "$inc": {"version": 1}}  # fmt: skip
    changes = {"status": DUE, "last_error": o.reason, "retry_at": o.retry_at,
               "lease_until": o.retry_at, "lease": None}  # fmt: skip
    return {"$set": changes, "$inc": {"version": 1}}


def _event(o: Outcome) -> Event:
    if o.result is not None:
        return lifecycle.published(o.doc, o.result, at=o.at)
    return lifecycle.failed(o.doc, o.reason, permanent=o.permanent, retry_at=o.retry_at)
