"""The queue and the way to a session: `!cases`, `!case show|withdraw|assign|share`, `!agree`,
`!refuse`. A case's title and summary reach a session's room only once its case-bringer agreed;
its full text only by their own `!case share` there."""
from __future__ import annotations

from datetime import timedelta

from api import Context, JobContext, Reply, Role, UserError, Where, command, job
from api.render import bullets, code, lines, pill
from commands.cases import rules
from commands.cases.common import control_room, event_label, event_of, find, find_session, session_ref
from commands.cases.retention import erase_file
from storage import cases, outbox, sessions
from storage.models import Case, GroupSession

POST = "cases.post"
POST_RETRY = timedelta(minutes=5)


def _state(ctx: Context, row: Case) -> str:
    return ctx.t(f"cases.state.{row.state}").plain


def _move(row: Case, action: rules.Action) -> None:
    try:
        row.state = rules.move(rules.State(row.state), action).value
    except rules.NotAllowed:
        raise UserError(f"cases.not_now.{action.value}", ref=row.ref, state=lambda t: t(f"cases.state.{row.state}"))


@command("cases", help="cmd.cases", role=Role.MEMBER, local={"nl": "casussen", "nb": "saker"})
async def list_cases(ctx: Context) -> Reply:
    """A member's own cases in their DM; the network's queue in its coordinators' room."""
    network = await ctx.control_network()
    if network is not None:
        rows = await cases.queue(ctx.db, network)
        if not rows:
            return ctx.reply("cases.queue.empty")
        items = []
        for row in rows:
            who = pill(row.user_id) if row.named and row.user_id else ctx.t("cases.pseudonymous")
            items.append(ctx.t("cases.queue.item", ref=code(row.ref), title=row.title or "",
                               event=event_label(ctx.t, await event_of(ctx, row)), state=_state(ctx, row), who=who))
        return Reply(lines([ctx.t("cases.queue.title", count=len(rows)), bullets(items)]), private=True)
    if not ctx.is_dm:
        raise UserError("cases.list_where", cases=code(f"{ctx.prefix}cases"))
    rows = [r for r in await cases.of_user(ctx.db, ctx.sender) if r.state in cases.OPEN]
    if not rows:
        return ctx.reply("cases.mine.empty", case=code(f"{ctx.prefix}case"))
    items = [ctx.t("cases.mine.item", ref=code(r.ref), title=r.title or "", state=_state(ctx, r),
                   event=event_label(ctx.t, await event_of(ctx, r))) for r in rows]
    return Reply(lines([ctx.t("cases.mine.title"), bullets(items)]), private=True)


@command("case show", help="cmd.case_show", role=Role.MEMBER, where=Where.PRIVATE, usage="<case>",
         local={"nl": "casus tonen", "nb": "vis sak"})
async def show(ctx: Context, ref: str) -> Reply:
    row = await find(ctx, ref)
    own = row.user_id == ctx.sender and ctx.is_dm
    if not own and await ctx.control_network() != row.network:
        raise UserError("cases.show_where", ref=row.ref)
    event = await event_of(ctx, row)
    parts = [ctx.t("cases.show.head", ref=code(row.ref), title=row.title or "", state=_state(ctx, row),
                   event=event_label(ctx.t, event))]
    if own or row.coordinators_read:
        parts += [ctx.t("cases.show.summary", summary=row.summary or ""), ctx.t("cases.show.text", text=row.body or "")]
        if row.file_name:
            parts.append(ctx.t("cases.show.file", name=row.file_name, kb=max(1, (row.file_size or 0) // 1024)))
    else:
        parts.append(ctx.t("cases.show.text_closed"))
    # Shown to a coordinator: redacted with the rest if its case-bringer asks to be forgotten.
    return Reply(lines(parts), private=True, about=None if own else row.user_id)


@command("case withdraw", help="cmd.case_withdraw", role=Role.MEMBER, where=Where.DM, usage="<case>",
         local={"nl": "casus intrekken", "nb": "trekk sak"})
async def withdraw(ctx: Context, ref: str) -> Reply:
    row = await find(ctx, ref, own=True)
    was = row.session_id
    _move(row, rules.Action.WITHDRAW)
    erase_file(ctx, cases.erase_content(row, cases.WITHDRAWN, ctx.now))
    row.session_id = row.asked_session_id = None
    if was:
        group = await ctx.db.get(GroupSession, was)
        if group is not None and group.case_bringer == ctx.sender:
            group.case_bringer, group.updated_at = None, ctx.now
            await ctx.session_changed(group)
        if group is not None and group.room_id:  # what of the case reached the session's room goes too
            for room_id, event_id in await outbox.sent_about(ctx.db, ctx.sender):
                if room_id == group.room_id:
                    await ctx.chat.redact(room_id, event_id, ctx.t("cases.withdrawn_reason").plain)
    room = await control_room(ctx, row.network)
    if room:
        await ctx.post(room, "cases.control.withdrawn", about_network=row.network, ref=code(row.ref))
    return ctx.reply("cases.withdrawn", ref=code(row.ref))


@command("case assign", help="cmd.case_assign", role=Role.COORDINATOR, where=Where.PRIVATE,
         usage="<case> <session>", local={"nl": "casus inplannen", "nb": "planlegg sak"})
async def assign(ctx: Context, ref: str, session: str) -> Reply:
    row = await find(ctx, ref)
    if ctx.roles.get(row.network, Role.ANYONE) < Role.COORDINATOR or await ctx.control_network() != row.network:
        raise UserError("cases.assign_where")
    group = await find_session(ctx, session, row.network)
    await _check_room_for(ctx, row, group)
    _move(row, rules.Action.ASSIGN)
    row.asked_session_id, row.updated_at = group.id, ctx.now
    where = await session_ref(ctx, group)
    await ctx.tell(row.user_id, "cases.ask_agreement", about_network=row.network, private=True, ref=code(row.ref),
                   title=row.title or "", session=code(where), agree=code(f"{ctx.prefix}agree {row.ref}"),
                   refuse=code(f"{ctx.prefix}refuse {row.ref}"))
    return ctx.reply("cases.assign.asked", ref=code(row.ref), session=code(where))


async def _check_room_for(ctx: Context, row: Case, group: GroupSession) -> None:
    """One case per session; the case-bringer must fit in the group if not in it already."""
    taken = [c for c in await cases.of_session(ctx.db, group.id) if c.id != row.id]
    if taken:
        raise UserError("cases.session_taken", ref=code(taken[0].ref))
    place = await sessions.member_of(ctx.db, group.event_id, group.slot, row.user_id)
    if place is not None and place.session_id == group.id:
        return
    count = len((await sessions.members(ctx.db, [group.id]))[group.id])
    if count >= group.size:
        raise UserError("cases.session_full", size=group.size)


async def _proposed(ctx: Context, ref: str) -> tuple[Case, GroupSession]:
    """The caller's case with the session proposed for it."""
    row = await find(ctx, ref, own=True)
    group = await ctx.db.get(GroupSession, row.asked_session_id) if row.asked_session_id else None
    if group is None:
        raise UserError("cases.not_asked", ref=row.ref)
    return row, group


@command("agree", help="cmd.agree", role=Role.MEMBER, where=Where.DM, usage="<case>",
         local={"nl": "instemmen", "nb": "samtykk"})
async def agree(ctx: Context, ref: str) -> Reply:
    row, group = await _proposed(ctx, ref)
    await _check_room_for(ctx, row, group)
    _move(row, rules.Action.AGREE)
    row.session_id, row.asked_session_id, row.updated_at = group.id, None, ctx.now
    place = await sessions.member_of(ctx.db, group.event_id, group.slot, ctx.sender)
    if place is None:
        await sessions.add(ctx.db, group, ctx.sender, ctx.now)
    elif place.session_id != group.id:
        await sessions.place(ctx.db, place, group, ctx.now)
    group.case_bringer, group.updated_at = ctx.sender, ctx.now
    await ctx.session_changed(group)  # the session's room follows: the case-bringer is invited
    await post_to_session(ctx, row, group)
    where = await session_ref(ctx, group)
    room = await control_room(ctx, row.network)
    if room:
        await ctx.post(room, "cases.control.agreed", about_network=row.network, ref=code(row.ref), session=code(where))
    return ctx.reply("cases.agreed", ref=code(row.ref), session=code(where),
                     share=code(f"{ctx.prefix}case share"))


@command("refuse", help="cmd.refuse", role=Role.MEMBER, where=Where.DM, usage="<case>",
         local={"nl": "weigeren", "nb": "nekt"})
async def refuse(ctx: Context, ref: str) -> Reply:
    row, group = await _proposed(ctx, ref)
    _move(row, rules.Action.REFUSE)
    row.asked_session_id, row.updated_at = None, ctx.now
    room = await control_room(ctx, row.network)
    if room:
        await ctx.post(room, "cases.control.refused", about_network=row.network, ref=code(row.ref),
                       session=code(await session_ref(ctx, group)))
    return ctx.reply("cases.refused", ref=code(row.ref))


async def post_to_session(ctx: Context | JobContext, row: Case, group: GroupSession) -> None:
    """Title, approved summary, and the PDF if its case-bringer chose so; once the room exists."""
    if not group.room_id:
        await ctx.schedule.at(f"{POST}:{row.id}", POST, ctx.now + POST_RETRY, {"case": row.id})
        return
    t = await ctx.translator_for_network(row.network)
    who = pill(row.user_id) if row.named and row.user_id else t("cases.a_member")
    text = t("cases.session.case", title=row.title or "", summary=row.summary or "", who=who)
    mentions = (row.user_id,) if row.named and row.user_id else ()
    await ctx.chat.send(group.room_id, text, mentions=mentions, about=row.user_id, private=True)
    if row.file_to_session and row.file_handle:
        await ctx.chat.send_kept(group.room_id, row.file_handle, row.file_name or "case.pdf", "application/pdf",
                                 about=row.user_id)


@job(POST)
async def post_later(ctx: JobContext, payload: dict) -> None:
    """The session's room did not exist at agreement: post once it does (checked every few minutes)."""
    row = await ctx.db.get(Case, int(payload["case"]))
    if row is None or row.state != cases.AGREED or row.session_id is None:
        return
    group = await ctx.db.get(GroupSession, row.session_id)
    if group is not None:
        await post_to_session(ctx, row, group)


@command("case share", help="cmd.case_share", role=Role.MEMBER, where=Where.ROOM, usage="",
         local={"nl": "casus delen", "nb": "del sak"})
async def share(ctx: Context) -> Reply | None:
    group = await ctx.session_here()
    mine = [c for c in await cases.of_session(ctx.db, group.id) if c.user_id == ctx.sender] if group else []
    if not mine:
        raise UserError("cases.share_none")
    row = mine[0]
    if row.shared_at is not None:
        raise UserError("cases.share_once", ref=code(row.ref))
    row.shared_at = ctx.now
    t = await ctx.translator_for_network(row.network)
    await ctx.chat.send(ctx.room_id, t("cases.session.text", title=row.title or "", text=row.body or ""),
                        about=ctx.sender, private=True)
    return None
