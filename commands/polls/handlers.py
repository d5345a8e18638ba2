"""Member polls in a network's open rooms: `!poll` (a native MSC3381 poll, or an anonymous one
posted as text), `!poll close`, `!poll results`, `!vote` (anonymous polls, by DM), and the
responses read from the room (poll_events.py)."""
from __future__ import annotations

import secrets
import string
from datetime import datetime

from api import Context, Reply, Rest, Role, UserError, Where, command, whole_number
from api.converters import LocalDateTimeArg
from api.render import bold, code, lines
from commands.common.places import require_private
from commands.polls import closing, rules
from storage import members, networks, polls
from storage.models import Poll

CODE_ALPHABET = string.ascii_lowercase + string.digits
ROOM_KINDS = ("lobby", "announcements")  # the network's open rooms a poll may go to


@command("poll", help="cmd.poll", role=Role.MEMBER, where=Where.ROOM,
         usage='"<question>" "<option>" "<option>"... [multi=<n>] [closes=<time>] [undisclosed|anonymous]',
         local={"nl": "peiling", "nb": "avstemning"})
async def poll(ctx: Context, request: Rest) -> Reply:
    network = await _open_room_network(ctx)
    role = ctx.roles.get(network, Role.ANYONE)
    if role < Role.COORDINATOR and (role < Role.MEMBER or not (await polls.settings(ctx.db, network)).members_may_poll):
        raise UserError("polls.not_allowed")
    try:
        req = rules.parse_request(request)
    except rules.PollProblem as problem:
        raise UserError(problem.key, **problem.values) from None
    closes_at = await _closing_time(ctx, req.closes) if req.closes else None
    options = rules.option_ids(req.options)
    row = await polls.create(ctx.db, network=network, room_id=ctx.room_id, creator=ctx.sender, question=req.question,
                             options=options, max_selections=req.multi, kind=req.kind, closes_at=closes_at,
                             now=ctx.now)
    if req.kind == rules.ANONYMOUS:
        await ctx.post(ctx.room_id, "polls.anonymous.posted", about_network=network, number=row.id,
                       question=bold(req.question), options=rules.fallback("", options).strip(),
                       vote=code(f"{ctx.prefix}vote {row.id} <n>"))
    else:
        row.outbox_id = await ctx.chat.send_event(
            ctx.room_id, rules.START, rules.start_content(row.id, req.question, options, req.multi, req.kind))
    if closes_at is not None:
        await ctx.schedule.at(closing.job_key(row.id), closing.JOB, closes_at, {"poll": row.id})
    close = code(f"{ctx.prefix}poll close {row.id}")
    if closes_at is None:
        return ctx.reply("polls.created", number=row.id, close=close)
    return ctx.reply("polls.created_closes", number=row.id, close=close, closes=ctx.t.moment(closes_at))


@command("poll close", help="cmd.poll_close", role=Role.MEMBER, usage="<poll>",
         local={"nl": "peiling sluiten", "nb": "avslutt avstemning"})
async def poll_close(ctx: Context, number: str) -> Reply:
    row = await _poll(ctx, number, lock=True)
    if row.creator != ctx.sender and ctx.roles.get(row.network, Role.ANYONE) < Role.COORDINATOR:
        raise UserError("polls.close.not_yours", number=row.id)
    if row.closed_at is not None:
        return ctx.reply("polls.close.already", number=row.id)
    if not await closing.close(ctx, row):
        raise UserError("polls.close.not_sent_yet", number=row.id)
    return ctx.reply("polls.close.done", number=row.id)


@command("poll results", help="cmd.poll_results", role=Role.COORDINATOR, where=Where.PRIVATE, usage="<poll>",
         local={"nl": "peiling uitslag", "nb": "avstemning resultat"})
async def poll_results(ctx: Context, number: str) -> Reply:
    row = await _poll(ctx, number)
    if ctx.roles.get(row.network, Role.ANYONE) < Role.COORDINATOR:
        raise UserError("polls.not_found", number=number[:20])
    await require_private(ctx, "poll results", row.network)
    counts, voters = await closing.current_tally(ctx.db, row)
    if row.closed_at is not None:
        state = ctx.t("polls.results.closed", when=ctx.t.moment(row.closed_at))
    elif row.closes_at is not None:
        state = ctx.t("polls.results.closes", when=ctx.t.moment(row.closes_at))
    else:
        state = ctx.t("polls.results.open", close=code(f"{ctx.prefix}poll close {row.id}"))
    if rules.counts_shown(row.kind, row.closed_at is not None, voters):
        tally = closing.tally_lines(ctx.t, row, counts)
    elif row.closed_at is None:
        tally = ctx.t("polls.results.hidden_open")
    else:
        tally = ctx.t("polls.result.too_few", least=rules.ANONYMOUS_LEAST)
    return Reply(lines([bold(ctx.t("polls.results.title", number=row.id, question=row.question)),
                        tally, ctx.t("polls.results.voters", count=voters), state]))


@command("vote", help="cmd.vote", role=Role.MEMBER, where=Where.DM, usage="<poll> <option> [code]",
         local={"nl": "stem", "nb": "stemme"})
async def vote(ctx: Context, number: str, option: str, change_code: str | None = None) -> Reply:
    """An anonymous vote: the count goes up, a marker says this member voted, and the member gets
    a code to change it; nothing stored ties the two, and the command's own record keeps neither
    this DM nor the moment."""
    ctx.untraceable = True
    row = await _poll(ctx, number, lock=True)
    if row.kind != rules.ANONYMOUS:
        raise UserError("polls.vote.not_anonymous", number=row.id)
    member = await members.membership(ctx.db, row.network, ctx.sender)
    if member is None or member.state != "active":
        raise UserError("polls.vote.not_member", number=row.id)
    if row.closed_at is not None:
        raise UserError("polls.vote.closed", number=row.id)
    choice = whole_number(option)
    if choice is None or not 1 <= choice <= len(row.options):
        raise UserError("polls.vote.bad_option", number=row.id, most=len(row.options))
    if change_code:
        previous = await _spend(ctx, row, change_code)
        if previous is None or not await polls.has_voted(ctx.db, row.id, ctx.sender):
            raise UserError("polls.vote.bad_code", number=row.id)
        await polls.count(ctx.db, row.id, previous, -1)
    elif not await polls.mark_voted(ctx.db, row.id, ctx.sender):
        raise UserError("polls.vote.already", number=row.id,
                        change=code(f"{ctx.prefix}vote {row.id} <n> <code>"))
    await polls.count(ctx.db, row.id, choice, +1)
    new_code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
    await polls.keep_receipt(ctx.db, row.id, rules.receipt_digest(row.id, new_code, choice))
    # private: the outbox keeps no copy of this reply (its code) once it is sent
    return Reply(ctx.t("polls.vote.counted", number=row.id,
                       change=code(f"{ctx.prefix}vote {row.id} <n> {new_code}")), private=True)


async def _spend(ctx: Context, row: Poll, change_code: str) -> int | None:
    """The option the code was given for (its receipt is used up), or None for a wrong code."""
    for number in range(1, len(row.options) + 1):
        if await polls.spend_receipt(ctx.db, row.id, rules.receipt_digest(row.id, change_code, number)):
            return number
    return None


async def _poll(ctx: Context, number: str, *, lock: bool = False) -> Poll:
    poll_id = whole_number(number.lstrip("#"))
    row = await polls.get(ctx.db, poll_id, lock=lock) if poll_id is not None else None
    if row is None or not ctx.roles.get(row.network):
        raise UserError("polls.not_found", number=number[:20])
    return row


async def _open_room_network(ctx: Context) -> str:
    where = await networks.network_of_room(ctx.db, ctx.room_id)
    if where is None or where[1] not in ROOM_KINDS:
        raise UserError("polls.open_room_only")
    return where[0]


async def _closing_time(ctx: Context, raw: str) -> datetime:
    length = rules.duration(raw)
    if length is not None:
        return ctx.now + length
    try:
        when = await LocalDateTimeArg().convert(ctx, raw.replace("T", " ", 1), {})
    except UserError:
        raise UserError("polls.bad_closes", value=raw[:40], example="closes=2h, closes=2027-03-14T19:30") from None
    if when <= ctx.now:
        raise UserError("polls.closes_past")
    return when
