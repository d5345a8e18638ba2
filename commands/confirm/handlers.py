"""!confirm and !stop: answer a pending confirmation, or leave any flow in this room.

A feature asks with `await ctx.confirm(name, args, summary=...)` and declares what then happens
with `@confirmable(name)` (see api/decorators.py)."""
from __future__ import annotations

from api import Context, Reply, Role, command
from storage import confirmations


@command("confirm", help="cmd.confirm", role=Role.ANYONE, local={"nl": "bevestigen", "nb": "bekreft"})
async def confirm(ctx: Context) -> Reply | None:
    row = await confirmations.current(ctx.db, ctx.sender, ctx.room_id)
    if row is None or row.flow != confirmations.FLOW:
        return ctx.reply("confirm.nothing")
    expired = row.expires_at <= ctx.now
    taken = await confirmations.take(ctx.db, ctx.sender, ctx.room_id, ctx.now)
    if expired or taken is None:
        return ctx.reply("confirm.expired")
    name, args = taken
    fn = ctx.declared.confirmables.get(name) if ctx.declared else None
    if fn is None:
        return ctx.reply("confirm.nothing")
    return await fn(ctx, args)


@command("stop", help="cmd.stop", role=Role.ANYONE, local={"nl": "stoppen", "nb": "stopp"})
async def stop(ctx: Context) -> Reply:
    flow = await confirmations.stop(ctx.db, ctx.sender, ctx.room_id)
    return ctx.reply("confirm.stopped" if flow == confirmations.FLOW else "flow.stopped" if flow else "flow.none")
