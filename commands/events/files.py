"""Files the events feature hands out: the .ics calendar entry, the CSV of registrations and
the CSV of questions sent ahead."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import timezone

from icalendar import Calendar
from icalendar import Event as VEvent

from bot.api import Attachment
from storage.models import Event, EventWorkshop, Registration

PRODID = "-//Kring//events//EN"
_URL = re.compile(r"https?://\S+")


def ics(event: Event, *, workshop: EventWorkshop | None = None, cancelled: bool = False) -> Attachment:
    """One VEVENT with its times in UTC; the uid is stable so a later file updates the entry.
    Stamped with the event's last change, not the moment of sending: everyone told about the
    same version of the event gets the same bytes, which the bot uploads once (bot/uploads.py)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    vevent = VEvent()
    vevent.add("uid", f"{event.slug}@kring")
    vevent.add("sequence", event.revision)
    vevent.add("dtstamp", event.updated_at.astimezone(timezone.utc))
    vevent.add("dtstart", event.starts_at.astimezone(timezone.utc))
    vevent.add("dtend", event.ends_at.astimezone(timezone.utc))
    summary = f"{event.title} — {workshop.name}" if workshop else event.title
    vevent.add("summary", summary)
    description = [event.purpose]
    if event.programme:
        description += ["", event.programme]
    vevent.add("description", "\n".join(description))
    if event.place:
        vevent.add("location", event.place)
        link = _URL.search(event.place)
        if link:
            vevent.add("url", link.group(0))
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    cal.add_component(vevent)
    return Attachment(f"{event.slug}.ics", "text/calendar", cal.to_ical())


def csv_export(event: Event, rows: Iterable[Registration], workshops: dict[int, EventWorkshop],
               positions: dict[int, int]) -> Attachment:
    """Registrations as a spreadsheet: one line per place, times in UTC (ISO 8601)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["event", "matrix_id", "workshop", "state", "waitlist_position", "registered_at_utc",
                     "offer_expires_at_utc"])
    for r in rows:
        workshop = workshops.get(r.slot)
        writer.writerow([
            event.slug, r.user_id, _cell(workshop.name) if workshop else "", r.state,
            positions.get(r.id, ""), r.arrived_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
            r.offer_expires_at.astimezone(timezone.utc).isoformat(timespec="seconds") if r.offer_expires_at else "",
        ])
    return Attachment(f"{event.slug}-registrations.csv", "text/csv", out.getvalue().encode("utf-8"))


def questions_csv(event: Event, rows: Iterable[tuple[str, str, str]]) -> Attachment:
    """The questions sent ahead, whole: (asked, by, text) per line, as the chat list shows them
    (an anonymous one with its day only)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["event", "asked", "by", "question"])
    for asked, by, text in rows:
        writer.writerow([event.slug, asked, by, _cell(text)])
    return Attachment(f"{event.slug}-questions.csv", "text/csv", out.getvalue().encode("utf-8"))


def _cell(value: str) -> str:
    """No spreadsheet formula from a name someone typed (Matrix IDs are plain by their syntax)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
