"""The metrics service as the benchmark sees it from outside: its environment, readiness,
one HTTP read of what was ingested, and figures from its `/metrics`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench import measure
from deploy.local import stack

LATENCY_HISTOGRAM = "socialops_ingest_publish_latency_seconds"


def env(
    profile: stack.Profile, *, port: int, prefix: str, databases: dict[str, str]
) -> dict[str, str]:
    """Environment of `python -m services.metrics` for one run (own topics and databases)."""
    return {
        **stack.service_env(profile),
        "METRICS_PORT": str(port),
        "METRICS_HOST": "127.0.0.1",
        "SOCIALOPS_TOPIC_PREFIX": prefix,
        "METRICS_DATABASE": databases["metrics"],
        "SOCIALOPS_TENANCY_DATABASE": databases["tenancy"],
        "SOCIALOPS_LOG_LEVEL": "WARNING",
    }


async def wait_ready(base: str, alive: Callable[[], bool], *, limit_s: float = 90) -> bool:
    """Poll `/readyz` until 200 (broker and database reachable), while the process lives."""
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(base_url=base, timeout=3) as http:
        while time.monotonic() < deadline and alive():
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/readyz")).status_code == 200:
                    return True
            await asyncio.sleep(0.3)
    return False


async def query(base: str, api_key: str, client_id: str) -> dict[str, Any]:
    """One HTTP read after ingestion: the client's KPIs (rollups) if the service has that
    route, else its newest observation and stored count."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        paths = (await http.get("/openapi.json")).json().get("paths", {})
        params: dict[str, str | int]
        if "get" in paths.get("/kpis", {}):
            url, params = "/kpis", {"client_id": client_id}
        else:
            url, params = f"/clients/{client_id}/observations", {"limit": 1}
        t = time.perf_counter()
        r = await http.get(url, params=params, headers={"X-API-Key": api_key})
        ms = (time.perf_counter() - t) * 1000
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    return {
        "url": url,
        "params": params,
        "status": r.status_code,
        "ms": round(ms, 1),
        "excerpt": json.dumps(body, default=str)[:400],
    }


async def latency_histogram(http: httpx.AsyncClient) -> dict[float, float] | None:
    """The service's publish -> committed histogram (cumulative buckets), None if it has none."""
    return measure.histogram((await http.get("/metrics")).text, LATENCY_HISTOGRAM)


async def histogram_gained(
    http: httpx.AsyncClient, before: dict[float, float] | None, n: int, *, limit_s: float = 5
) -> dict[float, float]:
    """Bucket deltas since `before`, once `n` observations arrived (the service observes just
    after its commit, so a document can be visible a moment before it is counted)."""
    deadline = time.monotonic() + limit_s
    while True:
        delta = measure.histogram_delta(before, await latency_histogram(http) or {})
        if delta.get(float("inf"), 0.0) >= n or time.monotonic() > deadline:
            return delta
        await asyncio.sleep(0.1)


def figures(text: str) -> dict[str, Any]:
    """A few of the service's own counters, to see where a run went (batches, dead letters)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        for key in ("socialops_ingest_batch_size_sum", "socialops_ingest_batch_size_count"):
            if line.startswith((key + " ", key + "{")):
                out[key] = out.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
        if line.startswith("socialops_messages_total{") and "dead_lettered" in line:
            out["dead_lettered"] = out.get("dead_lettered", 0.0) + float(line.rsplit(" ", 1)[1])
        for stage in ("decode", "prepare", "write"):  # seconds per stage of the chunks
            for part in ("sum", "count"):
                if line.startswith(f'socialops_ingest_stage_seconds_{part}{{stage="{stage}"}}'):
                    out[f"{stage}_{part}"] = float(line.rsplit(" ", 1)[1])
    for stage in ("decode", "prepare", "write"):
        if out.get(f"{stage}_count"):
            out[f"{stage}_ms_per_chunk"] = round(
                out[f"{stage}_sum"] / out[f"{stage}_count"] * 1000, 1
            )
    batches = out.get("socialops_ingest_batch_size_count", 0.0)
    if batches:
        out["mean_batch_size"] = round(out["socialops_ingest_batch_size_sum"] / batches, 1)
    return out
