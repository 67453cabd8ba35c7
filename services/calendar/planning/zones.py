"""Local wall-clock times to instants, DST-correct: a planned time that the clocks skip (spring
gap) moves forward by the gap; a time that happens twice (autumn) takes the first occurrence.
Both are flagged, so the agency sees that 02:30 became 03:30 or which 02:30 was meant."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo


class DstAdjustment(StrEnum):
    GAP_SHIFTED = "gap_shifted"  # the time does not exist that day; moved forward by the gap
    FOLD_FIRST = "fold_first"  # the time happens twice that day; the first one is planned


class LocalInstant(NamedTuple):
    at: datetime  # UTC
    local: datetime  # aware, in the zone (after any shift)
    adjustment: DstAdjustment | None


def place(wall: datetime, zone: ZoneInfo) -> LocalInstant:
    """The instant of a naive local wall time in `zone`, with the DST adjustment made."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    at = first.astimezone(UTC)
    local = at.astimezone(zone)
    # zoneinfo reads a skipped time with the offset before the gap (fold=0): converted to an
    # instant and back it lands the gap's length later, e.g. 02:30 -> 03:30 in Berlin.
    if local.replace(tzinfo=None) != wall:
        return LocalInstant(at, local, DstAdjustment.GAP_SHIFTED)
    if first.utcoffset() != second.utcoffset():
        return LocalInstant(at, local, DstAdjustment.FOLD_FIRST)
    return LocalInstant(at, local, None)
