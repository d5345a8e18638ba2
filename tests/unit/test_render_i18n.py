"""What people read: catalogue entries with user values escaped in HTML and verbatim in the plain
body, fallbacks for missing entries, and every key the code uses present with its placeholders."""
from __future__ import annotations

import ast
import logging
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from api import i18n
from api import Where
from bot.chat import message_content
from api.i18n import Translator, render_template
from api.render import Text, as_text, bold, bullets, code, lines, pill
from bot.router import Registry

REPO = Path(__file__).resolve().parents[2]
EN = yaml.safe_load((REPO / "api/locales/en.yaml").read_text(encoding="utf-8"))
HOSTILE = '<script>alert("x")</script> & <b>co</b>'


def placeholders(entry: str | dict[str, str]) -> set[str]:
    """The {names} of an entry; of a plural entry (a mapping of CLDR categories), of all its forms."""
    forms = entry.values() if isinstance(entry, dict) else [entry]
    return {f.split(".")[0].split("[")[0] for form in forms for _, f, _, _ in string.Formatter().parse(form) if f}


@pytest.fixture
def locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private catalogue directory, so these tests do not depend on the shipped wording."""
    (tmp_path / "en.yaml").write_text(yaml.safe_dump({
        "greet": "Hello {name}!", "only.en": "English only", "literal": 'Use <b> & "quotes"\nnext line',
        "padded": "[{n:>3}]",
    }), encoding="utf-8")
    (tmp_path / "nl.yaml").write_text(yaml.safe_dump({"greet": "Hallo {name}!"}), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.catalogue.cache_clear()
    yield tmp_path
    i18n.catalogue.cache_clear()


# -- escaping -----------------------------------------------------------------------------------

def test_user_values_are_escaped_in_html_and_verbatim_in_plain(locales: Path) -> None:
    text = Translator()("greet", name=HOSTILE)
    assert text.plain == f"Hello {HOSTILE}!"
    assert "<script>" not in text.html and "<b>" not in text.html
    assert text.html == "Hello &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;!"


def test_the_shipped_catalogue_escapes_too() -> None:
    text = Translator()("error.unknown", word=HOSTILE, prefix="!")
    assert HOSTILE in text.plain
    assert "&lt;script&gt;" in text.html and "&amp;" in text.html and "<script>" not in text.html


def test_text_values_keep_their_markup(locales: Path) -> None:
    text = Translator()("greet", name=bold("Ann & Bo") + " " + code("!x <y>"))
    assert text.plain == "Hello Ann & Bo !x <y>!"
    assert text.html == "Hello <b>Ann &amp; Bo</b> <code>!x &lt;y&gt;</code>!"


def test_catalogue_text_itself_is_text_not_html(locales: Path) -> None:
    text = Translator()("literal")
    assert text.plain == 'Use <b> & "quotes"\nnext line'
    assert text.html == "Use &lt;b&gt; &amp; &#34;quotes&#34;<br>next line"


def test_format_specs_apply(locales: Path) -> None:
    assert Translator()("padded", n=7).plain == "[  7]"


def test_a_value_not_given_shows_its_placeholder_instead_of_crashing(locales: Path) -> None:
    assert Translator()("greet").plain == "Hello {name}!"


def test_render_helpers_escape_what_they_wrap() -> None:
    assert bold("<i>").html == "<b>&lt;i&gt;</b>"
    assert code("a&b").html == "<code>a&amp;b</code>" and code("a&b").plain == "a&b"
    assert lines(["<a>", bold("b")]) == Text("<a>\nb", "&lt;a&gt;<br><b>b</b>")
    assert bullets(["x & y", "z"]) == Text("- x & y\n- z", "<ul><li>x &amp; y</li><li>z</li></ul>")
    assert bullets([]) == Text("", "")
    mention = pill('@eve:example.org', '<Eve "the" admin>')
    assert mention.plain == '\u2068<Eve "the" admin>\u2069'  # a chosen name is isolated (bidi)
    assert mention.html == ('<a href="https://matrix.to/#/@eve:example.org">'
                            '\u2068&lt;Eve &#34;the&#34; admin&gt;\u2069</a>')
    assert ("<x>" + bold("y")).html == "&lt;x&gt;<b>y</b>"
    assert as_text("a\nb").html == "a<br>b"


def test_a_message_has_html_only_when_it_differs() -> None:
    plain = message_content(as_text("just words"), notice=True)
    assert plain == {"msgtype": "m.notice", "body": "just words"}
    rich = message_content(bold("hi") + " <you>", notice=False, mentions=("@a:example.org",))
    assert rich["msgtype"] == "m.text"
    assert rich["body"] == "hi <you>"
    assert rich["format"] == "org.matrix.custom.html"
    assert rich["formatted_body"] == "<b>hi</b> &lt;you&gt;"
    assert rich["m.mentions"] == {"user_ids": ["@a:example.org"]}


# -- fallbacks ----------------------------------------------------------------------------------

def test_a_translated_entry_is_used(locales: Path) -> None:
    assert Translator("nl")("greet", name="Bo").plain == "Hallo Bo!"


def test_an_untranslated_entry_falls_back_to_english(locales: Path) -> None:
    assert Translator("nl")("only.en").plain == "English only"
    assert Translator("fr")("greet", name="Bo").plain == "Hello Bo!"


def test_a_missing_entry_shows_its_key_and_is_logged(locales: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="api.i18n"):
        assert Translator("nl")("no.such.key", name="x").plain == "no.such.key"
    assert any(getattr(r, "key", None) == "no.such.key" for r in caplog.records)


def test_render_template_directly() -> None:
    assert render_template("{a} and {b}", {"a": "<1>", "b": as_text("2")}) == Text("<1> and 2", "&lt;1&gt; and 2")


# -- the code and the catalogue agree -----------------------------------------------------------

TRANSLATING_ATTRS = {"t", "reply"}
TRANSLATING_NAMES = {"t", "UserError"}


def _string_choices(node: ast.expr, assigned: dict[str, list[ast.expr]]) -> list[str] | None:
    """The constant strings an argument can be, or None when it is not statically known."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        a, b = _string_choices(node.body, assigned), _string_choices(node.orelse, assigned)
        return None if a is None or b is None else a + b
    if isinstance(node, ast.Name) and node.id in assigned:
        out: list[str] = []
        for value in assigned[node.id]:
            choices = _string_choices(value, {})
            if choices is None:
                return None
            out += choices
        return out
    return None


def _is_translating(call: ast.Call) -> bool:
    f = call.func
    return ((isinstance(f, ast.Name) and f.id in TRANSLATING_NAMES)
            or (isinstance(f, ast.Attribute) and f.attr in TRANSLATING_ATTRS)
            or (isinstance(f, ast.Call) and isinstance(f.func, ast.Name) and f.func.id == "Translator"))


def catalogue_uses() -> list[tuple[str, str, set[str] | None]]:
    """(where, key, keyword names or None when **values) for every statically known key."""
    uses = []
    for path in sorted([*(REPO / "bot").rglob("*.py"), *(REPO / "commands").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] or [tree]
        for scope in scopes:
            assigned: dict[str, list[ast.expr]] = {}
            for node in ast.walk(scope):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            assigned.setdefault(target.id, []).append(node.value)
            for node in ast.walk(scope):
                if not (isinstance(node, ast.Call) and node.args and _is_translating(node)):
                    continue
                keys = _string_choices(node.args[0], assigned)
                if keys is None:
                    continue
                names = None if any(k.arg is None for k in node.keywords) else {k.arg for k in node.keywords}
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                uses += [(where, key, names) for key in keys if "." in key and " " not in key]
    return uses


USES = catalogue_uses()


def test_the_scan_sees_the_known_uses() -> None:
    seen = {key for _, key, _ in USES}
    assert {"error.role", "error.where_dm", "error.where_room", "error.unknown", "error.unknown_suggest",
            "error.internal", "ping.pong", "status.signed", "status.unsigned", "decrypt.failed"} <= seen


def test_every_key_the_code_uses_is_in_english() -> None:
    missing = sorted({f"{where}: {key}" for where, key, _ in USES if key not in EN})
    assert missing == []


def test_every_placeholder_is_filled_where_the_key_is_used() -> None:
    unfilled = sorted(
        f"{where}: {key} needs {sorted(placeholders(EN[key]) - names)}"
        for where, key, names in USES
        if key in EN and names is not None and not placeholders(EN[key]) <= names
    )
    assert unfilled == []


def test_keys_rendered_without_values_have_no_placeholders() -> None:
    registry = Registry.discover()
    keys = {s.help_key for s in registry.specs} | {f"feature.{s.feature}" for s in registry.specs}
    keys |= {f"help.where.{w.value}" for w in Where}
    assert sorted(k for k in keys if k not in EN) == []
    assert sorted(k for k in keys if placeholders(EN[k])) == []


def test_english_entries_are_strings_or_plural_forms() -> None:
    plural = {k: v for k, v in EN.items() if not isinstance(v, str)}
    assert sorted(k for k, v in plural.items() if not (isinstance(v, dict) and "other" in v
                                                       and all(isinstance(f, str) for f in v.values()))) == []


def placeholder_mismatches(translated: dict, english: dict) -> tuple[list[str], list[str]]:
    """Keys whose translation names other {placeholders} than English, and keys English lacks."""
    wrong = sorted(k for k, v in translated.items() if k in english and placeholders(v) != placeholders(english[k]))
    return wrong, sorted(k for k in translated if k not in english)


def test_the_placeholder_comparison_catches_a_renamed_or_dropped_one() -> None:
    english = {"a": "Hello {name}", "b": "{count} left", "c": "plain"}
    translated = {"a": "Hallo {naam}", "b": "nog over", "c": "gewoon", "d": "extra"}
    assert placeholder_mismatches(translated, english) == (["a", "b"], ["d"])


# every catalogue but English itself (comparing English with English could never fail)
TRANSLATIONS = sorted(p for p in (REPO / "api/locales").glob("*.yaml") if p.name != "en.yaml")


@pytest.mark.parametrize("path", TRANSLATIONS, ids=lambda p: p.name)
def test_translations_keep_the_placeholders_of_english(path: Path) -> None:
    translated = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert placeholder_mismatches(translated, EN) == ([], [])


def test_intentional_mentions_on_every_text_and_on_a_notice_that_mentions_someone() -> None:
    """A text mentioning nobody says so ("@room" in it pings nobody); a notice mentioning nobody
    carries no m.mentions (no push rule lets a notice notify; Synapse validates the key anew for
    every event)."""
    assert message_content(as_text("@room drill"), notice=False)["m.mentions"] == {}
    assert "m.mentions" not in message_content(as_text("pong"), notice=True, reply_to="$c")
    assert message_content(as_text("hi"), notice=True, mentions=("@a:example.org",))["m.mentions"] == \
        {"user_ids": ["@a:example.org"]}
    assert message_content(as_text("@room"), notice=True, mention_room=True)["m.mentions"] == {"room": True}
