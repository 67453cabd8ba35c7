"""Grafana dashboards as code (grafana-foundation-sdk): the Ops and the Agency dashboards.

`python -m deploy.dashboards` writes `deploy/grafana/dashboards/*.json` (provisioned by
docker-compose); `--check` exits 1 when the committed JSON differs from what this code builds.
Every panel query is proven against a real Prometheus by tests/integration/test_ops_prometheus.py.
"""

# ruff: noqa: E501 - a PromQL expression reads best on one line
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

OUT = Path(__file__).resolve().parent / "grafana" / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
SERVICES = 'job=~"calendar|metrics|budget|audit"'
TENANT = 'tenant=~"$tenant"'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class PanelSpec:
    title: str
    kind: str  # timeseries | stat | table
    unit: str
    queries: tuple[Query, ...]
    description: str = ""


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[tuple[str, tuple[PanelSpec, ...]], ...]
    # name -> (metric, label): Grafana's label_values(metric, label)
    variables: tuple[tuple[str, str, str], ...]


def ts(title: str, unit: str, *queries: tuple[str, str], description: str = "") -> PanelSpec:
    return PanelSpec(title, "timeseries", unit, tuple(Query(*q) for q in queries), description)


def stat(title: str, unit: str, *queries: tuple[str, str], description: str = "") -> PanelSpec:
    return PanelSpec(title, "stat", unit, tuple(Query(*q) for q in queries), description)


def table(title: str, unit: str, *queries: tuple[str, str], description: str = "") -> PanelSpec:
    return PanelSpec(title, "table", unit, tuple(Query(*q) for q in queries), description)


TENANT_VARIABLE = ("tenant", "socialops_observations_ingested_total", "tenant")

# Queries the alerts and `make demo`'s ops table share with the Ops dashboard.
LAG_BY_GROUP = "sum by (group) (socialops_kafka_consumer_lag)"
# increase() misses a counter's first appearance (a first dead letter would read 0), so the
# panel shows totals since each process started; the alert watches the rate.
DEAD_LETTERS_TOTAL = "sum by (topic, reason) (socialops_dead_letters_total)"
INGEST_P99 = "histogram_quantile(0.99, sum by (le) (rate(socialops_ingest_publish_latency_seconds_bucket[5m])))"
HTTP_P99 = (
    "histogram_quantile(0.99, sum by (service, le) "
    "(rate(socialops_http_request_duration_seconds_bucket[5m])))"
)
HTTP_RATE = "sum by (service) (rate(socialops_http_requests_total[5m]))"
HTTP_ERROR_RATIO = (
    '(sum by (service) (rate(socialops_http_requests_total{status="5xx"}[5m])) '
    "or sum by (service) (rate(socialops_http_requests_total[5m])) * 0) "
    "/ sum by (service) (rate(socialops_http_requests_total[5m]))"
)

OPS = DashboardSpec(
    uid="socialops-ops",
    title="SocialOps / Ops",
    description="Golden signals per service, Kafka lag, dead letters, outbox, process health.",
    variables=(TENANT_VARIABLE,),
    rows=(
        (
            "Golden signals (HTTP)",
            (
                stat("Services up", "none", (f"sum(up{{{SERVICES}}})", "up")),
                ts("Requests per second", "reqps", (HTTP_RATE, "{{service}}")),
                ts("5xx ratio", "percentunit", (HTTP_ERROR_RATIO, "{{service}}")),
                ts("p99 latency", "s", (HTTP_P99, "{{service}}")),
            ),
        ),
        (
            "Kafka",
            (
                ts(
                    "Consumed messages by outcome",
                    "ops",
                    (
                        "sum by (service, outcome) (rate(socialops_messages_total[5m]))",
                        "{{service}} {{outcome}}",
                    ),
                ),
                ts("Consumer lag by group", "short", (LAG_BY_GROUP, "{{group}}")),
                table(
                    "Consumer lag by partition",
                    "short",
                    ("max by (group, topic, partition) (socialops_kafka_consumer_lag)", ""),
                ),
                ts(
                    "Dead letters since process start by topic and reason",
                    "short",
                    (DEAD_LETTERS_TOTAL, "{{topic}} {{reason}}"),
                ),
            ),
        ),
        (
            "Outbox",
            (
                ts(
                    "Outbox backlog",
                    "short",
                    ("max by (service) (socialops_outbox_backlog)", "{{service}}"),
                ),
                ts(
                    "Oldest unsent outbox entry",
                    "s",
                    ("max by (service) (socialops_outbox_oldest_age_seconds)", "{{service}}"),
                ),
                ts(
                    "Outbox relayed per second",
                    "ops",
                    (
                        "sum by (service) (rate(socialops_outbox_published_total[5m]))",
                        "{{service}}",
                    ),
                ),
            ),
        ),
        (
            "Ingestion",
            (
                ts(
                    "Observations ingested per second ($tenant)",
                    "ops",
                    (
                        f"sum by (platform) (rate(socialops_observations_ingested_total{{{TENANT}}}[5m]))",
                        "{{platform}}",
                    ),
                ),
                ts("Ingest p99 (publish to queryable)", "s", (INGEST_P99, "p99")),
            ),
        ),
        (
            "Process",
            (
                ts(
                    "Resident memory",
                    "bytes",
                    (f"process_resident_memory_bytes{{{SERVICES}}}", "{{job}}"),
                ),
                ts(
                    "CPU",
                    "percentunit",
                    (f"rate(process_cpu_seconds_total{{{SERVICES}}}[5m])", "{{job}}"),
                ),
                ts(
                    "GC collections per second",
                    "ops",
                    (
                        f"sum by (job, generation) (rate(python_gc_collections_total{{{SERVICES}}}[5m]))",
                        "{{job}} gen {{generation}}",
                    ),
                ),
            ),
        ),
    ),
)

AGENCY = DashboardSpec(
    uid="socialops-agency",
    title="SocialOps / Agency",
    description="What an agency's clients get: posts, observations, goals, budget burn.",
    variables=(TENANT_VARIABLE,),
    rows=(
        (
            "Posts",
            (
                ts(
                    "Posts scheduled (last hour) by platform",
                    "short",
                    (
                        f"sum by (platform) (increase(socialops_calendar_posts_scheduled_total{{{TENANT}}}[1h]))",
                        "{{platform}}",
                    ),
                ),
                ts(
                    "Publish attempts by outcome (all tenants)",
                    "short",
                    (
                        "sum by (outcome) (increase(socialops_calendar_publish_attempts_total[1h]))",
                        "{{outcome}}",
                    ),
                ),
                ts(
                    "Due to published p99 (all tenants)",
                    "s",
                    (
                        "histogram_quantile(0.99, sum by (le) "
                        "(rate(socialops_calendar_publish_lag_seconds_bucket[5m])))",
                        "p99",
                    ),
                ),
            ),
        ),
        (
            "Observations and goals",
            (
                ts(
                    "Observations ingested (last hour) by platform",
                    "short",
                    (
                        f"sum by (platform) (increase(socialops_observations_ingested_total{{{TENANT}}}[1h]))",
                        "{{platform}}",
                    ),
                ),
                stat(
                    "Goals by state",
                    "none",
                    (f"sum by (state) (socialops_goals{{{TENANT}}})", "{{state}}"),
                ),
            ),
        ),
        (
            "Budget",
            (
                ts(
                    "Spend booked (last hour) by currency",
                    "none",
                    (
                        f"sum by (currency) (increase(socialops_budget_spend_booked_total{{{TENANT}}}[1h]))",
                        "{{currency}}",
                    ),
                ),
                stat(
                    "Budget thresholds crossed (last day)",
                    "none",
                    (
                        f"sum by (bucket) (increase(socialops_budget_thresholds_crossed_total{{{TENANT}}}[1d]))",
                        "{{bucket}}",
                    ),
                ),
            ),
        ),
    ),
)

DASHBOARDS = (OPS, AGENCY)


def _panel(spec: PanelSpec) -> Any:
    builder: Any = {"timeseries": Timeseries, "stat": Stat, "table": Table}[spec.kind]()
    panel = builder.title(spec.title).datasource(DATASOURCE).unit(spec.unit).height(8).span(8)
    if spec.description:
        panel = panel.description(spec.description)
    for i, q in enumerate(spec.queries):
        query = Dataquery().expr(q.expr).ref_id(chr(ord("A") + i))
        if q.legend:
            query = query.legend_format(q.legend)
        if spec.kind == "table":
            query = query.instant()
        panel = panel.with_target(query)
    return panel


def build(spec: DashboardSpec) -> dict[str, Any]:
    """The dashboard's JSON model, as Grafana stores it."""
    board = (
        Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(["socialops"])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
    )
    for name, metric, label in spec.variables:
        board = board.with_variable(
            QueryVariable(name)
            .label(name.capitalize())
            .datasource(DATASOURCE)
            .query(f"label_values({metric}, {label})")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .include_all(True)
            .all_value(".*")
            .multi(True)
        )
    for title, panels in spec.rows:
        board = board.with_row(Row(title))
        for panel in panels:
            board = board.with_panel(_panel(panel))
    result: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return result


def render(spec: DashboardSpec) -> str:
    return json.dumps(build(spec), indent=2, sort_keys=True) + "\n"


def panel_queries() -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) of every panel query."""
    for spec in DASHBOARDS:
        for _, panels in spec.rows:
            for panel in panels:
                for q in panel.queries:
                    yield spec.uid, panel.title, q.expr


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for spec in DASHBOARDS:
        path = OUT / f"{spec.uid.removeprefix('socialops-')}.json"
        text = render(spec)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(
            "dashboards differ from deploy/dashboards.py; run `make dashboards`: "
            + ", ".join(stale)
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
