"""Issue 13 item 2, tenant isolation as a property, generated from the OpenAPI documents: for
every route that takes an id (in its path, a query parameter or a top-level JSON body field
named `*_id`), another agency's real id answers exactly what a non-existent id answers: the
same status and the same body shape, in the same time (the paired median difference over all
probes is within a few milliseconds). Everything else in the requests is the same: the
caller's own real ids for the other path parameters and the same generated query and body. A
route that takes an id the harness has no real entity for fails here until
`tests/integration/fuzz/agency.py` makes one."""

from __future__ import annotations

import secrets
import statistics
import time
from typing import Any

import httpx
import schemathesis
from schemathesis import GenerationMode

from tests.integration.conftest import SERVICES, Platform
from tests.integration.fuzz.agency import real_ids
from tests.integration.fuzz.harness import EXCLUDED, draw, to_request

CASES = 2  # generated requests per route and id (each sent with their id and a missing one)


def is_id(name: str) -> bool:
    """A tenant's id. Not `token` (`GET /feeds/{token}.ics`): a calendar feed's token is its
    own credential, read without an API key (tests/integration/test_calendar_ical.py)."""
    return name.endswith("_id")


# Body fields named `*_id` that name no tenant entity (checked by other tests).
NOT_TENANT_IDS = frozenset({"allocation_id"})  # a line of the budget's own plan, by name


def body_ids(doc: dict[str, Any], method: str, path: str) -> list[str]:
    """Top-level fields of the operation's JSON body that carry an id."""
    item = doc["paths"][path][method.lower()]
    content = item.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return [n for n in schema.get("properties", {}) if is_id(n) and n not in NOT_TENANT_IDS]


def missing_like(real: str) -> str:
    """An id of the same form as `real` that names nothing: same prefix, same length."""
    prefix = real.split("-", 1)[0] + "-" if "-" in real[:6] else ""
    body = secrets.token_hex(len(real))[: len(real) - len(prefix)]
    return prefix + body


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and types, not values (a list: its item shapes)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return ["list", sorted({repr(shape(v)) for v in value})]
    return type(value).__name__


def answer(r: httpx.Response) -> tuple[int, Any]:
    try:
        body: Any = shape(r.json())
    except ValueError:
        body = ("not json", r.headers.get("content-type"), len(r.content) > 0)
    return r.status_code, body


async def test_another_agencys_id_answers_like_a_missing_id_on_every_route(
    platform: Platform,
) -> None:
    owner, owner_headers = await platform.new_agency("Owner")
    caller, caller_headers = await platform.new_agency("Caller")
    theirs = await real_ids(platform, owner, owner_headers)
    mine = await real_ids(platform, caller, caller_headers)
    key = caller_headers["X-API-Key"]

    expected: set[tuple[str, str, str]] = set()
    checked: set[tuple[str, str, str]] = set()
    differences: list[str] = []
    statuses: dict[int, int] = {}
    timings: list[tuple[float, float]] = []  # (theirs, missing) seconds, per probe
    for service in SERVICES:
        app, http = platform.apps[service], platform.http[service]
        doc = app.openapi()
        schema = schemathesis.openapi.from_dict(doc)
        operations = [result.ok() for result in schema.get_all_operations()]
        for op in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
            route = (op.method.upper(), op.path)
            if route in EXCLUDED:
                continue
            in_path = [p.name for p in op.path_parameters if is_id(p.name)]
            in_query = [p.name for p in op.query if is_id(p.name)]
            in_body = body_ids(doc, op.method, op.path)
            for name in in_path + in_query + in_body:
                expected.add((*route, name))
            fixed = {n: mine[n] for n in in_path if n in mine}
            if len(fixed) < len(in_path):
                continue  # no real entity for that id: the coverage check below fails
            # the id parameters of this route, fixed to the caller's own
            query_ids = {n: mine[n] for n in in_query if n in mine}
            strategy = op.as_strategy(
                generation_mode=GenerationMode.POSITIVE,
                headers={"x-api-key": key},
                path_parameters=fixed or None,
                query=query_ids or None,
            )
            for case in draw(strategy, CASES):
                for name in in_path + in_query + in_body:
                    if name not in mine or (name in in_body and not isinstance(case.body, dict)):
                        continue
                    where = {**dict.fromkeys(in_body, "body"), **dict.fromkeys(in_query, "query")}
                    # missing, theirs, missing: a request that changes state (the first one
                    # fills a slot, the next gets 409) still compares with one of its neighbours
                    missing = missing_like(theirs[name])
                    answers = []
                    took: list[float] = []
                    for value in (missing, theirs[name], missing):
                        probe = case.derive(query={**(case.query or {})})
                        getattr(probe, where.get(name, "path_parameters"))[name] = value
                        request = to_request(http, probe)
                        t0 = time.perf_counter()
                        answers.append(answer(await http.send(request)))
                        took.append(time.perf_counter() - t0)
                    if answers[0] == answers[1] == answers[2]:  # same path through the app
                        timings.append((took[1], (took[0] + took[2]) / 2))
                    checked.add((*route, name))
                    statuses[answers[0][0]] = statuses.get(answers[0][0], 0) + 1
                    if answers[1] not in (answers[0], answers[2]):
                        differences.append(
                            f"{route[0]} {route[1]} [{name}]: theirs {answers[1]} "
                            f"!= missing {answers[0]} / {answers[2]}"
                        )

    assert not differences, "\n".join(differences)
    # No timing tell worth measuring: over every probe answered alike, another agency's id
    # takes as long as a missing one (paired, so a slow route or a busy machine cancels out):
    # the median difference stays within a few milliseconds and a quarter of the median time.
    theirs_s = statistics.median(t for t, _ in timings)
    missing_s = statistics.median(m for _, m in timings)
    tell = statistics.median(t - m for t, m in timings)
    assert len(timings) >= 40, len(timings)
    assert abs(tell) <= max(0.003, missing_s / 4), (tell, theirs_s, missing_s)
    # Every route taking an id was probed with each of its ids.
    assert expected and checked == expected, sorted(expected - checked)
    print(f"{len(checked)} (route, id) pairs; answers to a missing id: {statuses}")
    print(
        f"timing over {len(timings)} probes: theirs {theirs_s * 1000:.2f} ms, missing "
        f"{missing_s * 1000:.2f} ms, paired median difference {tell * 1000:+.2f} ms"
    )
