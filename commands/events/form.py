"""The event form: `key: value` lines in, a validated Draft or a list of problems out.

Pure (no database, no chat). The same field parsers (commands/events/fields.py) serve the
one-message form, `!event edit` and the step-by-step conversation, so a value is judged the same
way in all three. A problem is (catalogue key, values); the handlers render it.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.slugs import slugify
from commands.events.fields import PARSERS, FieldProblem, Known, Problem, Workshop, local
from commands.events.rules import Mode
from commands.events.vocabulary import ALIASES, ENGLISH, FieldName, Vocabulary

__all__ = ["FIELDS", "REQUIRED", "Draft", "FieldProblem", "Known", "Problem", "Workshop", "build", "canonical",
           "event_slug", "parse_value", "split_fields"]

# Canonical field names, in the order they are parsed (a later one may depend on an earlier one).
FIELDS = ("network", "title", "purpose", "expectations", "programme", "timezone", "starts", "ends", "place",
          "capacity", "registration closes", "invite-only", "acknowledge", "workshops", "workshops per member",
          "waitlist mode", "offer hours", "feedback form", "feedback deadline", "reminders", "questions by")
REQUIRED = ("title", "purpose", "starts", "ends", "capacity")
MULTILINE = frozenset({"purpose", "expectations", "programme", "workshops"})
RESERVED_SLUGS = frozenset({"create", "edit", "publish", "cancel", "new"})
_KEY_LINE = re.compile(r"^\s*([^\W\d_][^\W\d_ -]*(?:[ -][^\W\d_]+){0,4}?)\s*:\s?(.*)$")


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
        return PARSERS[name](raw.strip(), known)
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
        return [("events.form.end_before_start", {"ends": local(v["ends"], known.tz), "starts": local(v["starts"], known.tz)})]
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
