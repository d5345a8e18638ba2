"""The bot keeps going across a homeserver restart: its sync loop comes back, and a message
queued while the homeserver was down is delivered once it is up again. While the homeserver is
away the bot tries again at least every matrix.retry_max_seconds (so it answers soon after the
return, whatever the outage's length; timed in bench/outage.py), and the cut long poll is a
WARNING line, never an ERROR traceback."""
from __future__ import annotations

import asyncio
import logging

import pytest

from bot.chat import OutboxChat
from api.render import as_text

FAILED_SYNCS = 6  # with the old doubling backoff the sixth wait alone was 16 s


async def test_bot_keeps_going_across_homeserver_restart(make_bot, make_member, synapse,
                                                         caplog: pytest.LogCaptureFixture):
    bot = await make_bot()
    alice = await make_member()
    room = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(room, "!ping")
    await alice.messages_from(bot.user_id, room, 1)

    kring = bot.kring
    waits: list[float] = []
    long_outage = asyncio.Event()
    real_sleep = kring.sync._sleep

    async def counted_sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= FAILED_SYNCS:
            long_outage.set()
        await real_sleep(seconds)

    kring.sync._sleep = counted_sleep
    with caplog.at_level(logging.INFO, logger="kring"):
        await synapse.stop()
        async with kring.db.transaction() as session:
            await OutboxChat(session, kring.clock()).send(room, as_text("queued while the homeserver was down"),
                                                          notice=True)
        kring.outbox.wake()
        await asyncio.wait_for(long_outage.wait(), 120)
        await synapse.start()

        messages = await alice.messages_from(bot.user_id, room, 2, timeout=90)
        assert messages[1].content["body"] == "queued while the homeserver was down"
        await alice.send(room, "!ping")
        messages = await alice.messages_from(bot.user_id, room, 3, timeout=90)
        assert messages[2].content["body"].startswith("Pong!")

    cap = bot.config.matrix.retry_max_seconds
    assert max(waits) == cap, "the waits grew to the cap and stopped there"
    retries = [r for r in caplog.records if r.name == "kring.sync" and r.getMessage() == "sync failed, retrying"]
    assert len(retries) >= FAILED_SYNCS and all(r.levelno == logging.WARNING for r in retries)
    assert all(r.wait_s <= cap for r in retries)  # type: ignore[attr-defined]
    errors = [r for r in caplog.records if r.name.startswith("kring") and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
