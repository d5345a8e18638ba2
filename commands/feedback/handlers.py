"""`!feedback <event>` (answer the event's form in the DM), `!feedback group <session>` (answer
for one's group), `!feedback extend <event> <date>` (a coordinator moves the deadline) and
`!results <event> [csv|share]` (coordinators: the figures and chart, a CSV file, or a summary for
everyone after `!confirm`)."""
from __future__ import annotations

from datetime import time

from api import Context, Reply, Rest, Role, UserError, Where, command, confirmable, on_seats_changed, whole_number
from api.converters import LocalDateTimeArg
from api.event_args import find_event, find_workshop
from api.feedback_forms import SETTINGS
from api.render import Text, code, lines
from commands.common.places import require_private
from commands.feedback import asking, results
from commands.feedback.jobs import ASK, ask_key, plan_nudges
from storage import events, feedback, networks, sessions
from storage.models import Event, GroupSession

SHARE = "feedback.share"
_GROUP = frozenset({"group", "groep", "gruppe"})
_EXTEND = frozenset({"extend", "verleng", "forleng"})


@command("feedback", help="cmd.feedback", role=Role.MEMBER, usage="<event> | group <session> | extend <event> <date>",
         local={"nb": "tilbakemelding"})
async def feedback_command(ctx: Context, words: Rest) -> Reply:
    first, _, rest = words.strip().partition(" ")
    if first.lower() in _GROUP and rest.strip():
        event, group = await _group(ctx, rest.strip())
        return await asking.begin(ctx, event, group, f"{first} {rest.strip()}")
    if first.lower() in _EXTEND and rest.strip():
        return await _extend(ctx, rest.strip())
    if rest.strip():
        raise UserError("feedback.usage", answer=code(f"{ctx.prefix}feedback <event>"),
                        group=code(f"{ctx.prefix}feedback group <event>/<n>"))
    return await asking.begin(ctx, await find_event(ctx, first), None, first)


async def _group(ctx: Context, ref: str) -> tuple[Event, GroupSession]:
    """`<event>` (the caller's own group, when they are in one), `<event>/<n>` or
    `<event>/<workshop>/<n>`; only a participant of that group may answer for it."""
    parts = ref.split("/")
    event = await find_event(ctx, parts[0])
    mine = [g for g, e in await sessions.of_user(ctx.db, ctx.sender) if e.id == event.id]
    if len(parts) == 1:
        if len(mine) != 1:
            raise UserError("feedback.group_which" if mine else "feedback.not_in_group", title=event.title,
                            example=code(f"{ctx.prefix}feedback group {event.slug}/1"))
        return event, mine[0]
    slot = (await find_workshop(ctx, event, parts[1])).id if len(parts) == 3 else 0
    number = whole_number(parts[-1])
    group = await sessions.get(ctx.db, event.id, slot, number) if number is not None else None
    if group is None or group.id not in {g.id for g in mine}:
        raise UserError("feedback.not_in_group", title=event.title,
                        example=code(f"{ctx.prefix}sessions {event.slug}"))
    return event, group


async def _extend(ctx: Context, rest: str) -> Reply:
    slug, _, raw = rest.partition(" ")
    event = await find_event(ctx, slug, lock=True, manage=True)
    if not raw.strip():
        raise UserError("feedback.extend_usage", example=code(f"{ctx.prefix}feedback extend {event.slug} 2027-03-01"))
    moment = await LocalDateTimeArg().convert(ctx, raw.strip(), {"event": event})
    if moment.time() == time(0) and ":" not in raw and "." not in raw:  # a day alone: to its end
        moment = moment.replace(hour=23, minute=59)
    if moment <= ctx.now or moment <= event.ends_at:
        raise UserError("feedback.extend_past", when=lambda t: t.datetime(moment, event.timezone))
    event.feedback_deadline, event.updated_at = moment, ctx.now
    await plan_nudges(ctx, event, since=ctx.now)
    return ctx.reply("feedback.extended", title=event.title, when=lambda t: t.datetime(moment, event.timezone))


@command("results", help="cmd.results", role=Role.COORDINATOR, where=Where.PRIVATE, usage="<event> [csv|share]",
         local={"nl": "resultaten", "nb": "resultater"})
async def results_command(ctx: Context, slug: str, what: str | None = None) -> Reply:
    event = await find_event(ctx, slug, manage=True)
    await require_private(ctx, "results", event.network)
    r = await results.load(ctx, event)
    option = (what or "").lower()
    if option == "csv":
        if r.too_few:
            return ctx.reply("feedback.results.too_few", count=len(r.answers))
        return Reply(ctx.t("feedback.csv.done", count=len(r.answers)), files=(results.csv_file(ctx.t, r),),
                     private=True)
    if option in ("share", "delen", "del"):
        room = await networks.room_id(ctx.db, event.network, "announcements")
        if room is None:
            raise UserError("feedback.share.no_room")
        t = await ctx.translator_for_network(event.network)
        text, _files = await results.summary(t, r, await _outcomes(ctx, event), with_chart=False)
        return await ctx.confirm(SHARE, {"event": event.slug}, summary=lines([ctx.t("feedback.share.preview"), text]))
    if option:
        raise UserError("feedback.results.usage", example=code(f"{ctx.prefix}results {event.slug} csv"))
    text, files = await results.report(ctx.t, r)
    return Reply(text, files=files, private=True)


@confirmable(SHARE)
async def share_confirmed(ctx: Context, args: dict) -> Reply:
    event = await find_event(ctx, args["event"], manage=True)
    room = await networks.room_id(ctx.db, event.network, "announcements")
    if room is None:
        raise UserError("feedback.share.no_room")
    t = await ctx.translator_for_network(event.network)
    text, files = await results.summary(t, await results.load(ctx, event), await _outcomes(ctx, event))
    await ctx.chat.send(room, text, files=files)
    return ctx.reply("feedback.share.done", title=event.title)


async def _outcomes(ctx: Context, event: Event) -> list[Text]:
    """The outcomes the sessions' facilitators posted with `!outcome` (written without names)."""
    t = await ctx.translator_for_network(event.network)
    return [t("feedback.share.outcome", number=n, text=text) for n, text in await feedback.outcomes(ctx.db, event.id)]


@on_seats_changed
async def plan_request(ctx, event: Event) -> None:  # noqa: ANN001 - Context or JobContext
    """Someone holds a seat: the feedback request is planned for the end plus the delay (moved
    along while it is still pending)."""
    if event.state == events.PUBLISHED:
        await ctx.schedule.at(ask_key(event), ASK, event.ends_at + SETTINGS.delay, {"event": event.id})
