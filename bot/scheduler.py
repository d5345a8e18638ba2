"""APScheduler as a wake-up timer over the schedule table, which stays the record.

On start every row that fell due while the bot was down runs (within the catch-up window; older
rows are marked missed and reported to their network's coordinators' room, "3 reminders for <event>
were not sent: Kring was down from ... to ...", in the same transaction, except for kinds that
repair state, which always run). A row is done in the same transaction as the outbox rows its job
writes, so it never runs twice. Rows due together run in batches: one transaction takes the due
rows, runs each job in a savepoint, marks them done and commits their messages at once, which go
straight to the sender (one transaction per row cost ~45 ms of delay each under load). A reminder to someone who said `!reminders off` is skipped
(outcome "muted"). The safety wake-up also records that the bot was alive, so that a report can
say since when it was down.

Reminders are sent on time by preparing them ahead (`@job(ahead=True)`, plain DMs): the row runs
up to LEAD before its due time, as at that time, and is marked done in the same transaction as its
outbox rows, which carry the due time as their send-at; the sender holds them and at the due time
only sends (bot/holding.py). Exactly once holds as before: after a crash the held rows are in the
outbox, sent at their time (or at once if it passed). A cancellation in those seconds withdraws
them (storage.schedule.cancel, Schedule.withdraw), in the table and in the sender's memory. Such a
row run after its due time (a catch-up after downtime) gives its rows the passed due time too:
the sender sends them as late ones, a few at a time, so they leave room for those due now
(bot/send_slots.py).

The timer is only a wake-up: a run that fails (database busy, an error at commit) is logged and
retried shortly, and a periodic safety wake-up runs whatever is due even if a timer was lost."""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from api import JobContext

from api.declared import Declared
from api.decorators import JOB_AHEAD_ATTR, JOB_ALWAYS_ATTR, JOB_EVERY_ATTR
from api.files import Retention, Vault
from bot.chat import OutboxChat
from api.i18n import Translator
from api.render import code
from bot.recipients import DbRecipients
from bot.schedule import DbSchedule
from storage import members, networks, runtime_state, schedule
from storage.database import Database
from storage.models import ScheduledAction

log = logging.getLogger("kring.schedule")
WAKE_JOB = "kring-wake"
SAFETY_JOB = "kring-safety-wake"
ALIVE_AT = "schedule_alive_at"  # runtime_state: the last time the schedule's safety wake-up ran
DEFAULT_ZONE = "Europe/Amsterdam"
BATCH = 50  # due rows run in one transaction at most
BATCH_SECONDS = 0.2  # a batch stops taking rows after this long (the write lock is not held longer)
START_SECONDS = 1.0  # the start runs what fell due for this long; the timer runs the rest just after
LEAD = timedelta(seconds=3)
"""How long before its due time a reminder is prepared (`@job(ahead=True)`). The run (due rows,
muted check, the job, the outbox rows, commit: ~10 ms, more under load) and the read of the DM
room (bot/holding.py, RESOLVE_BEFORE) then happen before the due time, not in the reminder's
delay; a few seconds cover a busy database, and keep short the window in which a cancellation
has to withdraw a prepared message."""


class _Tools:
    """The capabilities the jobs of one transaction share (translators looked up once per person)."""

    def __init__(self, session, now: datetime, language: str, withdrawing: Callable[[Any], None]) -> None:  # noqa: ANN001
        self.t = Translator(language)
        self.schedule = DbSchedule(session, now, withdrawing)
        self.recipients = DbRecipients(session, language)


class ScheduleRunner:
    def __init__(self, db: Database, jobs: dict[str, Callable[..., Awaitable[None]]], clock: Callable[[], datetime],
                 *, catch_up: timedelta, language: str, prefix: str = "!", on_commit: Callable[[], None] = lambda: None,
                 always: Iterable[str] = (), retry_after: timedelta = timedelta(seconds=30),
                 safety_interval: timedelta = timedelta(seconds=60), declared: Declared | None = None,
                 vault: Vault | None = None, retention: Retention | None = None,
                 submit: Callable[[list], None] | None = None,
                 withdrawing: Callable[[Any], None] = lambda session: None) -> None:
        self.vault = vault
        self.withdrawing = withdrawing  # a job withdraws held messages: the sender waits for its commit
        self.submit = submit  # hands committed outbox rows to the sender (else on_commit wakes it)
        self.retention = retention or Retention()
        self.db = db
        self.jobs = jobs
        self.declared = declared  # the features' hooks a job may set off (ctx.seats_changed)
        self.clock = clock
        self.catch_up = catch_up
        self.language = language
        self.prefix = prefix
        self.on_commit = on_commit
        self.always = set(always) | {kind for kind, fn in jobs.items() if getattr(fn, JOB_ALWAYS_ATTR, False)}
        self.ahead = frozenset(kind for kind, fn in jobs.items() if getattr(fn, JOB_AHEAD_ATTR, False))
        self.every: dict[str, timedelta] = {kind: getattr(fn, JOB_EVERY_ATTR) for kind, fn in jobs.items()
                                            if getattr(fn, JOB_EVERY_ATTR, None) is not None}
        self.retry_after = retry_after
        self.safety_interval = safety_interval
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self._lock = asyncio.Lock()
        self._runs: set[asyncio.Task] = set()
        self._next_wake: datetime | None = None
        self._stopped = False
        self._down: tuple[datetime | None, datetime] | None = None  # (last seen alive, started)

    async def start(self) -> None:
        self._stopped = False
        started = self.clock()
        try:
            async with self.db.transaction() as session:
                alive = await runtime_state.get(session, ALIVE_AT)
                await runtime_state.put(session, ALIVE_AT, started.isoformat())
            self._down = (datetime.fromisoformat(alive) if alive else None, started)
        except Exception:  # noqa: BLE001 - only the report's wording depends on it
            log.exception("could not read when the bot was last alive", extra={"ref": secrets.token_hex(3)})
            self._down = (None, started)
        await self._keep_sweeps(started)
        self._scheduler.start()
        self._scheduler.add_job(self._safety_wake, "interval", seconds=self.safety_interval.total_seconds(),
                                id=SAFETY_JOB, replace_existing=True, coalesce=True, max_instances=1,
                                misfire_grace_time=None)
        await self._start_run()

    async def _start_run(self) -> None:
        """What fell due while the bot was down: rows older than the window reported together
        (one report per network and event), then the rest run."""
        async with self._lock:
            try:
                await self._miss_stale()
            except Exception:  # noqa: BLE001 - logged; the batches below report them one by one
                log.exception("could not report the missed rows", extra={"ref": secrets.token_hex(3)})
        await self.run_due(budget=START_SECONDS)

    async def _keep_sweeps(self, now: datetime) -> None:
        """Each sweep kind (@job(every=...)) has a pending row: one due now if there is none."""
        if not self.every:
            return
        async with self.db.transaction() as session:
            for kind in sorted(self.every):
                if not await schedule.pending(session, kind):
                    await schedule.put(session, _sweep_key(kind, now), kind, now, {}, now)

    async def _safety_wake(self) -> None:
        try:
            async with self.db.transaction() as session:
                await runtime_state.put(session, ALIVE_AT, self.clock().isoformat())
        except Exception:  # noqa: BLE001 - logged; the run below matters more
            log.exception("could not record that the bot is alive", extra={"ref": secrets.token_hex(3)})
        await self.run_due()

    async def stop(self) -> None:
        self._stopped = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await asyncio.gather(*self._runs, return_exceptions=True)  # each run is short: let it finish
        async with self._lock:  # and so is a run the timer started: it ends before the database closes
            pass

    def wake(self) -> None:
        """Something changed in the table: run what is due and re-arm for the next row."""
        task = asyncio.get_running_loop().create_task(self.run_due())
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    async def _timer_fired(self) -> None:
        """The timer's job only starts a run and returns: a job still running when the run re-arms
        the timer for a row already due would make APScheduler skip the new firing (one instance
        per job), and that row would wait for the safety wake-up."""
        self.wake()

    def next_wake(self) -> datetime | None:
        """When the timer was last armed to run the schedule (None when nothing is pending)."""
        return self._next_wake

    async def run_due(self, budget: float | None = None) -> int:
        """Run every due row; never raises an ordinary error and always leaves the timer armed.
        With a `budget` (seconds), batches stop once it is spent and the timer, armed for now,
        runs the rest right after (the start is not held up by a long catch-up).

        Due rows run in batches, each in one transaction (bot/scheduler.py docstring). A batch
        that fails as a whole (at commit, say) is run again row by row: a row whose run fails then
        is left pending (its messages were rolled back with it) and skipped for the rest of this
        run, so it does not hold up the others; the run is then tried again after retry_after."""
        async with self._lock:
            if self._stopped:
                return 0
            ran, failed, skip, began = 0, False, set[int](), time.monotonic()
            try:
                while True:
                    ids: list[int] = []
                    try:
                        count, more = await self._run_batch(skip, ids)
                    except Exception:  # noqa: BLE001 - its rows are tried one by one below
                        if not ids:
                            raise
                        log.warning("a batch of scheduled actions failed; running its rows one by one",
                                    exc_info=True, extra={"rows": len(ids), "ref": secrets.token_hex(3)})
                        count, more = await self._run_singly(ids, skip), True
                        failed = failed or bool(skip)
                    ran += count
                    if not more or (budget is not None and time.monotonic() - began >= budget):
                        break
            except Exception:  # noqa: BLE001 - logged; the whole run is retried later
                failed = True
                log.exception("running the schedule failed; retrying later", extra={"ref": secrets.token_hex(3)})
            await self._rearm(failed)
            return ran

    async def _run_batch(self, skip: set[int], ids: list[int]) -> tuple[int, bool]:
        """One transaction: up to BATCH due rows (fewer once BATCH_SECONDS have gone, so that the
        write lock is not held long), each job in a savepoint of its own, their messages and done
        marks committed together, then handed to the sender. `ids` gets the rows read. Returns
        (rows run, whether more may be due)."""
        now, began = self.clock(), time.monotonic()
        outcomes: list[tuple[ScheduledAction, str]] = []
        async with self.db.transaction() as session:
            rows = await schedule.due(session, now, BATCH + len(skip), ahead_until=now + LEAD, ahead_kinds=self.ahead)
            rows = [r for r in rows if r.id not in skip][:BATCH]
            ids.extend(r.id for r in rows)
            if not rows:
                return 0, False
            chat, tools = OutboxChat(session, now), _Tools(session, now, self.language, self.withdrawing)
            muted = await members.muted_among(session, {r.recipient for r in rows if r.recipient})
            stale = [r for r in rows if now - r.due_at > self.catch_up and r.kind not in self.always]
            if stale:
                await self._report_missed(session, stale, now, chat)
            cut = False
            for row in rows:
                if row in stale:
                    continue
                if outcomes and time.monotonic() - began > BATCH_SECONDS:
                    cut = True  # left pending, untouched: the next batch takes it
                    break
                outcomes.append((row, await self._run_row(session, row, now, chat, tools, muted)))
        self._committed(chat.items)
        for row, outcome in outcomes:
            log.info("scheduled action", extra={"key": row.key, "kind": row.kind, "outcome": outcome})
        return len(outcomes), cut or len(rows) == BATCH

    async def _run_singly(self, ids: list[int], skip: set[int]) -> int:
        ran = 0
        for action_id in ids:
            try:
                ran += await self._run_one(action_id)
            except Exception:  # noqa: BLE001 - logged; the row is retried later
                skip.add(action_id)
                log.exception("scheduled action could not be run; retrying later",
                              extra={"action_id": action_id, "ref": secrets.token_hex(3)})
        return ran

    async def _run_row(self, session, row: ScheduledAction, now: datetime, chat: OutboxChat,  # noqa: ANN001
                       tools: _Tools, muted: set[str]) -> str:
        """Run one row's job in a savepoint (a failing job undoes only its own writes and messages)
        and mark the row done; returns the outcome."""
        fn = self.jobs.get(row.kind)
        outcome, early = schedule.DONE, row.kind in self.ahead and row.due_at > now
        if row.recipient and row.recipient in muted:
            outcome = "muted"
        elif fn is None:
            log.error("no job for scheduled kind", extra={"kind": row.kind, "key": row.key})
            outcome = "unknown-kind"
        else:
            ctx = JobContext(now=row.due_at if early else now, db=session, t=tools.t, chat=chat, schedule=tools.schedule, prefix=self.prefix,
                             recipients=tools.recipients, declared=self.declared, vault=self.vault,
                             retention=self.retention)
            queued = len(chat.items)
            chat.hold = (row.due_at, row.id) if row.kind in self.ahead else None  # run late: sent as late (bot/send_slots.py)
            try:
                async with session.begin_nested():
                    await fn(ctx, dict(row.payload))
                outcome = schedule.AHEAD if early else outcome
            except Exception:
                del chat.items[queued:]  # rolled back with the savepoint: never handed to the sender
                log.exception("scheduled action failed", extra={"key": row.key, "ref": secrets.token_hex(3)})
                outcome = "failed"
            finally:
                chat.hold = None
        schedule.finish(row, now, outcome)
        if row.kind in self.every:  # the sweep's next run, in the same transaction
            following = now + self.every[row.kind]
            await schedule.put(session, _sweep_key(row.kind, following), row.kind, following, {}, now)
        return outcome

    def _committed(self, items: list) -> None:
        """Messages just committed: straight to the sender when it takes them (no read back)."""
        if self.submit is not None:
            self.submit(items)
        else:
            self.on_commit()

    async def _rearm(self, failed: bool) -> None:
        """Arm the timer for the next row. After a failure the rows still due are the ones that
        failed: try them again after retry_after (sooner if another row falls due before that)."""
        next_at: datetime | None = None
        try:
            async with self.db.read() as session:
                next_at = await schedule.next_due_at(session, self.ahead, LEAD)
        except Exception:  # noqa: BLE001 - logged; armed for a retry
            failed = True
            log.exception("could not read the next due time; retrying later", extra={"ref": secrets.token_hex(3)})
        now = self.clock()
        if failed:
            retry_at = now + self.retry_after
            next_at = next_at if next_at is not None and now < next_at < retry_at else retry_at
        if next_at is None:
            self._next_wake = None
            if self._scheduler.get_job(WAKE_JOB):
                self._scheduler.remove_job(WAKE_JOB)
            return
        self._next_wake = max(next_at, now)
        self._scheduler.add_job(self._timer_fired, "date", run_date=self._next_wake, id=WAKE_JOB,
                                replace_existing=True, misfire_grace_time=None, coalesce=True)

    async def _run_one(self, action_id: int) -> int:
        """One row in a transaction of its own (after its batch failed as a whole)."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await schedule.lock_pending(session, action_id)
            if row is None:
                return 0
            chat = OutboxChat(session, now)
            if now - row.due_at > self.catch_up and row.kind not in self.always:
                await self._report_missed(session, [row], now, chat)
                ran, outcome = 0, "missed"
            else:
                muted = await members.muted_among(session, {row.recipient} if row.recipient else set())
                ran = 1
                tools = _Tools(session, now, self.language, self.withdrawing)
                outcome = await self._run_row(session, row, now, chat, tools, muted)
        self._committed(chat.items)
        log.info("scheduled action", extra={"key": row.key, "kind": row.kind, "outcome": outcome})
        return ran

    async def _miss_stale(self) -> None:
        """Rows older than the catch-up window are not sent: marked missed and reported, all in
        one transaction (the report and the marks are kept together or not at all). So are the
        messages of rows run ahead that a crash left held past the window (the sender has not
        started yet: it finds them done)."""
        now = self.clock()
        async with self.db.transaction() as session:
            chat = OutboxChat(session, now)
            rows = await schedule.stale(session, now - self.catch_up, self.always)
            rows += await schedule.stale_held(session, now - self.catch_up, now)
            if rows:
                await self._report_missed(session, rows, now, chat)
        if rows:
            self._committed(chat.items)

    async def _report_missed(self, session, rows: list[ScheduledAction], now: datetime,  # noqa: ANN001
                             chat: OutboxChat) -> None:
        """Mark `rows` missed; tell each network's coordinators' room how many of what were not
        sent and when the bot was down, in the network's language and on its clock."""
        recipients = DbRecipients(session, self.language)
        muted = await members.muted_among(session, {r.recipient for r in rows if r.recipient})
        groups: dict[tuple[str | None, str | None, str], list[ScheduledAction]] = {}
        for row in rows:
            log.warning("scheduled action missed: due before the catch-up window",
                        extra={"key": row.key, "kind": row.kind, "due_at": row.due_at.isoformat()})
            schedule.finish(row, now, "missed")
            if row.recipient in muted:
                continue  # nobody would have received it anyway
            noun = "announcement" if row.kind.startswith("announce") else "reminder"
            groups.setdefault((row.network, (row.payload or {}).get("title"), noun), []).append(row)
        since, until = self._down or (None, now)
        for (network, title, noun), missed in groups.items():
            room = await networks.room_id(session, network, "control") if network else None
            if room is None:
                continue
            net = await networks.get(session, network)
            zone = (net.timezone if net is not None else None) or DEFAULT_ZONE
            t = await recipients.for_network(network)
            first = min(r.due_at for r in missed)
            start = since if since is not None and since <= first else first
            key = f"schedule.missed.{noun}" + ("" if title else "_untitled")
            extra = {"announce": code(f"{self.prefix}announce")} if noun == "announcement" and title else {}
            await chat.send(room, t(key, count=len(missed), title=title or "", since=t.datetime(start, zone),
                                    until=t.datetime(max(until, start), zone), **extra))


def _sweep_key(kind: str, due: datetime) -> str:
    """A sweep's row is named by its due time (the one after a run is never the one that ran)."""
    return f"every:{kind}:{due.astimezone(timezone.utc):%Y%m%dT%H%M%S.%f}"
