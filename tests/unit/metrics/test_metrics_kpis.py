"""KPI formulas from DOMAIN.md: exact values, named denominators, and "not defined" as None."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.metrics.kpis import (
    KPI_NAMES,
    compute_kpis,
    cpc,
    cpl,
    cpm,
    ctr,
    engagement_rate,
    engagements,
    follower_growth,
    lead_conversion_rate,
    ratio,
    roi,
)
from services.metrics.registry import MetricTag
from shared.money import Money

D = Decimal


def eur(amount: str) -> Money:
    return Money(amount=D(amount), currency="EUR")


def test_engagements_sum_likes_comments_shares_saves() -> None:
    totals = {"likes": D(187), "comments": D(9), "shares": D(17), "saves": D(21), "views": D(999)}
    assert engagements(totals) == 234


def test_engagements_over_the_parts_a_platform_reports() -> None:
    assert engagements({"likes": D(10), "comments": D(2)}) == 12  # TikTok has no saves
    assert engagements({"views": D(100)}) is None


@pytest.mark.parametrize("by", ["impressions", "reach", "followers"])
def test_engagement_rate_names_its_denominator(by: str) -> None:
    rate = engagement_rate(engagements=D(50), denominator=D(1000), by=by)  # type: ignore[arg-type]
    assert rate.value == D("0.05")
    assert rate.denominator == by
    assert rate.name == f"engagement_rate_{by}"


def test_engagement_rate_with_zero_or_unknown_denominator_is_not_defined() -> None:
    assert engagement_rate(engagements=D(50), denominator=D(0), by="reach").value is None
    assert engagement_rate(engagements=D(50), denominator=None, by="reach").value is None


def test_ratio_zero_denominator_is_none_not_zero() -> None:
    assert ratio(D(0), D(10)) == 0
    assert ratio(D(5), D(0)) is None
    assert ratio(None, D(10)) is None


def test_ctr() -> None:
    assert ctr(clicks=D(96), impressions=D(12000)) == D("0.008")
    assert ctr(clicks=D(96), impressions=D(0)) is None
    assert ctr(clicks=None, impressions=D(12000)) is None


def test_cpc_is_exact_money_in_the_spend_currency() -> None:
    assert cpc(spend=eur("100.00"), clicks=D(40)) == eur("2.5")
    third = cpc(spend=Money(amount=D(10), currency="USD"), clicks=D(3))
    assert third is not None and third.currency == "USD"
    assert third.amount != D("3.33")  # exact; rounding is for display only
    assert str(third) == "3.33 USD"


def test_cpl() -> None:
    assert cpl(spend=eur("150"), leads=D(6)) == eur("25")
    assert cpl(spend=eur("150"), leads=0) is None
    assert cpl(spend=None, leads=D(6)) is None


def test_cpm_is_spend_per_thousand_impressions() -> None:
    assert cpm(spend=eur("25"), impressions=D(12500)) == eur("2")
    assert cpm(spend=Money(amount=D(1000), currency="JPY"), impressions=D(400)) == Money(
        amount=D(2500), currency="JPY"
    )
    assert cpm(spend=eur("25"), impressions=D(0)) is None


def test_lead_conversion_rate_prefers_visits() -> None:
    rate = lead_conversion_rate(leads=D(5), visits=D(200), clicks=D(1000))
    assert (rate.value, rate.denominator) == (D("0.025"), "visits")


def test_lead_conversion_rate_falls_back_to_clicks_and_says_so() -> None:
    rate = lead_conversion_rate(leads=D(5), visits=None, clicks=D(250))
    assert (rate.value, rate.denominator) == (D("0.02"), "clicks")


def test_lead_conversion_rate_with_zero_visits_is_not_defined() -> None:
    # Visits are known (zero), so clicks must not silently stand in for them.
    rate = lead_conversion_rate(leads=D(5), visits=D(0), clicks=D(250))
    assert (rate.value, rate.denominator) == (None, "visits")
    unknown = lead_conversion_rate(leads=D(5), visits=None, clicks=None)
    assert (unknown.value, unknown.denominator) == (None, None)


def test_follower_growth() -> None:
    assert follower_growth(start=D(500), end=D(1000)) == 1
    assert follower_growth(start=D(800), end=D(760)) == D("-0.05")
    assert follower_growth(start=D(0), end=D(10)) is None
    assert follower_growth(start=None, end=D(10)) is None


def test_roi_only_where_revenue_is_known() -> None:
    assert roi(spend=eur("100"), revenue=eur("300")) == 2
    assert roi(spend=eur("100"), revenue=eur("40")) == D("-0.6")
    assert roi(spend=eur("100"), revenue=None) is None
    assert roi(spend=eur("0"), revenue=eur("50")) is None


def test_roi_refuses_to_mix_currencies() -> None:
    with pytest.raises(ValueError, match="cannot combine"):
        roi(spend=eur("100"), revenue=Money(amount=D(300), currency="USD"))


def test_compute_kpis_from_totals() -> None:
    totals = {
        "impressions": D(20000), "reach": D(12000), "likes": D(700), "comments": D(120),
        "shares": D(80), "saves": D(100), "clicks": D(400), "visits": D(250), "leads": D(10),
    }  # fmt: skip
    kpis = compute_kpis(
        totals, spend=eur("500"), revenue=eur("1250"), followers_start=D(4000),
        followers_end=D(5000),
    )  # fmt: skip

    assert kpis.engagements == 1000
    assert kpis.engagement_rate_impressions.value == D("0.05")
    assert kpis.engagement_rate_reach.value == D(1000) / D(12000)
    assert kpis.engagement_rate_followers.value == D("0.2")
    assert kpis.ctr.value == D("0.02") and kpis.ctr.denominator == "impressions"
    assert kpis.cpc.value == eur("1.25")
    assert kpis.cpl.value == eur("50")
    assert kpis.cpm.value == eur("25")
    assert kpis.lead_conversion_rate.value == D("0.04")
    assert kpis.lead_conversion_rate.denominator == "visits"
    assert kpis.follower_growth.value == D("0.25")
    assert kpis.roi.value == D("1.5")
    assert kpis.value("cpc") == D("1.25")
    assert kpis.value("ctr") == D("0.02")


def test_compute_kpis_tags() -> None:
    kpis = compute_kpis({})
    assert kpis.cpm.tag is MetricTag.VANITY
    assert kpis.follower_growth.tag is MetricTag.VANITY
    assert kpis.ctr.tag is kpis.cpl.tag is kpis.roi.tag is MetricTag.BEHAVIOURAL


def test_compute_kpis_with_nothing_known_is_all_not_defined() -> None:
    kpis = compute_kpis({"impressions": D(0), "clicks": D(0)}, spend=eur("10"))
    assert kpis.engagements is None
    assert all(kpis.value(name) is None for name in KPI_NAMES)


def test_compute_kpis_followers_default_to_totals() -> None:
    kpis = compute_kpis({"likes": D(30), "followers": D(600)})
    assert kpis.engagement_rate_followers.value == D("0.05")


def test_unknown_kpi_name_is_refused() -> None:
    with pytest.raises(ValueError, match="'engagement'"):
        compute_kpis({}).value("engagement")


def test_the_platforms_engagement_total_counts_where_its_parts_are_absent() -> None:
    """Issue 7 item 5: legacy Instagram reports `engagement` (42) but no likes or comments;
    engagement rate by reach = 42 / 600 = 0.07, and it says the total was the platform's."""
    kpis = compute_kpis({"engagement": Decimal(42), "reach": Decimal(600)},
                        bases={"reach": "sum of per-post lifetime reach"})  # fmt: skip
    assert kpis.engagements == Decimal(42)
    assert kpis.engagement_rate_reach.value == Decimal("0.07")
    basis = kpis.engagement_rate_reach.basis or ""
    assert "platform's reported engagement total" in basis
    assert "reach: sum of per-post lifetime reach" in basis
    # A group holding a legacy post (engagement 42, no parts: the adapter stored the total only
    # there) and a current post (likes 10): 42 + 10 = 52, and the basis says it was mixed.
    mixed = compute_kpis({"engagement": Decimal(42), "likes": Decimal(10)})
    assert mixed.engagements == Decimal(52)
    assert "plus the platform's reported engagement total" in (
        mixed.engagement_rate_reach.basis or ""
    )
    assert compute_kpis({"likes": Decimal(10)}).engagement_rate_reach.basis is None
