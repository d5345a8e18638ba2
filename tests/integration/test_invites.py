"""Which rooms the bot goes into: DMs and its networks' rooms always, any room a coordinator
invites it to; an invite from anyone else into a group room is declined without a word there."""
from __future__ import annotations

import asyncio

import nio

from storage import networks

PLAIN = {"encryption": False}


def _membership_of(member, room_id: str, user_id: str) -> dict[str, asyncio.Event]:
    """Events set when `member`'s sync shows user_id joining / leaving room_id."""
    seen = {"join": asyncio.Event(), "leave": asyncio.Event()}

    async def on_member(room: nio.MatrixRoom, event: nio.RoomMemberEvent) -> None:
        if room.room_id == room_id and event.state_key == user_id and event.membership in seen:
            seen[event.membership].set()

    member.client.add_event_callback(on_member, nio.RoomMemberEvent)
    return seen


async def test_a_members_invite_into_a_group_room_is_declined_without_a_word(make_bot, make_member):
    bot = await make_bot(matrix=PLAIN)
    alice, bob = await make_member(), await make_member()
    resp = await alice.client.room_create(invite=[bob.user_id], name="after-work drinks",
                                          preset=nio.RoomPreset.private_chat)
    room = resp.room_id
    bot_membership = _membership_of(alice, room, bot.user_id)
    await alice.client.room_invite(room, bot.user_id)
    await asyncio.wait_for(bot_membership["leave"].wait(), 30)

    members = await alice.client.joined_members(room)
    assert bot.user_id not in {m.user_id for m in members.members}
    state = await alice.client.room_get_state(room)
    assert not [e for e in state.events if e["sender"] == bot.user_id and e["type"] != "m.room.member"]
    messages = await alice.client.room_messages(room, start="", direction=nio.MessageDirection.back, limit=100)
    assert not [e for e in messages.chunk if e.sender == bot.user_id and not isinstance(e, nio.RoomMemberEvent)]
    # Alice's own DM with the bot still works.
    dm = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(dm, "!ping")
    [pong] = await alice.messages_from(bot.user_id, dm, 1)
    assert pong.content["body"].startswith("Pong!")


async def test_a_coordinators_invite_into_a_group_room_is_taken(make_bot, make_member):
    carol, bob = await make_member(), await make_member()
    bot = await make_bot(matrix=PLAIN, bot={"coordinators": [carol.user_id]})
    room = await carol.group_with(bob.user_id, encrypted=False)
    await carol.client.room_invite(room, bot.user_id)
    await carol.wait_joined(room, bot.user_id)
    await carol.send(room, "!ping")
    [pong] = await carol.messages_from(bot.user_id, room, 1)
    assert pong.content["body"].startswith("Pong!")


async def test_an_old_control_room_is_brought_to_joined_history_at_start(make_bot, make_member):
    carol = await make_member()
    bot = await make_bot(networks=[{"id": "north", "name": "North", "coordinators": [carol.user_id]}],
                         matrix=PLAIN)
    async with bot.kring.db.read() as session:
        control = await networks.room_id(session, "north", "control")
    # A control room from before history became "joined": newcomers read everything said before.
    outcome = await bot.kring.gateway.put_state(control, "m.room.history_visibility",
                                                {"history_visibility": "shared"})
    assert outcome.status == "ok"
    await bot.restart()
    await carol.wait_joined(control, carol.user_id)  # she accepts the control room's invite on her own
    resp = await carol.client.room_get_state_event(control, "m.room.history_visibility")
    assert resp.content == {"history_visibility": "joined"}
