"""Prometheus metrics shared by all services: one registry per process, FastStream's Kafka
middleware on it, and the delivery-outcome counter every subscriber updates.
"""

from __future__ import annotations

from functools import cache

from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest

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
