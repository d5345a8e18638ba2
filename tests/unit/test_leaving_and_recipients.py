"""Through the real Dispatcher: `!leave` and `!remove` give up the person's seats and waiting-list
places (the next in line moves up; the person is told nothing more), and every message to someone
other than the actor is written in the recipient's language with the configured command prefix."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api import i18n
from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage import members, networks, registrations as regs
from storage.database import Database
from tests.unit.event_world import ANNOUNCEMENTS, CONTROL, FORM, NET, EventWorld
from tests.unit.helpers import FakeClock, open_dm

EVERY_STATE = (*regs.ACTIVE, regs.CANCELLED, regs.DECLINED, regs.EXPIRED)
TEST_LANGUAGE = "xx"
TEST_CATALOGUE = {
    "membership.welcome": "XX-WELCOME {network} {accept}",
    "events.offer.dm": "XX-OFFER {what} {accept}",
    "events.workshop_of": "XX-WORKSHOP {workshop}",
    "events.offer.lapsed": "XX-LAPSED {register}",
    "events.cancel_event.post": "XX-CANCELLED {title}",
}


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


@pytest.fixture
def test_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """A language the bot has a (tiny) catalogue for, besides English."""
    real = i18n.catalogue
    monkeypatch.setattr(i18n, "catalogue", lambda language: TEST_CATALOGUE if language == TEST_LANGUAGE
                        else real(language))


async def set_language(db: Database, user: str, language: str) -> None:
    async with db.transaction() as s:
        (await members.get(s, user)).language = language


async def state_of(db: Database, slug: str, user: str) -> str | None:
    """The person's place at the event itself (not a workshop), whatever its state."""
    async with db.transaction() as s:
        found = [r.state for r, e in await regs.of_user(s, user, EVERY_STATE) if e.slug == slug and r.slot == 0]
    return found[0] if found else None


# ---- leaving frees seats ---------------------------------------------------------------------

async def test_leave_gives_the_seat_to_the_next_in_line(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice, bob, dave = await world.people(3)
    await world.say(alice, f"!register {slug}")
    await world.say(bob, f"!register {slug}")
    await world.say(dave, f"!register {slug}")
    said = await world.say(alice, f"!leave {NET}")
    assert "You have left" in said.to_room(world.dm(alice))[0].body
    [offer] = said.to_user(bob)
    assert "yours if you want it" in offer.body and f"!accept {slug}" in offer.body
    assert not said.to_user(dave), "only the first in line is offered the one seat"
    assert all("seat" not in s.body for s in said.to_user(alice)), "the leaver gets no seat message"
    assert await state_of(db, slug, alice) == "cancelled"
    accepted = await world.say(bob, f"!accept {slug}")
    assert "seat" in accepted.text() and "run out" not in accepted.text()


async def test_leave_also_gives_up_a_waiting_list_place(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice, bob, dave = await world.people(3)
    for person in (alice, bob, dave):
        await world.say(person, f"!register {slug}")
    await world.say(bob, f"!leave {NET}")  # bob was first on the waiting list
    said = await world.say(alice, f"!cancel {slug}")
    assert said.to_user(dave) and "yours if you want it" in said.to_user(dave)[0].body
    assert not said.to_user(bob), "someone who left is never offered a seat"
    assert await state_of(db, slug, bob) == "cancelled"


async def test_remove_gives_the_seat_to_the_next_in_line(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice, bob = await world.people(2)
    await world.say(alice, f"!register {slug}")
    await world.say(bob, f"!register {slug}")
    said = await world.say(carol, f"!remove {alice}", room=CONTROL)
    if "!confirm" in said.text():  # removing someone may ask first
        said = await world.say(carol, "!confirm", room=CONTROL)
    assert "has been removed" in said.text()
    [offer] = said.to_user(bob)
    assert "yours if you want it" in offer.body
    assert all("seat" not in s.body for s in said.to_user(alice)), "the removed person gets no offer"
    assert await state_of(db, slug, alice) == "cancelled"


# ---- each recipient in their own language, with the configured prefix --------------------------

async def test_an_approval_is_written_in_the_members_language(world: EventWorld, db: Database,
                                                              test_catalogue: None) -> None:
    carol = await world.person("carol", "coordinator")  # writes in English (no !lang)
    dave = "@dave:example.org"
    await open_dm(db, world.dm(dave), dave)
    assert "request" in (await world.say(dave, f"!join {NET} hello")).text()
    await set_language(db, dave, TEST_LANGUAGE)
    said = await world.say(carol, f"!approve {dave}", room=CONTROL)
    [welcome] = said.to_user(dave)
    assert welcome.body.startswith("XX-WELCOME Main !accept-rules")
    assert "is now a member" in said.to_room(CONTROL)[0].body, "the coordinator's reply stays in her language"


async def test_a_seat_offer_is_written_in_the_recipients_language(world: EventWorld, db: Database,
                                                                  test_catalogue: None) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice, bob = await world.people(2)
    await set_language(db, bob, TEST_LANGUAGE)
    await world.say(alice, f"!register {slug}")
    await world.say(bob, f"!register {slug}")
    said = await world.say(alice, f"!cancel {slug}")  # alice writes in English
    [offer] = said.to_user(bob)
    assert offer.body == f"XX-OFFER Theme meeting on alcohol at work !accept {slug}"
    assert "XX" not in said.to_room(world.dm(alice))[0].body, "alice's own reply stays in English"


async def test_a_lapsed_offer_from_the_schedule_names_the_configured_prefix(db: Database, make_dispatcher,
                                                                            clock: FakeClock) -> None:
    world = await EventWorld(db, make_dispatcher(prefix="?"), clock).setup()
    carol = await world.person("carol", "coordinator")
    said = await world.say(carol, "?event create\n" + FORM.format(capacity=1, mode="offer"))
    slug = said.text().split("Created draft ", 1)[1].split(".", 1)[0]
    assert "?confirm" in (await world.say(carol, f"?event publish {slug}")).text()
    assert "Published" in (await world.say(carol, "?confirm")).text()
    alice, bob = await world.people(2)
    await world.say(alice, f"?register {slug}")
    await world.say(bob, f"?register {slug}")
    await world.say(alice, f"?cancel {slug}")
    clock.advance(hours=25)
    runner = ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=48), language="en",
                            prefix="?")
    said = await world.run_due(runner)
    [lapsed] = said.to_user(bob)
    assert "offer ran out" in lapsed.body
    assert f"?register {slug}" in lapsed.body and "!register" not in lapsed.body


async def set_network_language(db: Database, language: str) -> None:
    async with db.transaction() as s:
        (await networks.get(s, NET)).language = language


async def test_without_their_own_language_a_member_reads_the_networks(world: EventWorld, db: Database,
                                                                      test_catalogue: None) -> None:
    carol = await world.person("carol", "coordinator")
    await set_language(db, carol, "en")  # the coordinator chose English; the network speaks "xx"
    await set_network_language(db, TEST_LANGUAGE)
    dave = "@dave:example.org"
    await open_dm(db, world.dm(dave), dave)
    await world.say(dave, f"!join {NET} hello")
    said = await world.say(carol, f"!approve {dave}", room=CONTROL)
    assert said.to_user(dave)[0].body.startswith("XX-WELCOME Main")
    assert "is now a member" in said.to_room(CONTROL)[0].body


async def test_a_lapsed_offer_from_the_schedule_is_in_the_recipients_language(world: EventWorld, db: Database,
                                                                              clock: FakeClock,
                                                                              test_catalogue: None) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice, bob = await world.people(2)
    await set_language(db, bob, TEST_LANGUAGE)
    for person in (alice, bob):
        await world.say(person, f"!register {slug}")
    await world.say(alice, f"!cancel {slug}")
    clock.advance(hours=25)
    runner = ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=48), language="en")
    [lapsed] = (await world.run_due(runner)).to_user(bob)
    assert lapsed.body == f"XX-LAPSED !register {slug}"


async def test_a_cancellation_is_posted_in_the_networks_language(world: EventWorld, db: Database,
                                                                 test_catalogue: None) -> None:
    carol = await world.person("carol", "coordinator")
    await set_language(db, carol, "en")
    slug = await world.create(carol, capacity=1)
    await set_network_language(db, TEST_LANGUAGE)
    await world.say(carol, f"!event cancel {slug}", room=CONTROL)
    said = await world.say(carol, "!confirm", room=CONTROL)
    [post] = said.to_room(ANNOUNCEMENTS)
    assert post.body == "XX-CANCELLED Theme meeting on alcohol at work"
    assert "XX" not in said.to_room(CONTROL)[0].body, "the coordinator's reply stays in her language"
