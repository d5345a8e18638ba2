"""Inviting someone who is not a member yet (issue 14, point 2): the invitation names the step
that works for them (join the network first), and after it their registration goes through."""
from __future__ import annotations

import pytest

from storage import direct_rooms
from storage.database import Database
from tests.unit.event_world import CONTROL, EventWorld
from tests.unit.helpers import T0, FakeClock

STRANGER = "@stranger:example.org"


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


async def test_an_invited_outsider_is_told_to_join_first_and_can_then_register(world: EventWorld,
                                                                               db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    async with db.transaction() as s:
        await direct_rooms.record(s, world.dm(STRANGER), STRANGER, T0)
    slug = await world.create(carol, capacity=5, extra="\ninvite-only: yes")
    said = await world.say(carol, f"!invite {slug} {STRANGER}", room=CONTROL)
    assert "Not (yet) members of this network: @stranger:example.org" in said.text()
    assert "!join main" in said.text()
    [invitation] = said.to_user(STRANGER)
    assert "You are invited to Theme meeting" in invitation.body
    assert "type !join main here" in invitation.body and f"!register {slug}" in invitation.body

    # the step the invitation names works, and leads to a registration
    said = await world.say(STRANGER, "!join main I was invited")
    assert "passed your request to join Main" in said.text()
    assert "!approve @stranger:example.org" in said.to_room(CONTROL)[0].body
    await world.say(carol, f"!approve {STRANGER}", room=CONTROL)
    await world.say(STRANGER, "!accept-rules")
    assert "You are registered for Theme meeting" in (await world.say(STRANGER, f"!register {slug}")).text()


async def test_an_outsider_invited_to_a_draft_gets_the_join_step_on_publishing(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    said = await world.say(carol, "!event create\ntitle: Closed circle\npurpose: A small circle for ten people."
                                  "\nstarts: 2025-04-14 19:30\nends: 21:30\ncapacity: 10\ninvite-only: yes")
    slug = said.text().split("Created draft ", 1)[1].split(".", 1)[0]
    await world.say(carol, f"!invite {slug} {STRANGER}")
    asked = await world.say(carol, f"!event publish {slug}")
    assert "send an invitation to the 1 invited person" in asked.text() and not asked.to_user(STRANGER)
    said = await world.say(carol, "!confirm")
    [invitation] = said.to_user(STRANGER)
    assert "type !join main here" in invitation.body
