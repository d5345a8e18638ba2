"""Lists in one chat message stay small: at most LIMIT lines and a byte budget, so a reply never
comes near Matrix's 64 KiB event limit (an encrypted event grows by a third in base64)."""
from __future__ import annotations

import json
from collections.abc import Iterable

from api.render import Text

LIMIT = 50
# Bytes of the listed items as they appear in the event JSON (plain body and HTML, escaped the way
# json.dumps escapes them, non-ASCII as \uXXXX). The heading and closing lines add little; with
# the base64 growth of an encrypted event the whole stays well under 64 KiB.
BUDGET = 30_000
_BULLET = 16  # "- " in the plain body, <li></li> in the HTML


def cost(item: Text) -> int:
    return len(json.dumps(item.plain)) + len(json.dumps(item.html)) + _BULLET


def fit(items: Iterable[Text], total: int, *, limit: int = LIMIT, budget: int = BUDGET) -> tuple[list[Text], int]:
    """The first items that fit (always at least one), and how many of `total` are left out.
    `items` may be a generator: no more than fit are built."""
    shown: list[Text] = []
    used = 0
    for item in items:
        if len(shown) >= limit:
            break
        used += cost(item)
        if shown and used > budget:
            break
        shown.append(item)
    return shown, max(0, total - len(shown))


def clip(text: str, length: int) -> str:
    """A long user text shortened for a list line (the whole text is in the file or the detail view)."""
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
