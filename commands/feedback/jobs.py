"""What the schedule runs for feedback: the request after the event (an `m.text` DM to each
confirmed participant saying how to answer; a job never opens the conversation itself, which
would overwrite one the member has open) and the nudges before the deadline, only to the people
and groups that have not answered. A nudge is a reminder: who said `!reminders off` gets none by DM
(the request itself still comes, and a group's nudge in its room is the room's). Its row carries the
event's network, so a nudge missed while the bot was down is reported to that control room; it has
no one recipient (it goes to whoever has not answered when it runs) and holds nothing about anyone."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api import JobContext, job
from api.feedback_forms import SETTINGS
from api.render import code
from commands.feedback import rules
from storage import events, feedback, members, registrations as regs, sessions
from storage.models import Event

ASK, NUDGE = "feedback.ask", "feedback.nudge"
_EARLY = timedelta(minutes=1)


def ask_key(event: Event) -> str:
    return f"{ASK}:{event.id}"


def deadline_of(event: Event) -> datetime:
    return rules.deadline(event.ends_at, event.feedback_deadline, SETTINGS.deadline_days)


async def plan_nudges(ctx, event: Event, since: datetime) -> None:  # noqa: ANN001 - Context or JobContext
    """(Re)plan the nudges between `since` and the deadline; a nudge already sent stays sent."""
    for i, due in enumerate(rules.nudge_times(since, deadline_of(event), SETTINGS.nudges), start=1):
        await ctx.schedule.at(f"{NUDGE}:{event.id}:{i}", NUDGE, due, {"event": event.id, "title": event.title},
                              network=event.network)


async def _participants(ctx: JobContext, event: Event) -> list[str]:
    return sorted({r.user_id for r in await regs.of_event(ctx.db, event.id, (regs.CONFIRMED,))})


@job(ASK)
async def ask(ctx: JobContext, payload: dict[str, Any]) -> None:
    event = await events.lock(ctx.db, int(payload["event"]))
    if event is None or event.state != events.PUBLISHED:
        return
    due = event.ends_at + SETTINGS.delay
    if due - ctx.now > _EARLY:  # the event was moved later: ask then
        await ctx.schedule.at(f"{ASK}:{event.id}:{due:%Y%m%d%H%M}", ASK, due, {"event": event.id})
        return
    deadline = deadline_of(event)
    if ctx.now >= deadline:
        return
    done, _groups = await feedback.responded(ctx.db, event.id)
    for user in await _participants(ctx, event):
        if user not in done:
            await ctx.tell(user, "feedback.ask", about_network=event.network, title=event.title,
                           command=code(f"{ctx.prefix}feedback {event.slug}"),
                           deadline=lambda t: t.datetime(deadline, event.timezone))
    await plan_nudges(ctx, event, since=ctx.now)


@job(NUDGE)
async def nudge(ctx: JobContext, payload: dict[str, Any]) -> None:
    event = await events.lock(ctx.db, int(payload["event"]))
    if event is None or event.state != events.PUBLISHED:
        return
    deadline = deadline_of(event)
    if ctx.now >= deadline:
        return
    done, groups_done = await feedback.responded(ctx.db, event.id)
    when = lambda t: t.datetime(deadline, event.timezone)  # noqa: E731
    for user in await _participants(ctx, event):
        if user not in done and not await members.reminders_muted(ctx.db, user):
            await ctx.tell(user, "feedback.nudge", about_network=event.network, title=event.title,
                           command=code(f"{ctx.prefix}feedback {event.slug}"), deadline=when)
    groups = [g for g in await sessions.of_event(ctx.db, event.id, None) if g.id not in groups_done]
    people = await sessions.members(ctx.db, [g.id for g in groups])
    t = await ctx.translator_for_network(event.network)
    for g in groups:
        command = code(f"{ctx.prefix}feedback group {event.slug}/{g.number}" if not g.workshop_id
                       else f"{ctx.prefix}feedback group {event.slug}")
        if g.room_id:
            await ctx.chat.send(g.room_id, t("feedback.nudge_group", title=event.title, number=g.number,
                                             command=command, deadline=when))
        else:
            for m in people[g.id]:
                if await members.reminders_muted(ctx.db, m.user_id):
                    continue
                await ctx.tell(m.user_id, "feedback.nudge_group", about_network=event.network, title=event.title,
                               number=g.number, command=command, deadline=when)
