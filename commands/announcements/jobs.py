"""What the schedule runs for an announcement: one m.text post in the network's announcements
room, or one DM (m.text, mentioning them) to each person registered for the event, each in their
language, written to the outbox in the row's transaction (sent once, 429-aware)."""
from __future__ import annotations

from typing import Any

from api import JobContext, job
from storage import events, networks, registrations as regs

KIND = "announce.send"


async def registrants(ctx: JobContext, event_id: int) -> list[str]:
    """Who holds or waits for a place at the event (each person once)."""
    return sorted({r.user_id for r in await regs.of_event(ctx.db, event_id, regs.ACTIVE)})


@job(KIND)
async def send(ctx: JobContext, payload: dict[str, Any]) -> None:
    text, network = payload["text"], payload["network"]
    if payload.get("event_id") is not None:
        event = await events.by_id(ctx.db, int(payload["event_id"]))
        if event is None:
            return
        for user in await registrants(ctx, event.id):
            await ctx.tell(user, "announce.dm", about_network=event.network, title=event.title, text=text)
        return
    room = await networks.room_id(ctx.db, network, "announcements")
    if room is None:
        return
    t = await ctx.translator_for_network(network)
    body = t("announce.post_room" if payload.get("room") else "announce.post", text=text)
    await ctx.chat.send(room, body, mention_room=bool(payload.get("room")))
