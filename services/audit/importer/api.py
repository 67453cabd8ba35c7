"""Route: import a listening tool's export (Fanpage Karma post CSV). Its rows become
observations on `metrics.observations.v1` (through the outbox, like any pipeline's), so the
metrics service stores them and the audit folds them; unknown profiles become competitor
accounts under audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import AwareDatetime, BaseModel

from services.audit.accounts.api import stored
from services.audit.accounts.models import AccountIn, groups_without_own
from services.audit.deps import Accounts, Known, Reads
from services.audit.errors import unprocessable
from services.audit.importer.fanpage_karma import parse
from services.audit.readmodel.fold import account_key
from shared import mongo, topics
from shared.events import AnalyticsObserved, Platform
from shared.runtime import CurrentAgency, Runtime

router = APIRouter(tags=["audit imports"])
SOURCE = {"api": "fanpage_karma_csv", "kind": "backfill"}


class ImportResult(BaseModel):
    rows: int
    posts: int
    follower_readings: int
    accounts_added: int
    exported_at: datetime


@router.post(
    "/clients/{client_id}/audit/imports/fanpage-karma",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_fanpage_karma(
    client_id: str,
    request: Request,
    agency: CurrentAgency,
    known: Known,
    accounts: Accounts,
    reads: Reads,
    exported_at: Annotated[
        AwareDatetime | None, Query(description="When the export was taken (default: now).")
    ] = None,
    group: Annotated[
        str | None, Query(max_length=128, description="Group for profiles not yet audited.")
    ] = None,
) -> ImportResult:
    """Import a Fanpage Karma post export (CSV, `,` or `;`): each post becomes an observation
    as of `exported_at`, each profile's fans a follower reading; 422 lists every refused cell.
    Re-importing the same file with the same `exported_at` changes no figure (a reading as of
    the same instant replaces itself)."""
    tenant = agency.tenant_id
    await known.require(tenant, client_id)
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as e:
        raise unprocessable("body", msg="the file is not UTF-8 text") from e
    parsed = parse(text)
    if parsed.errors:
        detail = [
            {"loc": ["body", f"row {e['row']}", e["column"] or "file"], "msg": e["msg"],
             "type": "value_error"}
            for e in parsed.errors[:100]
        ]  # fmt: skip
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)
    at = exported_at or datetime.now(UTC)
    existing = {(a.platform, a.account_id): a for a in await accounts.for_client(tenant, client_id)}
    seen: dict[tuple[Platform, str], str] = {
        (p.platform, p.account_id): p.name for p in parsed.posts
    }
    seen |= {k: v[0] for k, v in parsed.followers.items()}
    new = [
        AccountIn(platform=p, account_id=a, name=name, owned=False,
                  groups=(group,) if group else ())
        for (p, a), name in sorted(seen.items()) if (p, a) not in existing
    ]  # fmt: skip
    if group and new:
        merged = [*existing.values(), *(stored(client_id, a) for a in new)]
        if group in groups_without_own(merged):
            raise unprocessable(
                "query", "group", msg=f"group '{group}' has no own account of the client"
            )
    if new:
        await accounts.save(tenant, client_id, new)
    owned = {k for k, a in existing.items() if a.owned}
    events = _events(tenant, client_id, parsed, at, owned)
    dates = {
        f"{account_key(tenant, client_id, p.platform.value, p.account_id)}|{p.post_id}":
        p.day.isoformat()
        for p in parsed.posts
    }  # fmt: skip
    runtime: Runtime = request.app.state.runtime
    async with mongo.transaction(runtime.mongo) as session:
        await reads.record_dates(dates, session=session)
        if events:
            await runtime.outbox.stage(
                session, runtime.topics(topics.ANALYTICS_OBSERVATIONS), *events
            )
    return ImportResult(
        rows=len(parsed.posts), posts=len(parsed.posts), follower_readings=len(parsed.followers),
        accounts_added=len(new), exported_at=at,
    )  # fmt: skip


def _events(
    tenant: str, client_id: str, parsed: Any, at: datetime, owned: set[tuple[Platform, str]]
) -> list[AnalyticsObserved]:
    out = []
    for p in parsed.posts:
        out.append(
            AnalyticsObserved.new(
                producer="audit",
                tenant_id=tenant,
                client_id=client_id,
                platform=p.platform,
                account_id=p.account_id,
                entity_level="post",
                entity_id=p.post_id,
                owned=(p.platform, p.account_id) in owned,
                content_type=p.content_type,
                observed_at=at,
                source=SOURCE,
                metrics=[{"name": k, "value": v} for k, v in p.metrics.items()],
            )
        )
    for (platform, account), (_, fans) in parsed.followers.items():
        mine = (platform, account) in owned
        out.append(
            AnalyticsObserved.new(
                producer="audit",
                tenant_id=tenant,
                client_id=client_id,
                platform=platform,
                account_id=account,
                entity_level="account" if mine else "competitor_account",
                entity_id=account,
                owned=mine,
                observed_at=at,
                source=SOURCE,
                metrics=[{"name": "followers", "value": fans}],
            )
        )
    return out
