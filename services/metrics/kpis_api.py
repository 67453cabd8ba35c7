"""KPI queries over stored observations: by client, platform, time range and group-by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query, status

from services.metrics.aggregation import UNIQUE, Part, combine
from services.metrics.api import Repo
from services.metrics.registry import METRICS
from services.metrics.rollups import STOCK, GroupBy, KpiReport, group_key, group_kpis
from shared.envelope import utcnow
from shared.events import Platform
from shared.runtime import CurrentAgency

router = APIRouter(tags=["kpis"])
SUMMED = [*METRICS]
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # `from` and `to` lie within EARLIEST..LATEST
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_RANGE = timedelta(days=366 * 2)  # a query reads at most two years of a tenant's history
DEFAULT_RANGE = timedelta(days=30)


def _refuse(name: str, msg: str, kind: str = "value_error") -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["query", name], "msg": msg, "type": kind}],
    )


def _bounded(value: datetime | None, name: str) -> datetime | None:
    """A zone-aware instant within EARLIEST..LATEST, else 422 (checked on the local year
    first: converting year 1 or 9999 with an offset overflows)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise _refuse(name, "must include a time zone (e.g. Z or +01:00)", "timezone_aware")
    if not EARLIEST.year - 1 <= value.year <= LATEST.year or not EARLIEST <= value <= LATEST:
        span = f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"
        raise _refuse(name, f"must lie between {span} (UTC)")
    return value


@router.get("/kpis")
async def kpis(
    agency: CurrentAgency,
    repo: Repo,
    client_id: str | None = None,
    platform: Platform | None = None,
    start: Annotated[
        datetime | None, Query(alias="from", description="Inclusive, zone-aware")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Exclusive, zone-aware")] = None,
    group_by: GroupBy = GroupBy.NONE,
    tz: Annotated[
        str | None,
        Query(
            description="IANA zone whose days, ISO weeks and months `group_by=day|week|month` "
            "use (default UTC), e.g. the platform's reporting zone or the client's",
            examples=["Europe/Berlin"],
            max_length=64,
        ),
    ] = None,
    owned: bool = True,
) -> KpiReport:
    """Totals and KPIs (DOMAIN.md formulas; an undefined ratio is null) per group.

    Values count in the period they measure (a window's start). Flow metrics are summed over
    [from, to) (rolling week/28-day windows never); followers are the level at `to`, and
    follower_growth compares it with the level at `from`. Reach is never summed over days,
    windows or accounts: `bases` says how each figure was formed (e.g. "sum of per-post
    lifetime reach", an upper bound). Days, weeks and months are UTC unless `tz` names a
    zone (a Berlin daily insight for 29 March then groups under 2025-03-29, not the UTC day
    its window starts on)."""
    end = _bounded(end, "to") or utcnow()
    start = _bounded(start, "from") or end - DEFAULT_RANGE
    if start >= end:
        raise _refuse("from", "must be before 'to'")
    if end - start > MAX_RANGE:
        raise _refuse("to", f"must be at most {MAX_RANGE.days} days after 'from'")
    base: dict[str, Any] = {"tenant_id": agency.tenant_id, "owned": owned}
    if client_id:
        base["client_id"] = client_id
    if platform:
        base["platform"] = platform.value
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise _refuse("tz", f"'{tz}' is not an IANA time zone (e.g. Europe/Berlin)") from None
    field = group_key(group_by, tz)
    rows = await repo.rollup(base | {"at": {"$gte": start, "$lt": end}}, field, SUMMED,
                             peaks=UNIQUE)  # fmt: skip
    levels_start = await repo.levels(base | {"at": {"$lt": start}}, field, list(STOCK))
    levels_end = await repo.levels(base | {"at": {"$lt": end}}, field, list(STOCK))

    parts: dict[Any, list[Part]] = {}
    currencies: dict[Any, set[str]] = {}
    for row in rows:
        key, cur = row["_id"].get("key"), row["_id"].get("cur")
        parts.setdefault(key, []).append(Part.of_row(row))
        if cur:
            currencies.setdefault(key, set()).add(cur)
    notes = []
    groups = []
    for key in sorted(parts, key=lambda k: (k is None, str(k))):
        curs = currencies.get(key, set())
        if len(curs) > 1:
            notes.append(f"group {key!r} has spend in {sorted(curs)}: money KPIs not defined")
        figures = combine(parts[key], SUMMED)
        notes += [f"group {key!r}: {note}" for note in figures.notes]
        groups.append(
            group_kpis(
                None if key is None else str(key),
                figures.sums,
                levels_start=levels_start.get(key, {}),
                levels_end=levels_end.get(key, {}),
                currency=next(iter(curs)) if len(curs) == 1 else None,
                bases=figures.bases,
            )
        )
    return KpiReport(
        client_id=client_id,
        platform=platform.value if platform else None,
        start=start,
        end=end,
        group_by=group_by,
        groups=groups,
        notes=notes,
    )
