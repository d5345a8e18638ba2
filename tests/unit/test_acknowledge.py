"""Seed 000 (issue 14, point 9): an event created with `acknowledge: yes` shows its purpose and
expectations on !register and takes the seat only on !confirm, in the order of confirmation."""
from __future__ import annotations

import pytest

from storage.database import Database
from tests.unit.event_world import EventWorld
from tests.unit.helpers import FakeClock


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


async def test_a_seat_is_taken_only_on_confirm_in_the_order_of_confirmation(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1, extra="\nacknowledge: yes")
    assert "asks you to confirm the purpose and expectations" in (await world.say(carol, f"!event {slug}")).text()
    alice, bob = await world.people(2)

    said = await world.say(alice, f"!register {slug}")
    text = said.text()
    assert "Why we meet: Collect members' experiences" in text and "Bring one situation" in text
    assert "Your seat is not held yet" in text and "!confirm" in text
    assert not said.files()  # no calendar file: nothing is held
    await world.say(bob, f"!register {slug}")
    assert "0 of 1 registered" in (await world.say(carol, f"!attendees {slug}")).text()

    world.clock.advance(minutes=2)
    said = await world.say(bob, "!confirm")  # bob confirms first, so the one seat is his
    assert "You are registered for Theme meeting" in said.text() and said.files()
    said = await world.say(alice, "!confirm")
    assert "waiting list: number 1" in said.text()
    assert "1 of 1 registered, 0 offered, 1 waiting" in (await world.say(carol, f"!attendees {slug}")).text()
    # once confirmed, asking again does not ask again
    assert "already" in (await world.say(bob, f"!register {slug}")).text()


async def test_stop_or_a_closed_registration_takes_no_seat(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=3, extra="\nacknowledge: yes\nregistration closes: 2025-03-10 13:05")
    alice, bob = await world.people(2)
    await world.say(alice, f"!register {slug}")
    assert "Cancelled" in (await world.say(alice, "!stop")).text()
    assert "nothing waiting for your confirmation" in (await world.say(alice, "!confirm")).text()
    await world.say(bob, f"!register {slug}")
    world.clock.advance(minutes=6)  # registration closed while bob read
    said = await world.say(bob, "!confirm")
    assert "closed" in said.text() and "You are registered" not in said.text()
    assert "0 of 3 registered" in (await world.say(carol, f"!attendees {slug}")).text()


async def test_off_by_default_and_switched_on_by_edit(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=3)
    alice, bob = await world.people(2)
    assert "You are registered" in (await world.say(alice, f"!register {slug}")).text()
    said = await world.say(carol, f"!event edit {slug}\nacknowledge: yes")
    if "!confirm" in said.text():  # an edit that messages people may ask first
        await world.say(carol, "!confirm")
    assert "Your seat is not held yet" in (await world.say(bob, f"!register {slug}")).text()
    said = await world.say(carol, f"!event edit {slug}\nacknowledge: maybe")
    assert 'The acknowledge must be yes or no, not "maybe"' in said.text()
