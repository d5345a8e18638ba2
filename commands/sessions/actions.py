"""Action points of a session: `!action <text> [by <date>] [@owner]` in the session room (the owner
is the sender unless named), `!actions` (the session's, in its room; your own, in your DM) and
`!action done <id>` (by its owner or the facilitator). Stored with owner and due date, so the
reminders can find them; shown only in the session room and the owner's DM."""
from __future__ import annotations

import re
from datetime import date
from functools import cache

from api import Context, Reply, Rest, Role, Translator, UserError, Where, command, i18n, whole_number
from api.render import Text, bold, bullets, code, lines
from commands.sessions.here import Here, here, load
from storage import guide, sessions
from storage.models import SessionAction

_OWNER = re.compile(r"\s+(@[^\s:]+:\S+)\s*$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$|^(\d{1,2})-(\d{1,2})-(\d{4})$")
MOST = 1000


@cache
def _by_words() -> frozenset[str]:
    """`by` in every language (words.by: "voor, uiterlijk")."""
    found = {"by"}
    for lang in i18n.languages():
        found.update(w.strip().casefold() for w in i18n.Translator(lang).template("words.by").split(",") if w.strip())
    return frozenset(found)


def parse_action(raw: str) -> tuple[str, str | None, date | None, str | None]:
    """(text, owner or None, due date or None, the date as typed when it could not be read)."""
    rest = raw.strip()
    owner = None
    found = _OWNER.search(" " + rest)
    if found:
        owner = found.group(1)
        rest = (" " + rest)[:found.start()].strip()
    words = rest.split()
    due, bad = None, None
    if len(words) >= 3 and words[-2].casefold() in _by_words():
        typed = words[-1]
        due = _date(typed)
        if due is None:
            bad = typed
        rest = " ".join(words[:-2])
    return rest, owner, due, bad


def _date(raw: str) -> date | None:
    found = _DATE.match(raw)
    if not found:
        return None
    y, m, d = (found.group(1), found.group(2), found.group(3)) if found.group(1) else \
        (found.group(6), found.group(5), found.group(4))
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


def _line(t: Translator, found: Here | None, a: SessionAction, ref: str | None = None) -> Text:
    who = found.name(a.owner) if found else None
    due = t.date(a.due_on, short=True) if a.due_on else t("guide.action.no_date")
    key = "guide.action.line_done" if a.done_at else "guide.action.line"
    return t(key, id=a.id, text=a.text, owner=who if who is not None else "", due=due, session=ref or "")


@command("action", where=Where.ROOM, help="cmd.action", role=Role.MEMBER, usage="<text...> [by <date>] [@owner]",
         local={"nl": "actie", "nb": "tiltak"})
async def action(ctx: Context, what: Rest) -> Reply:
    found = await here(ctx, "action")
    text, owner, due, bad = parse_action(what)
    if bad is not None:
        raise UserError("guide.action.bad_date", value=bad[:40], example=code(f"{ctx.prefix}action <text> by 2027-03-14"))
    if not text:
        raise UserError("error.missing", name="text")
    if len(text) > MOST:
        raise UserError("guide.action.too_long", most=MOST)
    owner = owner or ctx.sender
    if not found.takes_part(owner):
        raise UserError("guide.action.owner_not_here", user=owner[:80])
    if due is not None and due < ctx.now.date():
        raise UserError("guide.action.past", date=ctx.t.date(due, short=True))
    row = await guide.add_action(ctx.db, found.row, text, owner, ctx.sender, due, ctx.now)
    await guide.record(ctx.db, found.row, "action", ctx.sender, ctx.now, detail=str(row.id))
    return ctx.reply("guide.action.added", id=row.id, owner=found.name(owner),
                     due=ctx.t.date(due, short=True) if due else ctx.t("guide.action.no_date"),
                     done=code(f"{ctx.prefix}action done {row.id}"))


@command("actions", help="cmd.actions", role=Role.MEMBER, local={"nl": "acties", "nb": "tiltakene"})
async def actions(ctx: Context) -> Reply:
    if ctx.is_dm:
        mine = await guide.actions_of(ctx.db, ctx.sender)
        if not mine:
            return ctx.reply("guide.action.mine_none")
        return Reply(lines([bold(ctx.t("guide.action.mine")),
                            bullets([_line(ctx.t, None, a, ref) for a, ref in mine])]))
    found = await here(ctx, "actions")
    rows = await guide.actions(ctx.db, found.row.id)
    if not rows:
        return ctx.reply("guide.action.none", action=code(f"{ctx.prefix}action <text> by <date> @owner"))
    return Reply(lines([bold(ctx.t("guide.action.title", session=found.ref)),
                        bullets([_line(ctx.t, found, a) for a in rows])]))


@command("action done", help="cmd.action_done", role=Role.MEMBER,
         local={"nl": "actie klaar", "nb": "tiltak ferdig"})
async def action_done(ctx: Context, number: str) -> Reply:
    value = whole_number(number)
    row = await guide.action(ctx.db, value) if value is not None else None
    group = await sessions.by_id(ctx.db, row.session_id) if row is not None else None
    if row is None or group is None:
        raise UserError("guide.action.unknown", id=number[:20], actions=code(f"{ctx.prefix}actions"))
    found = await load(ctx, group)
    allowed = ctx.sender in (row.owner, group.facilitator)
    in_place = ctx.is_dm or ctx.room_id == group.room_id
    if not allowed or not in_place or not found.takes_part(ctx.sender):
        raise UserError("guide.action.not_yours", id=row.id)
    if row.done_at is not None:
        return ctx.reply("guide.action.already_done", id=row.id)
    guide.mark_done(row, ctx.sender, ctx.now)
    await guide.record(ctx.db, group, "action_done", ctx.sender, ctx.now, detail=str(row.id))
    return ctx.reply("guide.action.done", id=row.id)
