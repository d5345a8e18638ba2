"""Event reminders prepared a few seconds ahead of their time (bot/scheduler.py, LEAD) so that at
the time only the send happens: written as at their due time, held, counted as sent only at it and
once; and whatever removes a reminder in those seconds withdraws the prepared one (a cancelled
registration or event, a moved start, `!reminders off`, `!forgetme`): nothing cancelled is sent."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.scheduler import LEAD
from storage import outbox
from storage.database import Database
from storage.models import OutboxItem, ScheduledAction
from tests.unit.event_world import CONTROL, EventWorld
from tests.unit.helpers import FakeClock
from tests.unit.test_reminders import fire, make_event, runner, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.both_databases  # and on PostgreSQL where it answers (conftest)
UTC = timezone.utc
START = "2025-04-14 10:00"  # Amsterdam: the day reminder is due 13 April 10:00, 08:00 UTC
DUE = datetime(2025, 4, 13, 8, 0, tzinfo=UTC)


async def test_the_timer_wakes_the_schedule_a_lead_before_a_reminder_is_due(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts=START, extra="\nreminders: 1d")
    await world.say(alice, f"!register {slug}")
    run = runner(db, clock)
    await run.run_due()
    assert run.next_wake() == DUE - LEAD


async def prepared(world: EventWorld, db: Database, clock: FakeClock, user: str) -> OutboxItem:
    """Two seconds before the due time the reminder is made and held: nothing has gone out yet."""
    assert await fire(world, runner(db, clock), clock, DUE - timedelta(seconds=2)) == []
    async with db.read() as s:
        [item] = (await s.execute(select(OutboxItem).where(OutboxItem.user_id == user))).scalars().all()
        row = await s.get(ScheduledAction, item.action_id)
    assert item.send_at == DUE and item.done_at is None and "Reminder" in item.payload["content"]["body"]
    assert row is not None and row.outcome == "ahead", "done in the same transaction as its held message"
    return item


async def test_a_reminder_is_made_ahead_as_at_its_time_and_sent_at_it_once(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts=START, extra="\nreminders: 1d")
    await world.say(alice, f"!register {slug}")
    await prepared(world, db, clock, alice)
    assert await fire(world, runner(db, clock), clock, DUE - timedelta(milliseconds=1)) == []
    [sent] = await fire(world, runner(db, clock), clock, DUE)
    assert sent.user_id == alice and "begins tomorrow" in sent.body and sent.msgtype == "m.text"
    assert await fire(world, runner(db, clock), clock, DUE + timedelta(minutes=5)) == []


async def _cancel_registration(world: EventWorld, slug: str, carol: str, alice: str) -> None:
    await world.say(alice, f"!cancel {slug}")


async def _cancel_event(world: EventWorld, slug: str, carol: str, alice: str) -> None:
    await world.say(carol, f"!event cancel {slug}")
    await world.say(carol, "!confirm")


async def _move_start(world: EventWorld, slug: str, carol: str, alice: str) -> None:
    await world.say(carol, f"!event edit {slug} starts: 2025-04-15 10:00\nends: 2025-04-15 17:00")
    await world.say(carol, "!confirm")


async def _reminders_off(world: EventWorld, slug: str, carol: str, alice: str) -> None:
    assert "Reminders are off" in (await world.say(alice, "!reminders off")).text()


async def _forgetme(world: EventWorld, slug: str, carol: str, alice: str) -> None:
    await world.say(alice, "!forgetme")
    await world.say(alice, "!confirm")


@pytest.mark.parametrize("change", [_cancel_registration, _cancel_event, _move_start, _reminders_off, _forgetme])
async def test_what_removes_a_reminder_in_its_last_seconds_withdraws_the_prepared_one(
        world: EventWorld, db: Database, clock: FakeClock, change) -> None:  # noqa: ANN001
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts=START, extra="\nreminders: 1d")
    await world.say(alice, f"!register {slug}")
    item = await prepared(world, db, clock, alice)
    clock.now = DUE - timedelta(seconds=1)
    await change(world, slug, carol, alice)
    assert await fire(world, runner(db, clock), clock, DUE) == []
    async with db.read() as s:
        row = (await s.execute(select(OutboxItem).where(OutboxItem.txn_id == item.txn_id))).scalar()
    assert row is None or (row.done_at is not None and row.error == outbox.WITHDRAWN), "never sent"
    if change is _move_start:  # the reminder for the new start still comes, a day before it
        [sent] = await fire(world, runner(db, clock), clock, DUE + timedelta(days=1))
        assert sent.user_id == alice and "15 April" in sent.body


async def test_a_prepared_reminder_left_held_past_the_catch_up_window_is_reported_not_sent(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    """The bot crashes after preparing the reminder (its row done, the message held) and stays down
    longer than the catch-up window: on start the message is not sent but counted in the report to
    the control room, its row marked missed, as for a row that never ran."""
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts=START, extra="\nreminders: 1d")
    await world.say(alice, f"!register {slug}")
    item = await prepared(world, db, clock, alice)
    clock.now = DUE + timedelta(hours=3)
    restarted = runner(db, clock, catch_up=timedelta(hours=2))
    await restarted.start()
    try:
        said = await world.new_output()
        [report] = [s for s in said if s.room_id == CONTROL]
        assert "1 reminder for Intervision day was not sent" in report.body and "Kring was down from" in report.body
        assert [s for s in said if "Reminder" in s.body] == []
        async with db.read() as s:
            row = await s.get(ScheduledAction, item.action_id)
            held = await s.get(OutboxItem, item.id)
        assert (row.outcome, row.done_at) == ("missed", clock.now)
        assert held.done_at == clock.now and held.error == outbox.MISSED, "never sent, also not by a later start"
    finally:
        await restarted.stop()
