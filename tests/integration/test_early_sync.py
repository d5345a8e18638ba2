"""A start whose first sync was fetched before the bot was built (`kring run`, issue 21:
bot/matrix/early_sync.py): what came while the bot was down is answered exactly once, encrypted
messages too (their room key comes in that sync), nothing sent after the early fetch is lost, and
a start whose early sync failed or is stale asks again."""
from __future__ import annotations

import logging

import pytest

from bot.matrix import early_sync
from bot.matrix.early_sync import EarlySync, EarlySyncFailed, Settings

USED = "first sync fetched at start"
NOT_USED = "first sync fetched at start not used; asking again"


def fetch_early(bot) -> EarlySync:  # noqa: ANN001
    """What `kring run` does before it imports the bot, with this bot's settings."""
    cfg = bot.config
    early = EarlySync.begin(Settings(cfg.matrix.homeserver, cfg.matrix.user_id, cfg.matrix.store_path,
                                     cfg.storage.database_url))
    assert early is not None, "a restart with a stored token, filter id and credentials fetches early"
    return early


def reasons(caplog: pytest.LogCaptureFixture) -> list[str | None]:
    return [getattr(r, "reason", None) for r in caplog.records if r.getMessage() == NOT_USED]


async def test_commands_sent_while_down_are_answered_once_from_an_early_first_sync(make_bot, make_member, caplog):
    caplog.set_level(logging.INFO, logger="kring.matrix")
    bot = await make_bot()
    alice = await make_member()
    bob = await make_member(encrypted=True)
    plain = await alice.dm(bot.user_id, encrypted=False)
    secret = await bob.dm(bot.user_id, encrypted=True)
    await bob.send(secret, "!ping")
    await bob.messages_from(bot.user_id, secret, 1)
    await bot.stop()

    await alice.send(plain, "!ping")
    # A new room key: it reaches the bot's device only in the to-device events of the early sync,
    # which nio must take in as any sync's, or the message stays unreadable.
    bob.client.invalidate_outbound_session(secret)
    await bob.send(secret, "!help")
    early = fetch_early(bot)
    await early.body()  # the homeserver has answered before the bot exists
    await alice.send(plain, "!help")  # after the early sync: the next sync brings it

    await bot.start(early)
    assert caplog.messages.count(USED) == 1 and not reasons(caplog)
    replies = await alice.messages_from(bot.user_id, plain, 2)
    assert replies[0].content["body"].startswith("Pong!")
    assert "!ping" in replies[1].content["body"]
    [_, help_] = await bob.messages_from(bot.user_id, secret, 2)
    assert help_.encrypted and "!ping" in help_.content["body"]

    # Exactly once: after a restart (its own first sync), a fresh command's answer is the next reply.
    await bot.restart()
    await alice.send(plain, "!ping")
    await bob.send(secret, "!ping")
    replies = await alice.messages_from(bot.user_id, plain, 3)
    assert replies[2].content["body"].startswith("Pong!"), "the third reply must be the new pong, not a repeat"
    replies = await bob.messages_from(bot.user_id, secret, 3)
    assert replies[2].encrypted and replies[2].content["body"].startswith("Pong!")
    assert len([s for s in alice.seen if s.sender == bot.user_id]) == 3
    assert len([s for s in bob.seen if s.sender == bot.user_id]) == 3


async def test_a_failed_early_sync_leaves_the_start_to_ask_again(make_bot, make_member, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="kring.matrix")
    bot = await make_bot()
    alice = await make_member(encrypted=True)
    room = await alice.dm(bot.user_id, encrypted=True)
    await bot.stop()
    await alice.send(room, "!ping")

    def refused(self) -> bytes:  # noqa: ANN001
        raise ConnectionRefusedError

    monkeypatch.setattr(EarlySync, "_fetch", refused)
    early = fetch_early(bot)
    with pytest.raises(EarlySyncFailed):
        await early.body()
    await bot.start(early)
    assert reasons(caplog) == ["ConnectionRefusedError"]
    [pong] = await alice.messages_from(bot.user_id, room, 1)
    assert pong.encrypted and pong.content["body"].startswith("Pong!")


async def test_an_early_sync_from_an_older_token_is_not_used(make_bot, make_member, caplog):
    """Fetched, then the bot ran on (its stored token moved): the early response is not the one
    the start would ask for, and the start asks for its own."""
    caplog.set_level(logging.INFO, logger="kring.matrix")
    bot = await make_bot()
    alice = await make_member()
    room = await alice.dm(bot.user_id, encrypted=False)
    await bot.stop()
    stale = fetch_early(bot)
    await stale.body()
    await bot.start()
    await alice.send(room, "!ping")
    await alice.messages_from(bot.user_id, room, 1)
    await bot.stop()  # the token of the batch with the ping is stored
    await alice.send(room, "!help")

    await bot.start(stale)
    assert reasons(caplog) == ["since"]
    replies = await alice.messages_from(bot.user_id, room, 2)
    assert "!ping" in replies[1].content["body"]


async def test_a_first_ever_start_fetches_nothing_early(make_bot):
    bot = await make_bot(start=False)
    cfg = bot.config
    settings = Settings(cfg.matrix.homeserver, cfg.matrix.user_id, cfg.matrix.store_path, cfg.storage.database_url)
    assert EarlySync.begin(settings) is None
    await bot.start()
    assert (cfg.matrix.store_path / early_sync.FILTER_ID_FILE).read_text() == \
        await bot.kring.gateway.upload_filter(), "the filter id is left for the next start"
