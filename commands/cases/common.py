"""What the cases commands share: finding a case by id for its case-bringer or a coordinator,
naming a session, and the session a room belongs to."""
from __future__ import annotations

from api import Context, Role, Translator, UserError
from api.render import Text, code
from storage import cases, events, networks, sessions
from storage.models import Case, Event, EventWorkshop, GroupSession


async def find(ctx: Context, ref: str, *, own: bool = False) -> Case:
    """The case with this id if the caller brought it, or (own=False) coordinates its network.
    Anyone else is answered as if it did not exist."""
    row = await cases.by_ref(ctx.db, ref)
    if row is None or row.state not in cases.OPEN and row.user_id != ctx.sender:
        raise UserError("cases.unknown", ref=ref[:20], cases=code(f"{ctx.prefix}cases"))
    if row.user_id == ctx.sender:
        return row
    if own or ctx.roles.get(row.network, Role.ANYONE) < Role.COORDINATOR:
        raise UserError("cases.unknown", ref=ref[:20], cases=code(f"{ctx.prefix}cases"))
    return row


async def control_room(ctx: Context, network: str) -> str | None:
    return await networks.room_id(ctx.db, network, "control")


async def event_of(ctx: Context, row: Case) -> Event | None:
    return await ctx.db.get(Event, row.event_id) if row.event_id else None


def event_label(t: Translator, event: Event | None) -> Text | str:
    """The event as a coordinator reads it in the queue: its id, or "the next one"."""
    return code(event.slug) if event else t("cases.next_event")


async def session_ref(ctx: Context, group: GroupSession) -> str:
    event = await ctx.db.get(Event, group.event_id)
    slug = event.slug if event else "?"
    if group.workshop_id:
        workshop = await ctx.db.get(EventWorkshop, group.workshop_id)
        return f"{slug}/{workshop.key if workshop else group.workshop_id}/{group.number}"
    return f"{slug}/{group.number}"


async def find_session(ctx: Context, raw: str, network: str) -> GroupSession:
    """`event-id/2` or `event-id/workshop/2` (as !sessions lists them), of an event of `network`."""
    parts = raw.strip().split("/")
    number = int(parts[-1]) if len(parts) in (2, 3) and parts[-1].isascii() and parts[-1].isdigit() else None
    if number is None:
        raise UserError("cases.session_bad", value=raw[:60], example=code("event-id/2"))
    event = await events.by_slug(ctx.db, parts[0].lower(), lock=True)
    if event is None or event.network != network:
        raise UserError("cases.session_unknown", ref=raw[:60], sessions=code(f"{ctx.prefix}sessions"))
    slot = 0
    if len(parts) == 3:
        wanted = parts[1].lower()
        found = [w for w in await events.workshops(ctx.db, event.id) if wanted in (w.key, str(w.position))]
        if not found:
            raise UserError("cases.session_unknown", ref=raw[:60], sessions=code(f"{ctx.prefix}sessions"))
        slot = found[0].id
    group = await sessions.get(ctx.db, event.id, slot, number)
    if group is None:
        raise UserError("cases.session_unknown", ref=raw[:60], sessions=code(f"{ctx.prefix}sessions"))
    return group
