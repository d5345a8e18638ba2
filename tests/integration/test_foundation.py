"""The foundation, as members see it on a real Synapse: help by role, suggestions, exactly-once
across restarts, a burst while the bot is down, a kept device, and a 429 that delays but loses nothing."""
from __future__ import annotations

import pytest

from storage import outbox
from storage.database import Database
from storage.models import OutboxItem
from sqlalchemy import select

pytestmark = pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "e2ee"])


async def test_member_sees_member_commands_only(make_bot, make_member, encrypted):
    bot = await make_bot()
    alice = await make_member(encrypted=encrypted)
    await bot.grant(alice.user_id, "member")
    room = await alice.dm(bot.user_id, encrypted=encrypted)
    await alice.send(room, "!help")
    [reply] = await alice.messages_from(bot.user_id, room, 1)
    body = reply.content["body"]
    assert reply.content["msgtype"] == "m.notice"
    assert reply.encrypted == encrypted
    assert "!ping" in body and "!help" in body
    assert "!status" not in body
    assert "<b>" in reply.content["formatted_body"]


async def test_coordinator_sees_coordinator_commands(make_bot, make_member, encrypted):
    bot = await make_bot(start=False)
    carol = await make_member(encrypted=encrypted)
    bot.config.bot.coordinators.append(carol.user_id)
    await bot.start()
    room = await carol.dm(bot.user_id, encrypted=encrypted)
    await carol.send(room, "!help")
    [reply] = await carol.messages_from(bot.user_id, room, 1)
    assert "!status" in reply.content["body"]
    await carol.send(room, "!status")
    replies = await carol.messages_from(bot.user_id, room, 2)
    status = replies[1].content["body"]
    assert status.startswith(f"Kring {bot.kring.version}, up ")
    assert "Database: reachable. Homeserver: reachable." in status and "NOT" not in status
    assert f"Device {bot.kring.gateway.device_id}: cross-signed." in status


async def test_unknown_command_gets_a_suggestion(make_bot, make_member, encrypted):
    bot = await make_bot()
    alice = await make_member(encrypted=encrypted)
    room = await alice.dm(bot.user_id, encrypted=encrypted)
    await alice.send(room, "!hlep")
    [reply] = await alice.messages_from(bot.user_id, room, 1)
    assert 'I don\'t know the command "hlep"' in reply.content["body"]
    assert "Did you mean !help?" in reply.content["body"]


async def test_command_sent_while_stopped_is_answered_once(make_bot, make_member, encrypted):
    bot = await make_bot()
    alice = await make_member(encrypted=encrypted)
    room = await alice.dm(bot.user_id, encrypted=encrypted)
    device = bot.kring.gateway.device_id
    await bot.stop()
    await alice.send(room, "!ping")
    await bot.start()
    [first] = await alice.messages_from(bot.user_id, room, 1)
    assert first.content["body"].startswith("Pong!")
    # Restart again: the answered command must not be answered a second time. A fresh command is
    # answered in order after anything the bot would (wrongly) repeat, so two replies in all prove it.
    await bot.restart()
    assert bot.kring.gateway.device_id == device
    await alice.send(room, "!help")
    replies = await alice.messages_from(bot.user_id, room, 2)
    assert replies[0].event_id == first.event_id
    assert "!ping" in replies[1].content["body"], "the second reply must be the help, not a repeated pong"
    assert len([s for s in alice.seen if s.sender == bot.user_id]) == 2


async def test_burst_while_stopped_is_answered_each_once(make_bot, make_member, encrypted):
    bot = await make_bot()
    alice = await make_member(encrypted=encrypted)
    room = await alice.dm(bot.user_id, encrypted=encrypted)
    # In a group room the bot quotes each command it answers, so every reply names its command.
    group = await alice.group_with(bot.user_id, encrypted=encrypted)
    await bot.stop()
    sent = [await alice.send(group, "!ping") for _ in range(300)]
    await bot.start()
    replies = await alice.messages_from(bot.user_id, group, 300, timeout=120)
    answered = [r.content["m.relates_to"]["m.in_reply_to"]["event_id"] for r in replies]
    assert sorted(answered) == sorted(sent)
    assert len(set(answered)) == 300
    assert all(r.encrypted == encrypted for r in replies)
    # nothing more is coming: a last command is answered right after the 300
    last = await alice.send(group, "!ping")
    final = await alice.messages_from(bot.user_id, group, 301, timeout=60)
    assert final[300].content["m.relates_to"]["m.in_reply_to"]["event_id"] == last
    # the DM stays usable beside the group room
    pong = await alice.reply_to(bot.user_id, room, await alice.send(room, "!ping"))
    assert pong.content["body"].startswith("Pong!")


async def test_reply_hitting_rate_limit_is_delivered_after_the_wait(make_bot, make_member, synapse, encrypted):
    bot = await make_bot()
    alice = await make_member(encrypted=encrypted)
    room = await alice.dm(bot.user_id, encrypted=encrypted)
    await synapse.set_user_ratelimit(bot.user_id, 1, 1)
    try:
        for _ in range(4):
            await alice.send(room, "!ping")
        replies = await alice.messages_from(bot.user_id, room, 4, timeout=60)
    finally:
        await synapse.clear_user_ratelimit(bot.user_id)
    assert all(r.content["body"].startswith("Pong!") for r in replies)
    db = Database(bot.config.storage.database_url)
    async with db.transaction() as session:
        items = list((await session.execute(select(OutboxItem))).scalars())
        assert await outbox.count_pending(session) == 0
    await db.close()
    assert sum(i.attempts for i in items) >= 1, "the homeserver should have throttled at least one reply"
    assert all(i.error is None for i in items)
