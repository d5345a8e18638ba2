"""What the schedule runs for events: a seat offer that nobody answered in time."""
from __future__ import annotations

from typing import Any

from bot.api import JobContext, job
from bot.render import code
from commands.events import notify, seats
from commands.events.common import when
from commands.events.rules import State, offer_lapsed
from storage import events, registrations as regs


@job(notify.OFFER_EXPIRY)
async def offer_expiry(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The offer lapses: the member is told, and the seat is offered to the next in line."""
    row = await regs.by_id(ctx.db, int(payload["registration_id"]))
    if row is None:
        return
    event = await events.lock(ctx.db, row.event_id)
    row = await regs.by_id(ctx.db, row.id)  # read again under the event's lock
    if event is None or row is None or event.state == events.CANCELLED or row.offers != payload.get("offers"):
        return
    if not offer_lapsed(State(row.state), row.offer_expires_at, ctx.now):
        return
    changes = await seats.give_up(ctx.db, event, row, regs.EXPIRED, ctx.now)
    workshop = next((w for w in await events.workshops(ctx.db, event.id) if w.id == row.slot), None)
    what = ctx.t("events.workshop_of", workshop=workshop.name, title=event.title) if workshop else event.title
    await ctx.chat.dm(row.user_id, ctx.t("events.offer.lapsed", what=what, when=when(event),
                                         register=code(f"!register {event.slug}")))
    await notify.tell(ctx, event, [c for c in changes if not (c.kind == "withdrawn" and c.registration is row)])
