"""The event form reads a time as every command does (api.converters): a day word or a relative
time in any of Kring's languages, on the event's clock; a time the clocks skip is refused with the
reason, a repeated one is the first and the reply says so. Through the bot, on SQLite."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.models import Event
from tests.unit.event_world import EventWorld
from tests.unit.helpers import FakeClock

BODY = """title: {title}
purpose: Collect members' experiences with alcohol and drugs at work; not a lecture.
{starts}
ends: 23:30
capacity: 10"""


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


async def _starts(db: Database, title: str) -> datetime | None:
    async with db.transaction() as s:
        return (await s.execute(select(Event.starts_at).where(Event.title == title))).scalar()


@pytest.mark.parametrize(("lang", "starts"), [
    ("en", "start: tomorrow 18:30"), ("nl", "begint: morgen 18:30"), ("nb", "start: i morgen 18:30"),
])
async def test_a_day_word_in_each_language_is_the_next_day_on_the_events_clock(
        world: EventWorld, db: Database, lang: str, starts: str) -> None:
    carol = await world.person("carol", "coordinator")
    await world.say(carol, f"!lang {lang}")
    await world.say(carol, "!event create\n" + BODY.format(title=f"Evening {lang}", starts=starts))
    # the clock stands at 2025-03-10 13:00 in Amsterdam (winter time, UTC+1)
    assert await _starts(db, f"Evening {lang}") == datetime(2025, 3, 11, 17, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(("lang", "starts"), [
    ("en", "starts: in 2h"), ("nl", "begin: over 2 uur"), ("nb", "start: om 2 timer"),
])
async def test_a_relative_time_is_that_long_from_now(world: EventWorld, db: Database, lang: str, starts: str) -> None:
    carol = await world.person("carol", "coordinator")
    await world.say(carol, f"!lang {lang}")
    await world.say(carol, "!event create\n" + BODY.format(title=f"Soon {lang}", starts=starts))
    assert await _starts(db, f"Soon {lang}") == datetime(2025, 3, 10, 14, 0, tzinfo=timezone.utc)


async def test_a_start_inside_the_summer_time_gap_is_refused_with_the_reason(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    text = (await world.say(carol, "!event create\n" + BODY.format(title="Night", starts="starts: 2025-03-30 02:30"))).text()
    assert 'The time you gave for "starts" (2025-03-30 02:30) does not exist on the clock of Europe/Amsterdam' in text
    assert "the clocks jump an hour forward (summer time begins). Did you mean 03:30?" in text
    assert await _starts(db, "Night") is None
    world.clock.advance(days=19)  # 2025-03-29 12:00 UTC: "tomorrow 02:30" is in the gap too
    await world.say(carol, "!lang nl")
    text = (await world.say(carol, "!event create\n" + BODY.format(title="Night", starts="begint: morgen 02:30"))).text()
    assert 'De tijd die u opgaf voor "begin" (2025-03-30 02:30) bestaat niet op de klok van Europe/Amsterdam' in text
    assert await _starts(db, "Night") is None


async def test_a_start_in_the_repeated_hour_is_the_first_and_the_reply_says_so(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    text = (await world.say(carol, "!event create\n" + BODY.format(title="Late", starts="starts: 2025-10-26 02:30")
                            .replace("ends: 23:30", "ends: 2025-10-26 05:00"))).text()
    assert "2025-10-26 02:30 happens twice in Europe/Amsterdam that night" in text and "UTC+02:00" in text, text
    assert "Created draft" in text
    assert await _starts(db, "Late") == datetime(2025, 10, 26, 0, 30, tzinfo=timezone.utc)


async def test_a_relative_answer_in_the_step_by_step_form_keeps_the_moment_it_meant(
        world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    await world.say(carol, "!event create")
    for answer in ("Quick meeting", "Agree on the agenda for the regional day.", "-", "-", "-"):
        await world.say(carol, answer)
    assert "When does it end" in (await world.say(carol, "in 3h")).text()
    world.clock.advance(minutes=20)  # answering the rest takes a while
    for answer in ("in 5h", "-", "8"):
        await world.say(carol, answer)
    for _ in range(12):  # the optional fields, skipped
        text = (await world.say(carol, "-")).text()
        if "Created draft" in text:
            break
    assert "Created draft" in text, text
    assert await _starts(db, "Quick meeting") == datetime(2025, 3, 10, 15, 0, tzinfo=timezone.utc)
