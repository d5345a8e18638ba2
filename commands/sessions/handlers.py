"""Splitting an event into closed groups, and seeing them: `!groups` (a proposal first, applied on
`!confirm`), `!sessions` and `!facilitate`. Hand adjustments live in adjust.py; keeping the groups
in step with registrations in follow.py."""
from __future__ import annotations

import re

from api import Context, Reply, Rest, Role, UserError, Where, command, confirmable, whole_number
from api.converters import MemberRef
from api.event_args import EventRef, ManagedEvent, find_event, find_workshop, shown_here
from api.render import bold, bullets, code, lines
from commands.common.places import privately, require_private
from commands.sessions import grouping, views
from commands.sessions.refs import Groups, ManagedSession, confirmed, load, person
from storage import events, members, sessions
from storage.models import Event, EventWorkshop, Member

SPLIT = "sessions.split"
MOST = 1000  # the largest group size accepted
_SIZE = re.compile(r"^size\s*=\s*(\S*)$", re.IGNORECASE)
_ANEW = "anew"


@command("groups", help="cmd.groups", role=Role.COORDINATOR, where=Where.PRIVATE,
         usage="<event> [workshop] size=<n> [anew]", local={"nl": "groepen", "nb": "grupper"})
async def groups(ctx: Context, e: ManagedEvent, options: Rest | None = None) -> Reply:
    await require_private(ctx, "groups", e.network)  # the proposal names people and organisations
    workshop, size, anew = await _options(ctx, e, options or "")
    current = await load(ctx, e, workshop)
    if current.rows and not anew:
        people = await sessions.people(ctx.db, current.user_ids() + [r.facilitator for r in current.rows
                                                                      if r.facilitator])
        again = f"{ctx.prefix}groups {e.slug}{_ws(workshop)} size={size or current.rows[0].size} {_ANEW}"
        return Reply(lines([bold(ctx.t("sessions.groups.current", what=current.what(ctx.t))),
                            views.current(ctx.t, current, people),
                            ctx.t("sessions.groups.again", anew=code(again))]))
    if size is None:
        raise UserError("sessions.groups.size_missing", example=code(f"{ctx.prefix}groups {e.slug}{_ws(workshop)} size=12"))
    _may_split_again(ctx, current)
    proposal, people = await _proposal(ctx, current, size)
    summary = lines([bold(ctx.t("sessions.groups.proposal", what=current.what(ctx.t), size=size,
                                people=sum(len(g.members) for g in proposal), count=len(proposal))),
                     views.proposal(ctx.t, proposal, people)])
    return await ctx.confirm(SPLIT, {"event": e.slug, "workshop": workshop.key if workshop else None, "size": size,
                                     "anew": anew, "shown": _members_of(proposal)}, summary=summary)


@confirmable(SPLIT)
async def split_confirmed(ctx: Context, args: dict) -> Reply:
    e = await find_event(ctx, args["event"], lock=True, manage=True)
    workshop = await find_workshop(ctx, e, args["workshop"]) if args.get("workshop") else None
    current = await load(ctx, e, workshop)
    listing = code(f"{ctx.prefix}sessions {e.slug}")
    if current.rows:
        if not args.get("anew"):
            return ctx.reply("sessions.groups.meanwhile", what=current.what(ctx.t), sessions=listing)
        _may_split_again(ctx, current)
        await sessions.drop(ctx.db, current.rows)
    proposal, _people = await _proposal(ctx, current, int(args["size"]))
    if _members_of(proposal) != args["shown"]:  # registrations changed since the proposal was shown
        what = current.what(ctx.t)
        return ctx.reply("sessions.groups.changed", what=what,
                         again=code(f"{ctx.prefix}groups {e.slug}{_ws(workshop)} size={args['size']}"
                                    + (f" {_ANEW}" if args.get("anew") else "")))
    await sessions.create(ctx.db, e.id, workshop.id if workshop else None, int(args["size"]),
                          _members_of(proposal), ctx.now)
    return ctx.reply("sessions.groups.done", what=current.what(ctx.t), count=len(proposal), sessions=listing,
                     facilitate=code(f"{ctx.prefix}facilitate {current.ref(1)} @user"))


def _members_of(proposal: list[grouping.Group]) -> list[list[str]]:
    return [[m.user_id for m in g.members] for g in proposal]


async def _options(ctx: Context, e: Event, text: str) -> tuple[EventWorkshop | None, int | None, bool]:
    """`[workshop] size=<n> [anew]` in any order: the workshop is whatever words remain."""
    size: int | None = None
    anew = False
    rest = []
    for word in text.split():
        found = _SIZE.match(word)
        if found:
            size = _size(found.group(1))
        elif word.lower() == _ANEW:
            anew = True
        else:
            rest.append(word)
    workshop = await find_workshop(ctx, e, " ".join(rest)) if rest else None
    return workshop, size, anew


def _size(raw: str) -> int:
    value = whole_number(raw) if raw else None
    if value is None or not 1 <= value <= MOST:
        raise UserError("sessions.groups.size_bad", value=raw[:20], most=MOST)
    return value


def _ws(workshop: EventWorkshop | None) -> str:
    return f" {workshop.key}" if workshop else ""


def _may_split_again(ctx: Context, current: Groups) -> None:
    """Groups whose rooms exist are not thrown away: people would lose their room."""
    if any(r.room_state != sessions.NONE for r in current.rows):
        raise UserError("sessions.groups.rooms_exist", what=current.what(ctx.t),
                        move=code(f"{ctx.prefix}group move @user <session>"))


async def _proposal(ctx: Context, current: Groups, size: int) -> tuple[list[grouping.Group], dict[str, Member]]:
    users = await confirmed(ctx, current.event, current.slot)
    if not users:
        raise UserError("sessions.groups.nobody", what=current.what(ctx.t))
    people = await sessions.people(ctx.db, users)
    return grouping.split([person(u, people) for u in users], size), people


@command("sessions", help="cmd.sessions", role=Role.MEMBER, local={"nl": "sessies", "nb": "økter"})
async def list_sessions(ctx: Context, e: EventRef) -> Reply:
    """Sessions, sizes, facilitators and room state, without the members: shown wherever the
    event may be shown."""
    rows = await sessions.of_event(ctx.db, e.id, slot=None)
    if not rows:
        return ctx.reply("sessions.list.none", title=e.title, groups=code(f"{ctx.prefix}groups {e.slug} size=<n>"))
    by_slot = {w.id: w for w in await events.workshops(ctx.db, e.id)}
    people = await sessions.people(ctx.db, [r.facilitator for r in rows if r.facilitator])
    parts = [bold(ctx.t("sessions.list.title", title=e.title))]
    for slot in sorted({r.slot for r in rows}):
        current = await load(ctx, e, by_slot.get(slot))
        parts.append(bullets(views.overview(ctx.t, current, people)))
    text = lines(parts)
    return Reply(text) if await shown_here(ctx, e) else await privately(ctx, text)


@command("facilitate", help="cmd.facilitate", role=Role.COORDINATOR,
         local={"nl": "begeleider aanwijzen", "nb": "utnevn leder"})
async def facilitate(ctx: Context, picked: ManagedSession, who: MemberRef) -> Reply:
    event = picked.groups.event
    if event.network not in await members.active_networks(ctx.db, who.user_id):
        raise UserError("converters.member.unknown", user=who.user_id)
    sessions.set_facilitator(picked.row, who.user_id, ctx.now)
    await ctx.db.flush()
    await ctx.session_changed(picked.row)  # into the room as its moderator; a former facilitator out
    listing = code(f"{ctx.prefix}sessions {event.slug}")
    if who.user_id != ctx.sender:
        await ctx.tell(who.user_id, "sessions.facilitate.dm", about_network=event.network, session=picked.ref,
                       what=lambda t: picked.groups.what(t), sessions=listing)
    return ctx.reply("sessions.facilitate.done", user=views.name(who.user_id, {who.user_id: who}),
                     session=picked.ref)
