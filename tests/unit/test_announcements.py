"""Announcements through the bot: a preview with the reach, `!confirm`, then one m.text post in
the announcements room (@room only with the flag) or a DM to each registrant, sent by the
schedule once; a scheduled one is listed, echoed on the coordinator's clock, and can be cancelled."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage.database import Database
from tests.unit.event_world import ANNOUNCEMENTS, CONTROL, LOBBY, EventWorld
from tests.unit.helpers import FakeClock

UTC = timezone.utc


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:  # noqa: ANN001
    return await EventWorld(db, make_dispatcher(), clock).setup()


def runner(db: Database, clock: FakeClock) -> ScheduleRunner:
    return ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=24), language="en")


async def test_an_announcement_to_everyone_is_previewed_then_posted_once(world: EventWorld, db: Database,
                                                                        clock: FakeClock) -> None:
    carol = await world.person("carol", "coordinator")
    await world.people(3)
    preview = (await world.say(carol, "!announce The <b>spring</b> day moves to Utrecht.", room=CONTROL)).text()
    assert "one post in the announcements room, where 4 members can read it" in preview and "!confirm" in preview
    assert (await world.new_output()) == []
    said = await world.say(carol, "!confirm", room=CONTROL)
    assert "is being sent now" in said.text()
    sent = (await world.run_due(runner(db, clock))).to_room(ANNOUNCEMENTS)
    assert len(sent) == 1 and sent[0].msgtype == "m.text"
    assert "The <b>spring</b> day moves to Utrecht." in sent[0].body
    assert "<b>spring" not in sent[0].payload["content"].get("formatted_body", "")  # escaped
    assert sent[0].payload["content"]["m.mentions"] == {}
    assert (await world.run_due(runner(db, clock))) == []


async def test_room_mention_only_with_the_flag(world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol = await world.person("carol", "coordinator")
    assert "with @room" in (await world.say(carol, "!announce @room Fire drill at noon.")).text()
    await world.say(carol, "!confirm")
    [sent] = (await world.run_due(runner(db, clock))).to_room(ANNOUNCEMENTS)
    assert sent.payload["content"]["m.mentions"] == {"room": True} and sent.body.startswith("@room")


async def test_an_announcement_about_an_event_is_a_dm_to_each_registrant(world: EventWorld, db: Database,
                                                                        clock: FakeClock) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=2)
    people = await world.people(3)
    for p in people:
        await world.say(p, f"!register {slug}")
    preview = (await world.say(carol, f"!announce event {slug} Bring your laptop.")).text()
    assert "a DM to each of the 3 people registered" in preview
    await world.say(carol, "!confirm")
    said = await world.run_due(runner(db, clock))
    assert sorted(s.user_id for s in said if s.kind == "message") == sorted(people)
    assert all("Bring your laptop." in s.body and s.msgtype == "m.text" for s in said)
    assert said.to_room(ANNOUNCEMENTS) == []


async def test_a_scheduled_announcement_is_listed_echoed_in_the_zone_and_cancellable(
        world: EventWorld, db: Database, clock: FakeClock) -> None:
    carol = await world.person("carol", "coordinator")
    await world.say(carol, "!tz Europe/Oslo")
    preview = (await world.say(carol, "!announce at i morgen 10:00 Coffee is on us.", room=CONTROL)).text()
    assert "at Tuesday, 11 March 2025 at 10:00 (Oslo)" in preview or "11 March 2025" in preview, preview
    reply = (await world.say(carol, "!confirm", room=CONTROL)).text()
    number = reply.split("Announcement ", 1)[1].split(" ", 1)[0]
    assert "scheduled for" in reply and "10:00" in reply
    listed = (await world.say(carol, "!announcements", room=CONTROL)).text()
    assert f"{number}:" in listed and "Coffee is on us." in listed
    run = runner(db, clock)
    assert (await world.run_due(run)) == []
    clock.now = datetime(2025, 3, 11, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
    [sent] = (await world.run_due(run)).to_room(ANNOUNCEMENTS)
    assert "Coffee is on us." in sent.body
    assert "already been sent" in (await world.say(carol, f"!announce cancel {number}", room=CONTROL)).text()
    await world.say(carol, "!announce in 2h Second one.", room=CONTROL)
    number = (await world.say(carol, "!confirm", room=CONTROL)).text().split("Announcement ", 1)[1].split(" ", 1)[0]
    assert "is cancelled" in (await world.say(carol, f"!announce cancel {number}", room=CONTROL)).text()
    clock.now += timedelta(hours=3)
    assert (await world.run_due(run)) == []
    assert "No announcements are waiting" in (await world.say(carol, "!announcements", room=CONTROL)).text()


async def test_members_cannot_announce_and_a_skipped_hour_is_refused(world: EventWorld) -> None:
    alice = await world.person("alice")
    assert "Coffee" not in (await world.say(alice, "!announce Coffee")).text()
    carol = await world.person("carol", "coordinator")
    text = (await world.say(carol, "!announce at 2025-03-30 02:30 Night owls.")).text()
    assert "does not exist on the clock of Europe/Amsterdam" in text
    text = (await world.say(carol, "!announce Hello", room=LOBBY)).text()
    assert "!confirm" not in text
