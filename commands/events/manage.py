"""Coordinators and events: create, publish, cancel, invite, and see who comes. What is sent
to members is written in each one's language (ctx.tell)."""
from __future__ import annotations

import functools
import re
from typing import Annotated

from api import Context, Reply, Rest, Role, UserError, Where, command, confirmable
from api.context import Localized
from api.event_args import EventArg, ManagedEvent, find_event, shown_here
from api.render import Text, bold, bullets, code, lines, pill
from commands.common.lists import clip, fit
from commands.common.places import privately, require_private
from commands.events import files, flows, notify, service, words
from commands.events.common import coordinator_networks, default_timezone, local, raise_problems, when
from commands.events.form import Known, build, split_fields
from commands.events.store import create_draft, creation_network
from commands.events.views import details
from storage import events, members, networks, registrations as regs
from storage.models import Event

USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")
LIST_LIMIT = 20
QUESTION_CLIP = 400  # characters of a question in the chat list; the file has them whole


@command("event create", help="cmd.event_create", role=Role.COORDINATOR, usage="[field: value lines...]",
         local={"nl": "nieuwe bijeenkomst", "nb": "nytt arrangement"})
async def event_create(ctx: Context, form: Rest | None = None) -> Reply:
    here = await creation_network(ctx)
    if form is None:
        return await flows.begin(ctx, here)
    raw, problems = split_fields(form, words.vocabulary())
    network = await _network_for(ctx, raw.pop("network", None), here)
    known = Known(ctx.now, await default_timezone(ctx, network), words=words.vocabulary())
    draft, more = build(raw, known)
    raise_problems(ctx, problems + more)
    event = await create_draft(ctx, draft, network)
    return await flows.created_reply(ctx, event, known.notes)


async def _network_for(ctx: Context, named: str | None, here: str | None) -> str:
    mine = coordinator_networks(ctx)
    if named:
        wanted = named.strip().lower()
        if wanted not in mine or (here and wanted != here):
            raise UserError("events.create.bad_network", network=named[:40], networks=", ".join(mine))
        return wanted
    if here:
        return here
    if len(mine) == 1:
        return mine[0]
    raise UserError("events.create.which_network", networks=", ".join(mine))


@command("event publish", help="cmd.event_publish", role=Role.COORDINATOR,
         local={"nl": "bijeenkomst publiceren", "nb": "publiser arrangement"})
async def event_publish(ctx: Context, e: ManagedEvent) -> Reply:
    """Publishing is loud (a post every member reads, or invitations): say what will happen, then !confirm."""
    _check_publishable(ctx, e)
    if e.invite_only:
        waiting = [inv for inv in await events.invitations(ctx.db, e.id) if inv.notified_at is None]
        summary = ctx.t("events.publish.summary_invited", title=e.title, slug=e.slug, count=len(waiting))
    else:
        rooms = [ctx.t(f"events.room.{kind}").plain for kind, _room in await _publish_rooms(ctx, e)]
        key = "events.publish.summary" if rooms else "events.publish.summary_no_rooms"
        summary = ctx.t(key, title=e.title, slug=e.slug, rooms=", ".join(rooms), events=code(f"{ctx.prefix}events"))
    return await ctx.confirm("events.publish", {"event": e.slug}, summary=summary)


async def _publishable(ctx: Context, slug: str):  # noqa: ANN202
    e = await find_event(ctx, slug, manage=True, lock=True)
    _check_publishable(ctx, e)
    return e


def _check_publishable(ctx: Context, e) -> None:  # noqa: ANN001
    if e.state != events.DRAFT:
        raise UserError(f"events.publish.{e.state}", title=e.title)
    if e.ends_at <= ctx.now or e.closes_at <= ctx.now:
        raise UserError("events.publish.past", title=e.title, edit=code(f"{ctx.prefix}event edit {e.slug} {words.shown(ctx.t, 'starts')}: ..."))


async def _publish_rooms(ctx: Context, e) -> list[tuple[str, str]]:  # noqa: ANN001
    found = [(kind, await networks.room_id(ctx.db, e.network, kind)) for kind in ("announcements", "lobby")]
    return [(kind, room) for kind, room in found if room]


@confirmable("events.publish")
async def event_publish_confirmed(ctx: Context, args: dict) -> Reply:
    e = await _publishable(ctx, args["event"])  # checked again: it may have changed meanwhile
    e.state, e.published_at, e.updated_at = events.PUBLISHED, ctx.now, ctx.now
    await ctx.published(e)  # e.g. the members who proposed and voted for its topic are told
    if e.invite_only:
        told = 0
        for inv in await events.invitations(ctx.db, e.id):
            if inv.notified_at is None:
                await _send_invitation(ctx, e, inv.user_id)
                inv.notified_at, told = ctx.now, told + 1
        return ctx.reply("events.publish.invited", title=e.title, count=told,
                         invite=code(f"{ctx.prefix}invite {e.slug} @name:server"))
    t = await ctx.translator_for_network(e.network)  # what every member reads: the network's language
    text = lines([bold(t("events.publish.heading")), details(t, ctx.prefix, e, await events.workshops(ctx.db, e.id), {}, {})])
    posted = []
    for kind, room in await _publish_rooms(ctx, e):
        await ctx.chat.send(room, text)
        posted.append(ctx.t(f"events.room.{kind}").plain)
    if not posted:
        return ctx.reply("events.publish.no_rooms", title=e.title, events=code(f"{ctx.prefix}events"))
    return ctx.reply("events.publish.done", title=e.title, rooms=", ".join(posted))


async def _send_invitation(ctx: Context, e, user_id: str) -> None:  # noqa: ANN001
    """The invitation names the invitee's next step: someone who is not a member of the event's
    network cannot see or register for it until they have joined, so they are told to join first."""
    register = code(f"{ctx.prefix}register {e.slug}")
    if e.network in await members.roles(ctx.db, user_id):
        await ctx.tell(user_id, "events.invite.dm", about_network=e.network, title=e.title, when=when(e),
                       purpose=e.purpose, register=register, show=code(f"{ctx.prefix}event {e.slug}"))
    else:
        net = await networks.get(ctx.db, e.network)
        await ctx.tell(user_id, "events.invite.dm_join", about_network=e.network, title=e.title, when=when(e),
                       purpose=e.purpose, register=register, network=net.name if net else e.network,
                       join=code(f"{ctx.prefix}join {e.network}"))


@command("event cancel", help="cmd.event_cancel", role=Role.COORDINATOR, where=Where.PRIVATE,
         local={"nl": "bijeenkomst annuleren", "nb": "avlys arrangement"})
async def event_cancel(ctx: Context, e: Annotated[Event, EventArg(manage=True)]) -> Reply:
    await require_private(ctx, "event cancel", e.network)  # the summary names who will be told
    if e.state == events.CANCELLED:
        raise UserError("events.cancel_event.already", title=e.title)
    rows = await regs.of_event(ctx.db, e.id, regs.ACTIVE)
    people = sorted({r.user_id for r in rows})
    by_state = {s: len({r.user_id for r in rows if r.state == s}) for s in regs.ACTIVE}
    names = ", ".join(people[:LIST_LIMIT]) + (ctx.t("events.and_more", count=len(people) - LIST_LIMIT).plain
                                              if len(people) > LIST_LIMIT else "")
    summary = ctx.t("events.cancel_event.summary", title=e.title, slug=e.slug, count=len(people),
                    confirmed=by_state[regs.CONFIRMED], waiting=by_state[regs.WAITLISTED],
                    offered=by_state[regs.OFFERED], people=names or "-")
    return await ctx.confirm("events.cancel", {"event": e.slug}, summary=summary)


@confirmable("events.cancel")
async def event_cancel_confirmed(ctx: Context, args: dict) -> Reply:
    e = await find_event(ctx, args["event"], manage=True, lock=True)
    if e.state == events.CANCELLED:
        return ctx.reply("events.cancel_event.already", title=e.title)
    was_published = e.state == events.PUBLISHED
    rows = await regs.of_event(ctx.db, e.id, regs.ACTIVE)
    for r in rows:
        if r.state == regs.OFFERED:
            await ctx.schedule.cancel(notify.offer_key(r))
        regs.set_state(r, regs.CANCELLED, ctx.now)
    e.state, e.cancelled_at, e.updated_at, e.revision = events.CANCELLED, ctx.now, ctx.now, e.revision + 1
    await ctx.seats_changed(e)  # the other features let go of the event (its reminders are cancelled)
    people = sorted({r.user_id for r in rows})
    attachment = functools.partial(files.ics, e, cancelled=True)
    for user in people:
        await ctx.tell(user, "events.cancel_event.dm", about_network=e.network, files=(attachment,), title=e.title,
                       when=when(e))
    if was_published and not e.invite_only:
        room = await networks.room_id(ctx.db, e.network, "announcements")
        if room:
            await ctx.post(room, "events.cancel_event.post", about_network=e.network, title=e.title, when=when(e))
    return ctx.reply("events.cancel_event.done", title=e.title, count=len(people))


@command("invite", help="cmd.invite", role=Role.COORDINATOR, where=Where.PRIVATE, usage="<event> <user...>",
         local={"nl": "uitnodigen", "nb": "inviter"})
async def invite(ctx: Context, e: ManagedEvent, users: Rest) -> Reply:
    await require_private(ctx, "invite", e.network)
    if not e.invite_only:
        raise UserError("events.invite.open", title=e.title, edit=code(f"{ctx.prefix}event edit {e.slug} {words.shown(ctx.t, 'invite-only')}: "
                                                                     f"{words.first(ctx.t, 'words.yes')}"))
    if e.state == events.CANCELLED:
        raise UserError("events.register.cancelled", title=e.title)
    wanted = list(dict.fromkeys(users.split()))
    bad = [u for u in wanted if not USER_ID.match(u)]
    if bad:
        raise UserError("events.invite.bad_ids", ids=", ".join(b[:60] for b in bad[:5]))
    new, already, outsiders = [], [], []
    for user in wanted:
        if not await events.invite(ctx.db, e.id, user, ctx.sender, ctx.now):
            already.append(user)
            continue
        new.append(user)
        if e.network not in await members.roles(ctx.db, user):
            outsiders.append(user)
        if e.state == events.PUBLISHED:
            await _send_invitation(ctx, e, user)
    for inv in await events.invitations(ctx.db, e.id):
        if inv.user_id in new and e.state == events.PUBLISHED:
            inv.notified_at = ctx.now
    parts = [ctx.t("events.invite.done", title=e.title, count=len(new),
                   when_told=ctx.t("events.invite.told_now" if e.state == events.PUBLISHED else "events.invite.told_later"))]
    if already:
        parts.append(ctx.t("events.invite.already", people=", ".join(already)))
    if outsiders:
        parts.append(ctx.t("events.invite.outsiders", people=", ".join(outsiders), join=code(f"{ctx.prefix}join {e.network}"),
                           approve=code(f"{ctx.prefix}approve @name:server")))
    return Reply(lines(parts))


@command("attendees", help="cmd.attendees", role=Role.COORDINATOR, local={"nl": "deelnemers", "nb": "deltakere"})
async def attendees(ctx: Context, e: ManagedEvent) -> Reply:
    """Counts only, no names (those are in !export), so it may be used anywhere, except that a
    draft or invitation-only event is only shown in a private place."""
    await service.settle(ctx, e)
    counts = await regs.counts(ctx.db, e.id)
    workshops = await events.workshops(ctx.db, e.id)

    def line(name: str, slot: int, capacity: int) -> Text:
        n = {s: counts.get((slot, s), 0) for s in ("confirmed", "offered", "waitlisted", "pending", "cancelled",
                                                    "declined", "expired")}
        return ctx.t("events.attendees.line_pending" if n["pending"] else "events.attendees.line", name=name,
                     capacity=capacity, **n)

    queues = [(ctx.t("events.attendees.event").plain, 0, e.capacity)] + [(w.name, w.id, w.capacity) for w in workshops]
    items, hidden = fit((line(*q) for q in queues), len(queues))
    more = [ctx.t("events.attendees.capped", count=hidden)] if hidden else []
    text = lines([bold(ctx.t("events.attendees.title", title=e.title, slug=e.slug)), bullets(items), *more,
                  ctx.t("events.attendees.export", export=code(f"{ctx.prefix}export {e.slug}"))])
    return Reply(text) if await shown_here(ctx, e) else await privately(ctx, text)


@command("export", help="cmd.export", role=Role.COORDINATOR, where=Where.PRIVATE,
         local={"nl": "exporteren", "nb": "eksporter"})
async def export(ctx: Context, e: ManagedEvent) -> Reply:
    await require_private(ctx, "export", e.network)
    await service.settle(ctx, e)
    rows = await regs.of_event(ctx.db, e.id)
    positions: dict[int, int] = {}
    for slot in {r.slot for r in rows}:
        for n, r in enumerate(await regs.waiting(ctx.db, e.id, slot), start=1):
            positions[r.id] = n
    workshops = {w.id: w for w in await events.workshops(ctx.db, e.id)}
    control = await networks.room_id(ctx.db, e.network, "control")
    if ctx.is_dm and control:  # the file is for the coordinators together: it goes to their room
        room_t = await ctx.translator_for_network(e.network)
        await ctx.chat.send(control, room_t("events.export.posted", title=e.title, count=len(rows), by=pill(ctx.sender)),
                            notice=True, files=(files.csv_export(e, rows, workshops, positions, room_t),),
                            private=True)  # the file names people
        return ctx.reply("events.export.sent", title=e.title)
    attachment = files.csv_export(e, rows, workshops, positions, ctx.t)
    return Reply(ctx.t("events.export.here", title=e.title, count=len(rows)), files=(attachment,), private=True)


@command("questions", help="cmd.questions", role=Role.FACILITATOR, where=Where.PRIVATE,
         local={"nl": "vragen", "nb": "spørsmål"})
async def questions(ctx: Context, e: Annotated[Event, EventArg(least=Role.FACILITATOR)]) -> Reply:
    """Facilitators read these in their DM; coordinators also in the coordinators' room. An
    anonymous question shows only the day it was asked (that is all that is stored of it)."""
    await require_private(ctx, "questions", e.network)
    found = await events.questions(ctx.db, e.id)
    if not found:
        return ctx.reply("events.questions.none", title=e.title)
    def asked(q) -> Localized:  # noqa: ANN001
        return local(e, q.created_at, day_only=not q.user_id)

    items, hidden = fit((ctx.t("events.questions.line", text=clip(q.text, QUESTION_CLIP), asked=asked(q),
                               by=pill(q.user_id) if q.user_id else ctx.t("events.questions.anonymous"))
                         for q in found), len(found))
    parts = [bold(ctx.t("events.questions.title", title=e.title, count=len(found))), bullets(items)]
    clipped = any(len(q.text) > QUESTION_CLIP for q in found[:len(items)])
    if not hidden and not clipped:
        return Reply(lines(parts), private=True)  # names people: nothing of it is kept once sent
    parts.append(ctx.t("events.questions.capped", count=hidden) if hidden else ctx.t("events.questions.clipped"))
    table = [(asked(q)(ctx.t), q.user_id or ctx.t("events.questions.anonymous").plain, q.text) for q in found]
    return Reply(lines(parts), files=(files.questions_csv(e, table, ctx.t),), private=True)
