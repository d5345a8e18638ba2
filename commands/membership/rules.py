"""Pure membership decisions: auto-approval, the last-coordinator
guard and member filters. Standard library only; no I/O."""
from __future__ import annotations

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
