"""The read model's fold: cumulative readings replace (newest wins), increments add, rolling
windows are never added, reach is kept apart, a post moves to an earlier day, followers keep
their first and last reading of a bucket."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.audit.readmodel.fold import Fold
from shared.events import AnalyticsObserved


def obs(day: int, hour: int = 12, **kw: Any) -> AnalyticsObserved:
    metrics = kw.pop("metrics", {"likes": 10})
    base: dict[str, Any] = {
        "tenant_id": "t", "client_id": "c", "platform": "instagram", "account_id": "a",
        "entity_level": "post", "entity_id": "p1", "content_type": "reel",
        "observed_at": datetime(2026, 10, day, hour, tzinfo=UTC),
        "source": {"api": "test"},
        "metrics": [{"name": k, "value": v} for k, v in metrics.items()],
    }  # fmt: skip
    return AnalyticsObserved.new(producer="test", **(base | kw))


def month(fold: Fold) -> dict[str, Any]:
    return fold.buckets_by_key["t|c|instagram|a|M|2026-10"]


def day(fold: Fold, d: int) -> dict[str, Any] | None:
    return fold.buckets_by_key.get(f"t|c|instagram|a|D|2026-10-{d:02d}")


def test_a_newer_cumulative_reading_replaces_and_an_older_one_is_ignored() -> None:
    fold = Fold()
    for e in (obs(5, metrics={"likes": 10, "comments": 2}), obs(6, metrics={"likes": 25}),
              obs(5, 18, metrics={"likes": 99})):  # fmt: skip
        fold.apply(e)
    reel = month(fold)["types"]["reel"]
    assert (reel["posts"], reel["likes"], reel["engagements"]) == (1, 25, 25)
    assert reel.get("comments", 0) == 0  # the newest reading had no comments
    assert month(fold)["top"] == [["p1", "reel", "2026-10-05", Decimal(25)]]


def test_increments_add_and_rolling_windows_are_not_added() -> None:
    fold = Fold()
    fold.apply(obs(5, cumulative=False, metrics={"likes": 4}))
    fold.apply(obs(6, cumulative=False, metrics={"likes": 6}))
    assert month(fold)["types"]["reel"]["likes"] == 10
    other = Fold()
    for d in (5, 6):
        other.apply(obs(d, window="week", window_start=datetime(2026, 10, d, tzinfo=UTC),
                        metrics={"likes": 50}))  # fmt: skip
    assert "likes" not in month(other)["types"]["reel"]  # post counted, overlapping weeks not
    assert month(other)["types"]["reel"]["posts"] == 1


def test_day_windows_add_up_and_reach_stays_apart_from_engagements() -> None:
    fold = Fold()
    for d in (5, 6):
        fold.apply(obs(d, window="day", window_start=datetime(2026, 10, d, tzinfo=UTC),
                       metrics={"likes": 5, "reach": 100}))  # fmt: skip
    reel = month(fold)["types"]["reel"]
    assert (reel["likes"], reel["engagements"]) == (10, 10)
    assert "reach" not in reel  # reach is unique: never summed over day windows


def test_an_earlier_observation_moves_the_post_to_its_day() -> None:
    fold = Fold()
    fold.apply(obs(9, metrics={"likes": 30}))
    fold.apply(obs(4, metrics={"likes": 3}))  # older reading: values stay 30, day moves to 4
    assert day(fold, 9)["types"] == {}
    assert day(fold, 4)["types"]["reel"]["likes"] == 30
    assert month(fold)["types"]["reel"]["posts"] == 1


def test_a_known_publish_day_wins_over_the_observation_day() -> None:
    fold = Fold(dates={"t|c|instagram|a|p1": "2026-10-01"})
    fold.apply(obs(20))
    assert day(fold, 1)["types"]["reel"]["posts"] == 1
    assert day(fold, 20) is None


def test_followers_keep_the_first_and_last_reading() -> None:
    fold = Fold()
    for d, n in ((10, 500), (3, 450), (28, 530)):
        fold.apply(obs(d, entity_level="competitor_account", entity_id="a", owned=False,
                       metrics={"followers": n}))  # fmt: skip
    m = month(fold)
    assert (m["followers_first"], m["followers_last"]) == (450, 530)
    assert "types" not in m or m["types"] == {}
