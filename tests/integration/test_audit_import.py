"""A Fanpage Karma post export imported over HTTP: its profiles become competitor accounts,
its rows observations on Kafka (stored by metrics like any pipeline's, folded by the audit),
each post on its publish day; a bad file is refused with every bad cell named."""

from __future__ import annotations

import tests.integration.test_audit_competitors as scenario
from tests.integration.conftest import Platform, eventually

EXPORT = (
    "Date;Network;Profile;Profile-ID;Post-ID;Type;Message;Reactions;Comments;Shares;Fans\n"
    "2026-10-03 09:15;Instagram;Rival Bakery;rival.bakery;ig-1;Picture;Croissants!;120;8;2;5000\n"
    "2026-10-20 18:00;Instagram;Rival Bakery;rival.bakery;ig-2;Video;How we bake;1,250;40;10;5000\n"
    "2026-10-07 12:00;Facebook;Rival Bakery;rival.fb;fb-1;Link;Our shop;30;5;1;800\n"
)


async def test_fanpage_karma_export_becomes_competitor_observations(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Bakers")
    client = await scenario.new_client(platform, headers)
    audit = platform.http["audit"]
    own = {"platform": "instagram", "account_id": "@tasty", "owned": True, "groups": ["local"]}
    r = await audit.put(
        f"/clients/{client}/audit/accounts", json={"accounts": [own]}, headers=headers
    )
    assert r.status_code == 200, r.text
    r = await audit.post(
        f"/clients/{client}/audit/imports/fanpage-karma",
        params={"exported_at": "2026-11-02T10:00:00Z", "group": "local"},
        content=EXPORT.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    assert (r.json()["posts"], r.json()["follower_readings"], r.json()["accounts_added"]) == (
        3, 2, 2
    )  # fmt: skip
    accounts = (await audit.get(f"/clients/{client}/audit/accounts", headers=headers)).json()
    rival = scenario.by(accounts, account_id="rival.bakery")
    assert (rival["owned"], rival["name"], rival["groups"]) == (False, "Rival Bakery", ["local"])
    await scenario.seen(platform, 5)

    r = await audit.get(
        f"/clients/{client}/audit",
        params={"start": "2026-10-01", "end": "2026-11-30", "group": "local"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    ig = scenario.by(r.json()["platforms"], platform="instagram")
    figures = scenario.by(ig["accounts"], account_id="rival.bakery")
    assert figures["type_mix"] == {"picture": 1, "video": 1}
    assert figures["engagements"] == str(120 + 8 + 2 + 1250 + 40 + 10)
    assert figures["followers_end"] == "5000"
    # observed on 2 November, published in October: each post counts on its publish day
    october = await audit.get(
        f"/clients/{client}/audit",
        params={"start": "2026-10-01", "end": "2026-10-31"},
        headers=headers,
    )
    fb = scenario.by(october.json()["platforms"], platform="facebook")
    assert fb["accounts"][0]["posts"] == 1

    async def stored_by_metrics() -> list[dict[str, object]]:
        docs = await platform.observations(tenant, owned=False)
        return docs if len(docs) >= 5 else []

    docs = await eventually(stored_by_metrics)
    assert {d["account_id"] for d in docs} == {"rival.bakery", "rival.fb"}


async def test_a_bad_export_names_every_bad_cell(platform: Platform) -> None:
    _, headers = await platform.new_agency("Bakers")
    client = await scenario.new_client(platform, headers)
    bad = (
        "Date,Network,Profile,Post-ID,Reactions\n"
        "2026-10-03,Myspace,Rival,p1,3\n"
        "2026-10-03,Instagram,Rival,p2,lots\n"
        "someday,Instagram,Rival,p3,4\n"
    )
    r = await platform.http["audit"].post(
        f"/clients/{client}/audit/imports/fanpage-karma",
        content=bad.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422
    locs = [(d["loc"][1], d["loc"][2]) for d in r.json()["detail"]]
    assert locs == [("row 2", "network"), ("row 3", "reactions"), ("row 4", "date")]
    r = await platform.http["audit"].post(
        f"/clients/{client}/audit/imports/fanpage-karma",
        content=b"Date,Profile\n2026-10-03,Rival\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422
    assert "missing column(s) network, post-id" in r.json()["detail"][0]["msg"]
