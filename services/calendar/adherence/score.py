"""The adherence formulas, pure (no database): what was planned and what was published per ISO
week and platform, and how they compare.

- planned(w, p): the week's slots on platform p whose instant has passed, reactive slots left
  out (they are open by design: "leave room for real-time posts", not a promise to post);
  slots still ahead are counted apart (`upcoming`): a week is not judged before it happens;
- published(w, p): posts published for that week and platform (by their planned instant,
  read in the client's zone: a Sunday-evening post that went out at 00:01 Monday still
  belongs to the week it was planned for);
- kept(w, p) = min(published, planned): extra posts in one week never make up for a missing
  one in another;
- adherence = sum of kept / sum of planned (over any set of weeks and platforms); null when
  nothing was planned (not 0);
- a week meets the plan when every platform published at least what it planned;
  consistency = weeks that meet the plan / weeks with a plan;
- mix: each pillar's (type's, stage's) share of the published posts against the strategy's
  target share, in percent, and the gap in percentage points.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict, Field

PLACES = Decimal("0.0001")
PCT_PLACES = Decimal("0.01")
NONE_KEY = "(none)"


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator to 4 places; None (not defined) when nothing was planned."""
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(PLACES, ROUND_HALF_EVEN)


def percent(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(100) * numerator / denominator).quantize(PCT_PLACES, ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Planned:
    """A slot: its platform and local date, whether it is a reactive (open) one, and whether
    its instant is still ahead."""

    platform: str
    day: date
    reactive: bool = False
    upcoming: bool = False


@dataclass(frozen=True)
class Published:
    """A published post: platform, local date of its planned instant, and its mix facts."""

    platform: str
    day: date
    pillar: str | None = None
    content_type: str | None = None
    stage: str | None = None


class Cell(BaseModel):
    model_config = ConfigDict(frozen=True)

    planned: int
    published: int
    kept: int = Field(description="min(published, planned)")
    adherence: Decimal | None = Field(description="kept / planned; null: nothing planned")
    upcoming: int = Field(default=0, description="Slots still ahead (not judged yet).")


class PlatformWeek(Cell):
    platform: str
    met: bool | None = Field(description="published >= planned; null: nothing planned")


class Week(Cell):
    week: str = Field(examples=["2027-W03"])
    start: date = Field(description="Its Monday (client's zone).")
    met: bool | None = Field(description="Every platform met its plan; null: nothing planned")
    platforms: list[PlatformWeek]


class PlatformSummary(Cell):
    platform: str
    consistency: Decimal | None = Field(description="weeks meeting this platform's plan / "
                                        "weeks with a plan on it")  # fmt: skip


class MixRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    published: int
    achieved_pct: Decimal | None
    target_pct: Decimal | None = Field(description="The strategy's share; null: not a target.")
    gap_pct: Decimal | None = Field(description="achieved - target, percentage points.")


class Mix(BaseModel):
    model_config = ConfigDict(frozen=True)

    pillar: list[MixRow]
    content_type: list[MixRow]
    stage: list[MixRow]


class Totals(Cell):
    consistency: Decimal | None = Field(description="weeks meeting the plan / weeks with a plan")
    weeks_met: int
    weeks_planned: int


def _cell(planned: int, published: int) -> dict[str, object]:
    kept = min(planned, published)
    return {"planned": planned, "published": published, "kept": kept,
            "adherence": ratio(kept, planned)}  # fmt: skip


def weeks_of(start: date, end: date) -> list[date]:
    """The Mondays of the ISO weeks from `start`'s to the one before `end` (both Mondays)."""
    return [start + timedelta(weeks=i) for i in range((end - start).days // 7)]


def score(
    mondays: list[date], slots: Iterable[Planned], posts: Iterable[Published]
) -> tuple[Totals, list[Week], list[PlatformSummary]]:
    """Per week and platform, per platform over all weeks, and in total (formulas above)."""
    slots = [s for s in slots if not s.reactive]
    planned = Counter((monday(s.day), s.platform) for s in slots if not s.upcoming)
    ahead = Counter((monday(s.day), s.platform) for s in slots if s.upcoming)
    published: Counter[tuple[date, str]] = Counter((monday(p.day), p.platform) for p in posts)
    platforms = sorted({p for _, p in planned} | {p for _, p in published} | {p for _, p in ahead})
    weeks: list[Week] = []
    per_platform: dict[str, list[PlatformWeek]] = {p: [] for p in platforms}
    for start in mondays:
        rows = []
        for platform in platforms:
            n, m, u = (c[(start, platform)] for c in (planned, published, ahead))
            if n == 0 and m == 0 and u == 0:
                continue
            row = PlatformWeek.model_validate(
                _cell(n, m) | {"platform": platform, "met": m >= n if n else None, "upcoming": u}
            )
            rows.append(row)
            per_platform[platform].append(row)
        n, m, k = (sum(getattr(r, f) for r in rows) for f in ("planned", "published", "kept"))
        met = all(r.met is not False for r in rows) if n else None
        weeks.append(
            Week(planned=n, published=m, kept=k, adherence=ratio(k, n), week=iso_week(start),
                 start=start, met=met, platforms=rows, upcoming=sum(r.upcoming for r in rows))
        )  # fmt: skip
    summaries = []
    for platform, rows in per_platform.items():
        n, m, k = (sum(getattr(r, f) for r in rows) for f in ("planned", "published", "kept"))
        with_plan = [r for r in rows if r.met is not None]
        summaries.append(
            PlatformSummary(planned=n, published=m, kept=k, adherence=ratio(k, n),
                            platform=platform, upcoming=sum(r.upcoming for r in rows),
                            consistency=ratio(sum(bool(r.met) for r in with_plan), len(with_plan)))
        )  # fmt: skip
    planned_weeks = [w for w in weeks if w.met is not None]
    met_weeks = sum(bool(w.met) for w in planned_weeks)
    n, m, k = (sum(getattr(w, f) for w in weeks) for f in ("planned", "published", "kept"))
    totals = Totals(planned=n, published=m, kept=k, adherence=ratio(k, n),
                    upcoming=sum(w.upcoming for w in weeks),
                    consistency=ratio(met_weeks, len(planned_weeks)), weeks_met=met_weeks,
                    weeks_planned=len(planned_weeks))  # fmt: skip
    return totals, weeks, summaries


def mix_rows(counts: Mapping[str, int], targets: Mapping[str, Decimal]) -> list[MixRow]:
    """Achieved vs target share per name: targets first (in the strategy's order), then any
    name published without a target."""
    total = sum(counts.values())
    names = list(targets) + sorted(n for n in counts if n not in targets)
    rows = []
    for name in names:
        achieved = percent(counts.get(name, 0), total)
        target = targets.get(name)
        gap = None if achieved is None or target is None else achieved - target
        rows.append(MixRow(name=name, published=counts.get(name, 0), achieved_pct=achieved,
                           target_pct=target, gap_pct=gap))  # fmt: skip
    return rows


def mix(
    posts: Iterable[Published],
    *,
    pillars: Mapping[str, Decimal],
    content_types: Mapping[str, Decimal],
    stages: Mapping[str, Decimal],
) -> Mix:
    """The published mix against the strategy's targets (percent of published posts)."""
    posts = list(posts)

    def counts(field: str) -> Counter[str]:
        return Counter(getattr(p, field) or NONE_KEY for p in posts)

    return Mix(
        pillar=mix_rows(counts("pillar"), pillars),
        content_type=mix_rows(counts("content_type"), content_types),
        stage=mix_rows(counts("stage"), stages),
    )
