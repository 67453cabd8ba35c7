"""Service settings: defaults, env names (shared unprefixed connection names, per-service
prefixes), bounds."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from services.audit.settings import AuditSettings
from services.budget.settings import BudgetSettings
from services.calendar.settings import CalendarSettings
from services.metrics.settings import MetricsSettings
from shared.settings import ServiceSettings

SERVICE_SETTINGS = [CalendarSettings, MetricsSettings, BudgetSettings, AuditSettings]
PREFIXES = ("SOCIALOPS_", "CALENDAR_", "METRICS_", "BUDGET_", "AUDIT_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(PREFIXES) or name in {"KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI"}:
            monkeypatch.delenv(name)


def test_database_name_defaults_to_the_service() -> None:
    assert ServiceSettings(service_name="budget").database_name == "socialops_budget"
    assert ServiceSettings(service_name="budget", database="x").database_name == "x"


def test_connection_settings_use_the_conventional_unprefixed_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("MONGODB_URI", "mongodb://db:27017")

    for cls in (ServiceSettings, *SERVICE_SETTINGS):
        settings = cls()
        assert settings.kafka_bootstrap_servers == "kafka:9092"
        assert settings.mongodb_uri == "mongodb://db:27017"


def test_shared_knobs_keep_their_socialops_names_in_every_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCIALOPS_TOPIC_PREFIX", "test-1.")
    monkeypatch.setenv("SOCIALOPS_TOPIC_PARTITIONS", "8")
    monkeypatch.setenv("SOCIALOPS_LOG_LEVEL", "DEBUG")

    settings = CalendarSettings()

    assert (settings.topic_prefix, settings.topic_partitions, settings.log_level) == (
        "test-1.",
        8,
        "DEBUG",
    )


def test_each_service_reads_its_own_prefix_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALENDAR_PORT", "9101")
    monkeypatch.setenv("CALENDAR_RETRY_ATTEMPTS", "7")

    assert (CalendarSettings().port, CalendarSettings().retry_attempts) == (9101, 7)
    assert BudgetSettings().port == 8103
    assert ServiceSettings().retry_attempts == 5


def test_service_defaults_name_and_port() -> None:
    assert [(s().service_name, s().port) for s in SERVICE_SETTINGS] == [
        ("calendar", 8101),
        ("metrics", 8102),
        ("budget", 8103),
        ("audit", 8104),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"port": 0},
        {"port": 65536},
        {"retry_attempts": 0},
        {"retry_attempts": 21},
        {"retry_base_delay_s": 0},
        {"topic_partitions": 0},
    ],
)
def test_out_of_range_values_are_rejected(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        ServiceSettings(**bad)


def test_out_of_range_env_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALOPS_RETRY_ATTEMPTS", "100")
    with pytest.raises(ValidationError, match="retry_attempts"):
        ServiceSettings()


def test_settings_are_immutable() -> None:
    settings = ServiceSettings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("cls", SERVICE_SETTINGS)
def test_service_settings_keep_the_shared_port_bounds(cls: type[ServiceSettings]) -> None:
    with pytest.raises(ValidationError):
        cls(port=70000)
