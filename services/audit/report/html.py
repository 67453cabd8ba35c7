"""The audit report as one self-contained HTML page: findings first, then standings per
platform, trend, top posts, charts as inline SVG. Readable on a phone, printable, no script."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from services.audit.analysis.audit import Audit

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:60rem;
padding:1rem;color:#1e293b;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #cbd5e1}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e2e8f0;padding:.3rem .4rem;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}.own{font-weight:600;color:#c2410c}
figure{margin:1rem 0;break-inside:avoid}figure svg{max-width:100%;height:auto}
ol.findings li{margin:.4rem 0}.kind{font-size:.75rem;text-transform:uppercase;color:#475569}
dl{font-size:.85rem}dt{font-weight:600}
@media print{body{max-width:none}a{color:inherit}h2{break-after:avoid}}
"""


def _n(v: Decimal | int | None) -> str:
    return (
        "—"
        if v is None
        else escape(f"{Decimal(v).normalize():f}" if isinstance(v, Decimal) else str(v))
    )


def _table(head: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    th = "".join(
        f'<th class="{"n" if i in numeric else ""}">{escape(h)}</th>' for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"n" if i in numeric else ""}">{c}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    table = f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def render_html(audit: Audit, charts: list[tuple[str, str]]) -> str:
    """The whole page."""
    p = audit.period
    parts: list[str] = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Audit: {escape(audit.client_name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Audit of {escape(audit.client_name)}</h1>",
        f"<p>Period {p.start} to {p.end} (compared with {audit.previous_period.start} to "
        f"{audit.previous_period.end})"
        + (f", group <strong>{escape(audit.group)}</strong>" if audit.group else ", all accounts")
        + ".</p>",
        "<h2>Findings</h2>",
    ]
    if audit.findings:
        items = "".join(
            f'<li><span class="kind">{escape(f.kind.replace("_", " "))} · impact {_n(f.impact)}'
            f"</span><br>{escape(f.summary)}</li>"
            for f in audit.findings
        )
        parts.append(f'<ol class="findings">{items}</ol>')
    else:
        parts.append("<p>No findings: add competitor accounts and their observations.</p>")
    for c in audit.platforms:
        parts.append(f"<h2>{escape(c.platform)}</h2>")
        parts.append(
            f"<p>Share of voice: {_n(c.share_of_posts)} of posts, {_n(c.share_of_engagements)} "
            "of engagements.</p>"
        )
        rows = [
            [
                f'<span class="own">{escape(a.account_id)} (you)</span>'
                if a.owned
                else escape(a.name or a.account_id),
                _n(a.followers_end),
                _n(a.follower_growth),
                _n(a.posts_per_week),
                escape(", ".join(f"{t} {n}" for t, n in a.type_mix.items())) or "—",
                _n(a.engagements),
                _n(a.engagement_rate),
            ]
            for a in c.accounts
        ]
        head = ["account", "followers", "growth", "posts/week", "types", "engagements", "eng. rate"]
        parts.append(_table(head, rows, {1, 2, 3, 5, 6}))
        for own in c.own:
            srows = [
                [
                    escape(s.metric),
                    _n(s.value),
                    f"{s.rank or '—'} of {s.of}",
                    _n(s.percentile),
                    _n(s.competitor_median),
                ]
                for s in own.standings
            ]
            parts.append(f"<p>Standing of <strong>{escape(own.account_id)}</strong>:</p>")
            parts.append(
                _table(
                    ["metric", "value", "rank", "percentile", "competitor median"], srows, {1, 3, 4}
                )
            )
    if audit.trend:
        parts.append("<h2>Trend against the previous period</h2>")
        trows = [
            [
                escape(f"{t.platform} {t.account_id}"),
                escape(ch.metric),
                _n(ch.previous),
                _n(ch.current),
                _n(ch.relative_change),
            ]
            for t in audit.trend
            for ch in t.changes
        ]
        parts.append(
            _table(["account", "metric", "previous", "current", "change"], trows, {2, 3, 4})
        )
    if audit.top_posts:
        parts.append("<h2>Top posts</h2>")
        prow = [
            [
                escape(t.platform),
                escape(t.account_id) + (" (you)" if t.owned else ""),
                escape(t.entity_id),
                escape(t.content_type),
                escape(t.day),
                _n(t.engagements),
            ]
            for t in audit.top_posts
        ]
        parts.append(
            _table(["platform", "account", "post", "type", "day", "engagements"], prow, {5})
        )
    if charts:
        parts.append("<h2>Charts</h2>")
        for title, svg in charts:
            parts.append(f'<figure class="chart" aria-label="{escape(title)}">{svg}</figure>')
    parts.append("<h2>Definitions</h2><dl>")
    parts += [f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in audit.definitions.items()]
    parts.append("</dl></body></html>")
    return "".join(parts)


def charts_count(html: str) -> int:
    """How many chart figures a page holds (for tests and checks)."""
    return html.count('<figure class="chart"')


__all__: list[Any] = ["charts_count", "render_html"]
