"""The sync loop's pace in a rush: each answer the homeserver takes wakes the bot's long poll, so
after a sync that brought no message (only the bot's own answers coming back) the next poll waits
a moment while answers are still being sent; a sync that brought commands is followed by the next
poll at once."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from bot.matrix.incoming import Incoming
from bot.matrix.timeline import SyncBatch
from bot.syncer import RUSH_POLL_PAUSE_S, SyncLoop
from storage.database import Database

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


class ScriptedGateway:
    """Hands out the batches the test puts in, one per sync, and notes each poll."""

    user_id = "@kring:example.org"

    def __init__(self) -> None:
        self.batches: asyncio.Queue[SyncBatch] = asyncio.Queue()
        self.polls = 0
        self.polled = asyncio.Event()

    async def upload_filter(self) -> str:
        return "0"

    async def sync(self, since: str | None, filter_id: str, *, full_state: bool, timeout_ms: int) -> SyncBatch:
        self.polls += 1
        self.polled.set()
        return await self.batches.get()


class Dispatcher:
    not_before = None

    def __init__(self) -> None:
        self.handled: list[str] = []

    async def handle(self, msg: Incoming) -> str:
        self.handled.append(msg.body)
        return "ok"


def _batch(n: int, *bodies: str) -> SyncBatch:
    batch = SyncBatch(next_batch=f"s{n}")
    if bodies:
        batch.messages["!dm:example.org"] = [
            Incoming(event_id=f"${n}-{i}", room_id="!dm:example.org", sender="@ann:example.org", body=b,
                     origin_time=NOW) for i, b in enumerate(bodies)]
    return batch


async def _next_poll(gateway: ScriptedGateway) -> None:
    await asyncio.wait_for(gateway.polled.wait(), 2)


async def test_after_only_its_own_answers_came_back_the_loop_lets_answers_go_before_polling_again(db: Database) -> None:
    gateway, dispatcher = ScriptedGateway(), Dispatcher()
    waits: list[float] = []
    sent = asyncio.Event()
    sent.set()

    async def answers_going(timeout: float) -> None:
        waits.append(timeout)
        await sent.wait()

    loop = SyncLoop(gateway, db, dispatcher, lambda: NOW, language="en", on_commit=lambda: None,  # type: ignore[arg-type]
                    answers_going=answers_going)
    loop.started.set()
    task = asyncio.create_task(loop.run())
    try:
        await _next_poll(gateway)
        gateway.polled.clear()
        gateway.batches.put_nowait(_batch(0))  # the first sync
        await asyncio.wait_for(gateway.polled.wait(), 2)
        assert waits == [RUSH_POLL_PAUSE_S]
        gateway.polled.clear()
        gateway.batches.put_nowait(_batch(1, "!ping", "!ping"))  # a rush: commands
        await asyncio.wait_for(gateway.polled.wait(), 2)
        assert dispatcher.handled == ["!ping", "!ping"]
        assert waits == [RUSH_POLL_PAUSE_S], "after a batch of commands the loop polls again at once"
        sent.clear()  # answers are being sent
        polls = gateway.polls
        gateway.polled.clear()
        gateway.batches.put_nowait(_batch(2))  # only the bot's own answers came back
        for _ in range(50):
            await asyncio.sleep(0)  # every chance to poll early
        assert waits == [RUSH_POLL_PAUSE_S] * 2 and gateway.polls == polls, "no poll while answers are going"
        sent.set()
        await asyncio.wait_for(gateway.polled.wait(), 2)
        assert gateway.polls == polls + 1
    finally:
        loop.stop()
        await asyncio.wait_for(task, 2)
