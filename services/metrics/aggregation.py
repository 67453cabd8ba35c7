"""How each kind of metric aggregates over time, windows and entities (pure).

A KPI group's stored contributions arrive split by time window and entity level; this module
forms one figure per metric from them, by the metric's kind, and says how it was formed:

- flow (likes, clicks, views): added up over time, but only over windows that partition
  time (lifetime changes, hours, days): rolling week and 28-day windows overlap and are never
  added. Over entities: posts add up; when an account-level total exists it is used instead
  (it already holds its posts).
- unique (reach): never added over time, windows or entities, except as the stated upper
  bound "sum of per-post lifetime reach".
- stock (followers): the level at a time (see `rollups`); levels of accounts add up.

Unique counts (distinct accounts) are not additive at all: two days' reach share people, and
two posts' reach share people. So a group's reach is, in this order: the sum of per-post
lifetime reach gained in the period (an upper bound of the unique reach, stated as such), or
else the largest single window an account reported in the period (a lower bound: at least
that many distinct accounts were reached), named with its window ("largest day"; a rolling
week or 28 days only when nothing finer came, with the caveat that it may reach past the
period). Every KPI divided by reach carries that basis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.metrics.registry import METRICS, MetricKind
from shared.events import EntityLevel, TimeWindow

PARTITIONING = frozenset({TimeWindow.LIFETIME, TimeWindow.HOUR, TimeWindow.DAY})
ROLLING = frozenset({TimeWindow.WEEK, TimeWindow.DAYS_28})
ACCOUNT_LEVELS = frozenset({EntityLevel.ACCOUNT, EntityLevel.COMPETITOR_ACCOUNT})
WINDOW_NAMES = {
    TimeWindow.HOUR: "hour",
    TimeWindow.DAY: "day",
    TimeWindow.WEEK: "week",
    TimeWindow.DAYS_28: "28 days",
    TimeWindow.LIFETIME: "lifetime",
}
UNIQUE = tuple(name for name, m in METRICS.items() if m.kind is MetricKind.UNIQUE)
SUM_FIELDS = ("observations", "spend", "revenue", "revenue_seen")


@dataclass(frozen=True)
class Part:
    """The sums of one group's contributions of one window kind and entity level."""

    window: TimeWindow
    level: EntityLevel
    sums: Mapping[str, Any]  # metric -> summed contributions, plus SUM_FIELDS
    peaks: Mapping[str, Any] = field(default_factory=dict)  # unique metric -> largest value

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> Part:
        """A part from a rollup row (`_id` holds window and level; `peak_<m>` the peaks)."""
        ident = row["_id"]
        peaks = {k.removeprefix("peak_"): v for k, v in row.items() if k.startswith("peak_")}
        return cls(
            window=TimeWindow(ident.get("window") or TimeWindow.LIFETIME),
            level=EntityLevel(ident.get("level") or EntityLevel.POST),
            sums={k: v for k, v in row.items() if k != "_id" and not k.startswith("peak_")},
            peaks=peaks,
        )


@dataclass(frozen=True)
class Figures:
    """One group's figures: sums by their kind's rules, and how each was formed."""

    sums: dict[str, Any]
    bases: dict[str, str]
    notes: list[str]


def combine(parts: Iterable[Part], metrics: Iterable[str]) -> Figures:
    """Form one figure per metric from a group's parts (see the module docstring)."""
    parts = list(parts)
    sums: dict[str, Any] = {}
    for name in SUM_FIELDS:  # observations and money: every part counts
        values = [p.sums.get(name) for p in parts if p.sums.get(name) is not None]
        if values:
            sums[name] = sum(values)
    bases: dict[str, str] = {}
    notes: list[str] = []
    for metric in metrics:
        kind = METRICS[metric].kind if metric in METRICS else MetricKind.FLOW
        if kind is MetricKind.UNIQUE:
            figure = _unique(metric, parts)
        elif kind is MetricKind.FLOW:
            figure = _flow(metric, parts)
        else:
            continue  # stock levels are formed separately (`rollups.group_kpis`)
        if figure is None:
            if _has(metric, parts):
                notes.append(
                    f"{metric}: only rolling week or 28-day windows were reported; rolling "
                    "windows overlap and are never added up"
                )
            continue
        sums[metric], bases[metric] = figure
    return Figures(sums, bases, notes)


def _has(metric: str, parts: Iterable[Part]) -> bool:
    return any(p.sums.get(metric) or p.peaks.get(metric) for p in parts)


def _total(metric: str, parts: Iterable[Part]) -> Any:
    values = [p.sums.get(metric) for p in parts]
    present = [v for v in values if v]
    return sum(present) if present else None


def _flow(metric: str, parts: list[Part]) -> tuple[Any, str] | None:
    partitioning = [p for p in parts if p.window in PARTITIONING]
    accounts = _total(metric, [p for p in partitioning if p.level in ACCOUNT_LEVELS])
    if accounts is not None:
        return accounts, "account totals (lifetime changes, hourly and daily values)"
    content = _total(metric, [p for p in partitioning if p.level not in ACCOUNT_LEVELS])
    if content is not None:
        return content, "sum over posts (lifetime changes, hourly and daily values)"
    return None


def _unique(metric: str, parts: list[Part]) -> tuple[Any, str] | None:
    lifetime = [
        p for p in parts if p.window is TimeWindow.LIFETIME and p.level not in ACCOUNT_LEVELS
    ]
    per_post = _total(metric, lifetime)
    if per_post is not None:
        return per_post, f"sum of per-post lifetime {metric} (an upper bound of unique {metric})"
    for windows, caveat in (
        ({TimeWindow.HOUR, TimeWindow.DAY}, ""),
        (ROLLING, ", whose window may reach past the period"),
    ):
        peaks = [
            (Decimal(p.peaks[metric]), p.window)
            for p in parts
            if p.window in windows and p.peaks.get(metric) is not None
        ]
        if peaks:
            peak, window = max(peaks, key=lambda pw: pw[0])
            return peak, (
                f"largest {WINDOW_NAMES[window]} {metric} reported in the period (a lower "
                f"bound of unique {metric}{caveat})"
            )
    return None
