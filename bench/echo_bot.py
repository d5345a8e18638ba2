"""The baseline of bench/footprint.py and bench/burst.py: a bare matrix-nio echo bot, run as a
process of its own so that its memory and CPU are measured the same way as Kring's.

    KRING_BENCH_TOKEN=... python bench/echo_bot.py HOMESERVER USER_ID DEVICE_ID [--gap-fill]

It restores the login it is given (no login at start, as Kring keeps its device), syncs once with
full state and the bot's sync filter, prints `ready` on stdout, then long-polls. The filter carries
a type no event has, new at every start (`per_start_filter`): Synapse keeps a sync response for 2
minutes under a key made of the user, device, since token, filter id, full_state and timeout, so
the same first sync at every start (no token) came from that cache (300 rooms: ~0.1 s against
~0.75 s computed), and the echo's ready figure was flattered. Kring's first sync (its stored token)
is computed at every start; now the echo's is too. It joins every
invite and answers each text message that arrives after that first sync with an m.notice, from a
task per message, at most 8 sends in flight (as Kring's outbox). With --gap-fill it pages
/messages back over a limited timeline as Kring's gateway does, so that a burst costs it the same
requests (bench/burst.py); without, it is the barest bot (bench/footprint.py). No encryption.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import nio  # noqa: E402

SYNC_FILTER: dict[str, Any] = {  # bot.matrix.gateway.SYNC_FILTER, copied to import nothing of Kring's
    "presence": {"types": []},
    "account_data": {"types": ["m.direct"]},
    "room": {
        "timeline": {"limit": 100, "types": ["m.room.message", "m.room.encrypted", "m.room.member",
                                             "m.room.encryption", "m.room.create", "m.room.power_levels",
                                             "m.room.name", "m.room.join_rules"]},
        "state": {"lazy_load_members": True},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
    },
}


def per_start_filter() -> dict[str, Any]:
    """SYNC_FILTER with an account data type no event has, new at every start: the same answer,
    under a filter id of its own, so Synapse computes the first sync instead of serving it from
    its sync response cache."""
    account_data = {**SYNC_FILTER["account_data"], "not_types": [f"bench.start.{secrets.token_hex(8)}"]}
    return {**SYNC_FILTER, "account_data": account_data}


class Echo:
    def __init__(self, homeserver: str, user_id: str, device_id: str, token: str, gap_fill: bool) -> None:
        config = nio.AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
        self.client = nio.AsyncClient(homeserver, user_id, config=config)
        self.client.restore_login(user_id, device_id, token)
        self.gap_fill = gap_fill
        self.answering = False
        self._sends = asyncio.Semaphore(8)
        self._tasks: set[asyncio.Task] = set()
        self.client.add_event_callback(self._on_text, nio.RoomMessageText)
        self.client.add_event_callback(self._on_invite, nio.InviteMemberEvent)

    async def run(self) -> None:
        flt = await self.client.upload_filter(**per_start_filter())
        since, full_state = None, True
        while True:
            resp = await self.client.sync(timeout=0 if full_state else 30_000, sync_filter=flt.filter_id,
                                          since=since, full_state=full_state)
            if not isinstance(resp, nio.SyncResponse):
                await asyncio.sleep(0.5)
                continue
            if self.gap_fill and since:
                for room_id, info in resp.rooms.join.items():
                    if info.timeline.limited and info.timeline.prev_batch:
                        for event in await self._fill(room_id, info.timeline.prev_batch, since):
                            if isinstance(event, nio.RoomMessageText):
                                await self._on_text(self.client.rooms[room_id], event)
            since = resp.next_batch
            if full_state:
                full_state, self.answering = False, True
                print("ready", flush=True)

    async def _fill(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        older, token = [], prev_batch
        while True:
            resp = await self.client.room_messages(room_id, start=token, end=since,
                                                   direction=nio.MessageDirection.back, limit=100)
            if not isinstance(resp, nio.RoomMessagesResponse):
                break
            older.extend(resp.chunk)
            if not resp.chunk or not resp.end or resp.end == token:
                break
            token = resp.end
        return list(reversed(older))

    async def _on_invite(self, room: nio.MatrixRoom, event: nio.InviteMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def _on_text(self, room: nio.MatrixRoom, event: nio.RoomMessageText) -> None:
        if not self.answering or event.sender == self.client.user_id:
            return
        task = asyncio.create_task(self._answer(room.room_id, event.body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, room_id: str, body: str) -> None:
        async with self._sends:
            await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.notice", "body": "echo: " + body})


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("homeserver")
    parser.add_argument("user_id")
    parser.add_argument("device_id")
    parser.add_argument("--gap-fill", action="store_true")
    args = parser.parse_args()
    echo = Echo(args.homeserver, args.user_id, args.device_id, os.environ["KRING_BENCH_TOKEN"], args.gap_fill)
    task = asyncio.ensure_future(echo.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await echo.client.close()


if __name__ == "__main__":
    asyncio.run(main())
