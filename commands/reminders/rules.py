"""Which reminder rows an event should have: pure, standard library only.

A row's key holds the start (or the questions deadline) it was made for, so that moving the event
leaves the old rows to be cancelled and makes new ones; one that already ran stays done and is
never sent again for the same start. Nothing is made for a moment already past: a registration
after an offset gets no late copy of it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

EVENT = "reminders.event"
QUESTIONS = "reminders.questions"
QUESTIONS_LEAD = timedelta(days=1)  # the questions reminder: this long before the deadline


@dataclass(frozen=True)
class Wanted:
    key: str
    kind: str
    due_at: datetime
    user: str
    offset: int | None  # minutes before the start (event reminders)


def prefix(event_id: int) -> str:
    return f"remind:{event_id}:"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%MZ")


def before(moment: datetime, minutes: int, zone: str) -> datetime:
    """`minutes` before `moment`: whole days on the wall clock of `zone` (a reminder a day before
    a 10:00 start comes at 10:00, also across a change to or from summer time; a wall time the
    clocks skip is read as the moment after the jump), anything shorter in real time."""
    if minutes % (24 * 60):
        return moment - timedelta(minutes=minutes)
    tz = ZoneInfo(zone)
    wall = moment.astimezone(tz).replace(tzinfo=None) - timedelta(minutes=minutes)
    return wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def wanted(event_id: int, starts_at: datetime, zone: str, offsets: tuple[int, ...], people: list[str],
           questions_by: datetime | None, asked: set[str]) -> list[Wanted]:
    """Every row the event's seat holders should have for this start (due times past or not)."""
    out = []
    due = {minutes: before(starts_at, minutes, zone) for minutes in offsets}  # the same for everyone
    start_key = f"{prefix(event_id)}{_stamp(starts_at)}"
    if questions_by is not None:
        questions_key = f"{prefix(event_id)}q{_stamp(questions_by)}"
        questions_due = before(questions_by, int(QUESTIONS_LEAD.total_seconds() // 60), zone)
    for user in people:
        for minutes in offsets:
            out.append(Wanted(f"{start_key}:{minutes}:{user}", EVENT, due[minutes], user, minutes))
        if questions_by is not None and user not in asked:
            out.append(Wanted(f"{questions_key}:{user}", QUESTIONS, questions_due, user, None))
    return out


def lead(minutes: int) -> tuple[str, int]:
    """How long before the start, in the largest whole unit: ("days", 7), ("hours", 1)."""
    for unit, size in (("weeks", 7 * 24 * 60), ("days", 24 * 60), ("hours", 60)):
        if minutes % size == 0:
            return unit, minutes // size
    return "minutes", minutes
