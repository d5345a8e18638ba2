"""The schedule: what fell due runs once, writes its messages in the same transaction as its
done mark, survives restarts, skips what is too old, and a failing job stops nothing else."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from api import JobContext
from api.render import as_text
from bot.schedule import DbSchedule
from api.decorators import JOB_AHEAD_ATTR
from bot.scheduler import BATCH, ScheduleRunner
from storage import schedule as schedule_rows
from storage.database import Database
from storage.models import ScheduledAction
from tests.unit.helpers import T0, FakeClock, outbox_rows

pytestmark = pytest.mark.both_databases  # the batch lock (FOR UPDATE) is PostgreSQL's

ROOM = "!reminders:example.org"


class Jobs:
    """Job functions by kind that record each run; `remind` writes a message to the outbox."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, dict[str, Any]]] = []

    async def remind(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        self.runs.append(("remind", payload))
        await ctx.chat.send(ROOM, as_text(f"Reminder: {payload['what']}"), mentions=("@alice:example.org",))

    async def explode(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        self.runs.append(("explode", payload))
        await ctx.chat.send(ROOM, as_text("half-done work that must not be sent"))
        raise RuntimeError("a bug in a job")

    def table(self) -> dict[str, Any]:
        return {"remind": self.remind, "explode": self.explode}


@pytest.fixture
def jobs() -> Jobs:
    return Jobs()


def runner_for(db: Database, jobs: Jobs, clock: FakeClock, catch_up: timedelta = timedelta(hours=24)) -> ScheduleRunner:
    return ScheduleRunner(db, jobs.table(), clock, catch_up=catch_up, language="en")


async def put(db: Database, key: str, kind: str, due_at: datetime, **payload: Any) -> None:
    async with db.transaction() as session:
        await DbSchedule(session, T0 - timedelta(days=3)).at(key, kind, due_at, payload)


async def row(db: Database, key: str) -> ScheduledAction:
    async with db.transaction() as session:
        return (await session.execute(select(ScheduledAction).where(ScheduledAction.key == key))).scalar_one()


async def test_a_due_row_runs_once_and_its_message_is_queued(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    await put(db, "remind:1", "remind", clock.now - timedelta(minutes=5), what="bring your case")
    runner = runner_for(db, jobs, clock)
    assert await runner.run_due() == 1
    assert jobs.runs == [("remind", {"what": "bring your case"})]
    done = await row(db, "remind:1")
    assert (done.done_at, done.outcome) == (clock.now, "done")
    [sent] = await outbox_rows(db)
    assert sent.room_id == ROOM and sent.payload["content"]["body"] == "Reminder: bring your case"
    assert sent.payload["content"]["msgtype"] == "m.text"
    assert sent.payload["content"]["m.mentions"] == {"user_ids": ["@alice:example.org"]}

    assert await runner.run_due() == 0
    assert len(jobs.runs) == 1 and len(await outbox_rows(db)) == 1


async def test_a_row_not_yet_due_waits(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    await put(db, "remind:later", "remind", clock.now + timedelta(minutes=1), what="x")
    runner = runner_for(db, jobs, clock)
    assert await runner.run_due() == 0 and jobs.runs == []
    clock.advance(minutes=1)
    assert await runner.run_due() == 1 and len(jobs.runs) == 1


async def test_the_message_and_the_done_mark_commit_together(db: Database, jobs: Jobs, clock: FakeClock,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """If marking the row done fails, its message is not queued either, so a retry sends it once."""
    await put(db, "remind:1", "remind", clock.now, what="once")
    runner = runner_for(db, jobs, clock)

    def broken_finish(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(schedule_rows, "finish", broken_finish)
    assert await runner.run_due() == 0  # logged, not raised: the timer must stay armed
    assert await outbox_rows(db) == [] and (await row(db, "remind:1")).done_at is None
    monkeypatch.undo()
    assert await runner.run_due() == 1
    assert [r.payload["content"]["body"] for r in await outbox_rows(db)] == ["Reminder: once"]


async def test_a_row_older_than_the_catch_up_window_is_missed_not_run(db: Database, jobs: Jobs,
                                                                       clock: FakeClock) -> None:
    await put(db, "remind:ancient", "remind", clock.now - timedelta(hours=3, seconds=1), what="too late")
    await put(db, "remind:recent", "remind", clock.now - timedelta(hours=2, minutes=59), what="still useful")
    assert await runner_for(db, jobs, clock, catch_up=timedelta(hours=3)).run_due() == 1
    assert jobs.runs == [("remind", {"what": "still useful"})]
    missed = await row(db, "remind:ancient")
    assert (missed.outcome, missed.done_at) == ("missed", clock.now)
    assert [r.payload["content"]["body"] for r in await outbox_rows(db)] == ["Reminder: still useful"]


async def test_a_failing_job_is_marked_and_the_others_still_run(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    await put(db, "a-explode", "explode", clock.now - timedelta(minutes=2))
    await put(db, "b-remind", "remind", clock.now - timedelta(minutes=1), what="after the failure")
    assert await runner_for(db, jobs, clock).run_due() == 2
    assert [kind for kind, _ in jobs.runs] == ["explode", "remind"]
    assert (await row(db, "a-explode")).outcome == "failed"
    assert (await row(db, "b-remind")).outcome == "done"
    assert [r.payload["content"]["body"] for r in await outbox_rows(db)] == ["Reminder: after the failure"]


async def test_rows_due_together_reach_the_sender_without_the_messages_of_a_failed_job(
        db: Database, jobs: Jobs, clock: FakeClock) -> None:
    """Rows due together run in one go and their messages go straight to the sender; what a
    failing job had queued was rolled back with it and is never handed over."""
    await put(db, "a-remind", "remind", clock.now - timedelta(minutes=3), what="first")
    await put(db, "b-explode", "explode", clock.now - timedelta(minutes=2))
    await put(db, "c-remind", "remind", clock.now - timedelta(minutes=1), what="third")
    handed: list[Any] = []
    runner = ScheduleRunner(db, jobs.table(), clock, catch_up=timedelta(hours=24), language="en", submit=handed.extend)
    assert await runner.run_due() == 3
    assert [i.payload["content"]["body"] for i in handed] == ["Reminder: first", "Reminder: third"]
    assert sorted(i.id for i in handed) == sorted(r.id for r in await outbox_rows(db))


async def test_an_unknown_kind_is_marked_and_does_not_block(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    await put(db, "a-gone", "feature-removed", clock.now - timedelta(minutes=2))
    await put(db, "b-remind", "remind", clock.now - timedelta(minutes=1), what="x")
    assert await runner_for(db, jobs, clock).run_due() == 2
    assert (await row(db, "a-gone")).outcome == "unknown-kind"
    assert len(jobs.runs) == 1


async def test_a_restart_never_runs_a_done_row_again(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    await put(db, "remind:1", "remind", clock.now - timedelta(minutes=1), what="x")
    await put(db, "remind:2", "remind", clock.now + timedelta(hours=1), what="y")
    assert await runner_for(db, jobs, clock).run_due() == 1
    clock.advance(hours=1)
    restarted = Jobs()
    assert await runner_for(db, restarted, clock).run_due() == 1
    assert restarted.runs == [("remind", {"what": "y"})]
    assert len(await outbox_rows(db)) == 2


async def test_two_runners_racing_run_each_row_once(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    for n in range(5):
        await put(db, f"remind:{n}", "remind", clock.now - timedelta(minutes=n), what=str(n))
    ran = await asyncio.gather(runner_for(db, jobs, clock).run_due(), runner_for(db, jobs, clock).run_due())
    assert sum(ran) == 5
    assert sorted(p["what"] for _, p in jobs.runs) == ["0", "1", "2", "3", "4"]
    assert len(await outbox_rows(db)) == 5


async def test_rescheduling_before_it_is_due_moves_it(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    await put(db, "remind:1", "remind", clock.now + timedelta(minutes=10), what="old")
    await put(db, "remind:1", "remind", clock.now + timedelta(hours=2), what="new")
    runner = runner_for(db, jobs, clock)
    clock.advance(minutes=30)
    assert await runner.run_due() == 0
    clock.advance(hours=2)
    assert await runner.run_due() == 1
    assert jobs.runs == [("remind", {"what": "new"})]


async def test_a_cancelled_row_never_runs(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    await put(db, "remind:1", "remind", clock.now + timedelta(minutes=10), what="x")
    async with db.transaction() as session:
        await DbSchedule(session, clock.now).cancel("remind:1")
    clock.advance(hours=1)
    assert await runner_for(db, jobs, clock).run_due() == 0
    assert (await row(db, "remind:1")).outcome == "cancelled"


async def test_the_timer_wakes_the_bot_when_a_row_falls_due(db: Database) -> None:
    """Real time: the row is due a moment from now and runs without anyone calling run_due."""
    committed = asyncio.Event()

    async def remind(ctx: JobContext, payload: dict[str, Any]) -> None:
        await ctx.chat.send(ROOM, as_text("on time"))

    def now() -> datetime:
        return datetime.now(timezone.utc)

    runner = ScheduleRunner(db, {"remind": remind}, now, catch_up=timedelta(hours=1), language="en",
                            on_commit=committed.set)
    await runner.start()
    try:
        await put(db, "soon", "remind", now() + timedelta(milliseconds=300))
        runner.wake()
        await asyncio.wait_for(committed.wait(), timeout=10)
    finally:
        await runner.stop()
    assert (await row(db, "soon")).outcome == "done"
    assert [r.payload["content"]["body"] for r in await outbox_rows(db)] == ["on time"]


async def test_a_row_that_falls_due_while_the_timer_runs_the_schedule_is_not_left_waiting(db: Database) -> None:
    """Real time: the first row's job is slow, the second falls due meanwhile; the timer re-armed
    for it at once runs it (no safety wake-up for an hour)."""
    done: dict[str, asyncio.Event] = {"first": asyncio.Event(), "second": asyncio.Event()}

    async def remind(ctx: JobContext, payload: dict[str, Any]) -> None:
        if payload["what"] == "first":
            await asyncio.sleep(0.5)  # a slow job (a busy database), not a synchronisation
        await ctx.chat.send(ROOM, as_text(payload["what"]))

    def now() -> datetime:
        return datetime.now(timezone.utc)

    runner = ScheduleRunner(db, {"remind": remind}, now, catch_up=timedelta(hours=1), language="en",
                            submit=lambda items: [done[i.payload["content"]["body"]].set() for i in items],
                            safety_interval=timedelta(hours=1))
    await put(db, "first", "remind", now() + timedelta(milliseconds=200), what="first")
    await put(db, "second", "remind", now() + timedelta(milliseconds=400), what="second")
    await runner.start()
    try:
        await asyncio.wait_for(done["first"].wait(), timeout=10)
        await asyncio.wait_for(done["second"].wait(), timeout=10)
    finally:
        await runner.stop()
    assert [r.payload["content"]["body"] for r in await outbox_rows(db)] == ["first", "second"]


async def test_a_long_catch_up_does_not_hold_up_the_start(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real time: with more fallen due than the start runs (here one batch of one row), the start
    returns and the timer runs the rest at once."""
    import bot.scheduler as scheduler_module
    monkeypatch.setattr(scheduler_module, "BATCH", 1)
    monkeypatch.setattr(scheduler_module, "START_SECONDS", 0.0)
    sent: list[str] = []
    all_sent = asyncio.Event()

    async def remind(ctx: JobContext, payload: dict[str, Any]) -> None:
        await ctx.chat.send(ROOM, as_text(payload["what"]))

    def handed(items: list[Any]) -> None:
        sent.extend(i.payload["content"]["body"] for i in items)
        if len(sent) == 3:
            all_sent.set()

    for n in range(3):
        await put(db, f"fell-due-{n}", "remind", real_now() - timedelta(minutes=3 - n), what=str(n))
    runner = ScheduleRunner(db, {"remind": remind}, real_now, catch_up=timedelta(hours=1), language="en",
                            submit=handed, safety_interval=timedelta(hours=1))
    await runner.start()
    try:
        assert sent == ["0"], "the start ran one batch and returned"
        await asyncio.wait_for(all_sent.wait(), timeout=10)
    finally:
        await runner.stop()
    assert sent == ["0", "1", "2"]


# ---- robustness: a failed run never leaves the timer un-armed --------------------------------

def real_now() -> datetime:
    return datetime.now(timezone.utc)


def database_locked() -> OperationalError:
    import sqlite3

    return OperationalError("SELECT ... FROM scheduled_actions", {}, sqlite3.OperationalError("database is locked"))


async def test_a_row_that_fails_at_commit_is_retried_later_and_does_not_hold_up_the_others(
        db: Database, jobs: Jobs, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    await put(db, "a-remind", "remind", clock.now - timedelta(minutes=2), what="first")
    await put(db, "b-remind", "remind", clock.now - timedelta(minutes=1), what="second")
    await put(db, "c-remind", "remind", clock.now + timedelta(hours=1), what="later")
    real_finish = schedule_rows.finish

    def finish_fails_for_a(row: ScheduledAction, now: datetime, outcome: str) -> None:
        if row.key == "a-remind":
            raise OSError("disk I/O error")
        real_finish(row, now, outcome)

    monkeypatch.setattr(schedule_rows, "finish", finish_fails_for_a)
    runner = runner_for(db, jobs, clock)
    assert await runner.run_due() == 1
    assert [r.payload["content"]["body"] for r in await outbox_rows(db)] == ["Reminder: second"]
    assert (await row(db, "a-remind")).done_at is None
    [failure] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(failure.ref) == 6 and failure.exc_info is not None
    assert runner.next_wake() == clock.now + timedelta(seconds=30), "retried in 30 s, not never"

    monkeypatch.undo()
    clock.advance(seconds=30)
    assert await runner.run_due() == 1
    assert [r.payload["content"]["body"] for r in await outbox_rows(db)] == ["Reminder: second", "Reminder: first"]
    assert runner.next_wake() == clock.now + timedelta(minutes=59, seconds=30), "then armed for the next row"


async def test_the_timer_retries_after_the_database_failed(db: Database, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Real time: the first run finds the database locked; nobody wakes the runner, the retry
    timer runs the reminder anyway."""
    committed = asyncio.Event()
    real_due = schedule_rows.due
    failures: list[int] = []

    async def due_once_locked(session: Any, now: datetime, limit: int = 100, **ahead: Any) -> list[ScheduledAction]:
        if not failures:
            failures.append(1)
            raise database_locked()
        return await real_due(session, now, limit, **ahead)

    async def remind(ctx: JobContext, payload: dict[str, Any]) -> None:
        await ctx.chat.send(ROOM, as_text("despite the hiccup"))

    await put(db, "due-now", "remind", real_now() - timedelta(seconds=1))
    monkeypatch.setattr(schedule_rows, "due", due_once_locked)
    runner = ScheduleRunner(db, {"remind": remind}, real_now, catch_up=timedelta(hours=1), language="en",
                            on_commit=committed.set, retry_after=timedelta(milliseconds=200),
                            safety_interval=timedelta(hours=1))
    await runner.start()  # runs what is due: fails, logged, not raised
    try:
        assert failures == [1] and not committed.is_set()
        assert any(r.levelname == "ERROR" and getattr(r, "ref", None) for r in caplog.records)
        await asyncio.wait_for(committed.wait(), timeout=10)
    finally:
        await runner.stop()
    assert (await row(db, "due-now")).outcome == "done"
    assert [r.payload["content"]["body"] for r in await outbox_rows(db)] == ["despite the hiccup"]


async def test_the_safety_wake_up_runs_a_row_nobody_announced(db: Database) -> None:
    """Real time: a row written without wake() (say, by another process) still runs."""
    committed = asyncio.Event()

    async def remind(ctx: JobContext, payload: dict[str, Any]) -> None:
        await ctx.chat.send(ROOM, as_text("found by the safety wake-up"))

    runner = ScheduleRunner(db, {"remind": remind}, real_now, catch_up=timedelta(hours=1), language="en",
                            on_commit=committed.set, safety_interval=timedelta(milliseconds=300))
    await runner.start()
    try:
        assert runner.next_wake() is None
        await put(db, "unannounced", "remind", real_now())
        await asyncio.wait_for(committed.wait(), timeout=10)
    finally:
        await runner.stop()
    assert (await row(db, "unannounced")).outcome == "done"


async def test_a_state_repair_kind_runs_however_late(db: Database, jobs: Jobs, clock: FakeClock) -> None:
    """A job marked __kring_job_always__ (e.g. expiring a seat offer) is never skipped as missed."""
    repaired: list[dict[str, Any]] = []

    async def expire_offer(ctx: JobContext, payload: dict[str, Any]) -> None:
        repaired.append(payload)

    expire_offer.__kring_job_always__ = True  # type: ignore[attr-defined]
    table = {**jobs.table(), "offer-expiry": expire_offer}
    await put(db, "offer:1", "offer-expiry", clock.now - timedelta(days=3), offer=1)
    await put(db, "remind:old", "remind", clock.now - timedelta(days=3), what="stale")
    runner = ScheduleRunner(db, table, clock, catch_up=timedelta(hours=3), language="en")
    assert runner.always == {"offer-expiry"}
    assert await runner.run_due() == 1
    assert repaired == [{"offer": 1}] and jobs.runs == []
    assert (await row(db, "offer:1")).outcome == "done"
    assert (await row(db, "remind:old")).outcome == "missed"


async def test_a_sweep_keeps_itself_going_once_across_restarts(db: Database, clock: FakeClock) -> None:
    """@job(every=...): a row due at the first start, the next one an interval after each run, and
    a restart with one pending makes no second one."""
    from api import job

    runs: list[datetime] = []

    @job("sweep", every=timedelta(hours=1))
    async def sweep(ctx: JobContext, payload: dict[str, Any]) -> None:
        runs.append(ctx.now)

    first = ScheduleRunner(db, {"sweep": sweep}, clock, catch_up=timedelta(minutes=5), language="en")
    await first.start()
    assert runs == [T0]
    await first.stop()
    clock.now = T0 + timedelta(minutes=30)
    again = ScheduleRunner(db, {"sweep": sweep}, clock, catch_up=timedelta(minutes=5), language="en")
    await again.start()
    assert runs == [T0], "one pending already: the restart makes none"
    clock.now = T0 + timedelta(hours=5)  # long after its time: a sweep runs however late, once
    await again.run_due()
    await again.run_due()
    assert runs == [T0, T0 + timedelta(hours=5)]
    async with db.transaction() as session:
        assert len(await schedule_rows.pending(session, "sweep")) == 1
    await again.stop()


async def test_a_reminder_due_in_a_moment_is_prepared_before_a_long_catch_up(db: Database, jobs: Jobs,
                                                                              clock: FakeClock) -> None:
    """More rows fell due while the bot was down than one batch takes: the reminder due in two
    seconds is prepared first, not after the backlog (which would make it late too)."""
    async def soon(ctx: JobContext, payload: dict[str, Any]) -> None:
        await ctx.chat.send(ROOM, as_text("due in a moment"))

    setattr(soon, JOB_AHEAD_ATTR, True)
    for i in range(BATCH + 5):
        await put(db, f"remind:{i:03d}", "remind", clock.now - timedelta(minutes=1), what=f"late {i}")
    await put(db, "soon", "soon", clock.now + timedelta(seconds=2))
    runner = ScheduleRunner(db, {**jobs.table(), "soon": soon}, clock, catch_up=timedelta(hours=24), language="en")
    assert await runner.run_due() == BATCH + 6
    bodies = [r.payload["content"]["body"] for r in await outbox_rows(db)]
    assert bodies[0] == "due in a moment" and len(bodies) == BATCH + 6
