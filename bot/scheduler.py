"""APScheduler as a wake-up timer over the schedule table, which stays the record.

On start every row that fell due while the bot was down runs (within the catch-up window; older
rows are marked missed and reported in the log). A row is done in the same transaction as the
outbox rows its job writes, so it never runs twice."""
from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.api import JobContext
from bot.chat import OutboxChat
from bot.i18n import Translator
from bot.schedule import DbSchedule
from storage import schedule
from storage.database import Database

log = logging.getLogger("kring.schedule")
WAKE_JOB = "kring-wake"


class ScheduleRunner:
    def __init__(self, db: Database, jobs: dict[str, Callable[..., Awaitable[None]]], clock: Callable[[], datetime],
                 *, catch_up: timedelta, language: str, on_commit: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.jobs = jobs
        self.clock = clock
        self.catch_up = catch_up
        self.language = language
        self.on_commit = on_commit
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self._lock = asyncio.Lock()
        self._runs: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._scheduler.start()
        await self.run_due()

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await asyncio.gather(*self._runs, return_exceptions=True)  # each run is short: let it finish

    def wake(self) -> None:
        """Something changed in the table: run what is due and re-arm for the next row."""
        task = asyncio.get_running_loop().create_task(self.run_due())
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    async def run_due(self) -> int:
        async with self._lock:
            ran = 0
            while True:
                async with self.db.transaction() as session:
                    rows = await schedule.due(session, self.clock())
                if not rows:
                    break
                for row in rows:
                    ran += await self._run_one(row.id)
            await self._rearm()
            return ran

    async def _rearm(self) -> None:
        async with self.db.transaction() as session:
            next_at = await schedule.next_due_at(session)
        if next_at is None:
            if self._scheduler.get_job(WAKE_JOB):
                self._scheduler.remove_job(WAKE_JOB)
            return
        self._scheduler.add_job(self.run_due, "date", run_date=max(next_at, self.clock()), id=WAKE_JOB,
                                replace_existing=True, misfire_grace_time=None, coalesce=True)

    async def _run_one(self, action_id: int) -> int:
        now = self.clock()
        async with self.db.transaction() as session:
            row = await schedule.lock_pending(session, action_id)
            if row is None:
                return 0
            if now - row.due_at > self.catch_up:
                log.warning("scheduled action missed: due before the catch-up window",
                            extra={"key": row.key, "kind": row.kind, "due_at": row.due_at.isoformat()})
                schedule.finish(row, now, "missed")
                return 0
            fn = self.jobs.get(row.kind)
            outcome = "done"
            if fn is None:
                log.error("no job for scheduled kind", extra={"kind": row.kind, "key": row.key})
                outcome = "unknown-kind"
            else:
                ctx = JobContext(now=now, db=session, t=Translator(self.language),
                                 chat=OutboxChat(session, now), schedule=DbSchedule(session, now))
                try:
                    async with session.begin_nested():
                        await fn(ctx, dict(row.payload))
                except Exception:
                    ref = secrets.token_hex(3)
                    log.exception("scheduled action failed", extra={"key": row.key, "ref": ref})
                    outcome = "failed"
            schedule.finish(row, now, outcome)
        self.on_commit()
        log.info("scheduled action", extra={"key": row.key, "kind": row.kind, "outcome": outcome})
        return 1
