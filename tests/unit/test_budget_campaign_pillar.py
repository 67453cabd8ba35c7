"""Issue 10 item 3: performance per euro per campaign and per pillar. The metrics service
carries each spend line's campaign (ads API) and pillar (the post's, from the calendar) and the
counts per campaign/pillar in MetricsIngested `segments`; the review computes CPL, CPC, CPM,
cost per engagement and ROI from them (DOMAIN.md formulas; undefined is null). Figures worked
by hand in the comments."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.budget import review
from services.budget.ledger import ledger_entry
from services.budget.models import Allocation, Budget
from services.budget.repository import spend_breakdown
from services.metrics import ingest
from shared.events import (
    AnalyticsObserved,
    EntityLevel,
    MetricsIngested,
    MetricValue,
    ObservationSource,
    Platform,
    SpendLine,
)
from shared.money import Money

AT = datetime(2026, 2, 10, 12, tzinfo=UTC)


def ad(entity_id: str, spend: str, metrics: dict[str, str], **fields: Any) -> AnalyticsObserved:
    return AnalyticsObserved.new(
        producer="test",
        tenant_id="acme",
        client_id="c1",
        platform=Platform.META_ADS,
        account_id="acc1",
        entity_level=EntityLevel.AD,
        entity_id=entity_id,
        window="day",
        window_start=AT.replace(hour=0),
        cumulative=False,
        observed_at=AT,
        source=ObservationSource(api="meta_marketing"),
        metrics=tuple(MetricValue(name=n, value=Decimal(v)) for n, v in metrics.items()),
        spend=Money(amount=Decimal(spend), currency="EUR"),
        **fields,
    )


def budget(**overrides: Any) -> Budget:
    fields: dict[str, Any] = {
        "budget_id": "b1",
        "tenant_id": "acme",
        "client_id": "c1",
        "name": "Q1 paid social",
        "limit": Money(amount=Decimal("1000.00"), currency="EUR"),
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 3, 31),
        "thresholds_pct": [50, 80, 100],
        "spent": Money.zero("EUR"),
        "created_at": datetime(2025, 12, 1, tzinfo=UTC),
    }
    return Budget(**(fields | overrides))


def test_campaign_a_cpc_and_cpm_and_campaign_b_without_leads_has_no_cpl() -> None:
    doc = review.review(
        budget(),
        spend_by_category={"paid_ads": Decimal("80.00")},
        spend_by_platform={"meta_ads": Decimal("80.00")},
        counts_by_platform={},
        spend_by_campaign={"A": Decimal("50.00"), "B": Decimal("30.00")},
        counts_by_campaign={
            "A": {
                "clicks": Decimal(1000),
                "impressions": Decimal(20000),
                "leads": Decimal(4),
                "likes": Decimal(90),
                "comments": Decimal(10),
                "revenue": Decimal("125.00"),
            },
            "B": {"clicks": Decimal(400), "impressions": Decimal(12000), "leads": Decimal(0)},
        },
        spend_by_pillar={"Recipes": Decimal("20.00")},
        counts_by_pillar={"Recipes": {"clicks": Decimal(0)}, "Tips": {"impressions": Decimal(5)}},
        goal="leads",
        min_share_pct=Decimal(5),
        max_share_pct=Decimal(60),
        shift_pct=Decimal(20),
    )
    a, b = doc["campaigns"]
    # A: 50.00 / 1,000 clicks = 0.05; 50.00 / 20,000 x 1000 = 2.50; 50.00 / 4 leads = 12.50;
    # 50.00 / (90 + 10) engagements = 0.50; ROI (125.00 - 50.00) / 50.00 = 1.5
    assert a == {"campaign": "A", "spend": "50.00", "cpl": "12.5000", "cpc": "0.0500",
                 "cpm": "2.5000", "cost_per_engagement": "0.5000", "roi": "1.5000"}  # fmt: skip
    # B: 0 leads -> CPL undefined (null, never 0); 30.00 / 400 = 0.075; 30 / 12,000 x 1000 = 2.5;
    # no engagement counts, no revenue -> null
    assert b == {"campaign": "B", "spend": "30.00", "cpl": None, "cpc": "0.0750",
                 "cpm": "2.5000", "cost_per_engagement": None, "roi": None}  # fmt: skip
    recipes, tips = doc["pillars"]
    # Recipes spent 20.00 for 0 clicks: CPC undefined; Tips has counts and no spend: 0 / 5 x 1000
    assert (recipes["pillar"], recipes["spend"], recipes["cpc"]) == ("Recipes", "20.00", None)
    assert (tips["pillar"], tips["spend"], tips["cpm"]) == ("Tips", "0", "0.0000")


def test_metrics_ingested_carries_campaign_and_pillar_on_spend_lines_and_segments() -> None:
    a1 = ad("ad-a1", "30.00", {"clicks": "600", "impressions": "12000"}, campaign_id="A")
    a2 = ad("ad-a2", "20.00", {"clicks": "400", "impressions": "8000"}, campaign_id="A")
    b1 = ad("ad-b1", "30.00", {"clicks": "400"}, campaign_id="B", post_id="p1")
    none = ad("ad-x", "5.00", {"clicks": "7"})  # no campaign, no post: only in the totals
    added, _ = ingest.contributions([a1, a2, b1, none], {})

    [event] = ingest.summarize(
        added, budgets_by_post={}, pillars_by_post={("acme", "p1"): "Recipes"}
    )

    [total] = event.totals
    assert total.metrics == {"clicks": Decimal(1407), "impressions": Decimal(20000)}
    assert [(s.campaign_id, s.pillar, s.observations, s.metrics) for s in event.segments] == [
        ("A", None, 2, {"clicks": Decimal(1000), "impressions": Decimal(20000)}),
        ("B", "Recipes", 1, {"clicks": Decimal(400)}),
    ]
    assert [(s.amount, s.campaign_id, s.pillar) for s in event.spend] == [
        (Decimal("30.00"), "A", None),
        (Decimal("20.00"), "A", None),
        (Decimal("30.00"), "B", "Recipes"),
        (Decimal("5.00"), None, None),
    ]


def test_a_version_1_metrics_ingested_still_reads() -> None:
    v1 = {"event_type": "MetricsIngested", "event_version": 1, "tenant_id": "acme",
          "producer": "metrics", "observations": 1,
          "spend": [{"observation_id": "o1", "client_id": "c1", "platform": "meta_ads",
                     "amount": "1.00", "currency": "EUR",
                     "observed_at": "2026-02-10T12:00:00Z"}]}  # fmt: skip
    event = MetricsIngested.model_validate(v1)
    assert (event.segments, event.spend[0].campaign_id, event.spend[0].pillar) == ((), None, None)
    assert AnalyticsObserved.EVENT_VERSION == MetricsIngested.EVENT_VERSION == 2


def test_spend_counts_under_its_own_campaign_else_its_allocations() -> None:
    alloc = Allocation(
        id="paid_ads:meta_ads", category="paid_ads", platform=Platform.META_ADS,
        campaign="Spring", pillar="Recipes",
        amount=Money(amount=Decimal("500.00"), currency="EUR"),
        planned_amount=Money(amount=Decimal("500.00"), currency="EUR"),
    )  # fmt: skip
    b = budget(allocations=[alloc])
    event = MetricsIngested.new(producer="t", tenant_id="acme", observations=0)
    base: dict[str, Any] = {"client_id": "c1", "platform": "meta_ads", "currency": "EUR",
                            "observed_at": AT}  # fmt: skip
    own = ledger_entry(event, b, SpendLine(**base, observation_id="o1", amount="1.00",
                                           campaign_id="A"))  # fmt: skip
    bare = ledger_entry(event, b, SpendLine(**base, observation_id="o2", amount="2.50"))
    assert (own["allocation_id"], own["campaign_id"], "pillar" in own) == (
        "paid_ads:meta_ads",
        "A",
        False,
    )
    assert "campaign_id" not in bare and "pillar" not in bare

    class Ledger:
        def find(self, _: Any) -> Any:
            async def gen() -> Any:
                for e in (own, bare):
                    yield e

            return gen()

    class Repo:
        ledger = Ledger()

    spent = asyncio.run(
        spend_breakdown(Repo(), b, date(2026, 1, 1), date(2026, 3, 31))  # type: ignore[arg-type]
    )
    # o1 is campaign A's (its line says so), o2 the allocation's campaign Spring; both lines
    # are on the allocation of pillar Recipes: 1.00 + 2.50
    assert spent.by_campaign == {"A": Decimal("1.00"), "Spring": Decimal("2.50")}
    assert spent.by_pillar == {"Recipes": Decimal("3.50")}
    assert spent.by_platform == {"meta_ads": Decimal("3.50")}


def test_both_ads_adapters_put_the_rows_campaign_on_its_observations() -> None:
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from services.metrics.adapters import (  # noqa: PLC0415
        ObservationContext,
        google_ads_search_stream,
        meta_ads_insights,
    )

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "platforms"
    ctx = ObservationContext(tenant_id="t", client_id="c", account_id="a", observed_at=AT)
    meta = meta_ads_insights(
        json.loads((fixtures / "meta_ads_insights_daily.json").read_text()), context=ctx
    )
    google = google_ads_search_stream(
        json.loads((fixtures / "google_ads_search_stream.json").read_text()), context=ctx
    )
    # both Meta rows are of campaign 120210000000000001 (ad 120210000000000111); both Google
    # rows of campaign 987654321 (prefixed like the adapter's entity ids)
    assert {(o.entity_id, o.campaign_id) for o in meta.observations} == {
        ("120210000000000111", "120210000000000001")
    }
    assert {o.campaign_id for o in google.observations} == {"campaign:987654321"}
    assert len(meta.observations) == len(google.observations) == 2


def test_the_review_csv_has_a_section_per_campaign_and_pillar() -> None:
    """The CSV export carries what the JSON does: campaign A spent 50.00 EUR for 1,000 clicks
    and 20,000 impressions (CPC 0.05, CPM 2.50), pillar Recipes 30.00 EUR for no lead (CPL
    empty: undefined)."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    doc = {
        "categories": [], "channels": [], "suggestions": [],
        "campaigns": review.performance(
            "campaign", {"A": Decimal("50.00")},
            {"A": {"clicks": Decimal(1000), "impressions": Decimal(20000)}},
        ),
        "pillars": review.performance("pillar", {"Recipes": Decimal("30.00")}, {}),
    }  # fmt: skip
    rows = list(csv.reader(io.StringIO(review.review_csv(doc))))
    assert [
        "section",
        "campaign",
        "spend",
        "cpl",
        "cpc",
        "cpm",
        "cost_per_engagement",
        "roi",
    ] in rows
    [a] = [r for r in rows if r[0] == "campaign"]
    assert (a[1], a[2], Decimal(a[4]), Decimal(a[5]), a[3]) == ("A", "50.00", Decimal("0.05"),
                                                                 Decimal("2.50"), "")  # fmt: skip
    [p] = [r for r in rows if r[0] == "pillar"]
    assert p[:3] == ["pillar", "Recipes", "30.00"] and p[3] == ""
