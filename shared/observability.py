"""Prometheus metrics shared by all services: one registry per process, FastStream's Kafka
middleware on it, and the delivery-outcome counter every subscriber updates.
"""

from __future__ import annotations

from functools import cache

from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# One process runs one service, so the default registry is that service's registry.
registry: CollectorRegistry = REGISTRY

DELIVERY_OUTCOMES = Counter(
    "socialops_messages_total",
    "Consumed messages by outcome (processed, retried, rewound, dead_lettered).",
    ["service", "topic", "outcome"],
    registry=registry,
)
TRANSIENT_FAILURES = Gauge(
    "socialops_delivery_transient_failures",
    "Transient failures in a row on a topic (database or broker unreachable); 0 once a "
    "message is handled. The topic's partitions wait meanwhile: nothing is dead-lettered.",
    ["service", "topic"],
    registry=registry,
)
OUTBOX_PUBLISHED = Counter(
    "socialops_outbox_published_total",
    "Events relayed from the transactional outbox to Kafka.",
    ["service", "event_type"],
    registry=registry,
)

OUTBOX_PARKED = Counter(
    "socialops_outbox_parked_total",
    "Outbox entries Kafka can never take (e.g. too large), parked aside in `outbox_parked` "
    "so the rest keep flowing. Any increase needs an operator.",
    ["service", "event_type"],
    registry=registry,
)


@cache
def kafka_prometheus(service: str) -> KafkaPrometheusMiddleware:
    """FastStream's consumed/published/processed metrics (one instance per process)."""
    return KafkaPrometheusMiddleware(registry=registry, app_name=service)


def exposition() -> bytes:
    """The text the `/metrics` route serves."""
    return generate_latest(registry)


# --------------------------------------------------------------------------- operations (issue 12)
# Measured by `shared.ops`; label values are bounded (see its docstring for the series budget).
CONSUMER_LAG = Gauge(
    "socialops_kafka_consumer_lag",
    "Messages behind per consumer group, topic and partition: the broker's log end offset minus "
    "the group's committed offset, read from the broker every probe interval.",
    ["service", "group", "topic", "partition"],
    registry=registry,
)
LAG_PROBE_FAILURES = Counter(
    "socialops_ops_probe_failures_total",
    "Lag/outbox probes that failed (broker or database unreachable).",
    ["service"],
    registry=registry,
)
OUTBOX_BACKLOG = Gauge(
    "socialops_outbox_backlog",
    "Outbox entries staged but not yet relayed to Kafka.",
    ["service"],
    registry=registry,
)
OUTBOX_OLDEST_AGE = Gauge(
    "socialops_outbox_oldest_age_seconds",
    "Age of the oldest outbox entry not yet relayed (0 when the outbox is empty).",
    ["service"],
    registry=registry,
)
DEAD_LETTERS = Counter(
    "socialops_dead_letters_total",
    "Messages dead-lettered, by source topic and reason kind (undecodable, schema_invalid, "
    "unknown_schema, unknown_tenant, not_stored, other).",
    ["service", "topic", "reason"],
    registry=registry,
)
HTTP_REQUESTS = Counter(
    "socialops_http_requests_total",
    "HTTP requests by route template, method and status class (2xx..5xx).",
    ["service", "route", "method", "status"],
    registry=registry,
)
HTTP_REQUEST_SECONDS = Histogram(
    "socialops_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["service", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)
