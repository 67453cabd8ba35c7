"""A client's calendar as RFC 5545 iCalendar (via `icalendar`): one VEVENT per slot at its
local wall time with a TZID, and the VTIMEZONE of that zone, so calendar apps show 09:00 as
09:00 whatever their own zone and DST."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from services.calendar.models import Client, Post
from services.calendar.planning.models import Slot

PRODID = "-//SocialOps//calendar//EN"
SLOT_MINUTES = 15


def _summary(slot: Slot, post: Post | None) -> str:
    head = f"[{slot.platform.value}]"
    if post is not None and post.caption:
        return f"{head} {post.caption.splitlines()[0][:120]}"
    what = " · ".join(v for v in (slot.series, slot.pillar, slot.content_type) if v)
    return f"{head} {what or slot.kind.value}"


def _description(slot: Slot, post: Post | None) -> str:
    lines = [f"status: {slot.status}", f"kind: {slot.kind.value}"]
    for label, value in (
        ("pillar", slot.pillar),
        ("content type", slot.content_type),
        ("journey stage", slot.stage),
        ("series", slot.series),
        ("key date", slot.key_date),
        ("evergreen fallback", slot.buffer_title),
    ):
        if value:
            lines.append(f"{label}: {value}")
    if slot.dst is not None:
        lines.append(f"DST: {slot.dst.value} (planned {slot.planned_local})")
    if post is not None and post.link:
        lines.append(f"link: {post.link}")
    return "\n".join(lines)


def feed(client: Client, slots: list[Slot], posts: dict[str, Post], *, now: datetime) -> bytes:
    """The iCalendar document of these slots (posts by id fill in captions)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{client.name} (SocialOps)")
    cal.add("x-wr-timezone", client.timezone)
    for slot in slots:
        post = posts.get(slot.post_id) if slot.post_id else None
        start = slot.at.astimezone(ZoneInfo(slot.timezone))
        event = Event()
        event.add("uid", f"{slot.slot_id}@socialops")
        event.add("dtstamp", now)
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=SLOT_MINUTES))
        event.add("summary", _summary(slot, post))
        event.add("description", _description(slot, post))
        event.add("categories", [v for v in (slot.pillar, slot.platform.value) if v])
        event.add(
            "status",
            "CANCELLED"
            if slot.status == "cancelled"
            else "CONFIRMED"
            if post is not None
            else "TENTATIVE",
        )
        event.add("sequence", slot.version)
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
