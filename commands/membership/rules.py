"""Pure membership decisions: auto-approval, the last-coordinator
guard, timezone suggestions and member filters. Standard library only; no I/O."""
from __future__ import annotations

import difflib
from collections.abc import Iterable

ROLES = ("member", "facilitator", "coordinator")
STATES = ("active", "pending", "declined", "left", "removed")


def auto_approved(user_id: str, user_ids: Iterable[str], domains: Iterable[str]) -> bool:
    """Listed by Matrix ID, or on one of the listed homeservers."""
    server = user_id.split(":", 1)[1].lower() if ":" in user_id else ""
    return user_id in set(user_ids) or server in {d.lower() for d in domains}


def loses_last_coordinator(coordinators: Iterable[str], user_id: str, new_role: str | None) -> bool:
    """True when this change (new_role None = leaving) would leave the network without a coordinator."""
    remaining = set(coordinators)
    if user_id not in remaining or new_role == "coordinator":
        return False
    return len(remaining - {user_id}) == 0


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


def matches_filter(text: str | None, user_id: str, display_name: str | None, organisation: str | None,
                   role: str, state: str) -> bool:
    """A member-list filter: a role or state name, or a piece of the ID, name or organisation."""
    if not text:
        return state in ("active", "pending")
    needle = text.strip().lower()
    if needle in ROLES:
        return role == needle and state == "active"
    if needle in STATES:
        return state == needle
    haystack = " ".join(filter(None, (user_id, display_name, organisation))).lower()
    return needle in haystack
