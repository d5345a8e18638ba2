"""Outgoing messages as Matrix event content, written to the outbox (never sent directly)."""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.api import Attachment, Reply
from bot.render import Text
from storage import outbox

MESSAGE = "message"
FILE = "file"


def message_content(
    text: Text,
    *,
    notice: bool,
    mentions: tuple[str, ...] = (),
    reply_to: str | None = None,
    thread_root: str | None = None,
) -> dict[str, Any]:
    """m.notice for replies, m.text for what must reach a phone; intentional mentions always set."""
    content: dict[str, Any] = {
        "msgtype": "m.notice" if notice else "m.text",
        "body": text.plain,
        "m.mentions": {"user_ids": list(mentions)} if mentions else {},
    }
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

    async def send(self, room_id: str, text: Text, *, notice: bool = False,
                   mentions: tuple[str, ...] = (), reply_to: str | None = None,
                   thread_root: str | None = None, files: tuple[Attachment, ...] = ()) -> None:
        content = message_content(text, notice=notice, mentions=mentions, reply_to=reply_to, thread_root=thread_root)
        await outbox.enqueue(self.session, MESSAGE, {"content": content}, self.now, room_id=room_id)
        for att in files:
            await outbox.enqueue(self.session, FILE, file_payload(att), self.now, room_id=room_id)

    async def dm(self, user_id: str, text: Text, *, notice: bool = False,
                 files: tuple[Attachment, ...] = ()) -> None:
        """To the person's DM with the bot; the sender opens one if there is none yet."""
        content = message_content(text, notice=notice, mentions=() if notice else (user_id,))
        await outbox.enqueue(self.session, MESSAGE, {"content": content}, self.now, user_id=user_id)
        for att in files:
            await outbox.enqueue(self.session, FILE, file_payload(att), self.now, user_id=user_id)

    async def reply(self, reply: Reply, room_id: str, event_id: str, thread_root: str | None,
                    in_busy_room: bool) -> None:
        await self.send(
            room_id, reply.text, notice=reply.notice, mentions=reply.mentions,
            reply_to=event_id if (in_busy_room or thread_root) else None,
            thread_root=thread_root, files=reply.files,
        )
