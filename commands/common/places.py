"""Where personal data may be shown: the caller's DM with the bot, or the coordinators' room of
the network the data belongs to. Every other room (lobby, announcements, any group room) is
shared, and a roster, a name list or someone's answers must never be posted there."""
from __future__ import annotations

from api import Attachment, Context, Reply, Role, UserError
from api.render import Text
from storage import networks


async def control_network(ctx: Context) -> str | None:
    """The network whose coordinators' room this is, when the caller coordinates it."""
    where = await networks.network_of_room(ctx.db, ctx.room_id)
    if where is None or where[1] != "control" or ctx.roles.get(where[0], Role.ANYONE) < Role.COORDINATOR:
        return None
    return where[0]


async def is_private(ctx: Context, network: str | None = None) -> bool:
    """True in the caller's DM, or in the coordinators' room (of `network`, when given)."""
    if ctx.is_dm:
        return True
    here = await control_network(ctx)
    return here is not None and (network is None or here == network)


async def require_private(ctx: Context, command: str, network: str | None = None) -> None:
    """The place check of a Where.PRIVATE command: refuse anywhere but a DM or the coordinators'
    room (of `network`, once the handler knows which network the data belongs to)."""
    if not await is_private(ctx, network):
        raise UserError("places.private", command=command)


async def privately(ctx: Context, text: Text, files: tuple[Attachment, ...] = (), *, notice: bool = True,
                    sent_key: str = "places.sent_privately") -> Reply:
    """In a DM the reply says it all; in a shared room the details (and files) go to the caller's
    DM and the room only hears that they were sent."""
    if ctx.is_dm:
        return Reply(text, files=files)
    await ctx.chat.dm(ctx.sender, text, notice=notice, files=files)
    return ctx.reply(sent_key)
