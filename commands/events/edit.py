"""`!event edit`: change fields of an event.

An edit that will message people (registrants told of a new time or place, people on a waiting
list offered a seat, open offers recalled because the capacity fell) first says what will happen
and runs on `!confirm`; an edit that messages nobody (a draft, nobody registered) applies at once.
Seats already taken are never taken away by a lower capacity (see seats.recall_excess)."""
from __future__ import annotations

import functools
from datetime import datetime

from api import Context, Reply, Rest, Role, UserError, command, confirmable
from api.event_args import ManagedEvent, find_event
from api.render import Text, bullets, code, lines
from commands.events import files, seats, service, words
from commands.events.common import problem_text, raise_problems, when
from commands.events.form import Draft, Known, Workshop, build, split_fields
from commands.events.rules import Mode
from commands.events.store import draft_of, offsets_text
from storage import events, registrations as regs
from storage.models import Event, EventWorkshop

ACTION = "events.edit"
WILL_MOVE_UP = {Mode.OFFER: "events.edit.will_offer", Mode.AUTO: "events.edit.will_auto"}


@command("event edit", help="cmd.event_edit", role=Role.COORDINATOR, usage="<event> <field: value lines...>",
         local={"nl": "bijeenkomst wijzigen", "nb": "endre arrangement"})
async def event_edit(ctx: Context, e: ManagedEvent, changes: Rest) -> Reply:
    return await _edit(ctx, e, changes, confirmed=False)


@confirmable(ACTION)
async def event_edit_confirmed(ctx: Context, args: dict) -> Reply:
    """The edit as asked, checked again: the event or its registrations may have changed since."""
    e = await find_event(ctx, args["event"], manage=True, lock=True)
    written_at = datetime.fromisoformat(args["written_at"]) if args.get("written_at") else None
    return await _edit(ctx, e, args["changes"], confirmed=True, written_at=written_at)


async def _edit(ctx: Context, e: Event, changes: str, *, confirmed: bool, written_at: datetime | None = None) -> Reply:
    if e.state == events.CANCELLED:
        raise UserError("events.edit.cancelled", title=e.title)
    await service.settle(ctx, e)
    raw, problems = split_fields(changes, words.vocabulary())
    if "network" in raw:
        problems.append(("events.edit.no_network", {}))
    if not raw and not problems:
        raise UserError("events.edit.nothing",
                        example=code(f"{ctx.prefix}event edit {e.slug} {words.shown(ctx.t, 'capacity')}: 40"))
    workshops = await events.workshops(ctx.db, e.id)
    known = Known(ctx.now, e.timezone, words=words.vocabulary(), written_at=written_at)
    draft, more = build(raw, known, base=draft_of(e, workshops))
    raise_problems(ctx, problems + more)
    assert draft is not None
    moved = (draft.starts_at, draft.ends_at, draft.place, draft.timezone) != (e.starts_at, e.ends_at, e.place, e.timezone)
    if not confirmed:
        effects, count = await _effects(ctx, e, draft, moved, workshops)
        if count:
            summary = lines([ctx.t("events.edit.confirm", title=e.title, slug=e.slug, fields=", ".join(raw),
                                   count=count), bullets(effects)])
            return await ctx.confirm(ACTION, {"event": e.slug, "changes": str(changes), "written_at": ctx.now.isoformat()},
                                     summary=summary)
    removed = await _reconcile_workshops(ctx, e.id, draft.workshops) if "workshops" in raw else []
    _apply(e, draft, ctx)
    if e.state == events.PUBLISHED:
        e.revision += 1  # calendars take an entry with the same UID only with a higher SEQUENCE
    moves = await service.refill(ctx, e)
    told = await _tell_registrants(ctx, e) if moved and e.state == events.PUBLISHED else 0
    parts = [*(problem_text(ctx, n) for n in known.notes),
             ctx.t("events.edit.done", slug=code(e.slug), fields=", ".join(raw), told=told)]
    if removed:
        parts.append(ctx.t("events.edit.workshops_removed", names=", ".join(removed)))
    parts += await _over_capacity(ctx, e)
    recalled = sum(1 for m in moves if m.kind == "recalled")
    if recalled:
        parts.append(ctx.t("events.edit.recalled", count=recalled))
    given = sum(1 for m in moves if m.kind in ("offered", "promoted"))
    if given:
        parts.append(ctx.t("events.edit.promoted", count=given))
    return Reply(lines(parts))


async def _effects(ctx: Context, e: Event, d: Draft, moved: bool,
                   workshops: list[EventWorkshop]) -> tuple[list[Text], int]:
    """What applying the edit would tell whom, and how many people that is."""
    effects: list[Text] = []
    told: set[str] = set()
    if moved and e.state == events.PUBLISHED:
        told = {r.user_id for r in await regs.of_event(ctx.db, e.id, regs.ACTIVE)}
        if told:
            effects.append(ctx.t("events.edit.will_tell", count=len(told)))
    wanted = {w.key: w.capacity for w in d.workshops}
    capacities = {0: d.capacity} | {w.id: wanted[w.key] for w in workshops if w.key in wanted}
    up, back = await seats.preview(ctx.db, e, capacities, mode=d.waitlist_mode, offer_hours=d.offer_hours,
                                   starts_at=d.starts_at, now=ctx.now)
    if up:
        effects.append(ctx.t(WILL_MOVE_UP[d.waitlist_mode], count=len(up)))
    if back:
        effects.append(ctx.t("events.edit.will_recall", count=len(back)))
    return effects, len(told | up | back)


async def _over_capacity(ctx: Context, e: Event) -> list[Text]:
    """Seats held beyond a lowered capacity stay; say so, for the event and each workshop."""
    notes = []
    taken = await regs.holding(ctx.db, e.id, 0)
    if taken > e.capacity:
        notes.append(ctx.t("events.edit.over_capacity", taken=taken, capacity=e.capacity))
    for w in await events.workshops(ctx.db, e.id):
        taken = await regs.holding(ctx.db, e.id, w.id)
        if taken > w.capacity:
            notes.append(ctx.t("events.edit.workshop_over_capacity", name=w.name, taken=taken, capacity=w.capacity))
    return notes


async def _reconcile_workshops(ctx: Context, event_id: int, wanted: tuple[Workshop, ...]) -> list[str]:
    missing = await events.set_workshops(ctx.db, event_id, [(w.key, w.name, w.capacity) for w in wanted])
    by_key = {w.key: w for w in await events.workshops(ctx.db, event_id)}
    removed = []
    for key in missing:
        w = by_key[key]
        busy = [r for r in await regs.of_event(ctx.db, event_id, regs.ACTIVE) if r.slot == w.id]
        if busy:
            raise UserError("events.edit.workshop_busy", name=w.name, count=len(busy))
        await events.remove_workshop(ctx.db, w.id)
        removed.append(w.name)
    return removed


def _apply(e: Event, d: Draft, ctx: Context) -> None:
    e.title, e.purpose, e.expectations, e.programme = d.title, d.purpose, d.expectations, d.programme
    e.timezone, e.starts_at, e.ends_at, e.place = d.timezone, d.starts_at, d.ends_at, d.place
    e.capacity, e.closes_at, e.invite_only, e.acknowledge = d.capacity, d.closes_at, d.invite_only, d.acknowledge
    e.workshops_per_member, e.waitlist_mode, e.offer_hours = d.workshops_per_member, d.waitlist_mode.value, d.offer_hours
    e.feedback_form, e.feedback_deadline = d.feedback_form, d.feedback_deadline
    e.reminder_offsets, e.questions_by = offsets_text(d.reminders), d.questions_by
    e.updated_at = ctx.now


async def _tell_registrants(ctx: Context, e: Event) -> int:
    """Everyone registered or waiting hears of the new time or place, in their own language; a
    seat holder gets the updated calendar entry (nobody gets one without a seat, as at registration)."""
    rows = await regs.of_event(ctx.db, e.id, regs.ACTIVE)
    seated = {r.user_id for r in rows if r.slot == 0 and r.state == regs.CONFIRMED}
    attachment = functools.partial(files.ics, e)  # in each reader's language
    people = sorted({r.user_id for r in rows})
    for user in people:
        key, attached = ("events.changed.dm", (attachment,)) if user in seated else ("events.changed.dm_no_seat", ())
        await ctx.tell(user, key, about_network=e.network, files=attached, title=e.title, when=when(e),
                       place=e.place or (lambda t: t("events.view.place_tbd")))
    return len(people)
