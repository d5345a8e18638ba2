"""Where personal data may be shown: the caller's DM with the bot, or the coordinators' room of
the network the data belongs to; what concerns one session only (its report, its cases) also in
that session's own private room, to its participants. Every other room (lobby, announcements,
another group's room) is shared, and a roster, a name list or someone's answers must never be
posted there."""
from __future__ import annotations

from typing import Any

from api import Attachment, Context, Reply, UserError
from api.render import Text


async def require_private(ctx: Context, command: str, network: str, *, session: Any = None) -> None:
    """The router lets a Where.PRIVATE command run only in a DM or a coordinators' room; once the
    handler knows which network the data belongs to, the room must be that network's. With
    `session` (a GroupSession), what concerns only that session may also be shown in its own room
    to one of its participants: a session room is a private place of its group."""
    if not await ctx.is_private(network, session=session):
        raise UserError("places.private", command=command)


async def privately(ctx: Context, text: Text, files: tuple[Attachment, ...] = (), *, notice: bool = True,
                    sent_key: str = "places.sent_privately") -> Reply:
    """In a DM the reply says it all; in a shared room the details (and files) go to the caller's
    DM and the room only hears that they were sent."""
    if ctx.is_dm:
        return Reply(text, files=files)
    await ctx.chat.dm(ctx.sender, text, notice=notice, files=files)
    return ctx.reply(sent_key)
