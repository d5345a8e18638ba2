"""Each session's private room: `!session open` has the runtime create it (once, through the
outbox), the room_made job records it and invites the group, and the room is kept equal to the
group afterwards (`in_step`, the declared @on_session_changed hook, which any feature sets off
with `ctx.session_changed(group)`). `!session close` lives in close.py."""
from __future__ import annotations

from api import Context, JobContext, Reply, Role, UserError, command, confirmable, job, on_leave, on_session_changed
from api.event_args import find_event
from api.render import code
from commands.sessions.refs import Groups, SessionArg, load
from storage import events, networks, sessions
from storage.models import GroupSession

OPEN = "sessions.open"

OPENED = "sessions.room_made"
AT_CREATION = 10  # invited with the room itself (Synapse's default burst of invites per room); the rest one by one
PROGRESS_EVERY = 5  # rooms between two progress lines in the control room


async def groups_of(ctx: Context | JobContext, row: GroupSession) -> Groups:
    """The session's queue (event or workshop) with its groups, for names and references."""
    event = await events.lock(ctx.db, row.event_id)
    workshop = next((w for w in await events.workshops(ctx.db, row.event_id) if w.id == row.slot), None)
    return await load(ctx, event, workshop)


def may_run(ctx: Context, network: str, row: GroupSession) -> bool:
    """A coordinator of the network, or this session's facilitator."""
    return ctx.roles.get(network, Role.ANYONE) >= Role.COORDINATOR or row.facilitator == ctx.sender


async def targets(ctx: Context, raw: str) -> tuple[Groups | None, list[tuple[Groups, GroupSession]]]:
    """`<event>/<n>` (one session) or `<event>` (every session of it and of its workshops the
    caller may run). Raises a UserError when there is none."""
    if "/" in raw:
        picked = await SessionArg().convert(ctx, raw, {})
        if not may_run(ctx, picked.groups.event.network, picked.row):
            raise UserError("sessions.room.not_allowed", session=picked.ref)
        return picked.groups, [(picked.groups, picked.row)]
    event = await find_event(ctx, raw, lock=True)
    rows = await sessions.of_event(ctx.db, event.id, slot=None)
    if not rows:
        raise UserError("sessions.list.none", title=event.title, groups=code(f"{ctx.prefix}groups {event.slug} size=<n>"))
    queues: dict[int, Groups] = {}
    out = []
    for row in rows:
        if row.slot not in queues:
            queues[row.slot] = await groups_of(ctx, row)
        if may_run(ctx, event.network, row):
            out.append((queues[row.slot], row))
    if not out:
        raise UserError("sessions.room.not_allowed", session=event.slug)
    return None, out


@command("session open", help="cmd.session_open", role=Role.MEMBER, usage="<session|event>",
         local={"nl": "sessie openen", "nb": "åpne økt"})
async def open_rooms(ctx: Context, target: str) -> Reply:
    """One room is made at once; several (a bulk action: rooms, invitations, a DM to everyone in
    them) are described first and made on `!confirm`."""
    return await _open(ctx, target, confirmed=False)


@confirmable(OPEN)
async def open_rooms_confirmed(ctx: Context, args: dict) -> Reply:
    return await _open(ctx, args["target"], confirmed=True)


async def _open(ctx: Context, target: str, *, confirmed: bool) -> Reply:
    _one, picked = await targets(ctx, target)
    todo = [(g, r) for g, r in picked if r.room_state == sessions.NONE]
    if not todo:
        return ctx.reply("sessions.room.nothing_to_open", count=len(picked),
                         sessions=code(f"{ctx.prefix}sessions {picked[0][0].event.slug}"))
    if len(todo) > 1 and not confirmed:
        people = sum(len(g.members.get(r.id, [])) + (1 if r.facilitator else 0) for g, r in todo)
        summary = ctx.t("sessions.room.confirm_open", count=len(todo), title=todo[0][0].event.title, people=people)
        return await ctx.confirm(OPEN, {"target": target}, summary=summary)
    for groups, row in todo:
        await create(ctx, groups, row)
    event = todo[0][0].event
    return ctx.reply("sessions.room.opening", count=len(todo), already=len(picked) - len(todo),
                     sessions=code(f"{ctx.prefix}sessions {event.slug}"))


async def create(ctx: Context, groups: Groups, row: GroupSession) -> None:
    """Queue the room's creation (the outbox makes it once, even across a crash)."""
    t = await ctx.translator_for_network(groups.event.network)
    wanted = await sessions.wanted(ctx.db, row)
    row.room_state, row.updated_at = sessions.CREATING, ctx.now
    await ctx.chat.create_room(
        name=t("sessions.room.name", what=groups.what(t), number=row.number).plain,
        topic=t("sessions.room.topic", session=groups.ref(row)).plain,
        marker={"session": row.id, "network": groups.event.network, "event": groups.event.slug, "number": row.number},
        moderators=tuple(u for u, level in wanted.items() if level >= sessions.MODERATOR),
        invite=tuple(list(wanted)[:AT_CREATION]), then=OPENED, then_payload={"session": row.id})
    await ctx.db.flush()


@job(OPENED, always=True)
async def room_made(ctx: JobContext, payload: dict) -> None:
    """The homeserver made the room (or refused): record it, let in who was invited with it, invite
    the rest, and report progress in the coordinators' room."""
    row = await sessions.by_id(ctx.db, int(payload["session"]))
    room_id = payload.get("room_id")
    if row is None:  # the groups were split anew meanwhile: the room belongs to nobody
        if room_id:
            await ctx.chat.leave(room_id)
        return
    groups = await groups_of(ctx, row)
    row = groups.row_of(row.number)
    control = await networks.room_id(ctx.db, groups.event.network, "control")
    if not room_id:
        row.room_state, row.updated_at = sessions.NONE, ctx.now
        if control:
            await ctx.post(control, "sessions.room.failed", about_network=groups.event.network, session=groups.ref(row),
                           error=str(payload.get("error") or "")[:200],
                           again=code(f"{ctx.prefix}session open {groups.ref(row)}"))
        return
    await sessions.room_opened(ctx.db, row, room_id, ctx.now)
    wanted = await sessions.wanted(ctx.db, row)
    for user_id in payload.get("invited", []):
        await sessions.admit(ctx.db, row, user_id, wanted.get(user_id, 0), ctx.now)
        if user_id in wanted:
            await _tell_invited(ctx, groups, row, user_id)
    await in_step(ctx, row)
    if control:
        await _progress(ctx, groups, control)


async def _progress(ctx: JobContext, groups: Groups, control: str) -> None:
    rows = await sessions.of_event(ctx.db, groups.event.id, slot=None)
    made = [r for r in rows if r.room_state in (sessions.OPEN, sessions.CLOSED)]
    waiting = sum(1 for r in rows if r.room_state == sessions.CREATING)
    net = groups.event.network
    if waiting == 0:
        invited = 0
        for row in made:
            invited += len(await sessions.let_in(ctx.db, row.id))
        await ctx.post(control, "sessions.room.all_open", about_network=net, count=len(made), people=invited,
                       title=groups.event.title)
    elif len(made) % PROGRESS_EVERY == 0:
        await ctx.post(control, "sessions.room.progress", about_network=net, done=len(made),
                       count=len(made) + waiting, title=groups.event.title)


async def _tell_invited(ctx: Context | JobContext, groups: Groups, row: GroupSession, user_id: str) -> None:
    """The invitation, as an m.text DM with a mention: a notice would be silenced on phones."""
    await ctx.tell(user_id, "sessions.room.invited_dm", about_network=groups.event.network, session=groups.ref(row),
                   what=lambda t: groups.what(t), role=lambda t: t("sessions.room.as_facilitator")
                   if row.facilitator == user_id else t("sessions.room.as_participant"),
                   link=f"https://matrix.to/#/{row.room_id}")


@on_session_changed
async def in_step(ctx: Context | JobContext, group: GroupSession) -> None:
    """The room holds exactly the group: whoever belongs and was not let in yet is invited (and
    told), whoever no longer belongs is removed, the facilitator moderates."""
    if not group.room_id or group.room_state not in (sessions.OPEN, sessions.CLOSED):
        return  # no room yet: room_made brings it in step once it exists
    wanted = await sessions.wanted(ctx.db, group)
    have = await sessions.let_in(ctx.db, group.id)
    groups: Groups | None = None
    for user_id, level in wanted.items():
        if user_id not in have:
            groups = groups or await groups_of(ctx, group)
            await ctx.chat.invite(group.room_id, user_id)
            await sessions.admit(ctx.db, group, user_id, level, ctx.now)
            if level:
                await ctx.chat.set_power(group.room_id, user_id, level)
            await _tell_invited(ctx, groups, group, user_id)
        elif have[user_id].level != level:
            await ctx.chat.set_power(group.room_id, user_id, level)
            have[user_id].level = level
    for user_id, row in have.items():
        if user_id not in wanted:
            groups = groups or await groups_of(ctx, group)
            t = await ctx.translator_for(user_id, groups.event.network)
            await ctx.chat.kick(group.room_id, user_id, t("sessions.room.removed_reason", session=groups.ref(group)).plain)
            if row.level:
                await ctx.chat.set_power(group.room_id, user_id, 0)
            await ctx.db.delete(row)
    await ctx.db.flush()


@on_leave
async def leave_rooms(ctx: Context, user_id: str, network: str | None) -> None:
    """`!leave`, `!remove`, `!forgetme`: out of every group, facilitation and session room of the
    network (of all of them when forgotten), past events included."""
    touched: dict[int, GroupSession] = {}
    for row in await sessions.member_rows(ctx.db, user_id):
        group = await sessions.by_id(ctx.db, row.session_id)
        event = await events.lock(ctx.db, group.event_id)
        if network in (None, event.network):
            await sessions.remove(ctx.db, row)
            touched[group.id] = group
    for group in await sessions.led_by(ctx.db, user_id):
        event = await events.lock(ctx.db, group.event_id)
        if network in (None, event.network):
            sessions.set_facilitator(group, None, ctx.now)
            touched[group.id] = group
    for group in await sessions.rooms_of(ctx.db, user_id):
        event = await events.lock(ctx.db, group.event_id)
        if network in (None, event.network):
            touched[group.id] = group
    for group in touched.values():
        await ctx.session_changed(group)
