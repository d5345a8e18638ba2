"""Message catalogues keyed by stable ids (api/locales/<lang>.yaml), rendered to escaped Text."""
from __future__ import annotations

import html
import logging
import string
from functools import cache
from pathlib import Path

import yaml

from api.render import Text, as_text

LOCALES = Path(__file__).parent / "locales"
FALLBACK = "en"
log = logging.getLogger(__name__)


@cache
def catalogue(language: str) -> dict[str, str]:
    path = LOCALES / f"{language}.yaml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


class Translator:
    """t("key", name=value) -> Text. Values are escaped; Text values keep their own markup."""

    def __init__(self, language: str = FALLBACK) -> None:
        self.language = language

    def template(self, key: str) -> str:
        text = catalogue(self.language).get(key) or catalogue(FALLBACK).get(key)
        if text is None:
            log.error("missing catalogue entry", extra={"key": key})
            return key
        return text

    def __call__(self, key: str, **values: object) -> Text:
        return render_template(self.template(key), values)


def render_template(template: str, values: dict[str, object]) -> Text:
    plain_parts: list[str] = []
    html_parts: list[str] = []
    for literal, field, spec, _conv in string.Formatter().parse(template):
        plain_parts.append(literal)
        html_parts.append(html.escape(literal).replace("\n", "<br>"))
        if field is None:
            continue
        value = values.get(field, "{" + field + "}")
        if spec and not isinstance(value, Text):
            value = format(value, spec)
        text = as_text(value)
        plain_parts.append(text.plain)
        html_parts.append(text.html)
    return Text("".join(plain_parts), "".join(html_parts))
