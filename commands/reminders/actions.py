"""Action points (the method guide's, `!action ... by <date>`): the owner is reminded by DM the day
before the due date and on it, at 09:00 on their clock (their `!tz`, else the event's), until the
point is marked done. An hourly sweep makes one schedule row per reminder (recipient: the owner, so
`!reminders off` and `!forgetme` reach it); the row's job checks again that the point is open and
still due that day."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from api import JobContext, job
from api.render import code
from storage import guide, members, sessions
from storage.models import SessionAction

SWEEP = "reminders.actions_sweep"
REMIND = "reminders.action"
AT = time(9, 0)
AHEAD = timedelta(days=2)


def _key(action: SessionAction, which: str) -> str:
    return f"action:{action.id}:{action.due_on:%Y%m%d}:{which}"


@job(SWEEP, every=timedelta(hours=1))
async def sweep(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Rows for open action points due within two days; one whose moment passed more than an hour
    ago (the sweep's interval) is not made: no late copy."""
    for action in await guide.open_actions_due(ctx.db, (ctx.now + AHEAD).date()):
        group = await sessions.by_id(ctx.db, action.session_id)
        event = await guide.event(ctx.db, group.event_id) if group is not None else None
        if event is None:
            continue
        owner = await members.get(ctx.db, action.owner)
        zone = ZoneInfo((owner.timezone if owner and owner.timezone else None) or event.timezone)
        for which, day in (("before", action.due_on - timedelta(days=1)), ("on", action.due_on)):
            due = datetime.combine(day, AT, zone).astimezone(timezone.utc)
            if due > ctx.now - timedelta(hours=1):
                await ctx.schedule.at(_key(action, which), REMIND, due,
                                      {"action": action.id, "which": which, "due_on": action.due_on.isoformat(),
                                       "title": event.title}, network=event.network, recipient=action.owner)


@job(REMIND)  # not ahead: `!action done` (the sessions feature) would have to withdraw it
async def remind(ctx: JobContext, payload: dict[str, Any]) -> None:
    action = await guide.action(ctx.db, int(payload["action"]))
    if action is None or action.done_at is not None or action.due_on != date.fromisoformat(payload["due_on"]):
        return
    group = await sessions.by_id(ctx.db, action.session_id)
    event = await guide.event(ctx.db, group.event_id) if group is not None else None
    if event is None:
        return
    due_on = action.due_on
    await ctx.tell(action.owner, f"reminders.action.{payload['which']}", about_network=event.network,
                   text=action.text, title=event.title, due=lambda t: t.date(due_on),
                   done=code(f"{ctx.prefix}action done {action.id}"), off=code(f"{ctx.prefix}reminders off"))
