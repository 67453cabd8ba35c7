"""Checks docker-compose.yml, the Prometheus scrape config and the Dockerfile by parsing them.

No Docker engine runs here, so these files are proven by reading them as compose would.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCE = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DOCKERFILE = REPO / "Dockerfile"

APP_PORTS = {"calendar": 8101, "metrics": 8102, "budget": 8103, "audit": 8104}
INFRA = ("kafka", "mongo", "prometheus", "grafana")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIAL|PRIVATE_KEY", re.IGNORECASE)
REQUIRED_VAR = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:\?[^}]+\}$")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    loaded: dict[str, Any] = _load(COMPOSE)["services"]
    return loaded


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whether written as a mapping or a list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _argv(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _published(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs from short (`[ip:]host:container`) or long syntax."""
    pairs = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.add((int(port["published"]), int(port["target"])))
        else:
            *_, host, container = str(port).split(":")
            pairs.add((int(host), int(container.split("/")[0])))
    return pairs


def _healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(str(part) for part in test)


def test_all_eight_services_are_defined(services: dict[str, Any]) -> None:
    assert set(services) == set(APP_PORTS) | set(INFRA)


@pytest.mark.parametrize("name", [*APP_PORTS, *INFRA])
def test_every_container_has_a_real_healthcheck(services: dict[str, Any], name: str) -> None:
    healthcheck = services[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck["test"]
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, test
    else:
        assert test.strip()


@pytest.mark.parametrize(("name", "port"), APP_PORTS.items())
def test_app_service_runs_its_module_on_its_port(
    services: dict[str, Any], name: str, port: int
) -> None:
    svc = services[name]
    assert svc["build"] in (".", {"context": "."})
    assert _argv(svc["command"]) == ["python", "-m", f"services.{name}"]
    env = _env(svc)
    assert env[f"{name.upper()}_HOST"] == "0.0.0.0"
    assert env[f"{name.upper()}_PORT"] == str(port)
    assert (port, port) in _published(svc)
    check = _healthcheck_text(svc)
    assert f"127.0.0.1:{port}/readyz" in check and "python" in check
    assert svc["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", APP_PORTS)
def test_app_service_reaches_kafka_and_mongo(services: dict[str, Any], name: str) -> None:
    svc = services[name]
    env = _env(svc)
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["MONGODB_URI"].startswith("mongodb://mongo:27017/")
    assert "replicaSet=rs0" in env["MONGODB_URI"]
    depends = svc["depends_on"]
    assert isinstance(depends, dict), "depends_on must name a condition"
    for dep in ("kafka", "mongo"):
        assert depends[dep]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APP_PORTS)
def test_app_service_has_resource_limits(services: dict[str, Any], name: str) -> None:
    limits = services[name]["deploy"]["resources"]["limits"]
    assert re.fullmatch(r"\d+(\.\d+)?[KMG]i?B?", str(limits["memory"])), limits
    assert float(limits["cpus"]) > 0


def test_kafka_is_a_single_kraft_node(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node_id}@kafka:")
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert f"{controller}:" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key
    assert env["KAFKA_LOG_DIRS"] in _volume_targets(kafka)
    assert "--bootstrap-server localhost:9092" in _healthcheck_text(kafka)


def test_mongo_is_a_one_node_replica_set(services: dict[str, Any]) -> None:
    mongo = services["mongo"]
    assert mongo["image"].startswith("mongo:8")
    argv = _argv(mongo["command"])
    assert argv[argv.index("--replSet") + 1] == "rs0"
    assert "--bind_ip_all" in argv
    check = _healthcheck_text(mongo)
    assert "rs.initiate(" in check
    assert re.search(r"_id:\s*'rs0'", check) and re.search(r"host:\s*'mongo:27017'", check)


def _volume_targets(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source, for short (`src:dst[:mode]`) or long volume syntax."""
    targets = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            targets[volume["target"]] = volume.get("source", "")
        else:
            source, target, *_ = str(volume).split(":")
            targets[target] = source
    return targets


@pytest.mark.parametrize(
    ("name", "data_dir"),
    [
        ("kafka", "/var/lib/kafka/data"),
        ("mongo", "/data/db"),
        ("prometheus", "/prometheus"),
        ("grafana", "/var/lib/grafana"),
    ],
)
def test_stateful_services_keep_data_in_named_volumes(
    services: dict[str, Any], name: str, data_dir: str
) -> None:
    declared = _load(COMPOSE).get("volumes") or {}
    source = _volume_targets(services[name]).get(data_dir)
    assert source in declared, f"{name}:{data_dir} is not a declared named volume ({source!r})"


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_bind_mounts_point_at_files_in_the_repo(services: dict[str, Any], name: str) -> None:
    binds = [s for s in _volume_targets(services[name]).values() if s.startswith(".")]
    assert binds, f"{name} mounts no config from the repo"
    for source in binds:
        assert (REPO / source).exists(), source


def test_grafana_admin_password_is_required_not_written(services: dict[str, Any]) -> None:
    password = _env(services["grafana"])["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", password), password


def test_no_secret_is_written_in_the_compose_file(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        for key, value in _env(svc).items():
            if SECRET_KEY.search(key):
                assert REQUIRED_VAR.fullmatch(value), f"{name}.{key} must be ${{VAR:?message}}"
            assert not re.search(r"://[^/\s:@]+:[^@\s${]+@", value), (
                f"{name}.{key} embeds a password"
            )
    for number, line in enumerate(COMPOSE.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split("#", 1)[0]
        match = re.search(r"(?i)(password|secret|token)[\w-]*\s*[:=]\s*(\S+)", code)
        if match:
            assert re.match(r"\$\{\w+:\?", match.group(2)), f"line {number}: {line.strip()}"


def _scrape_targets() -> dict[str, tuple[str, str]]:
    """target -> (job, metrics path) from the static configs."""
    config = _load(PROMETHEUS)
    found = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                found[target] = (job["job_name"], job.get("metrics_path", "/metrics"))
    return found


@pytest.mark.parametrize(("name", "port"), APP_PORTS.items())
def test_prometheus_scrapes_each_service_on_its_port(name: str, port: int) -> None:
    targets = _scrape_targets()
    assert f"{name}:{port}" in targets, sorted(targets)
    assert targets[f"{name}:{port}"] == (name, "/metrics")


def test_prometheus_config_is_what_compose_mounts(services: dict[str, Any]) -> None:
    mounts = _volume_targets(services["prometheus"])
    flags = _argv(services["prometheus"]["command"])
    config_file = next(f.split("=", 1)[1] for f in flags if f.startswith("--config.file="))
    mount_dir = next(t for t, s in mounts.items() if (REPO / s).resolve() == PROMETHEUS.parent)
    assert config_file == f"{mount_dir}/{PROMETHEUS.name}"


def test_grafana_datasource_points_at_the_compose_prometheus(services: dict[str, Any]) -> None:
    datasources = _load(GRAFANA_DATASOURCE)["datasources"]
    default = [d for d in datasources if d.get("isDefault")]
    assert len(default) == 1 and default[0]["type"] == "prometheus"
    assert default[0]["url"] == "http://prometheus:9090"
    assert (9090, 9090) in _published(services["prometheus"])


def test_dockerfile_builds_a_non_root_image_of_the_project() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert any("pip install --no-cache-dir ." in line for line in instructions)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    exposed = {
        int(p) for line in instructions if line.startswith("EXPOSE ") for p in line.split()[1:]
    }
    assert exposed == set(APP_PORTS.values())
