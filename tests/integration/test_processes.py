"""The services as real processes (`python -m services.<name>`), started by the stack script
the way `make up` starts them: each becomes ready and they talk over the real broker."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local import stack
from shared import mongo
from shared.auth import AgencyDirectory
from tests.integration.conftest import Infra, delete_topics, eventually


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def processes(
    infra: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[stack.Profile]:
    prefix = f"p{uuid.uuid4().hex[:8]}_"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.bootstrap)
    monkeypatch.setenv("MONGODB_URI", infra.mongodb_uri)
    monkeypatch.setenv("SOCIALOPS_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("SOCIALOPS_TOPIC_PARTITIONS", "2")
    monkeypatch.setenv("SOCIALOPS_TENANCY_DATABASE", f"{prefix}tenancy")
    for svc in stack.SERVICES:
        monkeypatch.setenv(f"{svc.upper()}_DATABASE", f"{prefix}{svc}")
    profile = stack.Profile(
        "proc", tmp_path, kafka_port=0, mongo_port=0,
        service_ports={svc: _free_port() for svc in stack.SERVICES},
    )  # fmt: skip
    try:
        stack.start_services(profile)
        yield profile
    finally:
        stopped = stack.down(profile)
        assert set(stack.SERVICES) <= set(stopped)
        for svc in stack.SERVICES:
            assert stack.running_pid(profile, svc) is None


async def test_service_processes_become_ready_and_exchange_events(
    processes: stack.Profile, infra: Infra
) -> None:
    client = mongo.connect(infra.mongodb_uri, app_name="tests")
    directory = AgencyDirectory(client[os.environ["SOCIALOPS_TENANCY_DATABASE"]])
    _, key = await directory.create_agency("Process Agency")
    headers = {"X-API-Key": key}
    base = {svc: f"http://127.0.0.1:{port}" for svc, port in processes.service_ports.items()}
    async with httpx.AsyncClient(timeout=10) as http:
        for svc in stack.SERVICES:
            assert (await http.get(f"{base[svc]}/readyz")).status_code == 200
            assert (await http.get(f"{base[svc]}/docs")).status_code == 200
        r = await http.post(f"{base['calendar']}/clients", json={"name": "P"}, headers=headers)
        client_id = r.json()["client_id"]
        r = await http.post(
            f"{base['calendar']}/clients/{client_id}/posts",
            json={"platform": "facebook", "scheduled_at": "2026-12-05T12:00:00Z"},
            headers=headers,
        )
        assert r.status_code == 201

        async def metrics_consumed() -> bool:
            text = (await http.get(f"{base['metrics']}/metrics")).text
            return any(
                line.startswith("socialops_messages_total")
                and 'outcome="processed"' in line
                and "posts.scheduled" in line
                for line in text.splitlines()
            )

        await eventually(metrics_consumed, timeout=30)
    for db in await client.list_database_names():
        if db.startswith(os.environ["SOCIALOPS_TOPIC_PREFIX"]):
            await client.drop_database(db)
    await client.close()
    await delete_topics(infra.bootstrap, os.environ["SOCIALOPS_TOPIC_PREFIX"])
