"""When a member is forgotten (!forgetme), their registrations for coming events are erased by
storage; the seats they held must then go to the waiting list, like any other freed seat."""
from __future__ import annotations

from api import Context
from commands.events import notify, seats
from commands.privacy.hooks import After, on_forget
from storage import events, registrations as regs


@on_forget
async def refill_seats(ctx: Context) -> After | None:
    ids = sorted({e.id for _r, e in await regs.of_user(ctx.db, ctx.sender)
                  if e.ends_at > ctx.now and e.state == events.PUBLISHED})
    if not ids:
        return None
    locked = [e for e in [await events.lock(ctx.db, i) for i in ids] if e is not None]  # before the rows go

    async def after() -> None:
        for event in locked:
            changes = await seats.fill_all(ctx.db, event, ctx.now)
            await notify.tell(ctx, event, changes, prefix=ctx.prefix)

    return after
