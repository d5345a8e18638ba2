"""How many rooms the outbox sends to at once, with answers before attachments.

A lane (one room's queue) holds a slot while it sends. When its next item is a file (the .ics of
a registration) and other lanes are waiting with a message, it gives its slot to them and queues
again behind every waiting message: in a rush, everyone's answer goes out first and the calendar
files follow. The order inside a room never changes, since a lane waits with its whole queue
(only replies to different commands in one room may be under way together: answered_by).

A late item (one whose send-at time had passed before the sender held it: what fell due while the
bot was down, and reminders prepared before a crash) goes as one of at most LATE_SLOTS lanes: after
a restart the catch-up sends at most that many at once, and the slots and the homeserver's time
stay free for the reminders that are due now (before, the catch-up took every slot for a second).
"""
from __future__ import annotations

import asyncio
from collections import deque

from bot.chat import MESSAGE
from storage.models import OutboxItem

Lane = tuple[str | None, str | None]
LATE_SLOTS = 2


def is_late(item: OutboxItem) -> bool:
    """Its send-at time had passed when the sender took it (a held item let go at its time has
    none left: bot/holding.py)."""
    return item.send_at is not None


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
    def __init__(self, slots: int, late_slots: int = LATE_SLOTS) -> None:
        self._free = slots
        self._late_free = min(late_slots, slots)  # of the slots, how many more may send late items
        self._answers: deque[asyncio.Future[None]] = deque()  # lanes waiting with a message next
        self._late: deque[asyncio.Future[None]] = deque()  # lanes waiting with a late item next
        self._files: deque[asyncio.Future[None]] = deque()  # lanes that stepped aside with a file next

    async def acquire(self, *, file_next: bool = False, late: bool = False) -> None:
        if self._free and (self._late_free or not late):
            self._free -= 1
            self._late_free -= late
            return
        waiter = asyncio.get_running_loop().create_future()
        (self._late if late else self._files if file_next else self._answers).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(late=late)  # handed a slot just as it was cancelled: pass it on
            raise

    def release(self, *, late: bool = False) -> None:
        """Hand the slot straight to the next waiter: a message, else a late item (while fewer
        than LATE_SLOTS go), else a file; else free it. `late`: it was held as a late one."""
        self._late_free += late
        for queue in (self._answers, self._late, self._files):
            if queue is self._late and not self._late_free:
                continue
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    self._late_free -= queue is self._late
                    waiter.set_result(None)
                    return
        self._free += 1

    async def as_late(self) -> None:
        """Called holding a slot, with a late item next: from now on the slot is a late one (the
        lane waits for one if LATE_SLOTS are in use)."""
        if self._late_free:
            self._late_free -= 1
            return
        self.release()
        await self.acquire(late=True)

    async def step_aside(self, *, late: bool = False) -> bool:
        """Called holding a slot (`late`: a late one), with a file next: let lanes waiting with a
        message go first. Returns whether the slot held after is a late one."""
        if any(not waiter.done() for waiter in self._answers):
            self.release(late=late)
            await self.acquire(file_next=True)
            return False
        return late
