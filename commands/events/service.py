"""The seat service: every change to who holds or waits for a seat goes through here, and each
does the same four things in the command's (or job's) transaction, the event row locked first:
let lapsed offers go (seats.expire_lapsed), make the change (seats.py), and tell everyone else it
concerns (notify.tell: offers with their expiry, promotions, in the recipient's language), and let
the other features follow (`ctx.seats_changed`: the sessions' groups)."""
from __future__ import annotations

from api import Context, JobContext, on_leave
from commands.events import notify, seats
from commands.events.seats import Change, Outcome
from storage import events, registrations as regs
from storage.models import Event, EventWorkshop, Registration


async def settle(ctx: Context | JobContext, event: Event, *, skip: str | None = None) -> list[Change]:
    """Expire the event's offers whose deadline passed and tell everyone concerned."""
    changes = await seats.expire_lapsed(ctx.db, event, ctx.now)
    await notify.tell(ctx, event, changes, skip=skip)
    if changes:
        await ctx.seats_changed(event)
    return changes


async def register(ctx: Context, event: Event, workshop: EventWorkshop | None) -> Outcome:
    """The caller takes a seat or a waiting-list place (the reply tells them; others get DMs)."""
    await settle(ctx, event)
    outcome = await seats.register(ctx.db, event, ctx.sender, workshop, (ctx.event_time, ctx.event_id), ctx.now)
    await notify.tell(ctx, event, outcome.changes)
    await ctx.seats_changed(event)
    return outcome


async def give_up(ctx: Context, event: Event, row: Registration, state: str) -> list[Change]:
    """The caller cancels or declines a place; freed seats go to the next in line."""
    await settle(ctx, event)
    changes = await seats.give_up(ctx.db, event, row, state, ctx.now)
    await notify.tell(ctx, event, changes, skip=ctx.sender)
    await ctx.seats_changed(event)
    return changes


async def accept(ctx: Context, event: Event, row: Registration) -> list[Change]:
    """The caller takes up an open offer (other offers that ran out go on first)."""
    await settle(ctx, event)
    changes = await seats.accept(ctx.db, event, row, ctx.now)
    await notify.tell(ctx, event, changes, skip=ctx.sender)
    await ctx.seats_changed(event)
    return changes


async def refill(ctx: Context, event: Event) -> list[Change]:
    """After a capacity change: free seats of every queue go to those waiting."""
    changes = await seats.fill_all(ctx.db, event, ctx.now)
    await notify.tell(ctx, event, changes)
    await ctx.seats_changed(event)
    return changes


@on_leave
async def release(ctx: Context, user_id: str, network: str | None) -> None:
    """The person leaves (`!leave`, `!remove`) or is forgotten (network None): their seats and
    waiting-list places at coming events end, and the next in line moves up. They are told
    nothing more about these events."""
    mine = [(r, e) for r, e in await regs.of_user(ctx.db, user_id)
            if e.ends_at > ctx.now and e.state == events.PUBLISHED and network in (None, e.network)]
    for event_id in sorted({e.id for _r, e in mine}):
        event = await events.lock(ctx.db, event_id)
        if event is None:
            continue
        await settle(ctx, event, skip=user_id)
        # the event place first: ending it ends the person's workshop places too
        for row in sorted(await regs.of_user_in_event(ctx.db, event.id, user_id), key=lambda r: r.slot):
            if row.state in regs.ACTIVE:
                changes = await seats.give_up(ctx.db, event, row, regs.CANCELLED, ctx.now)
                await notify.tell(ctx, event, changes, skip=user_id)
        await ctx.seats_changed(event)
