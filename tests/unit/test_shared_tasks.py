"""Background loops stop on shutdown even when a library turns the cancellation into another
error (the CI hang of a webhook sender whose PyMongo server selection was cancelled)."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from pymongo import AsyncMongoClient

from shared import tasks


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _retrying_loop(
    step: object, rounds: list[int], *, guarded: bool, run: asyncio.Event | None = None
) -> None:
    """The shape of every service loop: a failed round is logged and retried."""
    while run is None or not run.is_set():
        try:
            await step()  # type: ignore[operator]
        except asyncio.CancelledError:
            raise
        except Exception:
            if guarded:
                tasks.raise_if_stopping()
            rounds.append(1)
        await asyncio.sleep(0.01)


async def _swallowing_library() -> None:
    """What PyMongo's server selection does when cancelled mid-wait."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        raise RuntimeError("server selection timed out") from None


async def test_a_guarded_loop_ends_when_its_cancellation_is_turned_into_another_error() -> None:
    rounds: list[int] = []
    task = asyncio.create_task(_retrying_loop(_swallowing_library, rounds, guarded=True))
    await asyncio.sleep(0.05)

    await tasks.stop([task], grace_s=5)

    assert task.cancelled()
    assert rounds == []  # the converted cancellation was not taken for a failed round


async def test_an_unguarded_loop_would_go_on_and_stop_gives_up_after_its_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The defect itself: without the guard the loop swallows every cancel; `stop` returns
    after its grace and names the task instead of hanging the shutdown."""
    rounds: list[int] = []
    finished = asyncio.Event()
    task = asyncio.create_task(
        _retrying_loop(_swallowing_library, rounds, guarded=False, run=finished), name="stubborn"
    )
    await asyncio.sleep(0.05)

    with caplog.at_level(logging.ERROR, logger="socialops.tasks"):
        await tasks.stop([task], grace_s=0.5)

    assert not task.done()
    assert rounds  # each cancel became a "failed round"
    assert "stubborn did not stop" in caplog.text
    finished.set()  # end it for good: the test's event loop must not keep a live task
    task.cancel()
    await asyncio.wait([task], timeout=5)
    assert task.done()


async def test_real_pymongo_server_selection_cancelled_mid_wait_still_stops_the_loop() -> None:
    """PyMongo against a port nobody listens on: server selection waits; cancelling the loop
    mid-wait ends it, whatever PyMongo raises on the way."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{_closed_port()}/?serverSelectionTimeoutMS=30000",
        connectTimeoutMS=200,
    )
    rounds: list[int] = []
    try:
        task = asyncio.create_task(
            _retrying_loop(lambda: client.db.c.find_one({}), rounds, guarded=True)
        )
        await asyncio.sleep(0.5)  # inside server selection now
        started = asyncio.get_running_loop().time()

        await tasks.stop([task], grace_s=10)

        assert task.done()
        assert asyncio.get_running_loop().time() - started < 5
        assert rounds == []
    finally:
        await client.close()
