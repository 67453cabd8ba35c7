"""Issue 13 item 1, events: every input topic of every service, as the brokers list them (each
service's AsyncAPI document, built from its subscribers), gets generated events of every
contract in shared/events.py over the real broker: events valid by their JSON schema (half
addressed to a real agency and client, so handlers go past the tenant check), events that
violate it, and bytes that are not JSON. Then:

- nothing is stuck: every consumer group commits to the end of every partition it reads (a
  handler that crashed its consumer, or an error taken for a transient one, would hold it);
- nothing failed as a bug: every dead letter's reason is a refusal (schema invalid,
  undecodable, an unknown type or tenant, a domain refusal), never an exception a handler did
  not expect (`KeyError: ...`, `OverflowError: ...`): that is this harness's 5xx.

Contracts come from the event classes and their JSON schemas, drawn with schemathesis (the
OpenAPI fuzzer the HTTP harness uses) from a document with one operation per event, so a new
event or topic is covered the day it lands."""

from __future__ import annotations

import json
import re
from typing import Any

import schemathesis
from faststream.specification import AsyncAPI
from pydantic import ValidationError
from schemathesis import GenerationMode

from shared import events
from shared.envelope import Event
from tests.integration.conftest import Platform, while_progressing
from tests.integration.fuzz.harness import draw

# Generated events per contract: on a topic that carries it, and on any other topic.
CARRIED = {"valid": 12, "invalid": 3}
STRAY = {"valid": 1, "invalid": 1}
# Topics whose subscribers take raw records (their AsyncAPI payload names no contract): the
# contracts published on them. Any other input topic's contract comes from its AsyncAPI payload.
RAW_TOPICS = {
    "calendar.posts.scheduled.v1": ("PostScheduled",),
    "calendar.posts.lifecycle.v1": (
        "PostRescheduled", "PostCancelled", "PostDue", "PostPublished", "PostFailed",
        "PostPaused", "PostResumed",
    ),
    "metrics.observations.v1": ("AnalyticsObserved",),
    "metrics.goals.v1": ("GoalProgressed", "GoalAtRisk", "GoalAchieved", "GoalMissed"),
    "budget.thresholds.v1": ("BudgetThresholdCrossed",),
    "calendar.adherence.v1": ("AdherenceDropped",),
}  # fmt: skip
GARBAGE = (b"\x00\xff not json", b"[]", b'{"event_type": null}', b"{" * 600)
# An exception class named at the start of a dead letter's reason is a bug, except these.
REFUSALS = {"PermanentError"}


def contracts() -> list[type[Event]]:
    """Every concrete event class (bases with subclasses of their own left out)."""
    found = [
        c
        for c in vars(events).values()
        if isinstance(c, type) and issubclass(c, Event) and c.__module__ == events.__name__
    ]
    return [c for c in found if not any(o is not c and issubclass(o, c) for o in found)]


def input_topics(platform: Platform, contracts_: set[str]) -> dict[str, set[str]]:
    """Topics some subscriber reads (each service's AsyncAPI document, without the test's
    prefix) and the contracts each carries: its payload's schema when that is a contract,
    else `RAW_TOPICS`."""
    out: dict[str, set[str]] = {}
    for app in platform.apps.values():
        spec = AsyncAPI(app.state.runtime.broker, title="fuzz").to_specification().to_jsonable()
        payloads = spec["components"]["messages"]
        for channel in spec["channels"].values():
            topic = channel["address"].removeprefix(platform.prefix)
            carried = out.setdefault(topic, set(RAW_TOPICS.get(topic, ())))
            for message in channel["messages"].values():
                ref = payloads[message["$ref"].rsplit("/", 1)[1]]["payload"].get("$ref", "")
                carried |= {ref.rsplit("/", 1)[1]} & contracts_
    return out


def as_openapi(classes: list[type[Event]]) -> dict[str, Any]:
    """One POST operation per event, its JSON schema as the body (for schemathesis)."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for cls in classes:
        schema = cls.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[cls.__name__] = schema
        body = {"$ref": f"#/components/schemas/{cls.__name__}"}
        paths[f"/{cls.__name__}"] = {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {"200": {"description": "ok"}},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "events", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def generated(
    classes: list[type[Event]], tenant: str, client: str
) -> dict[str, dict[str, list[bytes]]]:
    """Per contract, valid events (every other one for the real tenant and client, with the
    contract's own type and version) and invalid ones, as many as `CARRIED` asks."""
    schema = schemathesis.openapi.from_dict(as_openapi(classes))
    by_name = {c.__name__: c for c in classes}
    out: dict[str, dict[str, list[bytes]]] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        cls = by_name[op.path.strip("/")]
        valid: list[bytes] = []
        positive = op.as_strategy(generation_mode=GenerationMode.POSITIVE)
        for i, case in enumerate(draw(positive, CARRIED["valid"])):
            body = dict(case.body)
            body["event_type"] = cls.EVENT_TYPE
            body["event_version"] = cls.model_fields["event_version"].default
            if i % 2 == 0:
                body["tenant_id"] = tenant
                if "client_id" in body:
                    body["client_id"] = client
            valid.append(json.dumps(repaired(cls, body)).encode())
        invalid = [
            case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
            for case in draw(op.as_strategy(generation_mode=GenerationMode.NEGATIVE), 3)
        ]
        out[cls.__name__] = {"valid": valid, "invalid": invalid}
    return out


# What the JSON schemas cannot say (a decimal as a string, the storable years, an ISO 4217
# code): a generated value the contract refuses for one of these gets a plain one instead, so
# most "valid" events pass the contract and reach the handlers' logic.
PLAIN = (
    ("decimal", "12.50"),
    ("ISO 4217", "EUR"),
    ("years 1970", "2026-03-01T09:00:00+00:00"),
    ("datetime", "2026-03-01T09:00:00+00:00"),
    ("date", "2026-03-01"),
)


def repaired(cls: type[Event], body: dict[str, Any]) -> dict[str, Any]:
    for _ in range(3):
        try:
            cls.model_validate(body)
            return body
        except ValidationError as e:
            errors = e.errors()
        for error in errors:
            text = f"{error['type']} {error['msg']}"
            plain = next((v for hint, v in PLAIN if hint in text), None)
            *parents, last = error["loc"] or ("",)
            target: Any = body
            for part in parents:
                target = target[part]
            if plain is not None and isinstance(target, dict | list):
                target[last] = plain
    return body


def bug_in(reason: str) -> str | None:
    """The exception class a dead letter names when a handler raised what it did not expect."""
    m = re.match(r"(?:cannot be stored: )?([A-Z][\w.]*): ", reason)  # a class, not a refusal
    if m and m.group(1) not in REFUSALS and m.group(1) != "undecodable":
        return m.group(1)
    return None


async def lag(platform: Platform) -> int:
    """Records not yet committed, summed over every subscriber of every service (its consumer
    group's committed offset against the end of each partition it is assigned)."""
    total = 0
    for app in platform.apps.values():
        for sub in app.state.runtime.broker.subscribers:
            consumer = sub.consumer
            parts = sorted(consumer.assignment())
            ends = await consumer.end_offsets(parts)
            for tp in parts:
                total += max(0, ends[tp] - (await consumer.committed(tp) or 0))
    return total


async def test_generated_events_on_every_input_topic_are_handled_or_refused(
    platform: Platform,
) -> None:
    tenant, headers = await platform.new_agency("Event fuzz")
    r = await platform.http["calendar"].post(
        "/clients", json={"name": "Fuzz", "timezone": "Europe/Berlin"}, headers=headers
    )
    assert r.status_code == 201, r.text
    client = r.json()["client_id"]
    classes = contracts()
    assert len(classes) >= 20, [c.__name__ for c in classes]
    names = input_topics(platform, {c.__name__ for c in classes})
    assert {"metrics.ingested.v1", "calendar.posts.scheduled.v1"} <= set(names), names
    # A topic with no known contract fails until RAW_TOPICS names what is published on it.
    assert all(names.values()), {t for t, carried in names.items() if not carried}
    messages = generated(classes, tenant, client)

    sent = 0
    for topic, carried in sorted(names.items()):
        for contract, drawn in messages.items():
            counts = CARRIED if contract in carried else STRAY
            for mode, n in counts.items():
                for value in drawn[mode][:n]:
                    await platform.producer.send(platform.topic(topic), value, key=b"fuzz")
                    sent += 1
        for value in GARBAGE:
            await platform.producer.send(platform.topic(topic), value, key=b"fuzz")
            sent += 1
    await platform.producer.flush()

    # Nothing stuck: every group reaches the end of what it reads (fails only on a stall).
    initial = await lag(platform)
    assert initial > 0

    async def committed() -> int:
        return initial - await lag(platform)

    await while_progressing(committed, initial, stall=60)

    bugs: list[str] = []
    refused = 0
    kinds: dict[str, int] = {}
    for topic in sorted(names):
        dead = await platform.read_topic(f"{topic}.dlq", expect=10**9, timeout=3)
        for record in dead:
            reason = dict(record.headers).get("x-dlq-reason", b"").decode()
            refused += 1
            kinds[reason.split(":", 1)[0][:40]] = kinds.get(reason.split(":", 1)[0][:40], 0) + 1
            if kind := bug_in(reason):
                bugs.append(f"{topic}: {kind}: {reason[:200]} <- {record.value[:300]!r}")
    assert not bugs, f"{len(bugs)} events failed as bugs:\n" + "\n".join(sorted(set(bugs))[:40])
    # The garbage at least was refused on every topic by every group reading it.
    assert refused >= len(GARBAGE) * len(names)
    print(f"{sent} events on {len(names)} topics, {len(classes)} contracts")
    print(f"{refused} dead letters: {kinds}")
