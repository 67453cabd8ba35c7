"""The audit's year summaries against the month buckets, on the real database: a scripted data
set (two years, late and out-of-order observations, a post that moves back into the year
before, replaced and incremental readings, more than 5 posts a month) is folded batch by batch
by the read model, then every audit is run from the year summaries and from the month buckets
only (the read path before the summaries): the answers must be identical."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.audit.accounts.models import Account
from services.audit.analysis.audit import run_audit
from services.audit.analysis.period import Period
from services.audit.readmodel.handlers import fold_once
from services.audit.readmodel.repository import INDEXES, ReadModel
from shared import mongo
from shared.events import AnalyticsObserved
from tests.integration.conftest import Infra

TENANT, CLIENT = "t-summaries", "c-summaries"
# (platform, account, owned, groups)
ACCOUNTS = [
    ("instagram", "own-ig", True, ("bakeries", "all")),
    ("instagram", "rival-a", False, ("bakeries", "all")),
    ("instagram", "rival-b", False, ("all",)),
    ("tiktok", "own-tt", True, ("all",)),
    ("tiktok", "rival-c", False, ("all",)),
    ("tiktok", "rival-d", False, ("all",)),
]
TYPES = ("photo", "video", "carousel")


def obs(platform: str, account: str, owned: bool, **kw: Any) -> AnalyticsObserved:
    return AnalyticsObserved.new(
        producer="tests.audit", tenant_id=TENANT, client_id=CLIENT, platform=platform,
        account_id=account, owned=owned, source={"api": "test", "kind": "poll"}, **kw,
    )  # fmt: skip


def scripted() -> list[AnalyticsObserved]:
    """Two years of observations, deterministic, with the awkward cases named above."""
    rnd = random.Random(11)
    out: list[AnalyticsObserved] = []
    start = datetime(2025, 1, 1, 8, tzinfo=UTC)
    for platform, account, owned, _ in ACCOUNTS:
        level = "account" if owned else "competitor_account"
        followers = rnd.randint(100, 5000)
        for day in range(0, 730, 9):
            followers += rnd.randint(-20, 60)
            out.append(obs(platform, account, owned, entity_level=level, entity_id=account,
                           observed_at=start + timedelta(days=day, hours=rnd.randint(0, 12)),
                           metrics=[{"name": "followers", "value": followers}]))  # fmt: skip
        for n in range(rnd.randint(40, 90)):
            post, at = f"{account}-p{n}", start + timedelta(days=rnd.randint(0, 729), hours=10)
            kind = TYPES[rnd.randint(0, 2)]
            likes = rnd.randint(0, 300)
            out.append(obs(platform, account, owned, entity_level="post", entity_id=post,
                           content_type=kind, observed_at=at, window="lifetime",
                           metrics=[{"name": "likes", "value": likes},
                                    {"name": "comments", "value": likes // 7}]))  # fmt: skip
            if n % 3 == 0:  # a newer lifetime reading replaces the first
                out.append(obs(platform, account, owned, entity_level="post", entity_id=post,
                               content_type=kind, observed_at=at + timedelta(days=2),
                               window="lifetime",
                               metrics=[{"name": "likes", "value": likes + 40},
                                        {"name": "saves", "value": 3}]))  # fmt: skip
        for n in range(3):  # day readings add up (no lifetime reading)
            at = datetime(2026, 3, 3 + n, 12, tzinfo=UTC)
            for h in range(2):
                out.append(obs(platform, account, owned, entity_level="post",
                               entity_id=f"{account}-d{n}", content_type="video",
                               observed_at=at + timedelta(hours=h), window="day",
                               window_start=at + timedelta(hours=h), cumulative=False,
                               metrics=[{"name": "likes", "value": 11 + n},
                                        {"name": "shares", "value": 1}]))  # fmt: skip
        # a post first seen on 2026-01-01, then an earlier observation moves it into 2025
        moved = f"{account}-moved"
        for at, likes in ((datetime(2026, 1, 1, 9, tzinfo=UTC), 500 + len(account)),
                          (datetime(2025, 12, 30, 9, tzinfo=UTC), 400)):  # fmt: skip
            out.append(obs(platform, account, owned, entity_level="post", entity_id=moved,
                           content_type="reel", observed_at=at, window="lifetime",
                           metrics=[{"name": "likes", "value": likes}]))  # fmt: skip
    return out


@pytest.fixture
async def reads(infra: Infra) -> AsyncIterator[tuple[ReadModel, Any]]:
    client = mongo.connect(infra.mongodb_uri, app_name="tests.audit")
    name = f"test_audit_summaries_{secrets.token_hex(4)}"
    db = client[name]
    await mongo.ensure_indexes(db, INDEXES)
    model = ReadModel(db)
    await model.mark_if_new()
    try:
        yield model, client
    finally:
        await client.drop_database(name)
        await client.close()


async def fold_all(model: ReadModel, client: Any) -> None:
    events = scripted()
    # batches arrive in publish order but the moved post's earlier reading comes last
    events.sort(key=lambda e: e.entity_id.endswith("-moved") and e.observed_at.year == 2025)
    for i in range(0, len(events), 250):
        async with mongo.transaction(client) as session:
            await model.apply(events[i : i + 250], session=session)


async def assert_same_audits(model: ReadModel) -> None:
    """Every period and scope: the audit from the year summaries equals the months-only one."""
    scope = [
        Account(client_id=CLIENT, platform=p, account_id=a, name=a, owned=o, groups=g)
        for p, a, o, g in ACCOUNTS
    ]
    periods = [
        (date(2026, 1, 1), date(2026, 12, 31)),  # a whole year (and 2025 as the baseline)
        (date(2025, 1, 1), date(2026, 12, 31)),  # two whole years
        (date(2025, 7, 1), date(2026, 6, 30)),  # whole months, no whole year
        (date(2025, 12, 20), date(2026, 12, 31)),  # edge days and a whole year
        (date(2026, 3, 4), date(2026, 3, 4)),  # one day
    ]
    for start, end in periods:
        period = Period(start=start, end=end)
        for group in (None, "bakeries"):
            accounts = [a for a in scope if group is None or group in a.groups]
            audits = [
                await run_audit(
                    reads=model,
                    tenant_id=TENANT,
                    client={"client_id": CLIENT, "name": "C"},
                    accounts=accounts,
                    group=group,
                    period=period,
                    summaries=summaries,
                )
                for summaries in (True, False)
            ]
            assert audits[0] == audits[1], (start, end, group)
            assert audits[0].top_posts and any(p.posts for p in audits[0].platforms[0].accounts)


async def test_year_summaries_give_the_same_audit_as_the_month_buckets(
    reads: tuple[ReadModel, Any],
) -> None:
    model, client = reads
    await fold_all(model, client)
    assert await model.summaries_complete()
    assert await model.years.count_documents({}) == len(ACCOUNTS) * 2
    moved = await model.years.find_one({"_id": f"{TENANT}|{CLIENT}|instagram|own-ig|Y|2026"})
    assert moved is not None and "reel" not in moved["types"]  # it moved into 2025
    await assert_same_audits(model)


async def test_a_read_model_folded_before_summaries_reads_months_until_backfilled(
    reads: tuple[ReadModel, Any],
) -> None:
    model, client = reads
    await fold_all(model, client)
    kept = {d["_id"]: d async for d in model.years.find({})}
    await model.years.delete_many({})
    await model.meta.delete_many({})
    older = ReadModel(model.buckets.database)
    assert not await older.summaries_complete()
    await assert_same_audits(older)  # no summaries: whole years come from the months
    assert await older.backfill_years() == len(kept)
    assert await older.summaries_complete()
    assert {d["_id"] async for d in older.years.find({})} == set(kept)
    await assert_same_audits(older)


async def _contents(model: ReadModel) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [d async for d in collection.find({}).sort("_id", 1)]
        for name, collection in (
            ("buckets", model.buckets),
            ("years", model.years),
            ("posts", model.posts),
        )
    }


async def test_replicas_folding_the_same_records_at_once_fold_them_once(
    reads: tuple[ReadModel, Any], infra: Infra
) -> None:
    """A rebalance hands a partition on while its previous owner still folds it: the same
    records are folded by two consumers at once (found by `make chaos`, which saw them
    dead-lettered). Each copy must be folded once: the read model equals one sequential fold,
    and no fold fails."""
    model, client = reads
    events = scripted()[:600]
    first, second = events[:400], events[200:]  # overlapping batches, as a rebalance delivers
    await asyncio.gather(
        fold_once(client, model, first),
        fold_once(client, model, first),
        fold_once(client, model, second),
        fold_once(client, model, second),
    )
    name = f"test_audit_once_{secrets.token_hex(4)}"
    reference = ReadModel(client[name])
    await mongo.ensure_indexes(client[name], INDEXES)
    try:
        for batch in (first, events[400:]):
            async with mongo.transaction(client) as session:
                await reference.apply(batch, session=session)
        assert await _contents(model) == await _contents(reference)
        assert await model.seen.count_documents({}) == len(events)
    finally:
        await client.drop_database(name)
