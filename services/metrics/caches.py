"""In-memory caches of the ingestion hot path, valid for the partitions this consumer owns.

Observations are keyed tenant:client, so one consumer at a time writes a client's series: the
latest state of a series it wrote is known without asking the database. On any rebalance the
caches are dropped (another consumer may have advanced a series meanwhile) and refilled from
the database on first use.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRebalanceListener

V = TypeVar("V")


class Lru(Generic[V]):
    """A bounded least-recently-used map with an optional time to live."""

    def __init__(self, max_entries: int, ttl_s: float | None = None) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._data: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get_many(self, keys: Iterable[str]) -> tuple[dict[str, V], list[str]]:
        """(found, missing) for the keys asked."""
        found: dict[str, V] = {}
        missing: list[str] = []
        now = time.monotonic()
        for key in keys:
            hit = self._data.get(key)
            if hit is None or (self.ttl_s is not None and now - hit[0] > self.ttl_s):
                missing.append(key)
                continue
            self._data.move_to_end(key)
            found[key] = hit[1]
        return found, missing

    def put_many(self, items: Mapping[str, V]) -> None:
        now = time.monotonic()
        for key, value in items.items():
            self._data[key] = (now, value)
            self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class ClearOnRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Drops the caches whenever the consumer's partitions change."""

    def __init__(self, *caches: Lru[Any]) -> None:
        self.caches = caches

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for cache in self.caches:
            cache.clear()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        for cache in self.caches:
            cache.clear()
