"""The event envelope every message on Kafka carries, and helpers to build and read events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

# Error types of a message whose schema this consumer does not read (see Event._known_schema).
UNKNOWN_EVENT_TYPE = "unknown_event_type"
UNSUPPORTED_EVENT_VERSION = "unsupported_event_version"

# Deterministic event ids (uuid5) for events derived from other facts, so a replay yields the
# same id and consumers can drop the duplicate.
EVENT_NAMESPACE = uuid.UUID("6f1c1d8e-5b7a-4c1e-9a55-50c1a10b5e01")


def utcnow() -> datetime:
    """The current time, zone-aware in UTC."""
    return datetime.now(UTC)


def derived_event_id(*parts: object) -> str:
    """A stable event id from the facts that define an event (same facts, same id)."""
    return str(uuid.uuid5(EVENT_NAMESPACE, "|".join(str(p) for p in parts)))


class Contract(BaseModel):
    """Base for value objects inside events: frozen, strict on write, tolerant on read."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class Event(Contract):
    """Envelope fields shared by all events; subclasses add the payload.

    Producers build events strictly through `Event.new`; consumers ignore unknown fields so
    additive schema changes never break them. `event_type`/`event_version` name the schema.
    """

    EVENT_TYPE: ClassVar[str] = "Event"
    EVENT_VERSION: ClassVar[int] = 1

    event_id: str = Field(
        default_factory=lambda: str(uuid.uuid4()),
        description="Unique id; a repeated event_id is the same event and has no second effect.",
        examples=["0b8a2f0e-3c55-4a8e-9d1f-0b0f2d6a7c11"],
    )
    event_type: str = Field(description="Schema name, past tense.", examples=["PostScheduled"])
    event_version: int = Field(default=1, ge=1, description="Schema version of the payload.")
    occurred_at: AwareDatetime = Field(
        default_factory=utcnow, description="When the fact happened (zone-aware)."
    )
    tenant_id: str = Field(min_length=1, max_length=64, description="The agency (tenant).")
    producer: str = Field(min_length=1, description="Service that produced the event.")
    correlation_id: str = Field(
        default_factory=lambda: str(uuid.uuid4()),
        description="Shared by every event caused by one request or job.",
    )
    causation_id: str | None = Field(
        default=None, description="event_id of the event (or request) that caused this one."
    )

    @model_validator(mode="before")
    @classmethod
    def _known_schema(cls, data: Any) -> Any:
        """Refuse, before reading any payload field, a message of another event_type or of a
        newer event_version than this class reads: half-reading it could apply the wrong
        effect. Only concrete events (those naming their EVENT_TYPE) are checked; a base such
        as GoalEvent is never consumed as such. Older versions are read (additive changes)."""
        if not isinstance(data, dict) or cls.EVENT_TYPE == Event.EVENT_TYPE:
            return data
        event_type = data.get("event_type")
        if isinstance(event_type, str) and event_type != cls.EVENT_TYPE:
            reason = f"unknown event_type {event_type[:100]!r} (expected {cls.EVENT_TYPE!r})"
            raise PydanticCustomError(UNKNOWN_EVENT_TYPE, "{reason}", {"reason": reason})
        version = data.get("event_version", 1)
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        if (
            isinstance(version, int)
            and not isinstance(version, bool)
            and (version > cls.EVENT_VERSION)
        ):
            reason = (
                f"unsupported event_version {version} of {cls.EVENT_TYPE!r} "
                f"(this consumer reads up to {cls.EVENT_VERSION})"
            )
            raise PydanticCustomError(UNSUPPORTED_EVENT_VERSION, "{reason}", {"reason": reason})
        return data

    @classmethod
    def new(cls, *, producer: str, cause: Event | None = None, **payload: Any) -> Self:
        """Build an event; with `cause`, inherit its tenant and correlation id."""
        envelope: dict[str, Any] = {
            "event_type": cls.EVENT_TYPE,
            "event_version": cls.EVENT_VERSION,
            "producer": producer,
        }
        if cause is not None:
            envelope |= {
                "tenant_id": cause.tenant_id,
                "correlation_id": cause.correlation_id,
                "causation_id": cause.event_id,
            }
        return cls.model_validate(envelope | payload)

    def partition_key(self) -> bytes:
        """Kafka key: by default the tenant, so one agency's events keep their order."""
        return self.tenant_id.encode()


def unreadable_schema(error: ValidationError) -> str | None:
    """The reason when a message was refused for its event_type or event_version (the only
    error then), None for any other validation error."""
    errors = error.errors(include_url=False, include_input=False)
    if len(errors) == 1 and errors[0]["type"] in {UNKNOWN_EVENT_TYPE, UNSUPPORTED_EVENT_VERSION}:
        return str(errors[0]["msg"])
    return None
