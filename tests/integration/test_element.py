"""Issue 9: a member on Element's own crypto stack (matrix-js-sdk + Rust crypto, only-signed-devices
mode) talks to the bot in an encrypted DM. The bot's cross-signed device is what makes it work."""
from __future__ import annotations

import asyncio
import logging
import stat

import pytest

from bot.matrix import crosssign

from tests.element_member import ElementMember, ensure_node_modules
from tests.integration.conftest import PASSWORD


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> None:
    ensure_node_modules()


async def element_member(synapse, name: str) -> ElementMember:
    user_id = await synapse.register_user(name, PASSWORD)
    member = ElementMember(name)
    await member.start()
    await member.login(synapse.url, user_id, PASSWORD)
    return member


async def _help_in_dm(member: ElementMember, bot_user: str):  # noqa: ANN202
    """Element opens an encrypted DM with the bot and asks `!help`: the reply, which it must decrypt."""
    room = await member.create_dm(bot_user, encrypted=True)
    await member.wait_joined(room, bot_user)
    sent = await member.send(room, "!help")
    reply = await member.wait_message(room, bot_user, after=sent, timeout_ms=30000)
    assert reply.decrypted, f"Element could not decrypt the bot's reply: {reply.error}"
    return reply


async def test_element_member_reads_the_bots_encrypted_help(make_bot, synapse):
    bot = await make_bot()
    assert bot.kring.cross_signing and bot.kring.cross_signing.device_signed
    member = await element_member(synapse, "elena")
    try:
        reply = await _help_in_dm(member, bot.user_id)
        assert reply.content["msgtype"] == "m.notice"
        assert "!ping" in reply.body
    finally:
        await member.close()


async def test_without_a_passphrase_the_bot_is_still_cross_signed_and_element_talks_to_it(
        make_bot, synapse, caplog: pytest.LogCaptureFixture):
    """The default (no matrix.key_passphrase) works with Element: the device is cross-signed, the
    keys are kept in the store folder readable by the bot's user only, and a warning says that
    they are not encrypted at rest. (A device that is not cross-signed is refused by Element:
    tests/integration/test_element_member.py.)"""
    with caplog.at_level(logging.WARNING, logger="kring"):
        bot = await make_bot(matrix={"key_passphrase": None})
    assert bot.kring.cross_signing and bot.kring.cross_signing.device_signed
    keys_file = bot.config.matrix.keys_file
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert not crosssign.keys_file_encrypted(keys_file)
    assert [r for r in caplog.records if r.levelno == logging.WARNING and "NOT encrypted at rest" in r.getMessage()]
    member = await element_member(synapse, "ulrich")
    try:
        reply = await _help_in_dm(member, bot.user_id)
        assert "!ping" in reply.body
    finally:
        await member.close()



async def test_element_member_reads_a_dm_the_bot_opens(make_bot, synapse):
    """What the bot sends on its own (an approval, a seat offer) to someone it has no DM with yet:
    it opens an encrypted DM and writes before the person has joined; Element must read it."""
    from bot.chat import OutboxChat
    from api.render import as_text
    from storage import direct_rooms

    bot = await make_bot()
    member = await element_member(synapse, "olga")
    try:
        async with bot.kring.db.transaction() as session:
            await OutboxChat(session, bot.kring.clock()).dm(member.user_id, as_text("A seat is free for you"))
        bot.kring.outbox.wake()
        gateway = bot.kring.gateway
        while True:  # until the bot has opened the DM (each turn waits for the bot's next sync)
            async with bot.kring.db.read() as session:
                room = await direct_rooms.room_for(session, member.user_id)
            if room:
                break
            async with gateway.synced:
                await asyncio.wait_for(gateway.synced.wait(), 40)
        await member.join(room)
        message = await member.wait_message(room, bot.user_id, timeout_ms=30000)
        assert message.decrypted, f"Element could not decrypt the bot's first message: {message.error}"
        assert message.body == "A seat is free for you"
        assert message.content["msgtype"] == "m.text" and member.user_id in message.content["m.mentions"]["user_ids"]
    finally:
        await member.close()
