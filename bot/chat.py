"""Outgoing messages as Matrix event content, written to the outbox (never sent directly)."""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api import Attachment, Reply
from api.render import Text
from storage import outbox
from storage.models import OutboxItem

MESSAGE = "message"
FILE = "file"
# Room operations (issue 3); like messages they wait in the room's lane of the outbox.
INVITE = "invite"
KICK = "kick"
POWER = "power"
STATE = "state"
LEAVE = "leave"
REDACT = "redact"
LEVELS = "levels"
# Creating a private room (a session's): a lane of its own, since the room has no id yet.
ROOM = "room"
KEPT_FILE = "kept_file"  # a file from the vault (a case's PDF): read and decrypted only when sent
PIN = "pin"  # pin the message of an earlier outbox row (its event id is known once it is sent)
EVENT = "event"  # a room event of another type than m.room.message (a poll's start and end)


def message_content(
    text: Text,
    *,
    notice: bool,
    mentions: tuple[str, ...] = (),
    reply_to: str | None = None,
    thread_root: str | None = None,
    mention_room: bool = False,
) -> dict[str, Any]:
    """m.notice for replies, m.text for what must reach a phone. Intentional mentions are set on
    every text (so "@room" in a text pings nobody unless `mention_room` says so) and on a notice
    that mentions someone. A notice that mentions nobody goes without: no default push rule lets
    a notice notify (`.m.rule.suppress_notices` comes before every mention rule), and Synapse
    checks an `m.mentions` against its schema anew for each event (about 1.4 ms of its CPU for
    every answer in a burst, issue 21)."""
    content: dict[str, Any] = {"msgtype": "m.notice" if notice else "m.text", "body": text.plain}
    if mentions or mention_room or not notice:
        content["m.mentions"] = {"user_ids": list(mentions)} if mentions else {}
    if mention_room:
        content["m.mentions"]["room"] = True
    if text.html != text.plain:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = text.html
    if thread_root:
        content["m.relates_to"] = {
            "rel_type": "m.thread", "event_id": thread_root, "is_falling_back": True,
            "m.in_reply_to": {"event_id": reply_to or thread_root},
        }
    elif reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


def file_payload(att: Attachment) -> dict[str, Any]:
    return {"filename": att.filename, "mimetype": att.mimetype, "data": base64.b64encode(att.data).decode()}


class OutboxChat:
    """The Chat capability of a command or job: rows in the same transaction as its decisions."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session = session
        self.now = now
        self.items: list[OutboxItem] = []  # handed to the sender once the transaction commits
        self.hold: tuple[datetime, int] | None = None  # (send at, schedule row) of a job run ahead

    async def _enqueue(self, kind: str, payload: dict[str, Any], now: datetime, *, room_id: str | None = None,
                       user_id: str | None = None, about: str | None = None) -> None:
        send_at, action_id = self.hold or (None, None)
        self.items.append(await outbox.enqueue(self.session, kind, payload, now, room_id=room_id, user_id=user_id,
                                               about=about, send_at=send_at, action_id=action_id))

    async def send(self, room_id: str, text: Text, *, notice: bool = False,
                   mentions: tuple[str, ...] = (), reply_to: str | None = None,
                   thread_root: str | None = None, files: tuple[Attachment, ...] = (),
                   private: bool = False, about: str | None = None, mention_room: bool = False,
                   pin: bool = False) -> None:
        """`about`: the person the message concerns; if they ask to be forgotten it is redacted.
        `mention_room`: an @room mention (everyone in the room is notified). `pin`: once sent, the
        message is added to the room's pinned events."""
        content = message_content(text, notice=notice, mentions=mentions, reply_to=reply_to, thread_root=thread_root,
                                  mention_room=mention_room)
        payload = {"content": content, "private": True} if private else {"content": content}
        if private and about:
            payload["keep_about"] = True  # no content kept, but still redacted with the person
        await self._enqueue(MESSAGE, payload, self.now, room_id=room_id, about=about)
        if pin:  # same lane, so it runs after the message is sent
            await self._enqueue(PIN, {"item": self.items[-1].id}, self.now, room_id=room_id)
        for att in files:
            await self._enqueue(FILE, {**file_payload(att), "private": True} if private else file_payload(att),
                                self.now, room_id=room_id)

    async def dm(self, user_id: str, text: Text, *, notice: bool = False,
                 files: tuple[Attachment, ...] = (), private: bool = False) -> None:
        """To the person's DM with the bot; the sender opens one if there is none yet. `private`:
        no content kept once sent (a confidential text)."""
        content = message_content(text, notice=notice, mentions=() if notice else (user_id,))
        payload = {"content": content, "private": True} if private else {"content": content}
        await self._enqueue(MESSAGE, payload, self.now, user_id=user_id)
        for att in files:
            await self._enqueue(FILE, file_payload(att), self.now, user_id=user_id)

    async def send_kept(self, room_id: str, handle: str, filename: str, mimetype: str, *,
                        about: str | None = None) -> None:
        """A file kept in the vault, to a room; the row holds only its handle and keeps nothing once sent."""
        payload = {"handle": handle, "filename": filename, "mimetype": mimetype, "private": True,
                   "keep_about": bool(about)}
        await self._enqueue(KEPT_FILE, payload, self.now, room_id=room_id, about=about)

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any], *,
                         about: str | None = None) -> int:
        """A room event of another type (a poll start or end), encrypted where the room is; returns
        the outbox row's id, whose event_id the homeserver's answer fills in."""
        await self._enqueue(EVENT, {"type": event_type, "content": content}, self.now, room_id=room_id, about=about)
        return self.items[-1].id

    # ---- room operations: invites, kicks, power levels, state, leaving ------------------------
    # `private=True` rows lose their payload once done (a person asked to be forgotten; a roster).
    async def invite(self, room_id: str, user_id: str) -> None:
        await self._enqueue(INVITE, {"user_id": user_id}, self.now, room_id=room_id, about=user_id)

    async def kick(self, room_id: str, user_id: str, reason: str | None = None, *, private: bool = False) -> None:
        payload = {"user_id": user_id, "reason": reason, "private": private}
        await self._enqueue(KICK, payload, self.now, room_id=room_id, about=user_id)

    async def set_power(self, room_id: str, user_id: str, level: int) -> None:
        """Give one person this power level in the room (0 removes them from the list)."""
        await self._enqueue(POWER, {"user_id": user_id, "level": level}, self.now, room_id=room_id, about=user_id)

    async def put_state(self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = "") -> None:
        payload = {"type": event_type, "state_key": state_key, "content": content}
        await self._enqueue( STATE, payload, self.now, room_id=room_id)

    async def leave(self, room_id: str) -> None:
        """The bot leaves the room, after everything queued before in that room is sent."""
        await self._enqueue( LEAVE, {"private": True}, self.now, room_id=room_id)

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> None:
        """Remove a message the bot sent (its content; Matrix keeps that an event was there)."""
        await self._enqueue(REDACT, {"event_id": event_id, "reason": reason, "private": True}, self.now,
                            room_id=room_id)

    async def set_levels(self, room_id: str, **levels: int) -> None:
        await self._enqueue(LEVELS, {"levels": levels}, self.now, room_id=room_id)

    async def create_room(self, *, name: str, topic: str, marker: dict[str, Any], moderators: tuple[str, ...],
                          invite: tuple[str, ...], then: str, then_payload: dict[str, Any]) -> None:
        """See api.context.Chat.create_room. The row has neither room nor person: all room
        creations share one lane, in order (the homeserver throttles them per user anyway)."""
        payload = {"name": name, "topic": topic, "marker": marker, "moderators": list(moderators),
                   "invite": list(invite), "then": then, "then_payload": then_payload,
                   "private": True}  # who was invited is not kept once the room exists
        await self._enqueue(ROOM, payload, self.now)

    async def reply(self, reply: Reply, room_id: str, event_id: str, thread_root: str | None,
                    in_busy_room: bool) -> None:
        await self.send(
            room_id, reply.text, notice=reply.notice, mentions=reply.mentions,
            reply_to=event_id if (in_busy_room or thread_root) else None,
            thread_root=thread_root, files=reply.files, about=reply.about, private=reply.private,
        )
