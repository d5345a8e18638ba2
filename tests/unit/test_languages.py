"""Issue 15 through the bot: what people type in Dutch or Norwegian is understood, and what they
read comes in their language, on their clock."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from storage import networks
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


# ---- registering, reading and being told, each in their own language and on their own clock ----

async def test_each_member_registers_reads_and_is_told_in_their_language_on_their_clock(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=5)
    nora, ola, ned = [await world.person(n) for n in ("nora", "ola", "ned")]
    await world.say(nora, "!lang nl")
    await world.say(ola, "!taal nb")  # a command typed in another language than the member's
    await world.say(ned, "!tz America/New_York")

    said = await world.say(nora, f"!aanmelden {slug}")
    assert "U bent aangemeld voor Theme meeting on alcohol at work, maandag 14 april 2025 van 19:30 tot 21:30 " \
           "(Amsterdam)." in said.text()
    [ics] = said.files()
    assert b"Waarom we samenkomen: Collect members" in ics.file_bytes().replace(b"\r\n ", b"")
    said = await world.say(ola, f"!meld-på {slug}")
    assert "Du er påmeldt Theme meeting on alcohol at work, mandag 14. april 2025 kl. 19:30–21:30 (Amsterdam)." \
           in said.text()
    [ics] = said.files()
    assert "Hvorfor vi møtes: Collect members".encode() in ics.file_bytes().replace(b"\r\n ", b"")
    said = await world.say(ned, f"!register {slug}")
    assert "You are registered for Theme meeting on alcohol at work, Monday, 14 April 2025, 13:30–15:30 (New York)." \
           in said.text(), "the member's own clock, the zone named"
    assert "Aanmelden kan tot: maandag 14 april 2025 om 19:30 (Amsterdam)" in (await world.say(nora, f"!bijeenkomst {slug}")).text()

    dutch_help = (await world.say(nora, "!help")).text()
    assert "Wat u hier kunt doen" in dutch_help and "!aanmelden <bijeenkomst> [workshop]" in dutch_help and "!register" not in dutch_help
    norwegian_help = (await world.say(ola, "!hjelp meld-på")).text()
    assert "!meld-på <arrangement> [workshop]" in norwegian_help and "Meld deg på et arrangement" in norwegian_help
    assert "!register" in norwegian_help and "!aanmelden" in norwegian_help  # "also understood as"

    said = await world.say(carol, f"!event edit {slug}\nstarts: 2025-04-14 20:00\nends: 22:00")
    if "!confirm" in said.text():
        said = await world.say(carol, "!confirm")
    [to_nora] = said.to_user(nora)
    assert "Theme meeting on alcohol at work is gewijzigd: het is nu maandag 14 april 2025 van 20:00 tot 22:00 " \
           "(Amsterdam)" in to_nora.body
    [to_ola] = said.to_user(ola)
    assert "Theme meeting on alcohol at work er endret: det er nå mandag 14. april 2025 kl. 20:00–22:00 (Amsterdam)" \
           in to_ola.body
    [to_ned] = said.to_user(ned)
    assert "Monday, 14 April 2025, 14:00–16:00 (New York)" in to_ned.body
    assert any(m.body.startswith(f"Updated {slug}") for m in said.to_room(world.dm(carol)))  # hers in English


async def test_a_member_without_lang_reads_their_networks_language(world: EventWorld, db: Database) -> None:
    async with db.transaction() as s:
        (await networks.get(s, "main")).language = "nb"
    kari = await world.person("kari")
    assert (await world.say(kari, "!ping")).text().startswith("Pong! Meldingen din brukte")


@pytest.mark.parametrize("lang", ["nl", "nb"])
def test_the_demo_welcome_speaks_the_demo_language_and_names_real_commands(
        lang: str, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from api.i18n import Translator
    from bot.dev.demo import ACCOUNTS, _print_welcome
    from bot.router import Registry

    server = SimpleNamespace(url="http://127.0.0.1:8008", server_name="localhost")
    _print_welcome(server, "@kring:localhost", {lp: "pw" for lp in ACCOUNTS}, tmp_path, tmp_path, Translator(lang))
    text = capsys.readouterr().out
    assert {"nl": "De Kring-demo draait.", "nb": "Kring-demoen kjører."}[lang] in text
    assert {"nl": "(coördinator)", "nb": "(koordinator)"}[lang] in text
    registry = Registry.discover()
    # each command as typed: a two-word name (`!session open`) is matched whole, as the router does
    typed = [" ".join(w.rstrip(".,;:)") for w in text[i + 1:].split()[:2])
             for i, ch in enumerate(text) if ch == "!" and text[i + 1:i + 2].isalpha()]
    unknown = [name for name in typed if not isinstance(registry.match(name), tuple)]
    assert len(typed) >= 6 and not unknown, unknown


async def test_a_typo_gets_one_suggestion_per_command_in_the_readers_language(world: EventWorld) -> None:
    nora = await world.person("nora")
    assert (await world.say(nora, "!hlep")).text().endswith("Did you mean !help?")
    await world.say(nora, "!lang nl")
    assert (await world.say(nora, "!hlep")).text().endswith("Bedoelde u !hulp?")
    assert "Bedoelde u !aanmelden, " in (await world.say(nora, "!aanmeldne")).text()
