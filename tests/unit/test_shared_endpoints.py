"""Operator tools find the servers the way the local stack does: explicit addresses first,
then the dev stack's SOCIALOPS_*_PORT / <SERVICE>_PORT overrides."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.local import stack
from services.metrics import cli as metrics_cli
from shared import endpoints

ENV = (
    "KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "SOCIALOPS_KAFKA_PORT", "SOCIALOPS_MONGO_PORT",
    "METRICS_URL", "METRICS_PORT", "CALENDAR_PORT", "BUDGET_PORT", "AUDIT_PORT",
)  # fmt: skip

CASES = [
    {},
    {"SOCIALOPS_MONGO_PORT": "27999"},
    {"SOCIALOPS_KAFKA_PORT": "39092", "SOCIALOPS_MONGO_PORT": "37817"},
    {"MONGODB_URI": "mongodb://u:p@db.internal:27017/?replicaSet=rs0", "SOCIALOPS_MONGO_PORT": "1"},
    {"KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092", "SOCIALOPS_KAFKA_PORT": "1"},
]


def test_defaults_are_the_dev_stack() -> None:
    assert endpoints.kafka_bootstrap({}) == "127.0.0.1:19092"
    assert endpoints.mongodb_uri({}) == "mongodb://127.0.0.1:27817/?directConnection=true"
    assert endpoints.service_url("metrics", {}) == "http://127.0.0.1:8102"


def test_port_overrides_and_explicit_addresses() -> None:
    env = {"SOCIALOPS_MONGO_PORT": "27999", "SOCIALOPS_KAFKA_PORT": "39092"}
    assert endpoints.mongodb_uri(env) == "mongodb://127.0.0.1:27999/?directConnection=true"
    assert endpoints.kafka_bootstrap(env) == "127.0.0.1:39092"
    explicit = {**env, "MONGODB_URI": "mongodb://db:1/", "KAFKA_BOOTSTRAP_SERVERS": "k:1"}
    assert endpoints.mongodb_uri(explicit) == "mongodb://db:1/"
    assert endpoints.kafka_bootstrap(explicit) == "k:1"
    assert endpoints.service_url("metrics", {"METRICS_PORT": "9102"}) == "http://127.0.0.1:9102"
    assert endpoints.service_url("metrics", {"METRICS_URL": "http://m:1", "METRICS_PORT": "2"}) == (
        "http://m:1"
    )


@pytest.mark.parametrize("env", CASES)
def test_same_addresses_as_the_stack_gives_its_services(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dev = stack.profile("dev")
    assert stack.service_env(dev) == {
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap(),
        "MONGODB_URI": endpoints.mongodb_uri(),
    }
    for svc, port in dev.service_ports.items():
        assert endpoints.service_url(svc) == f"http://127.0.0.1:{port}"


def test_service_ports_follow_the_stack_order() -> None:
    assert tuple(endpoints.SERVICE_PORTS) == stack.SERVICES


@pytest.mark.parametrize("bad", ["abc", "0", "70000"])
def test_a_bad_port_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match=f"SOCIALOPS_MONGO_PORT='{bad}'"):
        endpoints.mongodb_uri({"SOCIALOPS_MONGO_PORT": bad})


def test_unreachable_names_server_and_address() -> None:
    e = endpoints.UnreachableError("the database", "mongodb://h:1/", "set X", OSError())
    assert str(e) == "cannot reach the database at mongodb://h:1/ (OSError); set X"


def test_metrics_import_names_the_service_it_cannot_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("METRICS_URL", raising=False)
    monkeypatch.setenv("METRICS_PORT", str(port))
    source = tmp_path / "obs.csv"
    source.write_text("client_id,platform\ncl-1,instagram\n")
    result = CliRunner().invoke(metrics_cli.app, ["import-csv", str(source), "--api-key", "k"])
    assert result.exit_code == 1
    assert f"cannot reach the metrics service at http://127.0.0.1:{port}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
