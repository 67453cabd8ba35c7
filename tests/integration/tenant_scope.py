"""Every database query a request sends is scoped by tenant (issue 13 item 2).

`TenantScopeWatch` is a PyMongo command listener: registered before the services build their
database clients, it sees every command they send. Armed in the test's task, it checks the
commands sent from that task's context and the tasks it starts, which is where the in-process
HTTP client runs each request through the app (background loops, consumers and the outbox
relay were started before, in contexts of their own, and are left out: they are cross-tenant
by design and keep the tenant on every document they touch).

A filter is scoped when it names the caller's tenant: a `tenant_id` equal to it (at the top
level or inside `$and`), or an `_id` built on it (`"<tenant>|..."`, an `$in` of such ids).
Collections that are global by design are listed by name with the reason.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pymongo import monitoring

# Collections looked up by something other than a tenant, on purpose.
GLOBAL = {
    "api_keys": "the request's key is looked up by its hash to learn the tenant",
    "agencies": "read by the tenant id the key resolved to, keyed by it",
    "processed": "once-per-event markers keyed by the event id (mongo.run_once)",
    "outbox": "staged events keyed by event id; every event carries its tenant",
    "feeds": "a calendar feed is read by its secret token (the link is the credential)",
    "own_account_claims": "an own account belongs to one agency: a claim by another is refused",
}
# Commands that read or change documents, and where each keeps its filters.
FILTERS = {
    "find": lambda c: [c.get("filter", {})],
    "count": lambda c: [c.get("query", {})],
    "distinct": lambda c: [c.get("query", {})],
    "findAndModify": lambda c: [c.get("query", {})],
    "update": lambda c: [u.get("q", {}) for u in c.get("updates", [])],
    "delete": lambda c: [d.get("q", {}) for d in c.get("deletes", [])],
    "aggregate": lambda c: [first_match(c.get("pipeline", []))],
}


def first_match(pipeline: list[dict[str, Any]]) -> dict[str, Any]:
    """The pipeline's leading `$match` (what selects documents before anything else runs)."""
    return pipeline[0].get("$match", {}) if pipeline else {}


def names_tenant(value: Any, tenant: str) -> bool:
    """`value` (an `_id` or `tenant_id` condition) selects only the tenant's documents."""
    if isinstance(value, str):
        return value == tenant or value.startswith(f"{tenant}|") or value.startswith(f"{tenant}:")
    if isinstance(value, dict):
        if "tenant_id" in value:  # a compound _id such as {tenant_id, key}
            return names_tenant(value["tenant_id"], tenant)
        if "$eq" in value:
            return names_tenant(value["$eq"], tenant)
        if "$in" in value:
            return bool(value["$in"]) and all(names_tenant(v, tenant) for v in value["$in"])
        bounds = [value[op] for op in ("$gte", "$gt") if op in value]
        upper = [value[op] for op in ("$lt", "$lte") if op in value]
        return bool(bounds and upper) and all(names_tenant(v, tenant) for v in bounds + upper)
    return False


def scoped(spec: dict[str, Any], tenant: str) -> bool:
    if names_tenant(spec.get("tenant_id"), tenant) or names_tenant(spec.get("_id"), tenant):
        return True
    if any(scoped(part, tenant) for part in spec.get("$and", [])):
        return True
    ors = spec.get("$or")
    return bool(ors) and all(scoped({**spec, "$or": None, **part}, tenant) for part in ors)


@dataclass
class TenantScopeWatch(monitoring.CommandListener):
    """Records each unscoped command a request sent: (collection, command, filter)."""

    armed: ContextVar[str | None] = field(default_factory=lambda: ContextVar("scope", default=None))
    ours: tuple[str, ...] = ("/services/", "/shared/")
    checked: int = 0
    unscoped: list[tuple[str, str, str, str]] = field(default_factory=list)
    # Filters naming `_id` after another field: SecantusDB plans by the first field, so
    # {tenant_id, _id} reads every document of the tenant (5,000 of them: 107 ms, not 1 ms).
    id_not_first: list[tuple[str, str, str, str]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        tenant = self.armed.get()
        if tenant is None or event.command_name not in FILTERS:
            return
        collection = str(event.command.get(event.command_name))
        if collection in GLOBAL:
            return
        where = caller(self.ours)
        if where is None:
            return  # the test's own reads (its helpers look documents up by id)
        for spec in FILTERS[event.command_name](event.command):
            self.checked += 1
            if not scoped(spec, tenant):
                self.unscoped.append((collection, event.command_name, repr(spec)[:300], where))
            if "_id" in spec and next(iter(spec)) != "_id":
                self.id_not_first.append((collection, event.command_name, repr(spec)[:300], where))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def arm(self, tenant: str) -> None:
        """Check the commands of this task (and of tasks it starts) from now on."""
        self.armed.set(tenant)

    def disarm(self) -> None:
        self.armed.set(None)

    def report(self, found: list[tuple[str, str, str, str]] | None = None) -> list[str]:
        seen: dict[tuple[str, str, str], str] = {}
        for collection, command, spec, where in self.unscoped if found is None else found:
            seen.setdefault((collection, command, where), spec)
        return [f"{c}.{cmd} at {where}: {spec}" for (c, cmd, where), spec in sorted(seen.items())]


def caller(ours: tuple[str, ...]) -> str | None:
    """The innermost frame of the services' code (`ours`: services/, shared/) that sent the
    command, or None when none did."""
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace("\\", "/")
        if path == __file__ or "/site-packages/" in path:
            continue
        if any(part in path for part in ours):
            return f"{path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}:{frame.lineno}"
    return None


def install() -> Iterator[TenantScopeWatch]:
    """Register a watch for the clients built from now on (PyMongo keeps listeners for the
    process's life: a finished watch is disarmed and ignores everything)."""
    watch = TenantScopeWatch()
    monitoring.register(watch)
    try:
        yield watch
    finally:
        watch.armed = ContextVar("finished", default=None)
