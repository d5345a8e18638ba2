"""Feedback forms: the ones shipped with Kring (api/feedback_forms/*.yaml) and those a config adds
(`feedback.forms_dir`), read once as typed values, and the feedback settings of the running bot.
Here in api because the event form names a form (commands/events) and the feedback feature asks
it (commands/feedback), and features may not import yaml or each other. A form's key is its file
name; a config form with a shipped key replaces the shipped one."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from api import yaml_files

SHIPPED = Path(__file__).parent / "feedback_forms"
DEFAULT = "default"
KINDS = ("rating", "choice", "text")
SCALE = 5  # ratings run from 1 to 5


@dataclass(frozen=True)
class Question:
    key: str
    kind: str  # rating, choice or text
    text: dict[str, str]
    label: dict[str, str]
    options: tuple[dict[str, str], ...] = ()

    def text_in(self, language: str) -> str:
        return _in(self.text, language)

    def label_in(self, language: str) -> str:
        return _in(self.label, language) if self.label else self.key

    def options_in(self, language: str) -> list[str]:
        return [_in(o, language) for o in self.options]


@dataclass(frozen=True)
class Form:
    key: str
    name: dict[str, str]
    anonymous: bool
    questions: tuple[Question, ...]

    def name_in(self, language: str) -> str:
        return _in(self.name, language)


@dataclass
class Settings:
    """What the config says about feedback (bot/config.py FeedbackConfig; set at start)."""

    delay: timedelta = timedelta(hours=1)  # after the event's end, the request goes out
    deadline_days: int = 7  # the default deadline after the event's end
    nudges: int = 1  # reminders before the deadline, to those who have not answered
    forms_dir: Path | None = None
    _forms: dict[str, Form] | None = field(default=None, repr=False)


SETTINGS = Settings()


def _in(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


class FormError(ValueError):
    """A form file that cannot be used, with the file and the reason."""


def parse(key: str, values: dict[str, Any]) -> Form:
    """A form from its YAML values; a FormError names what is wrong."""
    questions = []
    for i, q in enumerate(values.get("questions") or [], start=1):
        kind = q.get("kind")
        if kind not in KINDS:
            raise FormError(f"form {key}: question {i} has kind {kind!r}, not one of {', '.join(KINDS)}")
        if not isinstance(q.get("text"), dict) or not q["text"]:
            raise FormError(f"form {key}: question {i} needs a text per language")
        options = tuple(q.get("options") or ())
        if kind == "choice" and len(options) < 2:
            raise FormError(f"form {key}: choice question {i} needs at least two options")
        questions.append(Question(key=str(q.get("key") or f"q{i}"), kind=kind, text=dict(q["text"]),
                                  label=dict(q.get("label") or {}), options=options))
    if not questions:
        raise FormError(f"form {key}: no questions")
    if len({q.key for q in questions}) != len(questions):
        raise FormError(f"form {key}: two questions share a key")
    name = values.get("name") or {"en": key}
    return Form(key=key, name=dict(name), anonymous=bool(values.get("anonymous", False)), questions=tuple(questions))


def _read(folder: Path) -> dict[str, Form]:
    out = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            values = yaml_files.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise FormError(f"{path}: not valid YAML ({err})") from None
        out[path.stem] = parse(path.stem, values)
    return out


def configure(*, delay: timedelta | None = None, deadline_days: int | None = None, nudges: int | None = None,
              forms_dir: Path | None = None) -> None:
    """Set at start from the config (and by tests); the forms are read again on next use."""
    if delay is not None:
        SETTINGS.delay = delay
    if deadline_days is not None:
        SETTINGS.deadline_days = deadline_days
    if nudges is not None:
        SETTINGS.nudges = nudges
    SETTINGS.forms_dir = forms_dir
    SETTINGS._forms = None


def forms() -> dict[str, Form]:
    """key -> Form: the shipped ones, then the config's (which may replace a shipped one)."""
    if SETTINGS._forms is None:
        found = _read(SHIPPED)
        if SETTINGS.forms_dir is not None:
            found.update(_read(SETTINGS.forms_dir))
        SETTINGS._forms = found
    return SETTINGS._forms


def form(key: str | None) -> Form:
    """The form with this key; the default form for None or a key no longer known."""
    found = forms()
    return found.get(key or DEFAULT) or found[DEFAULT]
