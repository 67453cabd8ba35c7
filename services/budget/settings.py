"""Budget service settings (env prefix BUDGET_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class BudgetSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BUDGET_", extra="ignore", frozen=True)

    service_name: str = "budget"
    port: int = Field(default=8103, ge=1, le=65535)
    underspend_interval_s: float = Field(
        default=60.0, gt=0, description="How often budgets are checked for underspend."
    )
