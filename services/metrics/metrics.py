"""Metrics-service domain metrics (Prometheus)."""

from prometheus_client import Counter, Histogram

from shared.observability import registry

OBSERVATIONS_INGESTED = Counter(
    "socialops_observations_ingested_total",
    "Observations newly stored.",
    ["tenant", "platform"],
    registry=registry,
)
OBSERVATIONS_DUPLICATE = Counter(
    "socialops_observations_duplicate_total",
    "Observations dropped because they were already stored (replays).",
    registry=registry,
)
BATCH_SIZE = Histogram(
    "socialops_ingest_batch_size",
    "Records per consumed batch.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 20000),
    registry=registry,
)
INGEST_STAGE_SECONDS = Histogram(
    "socialops_ingest_stage_seconds",
    "Time per chunk of a batch in each stage: decode (validate), prepare (dedupe, contributions, "
    "documents) and write (insert + outbox + commit, overlapping the next chunk's decode and "
    "prepare).",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=registry,
)
INGEST_LAG = Histogram(
    "socialops_ingest_lag_seconds",
    "From observed_at to stored.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600, 86400),
    registry=registry,
)
OBSERVATIONS_REJECTED = Counter(
    "socialops_observations_rejected_total",
    "Observations rejected (dead-lettered over Kafka, 4xx over HTTP).",
    ["platform", "reason"],
    registry=registry,
)
PUBLISH_LATENCY = Histogram(
    "socialops_ingest_publish_latency_seconds",
    "From the Kafka record's publish timestamp to its batch being committed (queryable).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30),
    registry=registry,
)
STORE_REFUSED = Counter(
    "socialops_observations_store_refused_total",
    "Observations that passed validation but could not be stored (isolated from their batch "
    "and dead-lettered alone).",
    registry=registry,
)
