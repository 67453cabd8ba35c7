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
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
    registry=registry,
)
INGEST_LAG = Histogram(
    "socialops_ingest_lag_seconds",
    "From observed_at to stored.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600, 86400),
    registry=registry,
)
