"""The sync loop: accept DM invites, hand each batch's commands to the dispatcher (rooms in
parallel, order kept within a room), deal with unreadable events, then store the sync token."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.dispatch import Dispatcher
from bot.matrix.incoming import Incoming
from api.i18n import Translator
from bot.chat import OutboxChat
from bot.direct import DirectRooms
from bot.matrix.gateway import NETWORK_ERRORS, MatrixGateway, SyncBatch, Undecryptable
from bot.retry import retry_delay
from storage import decryption, direct_rooms, processed, runtime_state
from storage.database import Database

log = logging.getLogger("kring.sync")
BUG_RETRY_MAX_S = 30.0  # a batch that failed for another reason than the network is retried slower
# A room key often reaches the bot a sync after its message (a client shares it as it sends): the
# sender is told that their message could not be read only when the key has not come by then.
UNREADABLE_GRACE_S = 5.0
TOKEN_SAVE_S = 1.0  # the sync token is written at most this often (a burst brings many syncs)
# In a rush, after a sync that brought no message (only the bot's own answers coming back), the
# next poll waits this long at most while answers are still being sent: each answer the
# homeserver takes wakes the long poll, and a poll per answer or two was a third of the bot's
# CPU in a burst and as many syncs for the homeserver to make (issue 21).
RUSH_POLL_PAUSE_S = 0.1


class SyncLoop:
    def __init__(self, gateway: MatrixGateway, db: Database, dispatcher: Dispatcher,
                 clock: Callable[[], datetime], *, language: str, on_commit: Callable[[], None],
                 answers_out: Callable[[], Awaitable[None]] | None = None,
                 answers_going: Callable[[float], Awaitable[None]] | None = None, retry_max_s: float = 2.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.gateway = gateway
        self.db = db
        self.dispatcher = dispatcher
        self.clock = clock
        self.language = language
        self.on_commit = on_commit
        # Awaited before the next long poll when it is quiet: the batch's answers go out first
        # (bot.outbox.settled). In a rush the loop polls on while they are being sent.
        self.answers_out = answers_out
        self.answers_going = answers_going  # waits, at most the time given, while answers are being sent
        self._had_messages = False
        self.batches = 0
        # While the homeserver is away, a try every retry_max_s seconds at most (bot/retry.py).
        self.retry_max_s = retry_max_s
        self._sleep = sleep
        # Rooms handled at once. More would only queue for the database (one writer on SQLite)
        # ahead of the outbox, so replies would wait until the whole batch is decided.
        self._rooms_at_once = asyncio.Semaphore(8)
        self.caught_up = asyncio.Event()
        # Set once the rest of the bot is up: a batch fetched before waits for it to be handled.
        self.started = asyncio.Event()
        self._stopping = False
        self._poll: asyncio.Task | None = None
        self._saving: asyncio.Future | None = None
        self._latest_token: str | None = None
        self._saved_token: str | None = None
        self._stopped = asyncio.Event()
        self.direct = DirectRooms(gateway, db, clock, language=language, on_commit=on_commit)
        # Called with every batch after its commands (e.g. bot.guard: who joined which room).
        self.watchers: list[Callable[[SyncBatch], Awaitable[None]]] = [self.direct]
        self.handled = asyncio.Condition()  # notified when a batch has been handled, watchers included
        self._telling: set[asyncio.Task] = set()  # "could not decrypt" notices waiting out the grace

    def stop(self) -> None:
        """Cut the long poll short; a batch being handled is finished first (see run)."""
        self._stopping = True
        self._stopped.set()
        if self._poll:
            self._poll.cancel()
        for task in self._telling:
            task.cancel()

    async def run(self) -> None:
        try:
            await self._loop()
        finally:
            if self._saving:
                await self._saving  # the last handled batch's token is written before we stop

    async def _loop(self) -> None:
        filter_id = await self.gateway.upload_filter()
        async with self.db.read() as session:
            token = await runtime_state.get(session, runtime_state.SYNC_TOKEN)
            first_sync_at = await runtime_state.get(session, runtime_state.FIRST_SYNC_AT)
        if first_sync_at:
            self.dispatcher.not_before = datetime.fromisoformat(first_sync_at)
        full_state, failures = True, 0
        while not self._stopping:
            try:
                self._poll = asyncio.ensure_future(self.gateway.sync(
                    token, filter_id, full_state=full_state, timeout_ms=0 if full_state else 30_000))
                try:
                    batch = await self._poll
                except asyncio.CancelledError:
                    if self._stopping:
                        return
                    raise
                finally:
                    self._poll = None
                if not await self._until_started():
                    return
                await self._handle(batch, first_ever=token is None)
            except NETWORK_ERRORS as exc:
                if self._stopping:
                    return
                failures += 1
                wait = retry_delay(failures, self.retry_max_s)
                log.warning("sync failed, retrying", extra={"error": type(exc).__name__, "wait_s": wait})
                await self._sleep(wait)
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("sync batch failed; it will be fetched again")
                await self._sleep(retry_delay(failures, BUG_RETRY_MAX_S))
                continue
            failures = 0
            token, full_state = batch.next_batch, False
            if self.answers_out and self._quiet(batch):
                await self.answers_out()
            if self.answers_going and not batch.messages and not self._stopping:
                await self.answers_going(RUSH_POLL_PAUSE_S)
            # Stored only now that the batch is handled; the next long poll need not wait for it.
            await self._save_token(token)
            self.batches += 1
            if not self.caught_up.is_set():
                log.info("ready")  # the first sync is handled: from now on commands are answered
            self.caught_up.set()

    def _quiet(self, batch: SyncBatch) -> bool:
        """A lone message after a sync that brought none: no rush, so its answer may go out
        before the next poll. Two messages, or messages in two syncs running, mean a rush."""
        count = sum(len(msgs) for msgs in batch.messages.values())
        quiet = count <= 1 and not self._had_messages
        self._had_messages = count > 0
        return quiet

    async def _until_started(self) -> bool:
        """Wait for the rest of the bot to be up; False if the bot stops first."""
        if not self.started.is_set():
            self._poll = asyncio.ensure_future(self.started.wait())  # stop() cuts this wait short
            try:
                await self._poll
            except asyncio.CancelledError:
                if self._stopping:
                    return False
                raise
            finally:
                self._poll = None
        return True

    async def _save_token(self, token: str) -> None:
        """Keep the newest handled token; a writer stores it at most every TOKEN_SAVE_S, so in a
        burst one write stands for many syncs. A token a little older than the last one handled
        only replays events after a crash, and processed_events skips them."""
        self._latest_token = token
        if self._saving is None or self._saving.done():
            self._saving = asyncio.ensure_future(self._token_writer())

    async def _token_writer(self) -> None:
        while self._saved_token != self._latest_token:
            token = self._latest_token
            try:
                async with self.db.transaction() as session:
                    await runtime_state.put(session, runtime_state.SYNC_TOKEN, token)
            except Exception:  # noqa: BLE001 - an older token only means replays, which are skipped
                log.exception("could not store the sync token")
            self._saved_token = token
            if not self._stopping:
                try:  # cut short by stop(): the newest token is written before the bot stops
                    await asyncio.wait_for(self._stopped.wait(), TOKEN_SAVE_S)
                except TimeoutError:
                    pass

    async def _handle(self, batch: SyncBatch, *, first_ever: bool) -> None:
        for invite in batch.invites:
            await self.direct.accept(invite)
        if first_ever:
            # Nothing from before the bot's first sync is ever run as a command.
            now = self.clock()
            self.dispatcher.not_before = now
            async with self.db.transaction() as session:
                await runtime_state.put(session, runtime_state.FIRST_SYNC_AT, now.isoformat())
            return
        # Rooms run in parallel; started in the order their first message reached the server, so
        # the database (first come, first served) sees a burst in arrival order.
        rooms = sorted(batch.messages.values(), key=lambda msgs: (msgs[0].origin_time, msgs[0].event_id))
        results = await asyncio.gather(*(self._room(msgs) for msgs in rooms), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        for watcher in self.watchers:
            await watcher(batch)
        for event in batch.undecryptable:
            await self._unreadable(event)
        if batch.new_room_keys:
            await self.retry_pending()
        async with self.handled:
            self.handled.notify_all()

    async def _room(self, messages: list[Incoming]) -> None:
        async with self._rooms_at_once:
            for msg in messages:
                await self.dispatcher.handle(msg)

    async def _unreadable(self, event: Undecryptable) -> None:
        """Ask for the key and keep the event to handle when it arrives; tell the sender once, if
        the key has not come within the grace period."""
        if event.sender == self.gateway.user_id:
            return
        if self.dispatcher.not_before and event.origin_time < self.dispatcher.not_before:
            return
        if self.clock() - event.origin_time > self.dispatcher.settings.max_age:
            return
        async with self.db.transaction() as session:
            if await processed.is_processed(session, event.event_id):
                return
            first = await decryption.remember(session, event.event_id, event.room_id, event.sender,
                                              event.session_id, self.clock())
        if first:
            log.info("could not decrypt; key requested", extra={"event_id": event.event_id})
            await self.gateway.request_key(event.room_id, event.event_id)
            task = asyncio.create_task(self._tell_unreadable(event))
            self._telling.add(task)
            task.add_done_callback(self._telling.discard)

    async def _tell_unreadable(self, event: Undecryptable) -> None:
        await asyncio.sleep(UNREADABLE_GRACE_S)
        try:
            async with self.db.transaction() as session:
                if not await decryption.is_waiting(session, event.event_id):
                    return  # the key came and the event was handled
                # Only in the sender's DM: in a shared room most unreadable messages are chatter.
                if await direct_rooms.partner(session, event.room_id) != event.sender:
                    return
                await OutboxChat(session, self.clock()).send(
                    event.room_id, Translator(self.language)("decrypt.failed"), notice=True,
                    reply_to=event.event_id)
            self.on_commit()
        except Exception:
            log.exception("could not tell the sender of an unreadable message", extra={"event_id": event.event_id})

    async def retry_pending(self) -> None:
        async with self.db.read() as session:
            waiting = await decryption.all_waiting(session)
        max_age = self.dispatcher.settings.max_age
        for row in waiting:
            if self.clock() - row.received_at > max_age:
                async with self.db.transaction() as session:
                    await decryption.resolved(session, row.event_id)  # too old to run now anyway
                continue
            result = await self.gateway.try_decrypt(row.room_id, row.event_id)
            if result is False:
                continue
            if result is not None:
                await self.dispatcher.handle(result)
            async with self.db.transaction() as session:
                await decryption.resolved(session, row.event_id)
