"""`!session close [session]` (a coordinator or the session's facilitator; in the session's room
the session may be left out): after `!confirm` the room becomes read-only for participants
(power levels), with a closing message. Members, report and action points stay."""
from __future__ import annotations

from api import Context, Reply, Role, UserError, command, confirmable
from api.rooms import READ_ONLY
from api.render import code
from commands.sessions import views
from commands.sessions.rooms import groups_of, may_run, targets
from storage import sessions

CLOSE = "sessions.close"


@command("session close", help="cmd.session_close", role=Role.MEMBER, usage="[session]",
         local={"nl": "sessie sluiten", "nb": "lukk økt"})
async def close(ctx: Context, target: str | None = None) -> Reply:
    if target is None:
        row = await sessions.by_room(ctx.db, ctx.room_id)
        if row is None:
            raise UserError("sessions.close.which", example=code(f"{ctx.prefix}session close event-id/2"))
        groups = await groups_of(ctx, row)
        row = groups.row_of(row.number)
        if not may_run(ctx, groups.event.network, row):
            raise UserError("sessions.room.not_allowed", session=groups.ref(row))
    else:
        if "/" not in target:
            raise UserError("sessions.close.which", example=code(f"{ctx.prefix}session close {target.strip()[:40]}/2"))
        _one, [(groups, row)] = await targets(ctx, target)
    if row.room_state != sessions.OPEN:
        raise UserError("sessions.close.not_open", session=groups.ref(row),
                        room=ctx.t(views.ROOM.get(row.room_state, "sessions.room_none")))
    return await ctx.confirm(CLOSE, {"session": row.id}, summary=ctx.t("sessions.close.ask", session=groups.ref(row)))


@confirmable(CLOSE)
async def close_confirmed(ctx: Context, args: dict) -> Reply:
    row = await sessions.by_id(ctx.db, int(args["session"]))
    if row is None:
        raise UserError("sessions.close.gone")
    groups = await groups_of(ctx, row)
    row = groups.row_of(row.number)
    if not may_run(ctx, groups.event.network, row):
        raise UserError("sessions.room.not_allowed", session=groups.ref(row))
    if row.room_state != sessions.OPEN or not row.room_id:
        return ctx.reply("sessions.close.not_open", session=groups.ref(row),
                         room=ctx.t(views.ROOM.get(row.room_state, "sessions.room_none")))
    await ctx.chat.set_levels(row.room_id, **READ_ONLY)
    t = await ctx.translator_for_network(groups.event.network)
    await ctx.chat.send(row.room_id, t("sessions.close.message", session=groups.ref(row)))  # m.text: all should see it
    row.room_state, row.updated_at = sessions.CLOSED, ctx.now
    await ctx.db.flush()
    return ctx.reply("sessions.close.done", session=groups.ref(row))
