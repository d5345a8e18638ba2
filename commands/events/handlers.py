"""Members and events: list and read them, register, cancel, answer a seat offer, ask ahead.
The coordinators' commands live in manage.py; seat changes go through service.py."""
from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from api import Attachment, Context, Reply, Rest, Role, UserError, command, confirmable
from api.event_args import EventRef, LockedEvent, WorkshopRef, find_event, find_workshop, role_in, shown_here
from api.render import Text, bold, bullets, code, lines
from commands.common.lists import LIMIT, fit
from commands.common.places import privately
from commands.events import files, notify, seats, service
from commands.events.common import coordinator_networks, local, when
from commands.events.rules import ACTIVE, EventState, Mode, State, offer_lapsed, registration_problem
from commands.events.views import details, expectations, list_line
from storage import events, members, networks, registrations as regs
from storage.models import Event, EventWorkshop, Registration

ACKNOWLEDGED = "events.register"


@command("events", help="cmd.events", role=Role.MEMBER, local={"nl": "bijeenkomsten", "nb": "arrangementer"})
async def list_events(ctx: Context) -> Reply:
    """In a DM: everything the caller may see. In a network's room: that network's events only,
    and drafts and invitation-only events only in its coordinators' room (for its coordinators);
    never in a shared room, where everyone reads along."""
    nets = [n for n, r in ctx.roles.items() if r >= Role.MEMBER]
    room = await networks.network_of_room(ctx.db, ctx.room_id)
    if room is not None:
        nets = [n for n in nets if n == room[0]]
    control = room[0] if room is not None and room[1] == "control" and role_in(ctx, room[0]) >= Role.COORDINATOR \
        else None

    def private(network: str) -> bool:
        return ctx.is_dm or network == control

    found = await events.upcoming(ctx.db, nets, ctx.now,
                                  drafts=[n for n in coordinator_networks(ctx) if private(n)])
    shown: list[Event] = []
    for e in found:
        if not e.invite_only:
            shown.append(e)
        elif private(e.network) and (role_in(ctx, e.network) >= Role.FACILITATOR
                                     or await events.is_invited(ctx.db, e.id, ctx.sender)):
            shown.append(e)
    hint = [] if ctx.is_dm or control else [ctx.t("events.list.private_hint")]
    if not shown:
        return Reply(lines([ctx.t("events.list.none"), *hint]))
    taken = await regs.holding_by_event(ctx.db, [e.id for e in shown])
    items, hidden = fit((list_line(ctx.t, e, taken.get((e.id, 0), 0), draft=e.state == events.DRAFT) for e in shown),
                        len(shown))
    more = [ctx.t("events.list.capped", count=hidden)] if hidden else []
    return Reply(lines([bold(ctx.t("events.list.title")), bullets(items), *more,
                        ctx.t("events.list.more", show=code(f"{ctx.prefix}event <id>")), *hint]))


@command("event", help="cmd.event", role=Role.MEMBER, local={"nl": "bijeenkomst", "nb": "arrangement"})
async def show_event(ctx: Context, e: LockedEvent) -> Reply:
    await service.settle(ctx, e)
    text = await _details(ctx, e)
    if await shown_here(ctx, e):
        return Reply(text)
    return await privately(ctx, text)


async def _details(ctx: Context, e: Event) -> Text:
    taken: dict[int, int] = {}
    waiting: dict[int, int] = {}
    for (slot, state), n in (await regs.counts(ctx.db, e.id)).items():
        if state in regs.HOLDING:
            taken[slot] = taken.get(slot, 0) + n
        elif state == regs.WAITLISTED:
            waiting[slot] = n
    return details(ctx.t, ctx.prefix, e, await events.workshops(ctx.db, e.id), taken, waiting,
                   for_coordinator=role_in(ctx, e.network) >= Role.COORDINATOR)


@command("register", help="cmd.register", role=Role.MEMBER, local={"nl": "aanmelden", "nb": "meld-på"})
async def register(ctx: Context, e: LockedEvent, chosen: WorkshopRef | None = None) -> Reply:
    await _may_register(ctx, e)
    main = await regs.get(ctx.db, e.id, ctx.sender)
    if e.acknowledge and (main is None or State(main.state) not in ACTIVE):
        # Seed 000: the member reads the purpose and expectations and confirms them; only then is
        # a seat taken, in the order of confirmation (the arrival is the !confirm message).
        summary = ctx.t("events.register.acknowledge", title=e.title, when=when(e), purpose=e.purpose,
                        expect=expectations(ctx.t, e))
        return await ctx.confirm(ACKNOWLEDGED, {"event": e.slug, "workshop": chosen.key if chosen else None},
                                 summary=summary)
    return await _take_place(ctx, e, chosen)


@confirmable(ACKNOWLEDGED)
async def register_acknowledged(ctx: Context, args: dict) -> Reply:
    e = await find_event(ctx, args["event"], lock=True)
    chosen = await find_workshop(ctx, e, args["workshop"]) if args.get("workshop") else None
    await _may_register(ctx, e)  # again: registration may have closed meanwhile
    return await _take_place(ctx, e, chosen)


async def _may_register(ctx: Context, e: Event) -> None:
    problem = registration_problem(
        # judged at the moment the message reached the server, not when a busy bot got to it
        event_state=EventState(e.state), now=min(ctx.now, ctx.event_time), closes_at=e.closes_at, ends_at=e.ends_at,
        rules_accepted=await members.rules_accepted(ctx.db, e.network, ctx.sender), invite_only=e.invite_only,
        invited=e.invite_only and await events.is_invited(ctx.db, e.id, ctx.sender))
    if problem:
        raise UserError(problem, title=e.title, closes=local(e, e.closes_at), rules=code(f"{ctx.prefix}rules"),
                        accept=code(f"{ctx.prefix}accept-rules"))


async def _take_place(ctx: Context, e: Event, chosen) -> Reply:  # noqa: ANN001
    outcome = await service.register(ctx, e, chosen)  # after the checks: a UserError would undo it
    parts: list[Text] = [_main_text(ctx, e, outcome)]
    if chosen is not None:
        parts.append(_workshop_text(ctx, e, chosen, outcome))
    attach = (files.ics(e, ctx.t),) if outcome.main_new and outcome.main.state == regs.CONFIRMED else ()
    return await _privately(ctx, lines(parts), attach)


def _main_text(ctx: Context, e: Event, outcome: seats.Outcome) -> Text:
    row, cancel = outcome.main, code(f"{ctx.prefix}cancel {e.slug}")
    if not outcome.main_new:
        key = {regs.CONFIRMED: "events.register.already_confirmed", regs.WAITLISTED: "events.register.already_waiting",
               regs.OFFERED: "events.register.already_offered"}[row.state]
        return ctx.t(key, title=e.title, position=outcome.main_position,
                     accept=code(f"{ctx.prefix}accept {e.slug}"), until=local(e, row.offer_expires_at or e.closes_at))
    if row.state == regs.CONFIRMED:
        return ctx.t("events.register.confirmed", title=e.title, when=when(e), purpose=e.purpose,
                     expect=expectations(ctx.t, e), place=e.place or ctx.t("events.view.place_tbd"), cancel=cancel)
    how = ctx.t("events.register.mode_offer", hours=e.offer_hours) if e.waitlist_mode == Mode.OFFER.value \
        else ctx.t("events.register.mode_auto")
    return ctx.t("events.register.waitlisted", title=e.title, position=outcome.main_position, how=how,
                 purpose=e.purpose, expect=expectations(ctx.t, e), cancel=cancel)


def _workshop_text(ctx: Context, e: Event, chosen, outcome: seats.Outcome) -> Text:  # noqa: ANN001
    if outcome.limit_reached:
        return ctx.t("events.workshop.limit", per_member=e.workshops_per_member,
                     held=", ".join(w.name for w in outcome.limit_reached),
                     cancel=code(f"{ctx.prefix}cancel {e.slug} <workshop>"))
    row = outcome.workshop
    state = row.state if outcome.workshop_new else "already_" + row.state
    return ctx.t(f"events.workshop.{state}", workshop=chosen.name, position=outcome.workshop_position,
                 title=e.title, accept=code(f"{ctx.prefix}accept {e.slug} {chosen.key}"))


async def _privately(ctx: Context, text: Text, attach: tuple[Attachment, ...]) -> Reply:
    """In a DM the reply says it all; in a shared room the details (and the file) go to the DM."""
    return await privately(ctx, text, attach, notice=False, sent_key="events.sent_privately")


@command("cancel", help="cmd.cancel", role=Role.MEMBER, local={"nl": "afmelden", "nb": "meld-av"})
async def cancel(ctx: Context, e: LockedEvent, chosen: WorkshopRef | None = None) -> Reply:
    await service.settle(ctx, e)
    row = await regs.get(ctx.db, e.id, ctx.sender, chosen.id if chosen else 0)
    what = ctx.t("events.workshop_of", workshop=chosen.name, title=e.title) if chosen else e.title
    if row is None or State(row.state) not in (State.CONFIRMED, State.OFFERED, State.WAITLISTED, State.PENDING):
        return ctx.reply("events.cancel.nothing", what=what)
    was = row.state
    await service.give_up(ctx, e, row, regs.CANCELLED)
    key = "events.cancel.off_list" if was == regs.WAITLISTED else "events.cancel.done"
    return ctx.reply(key, what=what, register=code(f"{ctx.prefix}register {e.slug}"))


async def _offer(ctx: Context, e: Event, workshop: EventWorkshop | None) -> Registration:
    mine = await regs.of_user_in_event(ctx.db, e.id, ctx.sender)
    if workshop:
        mine = [r for r in mine if r.slot == workshop.id]
    offers = [r for r in mine if r.state in (regs.OFFERED, regs.EXPIRED)]
    open_ = [r for r in offers if r.state == regs.OFFERED]
    if len(open_) > 1:
        raise UserError("events.offer.which", title=e.title, accept=code(f"{ctx.prefix}accept {e.slug} <workshop>"))
    if not open_:
        lapsed = next((r for r in offers if r.state == regs.EXPIRED), None)
        raise UserError("events.offer.lapsed_already" if lapsed else "events.offer.none", title=e.title,
                        register=code(f"{ctx.prefix}register {e.slug}"))
    return open_[0]


async def _lapse(ctx: Context, e: Event, row: Registration) -> Reply:
    """The offer ran out before the expiry job did: treat it as the job would have (the caller
    reads it in the reply, not in a DM)."""
    await service.settle(ctx, e, skip=ctx.sender)
    return ctx.reply("events.offer.lapsed_already", title=e.title, register=code(f"{ctx.prefix}register {e.slug}"))


@command("accept", help="cmd.accept", role=Role.MEMBER, local={"nl": "aannemen", "nb": "godta"})
async def accept(ctx: Context, e: LockedEvent, workshop: WorkshopRef | None = None) -> Reply:
    row = await _offer(ctx, e, workshop)
    if offer_lapsed(State(row.state), row.offer_expires_at, ctx.now):
        return await _lapse(ctx, e, row)
    changes = await service.accept(ctx, e, row)  # other people's offers that ran out go first
    workshop_row = await events.workshops(ctx.db, e.id) if row.slot else []
    name = next((w.name for w in workshop_row if w.id == row.slot), None)
    what = ctx.t("events.workshop_of", workshop=name, title=e.title) if name else e.title
    parts = [ctx.t("events.offer.accepted", what=what, when=when(e), purpose=e.purpose, expect=expectations(ctx.t, e),
                   cancel=code(f"{ctx.prefix}cancel {e.slug}"))]
    parts += [notify.workshop_line(ctx.t, c, e) for c in changes if c.kind in ("seated", "queued")]
    attach = (files.ics(e, ctx.t),) if row.slot == 0 else ()
    return await _privately(ctx, lines(parts), attach)


@command("decline", help="cmd.decline_offer", role=Role.MEMBER, local={"nl": "afslaan", "nb": "avslå"})
async def decline(ctx: Context, e: LockedEvent, workshop: WorkshopRef | None = None) -> Reply:
    row = await _offer(ctx, e, workshop)
    if offer_lapsed(State(row.state), row.offer_expires_at, ctx.now):
        return await _lapse(ctx, e, row)
    await service.give_up(ctx, e, row, regs.DECLINED)
    return ctx.reply("events.offer.declined", title=e.title)


@command("my", help="cmd.my", role=Role.MEMBER, local={"nl": "mijn", "nb": "mine"})
async def my(ctx: Context) -> Reply:
    """The caller's own registrations: answered only in the DM (a shared room hears that it was sent)."""
    lapsed = {e.id for r, e in await regs.of_user(ctx.db, ctx.sender, [regs.OFFERED])
              if offer_lapsed(State(r.state), r.offer_expires_at, ctx.now)}
    for event_id in sorted(lapsed):
        locked = await events.lock(ctx.db, event_id)
        if locked is not None:
            await service.settle(ctx, locked)
    rows = [(r, e) for r, e in await regs.of_user(ctx.db, ctx.sender) if e.ends_at > ctx.now]
    if not rows:
        return await privately(ctx, ctx.t("events.my.none", events=code(f"{ctx.prefix}events")))
    items, hidden = fit(await _my_lines(ctx, rows[:LIMIT]), len(rows))
    more = [ctx.t("events.my.capped", count=hidden)] if hidden else []
    return await privately(ctx, lines([bold(ctx.t("events.my.title")), bullets(items), *more]))


async def _my_lines(ctx: Context, rows: list[tuple[Registration, Event]]) -> list[Text]:
    workshops: dict[int, tuple[str, str]] = {}
    items: list[Text] = []
    for r, e in rows:
        if r.slot and r.slot not in workshops:
            workshops.update({w.id: (w.name, w.key) for w in await events.workshops(ctx.db, e.id)})
        name, key = workshops.get(r.slot, ("?", "")) if r.slot else (None, "")
        what = ctx.t("events.workshop_of", workshop=name, title=e.title) if r.slot else e.title
        position = await regs.position(ctx.db, r) if r.state == regs.WAITLISTED else None
        status = ctx.t(f"events.my.{r.state}", position=position,
                       until=local(e, r.offer_expires_at) if r.offer_expires_at else "",
                       accept=code(f"{ctx.prefix}accept {e.slug} {key}".strip()))
        items.append(ctx.t("events.my.line", slug=code(e.slug), what=what, when=when(e, short=True), status=status))
    return items


@command("ask", help="cmd.ask", role=Role.MEMBER, usage="<event> [anonymous] <question...>",
         local={"nl": "vraag", "nb": "spør"})
async def ask(ctx: Context, e: EventRef, question: Rest) -> Reply:
    first, _, rest = question.strip().partition(" ")
    anonymous = first.lower().rstrip(":") in ("anonymous", "anon", "anoniem", "anonym") and bool(rest.strip())
    if anonymous and not ctx.is_dm:
        # everyone in a shared room sees who sent it: "anonymous" would be a false promise
        raise UserError("events.ask.anonymous_dm", ask=code(f"{ctx.prefix}ask {e.slug} anonymous ..."))
    if e.state != events.PUBLISHED or e.ends_at <= ctx.now:
        raise UserError("events.ask.closed", title=e.title)
    text = rest.strip() if anonymous else question.strip()
    if len(text) < 5:
        raise UserError("events.ask.too_short")
    if len(text) > 2000:
        raise UserError("events.ask.too_long", length=len(text))
    # An anonymous question keeps no sender and only the day it was asked; the record that this
    # command ran keeps neither the DM's room nor the moment (ctx.untraceable), so nothing stored
    # ties the question to the person who sent it.
    asked_at = _day_only(e, ctx.now) if anonymous else ctx.now
    ctx.untraceable = anonymous
    await events.add_question(ctx.db, e.id, None if anonymous else ctx.sender, text, asked_at)
    control = await networks.room_id(ctx.db, e.network, "control")
    # The note and the reply are written in one transaction, so their outbox rows would pair the
    # asker's DM with the event: both keep no content once sent (private).
    if control:  # by event and count only: never the text, nor (for an anonymous one) who asked
        await ctx.post(control, "events.questions.new_note", about_network=e.network, notice=True, private=True,
                       title=e.title, slug=e.slug, count=await events.question_count(ctx.db, e.id),
                       questions=code(f"{ctx.prefix}questions {e.slug}"))
    key = "events.ask.thanks_anonymous" if anonymous else "events.ask.thanks"
    return Reply(ctx.t(key, title=e.title), private=anonymous)


def _day_only(e: Event, now: datetime) -> datetime:
    """Midnight (in the event's timezone) of the day `now` falls on, in UTC."""
    zone = ZoneInfo(e.timezone)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone).astimezone(timezone.utc)
