"""`make demo`: start the local platform, run an agency's day through it, print what happened,
and stop everything it started.

The agency has two clients. Posts are scheduled through the calendar API (some paid, on a
budget), an analytics pipeline pushes a burst of observations with ad spend onto Kafka, and
the services do the rest: metrics stores them, budget books the spend and publishes threshold
crossings, calendar pauses paid posts of an exhausted budget, audit summarizes. Each client
then gets a strategy, and next month's calendar is generated from it and shown.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deploy.local import stack
from shared import auth, mongo, topics
from shared.auth import AgencyDirectory
from shared.events import AnalyticsObserved
from shared.settings import ServiceSettings

console = Console(width=None if sys.stdout.isatty() else 120)
OBSERVATIONS = int(os.environ.get("DEMO_OBSERVATIONS", "5000"))
PLATFORMS = ("instagram", "facebook", "linkedin", "tiktok")
CLIENTS = [
    {
        "name": "Tasty Bakery",
        "timezone": "Europe/Berlin",
        "budget": "250.00",
        "holidays": {"country": "DE", "subdivision": "BE"},
    },
    {
        "name": "Northwind Outdoor",
        "timezone": "America/New_York",
        "budget": "5000.00",
        "holidays": {"country": "US", "subdivision": "NY"},
    },
]


class DemoError(RuntimeError):
    pass


async def _wait(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.25)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")


def _observation(
    tenant_id: str, client_id: str, post: dict[str, Any], i: int, rng: random.Random
) -> AnalyticsObserved:
    impressions = rng.randint(200, 5000)
    paid = post["paid"]
    return AnalyticsObserved.new(
        producer="demo.pipeline",
        tenant_id=tenant_id,
        client_id=client_id,
        platform=post["platform"],
        account_id=f"{post['platform']}-{client_id}",
        entity_level="ad" if paid else "post",
        entity_id=f"{post['post_id']}-hour-{i}",
        post_id=post["post_id"],
        content_type=post["content_type"],
        window="hour",
        cumulative=False,
        observed_at=datetime.now(UTC) - timedelta(minutes=rng.randint(1, 600)),
        source={"api": f"{post['platform']}_api", "kind": "poll"},
        metrics=[
            {"name": "impressions", "value": impressions},
            {"name": "reach", "value": int(impressions * 0.7)},
            {"name": "likes", "value": rng.randint(0, impressions // 20)},
            {"name": "comments", "value": rng.randint(0, impressions // 200)},
            {"name": "shares", "value": rng.randint(0, impressions // 300)},
            {"name": "clicks", "value": rng.randint(0, impressions // 50)},
        ],
        spend={"amount": str(Decimal(rng.randint(5, 60)) / 100), "currency": "EUR"}
        if paid
        else None,
        leads=rng.randint(0, 2) if paid else None,
    )


async def run(profile: stack.Profile) -> dict[str, Any]:
    base = {svc: f"http://127.0.0.1:{port}" for svc, port in profile.service_ports.items()}
    settings = ServiceSettings(service_name="demo", mongodb_uri=profile.mongodb_uri)
    db_client = mongo.connect(profile.mongodb_uri, app_name="demo")
    directory = AgencyDirectory(db_client[settings.tenancy_database])
    await mongo.ensure_indexes(directory.db, auth.INDEXES)
    agency, key = await directory.create_agency(f"Demo Agency {datetime.now(UTC):%H%M%S}")
    await db_client.close()
    headers = {"X-API-Key": key}
    rng = random.Random(42)
    report: dict[str, Any] = {"agency": agency.name, "tenant_id": agency.tenant_id, "clients": []}

    async with httpx.AsyncClient(timeout=15) as http:

        async def call(method: str, url: str, **kw: Any) -> Any:
            r = await http.request(method, url, headers=headers, **kw)
            if r.status_code >= 400:
                raise DemoError(f"{method} {url} -> {r.status_code}: {r.text}")
            return r.json()

        posts: list[tuple[str, dict[str, Any]]] = []
        console.rule("[bold]1. Agency, clients, budgets, posts")
        for spec in CLIENTS:
            client = await call("POST", f"{base['calendar']}/clients",
                                json={"name": spec["name"], "timezone": spec["timezone"]})  # fmt: skip
            budget_body = {
                "client_id": client["client_id"], "name": f"{spec['name']} paid social",
                "limit": {"amount": spec["budget"], "currency": "EUR"},
                "period_start": f"{datetime.now(UTC).year}-01-01",
                "period_end": f"{datetime.now(UTC).year}-12-31",
                "thresholds_pct": [50, 80, 100],
            }  # fmt: skip

            async def create_budget(body: dict[str, Any] = budget_body) -> Any:
                # the budget service learns the client from ClientRegistered a moment later
                r = await http.post(f"{base['budget']}/budgets", json=body, headers=headers)
                if r.status_code == 404:
                    return None
                if r.status_code >= 400:
                    raise DemoError(f"POST /budgets -> {r.status_code}: {r.text}")
                return r.json()

            budget = await _wait("the budget service to know the client", create_budget)
            start = datetime.now(UTC).date() + timedelta(days=1)
            for day in range(6):
                platform = PLATFORMS[day % len(PLATFORMS)]
                paid = day % 2 == 0
                post = await call("POST", f"{base['calendar']}/clients/{client['client_id']}/posts", json={
                    "platform": platform,
                    "scheduled_at": f"{start + timedelta(days=day)}T09:00:00",
                    "content_type": ("video", "carousel", "story")[day % 3],
                    "pillar": ("recipes", "behind the scenes")[day % 2],
                    "paid": paid, "budget_id": budget["budget_id"] if paid else None,
                })  # fmt: skip
                posts.append((client["client_id"], post))
            report["clients"].append({"client": client, "budget_id": budget["budget_id"]})
            console.print(f"  {spec['name']}: client {client['client_id']}, budget "
                          f"{spec['budget']} EUR, 6 posts at 09:00 {spec['timezone']}")  # fmt: skip
        report["posts_scheduled"] = len(posts)

        async def metrics_knows_posts() -> bool:
            text = (await http.get(f"{base['metrics']}/metrics")).text
            return _counter(
                text, "socialops_messages_total", "posts.scheduled", "processed"
            ) >= len(posts)

        await _wait("metrics to consume PostScheduled", metrics_knows_posts)

        console.rule(f"[bold]2. Analytics pipeline: {OBSERVATIONS} observations onto Kafka")
        producer = AIOKafkaProducer(bootstrap_servers=profile.kafka_bootstrap, acks="all",
                                    enable_idempotence=True, linger_ms=5)  # fmt: skip
        await producer.start()
        topic = os.environ.get("SOCIALOPS_TOPIC_PREFIX", "") + topics.ANALYTICS_OBSERVATIONS
        started = time.perf_counter()
        try:
            with _progress() as progress:
                task = progress.add_task("publishing", total=OBSERVATIONS)
                pending = []
                for i in range(OBSERVATIONS):
                    client_id, post = posts[i % len(posts)]
                    event = _observation(agency.tenant_id, client_id, post, i, rng)
                    pending.append(await producer.send(
                        topic, event.model_dump_json().encode(), key=event.partition_key()))  # fmt: skip
                    if len(pending) >= 500:
                        await asyncio.gather(*pending)
                        progress.advance(task, len(pending))
                        pending = []
                await asyncio.gather(*pending)
                progress.advance(task, len(pending))
            # two poison messages, as a broken pipeline would send: they go to the .dlq
            await producer.send_and_wait(topic, b"{not json", key=b"demo")
            bad = _observation(agency.tenant_id, *posts[0], 0, rng).model_dump(mode="json")
            bad["metrics"][0]["value"] = -1
            await producer.send_and_wait(topic, json.dumps(bad).encode(), key=b"demo")
            console.print(f"  + 2 malformed messages (bad JSON, a negative count) -> {topic}.dlq")
        finally:
            await producer.stop()

        counts = {c["client"]["client_id"]: 0 for c in report["clients"]}
        with _progress() as progress:
            task = progress.add_task("stored by metrics", total=OBSERVATIONS)

            async def all_stored() -> bool:
                for cid in counts:
                    counts[cid] = (await call("GET", f"{base['metrics']}/clients/{cid}/observations",
                                              params={"limit": 1}))["stored"]  # fmt: skip
                progress.update(task, completed=sum(counts.values()))
                return sum(counts.values()) >= OBSERVATIONS

            await _wait("metrics to store every observation", all_stored, timeout=180)
        elapsed = time.perf_counter() - started
        report["observations"] = sum(counts.values())
        report["ingest_seconds"] = elapsed

        console.rule("[bold]3. Budgets, paused posts, summaries")

        async def settled() -> bool:
            ok = True
            for entry in report["clients"]:
                b = await call("GET", f"{base['budget']}/budgets/{entry['budget_id']}")
                entry["budget"] = b
                s = await call(
                    "GET", f"{base['audit']}/clients/{entry['client']['client_id']}/summary"
                )
                entry["summary"] = s
                ok = ok and s["observations"] == counts[entry["client"]["client_id"]]
            return ok

        await _wait("budget and audit to catch up", settled)
        for entry in report["clients"]:
            crossed = entry["budget"]["crossed_pct"]
            if 100 in crossed:

                async def paused(entry: dict[str, Any] = entry) -> bool:
                    cid = entry["client"]["client_id"]
                    ps = await call("GET", f"{base['calendar']}/clients/{cid}/posts")
                    entry["posts"] = ps
                    return all(p["status"] == "paused" for p in ps if p["paid"])

                await _wait("calendar to pause paid posts", paused)
            else:
                cid = entry["client"]["client_id"]
                entry["posts"] = await call("GET", f"{base['calendar']}/clients/{cid}/posts")
        console.rule("[bold]4. Strategy per client and a generated month")
        first = (datetime.now(UTC).date().replace(day=1) + timedelta(days=32)).replace(day=1)
        for entry, spec in zip(report["clients"], CLIENTS, strict=True):
            cid = entry["client"]["client_id"]
            strategy = await call("POST", f"{base['calendar']}/clients/{cid}/strategies",
                                  json=_strategy(first, spec["holidays"]))  # fmt: skip
            generated = await call("POST", f"{base['calendar']}/clients/{cid}/calendar/generate",
                                   json={"strategy_id": strategy["strategy_id"],
                                         "start": first.isoformat(),
                                         "end": (first + timedelta(days=31)).replace(day=1).isoformat()})  # fmt: skip
            entry["month"] = await call(
                "GET", f"{base['calendar']}/clients/{cid}/calendar/month?date={first}&limit=500"
            )
            console.print(f"  {spec['name']}: strategy {strategy['strategy_id']}, "
                          f"{generated['created']} slots in {first:%B %Y}")  # fmt: skip
        await _publishing(call, http, base, report, profile)
        await _adherence(call, base, report, first)
        await _audit(call, http, base, report, profile, headers)
        await _budget_review(call, base, report)
        report["metrics_text"] = {
            svc: (await http.get(f"{base[svc]}/metrics")).text for svc in stack.SERVICES
        }
        report["base"] = base
    return report


async def _publishing(
    call: Any, http: httpx.AsyncClient, base: dict[str, str], report: dict[str, Any],
    profile: stack.Profile,
) -> None:  # fmt: skip
    """Publishing (issue 9): posts due now go out to the sandbox platform; an X post over 280
    characters fails at once with the platform's reason."""
    console.rule("[bold]5. Publishing: due posts to the sandbox platform")
    due = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    mine: list[tuple[str, str, str]] = []
    for entry in report["clients"]:
        cid = entry["client"]["client_id"]
        for platform, caption in (
            ("instagram", "Fresh rye, out of the oven at 9"),
            ("linkedin", "We are hiring a baker"),
            ("x", "Our sourdough story, told in full: " + "rye " * 70),
        ):
            post = await call(
                "POST",
                f"{base['calendar']}/clients/{cid}/posts",
                json={"platform": platform, "scheduled_at": due, "caption": caption},
            )
            mine.append((entry["client"]["name"], cid, post["post_id"]))  # fmt: skip

    async def settled() -> list[tuple[str, dict[str, Any]]] | None:
        found = []
        for name, cid, post_id in mine:
            post = await call("GET", f"{base['calendar']}/clients/{cid}/posts/{post_id}")
            if post["status"] not in {"published", "failed"}:
                return None
            found.append((name, post))
        return found

    done = await _wait("the due posts to go out", settled)
    table = Table("client", "platform", "status", "attempts", "platform post id / reason",
                  title=f"Due posts published to the sandbox ({stack.sandbox_url(profile)})")  # fmt: skip
    for name, post in done:
        outcome = post["platform_post_id"] if post["status"] == "published" else post["last_error"]
        status = "published" if post["status"] == "published" else "[red]failed[/]"
        table.add_row(name, post["platform"], status, str(post["attempts"]), outcome)
    console.print(table)
    log = (await http.get(f"{stack.sandbox_url(profile)}/_log")).json()
    console.print(f"  sandbox: {log['created']} posts created, {log['requests']} requests "
                  f"{log['statuses']}; failed posts: GET /clients/{{id}}/posts?status=failed")  # fmt: skip
    report["published"] = sum(1 for _, p in done if p["status"] == "published")


async def _adherence(call: Any, base: dict[str, str], report: dict[str, Any], first: Any) -> None:
    """Plan adherence per client (issue 9 item 7): this week (what publishing sent out) through
    the generated month (planned, nothing published yet)."""
    console.rule("[bold]Plan adherence: planned slots vs published posts")
    today = datetime.now(UTC).date()
    start = today - timedelta(days=today.weekday())
    end = (first + timedelta(days=31)).replace(day=1)
    for entry in report["clients"]:
        cid = entry["client"]["client_id"]
        entry["adherence"] = await call("GET", f"{base['calendar']}/clients/{cid}/adherence",
                                        params={"from": start.isoformat(), "to": end.isoformat()})  # fmt: skip


def print_adherence(report: dict[str, Any]) -> None:
    table = Table("client", "ISO week", "planned", "published", "kept", "adherence", "met",
                  "upcoming",
                  title="Plan adherence (ISO weeks in the client's zone; planned = slots "
                        "already due; kept = min(published, planned) per platform)")  # fmt: skip
    for entry in report["clients"]:
        adherence = entry.get("adherence")
        if adherence is None:
            continue
        for week in adherence["weeks"]:
            met = {True: "yes", False: "[red]no[/]", None: "-"}[week["met"]]
            table.add_row(entry["client"]["name"], week["week"], str(week["planned"]),
                          str(week["published"]), str(week["kept"]), week["adherence"] or "-",
                          met, str(week["upcoming"]))  # fmt: skip
        t = adherence["totals"]
        table.add_row(f"[bold]{entry['client']['name']}[/]", "[bold]total[/]", str(t["planned"]),
                      str(t["published"]), str(t["kept"]), t["adherence"] or "-",
                      f"consistency {t['consistency'] or '-'}", str(t["upcoming"]),
                      end_section=True)  # fmt: skip
    console.print(table)


def _strategy(start: Any, holidays: dict[str, str]) -> dict[str, Any]:
    """A half-year strategy: 3 platforms (TikTok on trial), 4 pillars, a weekly series."""
    return {
        "period": "half_year",
        "start": start.isoformat(),
        "personas": [
            {
                "name": "Busy parent",
                "age_min": 28,
                "age_max": 45,
                "platforms": [{"platform": "instagram", "why": ["inspiration"]}],
            }
        ],
        "platforms": [
            {"platform": "instagram", "frequency": {"per_week": 3, "days": ["MO", "WE", "FR"]}},
            {"platform": "facebook", "frequency": {"per_week": 2, "times": ["10:30"]}},
            {
                "platform": "tiktok",
                "role": "trial",
                "trial_ends": (start + timedelta(days=90)).isoformat(),
                "success": {"metric": "followers", "target": "500"},
                "frequency": {"rrules": ["FREQ=WEEKLY;BYDAY=SA;BYHOUR=11;BYMINUTE=30"]},
            },
        ],
        "pillars": [
            {"name": "Recipes", "share": 40},
            {"name": "Behind the scenes", "share": 30},
            {"name": "Offers", "share": 20},
            {"name": "Community", "share": 10},
        ],
        "content_types": [
            {"name": "visual", "share": 50},
            {"name": "video_how_to", "share": 30},
            {"name": "quiz_poll", "share": 20},
        ],
        "stages": [
            {"stage": "awareness", "share": 50},
            {"stage": "consideration", "share": 30},
            {"stage": "conversion", "share": 20},
        ],
        "series": [
            {
                "name": "#TastyTuesday",
                "platform": "instagram",
                "rrule": "FREQ=WEEKLY;BYDAY=TU",
                "at": "12:00",
                "pillar": "Recipes",
                "content_type": "video_how_to",
            }
        ],
        "holidays": {**holidays, "mode": "themed"},
        "reactive_share": 10,
    }


def _counter(text: str, name: str, *contains: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(c in line for c in contains):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _progress() -> Progress:
    return Progress(
        TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    )  # fmt: skip


def _ratio(num: Decimal, den: Decimal) -> str:
    return f"{num / den:.2%}" if den else "not defined"


def print_summary(report: dict[str, Any]) -> None:
    console.rule("[bold green]SocialOps demo summary")
    console.print(f"agency [bold]{report['agency']}[/] ({report['tenant_id']})")
    console.print(
        f"posts scheduled: [bold]{report['posts_scheduled']}[/]   observations ingested: "
        f"[bold]{report['observations']}[/] in {report['ingest_seconds']:.1f}s "
        f"({report['observations'] / report['ingest_seconds']:.0f}/s end to end)"
    )
    table = Table("client", "platform", "obs", "impressions", "engagements", "eng. rate (impr.)",
                  "clicks", "CTR", title="KPIs so far")  # fmt: skip
    for entry in report["clients"]:
        for p in entry["summary"]["platforms"]:
            m = {k: Decimal(v) for k, v in p["metrics"].items()}
            impressions, clicks = m.get("impressions", Decimal(0)), m.get("clicks", Decimal(0))
            table.add_row(entry["client"]["name"], p["platform"], str(p["observations"]),
                          f"{impressions:,.0f}", f"{Decimal(p['engagements']):,.0f}",
                          _ratio(Decimal(p["engagements"]), impressions), f"{clicks:,.0f}",
                          _ratio(clicks, impressions))  # fmt: skip
    console.print(table)
    budgets = Table("client", "limit", "spent", "thresholds crossed", "paid posts paused",
                    title="Budgets")  # fmt: skip
    for entry in report["clients"]:
        b = entry["budget"]
        paused = sum(1 for p in entry["posts"] if p["status"] == "paused")
        paid = sum(1 for p in entry["posts"] if p["paid"])
        budgets.add_row(entry["client"]["name"], f"{b['limit']['amount']} {b['limit']['currency']}",
                        f"{b['spent']['amount']} {b['spent']['currency']}",
                        ", ".join(f"{t}%" for t in b["crossed_pct"]) or "none",
                        f"{paused} of {paid}")  # fmt: skip
    console.print(budgets)
    for entry in report["clients"]:
        month = Table("local time", "platform", "pillar", "type", "stage", "series / key date",
                      title=f"{entry['client']['name']}: generated month "
                            f"({entry['client']['timezone']})")  # fmt: skip
        for slot in entry["month"]:
            month.add_row(slot["local"].replace("T", " "), slot["platform"],
                          slot["pillar"] or f"[dim]{slot['kind']}[/]", slot["content_type"] or "",
                          slot["stage"] or "", slot["series"] or slot["key_date"] or "")  # fmt: skip
        console.print(month)
    ops = Table("service", "consumed", "dead-lettered", "/docs", "/metrics", title="Services")
    for svc, text in report["metrics_text"].items():
        ops.add_row(svc, f"{_counter(text, 'faststream_received_messages_total'):.0f}",
                    f"{_counter(text, 'socialops_messages_total', 'dead_lettered'):.0f}",
                    f"{report['base'][svc]}/docs", f"{report['base'][svc]}/metrics")  # fmt: skip
    console.print(ops)
    print_adherence(report)
    print_ops_dashboard(report)


# --------------------------------------------------------------------------- ops (issue 12)


def _prometheus_query(base: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
    r.raise_for_status()
    result: list[dict[str, Any]] = r.json()["data"]["result"]
    return result


def print_ops_dashboard(report: dict[str, Any]) -> None:
    """The Ops dashboard's key numbers, from the dashboard's own queries on the stack's
    Prometheus (deploy/dashboards.py; the panel proof test runs every one of them)."""
    from deploy import dashboards  # noqa: PLC0415 - grafana SDK only needed here

    base = f"http://127.0.0.1:{stack.prometheus_port(stack.profile('dev'))}"
    try:
        # the lag probe runs every 10 s and Prometheus scrapes every 2 s: wait for both
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _prometheus_query(
            base, 'socialops_kafka_consumer_lag{service="audit"}'
        ):
            time.sleep(1)
        time.sleep(4)
        rows = [
            ("services up", 'sum(up{job=~"calendar|metrics|budget|audit"})', "{:.0f}"),
            ("consumer lag, all groups", f"sum({dashboards.LAG_BY_GROUP})", "{:.0f} messages"),
            ("dead letters since start", f"sum({dashboards.DEAD_LETTERS_TOTAL})", "{:.0f}"),
            ("ingest p99 (publish to queryable)", dashboards.INGEST_P99, "{:.3f} s"),
            ("HTTP p99, slowest service", f"max({dashboards.HTTP_P99})", "{:.3f} s"),
            ("HTTP 5xx ratio, worst service", f"max({dashboards.HTTP_ERROR_RATIO})", "{:.2%}"),
            ("outbox backlog", "sum(socialops_outbox_backlog)", "{:.0f}"),
        ]
        table = Table("Ops dashboard", "now", "query", title=f"Ops dashboard key numbers ({base})")
        for label, expr, fmt in rows:
            result = _prometheus_query(base, expr)
            value = float(result[0]["value"][1]) if result else float("nan")
            shown = "no data" if math.isnan(value) else fmt.format(value)
            table.add_row(label, shown, f"[dim]{expr}[/]")
        console.print(table)
        lag = Table("group", "lag", title="Consumer lag by group (from the broker)")
        for r in sorted(
            _prometheus_query(base, dashboards.LAG_BY_GROUP), key=lambda r: r["metric"]["group"]
        ):
            lag.add_row(r["metric"]["group"], f"{float(r['value'][1]):.0f}")
        console.print(lag)
    except httpx.HTTPError as e:
        console.print(
            f"[yellow]Ops numbers unavailable: no Prometheus at {base} ({e}); `make install` installs it[/]"
        )


def main() -> int:
    profile = stack.profile("dev")
    already = {name for name, _ in stack.components(profile) if stack.running_pid(profile, name)}
    code = 0
    try:
        console.rule("[bold]SocialOps demo: starting Kafka, the database and four services")
        stack.up(profile)
        print_summary(asyncio.run(run(profile)))
    except (stack.StackError, DemoError, httpx.HTTPError) as e:
        console.print(f"[red]demo failed:[/] {e}")
        console.print(f"logs: {profile.log_dir}")
        code = 1
    finally:
        stopped = [n for n in stack.down(profile) if n not in already] if not already else []
        if already:
            console.print("the platform was already running (make up): left it running")
        else:
            console.print(f"stopped: {', '.join(stopped)}")
    return code


async def _audit(
    call: Any,
    http: httpx.AsyncClient,
    base: dict[str, str],
    report: dict[str, Any],
    profile: stack.Profile,
    headers: dict[str, str],
) -> None:
    """Audit (issue 11): the first client's own accounts against competitors imported from a
    Fanpage Karma export, over this month; writes the HTML report and prints its path."""
    console.rule("[bold]5. Audit against competitors (Fanpage Karma import)")
    cid = report["clients"][0]["client"]["client_id"]
    own = [{"platform": p, "account_id": f"{p}-{cid}", "owned": True, "groups": ["local"]}
           for p in PLATFORMS]  # fmt: skip
    await call("PUT", f"{base['audit']}/clients/{cid}/audit/accounts", json={"accounts": own})
    today = datetime.now(UTC).date()
    rows = ["Date;Network;Profile;Profile-ID;Post-ID;Type;Reactions;Comments;Shares;Fans"]
    rivals = [("Crumb & Co", ("Instagram", "TikTok", "Facebook")),
              ("Daily Loaf", ("Instagram", "Facebook")), ("Oven Works", ("Instagram",))]  # fmt: skip
    for r, (name, networks) in enumerate(rivals):
        for network in networks:
            for n in range(4 + 2 * r):
                day = today - timedelta(days=(n * 3 + r) % max(today.day, 1))
                kind = ("Video", "Picture", "Carousel")[(n + r) % 3]
                rows.append(f"{day} 10:00;{network};{name};{name.lower().replace(' ', '')}-"
                            f"{network.lower()};{name[:3]}{network[:2]}{n};{kind};"
                            f"{40 + 35 * ((n * 7 + r) % 9)};{n + r};{r};{1500 + 900 * r}")  # fmt: skip
    r = await http.post(
        f"{base['audit']}/clients/{cid}/audit/imports/fanpage-karma",
        params={"group": "local"}, content="\n".join(rows).encode(),
        headers={"Content-Type": "text/csv", **headers},
    )  # fmt: skip
    if r.status_code != 202:
        raise DemoError(f"import -> {r.status_code}: {r.text}")
    imported = r.json()
    console.print(f"  imported {imported['posts']} competitor posts, "
                  f"{imported['accounts_added']} competitor accounts added")  # fmt: skip
    period = {"start": today.replace(day=1).isoformat(), "end": today.isoformat()}

    async def folded() -> Any:
        audit = await call("GET", f"{base['audit']}/clients/{cid}/audit", params=period)
        posts = sum(a["posts"] for p in audit["platforms"] for a in p["accounts"] if not a["owned"])
        return audit if posts >= imported["posts"] else None

    audit = await _wait("the audit to fold the imported posts", folded, timeout=120)
    page = await http.get(f"{base['audit']}/clients/{cid}/audit/report", params=period,
                          headers=headers, timeout=60)  # fmt: skip
    if page.status_code != 200:
        raise DemoError(f"report -> {page.status_code}: {page.text[:300]}")
    path = profile.data_dir / "audit-report.html"
    path.write_text(page.text)
    for f in audit["findings"][:5]:
        console.print(f"  {f['kind']}: {f['summary']}", markup=False)
    console.print(f"  audit report: [bold]{path}[/]")
    report["audit_report"] = str(path)


async def _budget_review(call: Any, base: dict[str, str], report: dict[str, Any]) -> None:
    """Budget (issue 10): plan the busiest client's budget by platform, book a USD tool invoice
    at the day's rate, and print the review (plan vs actual, KPIs per channel, suggestions)."""
    console.rule("[bold]Budget: plan by channel, a USD invoice, the review")
    entry = max(report["clients"], key=lambda e: Decimal(e["budget"]["limit"]["amount"]))
    bid = entry["budget"]["budget_id"]
    limit = Decimal(entry["budget"]["limit"]["amount"])
    share = (limit * Decimal("0.8") / len(PLATFORMS)).quantize(Decimal("0.01"))
    allocations = [
        {"category": "paid_ads", "platform": p, "amount": {"amount": str(share), "currency": "EUR"}}
        for p in PLATFORMS
    ] + [{"category": "tools", "amount": {"amount": str(limit - share * len(PLATFORMS)),
                                           "currency": "EUR"}}]  # fmt: skip
    plan = await call("PUT", f"{base['budget']}/budgets/{bid}/plan",
                      json={"limit": entry["budget"]["limit"], "allocations": allocations,
                            "note": "planned by channel"})  # fmt: skip
    today = datetime.now(UTC).date().isoformat()
    await call("POST", f"{base['budget']}/rates",
               json=[{"date": today, "base": "USD", "quote": "EUR", "rate": "0.9215"}])  # fmt: skip
    invoice = await call("POST", f"{base['budget']}/budgets/{bid}/entries", json={
        "idempotency_key": "demo-tool-invoice", "spent_on": today, "category": "tools",
        "amount": {"amount": "49.00", "currency": "USD"}})  # fmt: skip
    console.print(f"  plan version {plan['version']}; tool invoice 49.00 USD -> "
                  f"{invoice['amount']} EUR at {invoice['rate']} ({invoice['rate_date']})")  # fmt: skip
    review = await call("GET", f"{base['budget']}/budgets/{bid}/review?goal=clicks")
    report["budget_review"] = review
    table = Table(title=f"Quarterly review of {bid} ({review['from']}..{review['to']})")
    for col in ("category", "planned", "actual", "variance"):
        table.add_column(col)
    for c in review["categories"]:
        table.add_row(c["category"], c["planned"], c["actual"], c["variance"])
    console.print(table)
    channels = Table(title="Per channel (EUR; null = not defined)")
    for col in ("platform", "spend", "cpc", "cpm", "cost/engagement", "roi"):
        channels.add_column(col)
    for ch in review["channels"]:
        channels.add_row(ch["platform"], ch["spend"], str(ch["cpc"]), str(ch["cpm"]),
                         str(ch["cost_per_engagement"]), str(ch["roi"]))  # fmt: skip
    console.print(channels)
    for s in review["suggestions"]:
        b = s["because"]
        console.print(f"  suggestion: move {s['move']} {s['currency']} from {s['from_platform']} "
                      f"(CPC {b['from_cost']}) to {s['to_platform']} (CPC {b['to_cost']})")  # fmt: skip
    if not review["suggestions"]:
        console.print("  no reallocation suggested (costs equal or shares at their bounds)")


if __name__ == "__main__":
    sys.exit(main())
