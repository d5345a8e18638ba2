"""`!reminders off` / `!reminders on`: a member's choice to get no reminders (event reminders,
questions in advance, action points, feedback nudges: every schedule row with them as its
recipient is skipped while it is off). Seat offers and announcements still come."""
from __future__ import annotations

from api import Context, Reply, Role, UserError, command
from api.render import code
from storage import members

ON = ("on", "aan", "på", "pa")
OFF = ("off", "uit", "av")


@command("reminders", help="cmd.reminders", role=Role.ANYONE, usage="[on|off]",
         local={"nl": "herinneringen", "nb": "påminnelser"})
async def reminders(ctx: Context, choice: str | None = None) -> Reply:
    member = await members.get_or_create(ctx.db, ctx.sender, ctx.now)
    if choice is None:
        key = "reminders.state_off" if member.reminders_off else "reminders.state_on"
        return ctx.reply(key, on=code(f"{ctx.prefix}reminders on"), off=code(f"{ctx.prefix}reminders off"))
    word = choice.strip().lower()
    if word not in ON + OFF:
        raise UserError("reminders.bad_choice", value=choice[:20], on=code(f"{ctx.prefix}reminders on"),
                        off=code(f"{ctx.prefix}reminders off"))
    member.reminders_off = word in OFF
    if member.reminders_off:
        await ctx.schedule.withdraw(recipient=ctx.sender)  # one prepared ahead, still held
        return ctx.reply("reminders.now_off", on=code(f"{ctx.prefix}reminders on"))
    return ctx.reply("reminders.now_on", off=code(f"{ctx.prefix}reminders off"))
