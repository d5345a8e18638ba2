"""Telling people what a seat decision did to them: offers (with their scheduled expiry),
promotions, withdrawn, recalled and lapsed offers, each in the recipient's language. Works for a command's
Context and a job's JobContext alike; commands/events/service.py decides when."""
from __future__ import annotations

import functools

from api import Context, JobContext
from api.context import Localized
from api.render import code
from commands.events import files
from commands.events.common import local, when
from commands.events.seats import Change
from storage import registrations as regs
from storage.models import Event, Registration

OFFER_EXPIRY = "events.offer_expiry"


def offer_key(row: Registration) -> str:
    """One schedule row per offer made (a person may be offered the same place again later)."""
    return f"offer:{row.id}:{row.offers}"


def _place_name(change: Change, event: Event) -> Localized:
    if change.workshop is None:
        return lambda t: event.title
    return lambda t: t("events.workshop_of", workshop=change.workshop.name, title=event.title)


async def tell(ctx: Context | JobContext, event: Event, changes: list[Change], *, skip: str | None = None) -> None:
    """DMs for the people concerned (not `skip`, who reads it in the command's reply), each in the
    recipient's language and with the configured command prefix; offers get their scheduled expiry."""
    prefix = ctx.prefix
    for change in changes:
        row = change.registration
        if change.kind in ("withdrawn", "recalled"):
            await ctx.schedule.cancel(offer_key(row))
        if change.kind == "withdrawn":
            continue
        if change.kind == "offered":
            await ctx.schedule.at(offer_key(row), OFFER_EXPIRY, row.offer_expires_at,
                                  {"registration_id": row.id, "offers": row.offers}, about=row.user_id)
        if row.user_id == skip:
            continue
        what = _place_name(change, event)
        workshop_arg = f" {change.workshop.key}" if change.workshop else ""
        say = functools.partial(ctx.tell, row.user_id, about_network=event.network, what=what, when=when(event))
        if change.kind == "offered":
            await say("events.offer.dm", until=local(event, row.offer_expires_at),
                      hours=max(1, round((row.offer_expires_at - ctx.now).total_seconds() / 3600)),
                      accept=code(f"{prefix}accept {event.slug}{workshop_arg}"),
                      decline=code(f"{prefix}decline {event.slug}{workshop_arg}"))
        elif change.kind == "promoted":
            attach = (functools.partial(files.ics, event),) if change.workshop is None else ()
            await say("events.promoted.dm", files=attach, cancel=code(f"{prefix}cancel {event.slug}{workshop_arg}"))
        elif change.kind in ("seated", "queued"):
            await ctx.tell(row.user_id, f"events.workshop.{change.kind}", about_network=event.network,
                           workshop=change.workshop.name, title=event.title)
        elif change.kind == "recalled":
            await say("events.offer.recalled", position=await regs.position(ctx.db, row))
        elif change.kind == "lapsed":
            await say("events.offer.lapsed", register=code(f"{prefix}register {event.slug}"))


def workshop_line(t, change: Change, event: Event) -> object:  # noqa: ANN001
    if change.kind == "seated":
        return t("events.workshop.seated", workshop=change.workshop.name, title=event.title)
    return t("events.workshop.queued", workshop=change.workshop.name, title=event.title)
