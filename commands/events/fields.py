"""One parser per field of the event form: the text typed in, the typed value out, or a
FieldProblem saying what is wrong and how to write it. A time is read as every command reads one
(api.converters.read_moment), on the event's clock. Pure: no database, no chat."""
from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from api import feedback_forms
from api.converters import offset_name, offsets_of, read_moment, repeated
from api.slugs import slugify
from api.types import UserError, whole_number
from commands.events.rules import Mode
from commands.events.vocabulary import ENGLISH, Vocabulary

Problem = tuple[str, dict[str, Any]]
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")  # the dates api.converters reads
_CLOCK = re.compile(r"\d{1,2}[:.]\d{2}")


@dataclass(frozen=True)
class Workshop:
    key: str
    name: str
    capacity: int


@dataclass
class Known:
    """What a field parser may look at: the time, the zone and the values parsed before it."""

    now: datetime
    default_tz: str
    values: dict[str, Any] = field(default_factory=dict)
    words: Vocabulary = ENGLISH
    notes: list[Problem] = field(default_factory=list)  # what the reader should know (a repeated hour)
    written_at: datetime | None = None  # when the text was written, if earlier than now: `in 2h` counts from it

    @property
    def tz(self) -> str:
        return self.values.get("timezone") or self.default_tz


class FieldProblem(Exception):
    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.problem: Problem = (key, values)


def _text(limit: int, minimum: int = 1):  # noqa: ANN202
    def parse(raw: str, known: Known) -> str:
        if len(raw) < minimum:
            raise FieldProblem("events.form.too_short", minimum=minimum)
        if len(raw) > limit:
            raise FieldProblem("events.form.too_long", limit=limit, length=len(raw))
        return raw
    return parse


def _optional_text(limit: int):  # noqa: ANN202
    inner = _text(limit)

    def parse(raw: str, known: Known) -> str | None:
        return None if raw in ("", "-") else inner(raw, known)
    return parse


def _network(raw: str, known: Known) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,31}", raw.lower()):
        raise FieldProblem("events.form.bad_network", value=raw[:40])
    return raw.lower()


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(raw: str, known: Known) -> str:
    """Only a listed name: ZoneInfo opens any path it is given ("Europe" is a directory)."""
    if raw in ("", "-"):
        return known.default_tz
    if raw not in _zones() or ("/" not in raw and raw.upper() != "UTC"):
        close = difflib.get_close_matches(raw[:64], sorted(_zones()), n=3, cutoff=0.6)
        raise FieldProblem("events.form.bad_timezone", value=raw[:40], hint=", ".join(close) or "Europe/Amsterdam")
    return raw


def _moment(raw: str, known: Known, *, day_end: bool = False, on_day: date | None = None) -> datetime | None:
    """A moment on the event's clock (UTC), read as every command reads a time (api.converters):
    "2027-03-14 19:30", "in 2h" / "over 2 uur" / "om 2 timer", "tomorrow 19:30" / "i morgen 19:30".
    A date or day word alone is its end (23:59) with `day_end`; a clock alone is on `on_day`. None
    when it is not a time; FieldProblem for a time the clocks skip, or one beyond the calendar."""
    text = " ".join(raw.split())
    if _DAY.fullmatch(text):  # the converter reads a date alone as midnight: not a start or an end
        if not day_end:
            return None
        text += " 23:59"
    elif on_day is not None and _CLOCK.fullmatch(text):
        text = f"{on_day.isoformat()} {text}"
    value = _read(text, known)
    if value is None and day_end:  # a day word alone ("morgen")
        value = _read(text + " 23:59", known)
    return value


def _read(text: str, known: Known) -> datetime | None:
    try:
        value = read_moment(text, known.tz, known.written_at or known.now)
    except UserError as err:
        if err.key == "converters.time_gap":
            raise FieldProblem("events.form.no_such_time", value=err.values["value"], tz=known.tz,
                               later=err.values["later"]) from None
        raise FieldProblem("events.form.bad_year", value=text[:40]) from None
    if value is not None and repeated(value) and not value.fold:  # a wall time: the first was taken
        known.notes.append(("converters.time_repeated", {"value": value.strftime("%Y-%m-%d %H:%M"), "zone": known.tz,
                                                         "offset": offset_name(value)}))
    return None if value is None else value.astimezone(timezone.utc)


def _starts(raw: str, known: Known) -> datetime:
    value = _moment(raw, known)
    if value is None:
        raise FieldProblem("events.form.bad_datetime", value=raw[:40])
    if value <= known.now:
        raise FieldProblem("events.form.in_past", value=raw[:40])
    return value


def _ends(raw: str, known: Known) -> datetime:
    starts = known.values.get("starts")
    value = _moment(raw, known, on_day=starts.astimezone(ZoneInfo(known.tz)).date() if starts else None)
    if value is None:
        raise FieldProblem("events.form.bad_end", value=raw[:40])
    if starts is not None and value <= starts:
        raise FieldProblem("events.form.end_before_start", ends=local(value, known.tz), starts=local(starts, known.tz))
    if value <= known.now:
        raise FieldProblem("events.form.in_past", value=raw[:40])
    return value


def _until(raw: str, known: Known) -> datetime | None:
    """A deadline: a moment, or a day alone meaning its end (23:59); empty or "-": none."""
    if raw in ("", "-"):
        return None
    value = _moment(raw, known, day_end=True)
    if value is None:
        raise FieldProblem("events.form.bad_datetime", value=raw[:40])
    return value


def _deadline(raw: str, known: Known) -> datetime | None:
    """A deadline in the future."""
    value = _until(raw, known)
    if value is not None and value <= known.now:
        raise FieldProblem("events.form.in_past", value=raw[:40])
    return value


def _deadline_by(limit: str, problem: str):  # noqa: ANN202
    """A deadline in the future, not after the field `limit` (registration closes by the end;
    questions in advance come by the start, and registrants who sent none are reminded once)."""
    def parse(raw: str, known: Known) -> datetime | None:
        value = _deadline(raw, known)
        bound = known.values.get(limit)
        if value is not None and bound is not None and value > bound:
            raise FieldProblem(problem, value=raw[:40])
        return value
    return parse


def _reminders(raw: str, known: Known) -> tuple[int, ...] | None:
    """ "7d, 1d, 1h", "2h", "none" (or "no" in any language); empty or "-": the network's default."""
    if raw in ("", "-"):
        return None
    value = offsets_of(raw if raw.lower() not in known.words.no else "none")
    if value is None:
        raise FieldProblem("events.form.bad_reminders", value=raw[:40], example="7d, 1d, 1h")
    if any(m > 60 * 24 * 60 for m in value):
        raise FieldProblem("events.form.bad_reminders", value=raw[:40], example="7d, 1d, 1h")
    return value


def _feedback_form(raw: str, known: Known) -> str | None:
    if raw in ("", "-"):
        return None
    forms = feedback_forms.forms()
    if raw.lower() not in forms:
        raise FieldProblem("events.form.bad_feedback_form", value=raw[:40], choices=", ".join(sorted(forms)))
    return raw.lower()


def _feedback_deadline(raw: str, known: Known) -> datetime | None:
    """A deadline after the event's end."""
    value = _until(raw, known)
    ends = known.values.get("ends")
    if ends is not None and value <= ends:
        raise FieldProblem("events.form.feedback_before_end", value=raw[:40])
    return value


def _whole(low: int, high: int):  # noqa: ANN202
    def parse(raw: str, known: Known) -> int:
        value = whole_number(raw)
        if value is None:
            raise FieldProblem("events.form.not_number", value=raw[:40])
        if not low <= value <= high:
            raise FieldProblem("events.form.out_of_range", value=value, low=low, high=high)
        return value
    return parse


def _yes_no(raw: str, known: Known) -> bool:
    if raw.lower() in known.words.yes or raw.lower() in known.words.no or raw == "":
        return raw.lower() in known.words.yes
    raise FieldProblem("events.form.yes_no", value=raw[:40])


def _mode(raw: str, known: Known) -> Mode:
    try:
        return Mode(known.words.modes.get(raw.lower(), raw.lower()))
    except ValueError:
        raise FieldProblem("events.form.bad_mode", value=raw[:40]) from None


def _workshops(raw: str, known: Known) -> list[Workshop]:
    if raw.lower() in ("", "-", "none") or raw.lower() in known.words.no:
        return []
    out: list[Workshop] = []
    for line in filter(None, (x.strip().lstrip("-*").strip() for x in raw.splitlines())):
        name, sep, cap = line.rpartition("|")
        if not sep or not name.strip():
            raise FieldProblem("events.form.bad_workshop", line=line[:60])
        capacity = whole_number(cap)
        if capacity is None:
            raise FieldProblem("events.form.bad_workshop", line=line[:60])
        if capacity < 1:
            raise FieldProblem("events.form.workshop_capacity", name=name.strip()[:40], value=capacity)
        key = slugify(name, limit=24)
        if not key or any(w.key == key for w in out):
            raise FieldProblem("events.form.workshop_twice", name=name.strip()[:40])
        out.append(Workshop(key, name.strip()[:100], capacity))
    return out


PARSERS = {
    "network": _network, "title": _text(200, 3), "purpose": _text(2000, 10), "expectations": _optional_text(2000),
    "programme": _optional_text(4000), "timezone": _timezone, "starts": _starts, "ends": _ends,
    "place": _optional_text(500), "capacity": _whole(1, 100_000),
    "registration closes": _deadline_by("ends", "events.form.closes_after_end"),
    "invite-only": _yes_no, "acknowledge": _yes_no, "workshops": _workshops, "waitlist mode": _mode,
    "workshops per member": _whole(1, 20), "offer hours": _whole(1, 336), "feedback form": _feedback_form,
    "feedback deadline": _feedback_deadline, "reminders": _reminders,
    "questions by": _deadline_by("starts", "events.form.questions_after_start"),
}


def local(value: datetime, tz: str) -> str:
    """A moment as the form takes it back: "2027-03-14 19:30" on the clock of `tz`."""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
