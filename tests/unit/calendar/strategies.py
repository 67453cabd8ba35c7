"""A realistic strategy request (a Berlin bakery), shared by the calendar tests."""

from __future__ import annotations

from typing import Any


def strategy_body(**changes: Any) -> dict[str, Any]:
    """Half a year from 2027-01-01: Instagram 3 a week, Facebook 2 a week, TikTok on trial."""
    body: dict[str, Any] = {
        "period": "half_year",
        "start": "2027-01-01",
        "goal_ids": ["go-1"],
        "personas": [
            {
                "name": "Busy parent",
                "age_min": 28,
                "age_max": 45,
                "occupation": "office worker",
                "income_band": "40-60k EUR",
                "aspirations": ["healthy breakfast"],
                "pain_points": ["no time in the morning"],
                "platforms": [{"platform": "instagram", "why": ["inspiration"]}],
                "brand_helps": "fresh bread ready at 7",
            }
        ],
        "platforms": [
            {
                "platform": "instagram",
                "frequency": {"per_week": 3, "days": ["MO", "WE", "FR"], "times": ["09:00"]},
            },
            {"platform": "facebook", "frequency": {"per_week": 2}},
            {
                "platform": "tiktok",
                "role": "trial",
                "trial_ends": "2027-03-31",
                "success": {"metric": "followers", "target": "500"},
                "frequency": {"rrules": ["FREQ=WEEKLY;BYDAY=SA;BYHOUR=11;BYMINUTE=30"]},
            },
        ],
        "pillars": [
            {"name": "Recipes", "share": 40},
            {"name": "Behind the scenes", "share": 30},
            {"name": "Offers", "share": 20},
            {"name": "Community", "share": 10},
        ],
        "content_types": [
            {"name": "visual", "share": 50},
            {"name": "video_how_to", "share": 30},
            {"name": "quiz_poll", "share": 20},
        ],
        "stages": [
            {"stage": "awareness", "share": 40},
            {"stage": "consideration", "share": 30},
            {"stage": "conversion", "share": 20},
            {"stage": "retention", "share": 10},
        ],
        "series": [
            {
                "name": "#TastyTuesday",
                "platform": "instagram",
                "rrule": "FREQ=WEEKLY;BYDAY=TU",
                "at": "12:00",
                "pillar": "Recipes",
                "content_type": "video_how_to",
            }
        ],
        "holidays": {"country": "DE", "subdivision": "BE",
                     "overrides": {"Good Friday": "blackout"}},
        "key_dates": [{"day": "2027-03-15", "name": "Spring launch", "kind": "launch"}],
        "buffer": [{"title": "Our sourdough story", "pillar": "Behind the scenes",
                    "content_type": "visual"}],
        "reactive_share": 10,
    }  # fmt: skip
    return body | changes
