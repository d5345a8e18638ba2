"""What the schedule runs for events: a seat offer that nobody answered in time."""
from __future__ import annotations

from typing import Any

from api import JobContext, job
from commands.events import notify, service
from storage import events, registrations as regs


@job(notify.OFFER_EXPIRY, always=True)
async def offer_expiry(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The offer lapses: the member is told, and the seat is offered to the next in line. Any
    other offer of the event that ran out goes the same way (its own job may have been marked
    missed while the bot was down); an offer taken up or declined meanwhile is left alone."""
    row = await regs.by_id(ctx.db, int(payload["registration_id"]))
    if row is None:
        return
    event = await events.lock(ctx.db, row.event_id)
    if event is None or event.state == events.CANCELLED:
        return
    await service.settle(ctx, event)
