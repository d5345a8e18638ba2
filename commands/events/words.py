"""The event form's vocabulary in every language Kring speaks, from the catalogues: each field's
name (events.field.*), yes and no and the waitlist modes (words.*). Comma-separated
values are synonyms; the first one is what the reader is shown."""
from __future__ import annotations

from functools import cache

from api import Translator, i18n
from commands.events.form import FIELDS
from commands.events.vocabulary import ENGLISH, FieldName, Vocabulary


def field_key(name: str) -> str:
    return "events.field." + name.replace(" ", "_").replace("-", "_")


def shown(t: Translator, name: str) -> str:
    """A field's name in the reader's language."""
    return first(t, field_key(name))


def first(t: Translator, key: str) -> str:
    """The word the reader is shown for a list of synonyms (words.yes: "ja, j" -> "ja")."""
    return _words(t, key)[0]


def vocabulary() -> Vocabulary:
    return _vocabulary(tuple(i18n.languages()))


@cache
def _vocabulary(languages: tuple[str, ...]) -> Vocabulary:
    fields: dict[str, str] = {}
    yes, no = set(ENGLISH.yes), set(ENGLISH.no)
    modes: dict[str, str] = {}
    for t in (Translator(lang) for lang in languages):
        for name in FIELDS:
            fields.update((word, name) for word in _words(t, field_key(name)))
        yes.update(_words(t, "words.yes"))
        no.update(_words(t, "words.no"))
        for mode in ("offer", "auto"):
            modes.update((word, mode) for word in _words(t, f"words.{mode}"))
    return Vocabulary(fields=fields, yes=frozenset(yes), no=frozenset(no), modes=modes)


def _words(t: Translator, key: str) -> list[str]:
    return [w.strip().lower() for w in t.template(key).split(",") if w.strip()]


def localise(t: Translator, value: object) -> object:
    """A problem's value as the reader reads it: field names in their language."""
    if isinstance(value, FieldName):
        return shown(t, value)
    if isinstance(value, tuple) and all(isinstance(v, FieldName) for v in value):
        return ", ".join(shown(t, v) for v in value)
    return value
