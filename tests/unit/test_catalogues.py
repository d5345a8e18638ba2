"""The catalogues agree with each other and with the code: every language has every key, no key is
dead, plural entries have the forms their language needs, every user value stays escaped in every
language; and numbers, plurals, dates and times come out the way a reader of each language writes
them. (Placeholder parity between catalogues: tests/unit/test_render_i18n.py.)"""
from __future__ import annotations

import ast
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from babel import Locale

from api import Where, feedback_forms, i18n
from api.i18n import PLURAL_CATEGORIES, Translator
from commands.events.form import FIELDS
from commands.sessions import report
from storage import events, members, networks

REPO = Path(__file__).resolve().parents[2]
LANGS = i18n.languages()
CATALOGUES = {lang: yaml.safe_load((REPO / f"api/locales/{lang}.yaml").read_text(encoding="utf-8")) for lang in LANGS}
EN = CATALOGUES["en"]
HOSTILE = '<script>alert("x")</script> & <b>'

# Keys the code builds from a value ("members.role." + role): each pattern the code uses, with
# the values it can take. test_every_built_key_is_declared keeps this list honest.
DYNAMIC: dict[str, tuple[str, ...]] = {
    "rooms.{}.name": networks.KINDS,
    "rooms.{}.topic": networks.KINDS,
    "rooms.{}.label": networks.KINDS,
    "provision.{}": ("rejoined", "replaced"),
    "members.role.{}": ("member", "facilitator", "coordinator"),
    "members.state.{}": ("active", "pending", "declined", "left", "removed"),
    "members.count.{}": ("member", "facilitator", "coordinator", "pending", "declined", "left", "removed"),
    "help.where.{}": tuple(w.value for w in Where),
    "feature.{}": ("help", "system", "membership", "profile", "privacy", "confirm", "events", "sessions", "feedback",
                  "reminders", "announcements", "cases", "polls", "topics"),
    "topics.state.{}": ("withdrawn", "closed", "picked"),
    "feedback.hint_{}": feedback_forms.KINDS,
    "reminders.lead.{}": ("weeks", "days", "hours", "minutes"),
    "reminders.word.{}": ("on", "off"),
    "reminders.action.{}": ("before", "on"),
    "schedule.missed.{}": ("reminder", "reminder_untitled", "announcement", "announcement_untitled"),
    "cases.identifier.{}": ("email", "phone", "iban", "address"),
    "cases.state.{}": ("queued", "asked", "agreed", "withdrawn", "purged"),
    "cases.not_now.{}": ("assign", "agree", "refuse", "withdraw"),
    "events.publish.{}": (events.PUBLISHED, events.CANCELLED),
    "events.room.{}": ("announcements", "lobby"),
    "events.view.state.{}": (events.DRAFT, events.CANCELLED),
    "events.workshop.{}": ("confirmed", "waitlisted", "offered", "pending", "already_confirmed",
                           "already_waitlisted", "already_offered", "already_pending"),
    "events.my.{}": ("confirmed", "waitlisted", "offered", "pending"),
    "events.flow.ask.{}": tuple(f.replace(" ", "_").replace("-", "_") for f in FIELDS),
    "events.field.{}": tuple(f.replace(" ", "_").replace("-", "_") for f in FIELDS),
    "words.{}": ("offer", "auto", "by"),
    "guide.report.ask.{}": report.STEPS,
    "guide.report.head.{}": report.STEPS,
    "usage.{}": ("event", "workshop", "question", "field_value_lines", "user", "name", "reason", "filter", "network",
                 "about_yourself", "language", "iana_zone_e_g_europe_amsterdam", "organisation", "method",
                 "case_bringer", "text", "owner", "date", "session", "duration", "number"),
}
NAMESPACES = {key.split(".")[0] for key in EN}


def _sources() -> list[ast.AST]:
    paths = [p for d in ("api", "bot", "commands") for p in (REPO / d).rglob("*.py")]
    return [ast.parse(p.read_text(encoding="utf-8")) for p in sorted(paths)]


def _pattern(node: ast.AST) -> str | None:
    """ "rooms.{}.name" for f"rooms.{kind}.name" or "members.count." + k; None for anything else."""
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.left, ast.Constant)
          and isinstance(node.left.value, str)):
        text = node.left.value + "{}"
    else:
        return None
    return text if re.fullmatch(r"[a-z_]+\.[a-z_.{}]*\{\}[a-z_.{}]*", text) and text.split(".")[0] in NAMESPACES else None


def _code_strings() -> tuple[set[str], set[str]]:
    constants, patterns = set(), set()
    for tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
            elif (found := _pattern(node)) is not None:
                patterns.add(found)
    return constants, patterns


CONSTANTS, PATTERNS = _code_strings()


# -- completeness --------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_every_catalogue_has_exactly_the_keys_of_english(lang: str) -> None:
    keys = set(CATALOGUES[lang])
    assert (sorted(set(EN) - keys), sorted(keys - set(EN))) == ([], [])


def test_the_three_languages_are_shipped() -> None:
    assert {"en", "nl", "nb"} <= set(LANGS) and LANGS[0] == "en"


def test_every_built_key_is_declared() -> None:
    assert sorted(PATTERNS) == sorted(DYNAMIC)


def test_no_catalogue_key_is_unused() -> None:
    built = {pattern.format(value) for pattern, values in DYNAMIC.items() for value in values}
    assert sorted(set(EN) - CONSTANTS - built) == []


def test_every_declared_value_has_its_key() -> None:
    built = {pattern.format(value) for pattern, values in DYNAMIC.items() for value in values}
    assert sorted(built - set(EN)) == []


@pytest.mark.parametrize("lang", LANGS)
def test_plural_entries_have_the_forms_their_language_needs(lang: str) -> None:
    needed = set(Locale.parse(lang).plural_form.tags)
    wrong = []
    for key, entry in CATALOGUES[lang].items():
        if isinstance(entry, dict):
            forms = set(entry)
            if not forms <= set(PLURAL_CATEGORIES) or not needed <= forms or "other" not in forms:
                wrong.append(f"{key}: {sorted(forms)}, needs {sorted(needed)}")
        elif not isinstance(entry, str):
            wrong.append(f"{key}: {type(entry).__name__}")
    assert wrong == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_entry_escapes_user_values_in_every_language(lang: str) -> None:
    t = Translator(lang)
    leaks = []
    for key in CATALOGUES[lang]:
        for count in (1, 2):
            text = t(key, **{name: HOSTILE for name in _names(EN[key])}, count=count)
            if "<script>" in text.html or "<b>" in text.html:
                leaks.append(key)
    assert leaks == []


def _names(entry: str | dict[str, str]) -> set[str]:
    forms = entry.values() if isinstance(entry, dict) else [entry]
    return {m for form in forms for m in re.findall(r"\{(\w+)", form)} - {"count"}


# -- numbers and plurals ------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "one", "many"), [
    ("en", "Registrations for <X>: 1 row.", "Registrations for <X>: 1,234 rows."),
    ("nl", "Aanmeldingen voor <X>: 1 regel.", "Aanmeldingen voor <X>: 1.234 regels."),
    ("nb", "Påmeldinger til <X>: 1 rad.", "Påmeldinger til <X>: 1\xa0234 rader."),
])
def test_plural_forms_and_numbers_follow_the_language(lang: str, one: str, many: str) -> None:
    t = Translator(lang)
    assert t("events.export.here", title="<X>", count=1).plain == one
    rendered = t("events.export.here", title="<X>", count=1234)
    assert rendered.plain == many and "&lt;X&gt;" in rendered.html


def test_numbers_in_any_template_are_written_the_readers_way() -> None:
    assert Translator("nl").number(1234.5) == "1.234,5"
    assert Translator("nb").number(1234.5) == "1\xa0234,5"
    assert Translator("en").number(1234.5) == "1,234.5"
    assert Translator("nl")("members.more", count=2500).plain.startswith("... en nog 2.500;")


def test_zero_is_plural_in_all_three() -> None:
    assert Translator("nl")("events.publish.invited", title="T", count=0, invite="!invite").plain.count("uitnodigingen") == 1
    assert "0 invitasjoner" in Translator("nb")("events.publish.invited", title="T", count=0, invite="!i").plain


# -- dates and times ----------------------------------------------------------------------------

START = datetime(2025, 9, 23, 7, 30, tzinfo=timezone.utc)  # 09:30 in Brussels and Oslo


@pytest.mark.parametrize(("lang", "zone", "expected"), [
    ("nl", "Europe/Brussels", "dinsdag 23 september 2025 om 09:30 (Brussel)"),
    ("nb", "Europe/Oslo", "tirsdag 23. september 2025 kl. 09:30 (Oslo)"),
    ("en", "Europe/Brussels", "Tuesday, 23 September 2025 at 09:30 (Brussels)"),
    ("nl", "America/New_York", "dinsdag 23 september 2025 om 03:30 (New York)"),
])
def test_a_moment_is_written_with_its_zone_named_by_its_city(lang: str, zone: str, expected: str) -> None:
    assert Translator(lang).datetime(START, zone) == expected


def test_a_reader_with_a_zone_of_their_own_sees_their_own_clock() -> None:
    t = Translator("nb", zone="America/New_York")
    assert t.datetime(START, "Europe/Oslo") == "tirsdag 23. september 2025 kl. 03:30 (New York)"
    assert t.span(START, START.replace(hour=9), "Europe/Oslo") == "tirsdag 23. september 2025 kl. 03:30–05:30 (New York)"
    assert t.date(START.replace(hour=2), "Europe/Oslo") == "mandag 22. september 2025"


def test_a_span_on_one_day_names_the_day_once() -> None:
    end = START.replace(hour=9)
    assert Translator("nl").span(START, end, "Europe/Amsterdam") == \
        "dinsdag 23 september 2025 van 09:30 tot 11:30 (Amsterdam)"
    assert Translator("nb").span(START, end, "Europe/Oslo") == "tirsdag 23. september 2025 kl. 09:30–11:30 (Oslo)"
    overnight = Translator("nl").span(START, START.replace(day=24), "Europe/Brussels")
    assert overnight == "dinsdag 23 september 2025 om 09:30 tot woensdag 24 september 2025 om 09:30 (Brussel)"


def test_short_dates_for_lists_and_a_naive_time_is_utc() -> None:
    naive = START.replace(tzinfo=None)
    assert Translator("nl").datetime(naive, "Europe/Brussels", short=True) == "di 23 sep 2025 om 09:30 (Brussel)"
    assert Translator("nb").date(naive, "Europe/Oslo", short=True) == "tir. 23. sep. 2025"


def test_an_unknown_zone_name_is_shown_as_given() -> None:
    assert Translator("nl").zone("UTC") == "UTC"


# -- a fourth language is one file ---------------------------------------------------------------

def test_a_fourth_language_is_one_catalogue_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for lang in LANGS:
        (tmp_path / f"{lang}.yaml").write_text((REPO / f"api/locales/{lang}.yaml").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    (tmp_path / "de.yaml").write_text(yaml.safe_dump({"format.moment": "{date} um {time}"}), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        assert i18n.languages() == ["en", "de", "nb", "nl"]
        assert i18n.known_language("de-AT") == "de" and i18n.language_name("de") == "Deutsch"
        assert Translator("de").datetime(START, "Europe/Berlin") == "Dienstag, 23. September 2025 um 09:30 (Berlin)"
    finally:
        i18n.catalogue.cache_clear()


async def test_lang_lists_discovered_languages_and_answers_in_the_new_one(db, make_dispatcher) -> None:  # noqa: ANN001
    from tests.unit.helpers import message, open_dm, outbox_rows

    await open_dm(db, "!dm:example.org", "@ann:example.org")
    dispatcher = make_dispatcher()

    async def say(text: str) -> str:
        before = len(await outbox_rows(db))
        await dispatcher.handle(message(text, sender="@ann:example.org", room_id="!dm:example.org"))
        rows = await outbox_rows(db)
        assert len(rows) == before + 1
        return rows[-1].payload["content"]["body"]

    listing = await say("!lang")
    assert "en (English)" in listing and "nl (Nederlands)" in listing and "nb (norsk bokmål)" in listing
    unknown = await say("!lang klingon")
    assert 'I do not speak "klingon"' in unknown and "nl (Nederlands)" in unknown
    assert await say("!lang NL") == "Vanaf nu spreek ik Nederlands met u."
    async with db.transaction() as session:
        assert (await members.get(session, "@ann:example.org")).language == "nl"
    assert (await say("!lang")).startswith("Ik spreek: en (English), nb (norsk bokmål), nl (Nederlands).")
    assert await say("!lang nb") == "Fra nå av snakker jeg norsk bokmål med deg."
