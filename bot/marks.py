"""Sent outbox rows marked done beside the sender's lanes (no lane waits for it), many rows a
transaction. While other items are still being sent (a burst), the marker waits a moment for
them, so that a handful of rows share a transaction: one a row was most of the sender's database
work. A row still unmarked when the bot dies is sent again after the restart with the same
transaction id, which Matrix shows once."""
from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime

from storage import outbox
from storage.database import Database

log = logging.getLogger("kring.outbox")
MARK_WAIT_S = 0.2  # at most this long for the sends under way before the rows so far are marked


class Marker:
    def __init__(self, db: Database, clock: Callable[[], datetime], *, sending: Callable[[], bool],
                 on_marked: Callable[[list[int]], Awaitable[None]], backoff: Callable[[int], float],
                 stopping: asyncio.Event) -> None:
        self.db = db
        self.clock = clock
        self._sending = sending  # are other items queued or under way?
        self._on_marked = on_marked
        self._backoff = backoff
        self._stopping = stopping
        self.unmarked: set[int] = set()  # handed over, not marked yet (the sender keeps them tracked)
        self._marks: list[outbox.Done] = []
        self._task: asyncio.Task | None = None
        self._all_sent = asyncio.Event()  # set when an item is handed over and no other is under way

    def add(self, done: outbox.Done) -> None:
        self._marks.append(done)
        self.unmarked.add(done.item_id)
        if not self._sending():
            self._all_sent.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._mark_all(), name="outbox marks")

    async def landed(self) -> None:
        """Until what was handed over so far is marked in the table."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def _mark_all(self) -> None:
        failures = 0
        while self._marks:
            await asyncio.sleep(0)  # lanes finishing at this moment join the same transaction
            if self._sending():  # and in a burst, those whose answers are on their way
                self._all_sent.clear()
                try:
                    await asyncio.wait_for(self._all_sent.wait(), MARK_WAIT_S)
                except TimeoutError:
                    pass
            done, self._marks = self._marks, []
            try:
                async with self.db.transaction() as session:
                    await outbox.mark_all_done(session, done, self.clock())
            except Exception:  # noqa: BLE001 - e.g. the database is locked: marked on the next try
                failures += 1
                log.exception("could not mark sent outbox items; trying again",
                              extra={"items": len(done), "ref": secrets.token_hex(3)})
                self._marks[:0] = done
                if self._stopping.is_set():
                    return  # still pending in the table: sent again after the restart, shown once
                await asyncio.sleep(self._backoff(failures))
                continue
            failures = 0
            await self._on_marked([d.item_id for d in done])
