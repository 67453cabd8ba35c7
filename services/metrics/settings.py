"""Metrics service settings (env prefix METRICS_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEFAULT_MAX_OPEN_GOALS_PER_CLIENT = 200


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore", frozen=True)

    service_name: str = "metrics"
    port: int = Field(default=8102, ge=1, le=65535)
    batch_max_records: int = Field(default=10000, ge=1, le=20000)
    ingest_latency_budget_ms: int = Field(
        default=100,
        ge=10,
        le=60_000,
        description="Publish -> stored time the ingestion aims for: while a consumed batch can "
        "be stored within it, it is cut into chunks small enough to be written as soon as they "
        "arrived (from the measured preparation and write costs); a larger backlog gets larger "
        "chunks, for throughput.",
    )
    max_open_goals_per_client: int = Field(
        default=DEFAULT_MAX_OPEN_GOALS_PER_CLIENT,
        ge=1,
        le=10_000,
        description="Open (not yet achieved or missed) goals a client may have; POST /goals "
        "past it answers 409.",
    )
