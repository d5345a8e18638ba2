"""Telling people what a seat decision did to them: offers (with their scheduled expiry),
promotions, withdrawn and lapsed offers. Works for a command's Context and a job's JobContext alike."""
from __future__ import annotations

from api import Context, JobContext
from api.render import code
from commands.events import files, seats
from commands.events.common import local, when
from commands.events.seats import Change
from storage.models import Event, Registration

OFFER_EXPIRY = "events.offer_expiry"


def offer_key(row: Registration) -> str:
    """One schedule row per offer made (a person may be offered the same place again later)."""
    return f"offer:{row.id}:{row.offers}"


def _place_name(change: Change, event: Event, t) -> object:  # noqa: ANN001
    return t("events.workshop_of", workshop=change.workshop.name, title=event.title) if change.workshop else event.title


async def tell(ctx: Context | JobContext, event: Event, changes: list[Change], *, prefix: str = "!",
               skip: str | None = None) -> None:
    """DMs for the people concerned (not `skip`, who reads it in the command's reply)."""
    for change in changes:
        row = change.registration
        if change.kind == "withdrawn":
            await ctx.schedule.cancel(offer_key(row))
            continue
        if change.kind == "offered":
            await ctx.schedule.at(offer_key(row), OFFER_EXPIRY, row.offer_expires_at,
                                  {"registration_id": row.id, "offers": row.offers})
        if row.user_id == skip:
            continue
        what = _place_name(change, event, ctx.t)
        workshop_arg = f" {change.workshop.key}" if change.workshop else ""
        if change.kind == "offered":
            text = ctx.t("events.offer.dm", what=what, when=when(event), until=local(event, row.offer_expires_at),
                         hours=max(1, round((row.offer_expires_at - ctx.now).total_seconds() / 3600)), accept=code(f"{prefix}accept {event.slug}{workshop_arg}"),
                         decline=code(f"{prefix}decline {event.slug}{workshop_arg}"))
            await ctx.chat.dm(row.user_id, text)
        elif change.kind == "promoted":
            attach = (files.ics(event),) if change.workshop is None else ()
            text = ctx.t("events.promoted.dm", what=what, when=when(event),
                         cancel=code(f"{prefix}cancel {event.slug}{workshop_arg}"))
            await ctx.chat.dm(row.user_id, text, files=attach)
        elif change.kind in ("seated", "queued"):
            await ctx.chat.dm(row.user_id, workshop_line(ctx.t, change, event))
        elif change.kind == "lapsed":
            await ctx.chat.dm(row.user_id, ctx.t("events.offer.lapsed", what=what, when=when(event),
                                                 register=code(f"{prefix}register {event.slug}")))


async def settle(ctx: Context | JobContext, event: Event, *, prefix: str = "!", skip: str | None = None) -> list[Change]:
    """Expire the event's offers whose deadline passed (see seats.expire_lapsed) and tell everyone
    concerned. The caller has locked the event row."""
    changes = await seats.expire_lapsed(ctx.db, event, ctx.now)
    await tell(ctx, event, changes, prefix=prefix, skip=skip)
    return changes


def workshop_line(t, change: Change, event: Event) -> object:  # noqa: ANN001
    if change.kind == "seated":
        return t("events.workshop.seated", workshop=change.workshop.name, title=event.title)
    return t("events.workshop.queued", workshop=change.workshop.name, title=event.title)
