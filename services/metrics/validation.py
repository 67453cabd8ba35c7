"""Checks an observation must pass beyond its schema (pure): known canonical metrics, and a
Kafka key that agrees with the event's tenant and client."""

from __future__ import annotations

from services.metrics.registry import EVENT_FIELD_METRICS, is_known
from shared.events import AnalyticsObserved


class ObservationRejectedError(ValueError):
    """The observation is well-formed JSON of the right shape but cannot be accepted."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_observation(event: AnalyticsObserved, *, key: bytes | None = None) -> None:
    """Raise ObservationRejectedError naming the field when the observation cannot be stored."""
    for i, m in enumerate(event.metrics):
        if m.name in EVENT_FIELD_METRICS:
            raise ObservationRejectedError(
                f"metrics.{i}.name", f"'{m.name}' goes in the observation's own '{m.name}' field"
            )
        if not is_known(m.name):
            raise ObservationRejectedError(f"metrics.{i}.name", f"unknown metric '{m.name}'")
    names = [m.name for m in event.metrics]
    if len(set(names)) != len(names):
        raise ObservationRejectedError("metrics", "a metric appears twice in one observation")
    if key:
        expected = event.partition_key()
        tenant = key.split(b":", 1)[0]
        if tenant != event.tenant_id.encode():
            raise ObservationRejectedError(
                "tenant_id",
                f"does not match the message key's tenant '{tenant.decode(errors='replace')}'",
            )
        if key != expected and b":" in key:
            raise ObservationRejectedError("client_id", "does not match the message key's client")
