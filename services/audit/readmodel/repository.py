"""The audit's read model in its own database: `audit_posts` (one per post: readings and
totals), `audit_buckets` (one per account and day, and per account and month) and
`audit_years` (one summary per account and year): small documents, since the database's cost
follows the bytes it reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.audit.readmodel.fold import Fold, affected, post_key, year_summary
from shared.events import AnalyticsObserved

INDEXES = {
    "audit_buckets": [
        IndexModel(
            [("tenant_id", ASCENDING), ("client_id", ASCENDING), ("grain", ASCENDING),
             ("month", ASCENDING)]
        )
    ],
    "audit_years": [
        IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING), ("year", ASCENDING)])
    ],
    "audit_observations_seen": [IndexModel("at", expireAfterSeconds=14 * 24 * 3600)],
}  # fmt: skip
PROCESSED = "audit_observations_seen"
SUMMARIES = "year_summaries"  # audit_meta: present once every year summary is kept
SUMMARY = {
    "_id": 0, "platform": 1, "account_id": 1, "types": 1, "top": 1, "followers_first": 1,
    "followers_first_at": 1, "followers_last": 1, "followers_last_at": 1,
}  # fmt: skip


def is_year(key: str) -> bool:
    """True for a year summary's key (`...|Y|YYYY`; day and month keys end `|D|...`, `|M|...`)."""
    return key.rsplit("|", 2)[1] == "Y"


class ReadModel:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.posts = db["audit_posts"]
        self.buckets = db["audit_buckets"]
        # Year summaries live apart, under their own index: an index range reads them
        # several times faster than `_id` lookups, and the buckets' index stays as it was.
        self.years = db["audit_years"]
        self.meta = db["audit_meta"]
        self.seen = db[PROCESSED]
        self.dates = db["audit_post_dates"]
        self._summaries_complete = False

    async def summaries_complete(self) -> bool:
        """True once every year summary is kept (a read model started with them, or rebuilt by
        `backfill_years`); before that, whole years are read from their month buckets."""
        if not self._summaries_complete:
            self._summaries_complete = await self.meta.find_one({"_id": SUMMARIES}) is not None
        return self._summaries_complete

    async def mark_if_new(self) -> None:
        """A read model with no bucket yet keeps its year summaries from the first event on."""
        if await self.buckets.find_one({}, {"_id": 1}) is None:
            await self.meta.update_one(
                {"_id": SUMMARIES}, {"$setOnInsert": {"since": "start"}}, upsert=True
            )

    async def backfill_years(self) -> int:
        """Rebuild every year summary from the month buckets and mark them complete. Run it
        with the service stopped (nothing folding): it is how a read model folded before year
        summaries existed gets them."""
        by_year: dict[str, list[dict[str, Any]]] = {}
        async for m in self.buckets.find({"grain": "month"}):
            account = m["_id"].rsplit("|", 2)[0]
            by_year.setdefault(f"{account}|{m['month'][:4]}", []).append(m)
        docs = [year_summary(months) for months in by_year.values()]
        for i in range(0, len(docs), 5000):
            await self.years.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs[i : i + 5000]],
                ordered=False,
            )
        await self.meta.update_one({"_id": SUMMARIES}, {"$set": {"since": "backfill"}}, upsert=True)
        self._summaries_complete = True
        return len(docs)

    async def record_dates(
        self, dates: dict[str, str], *, session: AsyncClientSession | None = None
    ) -> None:
        """Remember posts' publish days (post key -> YYYY-MM-DD) before their observations."""
        if dates:
            await self.dates.bulk_write(
                [ReplaceOne({"_id": k}, {"day": d}, upsert=True) for k, d in dates.items()],
                ordered=False,
                session=session,
            )

    async def unseen(
        self, events: Sequence[AnalyticsObserved], *, session: AsyncClientSession | None = None
    ) -> list[AnalyticsObserved]:
        """The events not applied yet (a redelivered batch applies nothing twice), first
        occurrence only."""
        keys = {f"{e.tenant_id}|{e.event_id}": e for e in events}
        query = self.seen.find({"_id": {"$in": list(keys)}}, {"_id": 1}, session=session)
        seen = {d["_id"] async for d in query}
        return [e for k, e in keys.items() if k not in seen]

    async def apply(
        self, events: Sequence[AnalyticsObserved], *, session: AsyncClientSession
    ) -> int:
        """Fold a batch of new observations into the read model (one transaction)."""
        if not events:
            return 0
        fold = Fold()
        post_ids = list({post_key(e) for e in events})
        async for doc in self.posts.find({"_id": {"$in": post_ids}}, session=session):
            fold.posts[doc["_id"]] = doc
        new = [k for k in post_ids if k not in fold.posts]
        if new:
            async for doc in self.dates.find({"_id": {"$in": new}}, session=session):
                fold.dates[doc["_id"]] = doc["day"]
        keys = affected(events, fold.posts, fold.dates)
        for collection, wanted in ((self.buckets, [k for k in keys if not is_year(k)]),
                                   (self.years, [k for k in keys if is_year(k)])):  # fmt: skip
            async for doc in collection.find({"_id": {"$in": wanted}}, session=session):
                fold.buckets_by_key[doc["_id"]] = doc
        for e in sorted(events, key=lambda ev: ev.observed_at):
            fold.apply(e)
        if fold.touched_posts:
            await self.posts.bulk_write(
                [ReplaceOne({"_id": k}, fold.posts[k], upsert=True) for k in fold.touched_posts],
                ordered=False,
                session=session,
            )
        for collection, year in ((self.buckets, False), (self.years, True)):
            docs = [d for k, d in fold.buckets_by_key.items() if is_year(k) is year]
            if docs:
                await collection.bulk_write(
                    [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs],
                    ordered=False,
                    session=session,
                )
        now = datetime.now(UTC)
        await self.seen.insert_many(
            [{"_id": f"{e.tenant_id}|{e.event_id}", "at": now} for e in events],
            ordered=False,
            session=session,
        )
        return len(events)

    async def months_for(
        self, tenant_id: str, client_id: str, *, months: list[str], accounts: set[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """Month buckets of the given accounts in the given months."""
        return await self._grain("month", tenant_id, client_id, months, accounts)

    async def years_for(
        self, tenant_id: str, client_id: str, *, years: list[str], accounts: set[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """Year summaries of the given accounts in the given years (one index range per
        client, only the fields an audit reads)."""
        if not years:
            return []
        if not await self.summaries_complete():
            months = [f"{y}-{m:02d}" for y in years for m in range(1, 13)]
            return await self.months_for(tenant_id, client_id, months=months, accounts=accounts)
        cursor = self.years.find(
            {"tenant_id": tenant_id, "client_id": client_id, "year": {"$in": years}}, SUMMARY
        )
        return [d async for d in cursor if (d["platform"], d["account_id"]) in accounts]

    async def days_for(
        self, tenant_id: str, client_id: str, *, days: list[str], accounts: set[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """Day buckets of the given accounts on the given days."""
        wanted = set(days)
        rows = await self._grain(
            "day", tenant_id, client_id, sorted({d[:7] for d in days}), accounts
        )
        return [r for r in rows if r["day"] in wanted]

    async def _grain(
        self,
        grain: str,
        tenant_id: str,
        client_id: str,
        months: list[str],
        accounts: set[tuple[str, str]],
    ) -> list[dict[str, Any]]:
        if not months:
            return []
        cursor = self.buckets.find(
            {
                "tenant_id": tenant_id,
                "client_id": client_id,
                "grain": grain,
                "month": {"$in": months},
            },
            {"_id": 0, "tenant_id": 0, "client_id": 0, "grain": 0},
        )
        return [d async for d in cursor if (d["platform"], d["account_id"]) in accounts]
