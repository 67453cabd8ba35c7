"""Found by the event fuzz harness (tests/integration/test_fuzz_events.py): contract-valid
events that could never be stored. A `PostRescheduled` with version 10^26 raised
OverflowError in the calendar (MongoDB holds 8-byte ints) and a `MetricsIngested` whose
totals name a metric "" or "a.b" raised WriteError in the audit ('metrics.' is no update
path); both were dead-lettered as bugs. They are refusals at decoding now, with the contracts'
JSON schemas (and versions) unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.bounds import MAX_COUNT
from shared.events import MetricsIngested, PostRescheduled
from tests.integration.test_fuzz_events import bug_in

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)


def rescheduled(version: int) -> PostRescheduled:
    return PostRescheduled.new(
        producer="tests", tenant_id="t", client_id="c", post_id="p", platform="x",
        scheduled_at=NOW, previous_scheduled_at=NOW, timezone="UTC", version=version,
    )  # fmt: skip


def test_a_version_past_what_the_database_holds_is_refused() -> None:
    assert rescheduled(MAX_COUNT).version == 10**15
    with pytest.raises(ValidationError, match="must be at most 1,000,000,000,000,000"):
        rescheduled(10**26)


@pytest.mark.parametrize("name", ["", "a.b", "$where", "x" * 129])
def test_a_metric_name_that_cannot_be_a_document_key_is_refused(name: str) -> None:
    totals = [{"client_id": "c", "platform": "x", "observations": 1, "metrics": {name: "1"}}]
    with pytest.raises(ValidationError, match="is not a name"):
        MetricsIngested.new(producer="tests", tenant_id="t", observations=1, totals=totals)


def test_canonical_metric_names_pass() -> None:
    totals = [{"client_id": "c", "platform": "x", "observations": 2,
               "metrics": {"likes": "3", "video_views": "10"}}]  # fmt: skip
    event = MetricsIngested.new(producer="tests", tenant_id="t", observations=2, totals=totals)
    assert event.totals[0].metrics["video_views"] == 10


@pytest.mark.parametrize(
    ("reason", "bug"),
    [
        ("OverflowError: MongoDB can only handle up to 8-byte ints", "OverflowError"),
        ("cannot be stored: WriteError: The update path 'metrics.'", "WriteError"),
        ("KeyError: 'client_id'", "KeyError"),
        ("PermanentError: unknown tenant 'x'", None),
        ("schema invalid: version: must be at most 1,000,000,000,000,000", None),
        ("undecodable: Expecting value", None),
        ("unknown_budget: spend line o-1 names budget b, which is no budget", None),
        ("unknown event_type 'PostDue' (expected 'PostScheduled')", None),
    ],
)
def test_dead_letter_reasons_that_name_an_exception_are_bugs(reason: str, bug: str | None) -> None:
    assert bug_in(reason) == bug
