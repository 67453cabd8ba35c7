"""Calendar documents and request bodies."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared.bounds import Id
from shared.events import Platform


def _valid_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:  # OSError: a folder like "Europe"
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. Europe/Berlin)") from e
    return name


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, examples=["Tasty Bakery"])
    timezone: str = Field(default="UTC", examples=["Europe/Berlin"])

    _zone = field_validator("timezone")(_valid_zone)


class Client(ClientIn):
    model_config = ConfigDict(extra="ignore", frozen=True)

    client_id: str
    tenant_id: str
    created_at: AwareDatetime


class PostStatus(StrEnum):
    """A post's lifecycle, in one place for every capability (planning fills slots, publishing
    moves due posts on): draft -> scheduled -> due -> publishing -> published | failed, plus
    paused (and resumed back to scheduled) and cancelled."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    DUE = "due"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    PAUSED = "paused"
    CANCELLED = "cancelled"


# Which status may follow which; "resumed" is paused -> scheduled. A failed post can be retried
# by hand (failed -> scheduled). Publishing (services/calendar/publishing): a dispatcher claims a
# due post (scheduled -> due, with a lease), marks its attempt (due -> publishing), then records
# the answer: published, failed (permanent), or due again (transient: retried at `retry_at`;
# also a lease taken over from a dead process).
TRANSITIONS: dict[PostStatus, frozenset[PostStatus]] = {
    PostStatus.DRAFT: frozenset({PostStatus.SCHEDULED, PostStatus.CANCELLED}),
    PostStatus.SCHEDULED: frozenset(
        {PostStatus.DUE, PostStatus.PAUSED, PostStatus.CANCELLED, PostStatus.DRAFT}
    ),
    PostStatus.DUE: frozenset(
        {PostStatus.PUBLISHING, PostStatus.DUE, PostStatus.PAUSED, PostStatus.CANCELLED}
    ),
    PostStatus.PUBLISHING: frozenset({PostStatus.PUBLISHED, PostStatus.FAILED, PostStatus.DUE}),
    PostStatus.PUBLISHED: frozenset(),
    PostStatus.FAILED: frozenset({PostStatus.SCHEDULED, PostStatus.CANCELLED}),
    PostStatus.PAUSED: frozenset({PostStatus.SCHEDULED, PostStatus.CANCELLED}),
    PostStatus.CANCELLED: frozenset(),
}
# Content, time and cancellation may still change in these (before the post is handed out).
EDITABLE = frozenset({PostStatus.DRAFT, PostStatus.SCHEDULED, PostStatus.PAUSED, PostStatus.FAILED})


class PostIn(BaseModel):
    """A post to schedule. `scheduled_at` without an offset is read in `timezone` (or the
    client's zone), so "09:00 Europe/Berlin" stays 09:00 local across DST."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform: Platform
    scheduled_at: datetime = Field(examples=["2026-12-01T09:00:00"])
    timezone: str | None = Field(default=None, examples=["Europe/Berlin"])
    content_type: str = Field(default="post", min_length=1, max_length=40, examples=["video"])
    pillar: str | None = Field(default=None, min_length=1, max_length=80)
    caption: str = Field(default="", max_length=5000)
    paid: bool = False
    budget_id: Id | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return None if v is None else _valid_zone(v)


class Post(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    post_id: str
    tenant_id: str
    client_id: str
    platform: Platform
    scheduled_at: AwareDatetime = Field(description="UTC instant the post goes out.")
    local_time: str = Field(description="Wall-clock time in `timezone`, ISO 8601.")
    timezone: str
    content_type: str
    pillar: str | None
    caption: str
    paid: bool
    budget_id: str | None
    status: PostStatus
    paused_reason: str | None = None
    paused_budget_id: str | None = Field(
        default=None,
        description="The budget whose 100 % crossing paused this post: it is scheduled again "
        "when that budget is resumed (BudgetResumed). None when paused by hand.",
    )
    created_at: AwareDatetime
    version: int = Field(
        default=1,
        ge=1,
        description="Raised by every change; send it back "
        "with an edit (a stale one is answered 409).",
    )
    slot_id: str | None = Field(default=None, description="The calendar slot it fills.")
    strategy_id: str | None = None
    stage: str | None = Field(default=None, description="Customer-journey stage.")
    series: str | None = None
    media: tuple[str, ...] = Field(default=(), description="Media references (URLs or ids).")
    link: str | None = None
    cancelled_reason: str | None = None
    # publishing (issue 9)
    attempts: int = Field(default=0, ge=0, description="Publication attempts made so far.")
    last_error: str | None = Field(
        default=None, description="Why the last attempt failed (a failed post: why it failed)."
    )
    retry_at: AwareDatetime | None = Field(
        default=None, description="When the next attempt is due after a transient error."
    )
    platform_post_id: str | None = Field(default=None, description="The platform's post id.")
    platform_url: str | None = None
    published_at: AwareDatetime | None = None
    failed_at: AwareDatetime | None = None
