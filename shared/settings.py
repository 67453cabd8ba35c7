"""Settings shared by every service; each service subclasses with its own env prefix.

Built in each app factory, never at import. Connection settings use the unprefixed,
conventional names (`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`) so one env serves all services.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.secrets import mask_uri


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOCIALOPS_", extra="ignore", frozen=True)

    service_name: str = "service"
    host: str = "127.0.0.1"
    gc_threshold: int = Field(
        default=50_000,
        ge=700,
        description="Allocations between young-generation garbage collections (Python's "
        "default, 700, makes a consumer holding large caches spend a third of its time in "
        "the collector).",
    )
    port: int = Field(default=8100, ge=1, le=65535)
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    mongodb_uri: str = Field(
        default="mongodb://127.0.0.1:27817/?directConnection=true",
        validation_alias=AliasChoices("MONGODB_URI", "mongodb_uri"),
    )
    database: str = Field(default="", description="Defaults to socialops_<service>.")
    tenancy_database: str = Field(
        default="socialops_tenancy",
        validation_alias=AliasChoices("SOCIALOPS_TENANCY_DATABASE", "tenancy_database"),
    )
    topic_prefix: str = Field(
        default="", validation_alias=AliasChoices("SOCIALOPS_TOPIC_PREFIX", "topic_prefix")
    )
    topic_partitions: int = Field(
        default=4,
        ge=1,
        validation_alias=AliasChoices("SOCIALOPS_TOPIC_PARTITIONS", "topic_partitions"),
    )
    topic_replication: int = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("SOCIALOPS_TOPIC_REPLICATION", "topic_replication"),
    )
    retry_attempts: int = Field(default=5, ge=1, le=20)
    retry_base_delay_s: float = Field(default=0.2, gt=0)
    retry_max_delay_s: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest request body (JSON routes); past it 413.",
    )
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest request body of an upload route (/imports/...); past it 413.",
    )
    max_in_flight_requests: int = Field(
        default=256,
        ge=1,
        description="Requests handled at once by one process (health checks aside); past it "
        "503 with Retry-After.",
    )
    rate_limit_per_s: float = Field(
        default=100.0,
        gt=0,
        description="Requests per second per agency (token bucket refill); past it 429.",
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, description="Requests an agency may send at once (bucket size)."
    )
    auth_cache_size: int = Field(
        default=10_000,
        ge=1,
        description="API-key lookups cached per process (found and not found kept apart).",
    )
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("SOCIALOPS_LOG_LEVEL", "log_level")
    )

    @property
    def database_name(self) -> str:
        return self.database or f"socialops_{self.service_name}"

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """repr()/str() mask the database password: settings end up in logs and tracebacks."""
        for name, value in super().__repr_args__():
            yield name, mask_uri(value) if name == "mongodb_uri" else value
