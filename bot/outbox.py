"""The sender: drains the outbox in order per room (rooms in parallel; a room whose next item is a
file lets rooms waiting with an answer go first, bot/send_slots.py), with the transaction id fixed
at enqueue time, honouring M_LIMIT_EXCEEDED and retrying network errors with backoff.

An unexpected error (a bug, a library exception, the database failing) never ends a room's lane:
it is logged with a reference, retried with the same backoff, and after MAX_UNEXPECTED_FAILURES
the item is dropped so that it cannot block the messages queued behind it."""
from __future__ import annotations

import asyncio
from collections import deque
import base64
import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from api.files import Vault
from bot.chat import EVENT, FILE, KEPT_FILE, MESSAGE, PIN, ROOM
from bot.holding import Holding
from bot.marks import Marker
from bot.matrix.gateway import MatrixGateway, SendOutcome
from bot.retry import retry_delay
from bot.room_work import RoomWork
from bot.send_slots import Lane, SendSlots, answered_by, is_late, lane_of
from bot.shrink import cut_down, event_size
from storage import direct_rooms, outbox, schedule
from storage.database import Database
from storage.models import OutboxItem

log = logging.getLogger("kring.outbox")

MAX_BACKOFF = 30.0
MAX_UNKNOWN_ROOM_ATTEMPTS = 60
MAX_UNEXPECTED_FAILURES = 8
REPLIES_IN_FLIGHT = 8  # replies to different commands under way at once in one room


class Stopping(Exception):
    """The sender is shutting down; the item stays in the outbox for the next start."""


class OutboxSender:
    def __init__(self, db: Database, gateway: MatrixGateway, clock: Callable[[], datetime], *,
                 encrypt_dms: bool, parallel_rooms: int = 8, backoff_base: float = 0.5,
                 max_unexpected: int = MAX_UNEXPECTED_FAILURES, retry_max_s: float = 2.0,
                 on_schedule: Callable[[], None] = lambda: None, vault: Vault | None = None) -> None:
        self.db = db
        self.on_schedule = on_schedule  # a room was made: its follow-up job is in the schedule table
        self.rooms = RoomWork(db, gateway, vault)
        self.gateway = gateway
        self.clock = clock
        self.encrypt_dms = encrypt_dms
        self.backoff_base = backoff_base
        self.max_unexpected = max_unexpected
        self.retry_max_s = retry_max_s  # network retries: soon after the homeserver is back (bot/retry.py)
        self._unexpected: dict[int, int] = {}  # item id -> unexpected failures so far (kept across lane restarts)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.held = Holding(db, clock, lambda item: self.submit([item]), self._stopping)  # reminders before their time
        self._lanes: dict[Lane, asyncio.Task] = {}
        self._dirty: set[Lane] = set()  # lanes that may have rows in the table not yet queued
        self._queues: dict[Lane, deque[OutboxItem]] = {}
        self._arrived: dict[Lane, asyncio.Event] = {}  # set when a running lane has something new
        self._queued: set[int] = set()  # ids queued or being delivered
        self._idle = asyncio.Event()  # set while nothing is queued or being delivered, or a DM is opening
        self._idle.set()
        self._opening_dms = 0
        self._slots = SendSlots(parallel_rooms)
        self._parallel = parallel_rooms
        self.sent = 0
        self.finished = asyncio.Condition()  # notified when a row is marked done (sent, or given up)
        self.marks = Marker(db, clock, sending=self._sending, on_marked=self._marked, backoff=self._backoff,
                            stopping=self._stopping)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the database work in progress, cut network waits short, then return from run()."""
        self._stopping.set()
        self._wake.set()
        self._idle.set()

    async def settled(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, until the answers being sent have been delivered.

        The sync loop calls this before its next long poll, as a bare bot does when it answers
        from its sync callback: the homeserver takes the answers first, and no poll of the bot's
        stands open to be woken by each answer while it is being stored. It waits only when all
        that is queued is already in flight (no more than one item per parallel lane): with a
        backlog (a burst) the loop polls on at once, so the next commands are decided while the
        answers drain. The timeout covers a slow send (a retry after a 429); while a DM is being
        opened it returns at once, since the new room only comes through the next sync."""
        if len(self._queued) <= self._parallel:  # else a backlog (a burst): polling on keeps the database busy
            await self.until_idle(timeout)

    async def until_idle(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, until nothing is queued or under way, whatever the
        backlog. Also the sync loop's pause in a rush, after a sync that brought only the bot's
        own answers back (bot/syncer.py)."""
        if self._idle.is_set():
            return
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            pass

    def _track(self, item_ids: list[int]) -> None:
        self._queued.update(item_ids)
        self._refresh_idle()

    def _untrack(self, item_id: int) -> None:
        if item_id in self.marks.unmarked:
            return  # sent, not yet marked done: the sweep must not queue it again
        self._queued.discard(item_id)
        self._refresh_idle()

    def _refresh_idle(self) -> None:
        if not self._queued or self._opening_dms:
            self._idle.set()
        else:
            self._idle.clear()

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                await self._start_lanes()
            except Exception:  # noqa: BLE001 - e.g. the database is busy: the next sweep tries again
                log.exception("outbox sweep failed", extra={"ref": secrets.token_hex(3)})
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=5)
            except TimeoutError:
                pass
        await self.drained()

    async def drained(self) -> None:
        """Until the lanes started so far have run dry and what they finished is marked done."""
        await asyncio.gather(*self._lanes.values(), self.held.drained(), return_exceptions=True)
        await self.marks.landed()

    async def _unless_stopping(self, awaitable):  # noqa: ANN001, ANN202
        """Await a network call or a wait, unless the sender stops first (raises Stopping then).

        Only these are ever interrupted: a database transaction cut in half by a cancellation
        would leave SQLite's write lock behind."""
        work = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if work.done():
            return work.result()
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        raise Stopping

    async def _start_lanes(self) -> None:
        """The sweep (at start, and every few seconds): every lane with something pending runs;
        it reads the table again only for a row not queued yet (in a burst, a read per room every
        sweep was most of the sender's database work)."""
        async with self.db.read() as session:
            items = await outbox.pending(session, limit=1000)
        items = [item for item in items if item.id not in self.held]  # held: in no lane until their time
        self._dirty.update(lane_of(item) for item in items if item.id not in self._queued)
        self._start({lane_of(item) for item in items})

    def submit(self, items: list[OutboxItem]) -> None:
        """The fast path: rows a transaction just committed, handed over without reading them back."""
        for item in items:
            if item.id not in self._queued and not self.held.take(item):
                self._track([item.id])
                self._queues.setdefault(lane_of(item), deque()).append(item)
        self._start({lane_of(item) for item in items})

    def _start(self, lanes: set[Lane]) -> None:
        for lane in lanes:
            task = self._lanes.get(lane)
            if task is None or task.done():
                self._lanes[lane] = asyncio.create_task(self._drain(lane), name=f"outbox {lane}")
            elif lane in self._arrived:
                self._arrived[lane].set()  # a lane waiting on its replies under way looks again

    async def _drain(self, lane: Lane) -> None:
        """Send the lane's items in order. Replies to different commands in a busy room (each
        answers its own message) may be under way together, as a person would see no order
        between them; anything else waits for what is under way, and what follows waits for it."""
        queue = self._queues.setdefault(lane, deque())
        flying: dict[asyncio.Task, str] = {}  # replies being delivered -> the message each answers
        arrived = self._arrived[lane] = asyncio.Event()
        await self._slots.acquire()
        held, late = True, False  # a slot, and whether it is one of the late ones (bot/send_slots.py)
        try:
            while not self._stopping.is_set():
                arrived.clear()
                if lane in self._dirty:
                    self._dirty.discard(lane)
                    try:
                        await self._read_lane(lane, queue)
                    except Exception:  # noqa: BLE001 - the next sweep (a few seconds) tries again
                        self._dirty.add(lane)
                        log.exception("could not read an outbox lane", extra={"ref": secrets.token_hex(3)})
                        return
                if flying and not queue:
                    # In a busy room the homeserver may hold a reply for seconds (it takes the
                    # room's events one at a time, the burst's commands first): replies to
                    # commands decided meanwhile join it rather than wait until it is answered.
                    more = asyncio.ensure_future(arrived.wait())
                    await asyncio.wait({*flying, more}, return_when=asyncio.FIRST_COMPLETED)
                    more.cancel()
                    continue
                answers = answered_by(queue[0]) if queue else None
                if flying and (answers is None or answers in flying.values() or len(flying) >= REPLIES_IN_FLIGHT):
                    free_one = answers is not None and answers not in flying.values()
                    await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED if free_one else asyncio.ALL_COMPLETED)
                    continue
                if not queue:
                    return
                if not late and is_late(queue[0]):
                    held = False
                    await self._slots.as_late()
                    held = late = True
                    if self._stopping.is_set():
                        return  # still pending in the table: sent after the restart
                item = queue.popleft()
                if answers is not None:
                    task = asyncio.create_task(self._deliver_reply(item), name=f"outbox reply {item.id}")
                    flying[task] = answers
                    task.add_done_callback(lambda done: flying.pop(done, None))
                    continue
                try:
                    if item.kind in (FILE, KEPT_FILE):  # answers waiting in other rooms go first (bot/send_slots.py)
                        held = False
                        late = await self._slots.step_aside(late=late)
                        held = True
                        if self._stopping.is_set():
                            return  # still pending in the table: sent after the restart
                    await self._deliver(item)
                except Stopping:
                    return
                finally:
                    self._untrack(item.id)
        finally:
            if self._arrived.get(lane) is arrived:
                del self._arrived[lane]
            if flying:
                await asyncio.gather(*flying, return_exceptions=True)
            if held:
                self._slots.release(late=late)

    async def _deliver_reply(self, item: OutboxItem) -> None:
        try:
            await self._deliver(item)
        except Stopping:
            pass  # still pending in the table: sent after the restart
        finally:
            self._untrack(item.id)

    async def _read_lane(self, lane: Lane, queue: deque[OutboxItem]) -> None:
        """Merge the lane's pending rows from the table into its queue, oldest first."""
        async with self.db.read() as session:
            rows = await outbox.pending_in_lane(session, *lane, limit=500)
        fresh = [row for row in rows if row.id not in self._queued and not self.held.take(row)]
        if fresh:
            self._track([row.id for row in fresh])
            merged = sorted([*queue, *fresh], key=lambda row: row.id)
            queue.clear()
            queue.extend(merged)

    async def _deliver(self, item: OutboxItem) -> None:
        """Send one item until it is done or dropped; raises only Stopping."""
        attempt = 0
        while True:
            try:
                outcome = await self._send_once(item, attempt)
                if outcome is None:
                    return
                wait = outcome.retry_after or retry_delay(attempt + 1, self.retry_max_s, self.backoff_base)
                log.warning("send retry", extra={"item": item.id, "error": outcome.error, "wait_s": wait})
            except Stopping:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug or a library/database error: never end the lane
                ref = secrets.token_hex(3)
                failures = self._unexpected[item.id] = self._unexpected.get(item.id, 0) + 1
                log.exception("outbox item failed unexpectedly",
                              extra={"item": item.id, "ref": ref, "failures": failures})
                if failures >= self.max_unexpected:
                    await self._drop(item, f"unexpected {type(exc).__name__} (ref {ref})")
                    return
                wait = self._backoff(attempt + 1)
            attempt += 1
            try:
                async with self.db.transaction() as session:
                    await outbox.note_attempt(session, item.id)
            except Exception:  # noqa: BLE001 - only bookkeeping; the retry goes on
                log.exception("could not count an outbox attempt", extra={"item": item.id, "ref": secrets.token_hex(3)})
            await self._unless_stopping(asyncio.sleep(wait))

    async def _send_once(self, item: OutboxItem, attempt: int) -> SendOutcome | None:
        """One attempt: None once the item is done (sent or dropped), else the retry outcome."""
        try:
            outcome = await self._attempt(item)
        except (ConnectionError, OSError, TimeoutError) as exc:
            outcome = SendOutcome("retry", error=type(exc).__name__)
        if outcome.status == "failed" and (outcome.error or "").startswith("M_TOO_LARGE") and item.kind == MESSAGE:
            smaller = cut_down(item.payload["content"])
            if smaller is not None:  # sent cut down, never lost (bot/shrink.py); the row keeps it whole
                log.warning("message too large for the homeserver, sending it cut down",
                            extra={"item": item.id, "bytes": event_size(smaller)})
                item.payload = {**item.payload, "content": smaller}
                return SendOutcome("retry", retry_after=0.01, error="M_TOO_LARGE")
        if outcome.status == "ok":
            await self._finish(item, None, outcome.event_id)
            self.sent += 1
            return None
        if outcome.status == "failed" or (
            outcome.error == "room not known from sync yet" and attempt >= MAX_UNKNOWN_ROOM_ATTEMPTS
        ):
            log.error("outbox item dropped", extra={"item": item.id, "error": outcome.error})
            await self._finish(item, outcome.error or "failed")
            return None
        return outcome

    def _backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF, self.backoff_base * 2 ** min(attempt, 8))

    async def _drop(self, item: OutboxItem, error: str) -> None:
        log.error("outbox item dropped after repeated unexpected failures", extra={"item": item.id, "error": error})
        try:
            await self._finish(item, error)
        except Exception:  # noqa: BLE001 - still pending: the next sweep brings it back
            log.exception("could not mark a dropped outbox item", extra={"item": item.id, "ref": secrets.token_hex(3)})

    async def _attempt(self, item: OutboxItem) -> SendOutcome:
        if item.kind == ROOM:
            return await self._unless_stopping(self.rooms.create(item))
        room_id = item.room_id or self.held.room(item.id) or await self._dm_room(item.user_id)
        if item.kind == MESSAGE:
            return await self._unless_stopping(self.gateway.send(room_id, item.payload["content"], item.txn_id))
        if item.kind == KEPT_FILE:
            return await self._unless_stopping(self.rooms.send_kept(room_id, item))
        if item.kind == EVENT:
            return await self._unless_stopping(self.gateway.send(room_id, item.payload["content"], item.txn_id,
                                                                 event_type=item.payload["type"]))
        if item.kind == FILE:
            data = base64.b64decode(item.payload["data"])
            keys = await self._unless_stopping(
                self.gateway.upload(room_id, data, item.payload["mimetype"], item.payload["filename"]))
            kind = "m.image" if item.payload["mimetype"].startswith("image/") else "m.file"  # shown inline
            content = {"msgtype": kind, "body": item.payload["filename"],
                       "info": {"mimetype": item.payload["mimetype"], "size": len(data)}, **keys}
            return await self._unless_stopping(self.gateway.send(room_id, content, item.txn_id))
        if item.kind == PIN:
            await self.marks.landed()  # a pin reads the event id of the message it pins from the table
        return await self._unless_stopping(self.rooms.operation(room_id, item))

    async def _dm_room(self, user_id: str) -> str:
        async with self.db.read() as session:
            room_id = await direct_rooms.room_for(session, user_id)
        if room_id is None:
            self._opening_dms += 1  # the new room comes through the next sync: settled() must not hold it
            self._refresh_idle()
            try:
                room_id = await self._unless_stopping(self.gateway.create_dm(user_id, encrypted=self.encrypt_dms))
            finally:
                self._opening_dms -= 1
                self._refresh_idle()
            async with self.db.transaction() as session:
                await direct_rooms.record(session, room_id, user_id, self.clock())
            log.info("opened a DM", extra={"room_id": room_id})
        return room_id

    async def _finish(self, item: OutboxItem, error: str | None, event_id: str | None = None) -> None:
        """The item is done. A room is marked at once, with its follow-up in the same transaction;
        anything else is handed to the marker and the lane goes on to its next item."""
        if item.kind != ROOM:
            self.marks.add(outbox.Done.of(item, error, event_id))  # still tracked (not swept up again) until marked
            return
        now = self.clock()
        async with self.db.transaction() as session:
            await outbox.mark_all_done(session, [outbox.Done(item.id, error, event_id)], now)
            then = {**item.payload["then_payload"], "room_id": None if error else event_id,
                    "invited": self.rooms.invited.pop(item.id, []), "error": error}
            await schedule.put(session, f"room-made-{item.id}", item.payload["then"], now, then, now)
        self.on_schedule()
        await self._marked([item.id])

    def _sending(self) -> bool:
        """Items queued or under way besides those sent and waiting to be marked."""
        return len(self._queued) > len(self.marks.unmarked)

    async def _marked(self, item_ids: list[int]) -> None:
        for item_id in item_ids:
            self._unexpected.pop(item_id, None)
            self.marks.unmarked.discard(item_id)
            self._untrack(item_id)
        async with self.finished:
            self.finished.notify_all()
