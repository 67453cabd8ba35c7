"""Background tasks that stop when asked.

Every service loop (outbox relay, ops probe, dispatcher, webhook sender, sweeps) catches
`Exception` so that one failed round is logged and retried instead of killing the loop. A
library below may turn the `CancelledError` of a shutdown into another error: PyMongo's
server selection, cancelled while it waits for a server, raises `ServerSelectionTimeoutError`.
A loop that logs that and goes round again never stops, and the process hangs on shutdown.

So a loop calls `raise_if_stopping()` first in its `except Exception`, and shutdown goes
through `stop()`, which cancels again until each task has ended and gives up (loudly) after a
grace period instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

log = logging.getLogger("socialops.tasks")


def stopping() -> bool:
    """True once the running task was asked to stop (cancelled), whatever a library made of
    the `CancelledError` on its way up."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def raise_if_stopping() -> None:
    """In a loop's `except Exception`: end the loop if the error came from a cancellation."""
    if stopping():
        raise asyncio.CancelledError


async def stop(tasks: Iterable[asyncio.Task[object]], *, grace_s: float = 10.0) -> None:
    """Cancel `tasks` and wait until each has ended, cancelling again every two seconds (a library
    may have swallowed the first); after `grace_s` the stragglers are logged and left."""
    pending = {task for task in tasks if not task.done()}
    deadline = time.monotonic() + grace_s
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - time.monotonic()
        if left <= 0:
            for task in pending:
                log.error("task %s did not stop within %.0f s", task.get_name(), grace_s)
            return
        _, pending = await asyncio.wait(pending, timeout=min(2.0, left))
