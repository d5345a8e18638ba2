"""A message the homeserver refuses for its size (M_TOO_LARGE) is cut down and sent, never lost,
also in an encrypted room (where encryption makes the event a third larger)."""
from __future__ import annotations

import logging

import pytest

from api.render import bullets
from bot.chat import OutboxChat
from bot.shrink import CUT_MARK
from storage.models import OutboxItem
from sqlalchemy import select

LINES = [f"field{n:04d}: unknown field <{n}> & more text to make the line longer" for n in range(2000)]


@pytest.mark.parametrize("encrypted", [False, True])
async def test_a_message_too_large_for_the_homeserver_arrives_cut_down(make_bot, make_member, encrypted: bool,
                                                                       caplog: pytest.LogCaptureFixture):
    bot = await make_bot()
    alice = await make_member(encrypted=encrypted)
    room = await alice.dm(bot.user_id, encrypted=encrypted)
    kring = bot.kring
    text = bullets(LINES)
    assert len(text.plain.encode()) + len(text.html.encode()) > 65_536, "more than Synapse takes in one event"
    with caplog.at_level(logging.INFO, logger="kring"):
        async with kring.db.transaction() as session:
            await OutboxChat(session, kring.clock()).send(room, text, notice=True)
        kring.outbox.wake()
        [message] = await alice.messages_from(bot.user_id, room, 1, timeout=60)
        await kring.outbox.settled(60)  # the row is marked done just after the homeserver took it

    body = message.content["body"]
    assert message.encrypted == encrypted
    assert body.startswith(text.plain.splitlines()[0]) and body.endswith(CUT_MARK)
    assert "formatted_body" not in message.content, "HTML is never cut in half"
    kept = body.removesuffix(CUT_MARK).splitlines()
    assert kept == text.plain.splitlines()[:len(kept)], "cut at a line end, nothing altered"
    async with kring.db.read() as session:
        [row] = (await session.execute(select(OutboxItem).where(OutboxItem.room_id == room))).scalars()
    assert row.done_at is not None and row.error is None
    assert [r.levelno for r in caplog.records if "cut down" in r.getMessage()] != []
    assert not [r for r in caplog.records if r.name.startswith("kring") and r.levelno >= logging.ERROR]
