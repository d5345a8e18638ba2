"""Issue 15 through the bot: what people type in Dutch or Norwegian is understood, and what they
read comes in their language, on their clock."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.models import Event
from tests.unit.event_world import EventWorld
from tests.unit.helpers import FakeClock

NL_FORM = """titel: Themabijeenkomst alcohol op het werk
doel: Ervaringen met alcohol en drugs op het werk verzamelen; geen lezing.
verwachtingen: Breng een situatie uit uw eigen praktijk mee.
begin: morgen 19:30
einde: 21:30
locatie: https://meet.example.org/alcohol
plaatsen: 30
op uitnodiging: nee
wachtlijst: automatisch
aanmelden tot: morgen 12:00"""

NB_FORM = """tittel: Themabijeenkomst alcohol op het werk
formål: Ervaringen met alcohol en drugs op het werk verzamelen; geen lezing.
forventninger: Breng een situatie uit uw eigen praktijk mee.
start: i morgen 19:30
slutt: 21:30
sted: https://meet.example.org/alcohol
plasser: 30
kun for inviterte: nei
venteliste: automatisk
påmeldingsfrist: i morgen 12.00"""


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


def _same(e: Event) -> tuple:
    return (e.title, e.purpose, e.expectations, e.starts_at, e.ends_at, e.place, e.capacity, e.invite_only,
            e.waitlist_mode, e.closes_at, e.timezone)


async def test_the_form_in_dutch_and_in_norwegian_creates_the_same_event(world: EventWorld, db: Database) -> None:
    nl = await world.person("nora", "coordinator")
    nb = await world.person("ola", "coordinator")
    await world.say(nl, "!lang nl")
    await world.say(nb, "!lang nb")
    dutch = (await world.say(nl, "!event create\n" + NL_FORM)).text()
    assert "Concept themabijeenkomst-alcohol-werk-2025 is aangemaakt" in dutch, dutch
    norwegian = (await world.say(nb, "!event create\n" + NB_FORM)).text()
    assert "Utkastet themabijeenkomst-alcohol-werk-2025-2 er opprettet" in norwegian, norwegian
    async with db.transaction() as s:
        first, second = (await s.execute(select(Event).order_by(Event.id))).scalars()
    assert _same(first) == _same(second)
    assert (first.capacity, first.waitlist_mode, first.invite_only) == (30, "auto", False)
    assert first.starts_at.isoformat() == "2025-03-11T18:30:00+00:00"  # tomorrow 19:30 in Amsterdam
    assert first.closes_at.isoformat() == "2025-03-11T11:00:00+00:00"


async def test_form_mistakes_are_explained_with_the_readers_field_names(world: EventWorld) -> None:
    nl = await world.person("nora", "coordinator")
    await world.say(nl, "!lang nl")
    text = (await world.say(nl, "!event create\ntitel: Iets\nop uitnodiging: misschien")).text()
    assert "Ontbreekt: doel, begin, einde, plaatsen." in text
    assert 'op uitnodiging moet ja of nee zijn, niet "misschien"' in text
    assert "De velden zijn: netwerk, titel, doel," in text and "bijvoorbeeld begin: 2027-03-14 19:30" in text
    nb = await world.person("ola", "coordinator")
    await world.say(nb, "!lang nb")
    text = (await world.say(nb, "!event create\ntittel: Noe\nplasser: mange")).text()
    assert "Mangler: formål, start, slutt." in text and 'plasser må være et heltall, ikke "mange"' in text


async def test_a_form_may_mix_languages(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    form = NL_FORM.replace("titel:", "title:").replace("plaatsen:", "plasser:")
    assert "Created draft" in (await world.say(carol, "!event create\n" + form)).text()
