"""Message catalogues keyed by stable ids (api/locales/<lang>.yaml), rendered to escaped Text, with
numbers, plurals, dates and times in the reader's locale (Babel, CLDR).

A language is a catalogue file: `api/locales/xx.yaml` makes `xx` available (its name comes from
Babel). An entry is either a string with {placeholders}, or a mapping of CLDR plural categories
(`zero`, `one`, `two`, `few`, `many`, `other`; `other` is required) whose form is chosen by the
`count` value, e.g.::

    events.export.here:
      one: "Registrations for {title}: {count} row."
      other: "Registrations for {title}: {count} rows."
"""
from __future__ import annotations

import logging
import re
import string
from datetime import date, datetime, timezone, tzinfo
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from api import yaml_files
from api.render import Text, as_text, escape

if TYPE_CHECKING:
    from babel import Locale

# Babel (~1 MiB with its CLDR tables) is imported where a locale is first needed (a reply with a
# number, a plural, a date), not when the bot starts.

LOCALES = Path(__file__).parent / "locales"
FALLBACK = "en"
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
Entry = str | dict[str, str]
_ARGUMENT = re.compile(r"([<\[])([^\]>]+)([\]>])")
log = logging.getLogger(__name__)


@cache
def catalogue(language: str) -> dict[str, Entry]:
    path = LOCALES / f"{language}.yaml"
    if not path.exists():
        return {}
    return yaml_files.safe_load(path.read_text(encoding="utf-8")) or {}


def languages() -> list[str]:
    """The codes of the shipped catalogues, English first."""
    codes = sorted(p.stem for p in LOCALES.glob("*.yaml"))
    return sorted(codes, key=lambda c: c != FALLBACK)


def known_language(code: str) -> str | None:
    """The catalogue for what someone typed: `nl`, `NL`, `nl-BE` and `nl_BE` all give `nl`."""
    wanted = code.strip().lower().replace("_", "-")
    available = languages()
    for candidate in (wanted, wanted.split("-")[0]):
        if candidate in available:
            return candidate
    return None


def locale_of(language: str) -> Locale:
    """The CLDR locale whose dates and numbers a catalogue uses: its `format.locale` entry (English
    is written the British way, 24-hour clock), else its own code."""
    return _parse_locale(str(catalogue(language).get("format.locale") or language))


@cache
def _parse_locale(code: str) -> Locale:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_GB")


def language_name(code: str) -> str:
    """A language's name in that language ("Nederlands", "norsk bokmål"), from CLDR."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(code.replace("-", "_")).display_name or code
    except (UnknownLocaleError, ValueError):
        return code


def plural_form(entry: Entry, count: object, locale: Locale) -> str:
    if isinstance(entry, str):
        return entry
    category = "other"
    if isinstance(count, (int, float)) and not isinstance(count, bool):
        category = locale.plural_form(abs(count))
    return entry.get(category) or entry["other"]


def _zone(zone: str | tzinfo | None) -> tzinfo:
    if zone is None:
        return timezone.utc
    return ZoneInfo(zone) if isinstance(zone, str) else zone


class Translator:
    """t("key", name=value) -> Text. Values are escaped; Text values keep their own markup;
    numbers are written the locale's way. t.datetime(...), t.number(...) format for this reader:
    a reader with a zone of their own (`!tz`) sees every time on their own clock, the zone named;
    else each time is shown on the clock of the zone it is given with (the event's)."""

    def __init__(self, language: str = FALLBACK, zone: str | None = None) -> None:
        self.language = language
        self.own_zone = zone

    @cached_property
    def locale(self) -> Locale:
        return locale_of(self.language)

    def clock(self, zone: str | tzinfo | None) -> str | tzinfo | None:
        """The zone a time is shown in: the reader's own, else the one given (the event's)."""
        return self.own_zone or zone

    def entry(self, key: str) -> Entry:
        found = catalogue(self.language).get(key) or catalogue(FALLBACK).get(key)
        if found is None:
            log.error("missing catalogue entry", extra={"key": key})
            return key
        return found

    def template(self, key: str, count: object = None) -> str:
        entry = self.entry(key)
        return entry if isinstance(entry, str) else plural_form(entry, count, self.locale)

    def __call__(self, key: str, **values: object) -> Text:
        """A callable value is rendered for this reader first (a time on their clock: `when=lambda
        t: t.span(...)`), so one set of values serves every recipient."""
        values = {k: v(self) if callable(v) else v for k, v in values.items()}
        numbers = any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values())
        return render_template(self.template(key, values.get("count")), values, self.locale if numbers else None)

    def usage(self, line: str) -> str:
        """A usage line with its argument names in this language: "<event> [workshop]" ->
        "<bijeenkomst> [workshop]" (catalogue entries usage.<name>; a name without one stays)."""
        def label(match: re.Match[str]) -> str:
            name, dots = match.group(2).removesuffix("..."), "..." if match.group(2).endswith("...") else ""
            key = "usage." + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
            found = catalogue(self.language).get(key) or catalogue(FALLBACK).get(key)
            return f"{match.group(1)}{found or name}{dots}{match.group(3)}"
        return _ARGUMENT.sub(label, line)

    # -- numbers, dates, times ------------------------------------------------------------------

    def number(self, value: float) -> str:
        """1234.5 -> "1,234.5" (en), "1.234,5" (nl), "1 234,5" (nb)."""
        from babel.numbers import format_decimal

        return format_decimal(value, locale=self.locale)

    def zone(self, zone: str | tzinfo) -> str:
        """The zone by its exemplar city in this language: Europe/Brussels -> "Brussel" (nl)."""
        from babel.dates import get_timezone_location

        name = zone if isinstance(zone, str) else str(zone)
        try:
            return get_timezone_location(_zone(zone), locale=self.locale, return_city=True)
        except (LookupError, ValueError):
            return name

    def date(self, day: date | datetime, zone: str | tzinfo | None = None, *, short: bool = False) -> str:
        """ "dinsdag 23 september 2025"; short: "di 23 sep 2025"."""
        from babel.dates import format_date, format_skeleton

        if isinstance(day, datetime):
            day = _aware(day).astimezone(_zone(self.clock(zone))).date()
        if short:
            return format_skeleton("yMMMEd", day, locale=self.locale)
        return format_date(day, "full", locale=self.locale)

    def time(self, moment: datetime, zone: str | tzinfo | None = None) -> str:
        """ "09:30" (nl, nb), "9:30 AM" (en): the moment on the clock of `zone`."""
        from babel.dates import format_time

        return format_time(_aware(moment).astimezone(_zone(self.clock(zone))), "short", locale=self.locale)

    def moment(self, moment: datetime, zone: str | tzinfo | None = None, *, short: bool = False) -> str:
        """Date and time without the zone: "dinsdag 23 september 2025 om 09:30"."""
        return self.template("format.moment").format(
            date=self.date(moment, zone, short=short), time=self.time(moment, zone))

    def datetime(self, moment: datetime, zone: str | tzinfo, *, short: bool = False) -> str:
        """ "dinsdag 23 september 2025 om 09:30 (Brussel)", "tirsdag 23. september 2025 kl. 09:30 (Oslo)"."""
        return f"{self.moment(moment, zone, short=short)} ({self.zone(self.clock(zone))})"

    def span(self, start: datetime, end: datetime, zone: str | tzinfo, *, short: bool = False) -> str:
        """A start and an end: one date when both fall on the same day on that clock."""
        z = _zone(self.clock(zone))
        if _aware(start).astimezone(z).date() == _aware(end).astimezone(z).date():
            text = self.template("format.span_day").format(
                date=self.date(start, z, short=short), start=self.time(start, z), end=self.time(end, z))
        else:
            text = self.template("format.span").format(
                start=self.moment(start, z, short=short), end=self.moment(end, z, short=short))
        return f"{text} ({self.zone(z)})"


def _aware(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite may hand them back without their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def render_template(template: str, values: dict[str, object], locale: Locale | None = None) -> Text:
    plain_parts: list[str] = []
    html_parts: list[str] = []
    for literal, field, spec, _conv in string.Formatter().parse(template):
        plain_parts.append(literal)
        html_parts.append(escape(literal).replace("\n", "<br>"))
        if field is None:
            continue
        value = values.get(field, "{" + field + "}")
        if spec and not isinstance(value, Text):
            value = format(value, spec)
        elif locale is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            from babel.numbers import format_decimal

            value = format_decimal(value, locale=locale)
        text = as_text(value)
        plain_parts.append(text.plain)
        html_parts.append(text.html)
    return Text("".join(plain_parts), "".join(html_parts))
