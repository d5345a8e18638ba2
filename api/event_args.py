"""Event and workshop arguments: `<event>` is an event id (slug) the caller may see, optionally
locked for update (the row lock seat changes take first) and optionally only for a coordinator of
its network; `[workshop]` is a workshop of the event argument before it, by key, name or number.
Anyone who may not see an event is answered as if it did not exist."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from api.converters import Converter
from api.render import code
from api.slugs import slugify
from api.types import Role, UserError
from storage import events
from storage.models import Event, EventWorkshop

if TYPE_CHECKING:
    from api.context import Context


def role_in(ctx: Context, network: str) -> Role:
    return ctx.roles.get(network, Role.ANYONE)


async def can_see(ctx: Context, event: Event) -> bool:
    """Members of the event's network see it once published; drafts only its coordinators;
    an invitation-only event only those invited and the network's facilitators and coordinators."""
    role = role_in(ctx, event.network)
    if role < Role.MEMBER or (event.state == events.DRAFT and role < Role.COORDINATOR):
        return False
    if event.invite_only and role < Role.FACILITATOR:
        return await events.is_invited(ctx.db, event.id, ctx.sender)
    return True


async def shown_here(ctx: Context, event: Event) -> bool:
    """Whether the event may be shown in this room: an open, published one anywhere; a draft or
    an invitation-only one only in a DM or its network's coordinators' room."""
    if event.state != events.DRAFT and not event.invite_only:
        return True
    return await ctx.is_private(event.network)


async def find_event(ctx: Context, slug: str, *, lock: bool = False, manage: bool = False,
                     least: Role = Role.MEMBER) -> Event:
    """The event with this id, if the caller may see it (can_see); `manage` needs a coordinator
    of the event's network; `lock` takes the row lock."""
    event = await events.by_slug(ctx.db, slug.strip().lower(), lock=lock)
    if event is None or not await can_see(ctx, event):
        close = await _suggestions(ctx, slug)
        raise UserError("events.unknown_suggest" if close else "events.unknown", slug=slug[:60],
                        suggestions=", ".join(close), events=code(f"{ctx.prefix}events"))
    wanted = Role.COORDINATOR if manage else least
    if role_in(ctx, event.network) < wanted:
        raise UserError("events.not_allowed", slug=event.slug, role=wanted.name.lower())
    return event


async def _suggestions(ctx: Context, slug: str) -> list[str]:
    """Up to three ids close to the mistyped one, among the events the caller may see and that
    may be shown in this room."""
    known = await events.all_slugs(ctx.db, [n for n, r in ctx.roles.items() if r >= Role.MEMBER])
    out: list[str] = []
    for candidate in difflib.get_close_matches(slug.lower()[:60], known, n=20, cutoff=0.5):
        event = await events.by_slug(ctx.db, candidate)
        if event is not None and await can_see(ctx, event) and await shown_here(ctx, event):
            out.append(candidate)
            if len(out) == 3:
                break
    return out


async def find_workshop(ctx: Context, event: Event, raw: str) -> EventWorkshop:
    """A workshop by its short key, its name (any case), or its number in the list."""
    workshops = await events.workshops(ctx.db, event.id)
    wanted = raw.strip().strip('"').lower()
    for w in workshops:
        if wanted in (w.key, w.name.lower(), str(w.position)) or slugify(wanted, limit=24) == w.key:
            return w
    if not workshops:
        raise UserError("events.no_workshops", title=event.title)
    raise UserError("events.unknown_workshop", name=raw[:60], title=event.title,
                    choices=", ".join(w.key for w in workshops))


@dataclass(frozen=True)
class EventArg(Converter):
    lock: bool = False
    manage: bool = False
    least: Role = Role.MEMBER
    label: str = "event"

    async def convert(self, ctx: Context, raw: str, bound: dict[str, Any]) -> Event:
        return await find_event(ctx, raw, lock=self.lock, manage=self.manage, least=self.least)


@dataclass(frozen=True)
class WorkshopArg(Converter):
    """Takes the rest of the message: workshop names may have spaces."""

    label: str = "workshop"
    rest: bool = True

    async def convert(self, ctx: Context, raw: str, bound: dict[str, Any]) -> EventWorkshop:
        event = next(v for v in bound.values() if isinstance(v, Event))
        return await find_workshop(ctx, event, raw)


EventRef = Annotated[Event, EventArg()]
LockedEvent = Annotated[Event, EventArg(lock=True)]
ManagedEvent = Annotated[Event, EventArg(lock=True, manage=True)]
WorkshopRef = Annotated[EventWorkshop, WorkshopArg()]
