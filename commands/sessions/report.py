"""A session's report and its outcome. `!report` (the facilitator, in the session room): the report
in one message or step by step; stored, posted and pinned in the session room. A participant gets
it again with `!report <session>` in their DM; nobody else does, coordinators included, unless
the facilitator shares it with them (`!report share`, after `!confirm`: posted in the
coordinators' room). `!outcome <text>`: a short outcome without names, previewed, and after
`!confirm` posted in the network's announcements room with the event and workshop."""
from __future__ import annotations

import re
from datetime import timedelta

from api import Context, Reply, Rest, Role, UserError, Where, command, confirmable, flow
from api.render import Text, as_text, bold, code, lines
from commands.sessions.here import Here, facilitating, here, load, room_translator
from storage import conversations, events, guide, networks, sessions

FLOW = "sessions.report"
SHARE = "sessions.report_share"
OUTCOME = "sessions.outcome"
STEPS = ("question", "learned", "agreements")
TTL = timedelta(minutes=60)
SKIP = "-"
MOST = 20000
OUTCOME_MOST = 1500
_REF = re.compile(r"^([a-z0-9][a-z0-9-]*)(?:/([^/\s]+))?/(\d+)$", re.IGNORECASE)
_MXID = re.compile(r"@[^\s:]+:[A-Za-z0-9.\-]+")


@command("report", help="cmd.report", role=Role.MEMBER, usage="[text... | session]",
         local={"nl": "verslag", "nb": "rapport"})
async def report(ctx: Context, text: Rest | None = None) -> Reply:
    if ctx.is_dm:
        return await _report_in_dm(ctx, (text or "").strip())
    if await sessions.by_room(ctx.db, ctx.room_id) is None:  # never in a shared or coordinators' room
        raise UserError("guide.report.in_dm", report=code(f"{ctx.prefix}report <session>"))
    found = await here(ctx, "report")
    if ctx.sender != found.row.facilitator:
        if text:
            await facilitating(ctx, "report")  # raises the polite refusal
        return await _show(ctx, found)
    if not text:
        await conversations.start(ctx.db, ctx.sender, ctx.room_id, FLOW, STEPS[0], {"answers": {}}, ctx.now + TTL)
        return Reply(lines([ctx.t("guide.report.flow_intro", stop=code(f"{ctx.prefix}stop"), skip=SKIP),
                            ctx.t(f"guide.report.ask.{STEPS[0]}")]))
    return await _store(ctx, await facilitating(ctx, "report"), text.strip())


async def _show(ctx: Context, found: Here) -> Reply:
    row = await guide.report(ctx.db, found.row.id)
    if row is None or not row.text:
        return ctx.reply("guide.report.none_yet", session=found.ref)
    return Reply(lines([bold(ctx.t("guide.report.title", session=found.ref, what=found.what(ctx.t))),
                        as_text(row.text)]))


async def _store(ctx: Context, found: Here, text: str) -> Reply:
    if len(text) > MOST:
        raise UserError("guide.report.too_long", most=MOST)
    row = await guide.report_row(ctx.db, found.row.id)
    again = row.text is not None
    row.text, row.author, row.written_at = text, ctx.sender, ctx.now
    await guide.record(ctx.db, found.row, "report", ctx.sender, ctx.now)
    t = await room_translator(ctx, found)
    body = lines([bold(t("guide.report.title", session=found.ref, what=found.what(t))), as_text(text),
                  t("guide.report.footer", report=code(f"{ctx.prefix}report {found.ref}"))])
    await ctx.chat.send(found.row.room_id, body, pin=True)
    return ctx.reply("guide.report.stored_again" if again else "guide.report.stored",
                     share=code(f"{ctx.prefix}report share"))


@flow(FLOW)
async def report_step(ctx: Context, text: str) -> Reply | None:
    row = await conversations.get(ctx.db, ctx.sender, ctx.room_id, FLOW, ctx.now)
    if row is None:
        return None
    answers = dict(row.data.get("answers", {}))
    answer = text.strip()
    if answer != SKIP:
        answers[row.step] = answer
    following = STEPS[STEPS.index(row.step) + 1] if STEPS.index(row.step) + 1 < len(STEPS) else None
    if following is not None:
        conversations.advance(row, following, {"answers": answers}, ctx.now + TTL)
        return ctx.reply(f"guide.report.ask.{following}")
    await conversations.end(ctx.db, row)
    found = await facilitating(ctx, "report")
    if not answers:
        return ctx.reply("guide.report.empty")
    t = await room_translator(ctx, found)
    parts = [f"{t(f'guide.report.head.{step}').plain}\n{answers[step]}" for step in STEPS if step in answers]
    return await _store(ctx, found, "\n\n".join(parts))


async def _report_in_dm(ctx: Context, raw: str) -> Reply:
    found_ref = _REF.match(raw)
    if not found_ref:
        mine = [f"{e.slug}/{g.number}" for g, e in await sessions.of_user(ctx.db, ctx.sender)]
        raise UserError("guide.report.which", example=code(f"{ctx.prefix}report {mine[0] if mine else 'event-id/1'}"),
                        sessions=", ".join(mine) or "-")
    slug, workshop_key, number = found_ref.group(1).lower(), found_ref.group(2), int(found_ref.group(3))
    refused = UserError("guide.report.not_for_you", session=raw[:60])
    event = await events.by_slug(ctx.db, slug)
    if event is None:
        raise refused
    slot = 0
    if workshop_key:
        workshop = next((w for w in await events.workshops(ctx.db, event.id) if w.key == workshop_key.lower()), None)
        if workshop is None:
            raise refused
        slot = workshop.id
    group = await sessions.get(ctx.db, event.id, slot, number)
    if group is None:
        raise refused
    found = await load(ctx, group)
    stored = await guide.report(ctx.db, group.id)
    coordinator = ctx.roles.get(event.network, Role.ANYONE) >= Role.COORDINATOR
    if not (found.takes_part(ctx.sender) or (coordinator and stored is not None and stored.shared_at is not None)):
        raise refused
    return await _show(ctx, found)


@command("report share", where=Where.ROOM, help="cmd.report_share", role=Role.MEMBER,
         local={"nl": "verslag delen", "nb": "rapport del"})
async def report_share(ctx: Context) -> Reply:
    found = await facilitating(ctx, "report share")
    row = await guide.report(ctx.db, found.row.id)
    if row is None or not row.text:
        raise UserError("guide.report.none_yet", session=found.ref)
    if row.shared_at is not None:
        return ctx.reply("guide.report.already_shared")
    return await ctx.confirm(SHARE, {"session": found.row.id}, summary=ctx.t("guide.report.share_summary",
                                                                              session=found.ref))


@confirmable(SHARE)
async def report_shared(ctx: Context, args: dict) -> Reply:
    found = await facilitating(ctx, "report share")
    row = await guide.report(ctx.db, found.row.id)
    if found.row.id != args["session"] or row is None or not row.text:
        return ctx.reply("confirm.nothing")
    control = await networks.room_id(ctx.db, found.event.network, "control")
    if control is None:
        raise UserError("guide.no_network_room")
    row.shared_at = ctx.now
    await guide.record(ctx.db, found.row, "report_share", ctx.sender, ctx.now)
    await ctx.post(control, "guide.report.shared_post", about_network=found.event.network, session=found.ref,
                   what=found.what, text=as_text(row.text))
    return ctx.reply("guide.report.shared")


def _names_in(found: Here, text: str) -> str | None:
    """A Matrix ID, or a participant's name, in the text: the first found."""
    mxid = _MXID.search(text)
    if mxid:
        return mxid.group(0)
    folded = text.casefold()
    for user in [*found.participants, found.row.facilitator or "", found.row.case_bringer or ""]:
        if not user:
            continue
        member = found.people.get(user)
        for name in (member.display_name if member else None, user[1:].split(":")[0]):
            if name and len(name) >= 3 and re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", folded):
                return name
    return None


@command("outcome", where=Where.ROOM, help="cmd.outcome", role=Role.MEMBER, local={"nl": "uitkomst", "nb": "resultat"})
async def outcome(ctx: Context, text: Rest) -> Reply:
    found = await facilitating(ctx, "outcome")
    text = text.strip()
    if len(text) > OUTCOME_MOST:
        raise UserError("guide.outcome.too_long", most=OUTCOME_MOST, length=len(text))
    named = _names_in(found, text)
    if named:
        raise UserError("guide.outcome.names", name=named[:80])
    if await networks.room_id(ctx.db, found.event.network, "announcements") is None:
        raise UserError("guide.no_network_room")
    t = await room_translator(ctx, found)
    preview = _outcome_text(t, found, text)
    return await ctx.confirm(OUTCOME, {"session": found.row.id, "text": text},
                             summary=lines([ctx.t("guide.outcome.preview"), preview]))


def _outcome_text(t, found: Here, text: str) -> Text:  # noqa: ANN001 - a Translator
    return lines([bold(t("guide.outcome.title", what=found.what(t), number=found.row.number)), as_text(text)])


@confirmable(OUTCOME)
async def outcome_confirmed(ctx: Context, args: dict) -> Reply:
    found = await facilitating(ctx, "outcome")
    if found.row.id != args["session"]:
        return ctx.reply("confirm.nothing")
    room = await networks.room_id(ctx.db, found.event.network, "announcements")
    if room is None:
        raise UserError("guide.no_network_room")
    row = await guide.report_row(ctx.db, found.row.id)
    row.outcome, row.outcome_at = args["text"], ctx.now
    await guide.record(ctx.db, found.row, "outcome", ctx.sender, ctx.now)
    t = await ctx.translator_for_network(found.event.network)
    await ctx.chat.send(room, _outcome_text(t, found, args["text"]))
    return ctx.reply("guide.outcome.posted")
