"""The event form: `key: value` lines in, a validated Draft or a list of problems out.

Pure (standard library only). The same field parsers serve the one-message form, `!event edit`
and the step-by-step conversation, so a value is judged the same way in all three. A problem is
(catalogue key, values); the handlers render it.
"""
from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from api import feedback_forms
from api.converters import offsets_of
from api.slugs import slugify
from api.types import whole_number
from commands.events.rules import Mode
from commands.events.vocabulary import ALIASES, ENGLISH, FieldName, Vocabulary

Problem = tuple[str, dict[str, Any]]

# Canonical field names, in the order they are parsed (a later one may depend on an earlier one).
FIELDS = ("network", "title", "purpose", "expectations", "programme", "timezone", "starts", "ends", "place",
          "capacity", "registration closes", "invite-only", "acknowledge", "workshops", "workshops per member",
          "waitlist mode", "offer hours", "feedback form", "feedback deadline", "reminders", "questions by")
REQUIRED = ("title", "purpose", "starts", "ends", "capacity")
MULTILINE = frozenset({"purpose", "expectations", "programme", "workshops"})
RESERVED_SLUGS = frozenset({"create", "edit", "publish", "cancel", "new"})
_KEY_LINE = re.compile(r"^\s*([^\W\d_][^\W\d_ -]*(?:[ -][^\W\d_]+){0,4}?)\s*:\s?(.*)$")
_DATETIME = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d %H.%M",
             "%d-%m-%Y %H.%M")
_DATE = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
_TIME = ("%H:%M", "%H.%M")


@dataclass(frozen=True)
class Workshop:
    key: str
    name: str
    capacity: int


@dataclass(frozen=True)
class Draft:
    title: str
    purpose: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    timezone: str
    closes_at: datetime
    network: str | None = None
    expectations: str | None = None
    programme: str | None = None
    place: str | None = None
    invite_only: bool = False
    acknowledge: bool = False  # members confirm purpose and expectations before a seat is taken
    workshops: tuple[Workshop, ...] = ()
    workshops_per_member: int = 1
    waitlist_mode: Mode = Mode.OFFER
    offer_hours: int = 24
    feedback_form: str | None = None  # None: the default form (api/feedback_forms)
    feedback_deadline: datetime | None = None  # None: the configured days after the end
    reminders: tuple[int, ...] | None = None  # minutes before the start; None: the network's
    questions_by: datetime | None = None  # questions or cases sent in advance, until then


@dataclass
class Known:
    """What a field parser may look at: the time, the zone and the values parsed before it."""

    now: datetime
    default_tz: str
    values: dict[str, Any] = field(default_factory=dict)
    words: Vocabulary = ENGLISH

    @property
    def tz(self) -> str:
        return self.values.get("timezone") or self.default_tz


class FieldProblem(Exception):
    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.problem: Problem = (key, values)


def canonical(name: str, words: Vocabulary = ENGLISH) -> str | None:
    """The field a typed name means, in any language of `words` ("titel", "tittel" -> title)."""
    key = re.sub(r"[\s_]+", " ", name.strip().lower()).replace(" - ", "-")
    plain = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode()  # "formal" for "formål"
    for candidate in (key, key.replace("-", " "), plain):
        found = words.fields.get(candidate) or ALIASES.get(candidate, candidate)
        if found in FIELDS:
            return found
    return None


def split_fields(body: str, words: Vocabulary = ENGLISH) -> tuple[dict[str, str], list[Problem]]:
    """`key: value` lines; a line without a known key continues a multi-line field."""
    raw: dict[str, str] = {}
    problems: list[Problem] = []
    current: str | None = None
    for line in body.splitlines():
        match = _KEY_LINE.match(line)
        name = canonical(match.group(1), words) if match else None
        if name:
            current = name
            raw[name] = match.group(2).strip()
            continue
        if not line.strip():
            if current in MULTILINE and raw.get(current):
                raw[current] += "\n"
            continue
        if current in MULTILINE:
            raw[current] = (raw[current] + "\n" + line.strip()).strip("\n") if raw[current] else line.strip()
        elif match:
            word = match.group(1).strip().lower()
            close = difflib.get_close_matches(word, sorted({*FIELDS, *words.fields}), 2, 0.6)
            hint = tuple(dict.fromkeys(FieldName(canonical(w, words) or w) for w in close))
            problems.append(("events.form.unknown_field_hint" if hint else "events.form.unknown_field",
                             {"name": word[:30], "hint": hint}))
        else:
            problems.append(("events.form.stray_line", {"line": line.strip()[:60]}))
    return {k: re.sub(r"\n{3,}", "\n\n", v).strip() for k, v in raw.items()}, problems


def parse_value(name: str, raw: str, known: Known) -> Any:
    """The typed value of one field, or FieldProblem saying what is wrong and how to write it."""
    try:
        return _PARSERS[name](raw.strip(), known)
    except FieldProblem as err:  # every message names the field it is about
        raise FieldProblem(err.problem[0], **{"name": FieldName(name), **err.problem[1]}) from None


def build(raw: dict[str, str], known: Known, base: Draft | None = None) -> tuple[Draft | None, list[Problem]]:
    """Validate every given field (in order) and the whole; `base` holds the values of an edit."""
    problems: list[Problem] = []
    if base is not None:
        known.values.update(_values_of(base))
    for name in FIELDS:
        if name not in raw:
            continue
        if base is None and raw[name] == "" and name not in REQUIRED:
            continue
        try:
            known.values[name] = parse_value(name, raw[name], known)
        except FieldProblem as err:
            problems.append(err.problem)
            if base is None:
                known.values.pop(name, None)
    if base is None:
        missing = [n for n in REQUIRED if n not in raw or not raw[n]]
        if missing:
            problems.append(("events.form.missing", {"names": tuple(FieldName(n) for n in missing)}))
    elif not problems:
        problems += _consistency(known)
    if problems:
        return None, problems
    return _draft(known), []


def _consistency(known: Known) -> list[Problem]:
    """After an edit: the untouched fields must still fit the changed ones."""
    v = known.values
    if v["ends"] <= v["starts"]:
        return [("events.form.end_before_start", {"ends": _local(v["ends"], known.tz), "starts": _local(v["starts"], known.tz)})]
    if v.get("registration closes") and v["registration closes"] > v["ends"]:
        return [("events.form.closes_after_end", {})]
    if v.get("feedback deadline") and v["feedback deadline"] <= v["ends"]:
        return [("events.form.feedback_before_end", {})]
    if v.get("questions by") and v["questions by"] > v["starts"]:
        return [("events.form.questions_after_start", {})]
    return []


def _draft(known: Known) -> Draft:
    v = known.values
    return Draft(
        network=v.get("network"), title=v["title"], purpose=v["purpose"], expectations=v.get("expectations"),
        programme=v.get("programme"), timezone=known.tz, starts_at=v["starts"], ends_at=v["ends"],
        place=v.get("place"), capacity=v["capacity"], closes_at=v.get("registration closes") or v["starts"],
        invite_only=v.get("invite-only", False), acknowledge=v.get("acknowledge", False), workshops=tuple(v.get("workshops") or ()),
        workshops_per_member=v.get("workshops per member", 1), waitlist_mode=v.get("waitlist mode", Mode.OFFER),
        offer_hours=v.get("offer hours", 24), feedback_form=v.get("feedback form"),
        feedback_deadline=v.get("feedback deadline"),
        reminders=v.get("reminders"), questions_by=v.get("questions by"),
    )


def _values_of(d: Draft) -> dict[str, Any]:
    return {"network": d.network, "title": d.title, "purpose": d.purpose, "expectations": d.expectations,
            "programme": d.programme, "timezone": d.timezone, "starts": d.starts_at, "ends": d.ends_at,
            "place": d.place, "capacity": d.capacity, "registration closes": d.closes_at,
            "invite-only": d.invite_only, "acknowledge": d.acknowledge, "workshops": list(d.workshops),
            "workshops per member": d.workshops_per_member, "waitlist mode": d.waitlist_mode,
            "offer hours": d.offer_hours, "feedback form": d.feedback_form, "feedback deadline": d.feedback_deadline,
            "reminders": d.reminders, "questions by": d.questions_by}


# ---- field parsers --------------------------------------------------------------------------

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


def _strp(raw: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return None


def _local_datetime(raw: str, known: Known) -> datetime | None:
    """On the event's clock: "2027-03-14 19:30", or a day word and a time ("i morgen 19:30")."""
    relative = _relative_day(raw, known)
    if relative is not None:
        clock = _strp(relative[1], _TIME)
        return None if clock is None else _localize(datetime.combine(relative[0], clock.time()), known.tz)
    naive = _strp(raw, _DATETIME)
    return None if naive is None else _localize(naive, known.tz)


def _relative_day(raw: str, known: Known) -> tuple[date, str] | None:
    """ "morgen 19:30", "i morgen 19:30", "tomorrow 19:30": the day, and what follows the word."""
    text = " ".join(raw.lower().split())
    for word in sorted(known.words.days, key=len, reverse=True):
        if text == word or text.startswith(word + " "):
            today = known.now.astimezone(ZoneInfo(known.tz)).date()
            return today + timedelta(days=known.words.days[word]), text[len(word):].strip()
    return None


def _localize(naive: datetime, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    aware = naive.replace(tzinfo=zone)
    try:
        back = aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    except OverflowError:  # year 1 or 9999: in UTC it falls outside what a datetime can hold
        raise FieldProblem("events.form.bad_year", value=naive.isoformat(sep=" ", timespec="minutes")) from None
    if back != naive:
        raise FieldProblem("events.form.no_such_time", value=naive.strftime("%Y-%m-%d %H:%M"), tz=tz)
    return aware.astimezone(timezone.utc)


def _starts(raw: str, known: Known) -> datetime:
    value = _local_datetime(raw, known)
    if value is None:
        raise FieldProblem("events.form.bad_datetime", value=raw[:40])
    if value <= known.now:
        raise FieldProblem("events.form.in_past", value=raw[:40])
    return value


def _ends(raw: str, known: Known) -> datetime:
    value = _local_datetime(raw, known)
    starts = known.values.get("starts")
    if value is None and starts is not None and (clock := _strp(raw, _TIME)) is not None:
        value = _localize(datetime.combine(starts.astimezone(ZoneInfo(known.tz)).date(), clock.time()), known.tz)
    if value is None:
        raise FieldProblem("events.form.bad_end", value=raw[:40])
    if starts is not None and value <= starts:
        raise FieldProblem("events.form.end_before_start", ends=_local(value, known.tz), starts=_local(starts, known.tz))
    if value <= known.now:
        raise FieldProblem("events.form.in_past", value=raw[:40])
    return value


def _closes(raw: str, known: Known) -> datetime | None:
    value = _deadline(raw, known)
    ends = known.values.get("ends")
    if value is not None and ends is not None and value > ends:
        raise FieldProblem("events.form.closes_after_end", value=raw[:40])
    return value


def _deadline(raw: str, known: Known) -> datetime | None:
    """A moment on the event's clock in the future; a day alone means its end (23:59)."""
    if raw in ("", "-"):
        return None
    value = _local_datetime(raw, known)
    if value is None:  # a day alone: registration closes at its end
        relative, naive = _relative_day(raw, known), _strp(raw, _DATE)
        day = relative[0] if relative and not relative[1] else (naive.date() if naive else None)
        value = None if day is None else _localize(datetime.combine(day, time(23, 59)), known.tz)
    if value is None:
        raise FieldProblem("events.form.bad_datetime", value=raw[:40])
    if value <= known.now:
        raise FieldProblem("events.form.in_past", value=raw[:40])
    return value


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


def _questions_by(raw: str, known: Known) -> datetime | None:
    """The deadline for questions or cases in advance: registrants who sent none are reminded once."""
    value = _deadline(raw, known)
    starts = known.values.get("starts")
    if value is not None and starts is not None and value > starts:
        raise FieldProblem("events.form.questions_after_start", value=raw[:40])
    return value


def _feedback_form(raw: str, known: Known) -> str | None:
    if raw in ("", "-"):
        return None
    forms = feedback_forms.forms()
    if raw.lower() not in forms:
        raise FieldProblem("events.form.bad_feedback_form", value=raw[:40], choices=", ".join(sorted(forms)))
    return raw.lower()


def _feedback_deadline(raw: str, known: Known) -> datetime | None:
    """A date and time, or a day alone (its end); after the event's end."""
    if raw in ("", "-"):
        return None
    value = _local_datetime(raw, known)
    if value is None:
        naive = _strp(raw, _DATE)
        value = None if naive is None else _localize(datetime.combine(naive.date(), time(23, 59)), known.tz)
    if value is None:
        raise FieldProblem("events.form.bad_datetime", value=raw[:40])
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


_PARSERS = {
    "network": _network, "title": _text(200, 3), "purpose": _text(2000, 10), "expectations": _optional_text(2000),
    "programme": _optional_text(4000), "timezone": _timezone, "starts": _starts, "ends": _ends,
    "place": _optional_text(500), "capacity": _whole(1, 100_000), "registration closes": _closes,
    "invite-only": _yes_no, "acknowledge": _yes_no, "workshops": _workshops, "waitlist mode": _mode,
    "workshops per member": _whole(1, 20), "offer hours": _whole(1, 336), "feedback form": _feedback_form,
    "feedback deadline": _feedback_deadline,
    "reminders": _reminders, "questions by": _questions_by,
}


def _local(value: datetime, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


# ---- ids ------------------------------------------------------------------------------------

STOP_WORDS = frozenset({"a", "an", "the", "and", "of", "on", "in", "for", "with", "to", "at", "de", "het",
                        "een", "en", "van", "op", "og", "med", "meeting", "about"})


def event_slug(title: str, starts_at: datetime, taken: set[str]) -> str:
    """A short readable id such as `theme-alcohol-2027`, unique among `taken`."""
    words = [w for w in slugify(title, limit=200).split("-") if w and w not in STOP_WORDS and not w.isdigit()]
    base = "-".join(words[:3])[:30].strip("-") or "event"
    year = str(starts_at.year)
    base = base if base.endswith(year) else f"{base}-{year}"
    slug, n = base, 2
    while slug in taken or slug in RESERVED_SLUGS:
        slug, n = f"{base}-{n}", n + 1
    return slug
