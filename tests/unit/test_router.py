"""The router: which messages are addressed to the bot, which command they name, the typed
arguments and the usage line, and who may use a command where."""
from __future__ import annotations

import enum

import pytest

from api import Context, Rest, Role, UserError, UserId, Where, command

from api.decorators import COMMAND_ATTR, CommandSpec
from api.i18n import Translator
from bot.router import Registry, Unknown, check_access, extract, parse_args

BOT, NAME = "@kring:example.org", "Kring Bot"


class Colour(enum.Enum):
    RED = "r"
    GREEN = "g"


class Slug(str):
    """A converter: a class with parse(raw) that raises UserError on bad input."""

    @classmethod
    def parse(cls, raw: str) -> Slug:
        if not raw.isalnum():
            raise UserError("error.slug", value=raw)
        return cls(raw.lower())


def spec_of(fn) -> CommandSpec:  # noqa: ANN001
    return getattr(fn, COMMAND_ATTR)


@command("say", help="cmd.say")
async def say(ctx: Context, who: UserId, count: int, colour: Colour | None = None, note: Rest | None = None):
    return None


@command("event create", help="cmd.event_create", role=Role.COORDINATOR, aliases=("mkevent",))
async def event_create(ctx: Context, slug: Slug, title: Rest):
    return None


@command("event", help="cmd.event", role=Role.ANYONE)
async def event(ctx: Context, slug: str | None = None):
    return None


@command("case", help="cmd.case", role=Role.MEMBER, where=Where.DM, usage="<title>")
async def case(ctx: Context, title: Rest):
    return None


@command("announce", help="cmd.announce", role=Role.FACILITATOR, where=Where.ROOM)
async def announce(ctx: Context, text: Rest):
    return None


@command("help", help="cmd.help", role=Role.ANYONE, aliases=("h",))
async def help_(ctx: Context, name: Rest | None = None):
    return None


REGISTRY = Registry([spec_of(f) for f in (say, event_create, event, case, announce, help_)])


def args(fn, text: str) -> dict:  # noqa: ANN001
    return parse_args(spec_of(fn), text)


def user_error(fn, text: str) -> UserError:  # noqa: ANN001
    with pytest.raises(UserError) as caught:
        parse_args(spec_of(fn), text)
    return caught.value


# -- is it for the bot? -------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "expected"), [
    ("!ping", "ping"),
    ("  !help event  ", "help event"),
    ("@kring:example.org help", "help"),
    ("@kring:example.org: help", "help"),
    ("Kring Bot: register spring", "register spring"),
    ("kring bot, ping", "ping"),
    ("kring: ping", "ping"),
    ("Kring: !ping", "ping"),
])
def test_addressed_messages_yield_the_command_text(body: str, expected: str) -> None:
    assert extract(body, "!", BOT, NAME) == expected


@pytest.mark.parametrize("body", [
    "hello everyone", "! ping", "!!", "!", "kringle: ping", "kring", "Kring Bot:", "I asked kring: ping",
    "ping !help",
])
def test_other_messages_are_not_commands(body: str) -> None:
    assert extract(body, "!", BOT, NAME) is None


def test_a_longer_prefix_works() -> None:
    assert extract("k!ping", "k!", BOT, None) == "ping"
    assert extract("!ping", "k!", BOT, None) is None


# -- which command? -----------------------------------------------------------------------------

def test_a_multi_word_name_wins_over_its_first_word() -> None:
    spec, rest = REGISTRY.match("event create spring  The Spring Meeting")
    assert spec.name == "event create"
    assert rest == "spring  The Spring Meeting"
    spec, rest = REGISTRY.match("event spring")
    assert (spec.name, rest) == ("event", "spring")


def test_names_and_aliases_match_in_any_case() -> None:
    assert REGISTRY.match("MKEVENT x y")[0].name == "event create"
    assert REGISTRY.match("Event Create x y")[0].name == "event create"
    assert REGISTRY.match("h")[0].name == "help"
    assert REGISTRY.match("help") == (spec_of(help_), "")


def test_unknown_suggests_close_names() -> None:
    found = REGISTRY.match("sya hello")
    assert found == Unknown("sya", ("say",))


def test_suggestions_only_name_commands_the_caller_may_see() -> None:
    visible = REGISTRY.visible_to(Role.ANYONE, is_dm=False)
    assert {s.name for s in visible} == {"event", "help"}
    found = REGISTRY.match("anounce x", visible)
    assert isinstance(found, Unknown) and found.suggestions == ()
    facilitator = REGISTRY.match("anounce x", REGISTRY.visible_to(Role.FACILITATOR, is_dm=False))
    assert facilitator.suggestions == ("announce",)


def test_nothing_visible_means_nothing_suggested() -> None:
    found = REGISTRY.match("anounce", [])
    assert isinstance(found, Unknown) and found.suggestions == ()


def test_a_name_declared_twice_is_refused() -> None:
    @command("event", help="cmd.x")
    async def clash(ctx: Context):
        return None

    with pytest.raises(ValueError, match="'event' declared twice"):
        Registry([spec_of(event), spec_of(clash)])


def test_discover_finds_the_shipped_commands_with_their_feature() -> None:
    registry = Registry.discover()
    assert {"help", "ping", "status"} <= {s.name for s in registry.specs}
    assert registry.find("status").feature == "system"
    assert registry.find("?").name == "help"


# -- arguments ----------------------------------------------------------------------------------

def test_usage_is_derived_from_the_signature() -> None:
    assert spec_of(say).usage == "<who> <count> [colour] [note...]"
    assert spec_of(event_create).usage == "<slug> <title...>"
    assert spec_of(case).usage == "<title>"


def test_typed_arguments_are_converted() -> None:
    assert args(say, '@bob:example.org 3 GREEN  please,  "be" on time ') == {
        "who": "@bob:example.org", "count": 3, "colour": Colour.GREEN, "note": 'please,  "be" on time'}
    assert args(say, "@bob:example.org 3 r")["colour"] is Colour.RED


def test_optional_arguments_may_be_left_out() -> None:
    assert args(say, "@bob:example.org -2") == {"who": "@bob:example.org", "count": -2, "colour": None}
    assert args(event, "") == {"slug": None}


def test_quotes_group_words() -> None:
    assert args(event, '"spring meeting"') == {"slug": "spring meeting"}
    assert args(event_create, '"Spring2025" "The Meeting"') == {"slug": "spring2025", "title": '"The Meeting"'}


def test_a_converter_class_parses_and_its_error_reaches_the_user() -> None:
    assert args(event_create, "Spring x")["slug"] == "spring"
    err = user_error(event_create, "spr!ng title")
    assert (err.key, err.values) == ("error.slug", {"value": "spr!ng"})


@pytest.mark.parametrize(("fn", "text", "key", "values"), [
    (say, "", "error.missing", {"name": "who"}),
    (say, "@bob:example.org", "error.missing", {"name": "count"}),
    (say, "bob 3", "error.not_user", {"name": "who", "value": "bob"}),
    (say, "@bob:example.org three", "error.not_number", {"name": "count", "value": "three"}),
    (say, "@bob:example.org 3 blue", "error.choice", {"name": "colour", "value": "blue", "choices": "red|green"}),
    (event, "spring extra words", "error.extra", {"extra": "extra words"}),
    (event_create, "spring", "error.missing", {"name": "title"}),
])
def test_mistakes_name_what_was_wrong(fn, text: str, key: str, values: dict) -> None:  # noqa: ANN001
    err = user_error(fn, text)
    assert (err.key, err.values) == (key, values)


def test_long_bad_values_are_shortened() -> None:
    err = user_error(say, "@bob:example.org " + "9" * 30 + "x" * 100)
    assert len(err.values["value"]) == 40


# -- who may use it where -----------------------------------------------------------------------

def test_a_role_too_low_is_refused_with_the_role_needed() -> None:
    with pytest.raises(UserError) as caught:
        check_access(spec_of(event_create), Role.FACILITATOR, is_dm=True)
    assert caught.value.key == "error.role"
    assert Translator("en")(caught.value.key, **caught.value.values).plain.startswith("Only a coordinator may use event create.")
    assert Translator("nl")(caught.value.key, **caught.value.values).plain.startswith("Alleen een coördinator mag event create")
    check_access(spec_of(event_create), Role.COORDINATOR, is_dm=True)


def test_a_higher_role_may_use_lower_commands() -> None:
    check_access(spec_of(say), Role.COORDINATOR, is_dm=False)
    with pytest.raises(UserError):
        check_access(spec_of(say), Role.ANYONE, is_dm=False)


def test_a_dm_only_command_is_refused_in_a_room() -> None:
    with pytest.raises(UserError) as caught:
        check_access(spec_of(case), Role.MEMBER, is_dm=False)
    assert Translator("en")(caught.value.key, **caught.value.values).plain.startswith("Please use case in a direct")
    check_access(spec_of(case), Role.MEMBER, is_dm=True)


def test_a_room_only_command_is_refused_in_a_dm() -> None:
    with pytest.raises(UserError) as caught:
        check_access(spec_of(announce), Role.COORDINATOR, is_dm=True)
    assert caught.value.key == "error.where_room"
    check_access(spec_of(announce), Role.COORDINATOR, is_dm=False)


def test_visible_commands_follow_role_and_place() -> None:
    member_dm = {s.name for s in REGISTRY.visible_to(Role.MEMBER, is_dm=True)}
    member_room = {s.name for s in REGISTRY.visible_to(Role.MEMBER, is_dm=False)}
    facilitator_room = {s.name for s in REGISTRY.visible_to(Role.FACILITATOR, is_dm=False)}
    assert member_dm == {"say", "event", "case", "help"}
    assert member_room == {"say", "event", "help"}
    assert facilitator_room == {"say", "event", "announce", "help"}


@command("help", help="cmd.help", role=Role.ANYONE, local={"nl": "hulp", "nb": "hjelp"})
async def help_in_three(ctx: Context) -> None:
    return None


@pytest.mark.parametrize(("language", "expected"), [("en", ("help",)), ("nl", ("hulp",)), ("nb", ("hjelp",))])
def test_a_typo_suggests_each_command_once_by_its_name_in_the_readers_language(language, expected) -> None:
    registry = Registry([spec_of(help_in_three)])
    assert registry.suggest("hlep", registry.specs, language) == expected
