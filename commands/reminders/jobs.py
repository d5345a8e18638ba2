"""What the schedule runs for reminders: one DM (m.text, mentioning the reader) in the reader's
language and on their clock. Each job checks again that it still applies: the event is on, the
person still holds a seat, and (for questions) has sent neither a question nor a case."""
from __future__ import annotations

from typing import Any

from api import JobContext, job
from api.render import Text, code, link
from commands.reminders import rules
from commands.reminders.follow import sent_in_advance
from storage import events, registrations as regs, sessions
from storage.models import Event


async def _current(ctx: JobContext, payload: dict[str, Any]) -> Event | None:
    event = await events.lock(ctx.db, int(payload["event_id"]))
    if event is None or event.state != events.PUBLISHED or event.starts_at <= ctx.now:
        return None
    row = await regs.get(ctx.db, event.id, payload["user"], 0)
    return event if row is not None and row.state == regs.CONFIRMED else None


def _room_link(room_id: str) -> Text:
    return link(f"https://matrix.to/#/{room_id}")


@job(rules.EVENT, ahead=True)  # a plain DM: prepared a few seconds ahead, sent on time
async def event_reminder(ctx: JobContext, payload: dict[str, Any]) -> None:
    event = await _current(ctx, payload)
    if event is None:
        return
    user = payload["user"]
    rooms = [g.room_id for g, e in await sessions.of_user(ctx.db, user) if e.id == event.id and g.room_id]
    unit, amount = rules.lead(int(payload["offset"]))
    starts, ends, zone = event.starts_at, event.ends_at, event.timezone
    await ctx.tell(
        user, "reminders.event.dm", about_network=event.network, title=event.title,
        lead=lambda t: t(f"reminders.lead.{unit}", count=amount),
        when=lambda t: t.span(starts, ends, zone), purpose=event.purpose,
        place=lambda t: event.place or t("events.view.place_tbd"),
        room=(lambda t: t("reminders.event.room", link=_room_link(rooms[0]))) if rooms else "",
        show=code(f"{ctx.prefix}event {event.slug}"), off=code(f"{ctx.prefix}reminders off"))


@job(rules.QUESTIONS)  # not ahead: a question or case sent (another feature) would have to withdraw it
async def questions_reminder(ctx: JobContext, payload: dict[str, Any]) -> None:
    event = await _current(ctx, payload)
    user = payload["user"]
    if event is None or event.questions_by is None or event.questions_by <= ctx.now:
        return
    if user in await sent_in_advance(ctx, event.id):
        return  # sent a question or a case meanwhile
    deadline, zone = event.questions_by, event.timezone
    await ctx.tell(user, "reminders.questions.dm", about_network=event.network, title=event.title,
                   until=lambda t: t.datetime(deadline, zone), ask=code(f"{ctx.prefix}ask {event.slug} ..."),
                   off=code(f"{ctx.prefix}reminders off"))
