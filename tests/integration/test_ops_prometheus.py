"""Every dashboard panel proven on a real Prometheus (issue 12 item 3).

Starts its own stack (Kafka, the database, the four services, the sandbox platform) on ports
of its own, a real Prometheus (Debian's package) scraping the services every second with the
project's alert rules loaded, runs the demo's traffic (clients, posts, observations with two
poison messages, budgets, publishing), then evaluates every panel's and every variable's
query through Prometheus' HTTP API: each must return data. Also checks the series budget per
service and that the lag gauge agrees with the broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from deploy import dashboards
from deploy.local import demo, stack
from shared import mongo, ops
from shared.auth import AgencyDirectory
from shared.observability import CONSUMER_LAG, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, registry
from shared.settings import ServiceSettings
from tests.integration.test_ops_lag import committed_behind

pytestmark = pytest.mark.integration

# Ports apart from the dev (19092/27817/81xx), test (29092/27818) and bench (49092/47818) stacks,
# and below the ephemeral range (32768+), where an outgoing connection could already hold them.
KAFKA_PORT = 31092
MONGO_PORT = 31818
PROM_PORT = 31090
SERVICE_PORTS = {svc: 31101 + i for i, svc in enumerate(stack.SERVICES)}
SERIES_BUDGET_PER_SERVICE = 3000  # after the demo's traffic, one tenant; see shared/ops.py
PROM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def query(expr: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"query": expr})
    body = _get(f"http://127.0.0.1:{PROM_PORT}/api/v1/query?{q}")
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for(what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:  # Prometheus not listening yet
            value = None
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def prometheus_config(rules: Path) -> str:
    jobs = "\n".join(
        f"""  - job_name: {svc}
    static_configs:
      - targets: ["127.0.0.1:{port}"]"""
        for svc, port in SERVICE_PORTS.items()
    )
    return f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
scrape_configs:
{jobs}
"""


@pytest.fixture(scope="module")
def ops_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.Profile]:
    home = Path(os.environ.get("SOCIALOPS_HOME", stack.REPO / ".local")) / "ops-proof"
    profile = stack.Profile(
        "ops-proof", home, kafka_port=KAFKA_PORT, mongo_port=MONGO_PORT, service_ports=SERVICE_PORTS
    )
    stack.down(profile)  # leftovers of an interrupted run
    shutil.rmtree(home / "data", ignore_errors=True)
    try:
        stack.up(profile)
        yield profile
    finally:
        stack.down(profile)


@pytest.fixture(scope="module")
def prometheus(ops_stack: stack.Profile, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus missing: `make install` installs Debian's prometheus package"
    work = tmp_path_factory.mktemp("prometheus")
    config = work / "prometheus.yml"
    config.write_text(prometheus_config(PROM_DIR / "rules" / "socialops.yml"))
    log = open(work / "prometheus.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{PROM_PORT}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(
            "every service scraped",
            lambda: len([r for r in query("up == 1")]) == len(SERVICE_PORTS),
        )
        yield f"http://127.0.0.1:{PROM_PORT}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def traffic(ops_stack: stack.Profile, prometheus: str) -> dict[str, Any]:
    report: dict[str, Any] = asyncio.run(demo.run(ops_stack))
    asyncio.run(set_a_goal(ops_stack, report))
    # the probe refreshes lag and outbox gauges every 10 s; Prometheus scrapes every second
    wait_for("dead letters counted", lambda: query("socialops_dead_letters_total"))
    wait_for("consumer lag gauged", lambda: query("socialops_kafka_consumer_lag"))
    wait_for("the goal gauged", lambda: query(f'socialops_goals{{tenant="{report["tenant_id"]}"}}'))
    time.sleep(3)  # a few more scrapes after the last traffic, so rates span it
    return report


async def set_a_goal(profile: stack.Profile, report: dict[str, Any]) -> None:
    """The demo sets no goal; the Agency dashboard shows goals by state, so set one."""
    client = mongo.connect(profile.mongodb_uri, app_name="ops-proof")
    directory = AgencyDirectory(client[ServiceSettings(service_name="ops").tenancy_database])
    key = await directory.issue_key(report["tenant_id"])
    await client.close()
    now = datetime.now(UTC)
    body = {
        "client_id": report["clients"][0]["client"]["client_id"],
        "name": "Instagram followers from 1,000 to 1,100",
        "metric": "followers",
        "platform": "instagram",
        "baseline": "1000",
        "target_value": "1100",
        "start": (now - timedelta(days=2)).isoformat(),
        "deadline": (now + timedelta(days=3)).isoformat(),
    }
    async with httpx.AsyncClient(timeout=15) as http:
        r = await http.post(
            f"http://127.0.0.1:{SERVICE_PORTS['metrics']}/goals",
            json=body,
            headers={"X-API-Key": key},
        )
    assert r.status_code == 201, r.text


def substitute(expr: str, tenant: str) -> str:
    return expr.replace("$tenant", tenant)


def test_every_panel_query_returns_data(traffic: dict[str, Any]) -> None:
    tenant = traffic["tenant_id"]
    empty = []
    checked = 0
    for uid, title, expr in dashboards.panel_queries():
        result = query(substitute(expr, tenant))
        checked += 1
        if not result:
            empty.append(f"{uid} / {title}: {expr}")
    assert checked >= 20
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_every_variable_query_returns_the_demo_tenant(traffic: dict[str, Any]) -> None:
    for spec in dashboards.DASHBOARDS:
        for name, metric, label in spec.variables:
            q = urllib.parse.urlencode({"match[]": metric})
            values = _get(f"{prometheus_url()}/api/v1/label/{label}/values?{q}")["data"]
            assert traffic["tenant_id"] in values, (spec.uid, name, values)


def prometheus_url() -> str:
    return f"http://127.0.0.1:{PROM_PORT}"


def test_key_numbers_are_real(traffic: dict[str, Any]) -> None:
    """The numbers the Ops dashboard leads with: services up, dead letters from the demo's two
    poison messages, a finite ingest p99, lag gauged for every service's groups."""
    assert float(query('sum(up{job=~"calendar|metrics|budget|audit"})')[0]["value"][1]) == 4
    dead = query("sum by (reason) (socialops_dead_letters_total)")
    reasons = {r["metric"]["reason"]: float(r["value"][1]) for r in dead}
    assert reasons.get("undecodable", 0) >= 1, reasons
    assert reasons.get("schema_invalid", 0) >= 1, reasons
    p99 = float(query(dashboards.INGEST_P99)[0]["value"][1])
    assert 0 < p99 < 60, p99
    groups = {r["metric"]["service"] for r in query("socialops_kafka_consumer_lag")}
    assert {"metrics", "budget", "audit", "calendar"} <= groups, groups
    assert query("socialops_outbox_backlog")


def test_series_per_service_within_budget(traffic: dict[str, Any]) -> None:
    counts = {
        r["metric"]["job"]: float(r["value"][1])
        for r in query('count by (job) ({job=~"calendar|metrics|budget|audit"})')
    }
    assert set(counts) == set(SERVICE_PORTS), counts
    print(f"series per service after the demo's traffic: {counts}")
    over = {job: n for job, n in counts.items() if n > SERIES_BUDGET_PER_SERVICE}
    assert not over, f"series over the budget of {SERIES_BUDGET_PER_SERVICE}: {over}"
    # no label names a client or a post
    labels = _get(f"{prometheus_url()}/api/v1/labels")["data"]
    assert not {"client_id", "client", "post_id", "post"} & set(labels), labels


def test_alert_rules_load_and_evaluate(traffic: dict[str, Any]) -> None:
    groups = _get(f"{prometheus_url()}/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) == 7
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


def test_demo_ends_with_the_ops_key_numbers(
    traffic: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo`'s last table, from the dashboard's own queries on this Prometheus."""
    monkeypatch.setenv("PROMETHEUS_PORT", str(PROM_PORT))
    with demo.console.capture() as captured:
        demo.print_ops_dashboard(traffic)
    out = captured.get()
    print(out)
    for row in (
        "services up",
        "consumer lag",
        "dead letters since start",
        "ingest p99",
        "HTTP p99",
    ):
        assert row in out, out
    dead = next(line for line in out.splitlines() if "dead letters since start" in line)
    assert "│ 0 " not in dead, dead  # the demo's two poison messages
    assert "no data" not in out, out
    assert "unavailable" not in out, out


async def test_probe_gauges_lag_and_outbox_backlog(ops_stack: stack.Profile) -> None:
    """The probe publishes lag as gauges labelled by service, group, topic and partition, and
    the outbox backlog (entries with no sent_at) and the age of its oldest entry."""
    topic, group = f"ops-probe-{uuid.uuid4().hex[:8]}", f"ops-probe-group-{uuid.uuid4().hex[:8]}"
    await committed_behind(
        ops_stack.kafka_bootstrap, topic, group, produced=(15, 15), committed=(5, 15)
    )
    db: AsyncMongoClient = AsyncMongoClient(ops_stack.mongodb_uri)  # type: ignore[type-arg]
    outbox = db[f"ops_lag_{uuid.uuid4().hex[:8]}"]["outbox"]
    now = datetime.now(UTC)
    await outbox.insert_many([
        {"_id": "a", "seq": f"{now - timedelta(seconds=90)}#0", "sent_at": None,
         "created_at": now - timedelta(seconds=90)},
        {"_id": "b", "seq": f"{now}#0", "sent_at": None, "created_at": now},
        {"_id": "c", "seq": f"{now - timedelta(hours=1)}#0", "sent_at": now,
         "created_at": now - timedelta(hours=1)},
    ])  # fmt: skip
    probe = ops.OpsProbe(
        service="opsunit", bootstrap=ops_stack.kafka_bootstrap, groups={group}, outbox=outbox
    )
    await probe.probe()
    await db.drop_database(outbox.database.name)
    await db.close()
    assert CONSUMER_LAG.labels("opsunit", group, topic, "0")._value.get() == 10
    assert CONSUMER_LAG.labels("opsunit", group, topic, "1")._value.get() == 0
    assert OUTBOX_BACKLOG.labels("opsunit")._value.get() == 2  # the sent entry is not backlog
    age = registry.get_sample_value("socialops_outbox_oldest_age_seconds", {"service": "opsunit"})
    assert age is not None and 89 <= age < 150, age
    assert OUTBOX_OLDEST_AGE.labels("opsunit")._value.get() == age
