"""Calendar slots (a planned place for one post) and the requests that make and change them."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.calendar.planning.zones import DstAdjustment
from shared.bounds import MAX_COUNT
from shared.events import Platform

MAX_RANGE_MONTHS = 12
SLOT_ID = re.compile(r"^sl-[A-Za-z0-9-]{1,80}$")
_WEEK_IN_ID = re.compile(r"^sl-(\d{4})(\d{2})(\d{2})-")


def week_of(local: str) -> str:
    """The Monday (ISO date) of the ISO week of a local date or wall time: slots are stored
    week by week (`planning.repository`)."""
    day = date.fromisoformat(local[:10])
    return (day - timedelta(days=day.weekday())).isoformat()


def new_slot_id(wall: date, name: str) -> str:
    """A slot id names the week it is created in (`sl-20270104-...`), so the week that stores
    it is found without a lookup; `name` is the derived part (same inputs, same id)."""
    return f"sl-{week_of(wall.isoformat()).replace('-', '')}-{name}"


def week_in_id(slot_id: str) -> str | None:
    """The week named in a slot id (None for ids from before slots were stored by week)."""
    found = _WEEK_IN_ID.match(slot_id)
    return f"{found[1]}-{found[2]}-{found[3]}" if found else None


class SlotKind(StrEnum):
    PLANNED = "planned"  # from a platform's posting frequency
    SERIES = "series"  # an occurrence of a recurring series
    THEMED = "themed"  # added for a themed key date that had no slot
    REACTIVE = "reactive"  # left open for real-time posts
    MANUAL = "manual"  # added by hand (or imported)


class SlotState(StrEnum):
    """A slot's status until content fills it; then it shows its post's `PostStatus`."""

    OPEN = "open"
    REACTIVE = "reactive"


class Slot(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    slot_id: str
    tenant_id: str
    client_id: str
    strategy_id: str | None
    strategy_version: int | None
    platform: Platform
    kind: SlotKind
    local: str = Field(description="Local wall time, ISO 8601 without offset.")
    local_date: str
    timezone: str
    at: AwareDatetime = Field(description="The UTC instant.")
    dst: DstAdjustment | None = Field(
        default=None,
        description="gap_shifted: the planned time does not exist that day and "
        "moved forward by the gap; fold_first: it happens twice, the first is planned.",
    )
    planned_local: str | None = Field(default=None, description="The wall time before a shift.")
    pillar: str | None = None
    content_type: str | None = None
    stage: str | None = None
    series: str | None = None
    key_date: str | None = None
    buffer_title: str | None = Field(default=None, description="Evergreen post to fall back on.")
    status: str = SlotState.OPEN
    post_id: str | None = None
    edited: bool = Field(default=False, description="Changed by hand: kept on regeneration.")
    version: int = 1


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy_id: str = Field(min_length=1, max_length=64)
    start: date = Field(examples=["2027-01-01"], description="First day (client's local date).")
    end: date = Field(examples=["2027-07-01"], description="First day after the range.")

    @model_validator(mode="after")
    def _range(self) -> GenerateIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end > self.start + relativedelta(months=MAX_RANGE_MONTHS):
            raise ValueError(f"a range is at most {MAX_RANGE_MONTHS} months")
        return self


class Generated(BaseModel):
    strategy_id: str
    strategy_version: int
    start: date
    end: date
    created: int = Field(description="Slots written by this generation.")
    kept: int = Field(description="Slots kept: in the past, with content, or edited by hand.")
    replaced: int = Field(description="Untouched future slots removed (or rewritten).")
    unchanged: int = Field(default=0, description="Slots generated again exactly as stored.")


class SlotEdit(BaseModel):
    """A hand edit of a slot (it is then kept on regeneration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=MAX_COUNT, description="The version you edited (stale: 409).")
    pillar: str | None = Field(default=None, max_length=80)
    content_type: str | None = Field(default=None, max_length=80)
    stage: str | None = Field(default=None, max_length=40)
    local: datetime | None = Field(default=None, description="Move to this local wall time.")


class FillIn(BaseModel):
    """Content for a slot: it becomes a scheduled post."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    caption: str = Field(min_length=1, max_length=5000)
    media: tuple[str, ...] = Field(default=(), max_length=20)
    link: str | None = Field(default=None, max_length=2000)
    paid: bool = False
    budget_id: str | None = Field(default=None, max_length=64)
