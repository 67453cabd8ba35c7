"""Bucketed observation storage: how documents are grouped and how queries reach them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from services.metrics.pipeline import ChunkPlanner, chunk_marks, even_bounds
from services.metrics.repository import (
    LOCAL,
    SHARDS,
    bucket_documents,
    indexed_stages,
    mark_documents,
    shard_of,
)


def doc(event_id: str, client: str, day: str) -> dict[str, str]:
    return {"_id": event_id, "tenant_id": "t1", "client_id": client, "day": day}


def test_a_clients_shard_is_stable_and_spreads_clients() -> None:
    assert shard_of("client-00042") == shard_of("client-00042") == 624541856 % SHARDS  # crc32
    assert len({shard_of(f"client-{i:05d}") for i in range(1000)}) == SHARDS


def test_buckets_group_a_chunk_by_shard_and_day_across_partitions() -> None:
    """One bucket per shard and day, whatever partition each record came from (per partition
    would be up to 4x the documents), all named after the chunk's first record."""
    a = "client-a"
    b = next(c for c in (f"client-{i}" for i in range(99)) if shard_of(c) != shard_of(a))
    docs = [doc("e1", a, "2026-11-02"), doc("e2", a, "2026-11-03"), doc("e3", a, "2026-11-02"),
            doc("e4", b, "2026-11-02"), doc("e5", a, "2026-11-02")]  # fmt: skip
    origins = {("t1", "e1"): (1, 12), ("t1", "e2"): (1, 13), ("t1", "e3"): (3, 9),
               ("t1", "e4"): (4, 2), ("t1", "e5"): (0, 40)}  # fmt: skip
    buckets = {b["_id"]: b for b in bucket_documents(docs, origins)}
    sa, sb = shard_of(a), shard_of(b)
    chunk = "p0|0000000000000000040"  # the lowest (partition, offset) of the chunk
    assert set(buckets) == {
        f"t1|{sa}|2026-11-02|{chunk}",
        f"t1|{sa}|2026-11-03|{chunk}",
        f"t1|{sb}|2026-11-02|{chunk}",
    }
    first = buckets[f"t1|{sa}|2026-11-02|{chunk}"]
    assert first["ids"] == ["e1", "e3", "e5"]
    assert [d["_id"] for d in first["obs"]] == ["e1", "e3", "e5"]
    assert (first["tenant_id"], first["shard"], first["day"]) == ("t1", sa, "2026-11-02")


def test_a_local_chunk_is_named_after_its_first_event_id() -> None:
    docs = [doc("e7", "client-a", "2026-11-02"), doc("e5", "client-a", "2026-11-02")]
    origins = {("t1", "e7"): (LOCAL, "e7"), ("t1", "e5"): (LOCAL, "e5")}
    [bucket] = bucket_documents(docs, origins)
    assert bucket["_id"] == f"t1|{shard_of('client-a')}|2026-11-02|local|e5"


def test_a_chunk_marks_where_it_begins_in_each_partition_it_read() -> None:
    def rec(topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
        return ConsumerRecord(topic, partition, offset, 0, 0, b"", b"", None, 0, 0, ())

    def event(event_id: str) -> Any:
        return SimpleNamespace(event_id=event_id)

    stored = [(rec("obs", 1, 12), event("a")), (rec("obs", 0, 7), event("b")),
              (rec("obs", 1, 10), event("c")), (rec("other", 1, 3), event("d"))]  # fmt: skip
    assert chunk_marks(stored) == [("obs", 0, 7, "b"), ("obs", 1, 10, "c"), ("other", 1, 3, "d")]
    at = datetime(2026, 11, 2, tzinfo=UTC)
    assert mark_documents(chunk_marks(stored[:1]), at=at) == [
        {"_id": "obs|1|0000000000000000012|a", "at": at}
    ]


def test_queries_use_the_index_prefix_then_prune_days_then_unwind_then_match() -> None:
    paris = timezone(timedelta(hours=1))
    start = datetime(2026, 11, 2, 0, 30, tzinfo=paris)  # 2026-11-01 23:30 UTC
    end = datetime(2026, 11, 5, tzinfo=UTC)
    match = {"tenant_id": "t1", "client_id": "c1", "platform": "x",
             "at": {"$gte": start, "$lt": end}}  # fmt: skip
    stages = indexed_stages(match)
    assert stages[:2] == [
        {"$match": {"tenant_id": "t1", "shard": shard_of("c1")}},
        {"$match": {"day": {"$gte": "2026-11-01", "$lte": "2026-11-05"}}},
    ]
    assert stages[2:4] == [{"$unwind": "$obs"}, {"$replaceRoot": {"newRoot": "$obs"}}]
    assert stages[4] == {"$match": {k: v for k, v in match.items() if k != "tenant_id"}}


def test_a_condition_on_observed_at_prunes_no_day() -> None:
    """Buckets are by the day of the period (`at`); when a reading was taken says nothing of
    which day's bucket holds it (a backfill read today is in 2020's)."""
    when = {"$gte": datetime(2026, 11, 2, tzinfo=UTC)}
    stages = indexed_stages({"tenant_id": "t1", "client_id": "c1", "observed_at": when})
    assert stages[1] == {"$unwind": "$obs"}


def test_a_tenant_wide_query_without_time_bounds_reads_every_bucket_of_the_tenant() -> None:
    assert indexed_stages({"tenant_id": "t1"}) == [
        {"$match": {"tenant_id": "t1"}},
        {"$unwind": "$obs"},
        {"$replaceRoot": {"newRoot": "$obs"}},
    ]


def test_an_unscoped_query_is_refused() -> None:
    with pytest.raises(ValueError, match="tenant"):
        indexed_stages({"client_id": "c1"})


@pytest.mark.parametrize("n", [1, 49, 50, 51, 2500, 2501, 3000, 5000, 7777, 10_000])
@pytest.mark.parametrize("chunk", [1, 16, 300, 2500])
def test_a_batch_is_cut_into_contiguous_chunks_of_nearly_equal_size(n: int, chunk: int) -> None:
    bounds = even_bounds(n, chunk)
    assert bounds[0][0] == 0
    assert bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(0 < end - start <= chunk for start, end in bounds)
    assert len(bounds) == -(-n // chunk)


def planner(prepare_s: float, fixed_s: float, per_record_s: float) -> ChunkPlanner:
    plan = ChunkPlanner(budget_s=0.1)
    for n in (100, 400, 1600, 100, 400, 1600):  # writes of several sizes: a + b * n
        plan.written(n, fixed_s + per_record_s * n)
        plan.prepared(n, prepare_s * n)
    return plan


def test_the_planner_fits_the_write_cost_from_chunks_of_several_sizes() -> None:
    plan = planner(0.0001, 0.02, 0.00005)
    assert plan.write_fixed_s == pytest.approx(0.02, rel=0.05)
    assert plan.write_s == pytest.approx(0.00005, rel=0.05)
    assert plan.prepare_s == pytest.approx(0.0001, rel=0.05)


def test_a_light_load_is_written_in_chunks_that_fit_the_budget() -> None:
    plan = planner(0.0002, 0.01, 0.00005)
    assert plan.bounds(40) == [(0, 40)]  # few records: at once
    # 400 records at once take 0.08 + 0.01 + 0.02 s, over the budget; in two chunks the first
    # one's write overlaps the second's preparation
    assert plan.finish_s(400, 400) > 0.1
    size = plan.chunk_size(400)
    assert size < 400
    assert plan.finish_s(400, size) <= 0.1


def test_a_backlog_gets_large_chunks_that_amortize_the_transaction() -> None:
    plan = planner(0.00005, 0.1, 0.0001)  # the database's fixed cost dominates
    assert plan.chunk_size(10_000) == plan.max_chunk
    slow = planner(0.001, 0.05, 0.0006)  # a slow machine: far from the budget anyway
    assert slow.chunk_size(10_000) > 1000
