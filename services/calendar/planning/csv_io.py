"""CSV exchange of a client's calendar: every slot with its post's content out; rows in, each
either naming a `slot_id` (edit it, fill it with a caption) or a platform and local time (a new
slot, added by hand). Bad rows are reported with row, field and reason, never fatal; rows are
numbered from 1 after the header (row 0), like the metrics CSV import.

Columns: slot_id, platform, local (ISO 8601 wall time without offset), timezone, at (UTC,
export only), kind, pillar, content_type, stage, series, key_date, status, post_id, caption,
media (references separated by spaces), link, dst.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from services.calendar.models import Post
from services.calendar.planning.models import Slot
from shared.events import Platform

COLUMNS = (
    "slot_id",
    "platform",
    "local",
    "timezone",
    "at",
    "kind",
    "pillar",
    "content_type",
    "stage",
    "series",
    "key_date",
    "status",
    "post_id",
    "caption",
    "media",
    "link",
    "dst",
)
IMPORTED = (
    "slot_id",
    "platform",
    "local",
    "pillar",
    "content_type",
    "stage",
    "caption",
    "media",
    "link",
)
MAX_ROWS = 10_000
MAX_CAPTION = 5000


class CsvRowError(BaseModel):
    """Why one field of one row was rejected (row 0 is the header)."""

    model_config = ConfigDict(frozen=True)

    row: int
    field: str
    reason: str


class SlotRow(BaseModel):
    """One valid imported row."""

    model_config = ConfigDict(frozen=True)

    row: int
    slot_id: str | None
    platform: Platform | None
    local: datetime | None
    pillar: str | None
    content_type: str | None
    stage: str | None
    caption: str | None
    media: tuple[str, ...]
    link: str | None


def export(slots: Iterable[Slot], posts: dict[str, Post]) -> str:
    """The CSV text of these slots, with their posts' content."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in slots:
        post = posts.get(s.post_id) if s.post_id else None
        writer.writerow(
            [
                s.slot_id,
                s.platform.value,
                s.local,
                s.timezone,
                s.at.isoformat(),
                s.kind.value,
                s.pillar or "",
                s.content_type or "",
                s.stage or "",
                s.series or "",
                s.key_date or "",
                s.status,
                s.post_id or "",
                post.caption if post else "",
                " ".join(post.media) if post else "",
                (post.link or "") if post else "",
                s.dst.value if s.dst else "",
            ]
        )
    return out.getvalue()


def parse(
    text: str, *, pillars: set[str] | None, types: set[str] | None, stages: set[str] | None
) -> tuple[list[SlotRow], list[CsvRowError]]:
    """Valid rows and the errors of the others. Pillars, types and stages are checked against
    the strategy's when given (None: no strategy to check against)."""
    rows: list[SlotRow] = []
    errors: list[CsvRowError] = []
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        missing = [c for c in ("slot_id", "platform", "local") if c not in header]
        for column in missing:
            errors.append(CsvRowError(row=0, field=column, reason="required column missing"))
        if missing:
            return rows, errors
        for number, cells in enumerate(reader, start=1):
            if number > MAX_ROWS:
                errors.append(
                    CsvRowError(
                        row=number, field="row", reason=f"more than {MAX_ROWS} rows; rest not read"
                    )
                )
                break
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                reason = f"{len(cells)} cells but the header has {len(header)} columns"
                errors.append(CsvRowError(row=number, field="row", reason=reason))
                continue
            row, row_errors = _row(
                number,
                dict(zip(header, cells, strict=True)),
                {"pillar": pillars, "content_type": types, "stage": stages},
            )
            errors += row_errors
            if row is not None:
                rows.append(row)
    except csv.Error as e:
        errors.append(CsvRowError(row=reader.line_num, field="row", reason=f"not CSV: {e}"))
    return rows, errors


def _place(
    values: dict[str, str], fail: Callable[[str, str], None]
) -> tuple[Platform | None, datetime | None]:
    """The row's platform and naive local time, each None when absent or bad (reported)."""
    platform = local = None
    if values.get("platform"):
        try:
            platform = Platform(values["platform"].lower())
        except ValueError:
            fail(
                "platform",
                f"unknown platform '{values['platform']}' (known: {', '.join(Platform)})",
            )
    if values.get("local"):
        try:
            local = datetime.fromisoformat(values["local"])
        except ValueError:
            fail("local", f"not an ISO 8601 local time: '{values['local']}'")
        else:
            if local.tzinfo is not None:
                fail("local", "a wall time without offset (the client's zone applies)")
                local = None
    return platform, local


def _row(
    number: int, cells: dict[str, str], known: dict[str, set[str] | None]
) -> tuple[SlotRow | None, list[CsvRowError]]:
    values = {k: v.strip() for k, v in cells.items() if k in IMPORTED}
    errors: list[CsvRowError] = []

    def fail(field: str, reason: str) -> None:
        errors.append(CsvRowError(row=number, field=field, reason=reason))

    slot_id = values.get("slot_id") or None
    platform, local = _place(values, fail)
    if slot_id is None:
        for field, value in (("platform", platform), ("local", local)):
            if value is None and not any(e.field == field for e in errors):
                fail(field, "required for a new slot (no slot_id)")
    for field, names in known.items():
        value = values.get(field) or None
        if value is not None and names is not None and value not in names:
            fail(field, f"{field.replace('_', ' ')} '{value}' is not in the strategy")
    caption = values.get("caption") or None
    if caption is not None and len(caption) > MAX_CAPTION:
        fail("caption", f"longer than {MAX_CAPTION} characters")
    if errors:
        return None, errors
    return SlotRow(
        row=number,
        slot_id=slot_id,
        platform=platform,
        local=local,
        pillar=values.get("pillar") or None,
        content_type=values.get("content_type") or None,
        stage=values.get("stage") or None,
        caption=caption,
        media=tuple(values.get("media", "").split()),
        link=values.get("link") or None,
    ), []
