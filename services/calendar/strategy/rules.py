"""Checks of a strategy that need more than one field: recurrence rules fire and stay within
each platform's cap, series name pillars, types and platforms of the strategy. Each problem is
reported with the location of the field, like a FastAPI validation error."""

from __future__ import annotations

from typing import Any

from services.calendar.planning import recurrence
from services.calendar.strategy.models import StrategyIn

Problem = dict[str, Any]


def _problem(loc: tuple[str | int, ...], msg: str) -> Problem:
    return {"loc": ["body", *loc], "msg": msg, "type": "value_error"}


def problems(spec: StrategyIn) -> list[Problem]:
    """Every cross-field problem of a strategy (empty when it can be used)."""
    found: list[Problem] = []
    for i, plan in enumerate(spec.platforms):
        for j, rule in enumerate(plan.frequency.compiled()):
            try:
                recurrence.check_rule(
                    rule, platform=plan.platform, start=spec.start, at=plan.frequency.times[0]
                )
            except recurrence.RuleError as e:
                loc = ("platforms", i, "frequency", "rrules", j)
                found.append(_problem(loc, f"{rule}: {e}"))
    pillars = {p.name for p in spec.pillars}
    types = {t.name for t in spec.content_types}
    platforms = {p.platform for p in spec.platforms}
    for i, series in enumerate(spec.series):
        try:
            recurrence.check_rule(
                series.rrule, platform=series.platform, start=spec.start, at=series.at
            )
        except recurrence.RuleError as e:
            found.append(_problem(("series", i, "rrule"), str(e)))
        if series.pillar not in pillars:
            found.append(_problem(("series", i, "pillar"), _unknown("pillar", series.pillar)))
        if series.content_type.lower() not in types:
            msg = _unknown("content type", series.content_type)
            found.append(_problem(("series", i, "content_type"), msg))
        if series.platform not in platforms:
            msg = f"platform '{series.platform.value}' is not among the strategy's platforms"
            found.append(_problem(("series", i, "platform"), msg))
    for i, item in enumerate(spec.buffer):
        if item.pillar not in pillars:
            found.append(_problem(("buffer", i, "pillar"), _unknown("pillar", item.pillar)))
    return found


def _unknown(what: str, name: str) -> str:
    return f"{what} '{name}' is not in the strategy"
