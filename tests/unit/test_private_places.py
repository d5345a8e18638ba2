"""Personal data never lands in a shared room: Where.PRIVATE commands (the roster, names, questions,
exports) answer only in a DM or the coordinators' room of their network; a member's own details go
to their DM; anonymous questions are asked in a DM and kept with their day only; drafts and
invitation-only events are not shown (or suggested) to those who may not see them, nor in a
shared room. Through the real Dispatcher and a real SQLite database."""
from __future__ import annotations

import enum
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from api import Rest, UserId, Where
from bot.router import Registry
from storage import members, networks
from storage.database import Database
from storage.models import EventQuestion
from tests.unit.event_world import CONTROL, FORM, LOBBY, EventWorld
from tests.unit.helpers import T0, FakeClock

OTHER_CONTROL = "!control-other:example.org"
REFUSED = "coordinators' room of its network"
PRIVATE_SPECS = sorted((s for s in Registry.discover().specs if s.where is Where.PRIVATE), key=lambda s: s.name)


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    world = await EventWorld(db, make_dispatcher(), clock).setup()
    async with db.transaction() as s:  # a second network, whose coordinators' room is not "main"'s
        await networks.upsert(s, "other", name="Other", language=None, timezone=None, house_rules="",
                              auto_approve={}, now=T0)
        await networks.record_room(s, "other", "control", OTHER_CONTROL, "11", T0)
    return world


def _args(spec) -> str:  # noqa: ANN001
    """Arguments that parse for the command's declaration (the place check comes before their use)."""
    out = []
    for p in spec.params:
        if p.kind is UserId:
            out.append("@alice:example.org")
        elif isinstance(p.kind, type) and issubclass(p.kind, enum.Enum):
            out.append(next(iter(p.kind)).name.lower())
        elif p.kind is int:
            out.append("1")
        elif not p.optional or p.kind is not Rest:
            out.append("theme-alcohol-work-2025")
    return " ".join(out)


def test_the_commands_that_name_people_are_private() -> None:
    names = {s.name for s in PRIVATE_SPECS}
    assert {"members", "approve", "decline", "remove", "role", "event cancel", "invite", "questions",
            "export"} <= names


@pytest.mark.parametrize("spec", PRIVATE_SPECS, ids=lambda s: s.name)
async def test_every_private_command_is_refused_in_a_shared_room(world: EventWorld, spec) -> None:  # noqa: ANN001
    carol = await world.person("carol", "coordinator")
    await world.person("alice")
    await world.create(carol, capacity=2)
    said = await world.say(carol, f"!{spec.name} {_args(spec)}", room=LOBBY)
    assert len(said) == 1 and said[0].room_id == LOBBY, said.text()
    assert REFUSED in said.text()


async def test_members_answers_in_the_dm_and_the_coordinators_room_only(world: EventWorld) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    assert REFUSED in (await world.say(carol, "!members", room=LOBBY)).text()
    assert alice in (await world.say(carol, "!members", room=CONTROL)).text()
    assert alice in (await world.say(carol, "!members")).text()
    help_text = (await world.say(carol, "!help members", room=CONTROL)).text()
    assert "in a direct message with me, or in the coordinators' room" in help_text


async def test_event_data_stays_out_of_another_networks_coordinators_room(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=2)
    async with db.transaction() as s:  # she coordinates the other network too
        await members.set_role(s, "other", carol, "coordinator", T0)
    alice = await world.person("alice")
    await world.say(alice, f"!register {slug}")
    await world.say(alice, f"!ask {slug} Is there parking nearby?")
    for command in (f"!questions {slug}", f"!event cancel {slug}", f"!export {slug}"):
        said = await world.say(carol, command, room=OTHER_CONTROL)
        assert REFUSED in said.text() and alice not in said.text() and not said.files(), command
    text = (await world.say(carol, f"!questions {slug}", room=CONTROL)).text()
    assert "Is there parking nearby?" in text and alice in text


async def test_my_and_profile_in_a_shared_room_answer_in_the_dm(world: EventWorld) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    slug = await world.create(carol, capacity=2)
    await world.say(alice, f"!register {slug}")
    await world.say(alice, "!org Hospital Noord")
    for command, detail in (("!my", "Theme meeting on alcohol"), ("!profile", "Hospital Noord")):
        said = await world.say(alice, command, room=LOBBY)
        [brief] = said.to_room(LOBBY)
        assert "direct conversation" in brief.body and detail not in brief.body, command
        [dm] = said.to_user(alice)
        assert detail in dm.body, command
    assert "Hospital Noord" in (await world.say(alice, "!profile")).to_room(world.dm(alice))[0].body


async def test_anonymous_questions_only_in_a_dm_and_dated_by_the_day(world: EventWorld, db: Database) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    fred = await world.person("fred", "facilitator")
    slug = await world.create(carol, capacity=5)
    said = await world.say(alice, f"!ask {slug} anonymous How do we handle a relapse?", room=LOBBY)
    assert "in a direct message with me" in said.text()
    async with db.transaction() as s:
        assert (await s.execute(select(EventQuestion))).scalars().all() == [], "nothing stored from the lobby"
    world.clock.advance(hours=1, minutes=17)  # 14:17 in Amsterdam
    assert "without your name" in (await world.say(alice, f"!ask {slug} anonymous How do we handle a relapse?")).text()
    await world.say(alice, f"!ask {slug} What does the employer have to pay for?")
    async with db.transaction() as s:
        anonymous, named = (await s.execute(select(EventQuestion).order_by(EventQuestion.id))).scalars().all()
    assert anonymous.user_id is None
    assert anonymous.created_at == datetime(2025, 3, 9, 23, 0, tzinfo=timezone.utc)  # midnight in Amsterdam
    assert named.user_id == alice and named.created_at == world.clock.now
    text = (await world.say(fred, f"!questions {slug}")).text()
    assert "How do we handle a relapse? (anonymous, Mon, 10 Mar 2025)" in text
    assert f"What does the employer have to pay for? ({alice}, Monday, 10 March 2025 at 14:17 (Amsterdam))" in text
    assert REFUSED in (await world.say(fred, f"!questions {slug}", room=LOBBY)).text()


# ---- drafts and invitation-only events ------------------------------------------------------------

async def test_drafts_are_not_suggested_to_members_nor_listed_in_a_shared_room(world: EventWorld) -> None:
    carol, alice = await world.person("carol", "coordinator"), await world.person("alice")
    said = await world.say(carol, "!event create\n" + FORM.format(capacity=5, mode="offer"))
    assert "Created draft theme-alcohol-work-2025" in said.text()
    text = (await world.say(alice, "!event theme-alcohol-work-202")).text()
    assert "I know no event" in text and "theme-alcohol-work-2025" not in text.replace("work-202\"", "")
    assert "Did you mean" not in text
    assert "Did you mean theme-alcohol-work-2025" in (await world.say(carol, "!event theme-alcohol-work-202")).text()
    lobby = (await world.say(carol, "!events", room=LOBBY)).text()
    assert "Theme meeting" not in lobby and "only in a direct message" in lobby
    assert "(draft) Theme meeting" in (await world.say(carol, "!events", room=CONTROL)).text()
    assert "(draft) Theme meeting" in (await world.say(carol, "!events")).text()
    said = await world.say(carol, "!event theme-alcohol-work-2025", room=LOBBY)
    assert "Theme meeting" not in said.to_room(LOBBY)[0].body
    assert "DRAFT" in said.to_user(carol)[0].body


async def test_an_invite_only_event_is_unknown_to_members_not_invited(world: EventWorld) -> None:
    carol, alice, bob = await world.person("carol", "coordinator"), await world.person("alice"), await world.person("bob")
    slug = await world.create(carol, capacity=5, extra="\ninvite-only: yes")
    await world.say(carol, f"!invite {slug} {alice}")
    for command in (f"!event {slug}", f"!event {slug[:-1]}", f"!register {slug}"):
        text = (await world.say(bob, command)).text()
        assert "I know no event" in text and "Did you mean" not in text, (command, text)
    assert "Theme meeting" not in (await world.say(bob, "!events")).text()
    assert "By invitation only" in (await world.say(alice, f"!event {slug}")).text()
    assert "Theme meeting" in (await world.say(alice, "!events")).text()
    assert "Theme meeting" not in (await world.say(alice, "!events", room=LOBBY)).text()
    said = await world.say(alice, f"!event {slug}", room=LOBBY)
    assert "Theme meeting" not in said.to_room(LOBBY)[0].body and said.to_user(alice)
