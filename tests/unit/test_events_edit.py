"""`!event edit` through the real Dispatcher: what changes, who is told, what needs `!confirm`,
and what happens to seats and waiting lists when the capacity or a workshop changes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage.database import Database
from tests.unit.event_world import EventWorld, FORM, Said, ics_start


pytestmark = pytest.mark.both_databases


@pytest.fixture
async def world(db: Database, make_dispatcher, clock) -> EventWorld:  # noqa: ANN001
    return await EventWorld(db, make_dispatcher(), clock).setup()


@pytest.fixture
def runner(db: Database, clock) -> ScheduleRunner:  # noqa: ANN001
    return ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=48), language="en")


def sequence(data: bytes) -> int:
    [event] = list(Calendar.from_ical(data).walk("VEVENT"))
    return int(event["sequence"])


async def full_event(world: EventWorld, capacity: int, people: int, *, mode: str = "offer",
                     extra: str = "") -> tuple[str, str, list[str]]:
    """A published event with `people` registered in turn (the first `capacity` hold seats)."""
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=capacity, mode=mode, extra=extra)
    crowd = await world.people(people)
    for person in crowd:
        await world.say(person, f"!register {slug}")
    return carol, slug, crowd


async def edit(world: EventWorld, carol: str, slug: str, changes: str) -> Said:
    return await world.say(carol, f"!event edit {slug}\n{changes}")


# ---- applied at once, or after !confirm --------------------------------------------------------

async def test_a_draft_is_changed_at_once(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    text = (await world.say(carol, "!event create\n" + FORM.format(capacity=30, mode="offer"))).text()
    slug = text.split("Created draft ", 1)[1].split(".", 1)[0]
    said = await edit(world, carol, slug, "capacity: 40\nstarts: 2025-04-15 19:30\nends: 21:30")
    assert "Updated" in said.text() and "People told of the change: 0" in said.text()
    assert "!confirm" not in said.text()
    text = (await world.say(carol, f"!event {slug}")).text()
    assert "40 of 40 left" in text and "Tuesday, 15 April 2025, 19:30–21:30" in text


async def test_a_published_event_nobody_registered_for_is_changed_at_once(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=5)
    said = await edit(world, carol, slug, "starts: 2025-04-16 10:00\nends: 12:00")
    assert "Updated" in said.text() and "!confirm" not in said.text()
    assert "Wednesday, 16 April 2025, 10:00–12:00" in (await world.say(carol, f"!event {slug}")).text()


async def test_an_edit_that_messages_registrants_says_so_and_waits_for_confirm(world: EventWorld) -> None:
    carol, slug, (a, b) = await full_event(world, 1, 2)
    said = await edit(world, carol, slug, "place: Town hall, Groningen")
    text = said.text()
    assert "This will notify 2 registrants" in text and "!confirm" in text
    assert not said.to_user(a) and not said.to_user(b) and not said.files()
    assert "meet.example.org" in (await world.say(carol, f"!event {slug}")).text(), "nothing changed yet"
    said = await world.say(carol, "!confirm")
    assert "People told of the change: 2" in said.text()
    assert "Town hall, Groningen" in said.to_user(a)[0].body
    assert "Town hall, Groningen" in (await world.say(carol, f"!event {slug}")).text()


async def test_stop_drops_a_pending_edit(world: EventWorld) -> None:
    carol, slug, (a,) = await full_event(world, 1, 1)
    await edit(world, carol, slug, "place: Town hall, Groningen")
    assert "Nothing was changed" in (await world.say(carol, "!stop")).text()
    assert "nothing waiting for your confirmation" in (await world.say(carol, "!confirm")).text()
    assert "meet.example.org" in (await world.say(a, f"!event {slug}")).text()


async def test_a_bad_field_is_refused_before_anything_is_asked(world: EventWorld) -> None:
    carol, slug, _ = await full_event(world, 1, 2)
    said = await edit(world, carol, slug, "capacity: 0\nstarts: tomorrow-ish")
    assert "The capacity must be between 1 and 100,000 (not 0)" in said.text()
    assert "!confirm" not in said.text()


# ---- the date moves ----------------------------------------------------------------------------

async def test_moving_the_date_tells_registrants_with_a_new_calendar_file(world: EventWorld) -> None:
    carol, slug, (a, b) = await full_event(world, 1, 2)
    await edit(world, carol, slug, "starts: 2025-04-15 19:30\nends: 21:30")
    said = await world.say(carol, "!confirm")
    assert "People told of the change: 2" in said.text()
    [to_a] = said.to_user(a)
    assert "Tuesday, 15 April 2025, 19:30–21:30" in to_a.body and to_a.msgtype == "m.text"
    [ics] = said.files()
    assert ics.user_id == a, "only a seat holder gets a calendar entry"
    assert ics_start(ics.file_bytes()) == datetime(2025, 4, 15, 17, 30, tzinfo=timezone.utc)
    assert sequence(ics.file_bytes()) == 1
    [to_b] = said.to_user(b)
    assert "Tuesday, 15 April 2025" in to_b.body and "waiting list" in to_b.body
    await edit(world, carol, slug, "starts: 2025-04-16 19:30\nends: 21:30")
    said = await world.say(carol, "!confirm")
    assert sequence(said.files()[0].file_bytes()) == 2, "each change raises the SEQUENCE"


async def test_the_calendar_file_after_a_move_is_later_than_the_one_at_registration(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=3)
    alice = await world.person("alice")
    before = (await world.say(alice, f"!register {slug}")).files()[0].file_bytes()
    await edit(world, carol, slug, "ends: 22:00")
    after = (await world.say(carol, "!confirm")).files()[0].file_bytes()
    assert sequence(after) > sequence(before)
    newcomer = await world.person("bob")
    late = (await world.say(newcomer, f"!register {slug}")).files()[0].file_bytes()
    assert sequence(late) == sequence(after), "a later registrant gets the current version"


# ---- the capacity rises --------------------------------------------------------------------------

async def test_raising_the_capacity_offers_seats_to_the_waiting_in_order(world: EventWorld) -> None:
    carol, slug, (a, b, c, d) = await full_event(world, 1, 4)
    said = await edit(world, carol, slug, "capacity: 3")
    assert "This will notify 2 registrants" in said.text() and "offer" in said.text()
    assert not said.to_user(b)
    said = await world.say(carol, "!confirm")
    assert "Seats given or offered to people on the waiting list: 2" in said.text()
    for person in (b, c):
        [offer] = said.to_user(person)
        assert "!accept " + slug in offer.body and offer.msgtype == "m.text"
    assert not said.to_user(a) and not said.to_user(d)
    assert "waiting list, number 1" in (await world.say(d, "!my")).text()
    assert "1 of 3 registered, 2 offered, 1 waiting" in (await world.say(carol, f"!attendees {slug}")).text()
    assert "The seat is yours" in (await world.say(c, f"!accept {slug}")).text()


async def test_raising_the_capacity_in_auto_mode_seats_the_waiting_with_a_calendar_file(world: EventWorld) -> None:
    carol, slug, (a, b, c) = await full_event(world, 1, 3, mode="auto")
    await edit(world, carol, slug, "capacity: 2")
    said = await world.say(carol, "!confirm")
    assert "it is yours now" in said.to_user(b)[0].body
    assert [f.user_id for f in said.files()] == [b]
    assert not said.to_user(c)
    assert "waiting list, number 1" in (await world.say(c, "!my")).text()


# ---- the capacity falls --------------------------------------------------------------------------

async def test_lowering_the_capacity_keeps_every_seat_and_says_so(world: EventWorld) -> None:
    carol, slug, (a, b, c, d) = await full_event(world, 3, 4)
    said = await edit(world, carol, slug, "capacity: 2")  # nobody is messaged: at once
    text = said.text()
    assert "!confirm" not in text
    assert "3 people already hold a seat, more than the new capacity of 2" in text
    assert "Nobody loses their seat" in text
    assert not said.to_user(a) and not said.to_user(d)
    said = await world.say(a, f"!cancel {slug}")
    assert not said.to_user(d), "no seat comes free while the seats taken are still at the capacity"
    said = await world.say(b, f"!cancel {slug}")
    assert "yours if you want it" in said.to_user(d)[0].body


async def test_lowering_the_capacity_recalls_open_offers_latest_in_line_first(world: EventWorld) -> None:
    carol, slug, (a, b, c, d, e) = await full_event(world, 3, 5)
    for person in (a, b):
        await world.say(person, f"!cancel {slug}")  # d and e hold open offers now; c has a seat
    said = await edit(world, carol, slug, "capacity: 2")
    assert "This will notify 1 registrant by" in said.text() and "withdraw" in said.text()
    said = await world.say(carol, "!confirm")
    assert "Open offers withdrawn because the capacity fell: 1" in said.text()
    [note] = said.to_user(e)
    assert "no longer" in note.body and "waiting list, number 1" in note.body
    assert not said.to_user(d) and not said.to_user(c)
    assert "1 of 2 registered, 1 offered, 1 waiting" in (await world.say(carol, f"!attendees {slug}")).text()
    assert "no open seat offer" in (await world.say(e, f"!accept {slug}")).text()
    assert "The seat is yours" in (await world.say(d, f"!accept {slug}")).text()
    said = await world.say(c, f"!cancel {slug}")
    assert "yours if you want it" in said.to_user(e)[0].body, "first in line again when a seat frees"


async def test_a_recalled_offer_does_not_lapse_later(world: EventWorld, runner: ScheduleRunner) -> None:
    carol, slug, (a, b, c) = await full_event(world, 2, 3)
    await world.say(a, f"!cancel {slug}")  # c holds an offer
    await edit(world, carol, slug, "capacity: 1")
    await world.say(carol, "!confirm")
    world.clock.advance(hours=30)
    said = await world.run_due(runner)
    assert not said.to_user(c), "the recalled offer's expiry was cancelled with it"
    assert "waiting list, number 1" in (await world.say(c, "!my")).text()


# ---- workshops ---------------------------------------------------------------------------------

WORKSHOPS = "\nworkshops:\nCase clinic | 1\nPolicy lab | 2"


async def test_raising_a_busy_workshop_offers_its_seat_to_its_first_waiting(world: EventWorld) -> None:
    carol, slug, (a, b, c) = await full_event(world, 5, 3, extra=WORKSHOPS)
    await world.say(a, f"!register {slug} case-clinic")
    await world.say(b, f"!register {slug} case-clinic")
    await world.say(c, f"!register {slug} case-clinic")
    said = await edit(world, carol, slug, "workshops:\nCase clinic | 2\nPolicy lab | 2")
    assert "This will notify 1 registrant by" in said.text()
    said = await world.say(carol, "!confirm")
    [offer] = said.to_user(b)
    assert "Case clinic" in offer.body and f"!accept {slug} case-clinic" in offer.body
    assert not said.to_user(c)
    assert "Case clinic: 1 of 2 registered, 1 offered, 1 waiting" in (await world.say(carol, f"!attendees {slug}")).text()


async def test_a_workshop_with_registrations_cannot_be_removed_and_nothing_changes(world: EventWorld) -> None:
    carol, slug, (a,) = await full_event(world, 5, 1, extra=WORKSHOPS)
    await world.say(a, f"!register {slug} policy-lab")
    said = await edit(world, carol, slug, "capacity: 9\nworkshops:\nCase clinic | 3")
    assert "Workshop Policy lab has 1 registration, so it cannot be removed" in said.text()
    text = (await world.say(carol, f"!attendees {slug}")).text()
    assert "Policy lab: 1 of 2 registered" in text and "Case clinic: 0 of 1 registered" in text
    assert "0 of 5" not in text and "1 of 5 registered" in text, "the capacity did not change either"
    said = await edit(world, carol, slug, "workshops:\nPolicy lab | 2")
    assert "Removed workshops: Case clinic" in said.text()


async def test_lowering_a_busy_workshop_keeps_its_seats(world: EventWorld) -> None:
    carol, slug, (a, b, c) = await full_event(world, 5, 3, extra=WORKSHOPS)
    for person in (a, b):
        await world.say(person, f"!register {slug} policy-lab")
    await world.say(c, f"!register {slug} policy-lab")
    said = await edit(world, carol, slug, "workshops:\nCase clinic | 1\nPolicy lab | 1")
    assert "!confirm" not in said.text()
    assert "Policy lab: 2 people already hold a seat, more than its new capacity of 1" in said.text()
    text = (await world.say(carol, f"!attendees {slug}")).text()
    assert "Policy lab: 2 of 1 registered" in text and "1 waiting" in text


async def test_each_registrant_is_told_of_a_move_in_their_own_language(world: EventWorld) -> None:
    carol, slug, (a, b) = await full_event(world, 1, 2)
    await world.say(a, "!lang nl")
    await edit(world, carol, slug, "place: Town hall, Groningen")
    said = await world.say(carol, "!confirm")
    assert "is gewijzigd" in said.to_user(a)[0].body and "agendabestand" in said.to_user(a)[0].body
    assert "has changed" in said.to_user(b)[0].body


async def test_a_relative_time_counts_from_the_edit_not_from_the_confirm(world: EventWorld) -> None:
    """`starts: in 40 days` means forty days after the coordinator wrote it, however long the
    `!confirm` takes (the edit is read again at `!confirm`)."""
    carol, slug, (a,) = await full_event(world, 1, 1)
    written = world.clock.now
    said = await edit(world, carol, slug, "starts: in 40 days\nends: in 962 hours")
    assert "!confirm" in said.text()
    world.clock.advance(minutes=4)  # the question is still open
    said = await world.say(carol, "!confirm")
    [ics] = said.files()
    assert ics_start(ics.file_bytes()) == written + timedelta(days=40)
