"""Plan adherence settings (env prefix CALENDAR_ADHERENCE_)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AdherenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALENDAR_ADHERENCE_", extra="ignore", frozen=True)

    threshold: Decimal = Field(
        default=Decimal("0.8"), ge=0, le=1, description="Default threshold of a client (0..1)."
    )
    window_weeks: int = Field(
        default=4, ge=1, le=26, description="Complete ISO weeks a client is judged on."
    )
    sweep_interval_s: float = Field(
        default=3600.0, gt=0, description="How often every client is evaluated again (a week "
        "that ends short of its plan is only seen by time passing)."
    )  # fmt: skip
    enabled: bool = Field(default=True, description="Run the periodic evaluation here.")
