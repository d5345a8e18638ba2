"""Review fixes of the events feature, through the real Dispatcher: offers that ran out while the
bot was down still pass the seat on; long lists stay far below Matrix's 64 KiB event limit; bad
form input gets a polite answer; a forgotten member's seat goes to the waiting list."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage import events, members, registrations as regs, schedule
from storage.database import Database
from storage.models import OutboxItem
from tests.unit.event_world import CONTROL, FORM, NET, EventWorld, Sent
from tests.unit.helpers import T0, FakeClock

# An encrypted event carries its content base64-encoded (4/3 of it): below this, it stays < 64 KiB.
SAFE_CONTENT = 45_000
NASTY = "<é&\"ø>"  # escaped in HTML and in JSON (\u00e9): the worst case for the size


pytestmark = pytest.mark.both_databases  # and on PostgreSQL where it answers (conftest)


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


def runner_with(db: Database, clock: FakeClock, catch_up: timedelta) -> ScheduleRunner:
    return ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=catch_up, language="en")


async def mark_missed(db: Database, clock: FakeClock, due_before) -> None:  # noqa: ANN001
    """What the scheduler did to an offer's expiry when the bot was down past the catch-up window
    (before offer expiry was made a kind that always runs): the row is done, as "missed"."""
    async with db.transaction() as s:
        for row in await schedule.due(s, due_before):
            schedule.finish(row, clock.now, "missed")


def size(sent: Sent) -> int:
    return len(json.dumps(sent.payload["content"]))


# ---- offers that ran out while the bot was down -------------------------------------------------

async def test_an_offer_missed_by_the_schedule_expires_at_the_next_registration(world: EventWorld, db: Database,
                                                                                clock: FakeClock) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    a, b, c, d = await world.people(4)
    for person in (a, b, c):
        await world.say(person, f"!register {slug}")
    assert "yours if you want it" in (await world.say(a, f"!cancel {slug}")).to_user(b)[0].body
    clock.advance(days=3)  # the bot was down, and b's expiry was marked missed
    await mark_missed(db, clock, clock.now)
    assert (await world.run_due(runner_with(db, clock, timedelta(hours=1)))).text() == ""
    said = await world.say(d, f"!register {slug}")
    assert "has gone to the next person" in said.to_user(b)[0].body
    assert "yours if you want it" in said.to_user(c)[0].body
    assert "waiting list: number 1" in said.to_room(world.dm(d))[0].body
    assert "0 of 1 registered, 1 offered, 1 waiting" in (await world.say(carol, f"!attendees {slug}")).text()


async def test_the_next_expiry_job_also_expires_offers_whose_own_job_was_missed(world: EventWorld, db: Database,
                                                                                 clock: FakeClock) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=2)
    a1, a2, b, c, d, e = await world.people(6)
    for person in (a1, a2, b, c, d, e):
        await world.say(person, f"!register {slug}")
    await world.say(a1, f"!cancel {slug}")  # b: offer until T0+24h
    clock.advance(hours=2)
    await world.say(a2, f"!cancel {slug}")  # c: offer until T0+26h
    await mark_missed(db, clock, T0 + timedelta(hours=25))  # b's expiry job: missed while the bot was down
    clock.advance(hours=24, minutes=30)
    said = await world.run_due(runner_with(db, clock, timedelta(hours=1)))  # c's job runs
    for person in (b, c):
        assert "has gone to the next person" in said.to_user(person)[0].body
    for person in (d, e):
        assert "yours if you want it" in said.to_user(person)[0].body
    assert "run out" in (await world.say(b, f"!accept {slug}")).text()


async def test_my_shows_an_offer_that_ran_out_as_gone(world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    a, b, c = await world.people(3)
    for person in (a, b, c):
        await world.say(person, f"!register {slug}")
    await world.say(a, f"!cancel {slug}")
    clock.advance(days=3)
    await mark_missed(db, clock, clock.now)
    said = await world.say(b, "!my")
    assert "has gone to the next person" in said.text() and "You have no registrations" in said.text()
    assert "yours if you want it" in said.to_user(c)[0].body


async def test_an_offer_expiry_runs_however_late_the_bot_comes_back(world: EventWorld, db: Database,
                                                                     clock: FakeClock) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    a, b, c = await world.people(3)
    for person in (a, b, c):
        await world.say(person, f"!register {slug}")
    await world.say(a, f"!cancel {slug}")
    clock.advance(days=3)  # far beyond the catch-up window
    said = await world.run_due(runner_with(db, clock, timedelta(hours=1)))
    assert "has gone to the next person" in said.to_user(b)[0].body
    assert "yours if you want it" in said.to_user(c)[0].body


# ---- long lists ---------------------------------------------------------------------------------

async def _event(db: Database, n: int, *, workshops: int = 0, state: str = events.PUBLISHED) -> int:
    async with db.transaction() as s:
        values = {"slug": f"event-{n:03d}", "network": NET, "title": f"Event {n} " + NASTY * 30,
                  "purpose": "Purpose of the meeting.", "timezone": "Europe/Amsterdam",
                  "starts_at": T0 + timedelta(days=30, hours=n), "ends_at": T0 + timedelta(days=30, hours=n + 1),
                  "capacity": 10, "closes_at": T0 + timedelta(days=29), "created_by": None}
        shops = [(f"w{i}", f"Workshop {i} " + NASTY * 30, 5) for i in range(workshops)]
        event = await events.create(s, values, shops, T0)
        event.state = state
        return event.id


async def test_long_lists_are_capped_far_below_the_event_size_limit(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    alice = await world.person("alice")
    ids = [await _event(db, n, workshops=70 if n == 0 else 0) for n in range(70)]
    async with db.transaction() as s:
        for i, event_id in enumerate(ids):
            await regs.put(s, event_id=event_id, workshop_id=None, user_id=alice, state=regs.CONFIRMED,
                           arrived_at=T0, arrival_event_id=f"$r{i}", now=T0)
            for q in range(60 if i == 0 else 0):
                await events.add_question(s, event_id, None if q % 2 else alice, f"Q{q} " + NASTY * 300, T0)
        for i in range(120):
            row = await members.set_role(s, NET, f"@member{i:03d}:example.org", "member", T0)
            member = await members.get(s, f"@member{i:03d}:example.org")
            member.display_name, member.organisation = "N" + NASTY * 40, "O" + NASTY * 40
            members.accept_rules(row, 1, T0)
    cases = [(carol, "!events", "... and"), (alice, "!my", "... and"), (carol, "!members", "more; add a filter"),
             (carol, "!questions event-000", "... and"), (carol, "!attendees event-000", "more workshops")]
    for user, command, more in cases:
        said = await world.say(user, command, room=CONTROL if user == carol else None)
        [reply] = [s for s in said if s.kind == "message"]
        assert size(reply) < SAFE_CONTENT, (command, size(reply))
        assert more in reply.body, command
    said = await world.say(carol, "!questions event-000", room=CONTROL)
    [csv_file] = said.files()
    assert len(csv_file.file_bytes().decode().splitlines()) == 61, "every question, in full, in the file"


# ---- bad form input -----------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "expected"), [
    ("timezone: Europe", '"Europe" is not a timezone I know'),
    ("timezone: Europe/" + "Amsterdam" * 40, "is not a timezone I know"),
    ("timezone: ../../../etc/passwd", "is not a timezone I know"),
    ("starts: 0001-01-01 00:10\nends: 0001-01-01 12:00", "0001-01-01 00:10 is not a date I can use"),
    ("starts: 9999-12-31 23:30\nends: 23:45\ntimezone: America/New_York", "is not a date I can use"),
])
async def test_bad_dates_and_zones_in_the_form_are_answered_politely(world: EventWorld, line: str,
                                                                     expected: str) -> None:
    carol = await world.person("carol", "coordinator")
    form = FORM.format(capacity=5, mode="offer").replace("starts: 2025-04-14 19:30\nends: 21:30", line)
    text = (await world.say(carol, "!event create\n" + form)).text()
    assert expected in text and "Something went wrong" not in text


async def test_the_step_by_step_form_asks_again_after_an_impossible_timezone(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    await world.say(carol, "!event create")
    await world.say(carol, "A title")
    await world.say(carol, "A purpose of some length.")
    await world.say(carol, "-")
    await world.say(carol, "-")
    text = (await world.say(carol, "Europe")).text()
    assert "is not a timezone I know" in text and "In which timezone" in text


# ---- forgetting a member ------------------------------------------------------------------------

async def test_forgetme_gives_the_freed_seat_to_the_waiting_list(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.say(alice, f"!register {slug}")
    await world.say(bob, f"!register {slug}")
    await world.say(alice, "!forgetme")
    await world.say(alice, "!confirm")
    async with world.db.transaction() as s:  # (SQLite reuses the ids of alice's erased rows: read them all)
        [offer] = (await s.execute(select(OutboxItem).where(OutboxItem.user_id == bob))).scalars().all()
    assert "yours if you want it" in offer.payload["content"]["body"] and alice not in str(offer.payload)
    assert "0 of 1 registered, 1 offered, 0 waiting" in (await world.say(carol, f"!attendees {slug}")).text()
    assert "The seat is yours" in (await world.say(bob, f"!accept {slug}")).text()
