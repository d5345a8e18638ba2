"""The bot keeps going across a homeserver restart: its sync loop comes back, and a message
queued while the homeserver was down is delivered once it is up again."""
from __future__ import annotations

from bot.chat import OutboxChat
from api.render import as_text


async def test_bot_keeps_going_across_homeserver_restart(make_bot, make_member, synapse):
    bot = await make_bot()
    alice = await make_member()
    room = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(room, "!ping")
    await alice.messages_from(bot.user_id, room, 1)

    await synapse.stop()
    kring = bot.kring
    async with kring.db.transaction() as session:
        await OutboxChat(session, kring.clock()).send(room, as_text("queued while the homeserver was down"),
                                                      notice=True)
    kring.outbox.wake()
    await synapse.start()

    messages = await alice.messages_from(bot.user_id, room, 2, timeout=90)
    assert messages[1].content["body"] == "queued while the homeserver was down"
    await alice.send(room, "!ping")
    messages = await alice.messages_from(bot.user_id, room, 3, timeout=90)
    assert messages[2].content["body"].startswith("Pong!")
