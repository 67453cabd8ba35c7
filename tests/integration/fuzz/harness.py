"""Draw schemathesis cases for every operation of a service's OpenAPI document and send them
through the test's own in-process httpx client (the app runs on the test's event loop, next to
the real broker and database clients, so schemathesis' own ASGI transport cannot drive it).

Hypothesis draws the cases (derandomized: the same cases on every run), then each is sent for
real; an answer >= 500 or an exception raised by the app is a failure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET

# Routes the harnesses leave out, by name: liveness, readiness and scrape endpoints take no
# input and no key (tests/integration/test_ops_prometheus.py and others cover them).
EXCLUDED: frozenset[tuple[str, str]] = frozenset(
    {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
)
# A valid sample file for each route that takes a CSV (documented as text/csv, or read raw and
# so absent from the OpenAPI document): the harness also sends it with its cells replaced by
# generated text and by values past every range, since schemathesis' own strings rarely get
# past a CSV's header. "{client_id}" is the caller's real client.
CSV_SEEDS: dict[tuple[str, str], str] = {
    ("POST", "/imports/csv"): (
        "client_id,platform,account_id,entity_id,observed_at,likes,leads\n"
        "{client_id},instagram,a1,p1,2026-11-02T10:00:00Z,5,1\n"
    ),
    ("POST", "/imports/calendar/{client_id}"): (
        "slot_id,platform,local,timezone,at,kind,pillar,content_type,stage,series,key_date,"
        "status,post_id,caption,media,link\n"
        ",instagram,2027-01-04T09:00,Europe/Berlin,,manual,Recipes,visual,awareness,,,"
        "planned,,Fresh bread,,\n"
    ),
    ("POST", "/budgets/{budget_id}/entries.csv"): (
        "idempotency_key,spent_on,amount,currency,category,description\n"
        "des-1,2026-02-03,300.00,EUR,design,logo\n"
    ),
    ("POST", "/rates.csv"): "date,base,quote,rate\n2026-02-02,USD,EUR,0.9215\n",
    ("POST", "/clients/{client_id}/audit/imports/fanpage-karma"): (
        "Date;Network;Profile;Profile-ID;Post-ID;Type;Message;Reactions;Comments;Shares;Fans\n"
        "2026-10-03 09:15;Instagram;Rival;rival.bakery;ig-1;Picture;Hi;120;8;2;5000\n"
    ),
}
NASTY_CELLS = (
    "", " ", "-1", "0", "1e1000000", "9" * 400, "NaN", "Infinity", "-0", "0.0000000000001",
    "0000-01-01", "9999-12-31T23:59:59Z", "2026-02-30", "10000-01-01", '"', '""', "\x00",
    "\x0e", "=1+1", "a" * 5000, "🥐", "\u202e",
)  # fmt: skip
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def documented_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (METHOD, path template) the app's OpenAPI document lists, exclusions removed."""
    routes = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    return routes - EXCLUDED


@dataclass
class Run:
    """What one fuzz run sent and what went wrong."""

    sent: dict[tuple[str, str], int] = field(default_factory=dict)
    statuses: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    unsendable: int = 0

    def exercised(self) -> set[tuple[str, str]]:
        return {route for route, n in self.sent.items() if n}


def draw(strategy: Any, n: int) -> list[Any]:
    """`n` cases from a strategy, the same ones on every run."""
    drawn: list[Any] = []

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def collect(case: Any) -> None:
        drawn.append(case)

    try:
        collect()
    except Unsatisfiable:  # a negative plan for an operation with nothing left to negate
        return []
    return drawn


def csv_bodies(seed: str) -> Any:
    """The seed file with cells replaced (generated text or values past every range), rows
    repeated or cut, or not UTF-8 at all."""
    header, *rows = seed.strip("\n").split("\n")
    sep = ";" if ";" in header else ","
    cells = [row.split(sep) for row in rows]
    cell = st.sampled_from(NASTY_CELLS) | st.text(max_size=20) | st.just(None)  # None: keep

    @st.composite
    def mutated(draw: Any) -> bytes:
        out = []
        for row in cells * draw(st.integers(1, 3)):
            picks = [draw(cell) for _ in row]
            new = [old if pick is None else pick for old, pick in zip(row, picks, strict=True)]
            out.append(sep.join(new[: draw(st.integers(1, len(new)))] if draw(st.booleans())
                                else new))  # fmt: skip
        return "\n".join([header, *out]).encode("utf-8", "surrogatepass")

    return mutated() | st.binary(max_size=200).map(lambda b: header.encode() + b"\n" + b)


def with_body(http: httpx.AsyncClient, request: httpx.Request, body: bytes) -> httpx.Request:
    """The same request carrying `body` as text/csv."""
    headers = {k: v for k, v in request.headers.items() if k not in ("content-length",)}
    headers["content-type"] = "text/csv"
    return http.build_request(request.method, request.url, headers=headers, content=body)


def to_request(http: httpx.AsyncClient, case: Any) -> httpx.Request:
    """The httpx request a schemathesis case describes (its own serializers pick the body)."""
    kwargs = case.as_transport_kwargs(base_url=str(http.base_url).rstrip("/"))
    headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
    out: dict[str, Any] = {"params": kwargs.get("params"), "cookies": kwargs.get("cookies")}
    if "json" in kwargs:
        out["content"] = json.dumps(kwargs["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif "data" in kwargs:
        data = kwargs["data"]
        out["content" if isinstance(data, (bytes, str)) else "data"] = data
    if "files" in kwargs:
        out["files"] = kwargs["files"]
    return http.build_request(kwargs["method"], kwargs["url"], headers=headers, **out)


def describe(case: Any, raw: bytes | None = None) -> str:
    """The case as a failure message (the API key masked: test output is no place for it)."""
    shown = {k: "***" if k.lower() == "x-api-key" else v for k, v in (case.headers or {}).items()}
    body = "" if case.body is NOT_SET else f" body={case.body!r}"[:600]
    if raw is not None:
        body = f" csv={raw[:600]!r}"
    return f"{case.method} {case.formatted_path} query={case.query!r} headers={shown!r}{body}"


async def fuzz(
    app: FastAPI,
    http: httpx.AsyncClient,
    *,
    api_key: str,
    known_ids: Mapping[str, str],
    examples: int,
    run: Run | None = None,
) -> Run:
    """Send positive and negative cases for every documented operation of `app`.

    Each operation gets `examples` positive and `examples` negative cases with the path ids in
    `known_ids` fixed to real ids of the caller's agency (so a case gets past the 404), and,
    when it takes path ids, negative cases for the ids themselves."""
    run = run or Run()
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, so the real ids still exist for every other route.
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
        route = (operation.method.upper(), operation.path)
        if route in EXCLUDED:
            continue
        run.sent.setdefault(route, 0)
        names = {p.name for p in operation.path_parameters}
        fixed = {k: v for k, v in known_ids.items() if k in names}
        plans: list[tuple[GenerationMode, dict[str, str], int]] = [
            (GenerationMode.POSITIVE, fixed, examples),
            (GenerationMode.NEGATIVE, fixed, examples),
        ]
        if names:
            plans.append((GenerationMode.NEGATIVE, {}, max(2, examples // 3)))
        for mode, path_parameters, n in plans:
            strategy = operation.as_strategy(
                generation_mode=mode,
                headers={"x-api-key": api_key},
                path_parameters=path_parameters or None,
            )
            for case in draw(strategy, n):
                await send(http, case, route, run)
        if route in CSV_SEEDS and len(fixed) == len(names):
            seed = CSV_SEEDS[route].replace("{client_id}", known_ids.get("client_id", ""))
            base = draw(
                operation.as_strategy(headers={"x-api-key": api_key}, path_parameters=fixed),
                1,
            )[0]
            for body in draw(csv_bodies(seed), examples):
                await send(http, base, route, run, body=body)
    return run


async def send(
    http: httpx.AsyncClient,
    case: Any,
    route: tuple[str, str],
    run: Run,
    *,
    body: bytes | None = None,
) -> None:
    """Send one case (with `body` as text/csv instead of its own, when given); record its
    status, or the failure when it is a 5xx or an exception."""
    try:
        request = to_request(http, case)
        if body is not None:
            request = with_body(http, request, body)
    except (UnicodeEncodeError, ValueError, TypeError, httpx.InvalidURL):
        run.unsendable += 1  # no HTTP client could send it either (e.g. a header not latin-1)
        return
    try:
        response = await http.send(request)
    except Exception as exc:  # an exception out of the app is the finding
        run.failures.append(f"{describe(case, body)}\n  -> unhandled {type(exc).__name__}: {exc}")
        run.sent[route] += 1
        return
    run.sent[route] += 1
    run.statuses.setdefault(route, set()).add(response.status_code)
    if response.status_code >= 500:
        run.failures.append(
            f"{describe(case, body)}\n  -> {response.status_code} {response.text[:300]}"
        )


def summary(runs: Iterable[Run]) -> str:
    return "\n".join(
        f"{m} {p}: {n} sent, statuses {sorted(r.statuses.get((m, p), ()))}"
        for r in runs
        for (m, p), n in sorted(r.sent.items())
    )
