"""Issue 14 item 12: an event of another type or a newer version than a consumer reads is
refused before any payload field is read (and says why); older versions are still read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from shared.envelope import Event, unreadable_schema
from shared.events import GoalEvent, GoalProgressed, PostScheduled


class Pinged(Event):
    EVENT_TYPE: ClassVar[str] = "Pinged"
    EVENT_VERSION: ClassVar[int] = 2

    note: str = ""


READS_UP_TO_2 = "(this consumer reads up to 2)"


def pinged(**changes: Any) -> dict[str, Any]:
    return Pinged.new(producer="t", tenant_id="acme").model_dump(mode="json") | changes


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"event_type": "Ponged"}, "unknown event_type 'Ponged' (expected 'Pinged')"),
        ({"event_version": 3}, f"unsupported event_version 3 of 'Pinged' {READS_UP_TO_2}"),
        ({"event_version": "7"}, f"unsupported event_version 7 of 'Pinged' {READS_UP_TO_2}"),
    ],
)  # fmt: skip
def test_unknown_type_or_newer_version_is_refused_with_its_reason(
    changes: dict[str, Any], reason: str
) -> None:
    """Issue 14 item 12: the only error is the schema's, and it names what was refused."""
    with pytest.raises(ValidationError) as caught:
        Pinged.model_validate(pinged(**changes, note=["not", "a", "string"]))
    assert unreadable_schema(caught.value) == reason


def test_older_versions_and_the_own_version_are_read() -> None:
    """Issue 14 item 12: additive changes stay readable (version 1 of a version-2 schema)."""
    assert Pinged.model_validate(pinged(event_version=1)).event_version == 1
    assert Pinged.model_validate_json(Pinged.new(producer="t", tenant_id="a").model_dump_json())


def test_other_validation_errors_are_not_schema_refusals() -> None:
    with pytest.raises(ValidationError) as caught:
        Pinged.model_validate(pinged(note=["x"]))
    assert unreadable_schema(caught.value) is None


def test_each_goal_event_checks_its_own_type() -> None:
    """Goal events share a topic and a base; each concrete one reads only its own type."""
    progressed = GoalProgressed.new(
        producer="metrics", tenant_id="acme", goal_id="g", client_id="c", metric="followers",
        platform="x", state="on_track", baseline="1", target="2", current="1", progress="0",
        projected=None, deadline=datetime(2030, 1, 1, tzinfo=UTC),
        evaluated_at=datetime(2029, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    data = progressed.model_dump(mode="json")
    assert GoalEvent.model_validate(data).event_type == "GoalProgressed"  # a base checks nothing
    with pytest.raises(ValidationError):
        GoalProgressed.model_validate(data | {"event_type": "GoalMissed"})
    with pytest.raises(ValidationError):
        PostScheduled.model_validate(data)
