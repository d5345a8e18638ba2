"""`!announce [event <id>] [at <time>] [@room] <text>`: coordinators, in their control room or a
DM. A preview says whom it reaches and when; `!confirm` schedules it (now or at the time). To
everyone: one post in the announcements room (`@room` notifies everyone only with that flag); to
an event's registrants: a DM each. `!announcements` lists those still to go, `!announce cancel
<id>` drops one."""
from __future__ import annotations

from datetime import datetime

from api import Context, Reply, Rest, Role, UserError, Where, command, confirmable
from api.converters import DEFAULT_TZ, offset_name, read_moment, repeated, take_moment
from api.event_args import find_event
from api.render import bold, bullets, code, lines
from commands.announcements import rules
from commands.announcements.jobs import KIND
from commands.common.lists import clip, fit
from storage import members, networks, registrations as regs, schedule
from storage.models import Event

ACTION = "announce.send"
TEXT_LIMIT = 4000


def _coordinates(ctx: Context, network: str) -> bool:
    return ctx.roles.get(network, Role.ANYONE) >= Role.COORDINATOR


async def _network(ctx: Context, event: Event | None) -> str:
    """The control room's network; in a DM the event's, else the one network the caller coordinates."""
    here = await ctx.control_network()
    if event is not None:
        if here not in (None, event.network) or not _coordinates(ctx, event.network):
            raise UserError("announce.other_network", title=event.title)
        return event.network
    if here is not None:
        return here
    mine = sorted(n for n in ctx.roles if _coordinates(ctx, n))
    if len(mine) != 1:
        raise UserError("announce.which_network", networks=", ".join(mine))
    return mine[0]


async def _zone(ctx: Context, network: str, event: Event | None) -> str:
    member = await members.get(ctx.db, ctx.sender)
    if member is not None and member.timezone:
        return member.timezone
    if event is not None:
        return event.timezone
    net = await networks.get(ctx.db, network)
    return (net.timezone if net is not None else None) or DEFAULT_TZ


@command("announce", help="cmd.announce", role=Role.COORDINATOR, where=Where.PRIVATE,
         usage="[event <event>] [at <time>] [@room] <text...>", local={"nl": "aankondigen", "nb": "kunngjør"})
async def announce(ctx: Context, words: Rest) -> Reply:
    asked = rules.read(words, take_moment)
    event = await find_event(ctx, asked.event, manage=True) if asked.event else None
    network = await _network(ctx, event)
    if not asked.text:
        raise UserError("announce.no_text", example=code(f"{ctx.prefix}announce at tomorrow 10:00 ..."))
    if len(asked.text) > TEXT_LIMIT:
        raise UserError("announce.too_long", length=len(asked.text), limit=TEXT_LIMIT)
    zone = await _zone(ctx, network, event)
    at = None
    notes = []
    if asked.when is not None:
        at = read_moment(asked.when, zone, ctx.now)
        if at is None:
            raise UserError("converters.datetime", value=asked.when[:40], example="2027-03-14 19:30, in 2h, tomorrow 10:00",
                            tz=code(f"{ctx.prefix}tz"))
        if at <= ctx.now:
            raise UserError("announce.in_past", when=ctx.t.datetime(at, zone))
        if repeated(at):
            notes.append(ctx.t("converters.time_repeated", value=at.strftime("%H:%M"), zone=zone, offset=offset_name(at)))
    when = ctx.t("announce.when_at", when=ctx.t.datetime(at, zone)) if at else ctx.t("announce.when_now")
    if event is not None:
        if asked.room:
            raise UserError("announce.room_flag_event")
        count = len({r.user_id for r in await regs.of_event(ctx.db, event.id, regs.ACTIVE)})
        reach = ctx.t("announce.reach_event", title=event.title, count=count)
    else:
        room = await networks.room_id(ctx.db, network, "announcements")
        if room is None:
            raise UserError("announce.no_room")
        readers = sum(1 for _m, ms in await members.listing(ctx.db, network) if ms.state == members.ACTIVE)
        reach = ctx.t("announce.reach_room_mention" if asked.room else "announce.reach_room", count=readers)
    summary = lines([*notes, ctx.t("announce.preview", reach=reach, when=when), ctx.t("announce.quote", text=asked.text)])
    args = {"network": network, "event": event.slug if event else None, "at": at.isoformat() if at else None,
            "room": asked.room, "text": asked.text}
    return await ctx.confirm(ACTION, args, summary=summary)


@confirmable(ACTION)
async def announce_confirmed(ctx: Context, args: dict) -> Reply:
    event = await find_event(ctx, args["event"], manage=True) if args.get("event") else None
    network = args["network"]
    if not _coordinates(ctx, network):
        raise UserError("announce.other_network", title=network)
    at = datetime.fromisoformat(args["at"]) if args.get("at") else None
    due = at if at is not None and at > ctx.now else ctx.now
    payload = {"network": network, "event_id": event.id if event else None, "room": bool(args.get("room")),
               "text": args["text"], "by": ctx.sender, "title": event.title if event else clip(args["text"], 40)}
    number = await ctx.schedule.at(f"announce:{ctx.event_id}", KIND, due, payload, network=network)
    if at is None:
        return ctx.reply("announce.sending", id=number)
    zone = await _zone(ctx, network, event)
    return ctx.reply("announce.scheduled", id=number, when=ctx.t.datetime(at, zone),
                     cancel=code(f"{ctx.prefix}announce cancel {number}"))


@command("announcements", help="cmd.announcements", role=Role.COORDINATOR, where=Where.PRIVATE,
         local={"nl": "aankondigingen", "nb": "kunngjøringer"})
async def announcements(ctx: Context) -> Reply:
    here = await ctx.control_network()
    mine = [here] if here else sorted(n for n in ctx.roles if _coordinates(ctx, n))
    rows = [r for n in mine for r in await schedule.pending(ctx.db, KIND, n)]
    if not rows:
        return ctx.reply("announce.none", announce=code(f"{ctx.prefix}announce"))
    zone = await _zone(ctx, mine[0], None)

    def line(row) -> object:  # noqa: ANN001
        p = row.payload
        to = ctx.t("announce.to_event", title=p.get("title", "")) if p.get("event_id") else ctx.t("announce.to_all")
        return ctx.t("announce.line", id=row.id, when=ctx.t.datetime(row.due_at, zone), to=to, text=clip(p["text"], 80))

    items, hidden = fit((line(r) for r in rows), len(rows))
    more = [ctx.t("events.and_more", count=hidden)] if hidden else []
    return Reply(lines([bold(ctx.t("announce.list_title", count=len(rows))), bullets(items), *more,
                        ctx.t("announce.list_hint", cancel=code(f"{ctx.prefix}announce cancel <id>"))]))


@command("announce cancel", help="cmd.announce_cancel", role=Role.COORDINATOR, where=Where.PRIVATE,
         usage="<id>", local={"nl": "aankondigen annuleren", "nb": "kunngjør avbryt"})
async def announce_cancel(ctx: Context, number: str) -> Reply:
    digits = number.strip().lstrip("#")
    row = await schedule.get(ctx.db, int(digits)) if digits.isdigit() and len(digits) < 12 else None
    if row is None or row.kind != KIND or not _coordinates(ctx, row.network or ""):
        raise UserError("announce.unknown", id=number[:12], list=code(f"{ctx.prefix}announcements"))
    if row.done_at is not None:
        raise UserError("announce.already_sent" if row.outcome != schedule.CANCELLED else "announce.already_cancelled",
                        id=row.id)
    await ctx.schedule.cancel(row.key)
    return ctx.reply("announce.cancelled", id=row.id)

