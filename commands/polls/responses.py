"""Responses to native polls, read from the room in both the unstable and the stable type, and
the bot's own start events (to know a poll's event id in timeline order, before any response)."""
from __future__ import annotations

from api import Context, RoomEvent, on_room_event
from commands.polls import rules
from storage import members, polls


@on_room_event(rules.START, *rules.RESPONSES)
async def poll_event(ctx: Context, event: RoomEvent) -> None:
    if event.type == rules.START:
        await _own_start(ctx, event)
        return
    found = rules.response_of(event.content)
    if found is None:
        return
    start_id, answers = found
    poll = await polls.by_start_event(ctx.db, event.room_id, start_id)
    if poll is None or poll.kind == rules.ANONYMOUS:
        return
    if poll.closed_at is not None and event.origin_time > poll.closed_at:
        return  # cast after the end
    member = await members.membership(ctx.db, poll.network, event.sender)
    if member is None or member.state != "active":
        return  # only members' votes count; a non-member's is not even kept
    ids = [o["id"] for o in poll.options]
    await polls.record_vote(ctx.db, poll.id, event.sender, rules.valid_answers(answers, ids, poll.max_selections),
                            event.origin_time)


async def _own_start(ctx: Context, event: RoomEvent) -> None:
    number = event.content.get(rules.MARK)
    if not event.own or not isinstance(number, int):
        return
    poll = await polls.get(ctx.db, number)
    if poll is not None and poll.room_id == event.room_id and poll.event_id is None:
        poll.event_id = event.event_id
