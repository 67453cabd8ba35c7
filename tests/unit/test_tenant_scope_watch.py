"""The unscoped-query detector of the fuzz run (tests/integration/tenant_scope.py) flags what
it should: filters written as the repositories write them, scoped and not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import monitoring

from tests.integration.tenant_scope import TenantScopeWatch, scoped

T = "agency-a"


@pytest.mark.parametrize(
    "spec",
    [
        {"tenant_id": T, "client_id": "cl-1"},
        {"_id": f"{T}|cl-1"},  # shared.known_clients keys
        {"_id": {"tenant_id": T, "key": "k"}},  # metrics idempotency keys
        {"_id": {"$in": [f"{T}|a", f"{T}|b"]}},
        {"tenant_id": {"$in": [T]}, "_id": {"$in": ["bu-1:manual:x"]}},
        {"$and": [{"tenant_id": T}, {"status": "scheduled"}]},
        {"$or": [{"tenant_id": T, "a": 1}, {"tenant_id": T, "b": 2}]},
        {"_id": {"$gte": f"{T}|", "$lt": f"{T}|~"}},
    ],
)
def test_filters_naming_the_tenant_are_scoped(spec: dict[str, Any]) -> None:
    assert scoped(spec, T)


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"_id": "bu-1"},  # an id alone: any agency's document
        {"client_id": "cl-1"},
        {"tenant_id": "agency-b"},
        {"tenant_id": {"$ne": T}},
        {"tenant_id": {"$in": []}},
        {"_id": {"$in": [f"{T}|a", "agency-b|b"]}},
        {"_id": {"$gte": f"{T}|"}},  # open range: runs into the next agency's keys
        {"_id": f"{T}x|cl-1"},  # another agency whose id starts like ours
        {"$or": [{"tenant_id": T}, {"client_id": "cl-1"}]},
    ],
)
def test_filters_not_naming_the_tenant_are_not(spec: dict[str, Any]) -> None:
    assert not scoped(spec, T)


def started(command: dict[str, Any]) -> monitoring.CommandStartedEvent:
    return monitoring.CommandStartedEvent(command, "db", 1, ("127.0.0.1", 27017), 1)


async def test_the_watch_records_unscoped_commands_of_the_armed_context_only() -> None:
    watch = TenantScopeWatch(ours=("/tests/",))
    go = asyncio.Event()

    async def loop() -> None:  # a background loop, started before the requests: left out
        await go.wait()
        watch.started(started({"find": "posts", "filter": {"status": "due"}}))

    looping = asyncio.create_task(loop())
    watch.started(started({"find": "budgets", "filter": {"_id": "bu-1"}}))  # not armed yet
    watch.arm(T)
    watch.started(started({"find": "budgets", "filter": {"_id": "bu-1"}}))
    watch.started(started({"update": "posts", "updates": [{"q": {"tenant_id": T}, "u": {}}]}))
    watch.started(started({"delete": "slots", "deletes": [{"q": {"client_id": "c"}, "limit": 0}]}))
    watch.started(started({"aggregate": "obs", "pipeline": [{"$match": {"tenant_id": T}}]}))
    watch.started(started({"find": "api_keys", "filter": {"_id": "digest"}}))  # global by design
    watch.started(started({"insert": "posts", "documents": [{}]}))  # no filter to check

    async def handler() -> None:  # a task the request starts (Starlette's middleware does)
        watch.started(started({"find": "posts", "filter": {"status": "due"}}))

    await asyncio.create_task(handler())
    go.set()
    await looping
    assert watch.checked == 5
    assert [(c, cmd) for c, cmd, *_ in watch.unscoped] == [
        ("budgets", "find"),
        ("slots", "delete"),
        ("posts", "find"),
    ]
    assert all("test_tenant_scope_watch.py" in where for *_, where in watch.unscoped)
    watch.disarm()
    watch.started(started({"find": "budgets", "filter": {}}))
    assert len(watch.unscoped) == 3
