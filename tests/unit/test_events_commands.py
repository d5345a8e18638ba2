"""Events through the real Dispatcher and a real SQLite database: what coordinators and members
are told, what lands in which room or DM, and what the waiting list does over (fake) time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage import privacy
from storage.database import Database
from tests.unit.event_world import ANNOUNCEMENTS, CONTROL, FORM, LOBBY, EventWorld, ics_start
from tests.unit.helpers import FakeClock


pytestmark = pytest.mark.both_databases  # and on PostgreSQL where it answers (conftest)


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


@pytest.fixture
def runner(db: Database, clock: FakeClock) -> ScheduleRunner:
    return ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=48), language="en")


# ---- coordinators -------------------------------------------------------------------------------

async def test_an_event_is_created_from_one_message_as_a_draft_with_a_readable_id(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    said = await world.say(carol, "!event create\n" + FORM.format(capacity=30, mode="offer"))
    text = said.text()
    assert "Created draft theme-alcohol-work-2025" in text
    assert "Why we meet: Collect members' experiences" in text
    assert "Monday, 14 April 2025, 19:30–21:30 (Amsterdam)" in text
    alice = await world.person("alice")
    said = await world.say(alice, "!events")
    assert "no coming events" in said.text(), "a draft is not shown to members"


async def test_every_mistake_in_the_form_is_listed_at_once(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    body = FORM.format(capacity=0, mode="offer").replace("ends: 21:30", "ends: 18:00").replace(
        "starts: 2025", "timezone: Mars/Olympus\nstarts: 2025")
    text = (await world.say(carol, "!event create\n" + body)).text()
    assert "Mars/Olympus\" is not a timezone I know" in text
    assert "The end (2025-04-14 18:00) is not after the start (2025-04-14 19:30)" in text
    assert "The capacity must be between 1 and 100,000 (not 0)" in text
    text = (await world.say(carol, "!event create\n" + FORM.format(capacity=5, mode="offer").replace("2025-04-14", "2024-04-14"))).text()
    assert "is in the past" in text


async def test_a_member_cannot_create_events(world: EventWorld) -> None:
    alice = await world.person("alice")
    text = (await world.say(alice, "!event create\n" + FORM.format(capacity=5, mode="offer"))).text()
    assert "Only a coordinator may use event create" in text


async def test_creating_in_the_lobby_is_refused_but_the_control_room_works(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    body = "!event create\n" + FORM.format(capacity=5, mode="offer")
    assert "coordinators' room" in (await world.say(carol, body, room=LOBBY)).text()
    assert "Created draft" in (await world.say(carol, body, room=CONTROL)).text()


async def test_step_by_step_creation_asks_each_field_and_rechecks_bad_answers(world: EventWorld,
                                                                             make_dispatcher) -> None:
    carol = await world.person("carol", "coordinator")
    assert "What is the event's title?" in (await world.say(carol, "!event create")).text()
    answers = [
        ("Regional day North", "purpose"),
        ("Meet the other advisers of the region and choose next year's topics.", "expect of participants"),
        ("-", "programme"),
        ("-", "timezone"),
        ("-", "When does it start"),
        ("yesterday", "could not read"),
        ("2025-05-20 10:00", "When does it end"),
        ("16:00", "Where is it"),
        ("Town hall, Groningen", "How many seats"),
        ("0", "between 1 and 100,000"),
        ("60", "registration close"),
        ("-", "invitation only"),
        ("no", "confirm the purpose and expectations"),
        ("-", "Workshops"),
        ("Case clinic | 12\nPolicy lab | 12", "How many workshops"),
        ("-", "offer it to the first in line"),
        ("auto", "Which feedback form"),
        ("secret", "no feedback form"),
        ("anonymous", "Until when is feedback taken"),
        ("-", "When should registrants be reminded"),
        ("2d, 2h", "questions or cases in advance"),
        ("-", None),
    ]
    for i, (answer, expected) in enumerate(answers):
        if i == 8:  # a restart in the middle: the conversation lives in the database
            world.dispatcher = make_dispatcher()
        text = (await world.say(carol, answer)).text()
        if expected:
            assert expected in text, (answer, text)
    assert "Created draft regional-day-north-2025" in text
    assert "Case clinic (case-clinic): 12 of 12 left" in text
    assert "nothing to" not in (await world.say(carol, "just chatting")).text()


async def test_stop_leaves_the_step_by_step_creation(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    await world.say(carol, "!event create")
    await world.say(carol, "!stop")
    assert (await world.say(carol, "A title that nobody asked for")).text() == ""


async def test_publish_posts_purpose_first_to_lobby_and_announcements(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    await world.say(carol, "!event create\n" + FORM.format(capacity=30, mode="offer"))
    asked = await world.say(carol, "!event publish theme-alcohol-work-2025")
    assert "I will post it in the announcements room, the lobby" in asked.text() and "!confirm" in asked.text()
    assert not asked.to_room(LOBBY) and not asked.to_room(ANNOUNCEMENTS)  # nothing posted before !confirm
    said = await world.say(carol, "!confirm")
    assert "posted it in the announcements room, the lobby" in said.to_room(world.dm(carol))[0].body
    for room in (LOBBY, ANNOUNCEMENTS):
        [post] = said.to_room(room)
        assert post.msgtype == "m.text"
        assert post.body.index("Why we meet") < post.body.index("When:") < post.body.index("Seats: 30 of 30 left")


# ---- members ------------------------------------------------------------------------------------

async def test_registering_states_the_purpose_and_attaches_a_calendar_file(world: EventWorld) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await world.create(carol, capacity=5)
    said = await world.say(alice, f"!register {slug}")
    [reply] = said.to_room(world.dm(alice))
    assert reply.msgtype == "m.notice"
    assert "You are registered for Theme meeting on alcohol at work" in reply.body
    assert "Why we meet: Collect members' experiences" in reply.body
    assert "What we expect of you: Bring one situation from your own practice." in reply.body
    [ics] = said.files()
    assert ics.payload["mimetype"] == "text/calendar"
    assert ics_start(ics.file_bytes()) == datetime(2025, 4, 14, 17, 30, tzinfo=timezone.utc)  # CEST
    again = await world.say(alice, f"!register {slug}")
    assert "already registered" in again.text() and "Nothing changed" in again.text() and not again.files()
    assert "4 of 5 left" in (await world.say(alice, f"!event {slug}")).text()


async def test_registering_in_the_lobby_answers_there_briefly_and_privately_in_full(world: EventWorld) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await world.create(carol, capacity=5)
    said = await world.say(alice, f"!register {slug}", room=LOBBY)
    assert "sent you the details" in said.to_room(LOBBY)[0].body
    [dm] = said.to_user(alice)
    assert "You are registered" in dm.body and dm.msgtype == "m.text"
    assert said.files()[0].user_id == alice


async def test_a_full_event_puts_members_on_the_waiting_list_in_order(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    a, b, c = await world.people(3)
    await world.say(a, f"!register {slug}")
    assert "number 1" in (await world.say(b, f"!register {slug}")).text()
    said = await world.say(c, f"!register {slug}")
    assert "is full, so you are on the waiting list: number 2" in said.text()
    assert not said.files(), "no calendar entry without a seat"
    assert "waiting list, number 2" in (await world.say(c, "!my")).text()


@pytest.mark.parametrize(("setup", "expected"), [
    ("rules", "accept them with !accept-rules"),
    ("closed", "Registration for Theme meeting on alcohol at work closed"),
    ("invite", 'I know no event "theme-alcohol-work-2025"'),  # not invited: as if it did not exist
])
async def test_registration_is_refused_with_a_reason(world: EventWorld, setup: str, expected: str) -> None:
    carol = await world.person("carol", "coordinator")
    extra = {"closed": "\nregistration closes: 2025-03-11 12:00", "invite": "\ninvite-only: yes"}.get(setup, "")
    slug = await world.create(carol, capacity=5, extra=extra)
    alice = await world.person("alice", rules=setup != "rules")
    if setup == "closed":
        world.clock.advance(days=2)
    said = await world.say(alice, f"!register {slug}")
    assert expected in said.text()
    assert "0 of 5 registered" in (await world.say(carol, f"!attendees {slug}")).text()


async def test_an_invited_member_can_register_for_an_invite_only_event(world: EventWorld) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await world.create(carol, capacity=5, extra="\ninvite-only: yes")
    said = await world.say(carol, f"!invite {slug} {alice} @stranger:example.org")
    assert "Invited 2 new people" in said.text() and "@stranger:example.org" in said.text()
    assert "You are invited to Theme meeting" in said.to_user(alice)[0].body
    assert "You are registered" in (await world.say(alice, f"!register {slug}")).text()


async def test_a_cancelled_seat_is_offered_to_the_first_waiting_and_lapses_to_the_next(
        world: EventWorld, runner: ScheduleRunner) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    a, b, c = await world.people(3)
    for person in (a, b, c):
        await world.say(person, f"!register {slug}")
    said = await world.say(a, f"!cancel {slug}")
    assert "Your place for Theme meeting on alcohol at work is cancelled" in said.text()
    [offer] = said.to_user(b)
    assert offer.msgtype == "m.text" and "!accept theme-alcohol-work-2025" in offer.body and "24 hours" in offer.body
    assert not said.to_user(c)
    world.clock.advance(hours=23)
    assert not (await world.run_due(runner)).to_user(b), "not before the deadline"
    world.clock.advance(hours=1)
    said = await world.run_due(runner)
    assert "has gone to the next person" in said.to_user(b)[0].body
    assert "has come free, and it is yours if you want it" in said.to_user(c)[0].body
    assert "run out" in (await world.say(b, f"!accept {slug}")).text()
    said = await world.say(c, f"!accept {slug}")
    assert "The seat is yours" in said.text() and said.files()
    world.clock.advance(hours=48)
    assert (await world.run_due(runner)).text() == "", "an accepted offer never lapses"


async def test_declining_passes_the_offer_on(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    a, b, c = await world.people(3)
    for person in (a, b, c):
        await world.say(person, f"!register {slug}")
    await world.say(a, f"!cancel {slug}")
    said = await world.say(b, f"!decline {slug}")
    assert "goes to the next person" in said.text()
    assert "yours if you want it" in said.to_user(c)[0].body


async def test_auto_mode_promotes_the_first_waiting_at_once(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1, mode="auto")
    a, b = await world.people(2)
    await world.say(a, f"!register {slug}")
    await world.say(b, f"!register {slug}")
    said = await world.say(a, f"!cancel {slug}")
    [dm] = said.to_user(b)
    assert "it is yours now" in dm.body
    assert [f.user_id for f in said.files()] == [b]
    assert "registered" in (await world.say(b, "!my")).text()


async def test_workshops_have_their_own_capacity_and_one_per_member(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=3, extra="\nworkshops:\nCase clinic | 1\nPolicy lab | 2")
    a, b, c, d = await world.people(4)
    assert "Workshop Case clinic: you have a seat" in (await world.say(a, f"!register {slug} case clinic")).text()
    assert "number 1 on its waiting list" in (await world.say(b, f"!register {slug} case-clinic")).text()
    text = (await world.say(a, f"!register {slug} policy-lab")).text()
    assert "already have: Case clinic" in text
    assert "Workshop Policy lab: you have a seat" in (await world.say(c, f"!register {slug} 2")).text()
    # d waits for the event itself; the workshop choice is kept until d has a seat
    text = (await world.say(d, f"!register {slug} policy-lab")).text()
    assert "waiting list: number 1" in text and "as soon as you have a seat at the event" in text
    said = await world.say(a, f"!cancel {slug}")  # frees the event seat and the Case clinic seat
    assert "yours if you want it" in said.to_user(b)[0].body and "Case clinic" in said.to_user(b)[0].body
    said = await world.say(d, f"!accept {slug}")
    assert "You also have a seat in workshop Policy lab" in said.text()
    counts = (await world.say(carol, f"!attendees {slug}")).text()
    assert "Policy lab: 2 of 2 registered" in counts


async def test_the_coordinator_cancels_after_confirming_and_everyone_is_told(world: EventWorld,
                                                                             runner: ScheduleRunner) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    a, b, c = await world.people(3)
    for person in (a, b, c):
        await world.say(person, f"!register {slug}")
    await world.say(a, f"!cancel {slug}")  # b holds an open offer, c waits
    said = await world.say(carol, f"!event cancel {slug}")
    assert "0 registered, 1 with an open offer, 1 waiting (2 in all)" in said.text()
    assert "!confirm" in said.text() and not said.to_user(b)
    said = await world.say(carol, "!confirm")
    assert "(2 in all)" in said.text()
    for person in (b, c):
        assert "has been cancelled" in said.to_user(person)[0].body
    assert all(f.user_id in (b, c) for f in said.files()) and len(said.files()) == 2
    assert "has been cancelled" in said.to_room(ANNOUNCEMENTS)[0].body
    world.clock.advance(days=2)
    assert (await world.run_due(runner)).text() == "", "the open offer died with the event"
    assert "has been cancelled" in (await world.say(a, f"!register {slug}")).text()


async def test_export_uploads_a_csv_to_the_control_room(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    a, b = await world.people(2)
    await world.say(a, f"!register {slug}")
    await world.say(b, f"!register {slug}")
    said = await world.say(carol, f"!export {slug}")
    [csv_file] = said.files()
    assert csv_file.room_id == CONTROL and csv_file.payload["mimetype"] == "text/csv"
    lines = csv_file.file_bytes().decode().splitlines()
    assert lines[0].startswith("event,matrix_id,workshop,state,waitlist_position")
    assert f"{slug},{a},,confirmed," in lines[1] and f"{slug},{b},,waitlisted,1," in lines[2]
    assert "coordinators' room" in said.to_room(world.dm(carol))[0].body


async def test_questions_in_advance_can_be_anonymous_and_reach_facilitators(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=5)
    alice, fred = await world.person("alice"), await world.person("fred", "facilitator")
    assert "without your name" in (await world.say(alice, f"!ask {slug} anonymous How do we handle a relapse?")).text()
    await world.say(alice, f"!ask {slug} What does the employer have to pay for?")
    assert "Only a facilitator" in (await world.say(alice, f"!questions {slug}")).text()
    text = (await world.say(fred, f"!questions {slug}")).text()
    assert "How do we handle a relapse? (anonymous" in text
    assert f"What does the employer have to pay for? ({alice}" in text


async def test_mydata_and_forgetme_cover_registrations(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.say(alice, f"!register {slug}")
    await world.say(alice, f"!ask {slug} Is there parking nearby?")
    await world.say(bob, f"!register {slug}")
    async with db.transaction() as s:
        data = await privacy.export(s, alice)
    assert data["registrations"][0]["event"] == slug and data["registrations"][0]["state"] == "confirmed"
    assert data["events"]["questions"][0]["text"] == "Is there parking nearby?"
    async with db.transaction() as s:
        await privacy.erase(s, alice, world.clock.now)
    async with db.transaction() as s:
        assert (await privacy.export(s, alice))["registrations"] == []
    text = (await world.say(carol, f"!questions {slug}")).text()
    assert "Is there parking nearby? (anonymous" in text
    # the freed seat is given to the waiting member at the next registration decision
    await world.say(await world.person("dora"), f"!register {slug}")
    assert "0 of 1 registered, 1 offered, 1 waiting" in (await world.say(carol, f"!attendees {slug}")).text()


async def test_decline_and_accept_share_their_names_with_membership_commands(world: EventWorld) -> None:
    """`!decline @user` answers a join request (coordinators); `!decline <event>` a seat offer;
    `!accept <event>` is the offer (the house rules are `!accept-rules`)."""
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice = await world.person("alice")
    assert "no open seat offer" in (await world.say(alice, f"!decline {slug}")).text()
    assert "no open seat offer" in (await world.say(alice, f"!accept {slug}")).text()
    assert "Only a coordinator may use decline" in (await world.say(alice, "!decline @bob:example.org")).text()
    assert "seat offer" not in (await world.say(carol, "!decline @bob:example.org")).text()
