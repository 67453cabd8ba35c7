"""The event envelope: ids, causation chain, zone-aware time, tolerant reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from pydantic import ValidationError

from shared.envelope import Event, derived_event_id, utcnow
from shared.events import Platform, PostScheduled


class Pinged(Event):
    EVENT_TYPE: ClassVar[str] = "Pinged"
    EVENT_VERSION: ClassVar[int] = 2

    note: str = ""


def post(**overrides: object) -> PostScheduled:
    fields: dict[str, object] = {
        "producer": "calendar",
        "tenant_id": "acme",
        "client_id": "c1",
        "post_id": "p1",
        "platform": Platform.INSTAGRAM,
        "scheduled_at": datetime(2026, 5, 1, 7, tzinfo=UTC),
    }
    return PostScheduled.new(**(fields | overrides))


def test_new_names_the_schema_from_the_class() -> None:
    event = Pinged.new(producer="test", tenant_id="acme")

    assert (event.event_type, event.event_version) == ("Pinged", 2)
    assert post().event_type == "PostScheduled"


def test_new_with_cause_inherits_tenant_and_correlation_and_points_at_the_cause() -> None:
    cause = post()

    effect = Pinged.new(producer="budget", cause=cause)

    assert effect.tenant_id == cause.tenant_id
    assert effect.correlation_id == cause.correlation_id
    assert effect.causation_id == cause.event_id
    assert effect.event_id != cause.event_id


def test_new_without_cause_starts_a_new_correlation() -> None:
    a, b = Pinged.new(producer="t", tenant_id="acme"), Pinged.new(producer="t", tenant_id="acme")

    assert a.correlation_id != b.correlation_id
    assert a.event_id != b.event_id
    assert a.causation_id is None


def test_derived_event_id_is_a_stable_uuid5_of_its_parts() -> None:
    first = derived_event_id("BudgetThresholdCrossed", "b1", 80)

    assert first == derived_event_id("BudgetThresholdCrossed", "b1", 80)
    assert first != derived_event_id("BudgetThresholdCrossed", "b1", 100)
    assert uuid.UUID(first).version == 5


def test_occurred_at_defaults_to_now_in_utc() -> None:
    before = utcnow()
    event = Pinged.new(producer="t", tenant_id="acme")

    assert event.occurred_at.utcoffset() == timedelta(0)
    assert before <= event.occurred_at <= utcnow()


def test_naive_occurred_at_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Pinged.new(producer="t", tenant_id="acme", occurred_at=datetime(2026, 1, 1))


@pytest.mark.parametrize("tenant_id", ["", "   ", "x" * 65])
def test_tenant_id_must_be_present_and_bounded(tenant_id: str) -> None:
    with pytest.raises(ValidationError, match="tenant_id"):
        Pinged.new(producer="t", tenant_id=tenant_id)


def test_consumers_ignore_fields_they_do_not_know() -> None:
    wire = post().model_dump(mode="json") | {"added_in_v2": "later"}

    event = PostScheduled.model_validate(wire)

    assert not hasattr(event, "added_in_v2")
    assert event.post_id == "p1"


def test_json_round_trip_keeps_every_envelope_field() -> None:
    event = post()

    again = PostScheduled.model_validate_json(event.model_dump_json())

    assert again == event


def test_events_are_immutable() -> None:
    event = post()
    with pytest.raises(ValidationError, match="frozen"):
        event.tenant_id = "other"  # type: ignore[misc]


def test_partition_key_orders_by_tenant_or_by_the_entity() -> None:
    assert Pinged.new(producer="t", tenant_id="acme").partition_key() == b"acme"
    assert post().partition_key() == b"acme:c1"
