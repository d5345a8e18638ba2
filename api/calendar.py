"""Calendar files (.ics, RFC 5545) built with icalendar, so that features need not import it.
icalendar (about 3 MiB) is imported on the first file built, not when the bot starts."""
from __future__ import annotations

from datetime import datetime, timezone

from api.context import Attachment

PRODID = "-//Kring//events//EN"


def calendar_file(filename: str, *, uid: str, sequence: int, stamp: datetime, start: datetime, end: datetime,
                  summary: str, description: str, location: str | None = None, url: str | None = None,
                  cancelled: bool = False) -> Attachment:
    """One VEVENT with its times in UTC; the same uid with a higher sequence updates the entry."""
    from icalendar import Calendar
    from icalendar import Event as VEvent

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    vevent = VEvent()
    vevent.add("uid", uid)
    vevent.add("sequence", sequence)
    vevent.add("dtstamp", stamp.astimezone(timezone.utc))
    vevent.add("dtstart", start.astimezone(timezone.utc))
    vevent.add("dtend", end.astimezone(timezone.utc))
    vevent.add("summary", summary)
    vevent.add("description", description)
    if location:
        vevent.add("location", location)
    if url:
        vevent.add("url", url)
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    cal.add_component(vevent)
    return Attachment(filename, "text/calendar", cal.to_ical())
