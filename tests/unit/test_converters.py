"""Arguments that resolve themselves, and the router's place check, through the real Dispatcher:
a handler receives the object (an event, a workshop, a member, a duration, a local date-time) or
the user reads that converter's own error and the usage line; Where.PRIVATE is refused by the
router before the handler runs; usage lines come from the signature."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api import Context, Reply, Role, Where, command
from api.converters import Duration, LocalDateTime, MemberRef
from api.decorators import COMMAND_ATTR
from api.event_args import EventRef, WorkshopRef
from api.render import as_text
from bot.router import Registry
from storage import members, networks
from storage.database import Database
from tests.unit.event_world import CONTROL, LOBBY, EventWorld
from tests.unit.helpers import T0, FakeClock

OTHER_CONTROL = "!control-other:example.org"
calls: list[tuple] = []
WORKSHOPS = "\nworkshops:\nPeer coaching | 5\nOpen space | 5"


@command("when", help="cmd.ping", role=Role.MEMBER)
async def when_(ctx: Context, after: Duration, at: LocalDateTime | None = None) -> Reply:
    calls.append(("when", after, at))
    return Reply(as_text(f"after {after} at {at.isoformat() if at else '-'}"))


@command("who", help="cmd.ping", role=Role.MEMBER)
async def who(ctx: Context, member: MemberRef) -> Reply:
    calls.append(("who", member.user_id))
    return Reply(as_text(f"found {member.user_id}"))


@command("seat", help="cmd.ping", role=Role.MEMBER)
async def seat(ctx: Context, event: EventRef, workshop: WorkshopRef | None = None) -> Reply:
    calls.append(("seat", event.slug, workshop.key if workshop else None))
    return Reply(as_text(f"{event.title} / {workshop.name if workshop else '-'}"))


@command("roster", help="cmd.ping", role=Role.MEMBER, where=Where.PRIVATE)
async def roster(ctx: Context) -> Reply:
    calls.append(("roster", ctx.room_id))
    return Reply(as_text("the roster"))


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    calls.clear()
    found = Registry.discover()
    registry = Registry([getattr(f, COMMAND_ATTR) for f in (when_, who, seat, roster)] + found.specs,
                        declared=found.declared)
    world = await EventWorld(db, make_dispatcher(registry), clock).setup()
    async with db.transaction() as s:
        await networks.upsert(s, "other", name="Other", language=None, timezone=None, house_rules="",
                              auto_approve={}, now=T0)
        await networks.record_room(s, "other", "control", OTHER_CONTROL, "11", T0)
    return world


def test_usage_lines_come_from_the_signature() -> None:
    registry = Registry.discover()
    assert registry.find("register").usage == "<event> [workshop]"
    assert registry.find("event cancel").usage == "<event>"
    assert getattr(when_, COMMAND_ATTR).usage == "<duration> [date-time]"


async def test_an_event_and_its_workshop_arrive_as_objects(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, extra=WORKSHOPS)
    alice = await world.person("alice")
    said = await world.say(alice, f"!seat {slug} open space")
    assert said.text() == "Theme meeting on alcohol at work / Open space"
    assert calls == [("seat", slug, "open-space")]


async def test_an_unknown_event_gets_the_converters_error_and_the_usage_line(world: EventWorld) -> None:
    alice = await world.person("alice")
    text = (await world.say(alice, "!register no-such-event")).text()
    assert 'I know no event "no-such-event"' in text and "Usage: !register <event> [workshop]" in text
    text = (await world.say(alice, "!seat no-such-event")).text()
    assert "Usage: !seat <event> [workshop]" in text and calls == []


async def test_an_unknown_workshop_names_the_choices(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, extra=WORKSHOPS)
    alice = await world.person("alice")
    text = (await world.say(alice, f"!register {slug} knitting")).text()
    assert 'has no workshop "knitting"' in text and "peer-coaching, open-space" in text
    assert "Usage: !register <event> [workshop]" in text


async def test_a_duration_and_a_local_date_time_in_the_members_zone(world: EventWorld, db: Database) -> None:
    alice = await world.person("alice")
    said = await world.say(alice, "!when 90min 2027-03-14 19:30")
    assert calls == [("when", timedelta(minutes=90), datetime(2027, 3, 14, 19, 30, tzinfo=ZoneInfo("Europe/Amsterdam")))]
    async with db.transaction() as s:
        (await members.get(s, alice)).timezone = "Europe/Oslo"
    calls.clear()
    await world.say(alice, "!when 2h 2027-07-01")
    assert calls == [("when", timedelta(hours=2), datetime(2027, 7, 1, 0, 0, tzinfo=ZoneInfo("Europe/Oslo")))]
    assert "after" in said.text()


async def test_a_bad_duration_or_date_is_explained_with_the_usage_line(world: EventWorld) -> None:
    alice = await world.person("alice")
    text = (await world.say(alice, "!when soon")).text()
    assert '"soon" is not a length of time' in text and "10m, 2h, 1d" in text
    assert "Usage: !when <duration> [date-time]" in text
    text = (await world.say(alice, "!when 10m 2027-02-30")).text()
    assert '"2027-02-30" is not a date and time' in text and "!tz" in text
    assert calls == []


async def test_a_member_of_this_network_arrives_as_their_row(world: EventWorld) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    assert (await world.say(alice, f"!who {bob}")).text() == f"found {bob}"
    text = (await world.say(alice, "!who @stranger:example.org")).text()
    assert "@stranger:example.org is not a member of this network" in text and "Usage: !who <user>" in text
    text = (await world.say(alice, "!who bob")).text()
    assert "must be a Matrix ID" in text
    assert calls == [("who", bob)]


async def test_the_router_refuses_a_private_command_before_its_handler(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    assert "coordinators' room of its network" in (await world.say(carol, "!roster", room=LOBBY)).text()
    assert "coordinators' room of its network" in (await world.say(carol, "!roster", room=OTHER_CONTROL)).text()
    assert calls == [], "the handler never ran where it may not"
    assert (await world.say(carol, "!roster", room=CONTROL)).text() == "the roster"
    assert (await world.say(carol, "!roster")).text() == "the roster"
    assert calls == [("roster", CONTROL), ("roster", world.dm(carol))]


async def test_a_mistyped_command_is_suggested_once_in_the_readers_language(world: EventWorld, db: Database) -> None:
    alice = await world.person("alice")
    text = (await world.say(alice, "!hlep")).text()
    assert "Did you mean !help" in text and "!hulp" not in text and "!hjelp" not in text
    async with db.transaction() as s:
        (await members.get(s, alice)).language = "nl"
    text = (await world.say(alice, "!hlep")).text()
    assert "!hulp" in text and "!help" not in text and "!hjelp" not in text


async def test_relative_times_and_day_words_in_three_languages(world: EventWorld, clock: FakeClock) -> None:
    """ "in 2h", "over 2 uur", "om 2 timer" are real time from now; "tomorrow 10:00", "morgen
    10:00", "i morgen 10:00" are the member's tomorrow on their clock."""
    alice = await world.person("alice")
    for words in ("in 2h", "over 2 uur", "om 2 timer"):
        await world.say(alice, f"!when 10m {words}")
    amsterdam = ZoneInfo("Europe/Amsterdam")
    assert [c[2] for c in calls] == [clock.now + timedelta(hours=2)] * 3
    calls.clear()
    for words in ("tomorrow 10:00", "morgen 10:00", "i morgen 10:00"):
        await world.say(alice, f"!when 10m {words}")
    assert [c[2] for c in calls] == [datetime(2025, 3, 11, 10, 0, tzinfo=amsterdam)] * 3


async def test_a_time_the_clocks_skip_is_refused_with_the_reason(world: EventWorld) -> None:
    alice = await world.person("alice")
    text = (await world.say(alice, "!when 10m 2027-03-28 02:30")).text()
    assert "2027-03-28 02:30 does not exist on the clock of Europe/Amsterdam" in text
    assert "clocks jump an hour forward" in text and "03:30" in text
    assert calls == []


async def test_a_repeated_hour_is_the_first_one(world: EventWorld) -> None:
    from api.converters import offset_name, repeated
    alice = await world.person("alice")
    await world.say(alice, "!when 10m 2027-10-31 02:30")
    [(_, _, at)] = calls
    assert repeated(at) and offset_name(at) == "UTC+02:00"  # summer time's 02:30, the first
    assert at.astimezone(ZoneInfo("UTC")).hour == 0
