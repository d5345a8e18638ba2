"""Arguments that resolve themselves. A handler parameter annotated `Annotated[T, SomeConverter()]`
(or one of the aliases below) receives the resolved object: the router calls the converter with
the context, and a converter that cannot resolve the text raises its own UserError, which the
user reads with the command's usage line.

    async def register(ctx: Context, event: LockedEvent, workshop: WorkshopRef | None = None) -> Reply:

Events and workshops live in api/event_args.py; this module has the protocol and the plain ones:
a member of this network (`@user`), a duration (`10m`, `2h`, `1d`) and a local date-time
(`2027-03-14 19:30`, in the member's zone, else the event's, else the network's)."""
from __future__ import annotations

import functools
import re
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from api.i18n import Translator, languages
from api.render import code
from api.types import Role, UserError
from storage import members, networks
from storage.models import Member

if TYPE_CHECKING:
    from api.context import Context

DEFAULT_TZ = "Europe/Amsterdam"
USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")


class Converter:
    """Turns the argument's text into an object, or raises UserError. `label` names it in the
    usage line; `rest` takes the rest of the message (names with spaces)."""

    label: str | None = None
    rest: bool = False

    def take(self, remaining: str) -> tuple[str, str] | None:
        """(this argument's text, what follows) when the converter reads more than one word;
        None to let the router take one word (or a "quoted phrase")."""
        return None

    async def convert(self, ctx: Context, raw: str, bound: dict[str, Any]) -> Any:
        """`bound` holds the arguments converted before this one (a workshop needs its event)."""
        raise NotImplementedError


def converter_of(annotation: Any) -> tuple[Any, Converter | None]:
    """(the plain type, its converter) of an annotation such as Annotated[Event, EventArg()]."""
    for extra in getattr(annotation, "__metadata__", ()):
        if isinstance(extra, Converter):
            return annotation.__origin__, extra
    return annotation, None


class MemberArg(Converter):
    """`@name:server`: a person with an active membership of this network (the room's, or one the
    caller belongs to), as their Member row."""

    label = "user"

    async def convert(self, ctx: Context, raw: str, bound: dict[str, Any]) -> Member:
        if not USER_ID.match(raw):
            raise UserError("error.not_user", name=self.label, value=raw[:80])
        here = await networks.network_of_room(ctx.db, ctx.room_id)
        mine = [here[0]] if here else [n for n, r in ctx.roles.items() if r >= Role.MEMBER]
        theirs = set(await members.active_networks(ctx.db, raw))
        member = await members.get(ctx.db, raw) if theirs & set(mine) else None
        if member is None:
            raise UserError("converters.member.unknown", user=raw[:80])
        return member


_DURATION = re.compile(r"^(\d{1,4})\s*(m|min|h|d|w)$", re.IGNORECASE)
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DurationArg(Converter):
    """`10m`, `90min`, `2h`, `1d`, `2w`: a positive length of time."""

    label = "duration"

    async def convert(self, ctx: Context, raw: str, bound: dict[str, Any]) -> timedelta:
        found = _DURATION.match(raw.strip())
        if not found or int(found.group(1)) == 0:
            raise UserError("converters.duration", value=raw[:40], example="10m, 2h, 1d")
        return timedelta(**{_UNIT[found.group(2).lower()]: int(found.group(1))})


_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]+(\d{1,2}[:.]\d{2}))?(?=\s|$)")
_DMY_TIME = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T]+(\d{1,2}[:.]\d{2}))?(?=\s|$)")
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})(?=\s|$)")
_AMOUNT = re.compile(r"^(\d{1,4})\s*([^\W\d_]+)(?=\s|$)")
_UNITS = {"words.minutes": "minutes", "words.hours": "hours", "words.days": "days", "words.weeks": "weeks"}


@functools.cache
def _words() -> tuple[frozenset[str], dict[str, str], dict[str, int]]:
    """What people type around a time, in every language Kring speaks (words.* in the catalogues):
    the word before a relative time ("in", "over", "om"), the units ("2 uur", "2 timer"), and the
    day words ("tomorrow", "morgen", "i morgen")."""
    before: set[str] = set()
    units: dict[str, str] = {}
    days: dict[str, int] = {}
    for t in (Translator(language) for language in languages()):
        split = lambda key: [w.strip().lower() for w in t.template(key).split(",") if w.strip()]  # noqa: E731
        before.update(split("words.in"))
        for key, unit in _UNITS.items():
            units.update((w, unit) for w in split(key))
        for key, offset in (("words.today", 0), ("words.tomorrow", 1), ("words.day_after_tomorrow", 2)):
            days.update((w, offset) for w in split(key))
    return frozenset(before), units, days


def take_moment(text: str) -> tuple[str, str] | None:
    """(the words that make a time, what follows): "in 2h", "over 2 uur", "om 2 timer",
    "tomorrow 10:00", "i morgen 10:00", "2027-03-28 09:30", "28-03-2027 09:30"."""
    for pattern in (_DATE_TIME, _DMY_TIME):
        found = pattern.match(text)
        if found:
            return found.group(0), text[found.end():].lstrip()
    before, units, days = _words()
    low = text.lower()
    for word in sorted(before, key=len, reverse=True):
        if low.startswith(word + " "):
            amount = _AMOUNT.match(low[len(word):].lstrip())
            if amount and amount.group(2) in units:
                end = len(text) - len(low[len(word):].lstrip()) + amount.end()
                return text[:end], text[end:].lstrip()
    for word in sorted(days, key=len, reverse=True):
        if low.startswith(word + " "):
            rest = text[len(word):].lstrip()
            clock = _CLOCK.match(rest)
            if clock:
                end = len(text) - len(rest) + clock.end()
                return text[:end], text[end:].lstrip()
    return None


def read_moment(raw: str, zone: str, now: datetime) -> datetime | None:
    """The moment `raw` means on the clock of `zone` (aware, in that zone), or None when it is not
    a time. A wall time that does not exist there (the hour skipped when summer time starts) is
    refused with the reason; one that happens twice (the hour repeated when it ends) is the first
    (see `repeated`). A relative time ("in 2h") is that much real time from now."""
    text = " ".join(raw.split())
    taken = take_moment(text)
    if taken is None or taken[1]:
        return None
    tz = ZoneInfo(zone)
    before, units, days = _words()
    low = text.lower()
    for word in before:
        if low.startswith(word + " "):
            amount = _AMOUNT.match(low[len(word):].lstrip())
            if amount and amount.group(2) in units and int(amount.group(1)) > 0:
                return (now + timedelta(**{units[amount.group(2)]: int(amount.group(1))})).astimezone(tz)
    naive: datetime | None = None
    try:
        if found := _DATE_TIME.match(text):
            naive = datetime.strptime(f"{found.group(1)} {(found.group(2) or '00:00').replace('.', ':')}",
                                      "%Y-%m-%d %H:%M")
        elif found := _DMY_TIME.match(text):
            day, month, year = (int(found.group(i)) for i in (1, 2, 3))
            naive = datetime.strptime(f"{year:04d}-{month:02d}-{day:02d} {(found.group(4) or '00:00').replace('.', ':')}",
                                      "%Y-%m-%d %H:%M")
        else:
            for word, offset in days.items():
                if low.startswith(word + " ") and (clock := _CLOCK.match(text[len(word):].lstrip())):
                    day = now.astimezone(tz).date() + timedelta(days=offset)
                    naive = datetime.combine(day, time(int(clock.group(1)), int(clock.group(2))))
                    break
    except ValueError:  # 2027-02-30, 25:00
        return None
    return None if naive is None else on_clock(naive, zone)


def on_clock(naive: datetime, zone: str) -> datetime:
    """A wall time of `zone` as an aware datetime: UserError if the clocks skip it; the first of
    the two if they pass it twice."""
    tz = ZoneInfo(zone)
    first = naive.replace(tzinfo=tz, fold=0)
    try:
        back = first.astimezone(timezone.utc).astimezone(tz)
    except OverflowError:
        raise UserError("converters.datetime_range", value=naive.strftime("%Y-%m-%d %H:%M")) from None
    if back.replace(tzinfo=None) != naive:
        raise UserError("converters.time_gap", value=naive.strftime("%Y-%m-%d %H:%M"), zone=zone,
                        later=back.strftime("%H:%M"))
    return first


def repeated(moment: datetime) -> bool:
    """True when the wall time of `moment` happens twice on its clock (the hour the clocks go back)."""
    return moment.replace(fold=0).utcoffset() != moment.replace(fold=1).utcoffset()


def offset_name(moment: datetime) -> str:
    """ "UTC+02:00": which of the two repeated hours a moment is."""
    offset = moment.utcoffset() or timedelta(0)
    sign, minutes = ("+" if offset >= timedelta(0) else "-"), abs(int(offset.total_seconds() // 60))
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def offsets_of(text: str) -> tuple[int, ...] | None:
    """Reminder offsets before a start, in minutes, from "7d, 1d, 1h" (also "none" or "-": no
    reminders, an empty tuple); None when a part is not a duration."""
    parts = [p.strip() for p in re.split(r"[,;]+|\s+(?=\d)", text.strip()) if p.strip()]
    if not parts or parts == ["-"] or (len(parts) == 1 and parts[0].lower() in ("none", "geen", "ingen", "no", "nee", "nei")):
        return ()
    out = set()
    for part in parts:
        found = _DURATION.match(part.replace(" ", ""))
        if not found or int(found.group(1)) == 0:
            return None
        out.add(int(timedelta(**{_UNIT[found.group(2).lower()]: int(found.group(1))}).total_seconds() // 60))
    return tuple(sorted(out, reverse=True))


class LocalDateTimeArg(Converter):
    """`2027-03-14 19:30` (or `2027-03-14T19:30`, `14-03-2027 19:30`; a date alone is midnight),
    `tomorrow 10:00` / `morgen 10:00` / `i morgen 10:00`, or `in 2h` / `over 2 uur` / `om 2
    timer`, read in the member's zone (`!tz`), else the zone of the event argument before it,
    else the network's; returned as an aware datetime on that clock. A time the clocks skip is
    refused with the reason; a repeated one is the first (`repeated()` tells the handler)."""

    label = "date-time"

    def take(self, remaining: str) -> tuple[str, str] | None:
        return take_moment(remaining)

    async def convert(self, ctx: Context, raw: str, bound: dict[str, Any]) -> datetime:
        moment = read_moment(raw, await self.zone(ctx, bound), ctx.now)
        if moment is None:
            raise UserError("converters.datetime", value=raw[:40], example="2027-03-14 19:30, in 2h, tomorrow 10:00",
                            tz=code(f"{ctx.prefix}tz"))
        return moment

    @staticmethod
    async def zone(ctx: Context, bound: dict[str, Any]) -> str:
        member = await members.get(ctx.db, ctx.sender)
        if member is not None and member.timezone:
            return member.timezone
        event_zone = next((getattr(v, "timezone", None) for v in bound.values() if hasattr(v, "starts_at")), None)
        if event_zone:
            return event_zone
        here = await networks.network_of_room(ctx.db, ctx.room_id)
        net = await networks.get(ctx.db, here[0]) if here else None
        return (net.timezone if net is not None and net.timezone else None) or DEFAULT_TZ


MemberRef = Annotated[Member, MemberArg()]
Duration = Annotated[timedelta, DurationArg()]
LocalDateTime = Annotated[datetime, LocalDateTimeArg()]
