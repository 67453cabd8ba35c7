"""Issue 13 item 1: every route of the four services, as listed by their OpenAPI documents,
fuzzed with schemathesis (positive and negative cases) over the real broker and database,
authenticated as a real agency with one real entity of each id a path names: no answer is a
5xx and no exception escapes the app. The run must also reach every documented route (less
the health checks named in `EXCLUDED`), so a new route fails this test until it is covered."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.integration import tenant_scope
from tests.integration.conftest import SERVICES, Platform
from tests.integration.fuzz.agency import real_ids
from tests.integration.fuzz.harness import CSV_SEEDS, EXCLUDED, documented_routes, fuzz, summary

# Cases per operation and generation mode (~110 operations: about 50 s for the four services).
EXAMPLES = int(os.environ.get("SOCIALOPS_FUZZ_EXAMPLES", "20"))  # deeper runs: raise it


@pytest.fixture
def scope_watch() -> Iterator[tenant_scope.TenantScopeWatch]:
    """Before `platform`: the services' database clients are built with the watch on them."""
    yield from tenant_scope.install()


@pytest.mark.parametrize("service", list(SERVICES))
async def test_fuzzed_routes_never_answer_5xx_and_cover_the_openapi(
    scope_watch: tenant_scope.TenantScopeWatch, platform: Platform, service: str
) -> None:
    """...and every database query a request sent was scoped by the caller's tenant."""
    tenant, headers = await platform.new_agency("Fuzz agency")
    scope_watch.arm(tenant)
    ids = await real_ids(platform, tenant, headers)
    app, http = platform.apps[service], platform.http[service]

    t0 = time.monotonic()
    run = await fuzz(app, http, api_key=headers["X-API-Key"], known_ids=ids, examples=EXAMPLES)
    took = time.monotonic() - t0

    assert not run.failures, f"{len(run.failures)} failing cases:\n" + "\n".join(run.failures)
    # Every documented route was exercised: a route the harness cannot reach fails here.
    documented = documented_routes(app)
    assert documented, service
    assert run.exercised() == documented, (documented - run.exercised(), summary([run]))
    # Every query those requests sent named the tenant (tests/integration/tenant_scope.py).
    assert scope_watch.checked > 0
    assert not scope_watch.unscoped, "\n".join(scope_watch.report())
    # ...and named `_id` first when they name it (the database plans by the first field).
    assert not scope_watch.id_not_first, "\n".join(scope_watch.report(scope_watch.id_not_first))
    # The health checks are left out by name only, and only ones that exist.
    assert {p for _, p in EXCLUDED} >= {"/healthz", "/readyz"}
    print(f"{service}: {sum(run.sent.values())} requests in {took:.1f}s\n{summary([run])}")


def test_csv_seeds_and_exclusions_name_documented_routes() -> None:
    """A sample CSV or an exclusion for a route that no longer exists fails (no stack needed:
    the app factories connect nothing until started)."""
    documented: set[tuple[str, str]] = set()
    for factory, settings_cls in SERVICES.values():
        app = factory(settings_cls(database="openapi-only"))
        documented |= documented_routes(app)
        paths = app.openapi()["paths"]
        assert all(p in paths for _, p in EXCLUDED if p != "/metrics"), sorted(paths)
    assert set(CSV_SEEDS) <= documented, set(CSV_SEEDS) - documented


async def test_found_by_the_fuzzer_a_post_outside_the_storable_years_is_a_422(
    platform: Platform,
) -> None:
    """Found by the fuzz run: `POST /clients/{id}/posts` with `scheduled_at` in the year 3702
    (or 0628) raised while building `PostScheduled` (500); a budget id longer than any id, or
    an empty pillar, did the same. Now each is a 422 naming the field."""
    _, headers = await platform.new_agency()
    http = platform.http["calendar"]
    client_id = (await http.post("/clients", json={"name": "C"}, headers=headers)).json()[
        "client_id"
    ]
    bad = [
        ({"scheduled_at": "3702-10-10T07:36:46Z"}, "scheduled_at"),
        ({"scheduled_at": "0628-12-19T11:24:12Z"}, "scheduled_at"),
        ({"scheduled_at": "0001-01-01T00:30:00+05:00"}, "scheduled_at"),
        ({"scheduled_at": "2027-01-01T09:00:00Z", "budget_id": "b" * 200}, "budget_id"),
        ({"scheduled_at": "2027-01-01T09:00:00Z", "pillar": " "}, "pillar"),
    ]
    for extra, field_name in bad:
        body = {"platform": "instagram", **extra}
        r = await http.post(f"/clients/{client_id}/posts", json=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
        [error] = r.json()["detail"]
        assert error["loc"] == ["body", field_name] and error["msg"], error
    ok = {"platform": "instagram", "scheduled_at": "2200-06-01T09:00:00Z"}
    r = await http.post(f"/clients/{client_id}/posts", json=ok, headers=headers)
    assert r.status_code == 201, r.text


async def test_found_by_the_fuzzer_adherence_weeks_in_year_1_are_a_422(platform: Platform) -> None:
    """Found by the fuzz run (CI, 2026-11-29): `GET /clients/{id}/adherence` with `to`
    0001-01-01 (and `as_of` in the year 127) computed the Monday before year 1
    (OverflowError: date value out of range, 500). Now each is a 422 naming the field."""
    _, headers = await platform.new_agency()
    http = platform.http["calendar"]
    client_id = (await http.post("/clients", json={"name": "C"}, headers=headers)).json()[
        "client_id"
    ]
    bad = [
        ({"to": "0001-01-01"}, "to"),
        ({"from": "9999-12-31"}, "from"),
        ({"as_of": "0127-06-24T14:19:12+00:00"}, "as_of"),
    ]
    for query, name in bad:
        r = await http.get(f"/clients/{client_id}/adherence", params=query, headers=headers)
        assert r.status_code == 422, (query, r.text)
        assert [e["loc"] for e in r.json()["detail"]] == [["query", name]], r.text
    ok = {"from": "2026-11-02", "to": "2026-11-30"}
    r = await http.get(f"/clients/{client_id}/adherence", params=ok, headers=headers)
    assert r.status_code == 200, r.text


async def test_found_by_the_fuzzer_a_review_of_quarter_year_0_is_a_422(platform: Platform) -> None:
    """Found by the fuzz run: `GET /budgets/{id}/review?quarter=0000-Q1` raised building
    date(0, 1, 1) (500). Now the quarter is a 422 naming the field unless its year is storable."""
    tenant, headers = await platform.new_agency()
    ids = await real_ids(platform, tenant, headers)
    http = platform.http["budget"]
    for quarter in ("0000-Q1", "9999-Q4"):
        r = await http.get(
            f"/budgets/{ids['budget_id']}/review", params={"quarter": quarter}, headers=headers
        )
        assert r.status_code == 422, (quarter, r.text)
        [error] = r.json()["detail"]
        assert error["loc"] == ["query", "quarter"] and error["msg"], error
    r = await http.get(
        f"/budgets/{ids['budget_id']}/review", params={"quarter": "2026-Q2"}, headers=headers
    )
    assert r.status_code == 200, r.text


async def test_found_by_a_deeper_run_huge_versions_and_year_1_periods_are_422(
    platform: Platform,
) -> None:
    """Found with SOCIALOPS_FUZZ_EXAMPLES=60: a strategy version past 8 bytes reached the
    database (OverflowError, 500) and an audit of 0001-01-01 computed the period before it
    (OverflowError, 500). Now each is a 422 naming the parameter."""
    tenant, headers = await platform.new_agency()
    ids = await real_ids(platform, tenant, headers)
    cal, audit = platform.http["calendar"], platform.http["audit"]
    strategy = f"/clients/{ids['client_id']}/strategies/{ids['strategy_id']}"
    for url, params, loc in [
        (f"{strategy}/versions/{10**30}", {}, ["path", "version"]),
        (f"{strategy}/diff", {"from": 10**21}, ["query", "from"]),
        (
            f"/clients/{ids['client_id']}/audit",
            {"start": "0001-01-01", "end": "0001-01-01"},
            ["query", "start"],
        ),
        (
            f"/clients/{ids['client_id']}/audit/report",
            {"start": "2026-01-01", "end": "9999-12-31"},
            ["query", "end"],
        ),
    ]:
        http = audit if "/audit" in url else cal
        r = await http.get(url, params=params, headers=headers)
        assert r.status_code == 422, (url, params, r.text)
        [error] = r.json()["detail"]
        assert error["loc"] == loc and error["msg"], error
    r = await cal.get(f"{strategy}/versions/1", headers=headers)
    assert r.status_code == 200, r.text


async def test_found_by_a_100_case_run_slot_versions_and_year_1_reschedules_are_422(
    platform: Platform,
) -> None:
    """Found with SOCIALOPS_FUZZ_EXAMPLES=100: PATCH of a slot with a version past 8 bytes
    reached the database (OverflowError, 500); rescheduling a post to 0001-01-05T00:14:03+01:00
    raised building `PostRescheduled` (500). Now each is a 422 naming the field."""
    tenant, headers = await platform.new_agency()
    ids = await real_ids(platform, tenant, headers)
    cal = platform.http["calendar"]
    base = f"/clients/{ids['client_id']}"
    cases = [
        ("PATCH", f"{base}/slots/{ids['slot_id']}", {"version": 10**30}, "version"),
        ("PATCH", f"{base}/posts/{ids['post_id']}", {"version": 10**30}, "version"),
        (
            "POST",
            f"{base}/posts/{ids['post_id']}/reschedule",
            {"version": 1, "scheduled_at": "0001-01-05T00:14:03+01:00"},
            "scheduled_at",
        ),
        (
            "POST",
            f"{base}/posts/{ids['post_id']}/reschedule",
            {"version": 1, "scheduled_at": "0001-01-01T00:00:00+01:00"},
            "scheduled_at",
        ),
    ]
    for method, url, body, field_name in cases:
        r = await cal.request(method, url, json=body, headers=headers)
        assert r.status_code == 422, (url, body, r.text)
        [error] = r.json()["detail"]
        assert error["loc"] == ["body", field_name] and error["msg"], error
    ok = {"version": 1, "scheduled_at": "2027-03-02T09:00:00Z"}
    r = await cal.post(f"{base}/posts/{ids['post_id']}/reschedule", json=ok, headers=headers)
    assert r.status_code == 200, r.text


async def test_found_by_csv_mutation_a_csv_body_that_is_not_utf8_is_a_422(
    platform: Platform,
) -> None:
    """Found by the CSV mutations: POST /rates.csv and /budgets/{id}/entries.csv with bytes
    that are not UTF-8 failed validation, and FastAPI's own handler then raised
    UnicodeDecodeError rendering the input (500). Every service now answers the 422."""
    tenant, headers = await platform.new_agency()
    ids = await real_ids(platform, tenant, headers)
    csv_headers = {**headers, "content-type": "text/csv"}
    for url in ("/rates.csv", f"/budgets/{ids['budget_id']}/entries.csv"):
        body = b"date,base,quote,rate\n\xf2\xc4"
        r = await platform.http["budget"].post(url, content=body, headers=csv_headers)
        assert r.status_code == 422, (url, r.text)
        [error] = r.json()["detail"]
        assert error["loc"] == ["body"] and error["msg"], error


async def test_found_by_csv_mutation_unreadable_csv_files_are_422(platform: Platform) -> None:
    """Found by the CSV mutations (100 cases): a carriage return inside an unquoted cell, or a
    cell past the csv module's field size limit, raised csv.Error (500) in the Fanpage Karma
    import and the budget's CSV routes. Now a carriage return ends a line like a newline and
    an unreadable line is a 422 naming it."""
    tenant, headers = await platform.new_agency()
    ids = await real_ids(platform, tenant, headers)
    csv_headers = {**headers, "content-type": "text/csv"}
    fk = (
        "Date;Network;Profile;Profile-ID;Post-ID;Type;Message;Reactions;Comments;Shares;Fans\n"
        "2026-10-03 09:15;Instagram;Rival;rival;ig-1;Picture;a\rb;1;2;3;50\n"
    )
    r = await platform.http["audit"].post(
        f"/clients/{ids['client_id']}/audit/imports/fanpage-karma", content=fk, headers=csv_headers
    )
    assert r.status_code == 422, r.text
    budget = platform.http["budget"]
    for url, body in [
        ("/rates.csv", "date,base,quote,rate\n2026-02-02,USD,EUR,0.9\r1\n"),
        (f"/budgets/{ids['budget_id']}/entries.csv",
         "idempotency_key,spent_on,amount,currency\nk," + "x" * 200_000 + ",1,EUR\n"),
    ]:  # fmt: skip
        r = await budget.post(url, content=body, headers=csv_headers)
        assert r.status_code == 422, (url, r.text)
    [error] = r.json()["detail"]  # the cell past the limit: the line is named
    assert error["loc"] == ["body", "line 2"] and "not readable as CSV" in error["msg"], error
