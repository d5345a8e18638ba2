"""Pure membership decisions: room versions and power levels, auto-approval, the last-coordinator
guard, timezone suggestions and member filters. Standard library only; no I/O."""
from __future__ import annotations

import difflib
from collections.abc import Iterable

COORDINATOR_LEVEL = 50
BOT_LEVEL = 100
ROLES = ("member", "facilitator", "coordinator")
STATES = ("active", "pending", "declined", "left", "removed")


def _number(version: str) -> int | None:
    return int(version) if version.isdigit() else None


def supports_restricted(version: str) -> bool:
    """The `restricted` join rule exists from room version 8 on."""
    number = _number(version)
    return number is not None and number >= 8


def creators_privileged(version: str) -> bool:
    """From room version 12 the creator has unlimited power and must not appear in power levels."""
    number = _number(version)
    return version == "org.matrix.hydra.11" or (number is not None and number >= 12)


def choose_room_version(default: str, available: dict[str, str]) -> tuple[str, bool]:
    """(version to create rooms with, whether open rooms can use the restricted join rule).

    The server's default when it has `restricted`; else its newest stable version that has it;
    else the default, and open rooms fall back to invite-only (the bot's roster then decides)."""
    if supports_restricted(default):
        return default, True
    stable = [v for v, status in available.items() if status == "stable" and supports_restricted(v)]
    if stable:
        return max(stable, key=lambda v: int(v)), True
    return default, False


def power_levels(kind: str, room_version: str, bot_user_id: str, coordinators: Iterable[str]) -> dict:
    """The m.room.power_levels content for one of a network's rooms.

    Coordinators moderate every room; only they (and the bot) post in announcements and manage the
    Space. The bot is listed at 100 only where the room version still lists creators."""
    users = {user_id: COORDINATOR_LEVEL for user_id in coordinators if user_id != bot_user_id}
    if not creators_privileged(room_version):
        users[bot_user_id] = BOT_LEVEL
    events = {
        "m.room.name": 50, "m.room.topic": 50, "m.room.avatar": 50, "m.room.canonical_alias": 50,
        "m.room.power_levels": 100, "m.room.history_visibility": 100, "m.room.encryption": 100,
        "m.room.server_acl": 100, "m.room.join_rules": 100, "m.space.child": 50, "m.space.parent": 50,
        "m.room.tombstone": 150 if creators_privileged(room_version) else 100,
    }
    return {
        "users": users, "users_default": 0, "events": events,
        "events_default": COORDINATOR_LEVEL if kind in ("announcements", "space") else 0,
        "state_default": 50, "invite": 50, "kick": 50, "ban": 50, "redact": 50,
    }


def level_for(role: str) -> int:
    return COORDINATOR_LEVEL if role == "coordinator" else 0


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
