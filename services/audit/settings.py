"""Audit service settings (env prefix AUDIT_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore", frozen=True)

    service_name: str = "audit"
    port: int = Field(default=8104, ge=1, le=65535)
