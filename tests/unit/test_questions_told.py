"""Questions ahead of an event (issue 14, points 10 and 7): the coordinators are told a question
came in (by event and count, never its text), the reply promises only that, and an anonymous
question leaves no record that ties it to its sender."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from storage import outbox
from storage.database import Database
from storage.models import EventQuestion, ProcessedEvent
from tests.unit.event_world import CONTROL, EventWorld
from tests.unit.helpers import FakeClock, outbox_rows

QUESTION = "How do we handle a colleague who smells of alcohol at the start of a shift?"


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


async def test_coordinators_are_told_of_a_new_question_by_event_and_count_only(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    alice, bob = await world.people(2)
    slug = await world.create(carol)
    said = await world.say(alice, f"!ask {slug} {QUESTION}")
    assert "The coordinators are told that a question came in" in said.to_room(world.dm(alice))[0].body
    assert "facilitators will see it" not in said.text()
    [note] = said.to_room(CONTROL)
    assert f"A new question came in for Theme meeting on alcohol at work ({slug}): 1 in all" in note.body
    assert f"!questions {slug}" in note.body and "colleague" not in note.body and alice not in note.body

    world.clock.advance(minutes=7)
    said = await world.say(bob, f"!ask {slug} anonymous {QUESTION} (a second one)")
    assert "saved without your name" in said.text() and "but not what it says" in said.text()
    [note] = said.to_room(CONTROL)
    assert "2 in all" in note.body and "colleague" not in note.body and bob not in note.body


async def test_an_anonymous_question_leaves_no_record_naming_its_room_or_moment(world: EventWorld,
                                                                                 db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    alice, bob = await world.people(2)
    slug = await world.create(carol)
    world.clock.advance(hours=3, minutes=17, seconds=5)
    await world.say(alice, f"!ask {slug} {QUESTION}", event_id="$named")
    await world.say(bob, f"!ask {slug} anonymous {QUESTION}", event_id="$anon")
    async with db.read() as s:
        records = {r.event_id: r for r in (await s.execute(select(ProcessedEvent))).scalars()}
        anonymous = (await s.execute(select(EventQuestion).where(EventQuestion.user_id.is_(None)))).scalar_one()
    assert records["$named"].room_id == world.dm(alice)  # an ordinary command keeps its record whole
    assert records["$anon"].room_id == "" and records["$anon"].command == "ask"
    day = datetime(2025, 3, 10, tzinfo=timezone.utc)
    assert records["$anon"].processed_at.replace(tzinfo=timezone.utc) == day
    assert anonymous.created_at.replace(tzinfo=timezone.utc) <= day
    # once sent, the outbox keeps nothing that pairs the anonymous asker's DM with the event
    everything = await outbox_rows(db)
    async with db.transaction() as s:
        for row in everything:
            await outbox.mark_done(s, row.id, world.clock.now)
    kept = "\n".join(repr(r.payload) for r in await outbox_rows(db) if r.room_id in (world.dm(bob), CONTROL))
    assert "without your name" not in kept and "A new question" not in kept
    # still exactly once: the same event again is a duplicate, and saves no second question
    said = await world.say(bob, f"!ask {slug} anonymous {QUESTION}", event_id="$anon")
    assert said == []
    async with db.read() as s:
        assert len((await s.execute(select(EventQuestion))).scalars().all()) == 2
