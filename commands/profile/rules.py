"""Pure profile decisions: which IANA zone a person meant. Standard library only; no I/O."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def match_zone(value: str, zones: Iterable[str]) -> tuple[str | None, list[str]]:
    """(the IANA zone meant, suggestions). Case is forgiven; a city alone is suggested."""
    zones = sorted(zones)
    by_lower = {z.lower(): z for z in zones}
    wanted = value.strip().replace(" ", "_")
    if wanted.lower() in by_lower:
        return by_lower[wanted.lower()], []
    cities = {z.rsplit("/", 1)[-1].lower(): z for z in zones if "/" in z}
    suggestions = []
    if wanted.lower() in cities:
        suggestions.append(cities[wanted.lower()])
    close = difflib.get_close_matches(wanted.lower(), list(by_lower), n=3, cutoff=0.8)
    close += difflib.get_close_matches(wanted.lower(), list(cities), n=3, cutoff=0.75)
    for item in close:
        zone = by_lower.get(item) or cities[item]
        if zone not in suggestions:
            suggestions.append(zone)
    return None, suggestions[:3]
