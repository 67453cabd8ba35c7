"""Calendar service settings (env prefix CALENDAR_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CalendarSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALENDAR_", extra="ignore", frozen=True)

    service_name: str = "calendar"
    port: int = Field(default=8101, ge=1, le=65535)

    # ------------------------------------------------------------------ publishing (issue 9)
    publish_enabled: bool = Field(
        default=True, description="Run the dispatcher in this process (due posts go out)."
    )
    publish_owner: str = Field(
        default="", description="This dispatcher's name in leases (default: host-pid-random)."
    )
    publish_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a claim holds; a dead process's posts are taken over after it.",
    )
    publish_idle_poll_s: float = Field(
        default=0.2, gt=0, description="Longest sleep between two looks for due posts."
    )
    publish_window_s: float = Field(
        default=2.0,
        gt=0,
        description="Claim about this many seconds of work at the measured publish rate.",
    )
    publish_max_batch: int = Field(default=2000, ge=1, description="Most posts in one claim.")
    publish_concurrency: int = Field(
        default=64, ge=1, description="Publications in flight at once in this process."
    )
    publish_per_account_concurrency: int = Field(
        default=4, ge=1, description="In flight at once per account (client and platform)."
    )
    publish_timeout_s: float = Field(default=15.0, gt=0, description="One attempt's timeout.")
    publish_max_attempts: int = Field(default=8, ge=1, le=100)
    publish_backoff_base_s: float = Field(default=1.0, gt=0)
    publish_backoff_max_s: float = Field(default=300.0, gt=0)
    publish_overdue_grace_s: float = Field(
        default=300.0,
        gt=0,
        description="A post still not published this long after its due instant is overdue.",
    )
    publish_sandbox_url: str = Field(
        default="",
        description="Sandbox platform base URL: posts without a target go there (local stack).",
    )
    publish_sandbox_token: str = Field(default="sandbox-token")
