"""Local stack configuration: profile ports and homes, env overrides, the Kafka config file,
and the connection env handed to every service."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from deploy.local import stack
from services.audit.settings import AuditSettings
from services.budget.settings import BudgetSettings
from services.calendar.settings import CalendarSettings
from services.metrics.settings import MetricsSettings

if TYPE_CHECKING:
    from pathlib import Path

OVERRIDES = (
    "SOCIALOPS_HOME", "SOCIALOPS_KAFKA_PORT", "SOCIALOPS_MONGO_PORT",
    "SOCIALOPS_TEST_KAFKA_PORT", "SOCIALOPS_TEST_MONGO_PORT",
    "CALENDAR_PORT", "METRICS_PORT", "BUDGET_PORT", "AUDIT_PORT",
    "KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)


def properties(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "a key is set twice"
    return dict(pairs)


def test_dev_profile_defaults() -> None:
    p = stack.profile("dev")

    assert (p.name, p.kafka_port, p.mongo_port) == ("dev", 19092, 27817)
    assert p.service_ports == {"calendar": 8101, "metrics": 8102, "budget": 8103, "audit": 8104}
    assert p.home == stack.REPO / ".local" / "dev"


def test_dev_service_ports_match_the_services_own_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CALENDAR_", "METRICS_", "BUDGET_", "AUDIT_")):
            monkeypatch.delenv(name)
    defaults = {
        s().service_name: s().port
        for s in (CalendarSettings, MetricsSettings, BudgetSettings, AuditSettings)
    }

    assert stack.profile("dev").service_ports == defaults


def test_test_profile_has_its_own_ports_and_home_and_no_services() -> None:
    p = stack.profile("test")

    assert (p.name, p.kafka_port, p.mongo_port) == ("test", 29092, 27818)
    assert p.home == stack.REPO / ".local" / "test"
    assert p.service_ports == {}


def test_dev_and_test_stacks_never_share_a_port() -> None:
    ports = [
        port
        for p in (stack.profile("dev"), stack.profile("test"))
        for port in (p.kafka_port, p.kafka_port + 1, p.mongo_port, *p.service_ports.values())
    ]  # kafka_port + 1 is the KRaft controller listener

    assert len(ports) == len(set(ports))


def test_env_overrides_home_and_ports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOCIALOPS_HOME", str(tmp_path))
    monkeypatch.setenv("SOCIALOPS_KAFKA_PORT", "39092")
    monkeypatch.setenv("SOCIALOPS_MONGO_PORT", "37017")
    monkeypatch.setenv("METRICS_PORT", "9102")
    monkeypatch.setenv("SOCIALOPS_TEST_KAFKA_PORT", "49092")
    monkeypatch.setenv("SOCIALOPS_TEST_MONGO_PORT", "47017")

    dev, test = stack.profile("dev"), stack.profile("test")

    assert (dev.kafka_port, dev.mongo_port, dev.service_ports["metrics"]) == (39092, 37017, 9102)
    assert dev.service_ports["calendar"] == 8101
    assert (test.kafka_port, test.mongo_port) == (49092, 47017)
    assert (dev.home, test.home) == (tmp_path / "dev", tmp_path / "test")
    assert {dev.run_dir, dev.log_dir, dev.data_dir} == {
        tmp_path / "dev" / "run",
        tmp_path / "dev" / "logs",
        tmp_path / "dev" / "data",
    }


def test_kafka_config_is_a_single_node_kraft_broker_on_the_profile_ports(tmp_path: Path) -> None:
    p = stack.Profile("x", tmp_path, kafka_port=39092, mongo_port=37017)

    conf = properties(stack._kafka_config(p, tmp_path / "kafka"))

    assert conf["process.roles"] == "broker,controller"
    assert conf["listeners"] == "PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093"
    assert conf["advertised.listeners"] == "PLAINTEXT://127.0.0.1:39092"
    assert conf["controller.quorum.bootstrap.servers"] == "127.0.0.1:39093"
    assert conf["controller.listener.names"] == "CONTROLLER"
    assert conf["log.dirs"] == str(tmp_path / "kafka")
    # one broker: every internal topic must be satisfiable with replication 1
    assert {k: v for k, v in conf.items() if k.endswith("replication.factor")} == {
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "share.coordinator.state.topic.replication.factor": "1",
    }


def test_service_env_points_at_the_local_servers_by_default() -> None:
    p = stack.profile("test")

    assert stack.service_env(p) == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
        "MONGODB_URI": "mongodb://127.0.0.1:27818/?directConnection=true",
    }


def test_service_env_honors_external_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017/?replicaSet=rs0")

    assert stack.service_env(stack.profile("dev")) == {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
        "MONGODB_URI": "mongodb://db.example:27017/?replicaSet=rs0",
    }


def test_empty_external_settings_fall_back_to_the_local_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "")
    monkeypatch.setenv("MONGODB_URI", "")

    env = stack.service_env(stack.profile("dev"))

    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert env["MONGODB_URI"].startswith("mongodb://127.0.0.1:27817/")
