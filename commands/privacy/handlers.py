"""!mydata and !forgetme: a person sees, and can erase, everything Kring stores about them."""
from __future__ import annotations

import json

from api import Attachment, Context, Reply, Role, UserError, Where, command, confirmable
from storage import members, networks, outbox, privacy

FORGET = "privacy.forget"
OPEN_AND_CONTROL = ("space", "lobby", "announcements", "control")


@command("mydata", help="cmd.mydata", role=Role.ANYONE, local={"nl": "mijn-gegevens", "nb": "mine-data"})
async def mydata(ctx: Context) -> Reply | None:
    data = await privacy.export(ctx.db, ctx.sender, ctx.declared.exporters if ctx.declared else None)
    data["exported_at"] = ctx.now.isoformat()
    body = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True).encode()
    file = Attachment("kring-mydata.json", "application/json", body)
    if ctx.is_dm:
        return Reply(ctx.t("privacy.mydata"), files=(file,))
    await ctx.chat.dm(ctx.sender, ctx.t("privacy.mydata"), notice=True, files=(file,))
    return ctx.reply("privacy.mydata_sent")


@command("forgetme", help="cmd.forgetme", role=Role.ANYONE, where=Where.DM,
         local={"nl": "vergeet-mij", "nb": "glem-meg"})
async def forgetme(ctx: Context) -> Reply:
    await _refuse_coordinator(ctx)
    return await ctx.confirm(FORGET, {}, summary=ctx.t("privacy.forget_summary"))


async def _refuse_coordinator(ctx: Context) -> None:
    coordinating = [n for n, r in ctx.roles.items() if r >= Role.COORDINATOR]
    if coordinating:
        raise UserError("privacy.coordinator", networks=", ".join(sorted(coordinating)))


@confirmable(FORGET)
async def forget_confirmed(ctx: Context, args: dict) -> Reply | None:
    """Erase the person, remove them from every network room, say goodbye, and leave the DM."""
    await _refuse_coordinator(ctx)
    rooms = []
    for net in await networks.all_networks(ctx.db):
        if await members.membership(ctx.db, net.id, ctx.sender):
            kinds = await networks.rooms(ctx.db, net.id)
            rooms += [kinds[k] for k in OPEN_AND_CONTROL if k in kinds]
    await ctx.release(ctx.sender)  # e.g. the seats the person held go to the next in line
    redact = await outbox.sent_about(ctx.db, ctx.sender)  # the join request and introduction, notes about them
    await ctx.schedule.withdraw(recipient=ctx.sender)  # a reminder prepared ahead, still held: not sent
    await privacy.erase(ctx.db, ctx.sender, ctx.now, ctx.declared.erasers if ctx.declared else None)
    for room_id, event_id in redact:
        await ctx.chat.redact(room_id, event_id, ctx.t("privacy.redact_reason").plain)
    reason = ctx.t("privacy.kick_reason").plain
    for room_id in rooms:
        await ctx.chat.kick(room_id, ctx.sender, reason, private=True)
    await ctx.chat.send(ctx.room_id, ctx.t("privacy.forgotten"), notice=True, private=True)
    await ctx.chat.leave(ctx.room_id)
    return None
