"""A client's strategy for a period as data (method steps 2, 4, 5, 6): personas, platforms with
their posting frequency, content pillars, types and journey stages with target shares, series,
key dates, the evergreen buffer and the reactive share. Every dimension's shares sum to 100 %.
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from dateutil.relativedelta import relativedelta
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.calendar.planning import keydates, recurrence
from services.calendar.planning.keydates import DateMode
from shared.events import Platform

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Share = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
SLUG = re.compile(r"^[a-z0-9][a-z0-9_\-/ ]{0,39}$")

# DOMAIN.md step 5; a strategy may name others (the list is extensible).
CONTENT_TYPES = (
    "visual",
    "video_how_to",
    "video_qa",
    "video_slideshow",
    "video_spotlight",
    "video_unboxing",
    "video_before_after",
    "live_ama",
    "story",
    "holiday_special_event",
    "brand_values",
    "emotional",
    "curated",
    "ugc_review",
    "ugc_photo",
    "ugc_challenge",
    "quiz_poll",
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PeriodKind(StrEnum):
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"


MONTHS = {PeriodKind.QUARTER: 3, PeriodKind.HALF_YEAR: 6, PeriodKind.YEAR: 12}


class Why(StrEnum):
    INFORMATION = "information"
    ENTERTAINMENT = "entertainment"
    CONNECTION = "connection"
    INSPIRATION = "inspiration"


class PersonaPlatform(_Body):
    platform: Platform
    why: tuple[Why, ...] = Field(default=(), max_length=4)


class Persona(_Body):
    name: Name = Field(examples=["Busy parent"])
    age_min: int = Field(ge=13, le=120)
    age_max: int = Field(ge=13, le=120)
    gender: Name | None = None
    occupation: Name | None = None
    income_band: Name | None = Field(default=None, examples=["30-50k EUR"])
    aspirations: tuple[Text, ...] = Field(default=(), max_length=20)
    pain_points: tuple[Text, ...] = Field(default=(), max_length=20)
    platforms: tuple[PersonaPlatform, ...] = Field(default=(), max_length=8)
    brand_helps: Text = ""

    @model_validator(mode="after")
    def _ages(self) -> Self:
        if self.age_max < self.age_min:
            raise ValueError("age_max is below age_min")
        return self


class PlatformRole(StrEnum):
    CORE = "core"
    TRIAL = "trial"


class SuccessCriterion(_Body):
    metric: Name = Field(examples=["followers", "engagement_rate"])
    target: Decimal = Field(ge=0, max_digits=18, decimal_places=6)


class Frequency(_Body):
    """How often a platform is posted to: a count a week on days at times ("3 a week, Mon Wed
    Fri 09:00"), or RFC 5545 RRULEs for anything else."""

    per_week: int | None = Field(default=None, ge=1, le=70)
    days: tuple[str, ...] | None = Field(default=None, examples=[["MO", "WE", "FR"]])
    times: tuple[time, ...] = Field(default=(time(9, 0),), min_length=1, max_length=10)
    rrules: tuple[str, ...] = Field(default=(), max_length=10)

    @field_validator("days")
    @classmethod
    def _days(cls, days: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if days is None:
            return None
        upper = tuple(d.strip().upper()[:2] for d in days)
        bad = [d for d in upper if d not in recurrence.WEEKDAYS]
        if bad or not upper or len(set(upper)) != len(upper):
            raise ValueError(f"days are distinct weekdays among {', '.join(recurrence.WEEKDAYS)}")
        return upper

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.rrules:
            if self.per_week is not None or self.days is not None:
                raise ValueError("give either rrules or per_week/days, not both")
            return self
        if self.per_week is None and self.days is None:
            raise ValueError("per_week, days or rrules is required")
        days = self.days or ()
        if self.per_week is not None and self.days is not None:
            if self.per_week != len(days) * len(self.times):
                raise ValueError(
                    f"per_week {self.per_week} is not {len(days)} days x {len(self.times)} times"
                )
        elif self.per_week is not None and self.per_week % len(self.times):
            raise ValueError(f"per_week {self.per_week} is no multiple of {len(self.times)} times")
        elif self.per_week is not None and self.per_week // len(self.times) > 7:
            raise ValueError("more than 7 days a week: give more times a day")
        return self

    def compiled(self) -> tuple[str, ...]:
        """The RRULEs this frequency stands for."""
        if self.rrules:
            return self.rrules
        days = self.days or recurrence.DEFAULT_DAYS[(self.per_week or 0) // len(self.times)]
        return recurrence.weekly_rules(days, self.times)


class PlatformPlan(_Body):
    platform: Platform
    role: PlatformRole = PlatformRole.CORE
    trial_ends: date | None = Field(default=None, description="Required for a trial.")
    success: SuccessCriterion | None = Field(default=None, description="Required for a trial.")
    reevaluate_on: date | None = Field(
        default=None, description="When to decide whether the platform still matters; a year "
        "after the strategy starts unless given."
    )  # fmt: skip
    frequency: Frequency

    @model_validator(mode="after")
    def _trial(self) -> Self:
        if self.role is PlatformRole.TRIAL and (self.trial_ends is None or self.success is None):
            raise ValueError("a trial platform needs trial_ends and success (metric + target)")
        return self


class Weighted(_Body):
    name: Name
    share: Share = Field(description="Target share in percent.")


class ContentType(Weighted):
    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not SLUG.match(name.lower()):
            raise ValueError("a content type is a short lower-case name, e.g. video_how_to")
        return name.lower()


class Stage(StrEnum):
    AWARENESS = "awareness"
    EDUCATION = "education"
    CONSIDERATION = "consideration"
    CONVERSION = "conversion"
    RETENTION = "retention"


class StageShare(_Body):
    stage: Stage
    share: Share


class Series(_Body):
    """A recurring series, e.g. #TastyTuesday: a named RRULE with its pillar and type."""

    name: Name = Field(examples=["#TastyTuesday"])
    platform: Platform
    rrule: str = Field(max_length=recurrence.MAX_RULE_CHARS, examples=["FREQ=WEEKLY;BYDAY=TU"])
    at: time = Field(default=time(9, 0), description="Time of day unless the rule names one.")
    pillar: Name
    content_type: Name
    stage: Stage | None = None


class HolidayPlan(_Body):
    country: str = Field(min_length=2, max_length=3, examples=["DE"])
    subdivision: str | None = Field(default=None, max_length=12, examples=["BE"])
    mode: DateMode = DateMode.THEMED
    overrides: dict[Name, DateMode] = Field(
        default_factory=dict, max_length=100, description="Mode per holiday name."
    )

    @model_validator(mode="after")
    def _known(self) -> Self:
        problem = keydates.check_region(self.country.upper(), self.subdivision)
        if problem:
            raise ValueError(problem)
        return self


class OwnDate(_Body):
    day: date
    name: Name = Field(examples=["Spring launch"])
    kind: Name = Field(default="campaign", examples=["campaign", "launch", "conference"])
    mode: DateMode = DateMode.THEMED


class BufferPost(_Body):
    """An evergreen post that can fill an empty slot."""

    title: Name
    caption: str = Field(default="", max_length=5000)
    pillar: Name
    content_type: Name


class StrategyIn(_Body):
    period: PeriodKind
    start: date = Field(examples=["2027-01-01"])
    goal_ids: tuple[Name, ...] = Field(default=(), max_length=50, description="SMART goals.")
    personas: tuple[Persona, ...] = Field(default=(), max_length=20)
    platforms: tuple[PlatformPlan, ...] = Field(min_length=1, max_length=8)
    pillars: tuple[Weighted, ...] = Field(min_length=1, max_length=20)
    content_types: tuple[ContentType, ...] = Field(min_length=1, max_length=30)
    stages: tuple[StageShare, ...] = Field(min_length=1, max_length=5)
    series: tuple[Series, ...] = Field(default=(), max_length=20)
    holidays: HolidayPlan | None = None
    key_dates: tuple[OwnDate, ...] = Field(default=(), max_length=200)
    buffer: tuple[BufferPost, ...] = Field(default=(), max_length=500)
    reactive_share: Share = Field(
        default=Decimal(0), le=50, description="Percent of each week's slots left open."
    )

    @field_validator("pillars", "content_types", "stages")
    @classmethod
    def _shares(cls, items: tuple[Weighted | StageShare, ...]) -> tuple[Weighted | StageShare, ...]:
        total = sum((i.share for i in items), Decimal(0))
        if total != 100:
            raise ValueError(f"shares sum to {total} %, not 100 %")
        keys = [i.name if isinstance(i, Weighted) else i.stage for i in items]
        if len(set(keys)) != len(keys):
            raise ValueError("names must be distinct")
        return items

    @field_validator("platforms")
    @classmethod
    def _distinct_platforms(cls, plans: tuple[PlatformPlan, ...]) -> tuple[PlatformPlan, ...]:
        if len({p.platform for p in plans}) != len(plans):
            raise ValueError("each platform once")
        return plans

    @property
    def end(self) -> date:
        """The first day after the period."""
        return self.start + relativedelta(months=MONTHS[self.period])

    def reevaluation(self, plan: PlatformPlan) -> date:
        return plan.reevaluate_on or self.start + relativedelta(years=1)


class Strategy(BaseModel):
    """One stored version of a client's strategy."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    strategy_id: str
    tenant_id: str
    client_id: str
    version: int
    end: date
    spec: StrategyIn
    created_at: AwareDatetime
