"""Platform scores from hand-computed components and weights; weights can be overridden;
a trial is kept only when its criterion is met."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.audit.analysis.audit import Audit
from services.audit.analysis.compare import compare
from services.audit.analysis.period import Period
from services.audit.platform_choice.scoring import ChoiceIn, score, weights_of
from services.audit.platform_choice.trials import judge
from shared.events import StrategyUpdated
from tests.unit.audit.test_audit_findings import acct

D = Decimal


def audit() -> Audit:
    ig = compare("instagram", [
        acct("me", True, followers=1000, posts={"photo": (4, 400)}),
        acct("A", False, followers=2000, posts={"photo": (4, 200)}),
        acct("B", False, followers=3000, posts={}),
    ])  # fmt: skip
    p = Period(start=date(2026, 10, 1), end=date(2026, 10, 28))
    return Audit(client_id="c", client_name="C", group=None, period=p, previous_period=p,
                 definitions={}, platforms=[ig], trend=[], top_posts=[], findings=[])  # fmt: skip


def test_scores_follow_the_stated_components_and_weights() -> None:
    scores = {s.platform: s for s in score(audit(), {"instagram"}, ChoiceIn(goal="visual"))}
    ig = scores["instagram"]
    # audience 1, goal fit (visual) 1, competitors 1 of 2 brands active, own engagement rate
    # percentile 100 (0.1 vs A's 0.0125; B has no rate), no hours given: cost 1
    assert ig.components == {"audience": 1, "goal_fit": 1, "competitors": D("0.5"),
                             "own_performance": 1, "cost": 1}  # fmt: skip
    assert ig.score == D("0.30") * 100 + D("0.25") * 100 + D("0.15") * 50 + 20 + 10
    li = scores["linkedin"]  # not in the strategy, B2B platform, nobody there, unknown own
    assert li.score == D("0.25") * D("0.2") * 100 + D("0.20") * D("0.5") * 100 + 10
    assert next(iter(scores)) == "instagram"


def test_an_agency_overrides_weights_and_gives_hours() -> None:
    choice = ChoiceIn(goal="b2b_leads", weights={"goal_fit": D(1), "audience": D(0),
                      "competitors": D(0), "own_performance": D(0), "cost": D(1)},
                      staff_hours_per_week={"instagram": D(8), "linkedin": D(2)})  # fmt: skip
    scores = {s.platform: s.score for s in score(audit(), {"instagram"}, choice)}
    assert scores["linkedin"] == (D(1) + (1 - D(2) / 8)) / 2 * 100  # 87.5
    assert scores["instagram"] == (D("0.2") + 0) / 2 * 100
    with pytest.raises(ValueError, match="positive sum"):
        weights_of({k: D(0) for k in ("audience", "goal_fit", "competitors", "own_performance",
                                       "cost")})  # fmt: skip


def test_a_trial_is_kept_only_when_its_criterion_is_met() -> None:
    assert judge(D(180), D(150), "followers_end")[0] == "keep"
    assert judge(D(150), D(150), "followers_end")[0] == "keep"
    assert judge(D(149), D(150), "followers_end") == (
        "drop", "followers_end 149 stayed below the target 150"
    )  # fmt: skip
    assert judge(None, D(1), "engagement_rate")[0] == "drop"


def test_audience_presence_is_the_share_of_personas_on_the_platform() -> None:
    # 3 personas: Instagram + TikTok, Instagram, Facebook; LinkedIn is in the strategy but no
    # persona uses it. Default weights, goal awareness (Instagram M 0.6, TikTok H 1, Facebook
    # M 0.6, LinkedIn L 0.2); competitors and own performance as in the first test (Instagram
    # 1 of 2 brands, percentile 100; elsewhere nobody, unknown 0.5); no hours: cost 1.
    personas = [{"instagram", "tiktok"}, {"instagram"}, {"facebook"}]
    strategy = {"instagram", "tiktok", "facebook", "linkedin"}
    scores = {s.platform: s for s in score(audit(), strategy, ChoiceIn(), personas)}
    assert scores["instagram"].components["audience"] == D("0.666667")  # 2/3
    assert scores["tiktok"].components["audience"] == D("0.333333")
    assert scores["linkedin"].components["audience"] == 0
    # 100 x (0.30 x 2/3 + 0.25 x 0.6 + 0.15 x 0.5 + 0.20 x 1 + 0.10 x 1) = 20 + 15 + 7.5 + 20 + 10
    assert scores["instagram"].score == D("72.5")
    # 100 x (0.30 x 1/3 + 0.25 x 1 + 0 + 0.20 x 0.5 + 0.10) = 10 + 25 + 10 + 10
    assert scores["tiktok"].score == 55
    assert scores["facebook"].score == 10 + 15 + 10 + 10
    assert scores["linkedin"].score == 0 + 5 + 10 + 10  # listed, but no persona is there
    # no personas: today's rule, 1 when the strategy lists the platform
    fallback = {s.platform: s for s in score(audit(), {"instagram"}, ChoiceIn())}
    assert fallback["instagram"].components["audience"] == 1
    assert fallback["instagram"].score == D("82.5")  # 30 + 15 + 7.5 + 20 + 10
    assert fallback["tiktok"].components["audience"] == 0


def test_a_version_1_strategy_event_still_reads_without_personas_or_reviews() -> None:
    v1 = {"event_type": "StrategyUpdated", "event_version": 1, "tenant_id": "t", "producer": "c",
          "client_id": "c1", "strategy_id": "st-1", "version": 1, "period": "year",
          "start": "2027-01-01", "end": "2028-01-01", "platforms": ["instagram"]}  # fmt: skip
    e = StrategyUpdated.model_validate(v1)
    assert (e.personas, e.reviews, e.event_version) == ((), (), 1)
    v2 = StrategyUpdated.new(**{k: v for k, v in v1.items() if k not in ("event_type",
                                "event_version")}, reviews=[{"platform": "instagram",
                                "review_on": "2028-01-01"}])  # fmt: skip
    assert v2.event_version == 2 and v2.reviews[0].review_on == date(2028, 1, 1)
