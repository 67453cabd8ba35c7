"""Calendar generation: a strategy version and a range of local dates -> slots (pure, no I/O).

1. Each platform's frequency rules and each series' rule are expanded in local wall time
   (`recurrence`); a series occurrence takes the place of that platform's planned slot of the
   same day, if any.
2. Key dates: on a blackout day nothing is planned; a themed day tags that day's slots, or gets
   one on the first platform if it had none.
3. A share of each ISO week's planned slots is left open for reactive posts, evenly spread.
4. Pillars, content types and journey stages are apportioned per 4-week block from the range's
   start (`apportion`): counts by largest remainder (series count with their fixed values),
   order by the Sainte-Laguë sequence. Equal remainders go to the value furthest behind its
   target over the earlier blocks, so rounding does not favour one value all along.
5. Each wall time becomes an instant in the client's zone (`zones`, DST gaps and folds flagged).
Slot ids derive from the strategy version, platform and local wall time: the same version and
range give the same slots with the same ids.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from services.calendar.planning import apportion, keydates, recurrence
from services.calendar.planning.keydates import DateMode, KeyDay
from services.calendar.planning.models import Slot, SlotKind, SlotState, new_slot_id
from services.calendar.planning.zones import place
from services.calendar.strategy.models import Strategy, StrategyIn
from shared.envelope import derived_event_id
from shared.events import Platform

BLOCK_DAYS = 28


@dataclass(frozen=True)
class _Draft:
    platform: Platform
    wall: datetime
    kind: SlotKind
    series: str | None = None
    pillar: str | None = None
    content_type: str | None = None
    stage: str | None = None
    key_date: str | None = None


def slot_id(strategy_id: str, version: int, platform: Platform, wall: datetime) -> str:
    """The id of a generated slot: same strategy version, platform and wall time, same id."""
    name = derived_event_id("slot", strategy_id, version, platform.value, wall.isoformat())
    return new_slot_id(wall.date(), name)


def key_days(spec: StrategyIn, start: date, end: date) -> dict[date, KeyDay]:
    """Key dates in [start, end): the agency's own dates win over a holiday on the same day."""
    days: dict[date, KeyDay] = {}
    if spec.holidays is not None:
        plan = spec.holidays
        for day, name in keydates.public_holidays(
            plan.country.upper(), plan.subdivision, start, end
        ):
            mode = plan.overrides.get(name, plan.mode)
            days[day] = KeyDay(day, name, mode, "holiday")
    for own in spec.key_dates:
        if start <= own.day < end:
            days[own.day] = KeyDay(own.day, own.name, own.mode, own.kind)
    return days


def generate(strategy: Strategy, *, zone_name: str, start: date, end: date) -> list[Slot]:
    """The slots of a strategy version for local dates in [start, end) (clipped to its period)."""
    spec = strategy.spec
    start, end = max(start, spec.start), min(end, spec.end)
    if end <= start:
        return []
    zone = ZoneInfo(zone_name)
    drafts = _frequency_drafts(spec, start, end, zone)
    drafts = _with_series(spec, drafts, start, end, zone)
    drafts = _with_key_dates(spec, drafts, key_days(spec, start, end))
    drafts = sorted(drafts, key=lambda d: (d.wall, d.platform.value))
    drafts = _reactive(drafts, spec.reactive_share)
    drafts = _apportioned(spec, drafts, start)
    return [_slot(strategy, d, zone) for d in drafts]


def _frequency_drafts(spec: StrategyIn, start: date, end: date, zone: ZoneInfo) -> list[_Draft]:
    drafts: dict[tuple[Platform, datetime], _Draft] = {}
    for plan in spec.platforms:
        at = plan.frequency.times[0]
        for rule in plan.frequency.compiled():
            walls = recurrence.occurrences(
                rule, anchor=spec.start, at=at, start=start, end=end, zone=zone
            )
            for wall in walls:
                drafts[plan.platform, wall] = _Draft(plan.platform, wall, SlotKind.PLANNED)
    return list(drafts.values())


def _with_series(
    spec: StrategyIn, drafts: list[_Draft], start: date, end: date, zone: ZoneInfo
) -> list[_Draft]:
    by_day: dict[tuple[Platform, date], list[_Draft]] = defaultdict(list)
    for d in sorted(drafts, key=lambda d: d.wall):
        by_day[d.platform, d.wall.date()].append(d)
    taken: set[int] = set()
    added: list[_Draft] = []
    for series in spec.series:
        walls = recurrence.occurrences(
            series.rrule, anchor=spec.start, at=series.at, start=start, end=end, zone=zone
        )
        for wall in walls:
            same_day = [d for d in by_day[series.platform, wall.date()] if id(d) not in taken]
            if same_day:
                taken.add(id(same_day[0]))
            added.append(
                _Draft(
                    series.platform,
                    wall,
                    SlotKind.SERIES,
                    series=series.name,
                    pillar=series.pillar,
                    content_type=series.content_type.lower(),
                    stage=series.stage.value if series.stage else None,
                )
            )
    kept = [d for d in drafts if id(d) not in taken]
    walls = {(d.platform, d.wall) for d in added}
    return [d for d in kept if (d.platform, d.wall) not in walls] + added


def _with_key_dates(
    spec: StrategyIn, drafts: list[_Draft], days: dict[date, KeyDay]
) -> list[_Draft]:
    result: list[_Draft] = []
    planned_days: set[date] = set()
    for d in drafts:
        key = days.get(d.wall.date())
        if key is None:
            result.append(d)
        elif key.mode is DateMode.THEMED:
            result.append(replace(d, key_date=key.name))
            planned_days.add(d.wall.date())
    first = spec.platforms[0]
    for day, key in days.items():
        if key.mode is DateMode.THEMED and day not in planned_days:
            wall = datetime.combine(day, first.frequency.times[0])
            result.append(_Draft(first.platform, wall, SlotKind.THEMED, key_date=key.name))
    return result


def _reactive(drafts: list[_Draft], share: object) -> list[_Draft]:
    """Leave share x planned slots of each ISO week open, spread evenly over the week; the
    fraction a week cannot leave open carries to the next (1.5 a week: 1, 2, 1, 2, ...)."""
    pct = Fraction(str(share))
    if pct == 0:
        return drafts
    weeks: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, d in enumerate(drafts):
        if d.kind is SlotKind.PLANNED and d.key_date is None:
            weeks[d.wall.isocalendar()[:2]].append(i)
    result = list(drafts)
    ideal, given = Fraction(0), 0
    for week in sorted(weeks):
        indices = weeks[week]
        n = len(indices)
        ideal += Fraction(n) * pct / 100
        open_ = min(n, int(ideal + Fraction(1, 2)) - given)
        given += open_
        for k in range(open_):
            i = indices[int((k + Fraction(1, 2)) * n / open_)]
            result[i] = replace(result[i], kind=SlotKind.REACTIVE)
    return result


def _dimensions(spec: StrategyIn) -> dict[str, dict[str, Fraction]]:
    return {
        "pillar": {p.name: Fraction(str(p.share)) for p in spec.pillars},
        "content_type": {t.name: Fraction(str(t.share)) for t in spec.content_types},
        "stage": {s.stage.value: Fraction(str(s.share)) for s in spec.stages},
    }


def _apportioned(spec: StrategyIn, drafts: list[_Draft], start: date) -> list[_Draft]:
    chosen: dict[int, dict[str, str]] = defaultdict(dict)  # applied once per draft at the end
    blocks: dict[int, list[int]] = defaultdict(list)
    for i, d in enumerate(drafts):
        if d.kind is not SlotKind.REACTIVE:
            blocks[block_of(d.wall.date(), start)].append(i)
    for rank, (field, shares) in enumerate(_dimensions(spec).items()):
        names = list(shares)
        carry = dict.fromkeys(names, Fraction(0))  # ideal minus given over earlier blocks
        for block in sorted(blocks):
            indices = blocks[block]
            ideal = {n: shares[n] * len(indices) / 100 for n in names}
            fixed = {n: 0 for n in names}
            free = []
            for i in indices:
                value = getattr(drafts[i], field)
                if value in fixed:
                    fixed[value] += 1
                else:
                    free.append(i)
            weights = [max(Fraction(0), ideal[n] - fixed[n]) for n in names]
            counts = apportion.largest_remainder(len(free), weights, [carry[n] for n in names])
            # each dimension starts its sequence a third further in, so pillar, type and stage
            # sequences of similar shares do not pair the same values slot after slot
            turn = rank * len(free) // 3
            order = free[turn:] + free[:turn]
            for i, k in zip(order, apportion.sainte_lague_sequence(counts), strict=True):
                chosen[i][field] = names[k]
            for n, count in zip(names, counts, strict=True):
                carry[n] += ideal[n] - count - fixed[n]
    return [replace(d, **chosen[i]) if i in chosen else d for i, d in enumerate(drafts)]


def _slot(strategy: Strategy, d: _Draft, zone: ZoneInfo) -> Slot:
    placed = place(d.wall, zone)
    local = placed.local.replace(tzinfo=None)
    buffer = next(
        (b.title for b in strategy.spec.buffer if b.pillar == d.pillar),
        None,
    )
    return Slot(
        slot_id=slot_id(strategy.strategy_id, strategy.version, d.platform, d.wall),
        tenant_id=strategy.tenant_id,
        client_id=strategy.client_id,
        strategy_id=strategy.strategy_id,
        strategy_version=strategy.version,
        platform=d.platform,
        kind=d.kind,
        local=local.isoformat(timespec="minutes"),
        local_date=local.date().isoformat(),
        timezone=str(zone.key),
        at=placed.at,
        dst=placed.adjustment,
        planned_local=d.wall.isoformat(timespec="minutes") if placed.adjustment else None,
        pillar=d.pillar,
        content_type=d.content_type,
        stage=d.stage,
        series=d.series,
        key_date=d.key_date,
        buffer_title=buffer if d.kind is not SlotKind.REACTIVE else None,
        status=SlotState.REACTIVE if d.kind is SlotKind.REACTIVE else SlotState.OPEN,
    )


def block_of(day: date, start: date) -> int:
    """The 4-week block of a day, counted from the range's start."""
    return (day - start).days // BLOCK_DAYS
