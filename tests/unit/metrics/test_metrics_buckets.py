"""Bucketed observation storage: how documents are grouped and how queries reach them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.metrics.repository import bucket_documents, indexed_stages


def doc(event_id: str, client: str, day: str) -> dict[str, str]:
    return {"_id": event_id, "tenant_id": "t1", "client_id": client, "day": day}


def test_buckets_group_by_client_and_day_and_are_named_after_their_first_origin() -> None:
    docs = [doc("a", "c1", "2026-11-02"), doc("b", "c1", "2026-11-03"),
            doc("c", "c1", "2026-11-02"), doc("d", "c2", "2026-11-02")]  # fmt: skip
    origins = {"a": "p00001o0000000000000000012", "b": "p00001o0000000000000000013",
               "c": "p00001o0000000000000000009", "d": "p00004o0000000000000000002"}  # fmt: skip
    buckets = {b["_id"]: b for b in bucket_documents(docs, origins)}
    assert set(buckets) == {
        "t1|c1|2026-11-02|p00001o0000000000000000009",
        "t1|c1|2026-11-03|p00001o0000000000000000013",
        "t1|c2|2026-11-02|p00004o0000000000000000002",
    }
    first = buckets["t1|c1|2026-11-02|p00001o0000000000000000009"]
    assert first["ids"] == ["a", "c"]
    assert [d["_id"] for d in first["obs"]] == ["a", "c"]
    assert (first["tenant_id"], first["client_id"], first["day"]) == ("t1", "c1", "2026-11-02")


def test_queries_use_the_index_prefix_then_prune_days_then_unwind() -> None:
    paris = timezone(timedelta(hours=1))
    start = datetime(2026, 11, 2, 0, 30, tzinfo=paris)  # 2026-11-01 23:30 UTC
    end = datetime(2026, 11, 5, tzinfo=UTC)
    stages = indexed_stages(
        {"tenant_id": "t1", "client_id": "c1", "platform": "x",
         "observed_at": {"$gte": start, "$lt": end}}
    )  # fmt: skip
    assert stages[:2] == [
        {"$match": {"tenant_id": "t1", "client_id": "c1"}},
        {"$match": {"day": {"$gte": "2026-11-01", "$lte": "2026-11-05"}}},
    ]
    assert stages[2:4] == [{"$unwind": "$obs"}, {"$replaceRoot": {"newRoot": "$obs"}}]
    assert stages[4] == {"$match": {"platform": "x", "observed_at": {"$gte": start, "$lt": end}}}


def test_a_tenant_wide_query_without_time_bounds_reads_every_bucket_of_the_tenant() -> None:
    assert indexed_stages({"tenant_id": "t1"}) == [
        {"$match": {"tenant_id": "t1"}},
        {"$unwind": "$obs"},
        {"$replaceRoot": {"newRoot": "$obs"}},
    ]


def test_an_unscoped_query_is_refused() -> None:
    with pytest.raises(ValueError, match="tenant"):
        indexed_stages({"client_id": "c1"})
