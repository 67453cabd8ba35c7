"""How observations become the audit's read model (pure): per post its latest readings, and
per account and day (and month) per content type the posts and their metrics, plus the
follower level of the day.

Semantics follow the metrics service (`services/metrics/aggregation.py`):
- flows (likes, comments, shares, saves, views, impressions, clicks): a post's total is its
  lifetime reading when it has one, else the sum of its hour/day readings; rolling week and
  28-day windows overlap and are never added. A cumulative reading replaces the previous one
  of the same window (the newer `observed_at` wins); an incremental one adds.
- unique (reach): a post's lifetime reach is kept per post; bucket sums of it are an upper
  bound of unique reach and are never summed across windows.
- stock (followers): the day's and month's first and last reading, never added up.

A post counts on its publish day when the audit knows it (a listening-tool import records it),
else on the UTC day it was first observed (observations carry no publish time; pipelines poll
new posts within a day). If an earlier observation of it arrives later, the post moves to that
day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.events import AnalyticsObserved, EntityLevel, TimeWindow

FLOWS = ("likes", "comments", "shares", "saves", "views", "impressions", "clicks")
UNIQUE = ("reach",)
TRACKED = FLOWS + UNIQUE
ENGAGEMENTS = ("likes", "comments", "shares", "saves")
POST_LEVELS = frozenset({EntityLevel.POST, EntityLevel.STORY, EntityLevel.VIDEO})
ACCOUNT_LEVELS = frozenset({EntityLevel.ACCOUNT, EntityLevel.COMPETITOR_ACCOUNT})
ADDABLE_WINDOWS = frozenset({TimeWindow.HOUR, TimeWindow.DAY})
ZERO = Decimal(0)


def account_key(tenant_id: str, client_id: str, platform: str, account_id: str) -> str:
    return f"{tenant_id}|{client_id}|{platform}|{account_id}"


def post_key(e: AnalyticsObserved) -> str:
    return f"{account_key(e.tenant_id, e.client_id, e.platform.value, e.account_id)}|{e.entity_id}"


def day_key(account: str, day: str) -> str:
    return f"{account}|D|{day}"


def month_key(account: str, month: str) -> str:
    return f"{account}|M|{month}"


def year_key(account: str, year: str) -> str:
    return f"{account}|Y|{year}"


def engagements(metrics: dict[str, Decimal]) -> Decimal:
    """likes + comments + shares + saves (DOMAIN.md)."""
    return sum((metrics.get(m, ZERO) for m in ENGAGEMENTS), ZERO)


def post_totals(readings: dict[str, dict[str, Any]]) -> dict[str, Decimal]:
    """A post's figures from its readings per window (see the module docstring)."""
    lifetime = readings.get(TimeWindow.LIFETIME.value)
    if lifetime is not None:
        return {k: Decimal(v) for k, v in lifetime["m"].items()}
    totals: dict[str, Decimal] = {}
    for key, reading in readings.items():
        if key.split("@", 1)[0] in {w.value for w in ADDABLE_WINDOWS}:
            for name, value in reading["m"].items():
                if name in FLOWS:
                    totals[name] = totals.get(name, ZERO) + Decimal(value)
    return totals


def content_type(name: str | None) -> str:
    """A content type as a field name (no dots or dollars), "post" when none is given."""
    return (name or "post").replace(".", "_").replace("$", "_")


def _window_key(e: AnalyticsObserved) -> str:
    if e.window is TimeWindow.LIFETIME:
        return e.window.value
    start = e.window_start or e.observed_at
    return f"{e.window.value}@{int(start.timestamp())}"


def _values(e: AnalyticsObserved) -> dict[str, Decimal]:
    return {m.name: m.value for m in e.metrics if m.name in TRACKED}


TOP = 5  # posts kept per bucket, most engagements first: a period's top 5 come from these


@dataclass
class Bucket:
    """One account's day or month: per content type the posts and metric sums, the first and
    last follower reading, and the bucket's top posts (compact: id, type, day, engagements).
    A year bucket is the account's summary of the year, kept in the same write as its month:
    only what an audit reads (posts and engagements per type, followers, top posts), so an audit
    of whole years reads one small document per account and year instead of twelve."""

    key: str
    doc: dict[str, Any]

    def add(self, content_type: str, metrics: dict[str, Decimal], *, sign: int) -> None:
        types = self.doc.setdefault("types", {})
        row = types.setdefault(content_type, {"posts": 0})
        row["posts"] += sign
        for name, value in metrics.items() if self.doc["grain"] != "year" else ():
            row[name] = Decimal(row.get(name, ZERO)) + sign * value
        row["engagements"] = Decimal(row.get("engagements", ZERO)) + sign * engagements(metrics)
        if row["posts"] == 0 and all(Decimal(v) == 0 for k, v in row.items() if k != "posts"):
            del types[content_type]

    def rank_post(self, post: dict[str, Any] | None, entity_id: str) -> None:
        """Put the post (None: take it out) in the bucket's top list, as compact
        [entity_id, content_type, day, engagements] rows (bytes are what reads cost)."""
        top = [t for t in self.doc.get("top", []) if t[0] != entity_id]
        if post is not None:
            top.append([entity_id, post["content_type"], post["day"], post["engagements"]])
        top.sort(key=lambda t: (-Decimal(t[3]), t[0]))
        self.doc["top"] = top[:TOP]

    def follower_reading(self, value: Decimal, at: datetime) -> None:
        doc = self.doc
        if doc.get("followers_first_at") is None or at < doc["followers_first_at"]:
            doc["followers_first"], doc["followers_first_at"] = value, at
        if doc.get("followers_last_at") is None or at >= doc["followers_last_at"]:
            doc["followers_last"], doc["followers_last_at"] = value, at


@dataclass
class Fold:
    """The read model's affected documents while a batch is applied (loaded, then changed):
    posts, and day, month and year buckets (small documents: the database's cost follows
    bytes)."""

    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets_by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    touched_posts: set[str] = field(default_factory=set)
    dates: dict[str, str] = field(default_factory=dict)  # post key -> known publish day

    def buckets(self, e: AnalyticsObserved, day: str) -> list[Bucket]:
        """The day, month and year buckets of the observation's account for a day."""
        account = account_key(e.tenant_id, e.client_id, e.platform.value, e.account_id)
        scope = {
            "tenant_id": e.tenant_id,
            "client_id": e.client_id,
            "platform": e.platform.value,
            "account_id": e.account_id,
        }
        out = []
        grains = (
            (day_key(account, day), {"grain": "day", "day": day, "month": day[:7]}),
            (month_key(account, day[:7]), {"grain": "month", "month": day[:7]}),
            (year_key(account, day[:4]), {"grain": "year", "year": day[:4]}),
        )
        for key, grain in grains:
            if key not in self.buckets_by_key:
                self.buckets_by_key[key] = {"_id": key, **scope, **grain}
            out.append(Bucket(key, self.buckets_by_key[key]))
        return out

    def apply(self, e: AnalyticsObserved) -> None:
        """Fold one (not yet applied) observation in."""
        if e.entity_level in POST_LEVELS:
            self._post(e)
        elif e.entity_level in ACCOUNT_LEVELS:
            self._account(e)

    def _account(self, e: AnalyticsObserved) -> None:
        followers = next((m.value for m in e.metrics if m.name == "followers"), None)
        if followers is None:
            return
        for bucket in self.buckets(e, e.observed_at.date().isoformat()):
            bucket.follower_reading(followers, e.observed_at)

    def _post(self, e: AnalyticsObserved) -> None:
        key = post_key(e)
        post = self.posts.get(key)
        day = e.observed_at.date().isoformat()
        if post is None:
            day = self.dates.get(key, day)
            post = {
                "_id": key,
                "tenant_id": e.tenant_id,
                "client_id": e.client_id,
                "platform": e.platform.value,
                "account_id": e.account_id,
                "entity_id": e.entity_id,
                "owned": e.owned,
                "content_type": content_type(e.content_type),
                "day": day,
                "readings": {},
                "totals": {},
                "engagements": ZERO,
            }
        else:
            for bucket in self.buckets(e, post["day"]):
                bucket.add(post["content_type"], post_totals(post["readings"]), sign=-1)
                bucket.rank_post(None, e.entity_id)
        wkey = _window_key(e)
        reading = post["readings"].get(wkey)
        values = _values(e)
        if not e.cumulative and reading is not None:
            names = {*reading["m"], *values}
            merged = {k: Decimal(reading["m"].get(k, ZERO)) + values.get(k, ZERO) for k in names}
            post["readings"][wkey] = {"at": max(reading["at"], e.observed_at), "m": merged}
        elif reading is None or e.observed_at >= reading["at"]:
            post["readings"][wkey] = {"at": e.observed_at, "m": values}
        post["day"] = min(post["day"], day)
        if e.content_type:
            post["content_type"] = content_type(e.content_type)
        after = post_totals(post["readings"])
        post["totals"] = after
        post["engagements"] = engagements(after)
        self.posts[key] = post
        self.touched_posts.add(key)
        for bucket in self.buckets(e, post["day"]):
            bucket.add(post["content_type"], after, sign=1)
            bucket.rank_post(post, e.entity_id)


def affected(
    events: Iterable[AnalyticsObserved], posts: dict[str, dict[str, Any]], dates: dict[str, str]
) -> set[str]:
    """The day, month and year buckets a batch may touch (to load them before folding)."""
    keys: set[str] = set()
    for e in events:
        account = account_key(e.tenant_id, e.client_id, e.platform.value, e.account_id)
        on = {e.observed_at.date().isoformat()}
        if e.entity_level in POST_LEVELS:
            known = posts.get(post_key(e))
            on.update({known["day"]} if known else set())
            on.update({dates[post_key(e)]} if post_key(e) in dates else set())
        keys.update(
            k
            for d in on
            for k in (day_key(account, d), month_key(account, d[:7]), year_key(account, d[:4]))
        )
    return keys


def year_summary(months: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """An account's year summary rebuilt from its month buckets of that year (for a read
    model folded before year summaries existed): what the fold keeps in the year bucket."""
    months = sorted(months, key=lambda d: d["month"])
    first = months[0]
    account = account_key(first["tenant_id"], first["client_id"], first["platform"],
                          first["account_id"])  # fmt: skip
    year = first["month"][:4]
    doc: dict[str, Any] = {
        "_id": year_key(account, year),
        **{k: first[k] for k in ("tenant_id", "client_id", "platform", "account_id")},
        "grain": "year",
        "year": year,
    }
    bucket = Bucket(doc["_id"], doc)
    top: list[list[Any]] = []
    for m in months:
        for ct, row in m.get("types", {}).items():
            types = doc.setdefault("types", {})
            into = types.setdefault(ct, {"posts": 0, "engagements": ZERO})
            into["posts"] += int(row.get("posts", 0))
            into["engagements"] = Decimal(into["engagements"]) + Decimal(row.get("engagements", 0))
        for name in ("first", "last"):
            if m.get(f"followers_{name}_at") is not None:
                bucket.follower_reading(Decimal(m[f"followers_{name}"]), m[f"followers_{name}_at"])
        top += m.get("top", [])
    doc["types"] = {
        ct: row for ct, row in doc.get("types", {}).items()
        if row["posts"] != 0 or Decimal(row["engagements"]) != 0
    }  # fmt: skip
    top.sort(key=lambda t: (-Decimal(t[3]), t[0]))
    doc["top"] = top[:TOP]
    return doc
