"""Generation from the bakery strategy (Berlin, first half of 2027): deterministic, the mix
within one post of target per dimension and 4-week block, key dates from the holidays package,
series, reactive share, and 09:00 that stays 09:00 local across the spring transition."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import holidays

from services.calendar.planning.generate import block_of, generate
from services.calendar.planning.models import Slot, SlotKind
from services.calendar.strategy.models import Strategy, StrategyIn
from tests.unit.calendar.strategies import strategy_body

START, END = date(2027, 1, 1), date(2027, 7, 1)


def strategy(**changes: object) -> Strategy:
    spec = StrategyIn.model_validate(strategy_body(**changes))
    created = datetime(2026, 12, 1, tzinfo=UTC)
    return Strategy(strategy_id="st-1", tenant_id="t-1", client_id="cl-1", version=1,
                    end=spec.end, spec=spec, created_at=created)  # fmt: skip


def slots(**changes: object) -> list[Slot]:
    return generate(strategy(**changes), zone_name="Europe/Berlin", start=START, end=END)


def test_the_same_version_and_range_give_the_same_slots() -> None:
    first, second = slots(), slots()

    assert first == second
    assert len({s.slot_id for s in first}) == len(first)
    other = generate(strategy().model_copy(update={"version": 2}), zone_name="Europe/Berlin",
                     start=START, end=END)  # fmt: skip
    assert {s.slot_id for s in other}.isdisjoint({s.slot_id for s in first})


def test_the_mix_is_within_one_post_of_target_per_dimension_and_4_weeks() -> None:
    spec = strategy().spec
    targets = {
        "pillar": {p.name: p.share for p in spec.pillars},
        "content_type": {t.name: t.share for t in spec.content_types},
        "stage": {s.stage.value: s.share for s in spec.stages},
    }
    blocks: dict[int, list[Slot]] = defaultdict(list)
    for s in slots():
        if s.kind is not SlotKind.REACTIVE:
            blocks[block_of(date.fromisoformat(s.local_date), START)].append(s)
    assert len(blocks) == 7
    for block in blocks.values():
        for field, shares in targets.items():
            counts = Counter(getattr(s, field) for s in block)
            for name, share in shares.items():
                target = share * len(block) / 100
                assert abs(counts[name] - target) < 1, (field, name, counts[name], target)


def test_holidays_of_berlin_come_from_the_package_themed_or_blacked_out() -> None:
    made = slots()
    by_day = defaultdict(list)
    for s in made:
        by_day[s.local_date].append(s)
    berlin = holidays.country_holidays("DE", subdiv="BE", years=2027)
    good_friday = next(d for d, name in berlin.items() if name == "Good Friday")
    assert good_friday == date(2027, 3, 26)
    assert by_day[good_friday.isoformat()] == []  # blackout (override), though a Friday
    for day, name in berlin.items():
        if START <= day < END and name != "Good Friday":
            assert by_day[day.isoformat()], name  # themed: at least one slot
            assert all(s.key_date == name for s in by_day[day.isoformat()])
    assert [s.key_date for s in by_day["2027-03-15"]] == ["Spring launch"]


def test_series_take_their_day_and_keep_pillar_and_type() -> None:
    tuesdays = [s for s in slots() if s.series == "#TastyTuesday"]

    assert len(tuesdays) == 26
    assert {s.local[11:] for s in tuesdays} == {"12:00"}
    assert {(s.pillar, s.content_type) for s in tuesdays} == {("Recipes", "video_how_to")}
    assert all(datetime.fromisoformat(s.local).weekday() == 1 for s in tuesdays)


def test_a_share_of_each_week_is_left_open_for_reactive_posts() -> None:
    made = slots()
    reactive = [s for s in made if s.kind is SlotKind.REACTIVE]
    planned = [s for s in made if s.kind in {SlotKind.PLANNED, SlotKind.REACTIVE}]

    assert abs(Decimal(len(reactive)) / len(planned) - Decimal("0.1")) < Decimal("0.05")
    assert all(s.pillar is None and s.status == "reactive" for s in reactive)


def test_nine_stays_nine_local_across_the_spring_transition() -> None:
    instagram = [s for s in slots() if s.platform == "instagram" and s.kind == "planned"]
    before = next(
        s for s in instagram if s.local == "2027-03-26T09:00" or s.local == "2027-03-24T09:00"
    )
    after = next(s for s in instagram if s.local == "2027-03-29T09:00")

    assert before.at.hour == 8 and after.at.hour == 7  # CET then CEST
    assert {s.local[11:] for s in instagram} == {"09:00"}


def test_a_range_outside_the_period_is_clipped() -> None:
    made = generate(strategy(), zone_name="Europe/Berlin", start=date(2026, 12, 1),
                    end=date(2027, 1, 15))  # fmt: skip
    assert min(s.local_date for s in made) >= "2027-01-01"
    assert max(s.local_date for s in made) < "2027-01-15"


def test_a_zone_whose_rules_changed_in_the_range() -> None:
    """Mexico City kept DST until 30 October 2022, then stayed on CST (-6) all year: 09:00 is
    14:00 UTC in July 2022 and 15:00 UTC in July 2023, and 09:00 local on every day."""
    made = []
    for year in (2022, 2023):
        spec = StrategyIn.model_validate(
            strategy_body(period="year", start=f"{year}-01-01", holidays=None, key_dates=[])
        )
        created = datetime(2021, 1, 1, tzinfo=UTC)
        version = Strategy(strategy_id="st-mx", tenant_id="t", client_id="c", version=1,
                           end=spec.end, spec=spec, created_at=created)  # fmt: skip
        made += generate(version, zone_name="America/Mexico_City", start=spec.start, end=spec.end)
    instagram = {s.local: s for s in made if s.platform == "instagram" and s.kind != "series"}
    assert instagram["2022-07-11T09:00"].at == datetime(2022, 7, 11, 14, tzinfo=UTC)
    assert instagram["2023-07-10T09:00"].at == datetime(2023, 7, 10, 15, tzinfo=UTC)
    assert instagram["2022-01-10T09:00"].at == datetime(2022, 1, 10, 15, tzinfo=UTC)
    assert {s.local[11:] for s in instagram.values()} == {"09:00"}
