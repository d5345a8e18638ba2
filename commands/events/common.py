"""What the events commands share: the network's defaults, how times read, and the form's
problems as one polite reply. Finding an event or a workshop is the converters' job
(api/event_args.py)."""
from __future__ import annotations

from datetime import datetime

from api import Context, Role, UserError
from api.context import Localized
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
    texts = (problem_text(ctx, problem) for problem in problems)
    items, hidden = fit(texts, len(problems), limit=PROBLEM_LIMIT)
    return bullets(items) + (lines(["", ctx.t("events.form.more_problems", count=hidden)]) if hidden else "")


def problem_text(ctx: Context, problem: Problem) -> Text:
    """One problem (or note) of the form, with the field names in the reader's language."""
    key, values = problem
    return ctx.t(key, **{k: words.localise(ctx.t, v) for k, v in values.items()})


def raise_problems(ctx: Context, problems: list[Problem]) -> None:
    if problems:
        raise UserError("events.form.problems", problems=problems_text(ctx, problems),
                        fields=", ".join(words.shown(ctx.t, f) for f in FIELDS),
                        example=code(f"{words.shown(ctx.t, 'starts')}: 2027-03-14 19:30"))


def when(event: Event, *, short: bool = False) -> Localized:
    """The event's start and end for each reader: "dinsdag 23 september 2025 van 19:30 tot 21:30
    (Amsterdam)", on the reader's own clock when they set one (!tz), else the event's."""
    starts, ends, zone = event.starts_at, event.ends_at, event.timezone
    return lambda t: t.span(starts, ends, zone, short=short)


def local(event: Event, moment: datetime, *, day_only: bool = False) -> Localized:
    """A moment about the event (an offer's end, registration closing), as `when` shows times."""
    zone = event.timezone
    if day_only:
        return lambda t: t.date(moment, zone, short=True)
    return lambda t: t.datetime(moment, zone)


def coordinator_networks(ctx: Context) -> list[str]:
    return sorted(n for n, r in ctx.roles.items() if r >= Role.COORDINATOR)
