"""The sender: drains the outbox in order per room (rooms in parallel), with the transaction id
fixed at enqueue time, honouring M_LIMIT_EXCEEDED and retrying network errors with backoff."""
from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from datetime import datetime

from bot.chat import FILE, MESSAGE
from bot.matrix import MatrixGateway, SendOutcome
from storage import direct_rooms, outbox
from storage.database import Database
from storage.models import OutboxItem

log = logging.getLogger("kring.outbox")

MAX_BACKOFF = 30.0
MAX_UNKNOWN_ROOM_ATTEMPTS = 60
Lane = tuple[str | None, str | None]


class OutboxSender:
    def __init__(self, db: Database, gateway: MatrixGateway, clock: Callable[[], datetime], *,
                 encrypt_dms: bool, parallel_rooms: int = 8) -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.encrypt_dms = encrypt_dms
        self._wake = asyncio.Event()
        self._lanes: dict[Lane, asyncio.Task] = {}
        self._slots = asyncio.Semaphore(parallel_rooms)
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                await self._start_lanes()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=5)
                except TimeoutError:
                    pass
        finally:
            for task in self._lanes.values():
                task.cancel()

    async def _start_lanes(self) -> None:
        async with self.db.transaction() as session:
            items = await outbox.pending(session, limit=1000)
        for item in items:
            lane = (item.room_id, None) if item.room_id else (None, item.user_id)
            task = self._lanes.get(lane)
            if task is None or task.done():
                self._lanes[lane] = asyncio.create_task(self._drain(lane), name=f"outbox {lane}")

    async def _drain(self, lane: Lane) -> None:
        async with self._slots:
            while True:
                async with self.db.transaction() as session:
                    items = await outbox.pending_in_lane(session, *lane)
                if not items:
                    return
                for item in items:
                    await self._deliver(item)

    async def _deliver(self, item: OutboxItem) -> None:
        attempt = 0
        while True:
            try:
                outcome = await self._attempt(item)
            except (ConnectionError, OSError, TimeoutError) as exc:
                outcome = SendOutcome("retry", error=type(exc).__name__)
            if outcome.status == "ok":
                await self._finish(item, None)
                self.sent += 1
                return
            if outcome.status == "failed" or (
                outcome.error == "room not known from sync yet" and attempt >= MAX_UNKNOWN_ROOM_ATTEMPTS
            ):
                log.error("outbox item dropped", extra={"item": item.id, "error": outcome.error})
                await self._finish(item, outcome.error or "failed")
                return
            attempt += 1
            wait = outcome.retry_after or min(MAX_BACKOFF, 0.5 * 2 ** min(attempt, 8))
            log.warning("send retry", extra={"item": item.id, "error": outcome.error, "wait_s": wait})
            async with self.db.transaction() as session:
                await outbox.note_attempt(session, item.id)
            await asyncio.sleep(wait)

    async def _attempt(self, item: OutboxItem) -> SendOutcome:
        room_id = item.room_id or await self._dm_room(item.user_id)
        if item.kind == MESSAGE:
            return await self.gateway.send(room_id, item.payload["content"], item.txn_id)
        if item.kind == FILE:
            data = base64.b64decode(item.payload["data"])
            keys = await self.gateway.upload(room_id, data, item.payload["mimetype"], item.payload["filename"])
            content = {"msgtype": "m.file", "body": item.payload["filename"],
                       "info": {"mimetype": item.payload["mimetype"], "size": len(data)}, **keys}
            return await self.gateway.send(room_id, content, item.txn_id)
        return SendOutcome("failed", error=f"unknown outbox kind {item.kind}")

    async def _dm_room(self, user_id: str) -> str:
        async with self.db.transaction() as session:
            room_id = await direct_rooms.room_for(session, user_id)
        if room_id is None:
            room_id = await self.gateway.create_dm(user_id, encrypted=self.encrypt_dms)
            async with self.db.transaction() as session:
                await direct_rooms.record(session, room_id, user_id, self.clock())
            log.info("opened a DM", extra={"room_id": room_id})
        return room_id

    async def _finish(self, item: OutboxItem, error: str | None) -> None:
        async with self.db.transaction() as session:
            await outbox.mark_done(session, item.id, self.clock(), error)
