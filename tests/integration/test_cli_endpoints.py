"""The `socialops` CLI as an operator runs it (a subprocess) finds the servers through the env
the stack uses (SOCIALOPS_MONGO_PORT / SOCIALOPS_KAFKA_PORT, no URI), and names the server it
could not reach in one line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from pymongo import AsyncMongoClient

from deploy.local import stack
from shared.auth import AgencyDirectory
from tests.integration.conftest import Infra

CLI = str(Path(sys.executable).parent / "socialops")
ADDRESS_ENV = ("MONGODB_URI", "KAFKA_BOOTSTRAP_SERVERS", "SOCIALOPS_MONGO_PORT",
               "SOCIALOPS_KAFKA_PORT", "SOCIALOPS_TENANCY_DATABASE")  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed once the socket is: nothing listens there


async def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ADDRESS_ENV}
    return await asyncio.to_thread(
        subprocess.run,
        [CLI, *args],
        env={**base, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_agency_commands_reach_the_database_through_the_stack_port(infra: Infra) -> None:
    port = stack.profile("test").mongo_port
    tenancy = f"t_cli_{uuid.uuid4().hex[:8]}_tenancy"
    env = {"SOCIALOPS_MONGO_PORT": str(port), "SOCIALOPS_TENANCY_DATABASE": tenancy}
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    try:
        created = await _cli("agency", "create", "Port Agency", **env)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        principal = await AgencyDirectory(client[tenancy], cache_ttl_s=0).authenticate(key)
        assert principal is not None and principal.agency.name == "Port Agency"
        assert principal.role == "admin" and principal.clients is None  # the first key
        agency = principal.agency

        listed = await _cli("agency", "list", **env)
        assert listed.returncode == 0, listed.stderr
        assert agency.tenant_id in listed.stdout
        assert key not in listed.stdout
    finally:
        await client.drop_database(tenancy)
        await client.close()


async def test_dlq_replay_reaches_the_broker_through_the_stack_port(infra: Infra) -> None:
    port = stack.profile("test").kafka_port
    topic = f"t-cli-{uuid.uuid4().hex[:8]}.missing.v1"
    result = await _cli("dlq", "replay", topic, "--dry-run", SOCIALOPS_KAFKA_PORT=str(port))
    # The broker answered: the topic is unknown there (not a connection error).
    assert result.returncode == 2, result.stderr
    assert f"no topic '{topic}.dlq' on 127.0.0.1:{port}" in result.stderr
    assert "cannot reach" not in result.stderr


async def test_an_unreachable_database_is_named_in_one_line() -> None:
    port = _closed_port()
    result = await _cli("agency", "create", "Nobody", SOCIALOPS_MONGO_PORT=str(port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"socialops: cannot reach the database at mongodb://127.0.0.1:{port}/"
    ), lines[0]
    assert "SOCIALOPS_MONGO_PORT" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


async def test_an_unreachable_broker_is_named_in_one_line() -> None:
    port = _closed_port()
    result = await _cli("dlq", "replay", "metrics.observations.v1", SOCIALOPS_KAFKA_PORT=str(port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"socialops: cannot reach the Kafka broker at 127.0.0.1:{port}"), (
        lines[0]
    )
    assert "Traceback" not in result.stderr + result.stdout


async def test_an_explicit_uri_wins_over_the_port(infra: Infra) -> None:
    tenancy = f"t_cli_{uuid.uuid4().hex[:8]}_tenancy"
    closed = _closed_port()
    listed = await _cli(
        "agency", "list", MONGODB_URI=infra.mongodb_uri, SOCIALOPS_MONGO_PORT=str(closed),
        SOCIALOPS_TENANCY_DATABASE=tenancy,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
