"""CSV rows in and out (per-row report like the metrics import), and the request guard letting
only the feed paths through without an API key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from services.calendar.planning import csv_io
from services.calendar.planning.models import Slot
from shared.http_limits import HttpLimits, RequestGuard

KNOWN: dict[str, Any] = {"pillars": {"Recipes"}, "types": {"visual"}, "stages": {"awareness"}}


def test_rows_are_parsed_and_every_bad_field_is_reported() -> None:
    text = (
        "slot_id,platform,local,pillar,content_type,stage,caption,media,link\n"
        "sl-1,,,Recipes,,,Fresh bread,a b,\n"
        ",instagram,2027-02-10T09:00,,visual,,,,\n"
        ",myspace,2027-02-10T25:00,Memes,video,,,,\n"
        "\n"
        ",x,2027-02-10T09:00+01:00,,,,,,\n"
        "only,two\n"
    )
    rows, errors = csv_io.parse(text, **KNOWN)

    assert [(r.row, r.slot_id, r.caption, r.media) for r in rows] == [
        (1, "sl-1", "Fresh bread", ("a", "b")),
        (2, None, None, ()),
    ]
    assert [(e.row, e.field) for e in errors] == [
        (3, "platform"), (3, "local"), (3, "pillar"), (3, "content_type"),
        (5, "local"), (6, "row"),
    ]  # fmt: skip
    assert errors[2].reason == "pillar 'Memes' is not in the strategy"
    assert errors[4].reason == "a wall time without offset (the client's zone applies)"


def test_a_missing_required_column_is_reported_on_the_header() -> None:
    rows, errors = csv_io.parse("platform,caption\nx,hi\n", pillars=None, types=None, stages=None)
    assert rows == []
    assert [(e.row, e.field, e.reason) for e in errors] == [
        (0, "slot_id", "required column missing"),
        (0, "local", "required column missing"),
    ]


def test_export_then_parse_round_trips_the_slot() -> None:
    slot = Slot(slot_id="sl-9", tenant_id="t", client_id="c", strategy_id="st", strategy_version=1,
                platform="instagram", kind="planned", local="2027-02-10T09:00",
                local_date="2027-02-10", timezone="Europe/Berlin",
                at=datetime(2027, 2, 10, 8, tzinfo=UTC), pillar="Recipes", content_type="visual",
                stage="awareness")  # fmt: skip
    text = csv_io.export([slot], {})

    (row,), errors = csv_io.parse(text, **KNOWN)
    assert errors == []
    assert (row.slot_id, row.platform, row.local, row.pillar) == (
        "sl-9",
        "instagram",
        datetime(2027, 2, 10, 9),
        "Recipes",
    )


async def test_only_feed_paths_pass_the_guard_without_a_key() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def nobody(key: str) -> None:
        return None

    limits = HttpLimits(max_body_bytes=1000, max_upload_bytes=1000, max_in_flight=5,
                        rate_per_s=1.0, burst=10)  # fmt: skip
    guard = RequestGuard(app, authenticate=nobody, limits=limits)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard),
                                 base_url="http://calendar") as http:  # fmt: skip
        assert (await http.get("/feeds/abc.ics")).status_code == 200
        for path in ("/feedsabc.ics", "/clients/c/feeds", "/x/feeds/abc.ics"):
            assert (await http.get(path)).status_code == 401, path
