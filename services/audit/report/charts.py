"""The report's charts: Vega-Lite specs built with Vega-Altair, rendered to SVG on the server
by vl-convert (no script reaches the page)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import altair as alt
import vl_convert

from services.audit.analysis.audit import Audit

MAX_BARS = 15  # a chart shows the own accounts and the largest competitors, readable on a phone
WIDTH = 300
OWN, COMPETITOR = "#c2410c", "#64748b"
# Characters XML 1.0 forbids: vl-convert lays text out as SVG and aborts the whole process
# (a Rust panic that cannot unwind) on one of them, e.g. an account named "a\x0eb".
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _bars(title: str, rows: list[dict[str, Any]], field: str, label: str) -> dict[str, Any]:
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("account:N", sort="-x", title=None),
            x=alt.X(f"{field}:Q", title=label),
            color=alt.Color(
                "who:N",
                scale=alt.Scale(domain=["own", "competitor"], range=[OWN, COMPETITOR]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=["account:N", f"{field}:Q"],
        )
        .properties(width=WIDTH, title=title)
    )
    return chart.to_dict()


def _top(rows: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    own = [r for r in rows if r["who"] == "own"]
    rest = sorted((r for r in rows if r["who"] != "own"), key=lambda r: -r[field])
    return own + rest[: max(MAX_BARS - len(own), 0)]


def specs(audit: Audit) -> list[tuple[str, dict[str, Any]]]:
    """(title, Vega-Lite spec) of every chart of the report."""
    out: list[tuple[str, dict[str, Any]]] = []
    sov = []
    for c in audit.platforms:
        rows = [
            {
                "account": a.name or a.account_id if not a.owned else f"{a.account_id} (you)",
                "who": "own" if a.owned else "competitor",
                "rate": float(a.engagement_rate or 0) * 100,
                "followers": float(a.followers_end or 0),
            }
            for a in c.accounts
        ]
        if rows:
            title = f"{c.platform}: engagement rate, %"
            out.append(
                (
                    title,
                    _bars(title, _top(rows, "rate"), "rate", "engagements per post / followers, %"),
                )
            )
        for what, share in (("posts", c.share_of_posts), ("engagements", c.share_of_engagements)):
            if share is not None:
                sov.append(
                    {"platform": c.platform, "share of": what, "percent": float(share) * 100}
                )
    if sov:
        title = "Share of voice by platform, %"
        chart = (
            alt.Chart(alt.Data(values=sov))
            .mark_bar()
            .encode(
                y=alt.Y("platform:N", title=None),
                yOffset="share of:N",
                x=alt.X("percent:Q", title="the client's share of the group, %"),
                color=alt.Color("share of:N", legend=alt.Legend(orient="bottom")),
            )
            .properties(width=WIDTH, title=title)
        )
        out.append((title, chart.to_dict()))
    return out


def _xml_safe(value: Any) -> Any:
    """The spec with every string stripped of the characters XML cannot carry."""
    if isinstance(value, str):
        return NOT_XML.sub("", value)
    if isinstance(value, dict):
        return {_xml_safe(k): _xml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_safe(v) for v in value]
    return value


def _render(spec: dict[str, Any]) -> str:
    return str(vl_convert.vegalite_to_svg(_xml_safe(spec)))


async def render(audit: Audit) -> list[tuple[str, str]]:
    """(title, SVG) of every chart, rendered off the event loop."""
    return [(title, await asyncio.to_thread(_render, spec)) for title, spec in specs(audit)]
