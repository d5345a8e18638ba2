"""Files the events feature hands out: the .ics calendar entry, the CSV of registrations and
the CSV of questions sent ahead."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import timezone

from api import Attachment, Translator
from api.calendar import calendar_file
from storage.models import Event, EventWorkshop, Registration

_URL = re.compile(r"https?://\S+")


def ics(event: Event, t: Translator, *, workshop: EventWorkshop | None = None, cancelled: bool = False) -> Attachment:
    """The event's calendar entry in the reader's language; stamped with the event's last change,
    not the moment of sending: everyone told about the same version of the event in the same
    language gets the same bytes, which the bot uploads once (bot/matrix/uploads.py)."""
    description = [t("events.ics.purpose", purpose=event.purpose).plain]
    if event.expectations:
        description.append(t("events.ics.expectations", expectations=event.expectations).plain)
    if event.programme:
        description.append(t("events.ics.programme", programme=event.programme).plain)
    link = _URL.search(event.place) if event.place else None
    summary = t("events.ics.summary_workshop", title=event.title, workshop=workshop.name) if workshop else None
    return calendar_file(
        f"{event.slug}.ics", uid=f"{event.slug}@kring", sequence=event.revision, stamp=event.updated_at,
        start=event.starts_at, end=event.ends_at, summary=summary.plain if summary else event.title,
        description="\n\n".join(description), location=event.place or None,
        url=link.group(0) if link else None, cancelled=cancelled,
    )


def csv_export(event: Event, rows: Iterable[Registration], workshops: dict[int, EventWorkshop],
               positions: dict[int, int], t: Translator) -> Attachment:
    """Registrations as a spreadsheet: one line per place, times in UTC (ISO 8601); the column
    headers in the reader's language."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_headers(t, "events.csv.registrations"))
    for r in rows:
        workshop = workshops.get(r.slot)
        writer.writerow([
            event.slug, r.user_id, _cell(workshop.name) if workshop else "", r.state,
            positions.get(r.id, ""), r.arrived_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
            r.offer_expires_at.astimezone(timezone.utc).isoformat(timespec="seconds") if r.offer_expires_at else "",
        ])
    return Attachment(f"{event.slug}-registrations.csv", "text/csv", out.getvalue().encode("utf-8"))


def questions_csv(event: Event, rows: Iterable[tuple[str, str, str]], t: Translator) -> Attachment:
    """The questions sent ahead, whole: (asked, by, text) per line, as the chat list shows them
    (an anonymous one with its day only)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_headers(t, "events.csv.questions"))
    for asked, by, text in rows:
        writer.writerow([event.slug, asked, by, _cell(text)])
    return Attachment(f"{event.slug}-questions.csv", "text/csv", out.getvalue().encode("utf-8"))


def _headers(t: Translator, key: str) -> list[str]:
    """A catalogue entry of comma-separated column names (a name itself has no comma)."""
    return [name.strip() for name in t(key).plain.split(",")]


def _cell(value: str) -> str:
    """No spreadsheet formula from a name someone typed (Matrix IDs are plain by their syntax)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
