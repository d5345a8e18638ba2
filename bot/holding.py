"""The sender's hold on outbox items with a send-at time: reminders prepared ahead of their due time
(bot/scheduler.py, LEAD). Each waits on its own, outside its room's lane, so a held reminder never
holds up what the same person is sent now; at its time it joins the lane (in id order) and goes.

RESOLVE_BEFORE its time, one read finds the person's DM room and checks that the item is still to
be sent, so at the time itself only the send happens. The room is read per item, never cached
across items: case intake forgets an unencrypted DM to open an encrypted one, and a stale room
could carry a message into the wrong room.

A cancellation in the last second withdraws the item in its transaction (storage.outbox.withdraw),
calling withdrawing() just before: from then until that transaction has ended (committed or rolled
back) and a read of what is still pending is done (recheck), no held item is let go. An item whose
time comes meanwhile waits those milliseconds; one let go before the withdrawal's statement ran
is sent (its send was decided first), and the withdrawal then finds it no longer held."""
from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct_rooms, outbox
from storage.database import Database
from storage.models import OutboxItem

log = logging.getLogger("kring.outbox")
RESOLVE_BEFORE = timedelta(seconds=1)  # the DM room is read this long before the send


class Holding:
    def __init__(self, db: Database, clock: Callable[[], datetime], release: Callable[[OutboxItem], None],
                 stopping: asyncio.Event) -> None:
        self.db = db
        self.clock = clock
        self.release = release  # the item's time has come: into its lane
        self.stopping = stopping
        self.rooms: dict[int, str] = {}  # item id -> its DM room, read just before its time
        self._held: dict[int, asyncio.Task] = {}
        self._check: asyncio.Task | None = None
        self._check_again = False
        self._withdrawing = 0  # transactions withdrawing held items, not yet ended
        self._calm = asyncio.Event()  # set while no withdrawal is under way or being checked: items may go
        self._calm.set()
        self.read = asyncio.Condition()  # notified after each item's read before its time

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def take(self, item: OutboxItem) -> bool:
        """Hold the item if its time is still to come (or it is held already); False: send it now."""
        if item.id in self._held:
            return True
        if item.send_at is None or item.send_at <= self.clock():
            return False
        self._held[item.id] = asyncio.create_task(self._hold(item), name=f"outbox held {item.id}")
        return True

    def withdrawing(self, session: AsyncSession) -> None:
        """The transaction of `session` is about to withdraw held items: none is let go until it
        has ended and what is still pending has been read again."""
        self._withdrawing += 1
        self._settle()
        ended = False

        def end(_session, transaction) -> None:  # noqa: ANN001 - SQLAlchemy's after_transaction_end
            nonlocal ended
            if transaction.parent is None and not ended:  # the transaction itself, not a savepoint
                ended = True
                self._withdrawing -= 1
                self.recheck()

        event.listen(session.sync_session, "after_transaction_end", end)

    def recheck(self) -> None:
        """Something may have been withdrawn (just committed): forget what is no longer pending."""
        if self._held and self._check is not None and not self._check.done():
            self._check_again = True
        elif self._held:
            self._check = asyncio.create_task(self._recheck(), name="outbox held recheck")
            self._check.add_done_callback(lambda _task: self._settle())
        self._settle()

    def _settle(self) -> None:
        if self._withdrawing or (self._check is not None and not self._check.done()):
            self._calm.clear()
        else:
            self._calm.set()

    async def _recheck(self) -> None:
        while True:
            self._check_again = False
            try:
                async with self.db.read() as session:
                    pending = await outbox.still_pending(session, list(self._held))
            except Exception:  # noqa: BLE001 - nothing is let go until it succeeds
                log.exception("could not check the held outbox items", extra={"ref": secrets.token_hex(3)})
                await self._sleep(0.5)
                self._check_again = not self.stopping.is_set()
                pending = set(self._held)
            for item_id in [i for i in self._held if i not in pending]:
                self._forget(item_id)
            if not self._check_again:
                return

    def _forget(self, item_id: int) -> None:
        self._held.pop(item_id, None)  # its task finds it gone when it wakes
        self.rooms.pop(item_id, None)

    async def _sleep(self, seconds: float) -> bool:
        """Wait (True), unless the sender stops first (False)."""
        if seconds > 0:
            try:
                await asyncio.wait_for(self.stopping.wait(), seconds)
            except TimeoutError:
                pass
        return not self.stopping.is_set()

    async def _hold(self, item: OutboxItem) -> None:
        assert item.send_at is not None
        if not await self._sleep((item.send_at - RESOLVE_BEFORE - self.clock()).total_seconds()):
            return  # still pending in the table: held again after the restart
        try:
            if item.id in self._held:
                async with self.db.read() as session:
                    pending = await outbox.still_pending(session, [item.id])
                    room = await direct_rooms.room_for(session, item.user_id) if item.room_id is None else None
                if not pending:
                    self._forget(item.id)
                elif room is not None:
                    self.rooms[item.id] = room
        except Exception:  # noqa: BLE001 - sent at its time anyway; the send path reads the room itself
            log.exception("reading a held outbox item's room failed", extra={"item": item.id, "ref": secrets.token_hex(3)})
        async with self.read:
            self.read.notify_all()
        if not await self._sleep((item.send_at - self.clock()).total_seconds()):
            return
        while not self._calm.is_set():
            await self._calm.wait()  # a withdrawal is under way or just committed: is this one still on?
        if self._held.pop(item.id, None) is not None:
            item.send_at = None  # this copy only (the row keeps it): its time has come
            self.release(item)

    async def drained(self) -> None:
        """Until every hold has ended (they end at once once the sender stops)."""
        await asyncio.gather(*self._held.values(), *([self._check] if self._check else []), return_exceptions=True)

    def room(self, item_id: int) -> str | None:
        """The DM room read for the item just before its time (taken once)."""
        return self.rooms.pop(item_id, None)
