"""What one sync brought, as the rest of the bot sees it: messages per room in timeline order
(gaps filled with /messages), with the other room events features asked for (poll responses)
among them, unreadable events, invites, membership changes."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import nio

from api.types import RoomEvent
from bot.matrix.incoming import FileRef, Incoming

log = logging.getLogger("kring.matrix")


@dataclass(frozen=True)
class Invite:
    room_id: str
    inviter: str | None
    is_direct: bool


@dataclass(frozen=True)
class Undecryptable:
    event_id: str
    room_id: str
    sender: str
    session_id: str
    origin_time: datetime


@dataclass(frozen=True)
class MemberChange:
    """Someone's membership changed in a joined room (a join, leave, kick, invite, ban)."""

    room_id: str
    event_id: str
    user_id: str
    membership: str
    prev_membership: str | None
    display_name: str | None
    origin_time: datetime


@dataclass
class SyncBatch:
    """What one sync brought, in timeline order per room, with the gaps already filled."""

    next_batch: str
    messages: dict[str, list[Incoming | RoomEvent]] = field(default_factory=dict)
    undecryptable: list[Undecryptable] = field(default_factory=list)
    invites: list[Invite] = field(default_factory=list)
    left_rooms: list[str] = field(default_factory=list)
    new_room_keys: bool = False
    memberships: list[MemberChange] = field(default_factory=list)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def joined_now(events: list[Any], user_id: str) -> bool:
    """The bot's own join is in the timeline: what came before it was never the bot's to read."""
    return any(isinstance(e, nio.RoomMemberEvent) and e.state_key == user_id
               and e.membership == "join" and e.prev_membership != "join" for e in events)


async def fill_gap(client: nio.AsyncClient, room_id: str, prev_batch: str, since: str) -> list[Any]:
    """Page /messages back from the start of a limited timeline to the previous sync token."""
    older: list[Any] = []
    token = prev_batch
    while True:
        resp = await client.room_messages(room_id, start=token, end=since,
                                          direction=nio.MessageDirection.back, limit=100)
        if isinstance(resp, nio.RoomMessagesError):
            raise ConnectionError(f"gap fill failed in {room_id}: {resp.message}")
        older.extend(resp.chunk)
        if not resp.chunk or not resp.end or resp.end == token:
            break
        token = resp.end
    log.info("gap filled", extra={"room_id": room_id, "events": len(older)})
    return list(reversed(older))


def collect(batch: SyncBatch, room_id: str, events: list[Any], room_event_types: frozenset[str] = frozenset()) -> None:
    for event in events:
        if isinstance(event, nio.RoomMemberEvent):
            batch.memberships.append(MemberChange(
                room_id, event.event_id, event.state_key, event.membership, event.prev_membership,
                (event.content or {}).get("displayname"), _utc(event.server_timestamp)))
            continue
        if isinstance(event, nio.MegolmEvent):
            batch.undecryptable.append(Undecryptable(
                event.event_id, room_id, event.sender, event.session_id, _utc(event.server_timestamp)))
            continue
        incoming = to_incoming(room_id, event, room_event_types)
        if incoming:
            batch.messages.setdefault(room_id, []).append(incoming)


def to_incoming(room_id: str, event: Any, room_event_types: frozenset[str] = frozenset()) -> Incoming | RoomEvent | None:
    if isinstance(event, nio.UnknownEvent) and event.type in room_event_types:
        return RoomEvent(
            event_id=event.event_id, room_id=room_id, sender=event.sender, type=event.type,
            content=dict(event.source.get("content") or {}), origin_time=_utc(event.server_timestamp),
            encrypted=bool(getattr(event, "decrypted", False)))
    if isinstance(event, (nio.RoomMessageFile, nio.RoomEncryptedFile)):
        return _file(room_id, event)
    if not isinstance(event, (nio.RoomMessageText, nio.RoomMessageNotice)):
        return None
    if isinstance(event, nio.RoomMessageNotice):
        return None  # bots answer people, not each other's notices
    relates = event.source.get("content", {}).get("m.relates_to") or {}
    if relates.get("rel_type") == "m.replace":
        return None  # an edit is not a new command
    thread_root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    return Incoming(
        event_id=event.event_id, room_id=room_id, sender=event.sender, body=event.body,
        origin_time=_utc(event.server_timestamp), thread_root=thread_root,
        encrypted=bool(getattr(event, "decrypted", False)),
    )


def _file(room_id: str, event: Any) -> Incoming | None:
    """An m.file message (plain or an encrypted attachment) as an Incoming with an empty body."""
    content = event.source.get("content", {})
    info = content.get("info") or {}
    size = info.get("size") if isinstance(info.get("size"), int) else None
    name = str(content.get("filename") or content.get("body") or "file")[:255]
    mimetype = str(info.get("mimetype") or getattr(event, "mimetype", None) or "application/octet-stream")[:127]
    if isinstance(event, nio.RoomEncryptedFile):
        ref = FileRef(url=event.url, name=name, mimetype=mimetype, size=size, key=event.key.get("k"),
                      iv=event.iv, sha256=(event.hashes or {}).get("sha256"))
    else:
        ref = FileRef(url=event.url, name=name, mimetype=mimetype, size=size)
    if not ref.url or not ref.url.startswith("mxc://"):
        return None
    return Incoming(event_id=event.event_id, room_id=room_id, sender=event.sender, body="",
                    origin_time=_utc(event.server_timestamp), encrypted=bool(getattr(event, "decrypted", False)),
                    file=ref)
