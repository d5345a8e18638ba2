"""Adjusting groups by hand: `!group move @user <session>` and `!group swap @a @b [event]`. The
rules (grouping.move / swap) decide; a move into a full group is refused with the reason. Each
person moved is told their new group by DM."""
from __future__ import annotations

from api import Context, Reply, Role, UserError, Where, command
from api.converters import MemberRef
from api.event_args import EventRef
from api.render import code
from commands.common.places import require_private
from commands.sessions import grouping, views
from commands.sessions.refs import Groups, ManagedSession, confirmed, load
from storage import events, sessions
from storage.models import Event, Member


@command("group move", help="cmd.group_move", role=Role.COORDINATOR, where=Where.PRIVATE,
         local={"nl": "deelnemer verplaatsen", "nb": "flytt deltaker"})
async def move(ctx: Context, who: MemberRef, target: ManagedSession) -> Reply:
    current = target.groups
    await require_private(ctx, "group move", current.event.network)
    people = await sessions.people(ctx.db, current.user_ids() + [who.user_id])
    groups = current.as_groups(people)
    into = next(g for g in groups if g.number == target.row.number)
    user = views.name(who.user_id, people)
    row = await sessions.member_of(ctx.db, current.event.id, current.slot, who.user_id)
    if row is None and who.user_id not in await confirmed(ctx, current.event, current.slot):
        raise UserError("sessions.move.not_registered", user=user, what=current.what(ctx.t))
    problem = grouping.move_problem(into, who.user_id)
    if problem:
        raise UserError(problem, user=user, session=target.ref, size=target.row.size,
                        swap=code(f"{ctx.prefix}group swap @a @b"))
    if row is None:  # a confirmed participant who had no group yet (every group was full)
        await sessions.add(ctx.db, target.row, who.user_id, ctx.now)
    else:
        left = next(r for r in current.rows if r.id == row.session_id)
        await sessions.place(ctx.db, row, target.row, ctx.now)
        await ctx.session_changed(left)
    await ctx.session_changed(target.row)
    await _tell(ctx, current, target.row.number, who.user_id)
    return ctx.reply("sessions.move.done", user=user, session=target.ref)


@command("group swap", help="cmd.group_swap", role=Role.COORDINATOR, where=Where.PRIVATE,
         local={"nl": "deelnemers wisselen", "nb": "bytt deltakere"})
async def swap(ctx: Context, a: MemberRef, b: MemberRef, e: EventRef | None = None) -> Reply:
    event, slot = await _common(ctx, a, b, e)
    await require_private(ctx, "group swap", event.network)
    workshop = next((w for w in await events.workshops(ctx.db, event.id) if w.id == slot), None)
    current = await load(ctx, event, workshop)
    people = await sessions.people(ctx.db, current.user_ids())
    groups = current.as_groups(people)
    problem = grouping.swap(groups, a.user_id, b.user_id)
    names = {"a": views.name(a.user_id, people), "b": views.name(b.user_id, people)}
    if problem:
        raise UserError(problem, user=names["a"], **names)
    row_a = await sessions.member_of(ctx.db, event.id, slot, a.user_id)
    row_b = await sessions.member_of(ctx.db, event.id, slot, b.user_id)
    group_a = next(r for r in current.rows if r.id == row_a.session_id)
    group_b = next(r for r in current.rows if r.id == row_b.session_id)
    position_a, position_b = row_a.position, row_b.position
    await sessions.place(ctx.db, row_a, group_b, ctx.now, position_b)  # each takes the other's turn
    await sessions.place(ctx.db, row_b, group_a, ctx.now, position_a)
    await ctx.session_changed(group_a)
    await ctx.session_changed(group_b)
    await _tell(ctx, current, group_b.number, a.user_id)
    await _tell(ctx, current, group_a.number, b.user_id)
    return ctx.reply("sessions.swap.done", session_a=current.ref(group_b), session_b=current.ref(group_a), **names)


async def _common(ctx: Context, a: Member, b: Member, e: Event | None) -> tuple[Event, int]:
    """The one event (and queue) in whose groups both people are; the event argument chooses
    when there are several."""
    mine = {(r.event_id, r.slot) for r in await sessions.member_rows(ctx.db, a.user_id)}
    both = sorted(k for k in {(r.event_id, r.slot) for r in await sessions.member_rows(ctx.db, b.user_id)} if k in mine)
    if e is not None:
        both = [k for k in both if k[0] == e.id]
    if not both:
        raise UserError("sessions.swap.no_common", a=a.user_id, b=b.user_id)
    if len(both) > 1:
        slugs = sorted({(await events.lock(ctx.db, event_id)).slug for event_id, _slot in both})
        raise UserError("sessions.swap.which", a=a.user_id, b=b.user_id, events=", ".join(slugs),
                        example=code(f"{ctx.prefix}group swap {a.user_id} {b.user_id} {slugs[0]}"))
    event = await events.lock(ctx.db, both[0][0])
    return event, both[0][1]


async def _tell(ctx: Context, current: Groups, number: int, user_id: str) -> None:
    if user_id != ctx.sender:
        await ctx.tell(user_id, "sessions.moved.dm", about_network=current.event.network,
                       session=current.ref(number), what=lambda t: current.what(t),
                       sessions=code(f"{ctx.prefix}sessions {current.event.slug}"))


