"""The reminder rows follow the event: whoever holds a seat (slot 0, confirmed) has one row per
offset before the start, and, when the event asks questions or cases in advance, one before that
deadline; whoever no longer holds one, or a start that moved, has its rows cancelled. Run after
every seat change, every edit and a cancellation (the events feature's `ctx.seats_changed`)."""
from __future__ import annotations

from api import Context, JobContext, on_seats_changed
from commands.reminders import rules
from storage import cases, events, networks, registrations as regs, schedule
from storage.models import Event


async def offsets(ctx: Context | JobContext, event: Event) -> tuple[int, ...]:
    """The event's own offsets, else its network's (from the config), else none."""
    text = event.reminder_offsets
    if text is None:
        net = await networks.get(ctx.db, event.network)
        text = net.reminder_offsets if net is not None else None
    return tuple(int(m) for m in (text or "").split(",") if m)


async def sent_in_advance(ctx: Context | JobContext, event_id: int) -> set[str]:
    """Who sent a question or a case for the event (the questions-in-advance reminder skips them)."""
    asked = {q.user_id for q in await events.questions(ctx.db, event_id) if q.user_id}
    return asked | await cases.senders_for(ctx.db, event_id)


@on_seats_changed
async def follow(ctx: Context | JobContext, event: Event) -> None:
    """Runs on every registration: it reads user ids and row states only, and writes only what
    differs (a burst of a thousand registrations must not rebuild every row each time)."""
    if event.state == events.PUBLISHED and event.starts_at > ctx.now:
        seated = await regs.seat_holders(ctx.db, event.id)
        asked = await sent_in_advance(ctx, event.id) if event.questions_by is not None else set()
        want = rules.wanted(event.id, event.starts_at, event.timezone, await offsets(ctx, event), seated, event.questions_by, asked)
    else:
        want = []  # a cancelled or past event reminds nobody
    have = await schedule.states_by_prefix(ctx.db, rules.prefix(event.id))
    keys = {w.key for w in want}
    for key, (done, outcome) in have.items():
        if (not done or outcome == schedule.AHEAD) and key not in keys:
            await ctx.schedule.cancel(key)  # one prepared ahead and still held is withdrawn
    for w in want:
        state = have.get(w.key)
        fresh = state is None or state[1] == schedule.CANCELLED
        if fresh and w.due_at > ctx.now:
            payload = {"event_id": event.id, "user": w.user, "offset": w.offset, "title": event.title}
            await ctx.schedule.at(w.key, w.kind, w.due_at, payload, network=event.network, recipient=w.user)
