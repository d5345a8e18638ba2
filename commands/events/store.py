"""Between the form and the table: where an event may be created, its id, and its values."""
from __future__ import annotations

from api import Context, Role, UserError
from api.event_args import role_in
from commands.events.form import Draft, Workshop, event_slug
from commands.events.rules import Mode
from storage import events, networks
from storage.models import Event, EventWorkshop


async def creation_network(ctx: Context) -> str | None:
    """None in a DM; the network of the coordinators' control room; refused anywhere else."""
    if ctx.is_dm:
        return None
    where = await networks.network_of_room(ctx.db, ctx.room_id)
    if where is None or where[1] != "control" or role_in(ctx, where[0]) < Role.COORDINATOR:
        raise UserError("events.create.where")
    return where[0]


async def create_draft(ctx: Context, draft: Draft, network: str, origin: str | None = None) -> Event:
    base = event_slug(draft.title, draft.starts_at, set())
    taken = await events.slugs_like(ctx.db, base.rsplit("-", 1)[0])
    values = {
        "slug": event_slug(draft.title, draft.starts_at, taken), "network": network, "title": draft.title,
        "purpose": draft.purpose, "expectations": draft.expectations, "programme": draft.programme,
        "timezone": draft.timezone, "starts_at": draft.starts_at, "ends_at": draft.ends_at, "place": draft.place,
        "capacity": draft.capacity, "closes_at": draft.closes_at, "invite_only": draft.invite_only,
        "acknowledge": draft.acknowledge,
        "waitlist_mode": draft.waitlist_mode.value, "offer_hours": draft.offer_hours,
        "workshops_per_member": draft.workshops_per_member, "created_by": ctx.sender,
        "feedback_form": draft.feedback_form, "feedback_deadline": draft.feedback_deadline,
        "reminder_offsets": offsets_text(draft.reminders), "questions_by": draft.questions_by,
        "origin": origin,
    }
    return await events.create(ctx.db, values, [(w.key, w.name, w.capacity) for w in draft.workshops], ctx.now)


def draft_of(e: Event, workshops: list[EventWorkshop]) -> Draft:
    """The stored event as form values, the base that `!event edit` changes."""
    return Draft(
        network=e.network, title=e.title, purpose=e.purpose, expectations=e.expectations, programme=e.programme,
        timezone=e.timezone, starts_at=e.starts_at, ends_at=e.ends_at, place=e.place, capacity=e.capacity,
        closes_at=e.closes_at, invite_only=e.invite_only, acknowledge=e.acknowledge,
        workshops=tuple(Workshop(w.key, w.name, w.capacity) for w in workshops),
        workshops_per_member=e.workshops_per_member, waitlist_mode=Mode(e.waitlist_mode), offer_hours=e.offer_hours,
        feedback_form=e.feedback_form, feedback_deadline=e.feedback_deadline,
        reminders=None if e.reminder_offsets is None else tuple(int(m) for m in e.reminder_offsets.split(",") if m),
        questions_by=e.questions_by,
    )


def offsets_text(minutes: tuple[int, ...] | None) -> str | None:
    """How the event row keeps its reminder offsets: None (the network's), "" (none), "1440,60"."""
    return None if minutes is None else ",".join(str(m) for m in minutes)
