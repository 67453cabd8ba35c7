"""Parse a Fanpage Karma post export (CSV) into observations (pure).

Fanpage Karma (named by the method's step 3) exports a dashboard's posts as CSV/Excel, one row
per post of every profile in the dashboard. The columns are read by name, case-insensitively,
with the names of Fanpage Karma's metric glossary (academy.fanpagekarma.com, "Facebook
Metrics" / posts: Reactions, Comments, Shares, post types Link/Video/Picture, Fans) and the
usual aliases; other columns are ignored:

| export column (aliases)                  | becomes                                        |
| ---------------------------------------- | ---------------------------------------------- |
| Network (Platform)                       | platform (Facebook, Instagram, X/Twitter, ...) |
| Profile-ID (Profile ID, Profile id)      | account id (else Profile)                      |
| Profile (Profile name, Page)             | account name                                   |
| Post-ID (Post ID, ID, Link)              | post id                                        |
| Date (Published, Created)                | the post's publish day                         |
| Type (Post type)                         | content type, lower case (picture, video, ...) |
| Reactions (Likes, Reactions total)       | likes                                          |
| Comments / Shares / Saves                | comments / shares / saves                      |
| Fans (Followers, Page fans)              | the profile's followers at the export instant  |

Each post row becomes a lifetime, cumulative post observation as of the export instant; each
profile with fans becomes one follower reading. Every refused cell is reported with its row
(1 = the header) and column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from shared.events import Platform

COLUMNS: dict[str, tuple[str, ...]] = {
    "network": ("network", "platform"),
    "profile_id": ("profile-id", "profile id", "profile_id"),
    "profile": ("profile", "profile name", "page"),
    "post_id": ("post-id", "post id", "post_id", "id", "link"),
    "date": ("date", "published", "created"),
    "type": ("type", "post type"),
    "likes": ("reactions", "likes", "reactions total"),
    "comments": ("comments",),
    "shares": ("shares",),
    "saves": ("saves",),
    "followers": ("fans", "followers", "page fans"),
}
NETWORKS = {
    "facebook": Platform.FACEBOOK, "instagram": Platform.INSTAGRAM, "x": Platform.X,
    "twitter": Platform.X, "linkedin": Platform.LINKEDIN, "tiktok": Platform.TIKTOK,
    "youtube": Platform.YOUTUBE,
}  # fmt: skip
METRICS = ("likes", "comments", "shares", "saves")
MAX_ROWS = 200_000


@dataclass(frozen=True)
class PostRow:
    platform: Platform
    account_id: str
    name: str
    post_id: str
    day: date
    content_type: str
    metrics: dict[str, Decimal]


@dataclass
class Parsed:
    posts: list[PostRow] = field(default_factory=list)
    followers: dict[tuple[Platform, str], tuple[str, Decimal]] = field(default_factory=dict)
    errors: list[dict[str, object]] = field(default_factory=list)


def _header_map(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for key, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in names:
                found[key] = names.index(alias)
                break
    return found


def _count(raw: str) -> Decimal:
    text = raw.strip().replace(" ", "").replace("\u00a0", "")
    if not text:
        return Decimal(0)
    if "," in text and "." not in text and len(text.split(",")[-1]) == 3:
        text = text.replace(",", "")  # 1,234 (thousands)
    value = Decimal(text.replace(",", "."))
    if not value.is_finite() or value < 0 or value > 10**12:
        raise ValueError("must be a count between 0 and 10^12")
    return value


def _day(raw: str) -> date:
    text = raw.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d.%m.%Y %H:%M", "%d.%m.%Y",
                "%m/%d/%Y %H:%M", "%m/%d/%Y"):  # fmt: skip
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return datetime.fromisoformat(text).date()


def parse(text: str) -> Parsed:
    """Rows of a Fanpage Karma post export; errors name row, column and why."""
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    out = Parsed()
    # newline="": a carriage return inside a cell is the cell's, not the end of a line
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        rows.extend(reader)
    except csv.Error as e:  # e.g. a NUL byte or a field past csv's size limit
        out.errors.append({"row": reader.line_num, "column": None, "msg": f"unreadable: {e}"})
        return out
    if not rows:
        out.errors.append({"row": 1, "column": None, "msg": "the file is empty"})
        return out
    cols = _header_map(rows[0])
    missing = [c for c in ("network", "post_id", "date") if c not in cols]
    if "profile_id" not in cols and "profile" not in cols:
        missing.append("profile")
    if missing:
        out.errors.append({
            "row": 1, "column": None,
            "msg": "missing column(s) " + ", ".join(COLUMNS[m][0] for m in missing),
        })  # fmt: skip
        return out
    if len(rows) - 1 > MAX_ROWS:
        out.errors.append({"row": 1, "column": None, "msg": f"more than {MAX_ROWS} rows"})
        return out
    for n, row in enumerate(rows[1:], start=2):
        if any(cell.strip() for cell in row):
            _row(n, row, cols, out)
    return out


def _row(n: int, row: list[str], cols: dict[str, int], out: Parsed) -> None:
    """Parse one post row into `out` (or one error naming its column)."""

    def cell(key: str) -> str:
        i = cols.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    current = "network"
    try:
        network = cell("network").lower()
        if network not in NETWORKS:
            raise KeyError("network")
        platform = NETWORKS[network]
        account = cell("profile_id") or cell("profile")
        post_id = cell("post_id")
        if not account or not post_id:
            raise KeyError("profile" if not account else "post_id")
        current = "date"
        day = _day(cell("date"))
        metrics = {}
        for m in (m for m in METRICS if m in cols):
            current = COLUMNS[m][0]
            metrics[m] = _count(cell(m))
        if "followers" in cols and cell("followers"):
            current = "fans"
            out.followers[(platform, account)] = (cell("profile"), _count(cell("followers")))
    except KeyError as e:
        key = str(e.args[0])
        why = "unknown network" if key == "network" else "is empty"
        out.errors.append({"row": n, "column": COLUMNS[key][0], "msg": why})
        return
    except (ValueError, ArithmeticError) as e:
        out.errors.append({"row": n, "column": current, "msg": str(e) or "unreadable"})
        return
    out.posts.append(
        PostRow(
            platform=platform,
            account_id=account[:128],
            name=cell("profile")[:200],
            post_id=post_id[:128],
            day=day,
            content_type=(cell("type") or "post").lower()[:64],
            metrics=metrics,
        )
    )
