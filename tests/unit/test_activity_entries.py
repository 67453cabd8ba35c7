"""What goes in an activity log entry (issue 13 item 3): the entity's fields as JSON with every
secret-looking field left out at any depth, bounded in size; who is the key's id and role."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import BaseModel, ValidationError

from shared.access import role_refusal
from shared.activity import MAX_STATE_CHARS, activity, snapshot
from shared.auth import Agency, Principal, Role
from shared.events import ActivityRecorded
from shared.runtime import Runtime

AGENCY = Agency(tenant_id="t1", name="A", created_at=datetime(2026, 1, 1, tzinfo=UTC))


class Hook(BaseModel):
    url: str
    secret: str
    signing_secret: str
    at: datetime


def test_secrets_are_left_out_at_any_depth() -> None:
    state = {
        "name": "Feed",
        "key": "sk_live_1",
        "key_hash": "abc",
        "feed_token": "tok",
        "nested": {"api_key": "x", "Token": "y", "kept": 1},
        "hooks": [Hook(url="https://h", secret="s", signing_secret="t",
                       at=datetime(2027, 1, 1, tzinfo=UTC))],
    }  # fmt: skip
    text = snapshot(state)
    assert text is not None
    for secret in ("sk_live_1", "abc", "tok", '"x"', '"y"', '"s"', '"t"'):
        assert secret not in text, secret
    data = json.loads(text)
    assert data["name"] == "Feed" and data["nested"] == {"kept": 1}
    assert data["hooks"] == [{"url": "https://h", "at": "2027-01-01T00:00:00Z"}]
    assert snapshot(None) is None


def test_a_large_entity_is_cut_to_its_small_top_level_fields() -> None:
    state = {"post_id": "po-1", "version": 3, "caption": "x" * 50_000, "items": list(range(9_999))}
    text = snapshot(state)
    assert text is not None and len(text) <= MAX_STATE_CHARS
    assert json.loads(text) == {"post_id": "po-1", "version": 3, "truncated": True}
    small = {"post_id": "po-1", "caption": "short"}
    assert json.loads(snapshot(small) or "") == small


def test_an_entry_names_the_key_by_id_and_role_never_the_key() -> None:
    runtime = cast(Runtime, SimpleNamespace(settings=SimpleNamespace(service_name="calendar")))
    principal = Principal(agency=AGENCY, key_id="key-1",
                          role=Role.EDITOR)  # fmt: skip
    event = activity(runtime, principal, entity="post", entity_id="po-1", client_id="cl-1",
                     action="rescheduled", before={"scheduled_at": "2027-01-01T09:00:00Z"},
                     after={"scheduled_at": "2027-01-02T09:00:00Z", "key": "k"})  # fmt: skip
    assert (event.tenant_id, event.key_id, event.role, event.producer) == (
        "t1", "key-1", "editor", "calendar",
    )  # fmt: skip
    assert json.loads(event.after or "") == {"scheduled_at": "2027-01-02T09:00:00Z"}
    assert event.partition_key() == b"t1:post:po-1"


def test_an_entry_refuses_unknown_entities_and_oversized_states() -> None:
    base: dict[str, Any] = {"producer": "calendar", "tenant_id": "t1", "key_id": "key-1",
                            "role": "admin", "entity_id": "x", "action": "created"}  # fmt: skip
    with pytest.raises(ValidationError):
        ActivityRecorded.new(entity="client", **base)
    with pytest.raises(ValidationError):
        ActivityRecorded.new(entity="post", after="x" * 16_001, **base)


@pytest.mark.parametrize(
    ("role", "clients", "refused"),
    [(Role.ADMIN, None, False), (Role.EDITOR, None, True), (Role.ANALYST, None, True),
     (Role.ADMIN, frozenset({"cl-1"}), True)],
)  # fmt: skip
def test_only_unrestricted_admins_read_the_activity_log(
    role: Role, clients: frozenset[str] | None, refused: bool
) -> None:
    principal = Principal(agency=AGENCY, key_id="k", role=role,
                          clients=clients)  # fmt: skip
    why = role_refusal(principal, "GET", "/activity")
    assert (why is not None) == refused
    assert why is None or "activity log" in why
