"""Event schemas are versioned (issue 12 item 5): each event type and version's JSON schema is
snapshotted in tests/unit/snapshots/event_schemas.json. A recorded schema that changes while
keeping its `event_version` fails here; bump the version (and upcast old payloads), then record
the new one with `.venv/bin/python -m tests.unit.test_ops_event_schemas --update`. Old versions
stay in the snapshot as history."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, ClassVar

from shared import events
from shared.envelope import Event

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "event_schemas.json"


def event_classes() -> list[type[Event]]:
    """Every concrete event model: a class that names its own EVENT_TYPE."""
    found: dict[str, type[Event]] = {}
    stack: list[type[Event]] = [Event]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "EVENT_TYPE" in cls.__dict__ and cls.__module__ == events.__name__:
            found[cls.__name__] = cls
    return sorted(found.values(), key=lambda c: c.__name__)


def current() -> dict[str, Any]:
    return {f"{c.EVENT_TYPE}@v{c.EVENT_VERSION}": c.model_json_schema() for c in event_classes()}


def changed_without_a_new_version(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    return sorted(key for key, schema in now.items() if key in recorded and recorded[key] != schema)


def test_event_schemas_change_only_with_their_version() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    now = current()
    assert len(now) >= 15, sorted(now)
    changed = changed_without_a_new_version(recorded, now)
    assert not changed, f"schema changed without bumping event_version: {changed}"
    # A new type or version is additive, so it does not fail here (several people add events
    # at once); it is guarded from the moment it is recorded with --update.
    unrecorded = sorted(set(now) - set(recorded))
    if unrecorded:
        print(f"not yet in {SNAPSHOT.name} (run with --update): {unrecorded}")
    assert len(set(now) & set(recorded)) >= 15


def test_a_changed_schema_with_the_same_version_is_caught() -> None:
    recorded = current()
    first = event_classes()[0]

    class Edited(first):  # type: ignore[valid-type, misc]
        EVENT_TYPE: ClassVar[str] = first.EVENT_TYPE
        EVENT_VERSION: ClassVar[int] = first.EVENT_VERSION
        added_field: str = ""

    key = f"{first.EVENT_TYPE}@v{first.EVENT_VERSION}"
    now = recorded | {key: Edited.model_json_schema()}
    assert changed_without_a_new_version(recorded, now) == [key]
    bumped = recorded | {
        f"{first.EVENT_TYPE}@v{first.EVENT_VERSION + 1}": Edited.model_json_schema()
    }
    assert changed_without_a_new_version(recorded, bumped) == []


if __name__ == "__main__" and "--update" in sys.argv:
    merged = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    merged.update({k: v for k, v in current().items() if k not in merged})
    SNAPSHOT.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    print(f"{SNAPSHOT}: {len(merged)} event schemas")
