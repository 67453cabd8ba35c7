"""Clients travel as events: the calendar publishes `ClientRegistered` when an agency adds a
client, and another service's `KnownClients` learns it from Kafka (never from the calendar's
database); a client id of another agency answers like one that does not exist."""

from __future__ import annotations

import json

import pytest
from fastapi import HTTPException

from shared import topics
from shared.events import ClientRegistered
from shared.known_clients import KnownClients
from tests.integration.conftest import Platform


async def test_client_created_over_http_is_learned_from_its_event(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Bakers")
    other, _ = await platform.new_agency("Rivals")
    created = await platform.http["calendar"].post(
        "/clients", json={"name": "Tasty Bakery", "timezone": "Europe/Berlin"}, headers=headers
    )
    assert created.status_code == 201
    client_id = created.json()["client_id"]

    records = await platform.read_topic(topics.CLIENTS, expect=1)
    assert len(records) == 1
    assert records[0].key == f"{tenant}:{client_id}".encode()
    event = ClientRegistered.model_validate(json.loads(records[0].value))
    assert (event.tenant_id, event.client_id, event.name, event.timezone) == (
        tenant, client_id, "Tasty Bakery", "Europe/Berlin"
    )  # fmt: skip

    known = KnownClients(platform.db("known-clients-test"))
    platform.databases.append(f"{platform.prefix}known-clients-test")
    await known.record(event)
    await known.record(event)  # at-least-once delivery: a repeat changes nothing
    assert await known.collection.count_documents({}) == 1
    found = await known.require(tenant, client_id)
    assert (found["name"], found["timezone"]) == ("Tasty Bakery", "Europe/Berlin")

    for tenant_id, cid in ((other, client_id), (tenant, "cl-nope")):
        with pytest.raises(HTTPException) as refused:
            await known.require(tenant_id, cid)
        assert (refused.value.status_code, refused.value.detail) == (
            404, f"client '{cid}' not found"
        )  # fmt: skip
