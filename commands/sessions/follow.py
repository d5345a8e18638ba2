"""After the split, the groups follow the registrations: whoever no longer holds a confirmed seat
leaves their group, and whoever newly holds one joins the smallest group with room (and is told
which). A group never grows beyond its size: when every group is full, the coordinators' room
hears that someone has a seat but no group. Runs through the declared hook the events feature
sets off (`ctx.seats_changed`), so neither feature imports the other."""
from __future__ import annotations

from api import Context, JobContext, on_seats_changed
from api.render import code
from commands.sessions import grouping, views
from commands.sessions.refs import Groups, confirmed, person
from storage import events, networks, sessions
from storage.models import Event, Member


@on_seats_changed
async def follow(ctx: Context | JobContext, event: Event) -> None:
    if event.state != events.PUBLISHED:
        return  # a cancelled event keeps its groups as they were
    rows = await sessions.of_event(ctx.db, event.id, slot=None)
    if not rows:
        return
    by_slot = {w.id: w for w in await events.workshops(ctx.db, event.id)}
    members = await sessions.members(ctx.db, [r.id for r in rows])
    for slot in sorted({r.slot for r in rows}):
        current = Groups(event, by_slot.get(slot), [r for r in rows if r.slot == slot], members)
        await _follow(ctx, current, await confirmed(ctx, event, slot))


async def _follow(ctx: Context | JobContext, current: Groups, holders: list[str]) -> None:
    held = set(holders)
    for row in current.rows:
        for member in list(current.members.get(row.id, [])):
            if member.user_id not in held:
                await sessions.remove(ctx.db, member)
                current.members[row.id].remove(member)
    placed = set(current.user_ids())
    newcomers = [u for u in holders if u not in placed]
    if newcomers:
        await _place(ctx, current, placed, newcomers)
    for row in current.rows:  # the rooms follow the groups (invites, removals)
        await ctx.session_changed(row)


async def _place(ctx: Context | JobContext, current: Groups, placed: set[str], newcomers: list[str]) -> None:
    people = await sessions.people(ctx.db, [*placed, *newcomers])
    groups = current.as_groups(people)
    for user_id in newcomers:
        group = grouping.join(groups, person(user_id, people))
        if group is None:
            await _no_room(ctx, current, user_id, people)
            continue
        await sessions.add(ctx.db, current.row_of(group.number), user_id, ctx.now)
        await ctx.tell(user_id, "sessions.joined.dm", about_network=current.event.network,
                       session=current.ref(group.number), what=lambda t: current.what(t),
                       sessions=code(f"{ctx.prefix}sessions {current.event.slug}"))


async def _no_room(ctx: Context | JobContext, current: Groups, user_id: str, people: dict[str, Member]) -> None:
    room = await networks.room_id(ctx.db, current.event.network, "control")
    if room is not None:
        await ctx.post(room, "sessions.follow.full", about_network=current.event.network, about=user_id,
                       user=views.name(user_id, people), what=lambda t: current.what(t),
                       move=code(f"{ctx.prefix}group move {user_id} <session>"))
