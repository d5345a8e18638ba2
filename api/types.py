"""Roles, places, argument markers and the user's mistake: the plain vocabulary of a command."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_WHOLE = re.compile(r"-?[0-9]+")


class Role(enum.IntEnum):
    """Ordered: a higher role may do everything a lower one may."""

    ANYONE = 0
    MEMBER = 1
    FACILITATOR = 2
    COORDINATOR = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        return cls[name.upper()]


class Where(enum.Enum):
    ANY = "any"
    DM = "dm"
    ROOM = "room"
    # The caller's DM with the bot, or the coordinators' control room of a network the caller
    # coordinates: for commands that name people or show personal data. The router checks it
    # (bot/router.py check_place); a handler that learns which network the data belongs to checks
    # that the control room is that network's (commands.common.places.require_private).
    PRIVATE = "private"

    def allows(self, is_dm: bool) -> bool:
        """Whether a command declared for this place may run here, as far as is_dm tells."""
        return self in (Where.ANY, Where.PRIVATE) or (self is Where.DM) == is_dm


class UserError(Exception):
    """A mistake the user can fix; answered politely from the catalogue entry `key`."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values
        self.with_usage = False  # set by the router for a converter's error: the usage line follows


class Rest(str):
    """Annotation for the last parameter: takes the rest of the message verbatim."""


class UserId(str):
    """Annotation for a Matrix ID argument (@name:server)."""


def whole_number(raw: str) -> int | None:
    """An integer written with ASCII digits only. Python's int() also takes other scripts' digits
    ("٣") and underscores ("1_000"), which nobody means as a count."""
    return int(raw) if _WHOLE.fullmatch(raw.strip()) else None


@dataclass(frozen=True)
class RoomEvent:
    """A room event that is not a text message (a poll response), already decrypted, as a feature
    declared with @on_room_event receives it: its type and content as sent, nothing of nio."""

    event_id: str
    room_id: str
    sender: str
    type: str
    content: dict[str, Any]
    origin_time: datetime
    encrypted: bool = False
    own: bool = False  # sent by the bot itself
