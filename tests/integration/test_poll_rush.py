"""A rush of poll responses on a real Synapse: many members answer one poll within seconds, in
one room; every response must be counted exactly once. The first half comes while the bot runs;
the second half while it is stopped, so that its first sync after the restart brings a `limited`
timeline whose gap it fills with /messages. KRING_RUSH_MEMBERS sets how many (default 300)."""
from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import aiohttp
from sqlalchemy import func, select

from storage import members, networks, outbox, polls
from storage.database import Database
from storage.models import ProcessedEvent
from tests.integration.test_polls import START, _response, _seen, _until

RUSH = int(os.environ.get("KRING_RUSH_MEMBERS", "300"))
NET = {"id": "rush", "name": "Rush Network", "timezone": "Europe/Amsterdam", "encrypted": False}


async def _accounts(synapse, count: int) -> list[tuple[str, str]]:  # noqa: ANN001
    """(user id, access token) of `count` new accounts."""
    gate = asyncio.Semaphore(8)
    tag = uuid.uuid4().hex[:6]

    async def one(i: int) -> tuple[str, str]:
        async with gate:
            body = await synapse._register(f"rush{tag}-{i:03d}", "pw-rush-1", admin=False, displayname=None,
                                           login=True)
        return body["user_id"], body["access_token"]
    return await asyncio.gather(*(one(i) for i in range(count)))


async def _drained(bot) -> None:  # noqa: ANN001
    """Until the bot's outbox (here: the roster's invites) has nothing pending."""
    async def wait() -> None:
        while True:
            async with bot.kring.db.read() as session:
                if await outbox.count_pending(session) == 0:
                    return
            async with bot.kring.outbox.finished:
                try:
                    await asyncio.wait_for(bot.kring.outbox.finished.wait(), 5)
                except TimeoutError:
                    pass
    await asyncio.wait_for(wait(), 600)


async def test_a_rush_of_votes_in_one_room_is_counted_exactly_once(make_bot, make_member, synapse, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kring.matrix")
    carol = await make_member()
    accounts = await _accounts(synapse, RUSH)
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}],
                         matrix={"encryption": False})
    db = Database(bot.config.storage.database_url)
    await db.migrate()
    async with db.transaction() as session:
        for user_id, _token in accounts:
            await members.set_role(session, "rush", user_id, "member", datetime.now(timezone.utc))
    await db.close()
    await bot.start()
    async with bot.kring.db.read() as session:
        lobby = (await networks.rooms(session, "rush"))["lobby"]
    await _drained(bot)  # every member is invited to the lobby

    base = f"{synapse.url}/_matrix/client/v3/rooms/{quote(lobby, safe='')}"
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as http:
        async def join(token: str) -> None:
            async with gate, http.post(f"{base}/join", json={},
                                       headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, await resp.text()
        await asyncio.gather(*(join(token) for _user, token in accounts))
        await carol.wait_joined(lobby, carol.user_id, timeout=120)

        await carol.send(lobby, '!poll "Which theme next?" "Alcohol at work" "Burn-out" "Integrity"')
        start = await _seen(carol, lambda s: s.sender == bot.user_id and s.type == START, timeout=120)
        choices = [f"o{i % 3 + 1}" for i in range(RUSH)]
        fills_before = sum("gap filled" in r.getMessage() for r in caplog.records)

        burst = asyncio.Semaphore(64)

        async def vote(i: int) -> str:
            event_type, content = _response(start.event_id, [choices[i]])
            token = accounts[i][1]
            async with burst, http.put(f"{base}/send/{event_type}/rush{i}", json=content,
                                       headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, await resp.text()
                return (await resp.json())["event_id"]
        half = RUSH // 2
        began = time.monotonic()
        event_ids = list(await asyncio.gather(*(vote(i) for i in range(half))))
        sent_s = time.monotonic() - began
        await bot.stop()
        event_ids += await asyncio.gather(*(vote(i) for i in range(half, RUSH)))  # while the bot is down
        restarted = time.monotonic()
        await bot.start()

    async def all_counted(session) -> bool:  # noqa: ANN001
        query = select(func.count()).select_from(ProcessedEvent).where(ProcessedEvent.event_id.in_(event_ids))
        return (await session.execute(query)).scalar_one() == RUSH
    await _until(bot, all_counted, timeout=600)
    counted_s = time.monotonic() - restarted
    fills = sum("gap filled" in r.getMessage() for r in caplog.records) - fills_before

    async with bot.kring.db.read() as session:
        votes = await polls.votes(session, 1)
    assert len(votes) == RUSH and len({v.user_id for v in votes}) == RUSH, "each member once"
    assert sorted(v.answers[0] for v in votes) == sorted(choices)
    # the same events again (a replayed sync) change nothing
    for event_id in event_ids[:20]:
        assert await bot.kring.dispatcher.handle_event(_again(event_id, lobby, start.event_id, accounts)) == "duplicate"
    assert fills >= 1, "the restart's sync was limited and its gap filled"
    print(f"\nrush: {half} votes sent in {sent_s:.1f} s while the bot ran; {RUSH - half} more while it was down; "
          f"all {RUSH} counted {counted_s:.1f} s after the restart began; gap fills: {fills}")


def _again(event_id: str, room_id: str, poll_event: str, accounts: list[tuple[str, str]]):  # noqa: ANN202
    from api import RoomEvent
    event_type, content = _response(poll_event, ["o1"])
    return RoomEvent(event_id, room_id, accounts[0][0], event_type, content, datetime.now(timezone.utc))
