"""`!case` in an encrypted DM: a conversation that survives a restart (its state is a
conversations row) and ends with `!stop` (nothing kept) or a receipt with the case's id.
Every reply that quotes the case is private: the outbox keeps none of it once sent."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from api import Context, Reply, Rest, Role, Text, command, flow, identifiers
from api.event_args import can_see
from api.render import bullets, code, lines
from commands.cases.common import control_room, event_label
from commands.cases.retention import INTAKE, keep_sweeping
from storage import cases, conversations, direct_rooms, events, members, networks, sessions
from storage.models import Conversation, Event

FLOW = INTAKE
TTL = timedelta(hours=12)
DONE = {"done", "klaar", "ferdig"}
SKIP = "-"
TITLE_MAX, TEXT_MAX, SUMMARY_MAX = 200, 20_000, 600
PDF_MAGIC = b"%PDF-"


@command("case", help="cmd.case", role=Role.ANYONE, usage="", local={"nl": "casus", "nb": "sak"})
async def case(ctx: Context, text: Rest | None = None) -> Reply | None:
    """Anywhere but a DM the message is removed (it may hold a case) and the sender told why."""
    if not ctx.is_dm:
        return await wrong_room(ctx)
    mine = await members.active_networks(ctx.db, ctx.sender)
    if not mine:
        return ctx.reply("cases.not_member", join=code(f"{ctx.prefix}join"))
    if not ctx.encrypted:
        # Forget this room as the person's DM: the next message to them opens a new one, encrypted.
        await direct_rooms.forget(ctx.db, ctx.room_id)
        await ctx.tell(ctx.sender, "cases.encrypted_dm", case=code(f"{ctx.prefix}case"))
        return ctx.reply("cases.unencrypted")
    await conversations.start(ctx.db, ctx.sender, ctx.room_id, FLOW, "consent", {}, ctx.now + TTL)
    await keep_sweeping(ctx)  # an intake left half-way is forgotten by the next sweep
    hours = int(TTL.total_seconds() // 3600)
    first = [ctx.t("cases.intake.text_not_kept")] if text else []  # consent comes before any content
    return Reply(lines([*first, ctx.t("cases.intake.consent", days=ctx.retention.after_session.days,
                              unscheduled=ctx.retention.unscheduled.days),
                        ctx.t("cases.intake.consent_ask", stop=code(f"{ctx.prefix}stop"), hours=hours)]), private=True)


async def wrong_room(ctx: Context) -> None:
    """Redact where the bot surely has the power (the rooms it made: a network's rooms, a session's
    room) and say why in a DM; nothing of the message is kept or logged."""
    ours = await networks.network_of_room(ctx.db, ctx.room_id) is not None \
        or await sessions.by_room(ctx.db, ctx.room_id) is not None
    if ours:
        await ctx.chat.redact(ctx.room_id, ctx.event_id, ctx.t("cases.redact_reason").plain)
    await ctx.tell(ctx.sender, "cases.wrong_room_removed" if ours else "cases.wrong_room",
                   case=code(f"{ctx.prefix}case"))
    ctx.untraceable = True  # the record that it ran keeps neither room nor time
    return None


def _ask(ctx: Context, step: str, data: dict) -> Text:
    t, p = ctx.t, ctx.prefix
    if step == "title":
        return t("cases.intake.ask_title", most=TITLE_MAX)
    if step == "text":
        return t("cases.intake.ask_text", done=code(t("cases.intake.done_word").plain))
    if step == "named":
        return t("cases.intake.ask_named")
    if step == "coordinators":
        return t("cases.intake.ask_coordinators")
    if step == "pdf":
        return t("cases.intake.ask_pdf", mb=_mb(ctx), skip=code(SKIP))
    if step == "pdf_share":
        return t("cases.intake.ask_pdf_share")
    if step == "event":
        return t("cases.intake.ask_event", choices=bullets(
            [code("0") + " " + t("cases.next_event")]
            + [code(str(i)) + f" {e.title} ({e.slug})" for i, e in enumerate(data.get("_events", []), start=1)]))
    if step == "summary":
        return t("cases.intake.ask_summary", title=data["title"], most=SUMMARY_MAX)
    if step == "approve":
        return t("cases.intake.ask_approve", summary=data["summary"])
    return t("cases.intake.ask_consent_again", stop=code(f"{p}stop"))


def _mb(ctx: Context) -> int:
    return int((ctx.vault.max_bytes if ctx.vault else 64 << 20) // (1024 * 1024))


async def _go(ctx: Context, row: Conversation, step: str, data: dict, before: Text | None = None) -> Reply:
    stored = {k: v for k, v in data.items() if not k.startswith("_")}
    conversations.advance(row, step, stored, ctx.now + TTL)
    if step == "event":
        data["_events"] = await _events(ctx)
    question = _ask(ctx, step, data)
    return Reply(lines([before, question]) if before is not None else question, private=True)


async def _events(ctx: Context) -> list:
    mine = await members.active_networks(ctx.db, ctx.sender)
    return [e for e in await events.upcoming(ctx.db, mine, ctx.now) if await can_see(ctx, e)][:20]


def _choice(text: str) -> str | None:
    answer = text.strip().rstrip(".").lower()
    return answer if answer in ("1", "2") else None


@flow(FLOW, files=True)
async def intake_step(ctx: Context, text: str) -> Reply | None:
    row = await conversations.get(ctx.db, ctx.sender, ctx.room_id, FLOW, ctx.now)
    if row is None:
        return None
    data = dict(row.data)
    if ctx.received is not None and row.step != "pdf":
        return await _go(ctx, row, row.step, data, ctx.t("cases.intake.no_file_here"))
    return await STEPS[row.step](ctx, row, data, text.strip())


async def _consent(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
    if _choice(text) == "1":
        return await _go(ctx, row, "title", data)
    return await _go(ctx, row, "consent", data)


async def _title(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
    if not text or len(text) > TITLE_MAX:
        return await _go(ctx, row, "title", data, ctx.t("cases.intake.title_bad", most=TITLE_MAX))
    data["title"] = text
    data["parts"] = []
    return await _go(ctx, row, "text", data)


async def _text(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
    parts: list[str] = list(data.get("parts", []))
    if text.lower() in DONE:
        if not parts:
            return await _go(ctx, row, "text", data, ctx.t("cases.intake.text_empty"))
        found = identifiers.identifiers(data["title"] + "\n" + "\n\n".join(parts))
        if found:
            conversations.advance(row, "identifiers", data, ctx.now + TTL)
            quoted = bullets([ctx.t(f"cases.identifier.{f.kind.value}", value=f.text) for f in found[:12]])
            return Reply(ctx.t("cases.intake.identifiers", found=quoted), private=True)
        return await _go(ctx, row, "named", data)
    if sum(map(len, parts)) + len(text) > TEXT_MAX:
        return Reply(ctx.t("cases.intake.text_long", most=TEXT_MAX, done=code(ctx.t("cases.intake.done_word").plain)),
                     private=True)
    data["parts"] = [*parts, text]
    conversations.advance(row, "text", data, ctx.now + TTL)
    return Reply(ctx.t("cases.intake.text_more", count=len(data["parts"]),
                       done=code(ctx.t("cases.intake.done_word").plain)), private=True)


async def _identifiers(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
    choice = _choice(text)
    if choice == "1":
        data.pop("parts", None)
        return await _go(ctx, row, "title", data, ctx.t("cases.intake.rewrite"))
    if choice == "2":
        return await _go(ctx, row, "named", data)
    return Reply(ctx.t("cases.intake.identifiers_choose"), private=True)


def _yes_no(key: str, following: str) -> Callable[..., Awaitable[Reply]]:
    async def step(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
        choice = _choice(text)
        if choice is None:
            return await _go(ctx, row, row.step, data, ctx.t("cases.intake.one_or_two"))
        data[key] = choice == "1"
        return await _go(ctx, row, following, data)
    return step


async def _pdf(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
    got = ctx.received
    if got is None:
        if text == SKIP:
            return await _go(ctx, row, "event", data)
        return await _go(ctx, row, "pdf", data, ctx.t("cases.intake.pdf_waiting"))
    if got.too_large:
        return await _go(ctx, row, "pdf", data, ctx.t("cases.intake.pdf_too_large", mb=_mb(ctx)))
    if got.path is None or ctx.vault is None:
        return await _go(ctx, row, "pdf", data, ctx.t("cases.intake.pdf_failed"))
    if not got.starts_with(PDF_MAGIC):
        return await _go(ctx, row, "pdf", data, ctx.t("cases.intake.pdf_not_pdf"))
    if data.get("file"):
        ctx.vault.erase(data["file"][0])  # a second PDF replaces the first
    handle = ctx.vault.keep(got.path)
    data["file"] = [handle, got.name[:255], got.size]
    return await _go(ctx, row, "pdf_share", data, ctx.t("cases.intake.pdf_kept", kb=max(1, got.size // 1024)))


async def _event(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
    choices = await _events(ctx)
    answer = text.strip().lower()
    picked = None
    if answer.isascii() and answer.isdigit():
        number = int(answer)
        if number > len(choices):
            return await _go(ctx, row, "event", data, ctx.t("cases.intake.event_bad"))
        picked = choices[number - 1] if number else None
    else:
        picked = next((e for e in choices if e.slug == answer), None)
        if picked is None:
            return await _go(ctx, row, "event", data, ctx.t("cases.intake.event_bad"))
    data["event"] = picked.id if picked else None
    data["network"] = picked.network if picked else None
    return await _go(ctx, row, "summary", data)


async def _summary(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
    if _choice(text) == "1":
        data["summary"] = data["title"]
    elif not text or len(text) > SUMMARY_MAX:
        return await _go(ctx, row, "summary", data, ctx.t("cases.intake.summary_bad", most=SUMMARY_MAX))
    else:
        data["summary"] = text
    return await _go(ctx, row, "approve", data)


async def _approve(ctx: Context, row: Conversation, data: dict, text: str) -> Reply:
    choice = _choice(text)
    if choice == "2":
        return await _go(ctx, row, "summary", data)
    if choice != "1":
        return await _go(ctx, row, "approve", data, ctx.t("cases.intake.one_or_two"))
    network = data.get("network") or (await members.active_networks(ctx.db, ctx.sender) or ["main"])[0]
    file = tuple(data["file"]) if data.get("file") else None
    new = await cases.add(
        ctx.db, network=network, user_id=ctx.sender, title=data["title"], body="\n\n".join(data.get("parts", [])),
        summary=data["summary"], named=bool(data.get("named")), coordinators_read=bool(data.get("coordinators")),
        event_id=data.get("event"), file=file, file_to_session=bool(data.get("pdf_share")), now=ctx.now)
    await conversations.end(ctx.db, row)
    event = await ctx.db.get(Event, new.event_id) if new.event_id else None
    room = await control_room(ctx, network)
    if room:  # its id and event only: never its title or anything of its text
        await ctx.post(room, "cases.control.new", about_network=network, ref=code(new.ref),
                       event=lambda t: event_label(t, event), queue=code(f"{ctx.prefix}cases"))
    await keep_sweeping(ctx)
    return Reply(ctx.t("cases.intake.receipt", ref=code(new.ref), cases=code(f"{ctx.prefix}cases"),
                       withdraw=code(f"{ctx.prefix}case withdraw {new.ref}")), private=True)


STEPS: dict[str, Callable[..., Awaitable[Reply]]] = {
    "consent": _consent, "title": _title, "text": _text, "identifiers": _identifiers,
    "named": _yes_no("named", "coordinators"), "coordinators": _yes_no("coordinators", "pdf"),
    "pdf": _pdf, "pdf_share": _yes_no("pdf_share", "event"), "event": _event, "summary": _summary,
    "approve": _approve,
}
