"""The ingestion caches: bounded, expiring, and dropped whenever partitions move."""

from __future__ import annotations

import time

import pytest

from services.metrics.caches import ClearOnRebalance, Lru


def test_lru_returns_hits_and_misses_and_evicts_the_least_recent() -> None:
    cache: Lru[int] = Lru(max_entries=2)
    cache.put_many({"a": 1, "b": 2})
    assert cache.get_many(["a"]) == ({"a": 1}, [])  # "a" is now the most recent
    cache.put_many({"c": 3})

    found, missing = cache.get_many(["a", "b", "c"])

    assert found == {"a": 1, "c": 3}
    assert missing == ["b"]
    assert len(cache) == 2


def test_lru_entries_expire_after_their_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: Lru[str] = Lru(max_entries=10, ttl_s=60)
    cache.put_many({"post": "facts"})

    now[0] += 59
    assert cache.get_many(["post"])[0] == {"post": "facts"}
    now[0] += 2
    assert cache.get_many(["post"]) == ({}, ["post"])


async def test_any_rebalance_drops_every_cache() -> None:
    series: Lru[int] = Lru(10)
    posts: Lru[int] = Lru(10)
    listener = ClearOnRebalance(series, posts)
    for revoke in (True, False):
        series.put_many({"s": 1})
        posts.put_many({"p": 2})
        if revoke:
            await listener.on_partitions_revoked(set())
        else:
            await listener.on_partitions_assigned(set())
        assert len(series) == 0
        assert len(posts) == 0
