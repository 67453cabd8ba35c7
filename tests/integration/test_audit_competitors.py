"""Audit over the real broker and database: a client with 2 own and 12 competitor accounts
over 6 platforms; observations travel through Kafka into the audit's read model; ranks,
percentiles, share of voice and findings are checked against figures computed by hand here."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from shared import topics
from shared.events import AnalyticsObserved
from tests.integration.conftest import Platform, eventually

D = Decimal
OCT_1, OCT_31 = datetime(2026, 10, 1, 9, tzinfo=UTC), datetime(2026, 10, 31, 20, tzinfo=UTC)
SEP_1, SEP_30 = datetime(2026, 9, 1, 9, tzinfo=UTC), datetime(2026, 9, 30, 20, tzinfo=UTC)
_ids = itertools.count()

# (platform, account, brand, owned, followers (start, end), [(type, posts, likes, comments)])
ACCOUNTS: list[tuple[str, str, str, bool, tuple[int, int], list[tuple[str, int, int, int]]]] = [
    ("instagram", "own-ig", "Tasty", True, (1000, 1100), [("photo", 4, 40, 10)]),
    ("instagram", "a-ig", "A", False, (2000, 2100), [("photo", 4, 15, 5), ("reel", 4, 90, 10)]),
    ("instagram", "b-ig", "B", False, (500, 600), [("reel", 2, 70, 10)]),
    ("instagram", "c-ig", "C", False, (3000, 3000), [("photo", 12, 25, 5)]),
    ("instagram", "d-ig", "D", False, (800, 840), []),
    ("tiktok", "own-tt", "Tasty", True, (100, 150), [("video", 2, 8, 2)]),
    ("tiktok", "a-tt", "A", False, (1000, 1000), [("video", 10, 45, 5)]),
    ("tiktok", "b-tt", "B", False, (5000, 5500), [("video", 6, 250, 50)]),
    ("tiktok", "c-tt", "C", False, (200, 220), []),
    ("facebook", "a-fb", "A", False, (300, 300), [("link", 4, 8, 2)]),
    ("facebook", "b-fb", "B", False, (400, 410), []),
    ("x", "c-x", "C", False, (50, 60), [("post", 3, 4, 1)]),
    ("linkedin", "d-li", "D", False, (70, 80), [("post", 2, 9, 1)]),
    ("youtube", "e-yt", "E", False, (100, 100), []),
]


def q(v: Decimal) -> Decimal:
    return v.quantize(D("0.000001"), rounding=ROUND_HALF_EVEN)


def obs(tenant: str, client: str, platform: str, account: str, owned: bool, **kw: Any) -> Any:
    return AnalyticsObserved.new(
        producer="tests.pipeline", tenant_id=tenant, client_id=client, platform=platform,
        account_id=account, owned=owned, source={"api": "test", "kind": "poll"}, **kw,
    )  # fmt: skip


def observations(tenant: str, client: str) -> list[AnalyticsObserved]:
    out = []
    for platform, account, _, owned, (start, end), posts in ACCOUNTS:
        level = "account" if owned else "competitor_account"
        for at, n in ((OCT_1, start), (OCT_31, end)):
            out.append(obs(tenant, client, platform, account, owned, entity_level=level,
                           entity_id=account, observed_at=at,
                           metrics=[{"name": "followers", "value": n}]))  # fmt: skip
        for content_type, count, likes, comments in posts:
            for _ in range(count):
                out.append(obs(tenant, client, platform, account, owned, entity_level="post",
                               entity_id=f"p{next(_ids)}", content_type=content_type,
                               observed_at=datetime(2026, 10, 5 + next(_ids) % 20, 12, tzinfo=UTC),
                               metrics=[{"name": "likes", "value": likes},
                                        {"name": "comments", "value": comments}]))  # fmt: skip
    # the previous period (September) of the own Instagram account, for the trend
    for at, n in ((SEP_1, 900), (SEP_30, 1000)):
        out.append(obs(tenant, client, "instagram", "own-ig", True, entity_level="account",
                       entity_id="own-ig", observed_at=at,
                       metrics=[{"name": "followers", "value": n}]))  # fmt: skip
    for i in range(2):
        out.append(obs(tenant, client, "instagram", "own-ig", True, entity_level="post",
                       entity_id=f"sep{i}", content_type="photo",
                       observed_at=datetime(2026, 9, 10 + i, tzinfo=UTC),
                       metrics=[{"name": "likes", "value": 30}]))  # fmt: skip
    return out


async def new_client(platform: Platform, headers: dict[str, str], name: str = "Tasty") -> str:
    r = await platform.http["calendar"].post(
        "/clients", json={"name": name, "timezone": "Europe/Berlin"}, headers=headers
    )
    assert r.status_code == 201, r.text
    client_id = str(r.json()["client_id"])

    async def known() -> bool:
        got = await platform.http["audit"].get(
            f"/clients/{client_id}/audit/accounts", headers=headers
        )
        return got.status_code == 200

    await eventually(known)
    return client_id


async def seen(platform: Platform, n: int) -> None:
    async def done() -> bool:
        return await platform.db("audit")["audit_observations_seen"].count_documents({}) >= n

    await eventually(done, timeout=40)


def by(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    return next(i for i in items if all(i[k] == v for k, v in match.items()))


async def test_scripted_client_ranks_share_of_voice_and_findings(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Bakers")
    client = await new_client(platform, headers)
    body = {"accounts": [
        {"platform": p, "account_id": a, "name": brand, "owned": owned, "groups": ["local"]}
        for p, a, brand, owned, _, _ in ACCOUNTS
    ]}  # fmt: skip
    r = await platform.http["audit"].put(
        f"/clients/{client}/audit/accounts", json=body, headers=headers
    )
    assert r.status_code == 200, r.text
    assert len(r.json()) == 14
    events = observations(tenant, client)
    for e in events:
        await platform.send(topics.ANALYTICS_OBSERVATIONS, e)
    await platform.send(topics.ANALYTICS_OBSERVATIONS, events[-1])  # a redelivery: no effect
    await seen(platform, len(events))

    r = await platform.http["audit"].get(
        f"/clients/{client}/audit",
        params={"start": "2026-10-01", "end": "2026-10-31", "group": "local"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    audit = r.json()
    assert audit["previous_period"] == {"start": "2026-09-01", "end": "2026-09-30"}
    ig = by(audit["platforms"], platform="instagram")
    own_ig = by(ig["accounts"], account_id="own-ig")
    assert (own_ig["posts"], own_ig["engagements"], own_ig["type_mix"]) == (4, "200", {"photo": 4})
    assert D(own_ig["engagement_rate"]) == q(D(50) / 1100)
    assert D(own_ig["follower_growth"]) == D("0.1")
    standing = {s["metric"]: s for s in ig["own"][0]["standings"]}
    # followers at the end: 1100 among [1100, 2100, 600, 3000, 840]: 2 higher -> rank 3 of 5;
    # 3 of 5 at or below -> 60th percentile; competitors' median (840 + 2100) / 2 = 1470
    f = standing["followers_end"]
    assert (f["rank"], f["of"], D(f["percentile"]), D(f["competitor_median"])) == (3, 5, 60, 1470)
    # engagement rate: 50/1100 vs A 60/2100, B 80/600, C 30/3000 (D posted nothing: left out)
    rates = [q(D(50) / 1100), q(D(60) / 2100), q(D(80) / 600), q(D(30) / 3000)]
    e = standing["engagement_rate"]
    assert (e["rank"], e["of"], D(e["percentile"])) == (2, 4, 75)
    assert D(e["competitor_median"]) == rates[1]
    g = standing["follower_growth"]  # 0.1 among [0.1, 0.05, 0.2, 0, 0.05]
    assert (g["rank"], D(g["percentile"]), D(g["competitor_median"])) == (2, 80, D("0.05"))
    assert D(ig["share_of_posts"]) == q(D(4) / 26)
    assert D(ig["share_of_engagements"]) == q(D(200) / 1200)
    assert ig["competitor_type_medians"] == {"photo": "25", "reel": "90"}

    tt = by(audit["platforms"], platform="tiktok")
    t = {s["metric"]: s for s in tt["own"][0]["standings"]}
    assert (t["followers_end"]["rank"], D(t["followers_end"]["percentile"])) == (4, 25)
    assert (t["engagement_rate"]["rank"], D(t["engagement_rate"]["percentile"])) == (1, 100)
    assert D(tt["share_of_posts"]) == q(D(2) / 18)
    assert D(tt["share_of_engagements"]) == q(D(20) / 2320)

    # trend of the own Instagram account against September
    trend = {c["metric"]: c for c in by(audit["trend"], account_id="own-ig")["changes"]}
    assert (D(trend["followers_end"]["previous"]), D(trend["followers_end"]["change"])) == (
        1000,
        100,
    )
    assert D(trend["posts_per_week"]["previous"]) == q(D(2) * 7 / 30)

    ig_rate_median = rates[1]
    tt_rate_median = q((q(D(50) / 1000) + q(D(300) / 5500)) / 2)
    tt_ppw_median = q(D(6) * 7 / 31)
    expected = [
        ("neglected_platform", "youtube", None, D(1)),  # 0 of 5 brands post there
        ("weakness", "tiktok", "followers_end", 1 - D(150) / 1000),
        ("neglected_platform", "facebook", None, D("0.8")),
        ("neglected_platform", "linkedin", None, D("0.8")),
        ("neglected_platform", "x", None, D("0.8")),
        ("frequency_gap", "tiktok", "posts_per_week", 1 - q(D(2) * 7 / 31) / tt_ppw_median),
        ("neglected_platform", "tiktok", None, D("0.6")),  # 2 of 5 brands post there
        ("strength", "instagram", "engagement_rate", q(D(50) / 1100) / ig_rate_median - 1),
        ("winning_content_type", "instagram", "engagements_per_post", D(90) / 60 - 1),
        ("strength", "tiktok", "follower_growth", D("0.4")),
        ("strength", "tiktok", "engagement_rate", q(D(10) / 150) / tt_rate_median - 1),
        ("weakness", "instagram", "followers_end", 1 - D(1100) / 1470),
        ("strength", "instagram", "follower_growth", D("0.05")),
    ]
    got = [(f["kind"], f["platform"], f["metric"], D(f["impact"])) for f in audit["findings"]]
    assert got == [(k, p, m, q(i)) for k, p, m, i in expected]
    reel = by(audit["findings"], kind="winning_content_type")
    assert reel["figures"]["content_type"] == "reel"
    assert "competitors' reel posts earn a median of 90" in reel["summary"]
    top = [p for p in audit["top_posts"] if p["platform"] == "instagram"]
    assert [p["account_id"] for p in top] == ["a-ig"] * 4 + ["b-ig"]  # 100 each, then 80


async def test_bad_input_is_refused_with_the_field_and_why(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Bakers")
    rival_tenant, rival_headers = await platform.new_agency("Rivals")
    client = await new_client(platform, headers)
    rival_client = await new_client(platform, rival_headers, "Other")
    audit = platform.http["audit"]

    r = await audit.get("/clients/cl-nope/audit/accounts", headers=headers)
    assert r.status_code == 404
    r = await audit.get(f"/clients/{rival_client}/audit", headers=headers,
                        params={"start": "2026-01-01", "end": "2026-01-31"})  # fmt: skip
    assert r.status_code == 404
    r = await audit.get(f"/clients/{client}/audit", headers=headers,
                        params={"start": "2024-01-01", "end": "2026-01-01"})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "end"]
    assert "longer than 24 months" in r.json()["detail"][0]["msg"]
    r = await audit.get(f"/clients/{client}/audit", headers=headers,
                        params={"start": "2024-01-01", "end": "2025-12-31"})  # fmt: skip
    assert r.status_code == 200, r.text  # exactly 24 months

    mine = {"platform": "instagram", "account_id": "@tasty", "owned": True}
    r = await audit.put(f"/clients/{rival_client}/audit/accounts", headers=rival_headers,
                        json={"accounts": [mine]})  # fmt: skip
    assert r.status_code == 200
    r = await audit.put(f"/clients/{client}/audit/accounts", headers=headers,
                        json={"accounts": [mine]})  # fmt: skip
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "accounts", 0, "account_id"]
    assert "another agency" in detail["msg"]

    lonely = {"platform": "x", "account_id": "@rival", "owned": False, "groups": ["chains"]}
    r = await audit.put(f"/clients/{client}/audit/accounts", headers=headers,
                        json={"accounts": [lonely]})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "accounts", 0, "groups"]
    assert "group 'chains' has no own account" in r.json()["detail"][0]["msg"]

    r = await audit.put(f"/clients/{client}/audit/accounts", headers=headers,
                        json={"accounts": [{**lonely, "platform": "meta_ads"}]})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "platform"
    r = await audit.get(f"/clients/{client}/audit/accounts")
    assert r.status_code == 401
    assert rival_tenant != tenant
