"""Data minimisation in the background: what the bot sent (message texts, files such as CSV
exports with member IDs, the person a DM was for) is wiped from the outbox storage.keep_sent_days
after it was sent. Exactly-once needs nothing of it: a sent row keeps its kind, room,
transaction id and outcome, and commands are claimed in processed_events."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from storage import outbox, runtime_state
from storage.database import Database

log = logging.getLogger("kring.housekeeping")
INTERVAL_S = 3600.0
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Housekeeping:
    def __init__(self, db: Database, clock: Callable[[], datetime], *, keep_sent: timedelta,
                 interval_s: float = INTERVAL_S) -> None:
        self.db = db
        self.clock = clock
        self.keep_sent = keep_sent
        self.interval_s = interval_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Once at start, then every interval until stop()."""
        while not self._stopping.is_set():
            try:
                await self.wipe_sent()
            except Exception:  # noqa: BLE001 - e.g. the database is busy: the next round tries again
                log.exception("could not wipe sent messages")
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            except TimeoutError:
                pass

    async def wipe_sent(self) -> int:
        """Wipe the content of rows sent more than keep_sent ago (only those not wiped before)."""
        until = self.clock() - self.keep_sent
        async with self.db.transaction() as session:
            since = await runtime_state.get(session, runtime_state.OUTBOX_WIPED_UNTIL)
            wiped = await outbox.wipe_sent(session, datetime.fromisoformat(since) if since else EPOCH, until)
            await runtime_state.put(session, runtime_state.OUTBOX_WIPED_UNTIL, until.isoformat())
        if wiped:
            log.info("wiped the content of sent messages", extra={"rows": wiped})
        return wiped
