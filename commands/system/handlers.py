"""!ping and !status: is the bot alive, and is it healthy."""
from __future__ import annotations

from api import Context, Reply, Role, command
from commands.system.rules import format_uptime, round_trip_ms


@command("ping", help="cmd.ping", role=Role.ANYONE)
async def ping(ctx: Context) -> Reply:
    return ctx.reply("ping.pong", ms=round_trip_ms(ctx.event_time, ctx.now))


@command("status", help="cmd.status", role=Role.COORDINATOR)
async def status(ctx: Context) -> Reply:
    health = await ctx.runtime.health(ctx.db)
    word = {True: ctx.t("status.ok"), False: ctx.t("status.down")}
    return ctx.reply(
        "status.report", version=ctx.runtime.version, uptime=format_uptime(ctx.now - ctx.runtime.started_at),
        database=word[health["database"]], homeserver=word[health["homeserver"]],
        queue=health["queue"] if health["queue"] is not None else "?", device=health["device_id"],
        signed=ctx.t("status.signed" if health["cross_signed"] else "status.unsigned"),
    )
