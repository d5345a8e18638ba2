from bot.api import Role


async def test_ping_in_plain_dm(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member()
    room = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(room, "!ping")
    [reply] = await alice.messages_from(bot.user_id, room, 1)
    assert reply.content["msgtype"] == "m.notice"
    assert reply.content["body"].startswith("Pong!")
