"""Arguments that resolve themselves. A handler parameter annotated `Annotated[T, SomeConverter()]`
(or one of the aliases below) receives the resolved object: the router calls the converter with
the context, and a converter that cannot resolve the text raises its own UserError, which the
user reads with the command's usage line.

    async def register(ctx: Context, event: LockedEvent, workshop: WorkshopRef | None = None) -> Reply:

Events and workshops live in api/event_args.py; this module has the protocol and the plain ones:
a member of this network (`@user`), a duration (`10m`, `2h`, `1d`) and a local date-time
(`2027-03-14 19:30`, in the member's zone, else the event's, else the network's)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

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


class LocalDateTimeArg(Converter):
    """`2027-03-14 19:30` (or `2027-03-14T19:30`; a date alone is midnight), read in the member's
    zone (`!tz`), else the zone of the event argument before it, else the network's, and
    returned as an aware datetime."""

    label = "date-time"

    def take(self, remaining: str) -> tuple[str, str] | None:
        found = _DATE_TIME.match(remaining)
        return (found.group(0), remaining[found.end():].lstrip()) if found else None

    async def convert(self, ctx: Context, raw: str, bound: dict[str, Any]) -> datetime:
        found = _DATE_TIME.match(raw.strip())
        try:
            if not found:
                raise ValueError(raw)
            naive = datetime.strptime(f"{found.group(1)} {(found.group(2) or '00:00').replace('.', ':')}",
                                      "%Y-%m-%d %H:%M")
        except ValueError:
            raise UserError("converters.datetime", value=raw[:40], example="2027-03-14 19:30",
                            tz=code(f"{ctx.prefix}tz")) from None
        return naive.replace(tzinfo=ZoneInfo(await self.zone(ctx, bound)))

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
