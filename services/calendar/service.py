"""Calendar domain logic: turning a requested slot into an exact instant (DST-safe)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


class SchedulingError(ValueError):
    """A requested time that cannot be scheduled (e.g. it does not exist in that zone)."""


def resolve_slot(requested: datetime, zone_name: str) -> tuple[datetime, datetime]:
    """(UTC instant, local wall time) for a requested time read in `zone_name`.

    A naive time is wall-clock time in the zone. A time that the zone skips (spring-forward
    gap) is refused rather than silently moved; an ambiguous one (fall-back) takes the first.
    """
    zone = ZoneInfo(zone_name)
    if requested.tzinfo is not None:
        instant = requested.astimezone(UTC)
        return instant, instant.astimezone(zone)
    local = requested.replace(tzinfo=zone, fold=0)
    round_trip = local.astimezone(UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != requested:
        raise SchedulingError(
            f"{requested.isoformat()} does not exist in {zone_name} (clocks skip it for DST)"
        )
    return local.astimezone(UTC), local
