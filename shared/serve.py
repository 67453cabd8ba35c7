"""Run a service's app with uvicorn on its configured host and port (the `__main__` of each)."""

from __future__ import annotations

import gc
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.settings import ServiceSettings


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    # young collections every `gc_threshold` allocations, older ones 50x rarer each: batches
    # keep many objects alive for a while, and scanning them again and again is wasted work
    gc.set_threshold(settings.gc_threshold, 50, 50)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # our JSON logging is configured by the app factory
        access_log=False,
    )
