"""The sync loop does no work it need not do, as members see it on a real Synapse: a key query
under way holds up no plain answer, the bot does not query its own keys each time its own user is
listed as changed, and joining a new room costs no /messages gap fill."""
from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.conftest import PASSWORD


def count_calls(client: Any, name: str, *, block: asyncio.Event | None = None) -> list[Any]:
    """Record each call of a nio client method (its first argument, or what it will query);
    with block, each call waits for that event first."""
    calls: list[Any] = []
    inner = getattr(client, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else set(client.users_for_key_query))
        if block is not None:
            await block.wait()
        return await inner(*args, **kwargs)

    setattr(client, name, wrapper)
    return calls


async def test_a_key_query_under_way_holds_up_no_plain_answer(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member()
    room = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(room, "!ping")
    await alice.messages_from(bot.user_id, room, 1)

    client = bot.kring.gateway.client
    release = asyncio.Event()
    queries = count_calls(client, "keys_query", block=release)
    client.olm.users_for_key_query.add(alice.user_id)  # as when someone's devices changed
    try:
        for n in range(2, 5):  # several syncs while the query hangs: each command still answered
            await alice.send(room, "!ping")
            replies = await alice.messages_from(bot.user_id, room, n)
            assert replies[-1].content["body"].startswith("Pong!")
        assert len(queries) == 1, "one query under way, not one per sync"
    finally:
        release.set()


async def test_the_bot_does_not_query_its_own_keys_when_its_user_is_listed_as_changed(
        make_bot, make_member, synapse):
    bot = await make_bot()
    alice = await make_member(encrypted=True)
    room = await alice.dm(bot.user_id, encrypted=True)
    await alice.send(room, "!ping")
    await alice.messages_from(bot.user_id, room, 1)
    client = bot.kring.gateway.client
    assert bot.user_id in client.olm.tracked_users  # its own devices were fetched once

    queries = count_calls(client, "keys_query")
    # A new device of the bot's account: Synapse lists the bot's own user as changed.
    await synapse.login(bot.user_id.split(":")[0][1:], PASSWORD)
    await alice.send(room, "!ping")
    replies = await alice.messages_from(bot.user_id, room, 2)
    assert replies[-1].encrypted and replies[-1].content["body"].startswith("Pong!")
    assert not any(bot.user_id in users for users in queries)


async def test_joining_a_new_dm_fills_no_gap(make_bot, make_member):
    bot = await make_bot()
    client = bot.kring.gateway.client
    gap_fills = count_calls(client, "room_messages")
    alice = await make_member()
    room = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(room, "!ping")
    [reply] = await alice.messages_from(bot.user_id, room, 1)
    assert reply.content["body"].startswith("Pong!")
    assert room not in gap_fills


async def test_in_a_rush_the_bot_polls_on_while_its_answers_are_being_sent(make_bot, make_member):
    """Commands waiting at start come in one batch: a rush. The loop does not hold its next poll
    for their answers (here they would never count as out), and every one is answered."""
    from bot.app import Kring

    bot = await make_bot()
    alice = await make_member()
    room = await alice.dm(bot.user_id, encrypted=False)
    await bot.stop()
    for _ in range(3):
        await alice.send(room, "!ping")
    never = asyncio.Event()
    bot.kring = Kring(bot.config)

    async def answers_never_out() -> None:
        await never.wait()

    bot.kring.sync.answers_out = answers_never_out
    await bot.kring.start()
    try:
        await asyncio.wait_for(bot.kring.sync.caught_up.wait(), 60)
        replies = await alice.messages_from(bot.user_id, room, 3)
        assert all(r.content["body"].startswith("Pong!") for r in replies)
    finally:
        never.set()
