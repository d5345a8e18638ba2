"""What the events commands share: finding an event the caller may see, its network's defaults,
workshops by name, and the form's problems as one polite reply."""
from __future__ import annotations

import difflib
from datetime import datetime
from zoneinfo import ZoneInfo

from api import Context, Role, UserError
from api.render import Text, bullets, code, lines
from commands.common.lists import fit
from commands.common.places import is_private
from commands.events.form import FIELDS, Problem, slugify
from storage import events, members, networks
from storage.models import Event, EventWorkshop

DEFAULT_TZ = "Europe/Amsterdam"
PROBLEM_LIMIT = 15  # a form with more mistakes than this gets the first ones and a count


def role_in(ctx: Context, network: str) -> Role:
    return ctx.roles.get(network, Role.ANYONE)


async def can_see(ctx: Context, event: Event) -> bool:
    """Members of the event's network see it once published; drafts only its coordinators;
    an invitation-only event only those invited and the network's facilitators and coordinators.
    Anyone else is answered as if the event did not exist."""
    role = role_in(ctx, event.network)
    if role < Role.MEMBER or (event.state == events.DRAFT and role < Role.COORDINATOR):
        return False
    if event.invite_only and role < Role.FACILITATOR:
        return await events.is_invited(ctx.db, event.id, ctx.sender)
    return True


async def find_event(ctx: Context, slug: str, *, lock: bool = False, manage: bool = False,
                     least: Role = Role.MEMBER) -> Event:
    """The event with this id, if the caller may see it (can_see); `manage` needs a coordinator
    of the event's network; `lock` takes the row lock."""
    event = await events.by_slug(ctx.db, slug.strip().lower(), lock=lock)
    if event is None or not await can_see(ctx, event):
        close = await _suggestions(ctx, slug)
        raise UserError("events.unknown_suggest" if close else "events.unknown", slug=slug[:60],
                        suggestions=", ".join(close), events=code(f"{ctx.prefix}events"))
    role = role_in(ctx, event.network)
    wanted = Role.COORDINATOR if manage else least
    if role < wanted:
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


async def shown_here(ctx: Context, event: Event) -> bool:
    """Whether the event may be shown in this room: an open, published one anywhere; a draft or
    an invitation-only one only in a DM or its network's coordinators' room."""
    if event.state != events.DRAFT and not event.invite_only:
        return True
    return await is_private(ctx, event.network)


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


async def default_timezone(ctx: Context, network: str) -> str:
    """The network's zone, else the coordinator's own (!tz), else the bot's default."""
    net = await networks.get(ctx.db, network)
    if net is not None and net.timezone:
        return net.timezone
    member = await members.get(ctx.db, ctx.sender)
    return (member.timezone if member and member.timezone else None) or DEFAULT_TZ


def problems_text(ctx: Context, problems: list[Problem]) -> Text:
    """The problems as a list, capped so that the reply always fits in one message."""
    items, hidden = fit((ctx.t(key, **values) for key, values in problems), len(problems), limit=PROBLEM_LIMIT)
    return bullets(items) + (lines(["", ctx.t("events.form.more_problems", count=hidden)]) if hidden else "")


def raise_problems(ctx: Context, problems: list[Problem]) -> None:
    if problems:
        raise UserError("events.form.problems", problems=problems_text(ctx, problems),
                        fields=", ".join(FIELDS), example=code("starts: 2027-03-14 19:30"))


def when(event: Event) -> str:
    """Sun 14 Mar 2027, 19:30–21:30 (Europe/Amsterdam); both dates when it spans days."""
    zone = ZoneInfo(event.timezone)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    tail = end.strftime("%H:%M") if start.date() == end.date() else end.strftime("%a %d %b %Y, %H:%M")
    return f"{start.strftime('%a %d %b %Y, %H:%M')}–{tail} ({event.timezone})"


def local(event: Event, moment: datetime) -> str:
    return f"{moment.astimezone(ZoneInfo(event.timezone)).strftime('%a %d %b %Y, %H:%M')} ({event.timezone})"


def coordinator_networks(ctx: Context) -> list[str]:
    return sorted(n for n, r in ctx.roles.items() if r >= Role.COORDINATOR)
