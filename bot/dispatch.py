"""Runs one incoming command exactly once: the processed-event record, the command's changes and
its outgoing messages are committed in one transaction. Text to call is the router's job. Other
room events a feature asked for (@on_room_event: poll responses) take the same path."""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from api import Context, Reply, Role, RoomEvent, Runtime, UserError
from api.decorators import FLOW_FILES_ATTR
from api.files import Received, Retention, Vault
from bot.chat import OutboxChat
from bot.matrix.incoming import FileRef, Incoming
from api.i18n import Translator
from bot.router import Registry, Unknown, clean, extract, route
from bot.recipients import DbRecipients
from bot.schedule import DbSchedule
from storage import conversations, members, processed
from storage.database import Database, Session

log = logging.getLogger("kring.dispatch")


@asynccontextmanager
async def undoable(ctx: Context) -> AsyncIterator[None]:
    """The handler's savepoint. When the handler fails, its database changes are rolled back and
    the messages it queued are forgotten too, so none of them is handed to the sender."""
    mark = len(ctx.chat.items)
    try:
        async with ctx.db.begin_nested():
            yield
    except BaseException:
        del ctx.chat.items[mark:]
        ctx.schedule.changed = False
        raise


class _Watch:
    """The command path's stand-in for a savepoint: nothing on the way in (a savepoint was two
    statements on every command). A failure is noted; the dispatcher then rolls the whole
    transaction back, claim and all, and writes the answer in a new one."""

    def __init__(self) -> None:
        self.failed = False

    @asynccontextmanager
    async def __call__(self, ctx: Context) -> AsyncIterator[None]:
        try:
            yield
        except BaseException:
            self.failed = True
            raise


class _Undo(Exception):
    """Leaves a command's transaction so that it rolls back."""


@dataclass
class DispatchSettings:
    bot_user_id: str
    prefix: str
    language: str
    max_age: timedelta
    bot_display_name: str | None = None


class Dispatcher:
    def __init__(self, db: Database, registry: Registry, settings: DispatchSettings, runtime: Runtime,
                 clock: Callable[[], datetime],
                 on_commit: Callable[[bool, list], None] = lambda changed, items: None, *,
                 vault: Vault | None = None, retention: Retention | None = None,
                 fetch: Callable[[FileRef, int], Awaitable[Received]] | None = None,
                 withdrawing: Callable[[Session], None] = lambda session: None) -> None:
        self.withdrawing = withdrawing  # a command withdraws held reminders: the sender waits for its commit
        self.vault = vault
        self.retention = retention or Retention()
        self.fetch = fetch  # a file sent to a flow that takes files: to disk, before its transaction
        self.db = db
        self.registry = registry
        self.settings = settings
        self.runtime = runtime
        self.clock = clock
        self.on_commit = on_commit
        self.not_before: datetime | None = None

    def is_command(self, msg: Incoming) -> str | None:
        s = self.settings
        if msg.sender == s.bot_user_id:
            return None
        return extract(msg.body, s.prefix, s.bot_user_id, s.bot_display_name, self.registry.symbols)

    async def handle(self, msg: Incoming | RoomEvent) -> str:
        """Run the message if it is a new, fresh command; returns the outcome for logs and tests."""
        if isinstance(msg, RoomEvent):
            return await self.handle_event(msg)
        text = self.is_command(msg)
        if text is None:
            if msg.sender == self.settings.bot_user_id or not self.registry.flows:
                return "ignored"
            return await self._converse(msg)
        now = self.clock()
        if self._too_old(msg, now):
            log.info("command too old, not run", extra={"event_id": msg.event_id})
            return "too-old"
        started = time.monotonic()
        found = self.registry.match(text)  # matched once: for the record, then for the call
        name, outcome = "?" if isinstance(found, Unknown) else found[0].name, "ok"
        watch = _Watch()
        try:
            async with self.db.transaction() as session:
                if not await processed.claim(session, msg.event_id, msg.room_id, now, name):
                    outcome = "duplicate"
                else:
                    ctx = await self._context(session, msg, now)
                    name, outcome, reply = await route(self.registry, ctx, found, watch)
                    if watch.failed:
                        raise _Undo
                    await self._answer(ctx, msg, outcome, reply)
        except _Undo:  # the handler failed: none of its writes stay, its answer does
            untraceable = ctx.untraceable
            async with self.db.transaction() as session:
                if not await processed.claim(session, msg.event_id, msg.room_id, now, name):
                    outcome = "duplicate"
                else:
                    ctx = await self._context(session, msg, now)
                    ctx.untraceable = untraceable
                    await self._answer(ctx, msg, outcome, reply)
        if outcome != "duplicate":
            self.on_commit(ctx.schedule.changed, ctx.chat.items)
        log.info(
            "command",
            extra={"event_id": msg.event_id, "command": name, "outcome": outcome,
                   "ms": round((time.monotonic() - started) * 1000, 1)},
        )
        return outcome

    async def _answer(self, ctx: Context, msg: Incoming, outcome: str, reply: Reply | None) -> None:
        if ctx.untraceable and outcome in ("ok", "user-error"):
            await processed.unlink(ctx.db, msg.event_id)
        if reply is not None:
            await ctx.chat.reply(reply, msg.room_id, msg.event_id, msg.thread_root, in_busy_room=not ctx.is_dm)

    async def handle_event(self, event: RoomEvent) -> str:
        """A room event some feature declared (@on_room_event), run once like a command. Only the
        bot's first sync bounds it, not the command age: a vote cast while the bot was down counts."""
        hooks = self.registry.declared.room_events.get(event.type)
        if not hooks or (self.not_before and event.origin_time < self.not_before):
            return "ignored"
        now = self.clock()
        name, outcome = f"event:{event.type}", "ok"
        event = replace(event, own=event.sender == self.settings.bot_user_id)
        async with self.db.transaction() as session:
            if not await processed.claim(session, event.event_id, event.room_id, now, name):
                return "duplicate"
            ctx = await self._context(session, event, now)
            for hook in hooks:
                try:
                    async with undoable(ctx):
                        await hook(ctx, event)
                except Exception:
                    outcome = "crash"
                    log.exception("room event hook failed", extra={"event_id": event.event_id, "command": name,
                                                                   "ref": secrets.token_hex(3)})
            if ctx.untraceable:
                await processed.unlink(session, event.event_id)
        self.on_commit(ctx.schedule.changed, ctx.chat.items)
        log.info("room event", extra={"event_id": event.event_id, "command": name, "outcome": outcome})
        return outcome

    def _too_old(self, msg: Incoming, now: datetime) -> bool:
        return bool(self.not_before and msg.origin_time < self.not_before) or now - msg.origin_time > self.settings.max_age

    async def _converse(self, msg: Incoming) -> str:
        """A plain message from someone with an open conversation here: its next step, run once."""
        now = self.clock()
        if self._too_old(msg, now):
            return "ignored"
        async with self.db.read() as session:  # most chatter has no open flow: no write lock for it
            flow = await conversations.open_flow(session, msg.sender, msg.room_id, now)
            if not flow:
                return "ignored"
            if msg.file is not None and not getattr(self.registry.flows.get(flow), FLOW_FILES_ATTR, False):
                return "ignored"
        received = await self._receive(msg.file) if msg.file is not None else None
        try:
            return await self._step(msg, now, received)
        finally:
            if received is not None and received.path is not None:
                received.path.unlink(missing_ok=True)  # the step kept what it wanted (in the vault)

    async def _receive(self, ref: FileRef) -> Received:
        """The file on disk, streamed, before the step's transaction (no lock held meanwhile)."""
        limit = self.vault.max_bytes if self.vault else 0
        if self.fetch is None:
            return Received(ref.name, ref.mimetype, ref.size or 0, None)
        try:
            return await self.fetch(ref, limit)
        except (ConnectionError, OSError, TimeoutError) as exc:
            log.warning("file not fetched", extra={"error": type(exc).__name__})
            return Received(ref.name, ref.mimetype, ref.size or 0, None)

    async def _step(self, msg: Incoming, now: datetime, received: Received | None) -> str:
        async with self.db.transaction() as session:
            flow = await conversations.open_flow(session, msg.sender, msg.room_id, now)
            step = self.registry.flows.get(flow) if flow else None
            name = f"flow:{flow}"
            if step is None or not await processed.claim(session, msg.event_id, msg.room_id, now, name):
                return "ignored" if step is None else "duplicate"
            ctx = await self._context(session, msg, now)
            ctx.received = received
            try:
                async with undoable(ctx):
                    reply = await step(ctx, clean(msg.body).strip())
                outcome = "ok"
                if ctx.untraceable:  # e.g. an answer to an anonymous form: no room, only the day
                    await processed.unlink(session, msg.event_id)
            except UserError as err:
                outcome, reply = "user-error", Reply(ctx.t(err.key, **err.values))
            except Exception:
                ref = secrets.token_hex(3)
                log.exception("flow step failed", extra={"event_id": msg.event_id, "command": name, "ref": ref})
                outcome, reply = "crash", ctx.reply("error.internal", ref=ref)
            if reply is not None:
                await ctx.chat.reply(reply, msg.room_id, msg.event_id, msg.thread_root, in_busy_room=not ctx.is_dm)
        self.on_commit(ctx.schedule.changed, ctx.chat.items)
        log.info("command", extra={"event_id": msg.event_id, "command": name, "outcome": outcome})
        return outcome

    async def _context(self, session, msg: Incoming | RoomEvent, now: datetime) -> Context:  # noqa: ANN001
        reader = await members.reader(session, msg.sender, msg.room_id)
        roles = {net: Role.parse(r) for net, r in reader.roles.items()}
        return Context(
            sender=msg.sender, room_id=msg.room_id, is_dm=reader.dm_partner == msg.sender, event_id=msg.event_id,
            event_time=msg.origin_time, now=now, role=max(roles.values(), default=Role.ANYONE), roles=roles,
            db=session, t=Translator(reader.language or self.settings.language, zone=reader.zone),
            chat=OutboxChat(session, now),
            schedule=DbSchedule(session, now, self.withdrawing), runtime=self.runtime, prefix=self.settings.prefix,
            commands=self.registry.specs, declared=self.registry.declared,
            recipients=DbRecipients(session, self.settings.language), encrypted=msg.encrypted,
            vault=self.vault, retention=self.retention,
        )
