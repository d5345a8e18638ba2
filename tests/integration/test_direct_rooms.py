"""A room is the bot's DM with someone only while it holds the two of them: confidential answers
(DM-only commands, personal data) must never land in a room that others can read."""
from __future__ import annotations

import asyncio

import nio

from bot.chat import OutboxChat
from api.render import as_text


async def test_a_direct_invite_into_a_room_with_others_is_a_group_room(make_bot, make_member):
    alice = await make_member()
    bob = await make_member()
    bot = await make_bot(bot={"coordinators": [alice.user_id]})  # others' invites into a group are declined
    resp = await alice.client.room_create(is_direct=True, invite=[bob.user_id, bot.user_id],
                                          preset=nio.RoomPreset.private_chat)
    room = resp.room_id
    await alice.wait_joined(room, bot.user_id)
    await alice.send(room, "!forgetme")
    [reply] = await alice.messages_from(bot.user_id, room, 1)
    assert "in a direct message with me" in reply.content["body"]


async def test_a_dm_that_gains_a_third_person_stops_being_private(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member()
    bob = await make_member()
    room = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(room, "!forgetme")
    [first] = await alice.messages_from(bot.user_id, room, 1)
    assert "cannot be undone" in first.content["body"], "a real DM takes !forgetme"
    await alice.send(room, "!stop")
    await alice.messages_from(bot.user_id, room, 2)

    await alice.client.room_invite(room, bob.user_id)
    notice = await alice.first(lambda s: s.sender == bot.user_id and "no longer our private" in s.content.get("body", ""))
    assert notice.room_id == room
    await alice.send(room, "!forgetme")
    replies = await alice.messages_from(bot.user_id, room, 4)
    assert "in a direct message with me" in replies[3].content["body"]


async def test_after_the_person_leaves_their_dm_the_next_message_opens_a_new_one(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member(encrypted=True)  # the DM the bot opens is encrypted
    old = await alice.dm(bot.user_id, encrypted=True)
    await alice.send(old, "!ping")
    await alice.messages_from(bot.user_id, old, 1)
    await alice.client.room_leave(old)

    # wait until the bot has seen the leave: its record of the DM is gone
    from storage import direct_rooms

    gateway = bot.kring.gateway
    while True:
        async with bot.kring.db.read() as session:
            if await direct_rooms.partner(session, old) is None:
                break
        async with gateway.synced:  # the bot's next sync
            await asyncio.wait_for(gateway.synced.wait(), 40)
    async with bot.kring.db.transaction() as session:
        await OutboxChat(session, bot.kring.clock()).dm(alice.user_id, as_text("your seat is confirmed"))
    bot.kring.outbox.wake()
    message = await alice.first(lambda s: s.sender == bot.user_id and s.content.get("body") == "your seat is confirmed")
    assert message.room_id != old
