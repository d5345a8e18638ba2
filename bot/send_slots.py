"""How many rooms the outbox sends to at once, with answers before attachments.

A lane (one room's queue) holds a slot while it sends. When its next item is a file (the .ics of
a registration) and other lanes are waiting with a message, it gives its slot to them and queues
again behind every waiting message: in a rush, everyone's answer goes out first and the calendar
files follow. The order inside a room never changes, since a lane waits with its whole queue
(only replies to different commands in one room may be under way together: answered_by).
"""
from __future__ import annotations

import asyncio
from collections import deque

from bot.chat import MESSAGE
from storage.models import OutboxItem

Lane = tuple[str | None, str | None]


def answered_by(item: OutboxItem) -> str | None:
    """The message a reply answers (a reply in a busy room quotes the command it answers)."""
    if item.kind != MESSAGE:
        return None
    relates = item.payload.get("content", {}).get("m.relates_to") or {}
    return (relates.get("m.in_reply_to") or {}).get("event_id")


def lane_of(item: OutboxItem) -> Lane:
    """Items are sent in order per room; a DM not opened yet is a lane of its own."""
    return (item.room_id, None) if item.room_id else (None, item.user_id)


class SendSlots:
    def __init__(self, slots: int) -> None:
        self._free = slots
        self._answers: deque[asyncio.Future[None]] = deque()  # lanes waiting with a message next
        self._files: deque[asyncio.Future[None]] = deque()  # lanes that stepped aside with a file next

    async def acquire(self, *, file_next: bool = False) -> None:
        if self._free:
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        (self._files if file_next else self._answers).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as it was cancelled: pass it on
            raise

    def release(self) -> None:
        """Hand the slot straight to the next waiter, a message before a file; else free it."""
        for queue in (self._answers, self._files):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1

    async def step_aside(self) -> None:
        """Called holding a slot, with a file next: let lanes waiting with a message go first."""
        if any(not waiter.done() for waiter in self._answers):
            self.release()
            await self.acquire(file_next=True)
