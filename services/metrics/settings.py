"""Metrics service settings (env prefix METRICS_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore", frozen=True)

    service_name: str = "metrics"
    port: int = Field(default=8102, ge=1, le=65535)
    batch_max_records: int = Field(default=10000, ge=1, le=20000)
