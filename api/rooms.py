"""Pure rules for the rooms Kring makes: which room version, who gets which power level. Shared by
the runtime (which creates the rooms) and the features (which change someone's role)."""
from __future__ import annotations

from collections.abc import Iterable

COORDINATOR_LEVEL = 50
BOT_LEVEL = 100


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


def _levels(room_version: str, bot_user_id: str, people: Iterable[str], level: int, events: dict,
            **rest: int) -> dict:
    """Power levels for a room the bot runs: `people` at `level`, the bot listed only where the
    room version still lists creators; the room's settings are the bot's (100), the tombstone
    above everyone once creators are privileged. `events` and `rest` are the room kind's own."""
    users = {user_id: level for user_id in people if user_id != bot_user_id}
    if not creators_privileged(room_version):
        users[bot_user_id] = BOT_LEVEL
    settings = {"m.room.power_levels": 100, "m.room.history_visibility": 100, "m.room.encryption": 100,
                "m.room.server_acl": 100, "m.room.join_rules": 100,
                "m.room.tombstone": 150 if creators_privileged(room_version) else 100}
    return {"users": users, "users_default": 0, "events": {**events, **settings}, **rest}


def power_levels(kind: str, room_version: str, bot_user_id: str, coordinators: Iterable[str]) -> dict:
    """The m.room.power_levels content for one of a network's rooms.

    Coordinators moderate every room; only they (and the bot) post in announcements and manage the
    Space. The bot is listed at 100 only where the room version still lists creators."""
    events = {"m.room.name": 50, "m.room.topic": 50, "m.room.avatar": 50, "m.room.canonical_alias": 50,
              "m.space.child": 50, "m.space.parent": 50}
    return _levels(room_version, bot_user_id, coordinators, COORDINATOR_LEVEL, events,
                   events_default=COORDINATOR_LEVEL if kind in ("announcements", "space") else 0,
                   state_default=50, invite=50, kick=50, ban=50, redact=50)


def level_for(role: str) -> int:
    return COORDINATOR_LEVEL if role == "coordinator" else 0


SESSION_MARKER = "org.kring.session"  # the state event naming the session a private room belongs to
MODERATOR_LEVEL = 50


def session_power_levels(room_version: str, bot_user_id: str, moderators: Iterable[str]) -> dict:
    """A session room: the facilitator moderates, participants are at the default level and may
    post; only the bot changes the room's settings. The bot is listed only where the room version
    still lists creators (before version 12)."""
    events = {"m.room.name": 100, "m.room.topic": 50, "m.room.avatar": 100, "m.room.canonical_alias": 100,
              "m.room.pinned_events": 50, SESSION_MARKER: 100}
    # The facilitator may invite and remove; whoever they let in who is not of the group is removed
    # again by the bot (bot/guard.py), so the group decides who is in the room.
    return _levels(room_version, bot_user_id, moderators, MODERATOR_LEVEL, events, events_default=0,
                   state_default=100, invite=MODERATOR_LEVEL, kick=MODERATOR_LEVEL, ban=MODERATOR_LEVEL,
                   redact=MODERATOR_LEVEL)


READ_ONLY = {"events_default": MODERATOR_LEVEL}  # a closed session room: only moderators (and the bot) post
