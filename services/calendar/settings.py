"""Calendar service settings (env prefix CALENDAR_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CalendarSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALENDAR_", extra="ignore", frozen=True)

    service_name: str = "calendar"
    port: int = Field(default=8101, ge=1, le=65535)
