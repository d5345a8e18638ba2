"""The adapter's boundary: an incoming text message as the rest of the bot sees it, free of nio."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FileRef:
    """A file message's media: where it is and, for an encrypted attachment, how to decrypt it."""

    url: str
    name: str
    mimetype: str
    size: int | None = None
    key: str | None = None  # JWK "k" (unpadded base64url) of an encrypted attachment
    iv: str | None = None
    sha256: str | None = None  # of the ciphertext, unpadded base64


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
    file: FileRef | None = None  # an m.file message (its body is then empty: never a command)
