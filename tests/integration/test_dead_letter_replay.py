"""Issue 14 item 1: a replay command moves dead letters back to their topic after a fix, as an
operator runs it (`socialops dlq replay`), on the real broker and database."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from shared import topics
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import observation

SOCIALOPS = Path(sys.executable).parent / "socialops"


async def _replay(platform: Platform, *args: str) -> str:
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": platform.infra.bootstrap,
        "SOCIALOPS_TOPIC_PREFIX": platform.prefix,
        "COLUMNS": "200",
    }
    proc = await asyncio.create_subprocess_exec(
        str(SOCIALOPS), "dlq", "replay", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_replay_after_the_fix_stores_the_letters_once(platform: Platform) -> None:
    """An observation of a tenant not yet known is dead-lettered; once the agency exists,
    replaying the letters whose reason matches stores it, leaves the others, and a second
    replay stores nothing twice."""
    late = f"late-{platform.prefix.strip('_')}"
    event = observation(late, "cl-1", observed_at=datetime(2026, 11, 1, tzinfo=UTC))
    await platform.send(topics.ANALYTICS_OBSERVATIONS, event)
    await platform.send(topics.ANALYTICS_OBSERVATIONS, b"\x00not json", key=b"x:y")
    letters = await platform.read_topic(topics.dlq(topics.ANALYTICS_OBSERVATIONS), expect=2)
    assert len(letters) == 2

    await platform.directory.db["agencies"].insert_one(  # the fix: the agency is created
        {"_id": late, "tenant_id": late, "name": "Late", "created_at": datetime.now(UTC)}
    )
    dry = await _replay(platform, topics.ANALYTICS_OBSERVATIONS, "--reason-contains",
                        "unknown tenant", "--dry-run")  # fmt: skip
    assert "would replay 1, skipped 1" in dry
    assert await platform.observations(late) == []

    out = await _replay(platform, topics.ANALYTICS_OBSERVATIONS, "--reason-contains",
                        "unknown tenant")  # fmt: skip
    assert "replayed 1, skipped 1" in out
    [stored] = await eventually(lambda: platform.observations(late))
    assert stored["_id"] == event.event_id

    again = await _replay(platform, topics.ANALYTICS_OBSERVATIONS, "--kind", "permanent")
    assert "replayed 2, skipped 0" in again  # the undecodable one fails again, alone
    await eventually(
        lambda: _count_letters(platform, 3), timeout=20
    )  # it came back to the dead-letter topic with its reason
    assert len(await platform.observations(late)) == 1


async def _count_letters(platform: Platform, n: int) -> bool:
    letters = await platform.read_topic(
        topics.dlq(topics.ANALYTICS_OBSERVATIONS), expect=n, timeout=2
    )
    return len(letters) == n
