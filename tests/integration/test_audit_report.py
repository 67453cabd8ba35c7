"""The audit report: a self-contained HTML page (no script, nothing fetched) whose every chart
renders in headless Chromium with no console error, on a phone-sized screen; the same content
as JSON. The screenshot is kept in tests/artifacts/audit/ (ignored by git)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import tests.integration.test_audit_competitors as scenario
from services.audit.report.html import charts_count
from shared import topics
from tests.integration.conftest import Platform
from tests.unit.audit.chromium import open_page, screenshot

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "audit"
CHARTS = """JSON.stringify([...document.querySelectorAll('figure.chart')].map(f => {
  const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : null;
  return {title: f.getAttribute('aria-label'), width: box ? box.width : 0,
          height: box ? box.height : 0,
          marks: svg ? svg.querySelectorAll('.mark-rect path, .mark-rect rect').length : 0};
}))"""


def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS.parent / ".gitignore").write_text("*\n")
    return ARTIFACTS


async def test_report_renders_every_chart_without_console_errors(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Bakers")
    client = await scenario.new_client(platform, headers)
    body = {"accounts": [
        {"platform": p, "account_id": a, "name": brand, "owned": owned, "groups": ["local"]}
        for p, a, brand, owned, _, _ in scenario.ACCOUNTS
    ]}  # fmt: skip
    r = await platform.http["audit"].put(
        f"/clients/{client}/audit/accounts", json=body, headers=headers
    )
    assert r.status_code == 200, r.text
    events = scenario.observations(tenant, client)
    for e in events:
        await platform.send(topics.ANALYTICS_OBSERVATIONS, e)
    await scenario.seen(platform, len(events))
    params = {"start": "2026-10-01", "end": "2026-10-31"}
    r = await platform.http["audit"].get(
        f"/clients/{client}/audit/report", params=params, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"<script", html, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html, re.I)  # nothing fetched
    assert charts_count(html) == 7  # engagement rate on each of 6 platforms + share of voice
    page_file = artifacts() / "report.html"
    page_file.write_text(html)

    async with open_page(page_file.as_uri()) as page:
        charts = json.loads(await page.evaluate(CHARTS))
        shot = await screenshot(page)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert page.errors == []
    (ARTIFACTS / "report-phone.png").write_bytes(shot)
    assert len(charts) == 7
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["marks"] >= 1, chart
    assert width <= 412  # no sideways scrolling of the page on a phone (tables scroll inside)
    assert shot.startswith(b"\x89PNG")

    r = await platform.http["audit"].get(
        f"/clients/{client}/audit/report", params={**params, "format": "json"}, headers=headers
    )
    same = await platform.http["audit"].get(
        f"/clients/{client}/audit", params=params, headers=headers
    )
    assert r.status_code == 200
    assert r.json() == same.json()
    assert len(r.json()["findings"]) == 13


async def test_the_console_check_sees_an_error() -> None:
    """Control: the Chromium harness reports a console error when there is one."""
    page_file = artifacts() / "control.html"
    page_file.write_text("<!doctype html><p>x</p><script>console.error('boom')</script>")
    async with open_page(page_file.as_uri()) as page:
        assert await page.evaluate("1 + 1") == 2
        assert page.errors == ["boom"]
