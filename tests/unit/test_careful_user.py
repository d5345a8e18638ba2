"""What a careful user found (issue 14, point 11), through the real Dispatcher: personal answers
go to the DM, hostile input gets a clear answer, replies read well and always fit."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from api import Context, Reply, command
from api.render import as_text
from bot.dispatch import DispatchSettings, Dispatcher
from bot.router import Registry
from storage import members
from storage.database import Database
from tests.unit.event_world import CONTROL, FORM, LOBBY, EventWorld
from tests.unit.helpers import BOT, FakeClock, FakeRuntime

SAFE_CONTENT = 45_000  # below this an encrypted event stays under Matrix's 64 KiB (see test_events_fixes)


@command("count", help="cmd.help")
async def count(ctx: Context, n: int) -> Reply:
    return Reply(as_text(f"n={n}"))


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


async def profile_of(db: Database, user: str):  # noqa: ANN201
    async with db.read() as s:
        return await members.get(s, user)


# ---- personal data only in the DM -----------------------------------------------------------

@pytest.mark.parametrize("command, shown", [("!org Acme Care", "Acme Care"), ("!tz Europe/Oslo", "Europe/Oslo")])
async def test_org_and_tz_in_the_lobby_answer_in_the_dm(world: EventWorld, command: str, shown: str) -> None:
    alice = await world.person("alice")
    said = await world.say(alice, command, room=LOBBY)
    [public] = said.to_room(LOBBY)
    assert shown not in public.body and "direct conversation" in public.body
    assert shown in said.to_user(alice)[0].body


# ---- hostile input ----------------------------------------------------------------------------

async def test_org_refuses_a_name_too_long_or_without_visible_characters(world: EventWorld, db: Database) -> None:
    alice = await world.person("alice")
    await world.say(alice, "!org Acme")
    said = await world.say(alice, "!org " + "x" * 256)
    assert "256 characters" in said.text() and "255" in said.text()
    said = await world.say(alice, "!org \u200b\u200c\u200d\u2060")
    assert "no visible characters" in said.text()
    assert (await profile_of(db, alice)).organisation == "Acme"  # neither was stored, nor cut down
    await world.say(alice, "!org " + "y" * 255)
    assert (await profile_of(db, alice)).organisation == "y" * 255


@pytest.mark.parametrize("capacity", ["\u0663", "1_000", "\uff15"])
async def test_a_capacity_in_other_digits_is_refused(world: EventWorld, capacity: str) -> None:
    carol = await world.person("carol", "coordinator")
    said = await world.say(carol, "!event create\n" + FORM.format(capacity=capacity, mode="offer"))
    assert "Created" not in said.text()
    assert "capacity must be a whole number" in said.text()


async def test_a_count_argument_in_other_digits_is_refused_by_the_router(world: EventWorld) -> None:
    world.dispatcher.registry = Registry([*Registry.discover().specs, count.__kring_command__])
    alice = await world.person("alice")
    assert "n=12" in (await world.say(alice, "!count 12")).text()
    for raw in ("\u0663", "1_000"):
        assert "whole number" in (await world.say(alice, f"!count {raw}")).text()


async def test_the_question_mark_alias_of_help_is_answered(world: EventWorld) -> None:
    alice = await world.person("alice")
    said = await world.say(alice, "!?")
    assert said.text() == (await world.say(alice, "!help")).text() != ""


async def test_a_display_name_with_a_right_to_left_override_is_isolated(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    mallory = await world.person("mallory")
    async with db.transaction() as s:
        (await members.get(s, mallory)).display_name = "\u202eevil\u2069 name"
        (await members.get(s, mallory)).organisation = "\u202eOrg"
    said = await world.say(carol, "!members mallory", room=CONTROL)
    html = said.to_room(CONTROL)[0].payload["content"]["formatted_body"]
    assert "\u2068\u202eevil name\u2069" in html  # the name's own PDI cannot end the isolate early
    assert "\u2068\u202eOrg\u2069" in html


# ---- replies that fit and read well --------------------------------------------------------------

async def test_an_edit_with_thousands_of_unknown_fields_gets_a_short_answer(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol)
    junk = "\n".join(f"nonsense{i}: value" for i in range(2000))
    said = await world.say(carol, f"!event edit {slug}\n{junk}")
    [reply] = said.to_room(world.dm(carol))
    assert len(json.dumps(reply.payload["content"])) < SAFE_CONTENT
    assert "nonsense0" in reply.body and "1,985 more problems" in reply.body


async def test_form_problems_name_their_field_and_offer_only_real_suggestions(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol)
    text = (await world.say(carol, f"!event edit {slug}\nqwertyuiop: 1\ntitle: ab\nstarts: 2020-01-01 10:00")).text()
    assert 'I do not know the field "qwertyuiop".' in text and "did you mean" not in text
    assert "The title is too short: at least 3 characters" in text
    assert 'The date you gave for "starts" (2020-01-01 10:00) is in the past' in text
    assert "did you mean capacity?" in (await world.say(carol, f"!event edit {slug}\ncapcity: 3")).text()


async def test_attendees_mention_members_choosing_a_workshop_only_when_there_are_some(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1, extra="\nworkshops:\nClay | 5")
    a, b = await world.people(2)
    await world.say(a, f"!register {slug}")
    await world.say(b, f"!register {slug} clay")  # waits for the event; the workshop choice is kept
    text = (await world.say(carol, f"!attendees {slug}")).text()
    assert "choosing" not in text
    [event_line] = [x for x in text.splitlines() if x.startswith("- The event")]
    [clay_line] = [x for x in text.splitlines() if x.startswith("- Clay")]
    assert "chose it while" not in event_line
    assert "1 who chose it while still waiting for a seat at the event" in clay_line


async def test_accepting_the_rules_shows_the_rules_accepted(world: EventWorld) -> None:
    newcomer = await world.person("nina", rules=False)
    text = (await world.say(newcomer, "!accept-rules")).text()
    assert "House rules of Main" in text and "Be kind." in text and "!rules" in text


# ---- NUL characters on PostgreSQL ----------------------------------------------------------------

@pytest.fixture
async def pg_world(pg_url: str, clock: FakeClock) -> AsyncIterator[EventWorld]:
    database = Database(pg_url)
    await database.migrate()
    settings = DispatchSettings(bot_user_id=BOT, prefix="!", language="en", max_age=timedelta(minutes=10))
    dispatcher = Dispatcher(database, Registry.discover(), settings, FakeRuntime(), clock)
    try:
        yield await EventWorld(database, dispatcher, clock).setup()
    finally:
        await database.close()


@pytest.mark.postgres
async def test_a_nul_character_in_any_command_is_dropped_on_postgresql(pg_world: EventWorld) -> None:
    carol = await pg_world.person("carol", "coordinator")
    alice = await pg_world.person("alice")
    slug = await pg_world.create(carol)
    said = await pg_world.say(alice, "!org Acme\x00 Care")
    assert 'Your organisation is now "Acme Care"' in said.text()
    said = await pg_world.say(alice, f"!ask {slug} what\x00 should I bring along?")
    assert "Thank you" in said.text()
    said = await pg_world.say(alice, f"!register\x00 {slug}")
    assert "You are registered" in said.text()
    said = await pg_world.say(carol, "!event create\ntitle: Null\x00 test\npurpose: x\x00")
    assert "went wrong" not in said.text() and "purpose is too short" in said.text()
    for text in (said.text(), (await pg_world.say(alice, "!\x00\x00")).text()):
        assert "went wrong" not in text
