"""Outgoing webhook settings (env prefix CALENDAR_WEBHOOK_), kept apart from the calendar's so
the capability reads on its own."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALENDAR_WEBHOOK_", extra="ignore", frozen=True)

    allow_http_localhost: bool = Field(
        default=True,
        description="Accept http:// URLs on localhost/127.0.0.1/::1 (development); every other "
        "URL must be https. Turn off in production.",
    )
    max_attempts: int = Field(default=8, ge=1, le=20, description="Attempts per delivery.")
    base_delay_s: float = Field(default=10.0, gt=0, description="Backoff before attempt 2.")
    max_delay_s: float = Field(default=3600.0, gt=0, description="Backoff cap (and Retry-After's).")
    disable_after: int = Field(
        default=20, ge=1, description="Failed attempts in a row that disable a subscription."
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Per request.")
    concurrency: int = Field(default=16, ge=1, le=256, description="Requests in flight.")
    poll_interval_s: float = Field(default=1.0, gt=0, description="Idle worker's look for work.")
    lease_s: float = Field(
        default=60.0, gt=0, description="A claimed delivery is claimed again after this long if "
        "its sender died (so it must exceed timeout_s)."
    )  # fmt: skip
    subscription_cache_s: float = Field(
        default=5.0, ge=0, description="How long a process caches a tenant's active "
        "subscriptions (a new one elsewhere receives events from this long after it is made)."
    )  # fmt: skip
    rotation_overlap_s: int = Field(
        default=24 * 3600, ge=0, description="After a rotation, the old secret signs too this long."
    )
