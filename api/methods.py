"""The session methods shipped with Kring (api/methods/*.yaml), read once as plain values. The
sessions feature turns them into Methods (commands/sessions/methods.py); features may not import
yaml, so the reading happens here. A method's key is its file name."""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).parent / "methods"


@cache
def shipped() -> dict[str, dict[str, Any]]:
    """key -> the method's YAML values, in key order."""
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in sorted(SHIPPED.glob("*.yaml"))}
