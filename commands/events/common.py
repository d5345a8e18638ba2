"""What the events commands share: the network's defaults, how times read, and the form's
problems as one polite reply. Finding an event or a workshop is the converters' job
(api/event_args.py)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from api import Context, Role, UserError
from api.converters import DEFAULT_TZ
from api.render import Text, bullets, code, lines
from commands.common.lists import fit
from commands.events import words
from commands.events.form import FIELDS, Problem
from storage import members, networks
from storage.models import Event

PROBLEM_LIMIT = 15  # a form with more mistakes than this gets the first ones and a count


async def default_timezone(ctx: Context, network: str) -> str:
    """The network's zone, else the coordinator's own (!tz), else the bot's default."""
    net = await networks.get(ctx.db, network)
    if net is not None and net.timezone:
        return net.timezone
    member = await members.get(ctx.db, ctx.sender)
    return (member.timezone if member and member.timezone else None) or DEFAULT_TZ


def problems_text(ctx: Context, problems: list[Problem]) -> Text:
    """The problems as a list, capped so that the reply always fits in one message."""
    texts = (ctx.t(key, **{k: words.localise(ctx.t, v) for k, v in values.items()}) for key, values in problems)
    items, hidden = fit(texts, len(problems), limit=PROBLEM_LIMIT)
    return bullets(items) + (lines(["", ctx.t("events.form.more_problems", count=hidden)]) if hidden else "")


def raise_problems(ctx: Context, problems: list[Problem]) -> None:
    if problems:
        raise UserError("events.form.problems", problems=problems_text(ctx, problems),
                        fields=", ".join(words.shown(ctx.t, f) for f in FIELDS),
                        example=code(f"{words.shown(ctx.t, 'starts')}: 2027-03-14 19:30"))


def when(event: Event) -> str:
    """Sun 14 Mar 2027, 19:30–21:30 (Europe/Amsterdam); both dates when it spans days."""
    zone = ZoneInfo(event.timezone)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    tail = end.strftime("%H:%M") if start.date() == end.date() else end.strftime("%a %d %b %Y, %H:%M")
    return f"{start.strftime('%a %d %b %Y, %H:%M')}–{tail} ({event.timezone})"


def local(event: Event, moment: datetime) -> str:
    return f"{moment.astimezone(ZoneInfo(event.timezone)).strftime('%a %d %b %Y, %H:%M')} ({event.timezone})"


def coordinator_networks(ctx: Context) -> list[str]:
    return sorted(n for n, r in ctx.roles.items() if r >= Role.COORDINATOR)
