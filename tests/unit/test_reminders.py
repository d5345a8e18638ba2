"""Reminders through the bot, on an injectable clock: event reminders by DM at the configured
offsets on the wall clock of the event's zone across the EU summer-time changes (Amsterdam,
Brussels, Oslo), on each reader's own clock; moved with the start, removed on cancellation,
no late copy; the questions-in-advance reminder; `!reminders off`; after downtime, a reminder
inside the catch-up window runs once, an older one is reported to the coordinators' room."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage import members, networks
from storage.database import Database
from tests.unit.event_world import CONTROL, NET, EventWorld
from tests.unit.helpers import FakeClock

UTC = timezone.utc


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:  # noqa: ANN001
    w = await EventWorld(db, make_dispatcher(), clock).setup()
    async with db.transaction() as s:  # the network's configured offsets
        (await networks.get(s, NET)).reminder_offsets = "10080,1440,60"
    return w


def runner(db: Database, clock: FakeClock, catch_up: timedelta = timedelta(hours=24)) -> ScheduleRunner:
    return ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=catch_up, language="en")


async def make_event(world: EventWorld, carol: str, *, starts: str, zone: str = "Europe/Amsterdam",
                     extra: str = "") -> str:
    form = (f"!event create\ntitle: Intervision day\npurpose: Work through members' cases with the LON-VP method.\n"
            f"timezone: {zone}\nstarts: {starts}\nends: 17:00\nplace: Town hall, Leuven\ncapacity: 10{extra}")
    text = (await world.say(carol, form)).text()
    assert "Created draft" in text, text
    slug = text.split("Created draft ", 1)[1].split(".", 1)[0]
    assert "Published" in (await world.publish(carol, slug)).text()
    return slug


async def fire(world: EventWorld, run: ScheduleRunner, clock: FakeClock, at: datetime) -> list:
    """Move the clock to `at` and run what is due; the reminders that went out."""
    clock.now = at
    said = await world.run_due(run)
    return [s for s in said if s.kind == "message" and "Reminder" in s.body]


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "Europe/Brussels", "Europe/Oslo"])
async def test_reminders_come_at_the_same_wall_clock_time_across_the_spring_change(
        world: EventWorld, db: Database, clock: FakeClock, zone: str) -> None:
    """Start Monday 31 March 2025 10:00, the day after summer time began (Sunday 30 March): the
    week-before reminder comes at 10:00 winter time (09:00 UTC), the day-before one at 10:00
    summer time (08:00 UTC), the hour-before one at 09:00 summer time (07:00 UTC)."""
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts="2025-03-31 10:00", zone=zone)
    await world.say(alice, f"!register {slug}")
    run = runner(db, clock)
    for due in (datetime(2025, 3, 24, 9, 0, tzinfo=UTC), datetime(2025, 3, 30, 8, 0, tzinfo=UTC),
                datetime(2025, 3, 31, 7, 0, tzinfo=UTC)):
        assert await fire(world, run, clock, due - timedelta(seconds=1)) == [], due
        [sent] = await fire(world, run, clock, due)
        assert sent.user_id == alice and sent.msgtype == "m.text"
        assert sent.payload["content"]["m.mentions"] == {"user_ids": [alice]}
        assert "10:00" in sent.body and "Intervision day" in sent.body and "Town hall, Leuven" in sent.body
    assert await fire(world, run, clock, datetime(2025, 3, 31, 9, 0, tzinfo=UTC)) == []  # each once


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "Europe/Brussels", "Europe/Oslo"])
async def test_reminders_come_at_the_same_wall_clock_time_across_the_autumn_change(
        world: EventWorld, db: Database, clock: FakeClock, zone: str) -> None:
    """Start Monday 27 October 2025 10:00, the day after summer time ended (Sunday 26 October)."""
    clock.now = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts="2025-10-27 10:00", zone=zone)
    await world.say(alice, f"!register {slug}")
    run = runner(db, clock)
    for due in (datetime(2025, 10, 20, 8, 0, tzinfo=UTC), datetime(2025, 10, 26, 9, 0, tzinfo=UTC),
                datetime(2025, 10, 27, 8, 0, tzinfo=UTC)):
        assert await fire(world, run, clock, due - timedelta(seconds=1)) == [], due
        [sent] = await fire(world, run, clock, due)
        assert "10:00" in sent.body


async def test_a_member_in_another_zone_gets_the_same_instant_on_their_own_clock(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol, alice, nina = (await world.person("carol", "coordinator"), await world.person("alice"),
                          await world.person("nina"))
    await world.say(nina, "!tz America/New_York")
    slug = await make_event(world, carol, starts="2025-03-31 10:00", extra="\nreminders: 1d")
    for who in (alice, nina):
        await world.say(who, f"!register {slug}")
    sent = await fire(world, runner(db, clock), clock, datetime(2025, 3, 30, 8, 0, tzinfo=UTC))
    by = {s.user_id: s.body for s in sent}
    assert set(by) == {alice, nina}
    assert "10:00" in by[alice] and "Amsterdam" in by[alice]
    assert "04:00" in by[nina] or "4:00" in by[nina]
    assert "New York" in by[nina]


async def test_moving_the_start_moves_the_reminders_and_cancelling_removes_them(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts="2025-04-14 10:00", extra="\nreminders: 1d")
    await world.say(alice, f"!register {slug}")
    await world.say(carol, f"!event edit {slug} starts: 2025-04-15 10:00\nends: 2025-04-15 17:00")
    await world.say(carol, "!confirm")
    run = runner(db, clock)
    assert await fire(world, run, clock, datetime(2025, 4, 13, 8, 0, tzinfo=UTC)) == []  # the old time
    [sent] = await fire(world, run, clock, datetime(2025, 4, 14, 8, 0, tzinfo=UTC))
    assert "15 April" in sent.body
    slug2 = await make_event(world, carol, starts="2025-04-20 10:00", extra="\nreminders: 1d")
    await world.say(alice, f"!register {slug2}")
    await world.say(carol, f"!event cancel {slug2}")
    await world.say(carol, "!confirm")
    assert await fire(world, run, clock, datetime(2025, 4, 19, 8, 0, tzinfo=UTC)) == []


async def test_a_cancelled_registration_is_not_reminded_and_a_late_one_gets_no_late_copy(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol, alice, bob = (await world.person("carol", "coordinator"), await world.person("alice"),
                         await world.person("bob"))
    slug = await make_event(world, carol, starts="2025-03-20 10:00")
    await world.say(alice, f"!register {slug}")
    await world.say(alice, f"!cancel {slug}")
    run = runner(db, clock)
    clock.now = datetime(2025, 3, 19, 12, 0, tzinfo=UTC)  # after the week and day reminders' times
    await world.say(bob, f"!register {slug}")
    sent = await fire(world, run, clock, datetime(2025, 3, 20, 7, 59, tzinfo=UTC))
    assert sent == []
    [hour] = await fire(world, run, clock, datetime(2025, 3, 20, 8, 0, tzinfo=UTC))
    assert hour.user_id == bob and "in an hour" in hour.body


async def test_reminders_off_silences_them_and_shows_in_the_profile(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts="2025-04-14 10:00", extra="\nreminders: 1d")
    await world.say(alice, f"!register {slug}")
    assert "Reminders are off" in (await world.say(alice, "!reminders off")).text()
    assert "Reminders: off" in (await world.say(alice, "!profile")).text()
    assert await fire(world, runner(db, clock), clock, datetime(2025, 4, 13, 8, 0, tzinfo=UTC)) == []
    assert "Reminders are on again" in (await world.say(alice, "!herinneringen aan")).text()
    assert "Reminders: on" in (await world.say(alice, "!profile")).text()
    text = (await world.say(alice, "!reminders maybe")).text()
    assert '"maybe" is neither on nor off' in text


async def test_the_questions_reminder_goes_once_to_those_who_sent_none(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol, alice, bob = (await world.person("carol", "coordinator"), await world.person("alice"),
                         await world.person("bob"))
    slug = await make_event(world, carol, starts="2025-04-14 10:00",
                            extra="\nreminders: none\nquestions by: 2025-04-10 12:00")
    for who in (alice, bob):
        await world.say(who, f"!register {slug}")
    await world.say(bob, f"!ask {slug} How do we keep the notes anonymous?")
    clock.now = datetime(2025, 4, 9, 10, 0, tzinfo=UTC)  # 12:00 in Amsterdam, a day before
    said = await world.run_due(runner(db, clock))
    [sent] = [s for s in said if s.kind == "message"]
    assert sent.user_id == alice and "questions and cases are collected in advance" in sent.body
    assert f"!ask {slug}" in sent.body
    clock.now = datetime(2025, 4, 10, 10, 0, tzinfo=UTC)
    assert [s for s in await world.run_due(runner(db, clock)) if s.kind == "message"] == []


async def test_after_downtime_a_recent_reminder_runs_once_and_an_older_one_is_reported(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol, alice, bob = (await world.person("carol", "coordinator"), await world.person("alice"),
                         await world.person("bob"))
    slug = await make_event(world, carol, starts="2025-04-14 10:00")
    for who in (alice, bob):
        await world.say(who, f"!register {slug}")
    run = runner(db, clock, catch_up=timedelta(hours=2))
    await run.start()
    try:
        await run.stop()  # the bot goes down on 10 March; the week reminders (7 April 10:00) pass
        clock.now = datetime(2025, 4, 13, 7, 0, tzinfo=UTC)  # up again an hour before the day reminders
        restarted = runner(db, clock, catch_up=timedelta(hours=2))
        await restarted.start()
        said = await world.new_output()
        report = [s for s in said if s.room_id == CONTROL]
        assert len(report) == 1 and "2 reminders for Intervision day were not sent" in report[0].body
        assert "Kring was down from" in report[0].body and report[0].msgtype == "m.text"
        assert [s for s in said if "Reminder" in s.body] == []
        clock.now = datetime(2025, 4, 13, 9, 30, tzinfo=UTC)  # the day reminders fell due 08:00: in the window
        await restarted.stop()
        again = runner(db, clock, catch_up=timedelta(hours=2))
        await again.start()
        sent = [s for s in await world.new_output() if "Reminder" in s.body]
        assert sorted(s.user_id for s in sent) == sorted([alice, bob])
        await again.run_due()
        assert [s for s in await world.new_output() if "Reminder" in s.body] == []  # never twice
        await again.stop()
    finally:
        await run.stop()


async def test_forgetme_removes_the_persons_reminders(world: EventWorld, db: Database, clock: FakeClock) -> None:
    from sqlalchemy import select
    from storage.models import ScheduledAction
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts="2025-04-14 10:00")
    await world.say(alice, f"!register {slug}")
    async with db.transaction() as s:
        mine = (await s.execute(select(ScheduledAction).where(ScheduledAction.recipient == alice))).scalars().all()
        assert len(mine) == 3 and all(r.network == NET for r in mine)
    data = b"".join(f.file_bytes() for f in (await world.say(alice, "!mydata")).files())
    assert b'"reminders": "on"' in data and b"reminders.event" in data
    await world.say(alice, "!forgetme")
    await world.say(alice, "!confirm")
    async with db.transaction() as s:
        assert (await s.execute(select(ScheduledAction).where(ScheduledAction.recipient == alice))).scalars().all() == []
        assert await members.get(s, alice) is None


async def test_a_session_participant_gets_a_link_to_their_session_room(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    from storage import events, sessions
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await make_event(world, carol, starts="2025-04-14 10:00", extra="\nreminders: 1d, 1h")
    await world.say(alice, f"!register {slug}")
    assert "!confirm" in (await world.say(carol, f"!groups {slug} size=4")).text()
    await world.say(carol, "!confirm")
    run = runner(db, clock)
    [before] = await fire(world, run, clock, datetime(2025, 4, 13, 8, 0, tzinfo=UTC))
    assert "matrix.to" not in before.body  # no room opened yet: no link
    async with db.transaction() as s:
        event = await events.by_slug(s, slug)
        [group] = await sessions.of_event(s, event.id)
        group.room_id = "!group1:example.org"
    [hour] = await fire(world, run, clock, datetime(2025, 4, 14, 7, 0, tzinfo=UTC))
    assert "Your group's room: https://matrix.to/#/!group1:example.org" in hour.body


async def test_an_action_point_owner_is_reminded_the_day_before_and_on_the_day_until_done(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    from datetime import date

    from storage import events, guide, sessions
    carol, alice, bob = (await world.person("carol", "coordinator"), await world.person("alice"),
                         await world.person("bob"))
    await world.say(bob, "!tz America/New_York")
    slug = await make_event(world, carol, starts="2025-03-11 10:00", extra="\nreminders: none")
    for who in (alice, bob):
        await world.say(who, f"!register {slug}")
    await world.say(carol, f"!groups {slug} size=4")
    await world.say(carol, "!confirm")
    async with db.transaction() as s:
        event = await events.by_slug(s, slug)
        [group] = await sessions.of_event(s, event.id)
        mine = await guide.add_action(s, group, "Ask HR for the protocol", alice, carol, date(2025, 3, 14), clock.now)
        theirs = await guide.add_action(s, group, "Write the summary", bob, carol, date(2025, 3, 14), clock.now)
        done = await guide.add_action(s, group, "Book the room", alice, carol, date(2025, 3, 14), clock.now)
        guide.mark_done(done, alice, clock.now)
    run = runner(db, clock)
    await run.start()
    try:
        async def at(moment: datetime) -> list:
            clock.now = moment
            said = await world.run_due(run)
            return [s for s in said if s.kind == "message" and "action point" in s.body]

        assert await at(datetime(2025, 3, 13, 7, 59, tzinfo=UTC)) == []
        [before] = await at(datetime(2025, 3, 13, 8, 0, tzinfo=UTC))  # 09:00 in Amsterdam
        assert before.user_id == alice and "Ask HR for the protocol" in before.body and "tomorrow" in before.body
        assert f"!action done {mine.id}" in before.body and before.msgtype == "m.text"
        [bobs] = await at(datetime(2025, 3, 13, 14, 0, tzinfo=UTC))  # 09:00 in New York
        assert bobs.user_id == bob and "Write the summary" in bobs.body
        async with db.transaction() as s:
            guide.mark_done(await guide.action(s, theirs.id), bob, clock.now)
        [today] = await at(datetime(2025, 3, 14, 8, 0, tzinfo=UTC))
        assert today.user_id == alice and "today" in today.body
        assert await at(datetime(2025, 3, 14, 23, 0, tzinfo=UTC)) == [], "bob's is done: no more"
    finally:
        await run.stop()
