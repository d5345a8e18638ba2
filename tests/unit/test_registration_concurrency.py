"""A rush: 50 members register at the same moment for 10 seats, on SQLite and on PostgreSQL.
Exactly 10 get a seat, 40 wait in arrival order, nobody is registered twice, everybody is answered."""
from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from bot.dispatch import DispatchSettings, Dispatcher
from bot.router import Registry
from storage import events, registrations as regs
from storage.database import Database
from storage.models import Registration
from tests.unit.event_world import EventWorld
from tests.unit.helpers import BOT, FakeClock, FakeRuntime, message

SEATS, PEOPLE = 10, 50


async def test_fifty_concurrent_registrations_for_ten_seats(any_db: Database, clock: FakeClock,
                                                            runtime: FakeRuntime) -> None:
    settings = DispatchSettings(bot_user_id=BOT, prefix="!", language="en", max_age=timedelta(minutes=10))
    dispatcher = Dispatcher(any_db, Registry.discover(), settings, runtime, clock)
    world = await EventWorld(any_db, dispatcher, clock).setup()
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=SEATS)
    people = await world.people(PEOPLE)
    await world.new_output()

    # Arrival order is the server timestamp (some share a millisecond), then the event id; the
    # commands are handed to the dispatcher in a shuffled order, all at once.
    arrivals = {p: (clock.now - timedelta(seconds=5) + timedelta(milliseconds=i // 2), f"$reg{i:03d}")
                for i, p in enumerate(people)}
    shuffled = people[:]
    random.Random(4).shuffle(shuffled)
    outcomes = await asyncio.gather(*(
        dispatcher.handle(message(f"!register {slug}", sender=p, room_id=world.dm(p), at=arrivals[p][0],
                                  event_id=arrivals[p][1]))
        for p in shuffled))
    assert outcomes == ["ok"] * PEOPLE

    said = await world.new_output()
    replies = {p: said.to_room(world.dm(p)) for p in people}
    assert all(len(r) == 1 for r in replies.values()), "every member gets exactly one answer"
    told_seat = [p for p, r in replies.items() if r[0].body.startswith("You are registered")]
    told_wait = [p for p, r in replies.items() if "on the waiting list: number" in r[0].body]
    assert (len(told_seat), len(told_wait)) == (SEATS, PEOPLE - SEATS)
    assert Counter(f.room_id for f in said.files()) == Counter(world.dm(p) for p in told_seat)

    async with any_db.transaction() as s:
        event = await events.by_slug(s, slug)
        assert await regs.holding(s, event.id, 0) == SEATS
        waiting = await regs.waiting(s, event.id, 0)
        confirmed = {r.user_id for r in await regs.of_event(s, event.id, [regs.CONFIRMED])}
        rows_per_person = (await s.execute(select(Registration.user_id, func.count()).group_by(Registration.user_id))).all()
    assert confirmed == set(told_seat)
    assert [r.user_id for r in waiting] == sorted(told_wait, key=lambda p: arrivals[p]), "waiting list in arrival order"
    assert all(n == 1 for _, n in rows_per_person) and len(rows_per_person) == PEOPLE, "no duplicates"

    # The same people again, all at once: nothing changes, and each is told so.
    outcomes = await asyncio.gather(*(
        dispatcher.handle(message(f"!register {slug}", sender=p, room_id=world.dm(p))) for p in shuffled))
    assert outcomes == ["ok"] * PEOPLE
    again = await world.new_output()
    assert all("Nothing changed" in s.body for s in again if s.kind == "message") and not again.files()
    async with any_db.transaction() as s:
        assert await regs.holding(s, event.id, 0) == SEATS
        assert await regs.waiting_count(s, event.id, 0) == PEOPLE - SEATS
