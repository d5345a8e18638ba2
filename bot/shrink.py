"""A message the homeserver refuses for its size (M_TOO_LARGE; Synapse takes events up to 64 KiB,
and an encrypted one grows by about a third) is cut down and sent, never dropped: the plain body
is cut at a line end, the HTML (which cannot be cut safely) is left out, and a mark says that
something was cut. Each refusal halves what is kept."""
from __future__ import annotations

import json
from typing import Any

CUT_MARK = "\n[…]"
FIRST_BUDGET = 24_000  # bytes of body kept at the first cut: room for encryption's overhead
MIN_BUDGET = 500


def event_size(content: dict[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))


def cut_down(content: dict[str, Any]) -> dict[str, Any] | None:
    """A smaller version of a refused message's content, or None when it cannot be cut further."""
    body = str(content.get("body", ""))
    size = len(body.encode("utf-8"))
    budget = min(FIRST_BUDGET, size // 2)
    if budget < MIN_BUDGET:
        return None
    kept = body.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    if "\n" in kept:
        kept = kept[:kept.rindex("\n")]
    smaller = {k: v for k, v in content.items() if k not in ("format", "formatted_body")}
    smaller["body"] = kept.rstrip() + CUT_MARK
    return smaller
