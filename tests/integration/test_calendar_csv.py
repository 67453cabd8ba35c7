"""CSV round trip on the real database and broker: export a generated month, fill two slots,
add one by hand and send one bad row; the report names the bad row's field, the rest is
stored (filled slots publish PostScheduled), the export shows it, and a second import of the
same file changes nothing more."""

from __future__ import annotations

import csv
import io
import json

from shared import topics
from tests.integration.conftest import Platform
from tests.integration.test_calendar_generation import setup

RANGE = "start=2027-02-01&end=2027-03-01"


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def write(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def test_csv_round_trip_with_a_bad_row(platform: Platform) -> None:
    tenant, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]
    await cal.post(f"/clients/{client_id}/calendar/generate",
                   json={"strategy_id": sid, "start": "2027-02-01", "end": "2027-03-01"},
                   headers=headers)  # fmt: skip
    exported = await cal.get(f"/clients/{client_id}/calendar.csv?{RANGE}", headers=headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = read(exported.text)
    assert len(rows) > 20 and {r["status"] for r in rows} <= {"open", "reactive"}
    planned = [r for r in rows if r["kind"] == "planned"]
    planned[0]["caption"] = "Cinnamon buns, warm"
    planned[0]["media"] = "img-1 img-2"
    planned[1]["caption"] = "Meet our baker"
    planned[1]["pillar"] = "Community"
    new = dict.fromkeys(rows[0], "") | {"platform": "linkedin", "local": "2027-02-10T08:15",
                                         "pillar": "Offers", "caption": "B2B catering"}  # fmt: skip
    bad = dict.fromkeys(rows[0], "") | {"platform": "instagram", "local": "2027-02-11T10:00",
                                         "pillar": "Memes"}  # fmt: skip
    body = write([planned[0], planned[1], new, bad])

    report = await cal.post(f"/imports/calendar/{client_id}", content=body,
                            headers=headers | {"content-type": "text/csv"})  # fmt: skip
    assert report.status_code == 200, report.text
    assert report.json() == {
        "created": 1, "updated": 1, "filled": 3, "rejected": 1,
        "errors": [{"row": 4, "field": "pillar",
                    "reason": "pillar 'Memes' is not in the strategy"}],
    }  # fmt: skip

    after = {r["slot_id"]: r for r in read((await cal.get(
        f"/clients/{client_id}/calendar.csv?{RANGE}", headers=headers)).text)}  # fmt: skip
    first = after[planned[0]["slot_id"]]
    assert (first["caption"], first["media"], first["status"]) == (
        "Cinnamon buns, warm",
        "img-1 img-2",
        "scheduled",
    )
    assert after[planned[1]["slot_id"]]["pillar"] == "Community"
    added = [r for r in after.values() if r["kind"] == "manual"]
    assert [(r["platform"], r["local"], r["caption"]) for r in added] == [
        ("linkedin", "2027-02-10T08:15", "B2B catering")
    ]
    assert len(after) == len(rows) + 1

    again = await cal.post(f"/imports/calendar/{client_id}", content=body,
                           headers=headers | {"content-type": "text/csv"})  # fmt: skip
    assert (again.json()["created"], again.json()["filled"], again.json()["updated"]) == (0, 0, 0)

    records = await platform.read_topic(topics.POSTS_SCHEDULED, expect=3)
    assert sorted(json.loads(r.value)["platform"] for r in records) == sorted(
        [planned[0]["platform"], planned[1]["platform"], "linkedin"]
    )
    assert {json.loads(r.value)["tenant_id"] for r in records} == {tenant}

    _, other = await platform.new_agency("Other")
    assert (await cal.post(f"/imports/calendar/{client_id}", content=body,
                           headers=other)).status_code == 404  # fmt: skip
    assert (await cal.get(f"/clients/{client_id}/calendar.csv", headers=other)).status_code == 404
