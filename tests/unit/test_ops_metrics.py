"""Operational metrics: dead-letter reason kinds, lag arithmetic, HTTP metrics by route
template (never the raw path)."""

from __future__ import annotations

import httpx
from aiokafka import TopicPartition
from fastapi import FastAPI

from shared import ops
from shared.observability import DEAD_LETTERS, HTTP_REQUESTS, registry


def test_reason_kinds_are_bounded_and_match_describe() -> None:
    assert ops.reason_kind("undecodable: Expecting value") == "undecodable"
    assert ops.reason_kind("schema invalid: metrics.0.value: must be >= 0") == "schema_invalid"
    assert ops.reason_kind("unknown event_type 'Foo'") == "unknown_schema"
    assert ops.reason_kind("event_version 3 is newer than this consumer reads") == "unknown_schema"
    assert ops.reason_kind("PermanentError: unknown tenant 't-1'") == "unknown_tenant"
    assert ops.reason_kind("cannot be stored: DuplicateKeyError") == "not_stored"
    assert ops.reason_kind("ValueError: something new") == "other"
    assert set(map(ops.reason_kind, ["a", "b", "undecodable"])) <= set(ops.REASON_KINDS)


def test_count_dead_letter_labels_by_kind() -> None:
    before = registry.get_sample_value(
        "socialops_dead_letters_total", {"service": "u", "topic": "t", "reason": "undecodable"}
    )
    ops.count_dead_letter("u", "t", "undecodable: bad json")
    after = DEAD_LETTERS.labels("u", "t", "undecodable")._value.get()
    assert after == (before or 0) + 1


def test_partition_lag_is_end_minus_committed_never_negative() -> None:
    a, b, c = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("t", 2)
    lags = ops.partition_lags({a: 10, b: 50, c: 7}, {a: 25, b: 50, c: 5})
    assert lags == {a: 15, b: 0, c: 0}
    assert ops.partition_lags({a: 3}, {}) == {a: 0}  # end unknown: no invented lag


async def test_http_metrics_label_the_route_template_and_status_class() -> None:
    app = FastAPI()

    @app.get("/clients/{client_id}/posts")
    async def posts(client_id: str) -> dict[str, str]:
        if client_id == "boom":
            raise RuntimeError("boom")
        return {"client_id": client_id}

    app.add_middleware(ops.HttpMetrics, service="unit")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for cid in ("c1", "c2", "c3"):
            assert (await http.get(f"/clients/{cid}/posts")).status_code == 200
        assert (await http.get("/clients/boom/posts")).status_code == 500
        assert (await http.get("/nowhere")).status_code == 404

    def count(route: str, status: str) -> float:
        return HTTP_REQUESTS.labels("unit", route, "GET", status)._value.get()

    assert count("/clients/{client_id}/posts", "2xx") == 3
    assert count("/clients/{client_id}/posts", "5xx") == 1
    assert count("unmatched", "4xx") == 1
    routes = {
        s.labels["route"]
        for m in registry.collect()
        if m.name == "socialops_http_requests"
        for s in m.samples
        if s.labels.get("service") == "unit"
    }
    assert not any("c1" in r or "boom" in r for r in routes), routes
