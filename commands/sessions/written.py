"""Written rounds: while such a phase is open each participant sends their contribution to the bot
in their DM (`!write <text>`, or `!write <session> <text>` for someone in several sessions); the
bot reveals them all together in the session room once everyone has sent, or when the facilitator
moves on, with or without names as the method says. A contribution is seen nowhere else: the
writer's DM, then the session room."""
from __future__ import annotations

import re

from api import Context, JobContext, Reply, Rest, Role, Translator, UserError, command
from api.methods import text
from api.render import Text, as_text, bold, bullets, code, lines
from commands.sessions import methods as rules
from commands.sessions.here import Here, load
from storage import guide

_REF = re.compile(r"^[a-z0-9][a-z0-9-]*(/[^/\s]+)?/\d+$", re.IGNORECASE)
MOST = 4000  # characters in one contribution


async def open_round(ctx: Context, found: Here) -> None:
    """A written round begins: every participant who writes in it is told by DM how to send."""
    phase = found.phase
    for user in found.speakers(phase):
        await ctx.tell(user, "guide.written.open", about_network=found.event.network, session=found.ref,
                       what=found.what, title=lambda t: text(phase.title, t.language),
                       instruction=lambda t: text(phase.instruction, t.language),
                       write=code(f"{ctx.prefix}write <text>"))


async def round_state(ctx: Context | JobContext, found: Here, t: Translator) -> Text:
    if await guide.revealed_since(ctx.db, found.row):
        return t("guide.written.revealed", next=code(f"{ctx.prefix}phase next"))
    expected = found.speakers(found.phase)
    received = await guide.waiting_contributions(ctx.db, found.row.id, found.row.phase)
    waiting = rules.waiting_for(expected, received)
    names = ", ".join(found.name(u).plain for u in waiting)
    return t("guide.written.state", sent=len(expected) - len(waiting), count=len(expected),
             waiting=names or "-", write=code(f"{ctx.prefix}write <text>"))


async def reveal_round(ctx: Context, found: Here, *, force: bool) -> bool:
    """Show the round's contributions together in the session room (an m.text in the network's
    language); False while someone still has to send and the facilitator has not moved on."""
    row, phase = found.row, found.phase
    expected = found.speakers(phase)
    received = await guide.waiting_contributions(ctx.db, row.id, row.phase)
    shown = rules.reveal(expected, received, phase, force=force)
    if shown is None:
        return False
    t = await ctx.translator_for_network(found.event.network)
    head = bold(t("guide.written.reveal", title=text(phase.title, t.language), count=len(shown)))
    if shown:
        items = [t("guide.written.named", name=found.name(user), text=as_text(body)) if user
                 else as_text(body) for user, body in shown]
        body_text = lines([head, bullets(items)])
    else:
        body_text = lines([head, t("guide.written.none")])
    missing = rules.waiting_for(expected, received)
    if missing:
        body_text = lines([body_text, t("guide.written.missing", count=len(missing))])
    await ctx.chat.send(row.room_id, body_text)
    await guide.mark_revealed(ctx.db, row.id, row.phase, ctx.now)
    await guide.record(ctx.db, row, "reveal", ctx.sender if force else None, ctx.now, detail=str(len(shown)))
    return True


@command("write", help="cmd.write", role=Role.MEMBER, usage="[session] <text...>",
         local={"nl": "schrijven", "nb": "skriv"})
async def write(ctx: Context, contribution: Rest) -> Reply:
    if not ctx.is_dm:
        # typed where others can read it: take it away, so nobody echoes it before the reveal
        await ctx.chat.redact(ctx.room_id, ctx.event_id, ctx.t("guide.written.redact_reason").plain)
        return ctx.reply("guide.written.dm_only", write=code(f"{ctx.prefix}write <text>"))
    candidates = []
    for row in await guide.open_written(ctx.db, ctx.sender):
        found = await load(ctx, row)
        if found.phase is not None and found.phase.written and ctx.sender in found.speakers(found.phase) \
                and not await guide.revealed_since(ctx.db, row):
            candidates.append(found)
    words = contribution.split(maxsplit=1)
    if words and _REF.match(words[0]):
        chosen = [f for f in candidates if f.ref == words[0].lower()]
        if not chosen:
            raise UserError("guide.written.not_open_there", session=words[0][:60])
        found, body = chosen[0], (words[1] if len(words) > 1 else "")
    elif len(candidates) == 1:
        found, body = candidates[0], contribution
    elif not candidates:
        raise UserError("guide.written.none_open")
    else:
        raise UserError("guide.written.which", sessions=", ".join(f.ref for f in candidates),
                        example=code(f"{ctx.prefix}write {candidates[0].ref} <text>"))
    body = body.strip()
    if not body:
        raise UserError("error.missing", name="text")
    if len(body) > MOST:
        raise UserError("guide.written.too_long", most=MOST, length=len(body))
    found.row = await guide.lock(ctx.db, found.row)
    replaced = await guide.contribute(ctx.db, found.row.id, found.row.phase, ctx.sender, body, ctx.now)
    if await reveal_round(ctx, found, force=False):
        return ctx.reply("guide.written.all_sent", session=found.ref)
    expected = found.speakers(found.phase)
    received = await guide.waiting_contributions(ctx.db, found.row.id, found.row.phase)
    key = "guide.written.replaced" if replaced else "guide.written.received"
    return ctx.reply(key, session=found.ref, sent=len(expected) - len(rules.waiting_for(expected, received)),
                     count=len(expected))
