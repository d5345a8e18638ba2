"""Issue 9 on nio members: encrypted DMs, a kept device and store across restarts, and a message
whose key arrives late."""
from __future__ import annotations

import asyncio

from storage import decryption


async def test_restart_keeps_device_and_store(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member(encrypted=True)
    room = await alice.dm(bot.user_id, encrypted=True)
    await alice.send(room, "!ping")
    await alice.messages_from(bot.user_id, room, 1)
    device = bot.kring.gateway.device_id
    await bot.restart()
    assert bot.kring.gateway.device_id == device
    devices = await bot.kring.gateway.client.devices()
    assert [d.id for d in devices.devices] == [device], "a restart must not create a new device"
    await alice.send(room, "!help")
    replies = await alice.messages_from(bot.user_id, room, 2)
    assert replies[1].encrypted and "!ping" in replies[1].content["body"]


async def test_a_restart_fetches_its_first_sync_while_it_checks_its_cross_signing(make_bot, make_member, monkeypatch):
    """A restarted bot does not wait for its cross-signing to be checked (round trips to the
    homeserver) before it asks for its first sync, and answers the encrypted command waiting."""
    from bot.matrix import crosssign

    bot = await make_bot()
    alice = await make_member(encrypted=True)
    room = await alice.dm(bot.user_id, encrypted=True)
    await alice.send(room, "!ping")
    await alice.messages_from(bot.user_id, room, 1)
    await bot.stop()
    await alice.send(room, "!help")  # waits for the restarted bot
    real = crosssign.ensure_cross_signed

    async def once_a_sync_came(client, **kwargs):  # noqa: ANN001, ANN003, ANN202
        synced = bot.kring.gateway.synced
        async with synced:  # the old start never synced before cross-signing: this would time out
            await asyncio.wait_for(synced.wait_for(lambda: bool(client.next_batch)), 30)
        return await real(client, **kwargs)

    monkeypatch.setattr(crosssign, "ensure_cross_signed", once_a_sync_came)
    await bot.start()
    assert bot.kring.cross_signing.device_signed
    replies = await alice.messages_from(bot.user_id, room, 2)
    assert replies[1].encrypted and "!ping" in replies[1].content["body"]


async def test_missing_store_is_reported_not_replaced(make_bot):
    bot = await make_bot()
    device = bot.kring.gateway.device_id
    await bot.stop()
    store = bot.config.matrix.store_path / f"{bot.user_id}_{device}.db"
    store.rename(store.with_suffix(".moved"))
    import pytest

    from bot.matrix.gateway import StoreMissingError

    with pytest.raises(StoreMissingError, match="crypto store for device"):
        await bot.start()
    await bot.stop()


async def _ping_with_late_key(make_bot, make_member):  # noqa: ANN001, ANN202
    """An encrypted DM that already works (one !ping answered), then a !ping whose room key the
    bot gets only when release_key() is awaited."""
    bot = await make_bot()
    alice = await make_member(encrypted=True)
    room = await alice.dm(bot.user_id, encrypted=True)
    await alice.send(room, "!ping")
    await alice.messages_from(bot.user_id, room, 1)
    event_id, release_key = await alice.send_with_late_key(room, "!ping")
    return bot, alice, room, event_id, release_key


async def test_message_with_late_key_gets_notice_then_is_handled_once(make_bot, make_member):
    bot, alice, room, event_id, release_key = await _ping_with_late_key(make_bot, make_member)
    notice = await alice.reply_to(bot.user_id, room, event_id)
    assert notice.content["msgtype"] == "m.notice"
    assert "could not decrypt" in notice.content["body"]

    await release_key()
    replies = await alice.messages_from(bot.user_id, room, 3)
    assert replies[2].content["body"].startswith("Pong!"), "the command runs once its key arrives"
    # and only once: the next command's answer comes right after it
    await alice.send(room, "!help")
    replies = await alice.messages_from(bot.user_id, room, 4)
    assert "!ping" in replies[3].content["body"]


async def _until_waiting_for_key(bot, event_id: str) -> None:  # noqa: ANN001
    """Until the bot holds the event as unreadable (checked under the lock its sync loop notifies
    with, so no handled batch is missed)."""
    sync = bot.kring.sync
    async with sync.handled:
        while True:
            async with bot.kring.db.read() as session:
                if await decryption.is_waiting(session, event_id):
                    return
            await asyncio.wait_for(sync.handled.wait(), 60)


async def test_a_key_that_follows_its_message_soon_gets_only_the_answer(make_bot, make_member):
    """A client often shares the room key a moment after the message: the sender is not told that
    their message could not be read when the key comes within the grace period."""
    bot, alice, room, event_id, release_key = await _ping_with_late_key(make_bot, make_member)
    await _until_waiting_for_key(bot, event_id)
    await release_key()
    replies = await alice.messages_from(bot.user_id, room, 2)
    assert replies[1].content["body"].startswith("Pong!"), replies[1].content["body"]
    await alice.send(room, "!help")
    replies = await alice.messages_from(bot.user_id, room, 3)
    assert "!ping" in replies[2].content["body"], "no notice came after the answer either"


async def test_files_in_an_encrypted_dm_are_encrypted_attachments(make_bot, make_member):
    """What the bot uploads into an encrypted room (here the !mydata export) is an encrypted
    attachment: the homeserver only ever holds ciphertext, and the member can decrypt it."""
    import json

    from nio.crypto.attachments import decrypt_attachment

    bot = await make_bot()
    alice = await make_member(encrypted=True)
    room = await alice.dm(bot.user_id, encrypted=True)
    await alice.send(room, "!mydata")
    file = await alice.first(lambda s: s.sender == bot.user_id and s.content.get("msgtype") == "m.file")
    content = file.content
    assert file.encrypted
    assert "url" not in content, "an encrypted room must not get a plain upload"
    secret = content["file"]
    ciphertext = (await alice.client.download(mxc=secret["url"])).body
    assert alice.user_id.encode() not in ciphertext
    plain = decrypt_attachment(ciphertext, secret["key"]["k"], secret["hashes"]["sha256"], secret["iv"])
    export = json.loads(plain)
    assert alice.user_id in json.dumps(export), "the decrypted file is the member's own export"


async def test_nothing_goes_out_in_the_clear_before_the_rooms_encryption_is_synced(make_bot, make_member):
    """A sync can bring a room the bot just created half-made, before its m.room.encryption event;
    nio would then send in the clear. The bot waits for the event instead."""
    bot = await make_bot()
    alice = await make_member(encrypted=True)
    gateway = bot.kring.gateway
    room = await gateway.create_dm(alice.user_id, encrypted=True)
    assert gateway.client.rooms[room].encrypted, "create_dm returns once the encryption is known"
    await alice.wait_joined(room, alice.user_id)
    known = gateway.client.rooms[room]
    known.encrypted = False  # as nio sees the room before its encryption event has come through

    outcome = await gateway.send(room, {"msgtype": "m.text", "body": "confidential"}, "txn-clear-1")
    assert outcome.status == "retry" and outcome.error == "room encryption not synced yet"

    known.encrypted = True  # the event arrives
    outcome = await gateway.send(room, {"msgtype": "m.text", "body": "confidential"}, "txn-clear-1")
    assert outcome.status == "ok"
    [seen] = await alice.messages_from(bot.user_id, room, 1)
    assert seen.encrypted and seen.content["body"] == "confidential"
    assert seen.event_id == outcome.event_id, "the first attempt sent nothing"
