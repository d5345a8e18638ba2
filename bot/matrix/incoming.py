"""The adapter's boundary: an incoming text message as the rest of the bot sees it, free of nio."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Incoming:
    """A text message from a room, already decrypted, free of any client library type."""

    event_id: str
    room_id: str
    sender: str
    body: str
    origin_time: datetime
    thread_root: str | None = None
    encrypted: bool = False
