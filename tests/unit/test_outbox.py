"""The sender over a real SQLite outbox, with a recording fake at the Matrix boundary: messages go
out in order per room, a rate limit is retried with the same transaction id, a permanent failure
or a poison item is dropped without blocking the messages behind it, and stop() does not wait out
a long retry."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import nio
import pytest
from sqlalchemy.exc import OperationalError

from api import Attachment
from bot.chat import OutboxChat
from bot.matrix.gateway import SendOutcome
from bot.outbox import OutboxSender
from api.render import as_text
from storage import outbox as outbox_rows_module
from storage.database import Database
from storage.models import OutboxItem
from tests.unit.helpers import T0, FakeClock, open_dm, outbox_rows

LOBBY = "!lobby:example.org"
CONTROL = "!control:example.org"
OK = SendOutcome("ok", event_id="$sent")


class RecordingGateway:
    """What OutboxSender calls on MatrixGateway. Records each call; `script` maps a message body
    to what its successive sends return (an outcome, or an exception to raise); then "ok"."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.script: dict[str, list[SendOutcome | Exception]] = {}
        self.event_types: list[str] = []
        self.changed = asyncio.Event()
        self.yield_on_send = False

    def _record(self, *call: Any) -> None:
        self.calls.append(call)
        self.changed.set()

    def sends(self, room_id: str | None = None) -> list[tuple[str, str, str]]:
        """(room, body, txn id) of each send, in order."""
        return [c[1:] for c in self.calls if c[0] == "send" and (room_id is None or c[1] == room_id)]

    def bodies(self, room_id: str | None = None) -> list[str]:
        return [body for _, body, _ in self.sends(room_id)]

    async def send(self, room_id: str, content: dict[str, Any], txn_id: str,
                   event_type: str = "m.room.message") -> SendOutcome:
        body = content.get("body", "")
        self.event_types.append(event_type)
        self._record("send", room_id, body, txn_id)
        if self.yield_on_send:
            await asyncio.sleep(0)  # as a real send waits for the homeserver: other lanes run meanwhile
        planned = self.script.get(body)
        outcome = planned.pop(0) if planned else OK
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def upload(self, room_id: str, data: bytes, mimetype: str, filename: str) -> dict[str, Any]:
        self._record("upload", room_id, filename)
        return {"url": "mxc://example.org/file"}

    async def create_dm(self, user_id: str, *, encrypted: bool) -> str:
        self._record("create_dm", user_id)
        return f"!dm-{user_id.strip('@').split(':')[0]}:example.org"

    async def invite(self, room_id: str, user_id: str) -> SendOutcome:
        self._record("invite", room_id, user_id)
        return OK

    async def kick(self, room_id: str, user_id: str, reason: str | None = None) -> SendOutcome:
        self._record("kick", room_id, user_id)
        return OK

    async def set_power(self, room_id: str, user_id: str, level: int) -> SendOutcome:
        self._record("set_power", room_id, user_id, level)
        return OK

    async def put_state(self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = "") -> SendOutcome:
        self._record("put_state", room_id, event_type, state_key)
        return OK

    async def leave_room(self, room_id: str) -> SendOutcome:
        self._record("leave_room", room_id)
        return OK


@pytest.fixture
def gateway() -> RecordingGateway:
    return RecordingGateway()


async def until(gateway: RecordingGateway, predicate: Callable[[], bool], timeout: float = 5) -> None:
    """Wait (on the gateway's calls, not on a timer) until the predicate holds."""

    async def watch() -> None:
        while True:
            gateway.changed.clear()
            if predicate():
                return
            await gateway.changed.wait()

    await asyncio.wait_for(watch(), timeout)


@asynccontextmanager
async def sending(db: Database, gateway: RecordingGateway, **options: Any) -> AsyncIterator[OutboxSender]:
    """A running sender with a tiny backoff base (retries in milliseconds, not seconds); stopped
    on the way out, and it must stop promptly."""
    sender = OutboxSender(db, gateway, FakeClock(), encrypt_dms=False, backoff_base=0.001, **options)  # type: ignore[arg-type]
    task = asyncio.create_task(sender.run())
    try:
        yield sender
    finally:
        sender.stop()
        await asyncio.wait_for(task, timeout=2)


async def queue(db: Database, room_id: str, *bodies: str) -> None:
    async with db.transaction() as session:
        chat = OutboxChat(session, T0)
        for body in bodies:
            await chat.send(room_id, as_text(body))


async def rows_by_body(db: Database) -> dict[str, OutboxItem]:
    return {row.payload["content"]["body"]: row for row in await outbox_rows(db)}


async def test_messages_go_out_once_each_in_order_per_room(db: Database, gateway: RecordingGateway) -> None:
    await queue(db, LOBBY, "lobby 1", "lobby 2")
    await queue(db, CONTROL, "control 1")
    await queue(db, LOBBY, "lobby 3")
    await queue(db, CONTROL, "control 2", "control 3")
    async with sending(db, gateway):
        await until(gateway, lambda: len(gateway.sends()) == 6)
    assert gateway.bodies(LOBBY) == ["lobby 1", "lobby 2", "lobby 3"]
    assert gateway.bodies(CONTROL) == ["control 1", "control 2", "control 3"]
    rows = await outbox_rows(db)
    assert all(row.done_at is not None and row.error is None for row in rows)
    assert [txn for _, _, txn in gateway.sends(LOBBY)] == [r.txn_id for r in rows if r.room_id == LOBBY]


async def test_messages_committed_while_running_are_handed_over_and_sent(db: Database,
                                                                       gateway: RecordingGateway) -> None:
    """The fast path: a committed transaction's rows go straight to the sender."""
    async with sending(db, gateway) as sender:
        async with db.transaction() as session:
            chat = OutboxChat(session, T0)
            await chat.send(LOBBY, as_text("just decided"))
            await chat.invite(LOBBY, "@alice:example.org")
        sender.submit(chat.items)
        await until(gateway, lambda: len(gateway.calls) == 2)
    assert gateway.calls[0][:3] == ("send", LOBBY, "just decided")
    assert gateway.calls[1] == ("invite", LOBBY, "@alice:example.org")


async def test_in_a_rush_answers_in_other_rooms_go_before_a_rooms_calendar_file(
        db: Database, gateway: RecordingGateway) -> None:
    """One room at a time: the first room's answer goes, then the answers other rooms are waiting
    for, then its .ics file and what follows it; the order inside each room stays as written."""
    first, second, third = "!first:example.org", "!second:example.org", "!third:example.org"
    ics = Attachment("meeting.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    gateway.yield_on_send = True
    decided = []  # three commands decided at once, handed over together: a rush
    for room, body, files in ((first, "first: you are registered", (ics,)), (second, "second: registered", ()),
                              (third, "third: waiting list", ())):
        async with db.transaction() as session:
            chat = OutboxChat(session, T0)
            await chat.send(room, as_text(body), files=files)
            if room == first:
                await chat.send(room, as_text("first: after the file"))
        decided.append(chat.items)
    async with sending(db, gateway, parallel_rooms=1) as sender:
        for items in decided:  # handed over before the sender's first sweep reads the table
            sender.submit(items)
        await until(gateway, lambda: len(gateway.sends()) == 5)
    assert gateway.bodies() == ["first: you are registered", "second: registered", "third: waiting list",
                                "meeting.ics", "first: after the file"]
    assert [c[0] for c in gateway.calls].count("upload") == 1


async def test_a_rate_limited_message_is_retried_with_the_same_transaction_id(db: Database,
                                                                            gateway: RecordingGateway) -> None:
    gateway.script["hello"] = [SendOutcome("retry", retry_after=0.01, error="M_LIMIT_EXCEEDED")]
    await queue(db, LOBBY, "hello", "after hello")
    async with sending(db, gateway):
        await until(gateway, lambda: "after hello" in gateway.bodies())
    assert gateway.bodies(LOBBY) == ["hello", "hello", "after hello"]
    first, retry, _ = gateway.sends(LOBBY)
    rows = await rows_by_body(db)
    assert first[2] == retry[2] == rows["hello"].txn_id, "Matrix deduplicates the retry"
    assert rows["hello"].done_at is not None and rows["hello"].error is None
    assert rows["hello"].attempts == 1


async def test_a_permanent_failure_is_dropped_and_the_next_message_still_goes(db: Database,
                                                                             gateway: RecordingGateway) -> None:
    gateway.script["refused"] = [SendOutcome("failed", error="M_FORBIDDEN: not in the room")]
    await queue(db, LOBBY, "refused", "next one")
    async with sending(db, gateway):
        await until(gateway, lambda: "next one" in gateway.bodies())
    assert gateway.bodies(LOBBY) == ["refused", "next one"]
    rows = await rows_by_body(db)
    assert rows["refused"].done_at is not None and rows["refused"].error == "M_FORBIDDEN: not in the room"
    assert rows["next one"].done_at is not None and rows["next one"].error is None


async def test_a_poison_item_is_dropped_after_repeated_unexpected_errors_and_the_lane_goes_on(
        db: Database, gateway: RecordingGateway, caplog: pytest.LogCaptureFixture) -> None:
    poison = "confidential case text"
    gateway.script[poison] = [nio.LocalProtocolError("olm session broken"), aiohttp.ClientPayloadError("cut")] * 10
    await queue(db, LOBBY, poison, "behind the poison")
    async with sending(db, gateway, max_unexpected=8):
        await until(gateway, lambda: "behind the poison" in gateway.bodies())
    assert gateway.bodies(LOBBY) == [poison] * 8 + ["behind the poison"]
    rows = await rows_by_body(db)
    dropped = rows[poison]
    assert dropped.done_at is not None and dropped.error.startswith("unexpected ClientPayloadError (ref ")
    assert dropped.attempts == 7, "every retry is counted"
    assert rows["behind the poison"].done_at is not None and rows["behind the poison"].error is None
    failures = [r for r in caplog.records if r.getMessage() == "outbox item failed unexpectedly"]
    assert len(failures) == 8 and all(r.item == dropped.id and len(r.ref) == 6 for r in failures)
    assert poison not in caplog.text, "the payload is never logged"


async def test_a_database_error_while_marking_sent_items_neither_resends_nor_ends_the_lane(
        db: Database, gateway: RecordingGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Marking is done beside the lane: a failure to mark is retried as marking, the message is
    not sent again, and the lane goes on meanwhile."""
    import sqlite3

    real_mark = outbox_rows_module.mark_all_done
    broken: list[list[int]] = []

    async def mark_fails_once(session: Any, done: list[Any], now: Any) -> None:
        if not broken:
            broken.append([d.item_id for d in done])
            raise OperationalError("UPDATE outbox ...", {}, sqlite3.OperationalError("database is locked"))
        await real_mark(session, done, now)

    monkeypatch.setattr(outbox_rows_module, "mark_all_done", mark_fails_once)
    await queue(db, LOBBY, "first", "second")
    async with sending(db, gateway) as sender:
        async with sender.finished:
            await asyncio.wait_for(sender.finished.wait_for(lambda: not sender.marks.unmarked and len(gateway.sends()) == 2), 5)
    assert broken, "the first marking failed"
    sends = gateway.sends(LOBBY)
    assert [body for _, body, _ in sends] == ["first", "second"], "nothing sent twice"
    assert all(row.done_at is not None and row.error is None for row in await outbox_rows(db))


async def test_a_dm_not_opened_yet_is_opened_once_then_used(db: Database, gateway: RecordingGateway) -> None:
    async with db.transaction() as session:
        chat = OutboxChat(session, T0)
        await chat.dm("@alice:example.org", as_text("one"))
        await chat.dm("@alice:example.org", as_text("two"))
    async with sending(db, gateway):
        await until(gateway, lambda: len(gateway.sends()) == 2)
    assert [c for c in gateway.calls if c[0] == "create_dm"] == [("create_dm", "@alice:example.org")]
    assert gateway.bodies("!dm-alice:example.org") == ["one", "two"]


async def test_stop_returns_promptly_during_a_long_retry_wait(db: Database, gateway: RecordingGateway,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    gateway.script["throttled"] = [SendOutcome("retry", retry_after=3600, error="M_LIMIT_EXCEEDED")]
    await queue(db, LOBBY, "throttled")
    sender = OutboxSender(db, gateway, FakeClock(), encrypt_dms=False, backoff_base=0.001)  # type: ignore[arg-type]
    task = asyncio.create_task(sender.run())
    await until(gateway, lambda: gateway.bodies() == ["throttled"])
    [pending] = await outbox_rows(db)  # this transaction queues behind the lane counting its attempt,
    assert pending.attempts == 1       # so the lane is now in its hour-long wait
    sender.stop()
    await asyncio.wait_for(task, timeout=30)  # a guard against hanging: the wait it cuts short is an hour
    [row] = await outbox_rows(db)
    assert row.done_at is None, "still pending: sent at the next start"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_already_opened_dm_is_reused(db: Database, gateway: RecordingGateway) -> None:
    await open_dm(db, "!known-dm:example.org", "@bob:example.org")
    async with db.transaction() as session:
        await OutboxChat(session, T0).dm("@bob:example.org", as_text("hi Bob"))
    async with sending(db, gateway):
        await until(gateway, lambda: len(gateway.sends()) == 1)
    assert gateway.sends() == [("!known-dm:example.org", "hi Bob", gateway.sends()[0][2])]
    assert not [c for c in gateway.calls if c[0] == "create_dm"]


async def test_settled_returns_once_the_handed_over_messages_are_delivered(db: Database,
                                                                           gateway: RecordingGateway) -> None:
    """The sync loop polls again only after its batch's answers went out (bounded by a timeout)."""
    async with sending(db, gateway) as sender:
        await sender.settled(5)  # nothing queued: at once
        async with db.transaction() as session:
            chat = OutboxChat(session, T0)
            await chat.send(LOBBY, as_text("answer one"))
            await chat.send(CONTROL, as_text("answer two"))
        sender.submit(chat.items)
        await asyncio.wait_for(sender.settled(5), 5)
        assert sorted(gateway.bodies()) == ["answer one", "answer two"]


async def test_settled_gives_up_after_its_timeout_while_a_send_waits_out_a_rate_limit(
        db: Database, gateway: RecordingGateway) -> None:
    gateway.script["slow"] = [SendOutcome("retry", retry_after=30, error="M_LIMIT_EXCEEDED")]
    async with sending(db, gateway) as sender:
        async with db.transaction() as session:
            chat = OutboxChat(session, T0)
            await chat.send(LOBBY, as_text("slow"))
        sender.submit(chat.items)
        await until(gateway, lambda: gateway.bodies() == ["slow"])
        await asyncio.wait_for(sender.settled(0.05), 2)  # returns after its own timeout, not 30 s
        assert gateway.bodies() == ["slow"], "the retry is still waiting"


async def test_settled_does_not_hold_the_sync_while_a_dm_is_being_opened(db: Database,
                                                                        gateway: RecordingGateway) -> None:
    """Opening a DM waits for the next sync to bring the new room: holding the sync for it would
    only delay the message."""
    room_ready = asyncio.Event()
    plain_create_dm = gateway.create_dm

    async def create_dm(user_id: str, *, encrypted: bool) -> str:
        await room_ready.wait()  # as the real gateway waits for the sync
        return await plain_create_dm(user_id, encrypted=encrypted)

    gateway.create_dm = create_dm  # type: ignore[method-assign]
    async with sending(db, gateway) as sender:
        async with db.transaction() as session:
            chat = OutboxChat(session, T0)
            await chat.dm("@bob:example.org", as_text("A seat is free for you"))
        sender.submit(chat.items)
        await asyncio.wait_for(sender.settled(30), 2)  # at once, not after 30 s
        room_ready.set()
        await until(gateway, lambda: gateway.bodies() == ["A seat is free for you"])
        await asyncio.wait_for(sender.settled(30), 2)


async def test_an_event_of_another_type_goes_out_with_its_type_and_keeps_its_event_id(
        db: Database, gateway: RecordingGateway) -> None:
    """A poll's start event: sent as its own type, and the row keeps the id the homeserver gave."""
    async with db.transaction() as session:
        chat = OutboxChat(session, T0)
        await chat.send(LOBBY, as_text("before"))
        item_id = await chat.send_event(LOBBY, "org.matrix.msc3381.poll.start", {"body": "Q?\n1. A\n2. B"})
    async with sending(db, gateway):
        await until(gateway, lambda: len(gateway.sends()) == 2)
    assert gateway.bodies(LOBBY) == ["before", "Q?\n1. A\n2. B"]
    assert gateway.event_types == ["m.room.message", "org.matrix.msc3381.poll.start"]
    [row] = [r for r in await outbox_rows(db) if r.id == item_id]
    assert row.event_id == "$sent" and row.done_at is not None


class HeldGateway(RecordingGateway):
    """A homeserver that answers a send only when the test lets it (`release`)."""

    def __init__(self) -> None:
        super().__init__()
        self.released = asyncio.Event()

    async def send(self, room_id: str, content: dict[str, Any], txn_id: str,
                   event_type: str = "m.room.message") -> SendOutcome:
        self._record("send", room_id, content.get("body", ""), txn_id)
        await self.released.wait()
        return OK


async def test_in_a_busy_room_replies_to_different_commands_are_under_way_together(db: Database) -> None:
    """Four people's commands in one room: their replies go to the homeserver together (no order
    between them matters), while one command's reply and its calendar file keep their order."""
    gateway = HeldGateway()
    ics = Attachment("meeting.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    async with db.transaction() as session:
        chat = OutboxChat(session, T0)
        for n in (1, 2, 3):
            await chat.send(LOBBY, as_text(f"pong {n}"), reply_to=f"$command{n}")
        await chat.send(LOBBY, as_text("you are registered"), reply_to="$command4", files=(ics,))
    async with sending(db, gateway) as sender:
        sender.submit(chat.items)
        await until(gateway, lambda: len(gateway.sends()) == 4)
        for _ in range(20):
            await asyncio.sleep(0)  # give the lane every chance to send the file early
        assert gateway.bodies() == ["pong 1", "pong 2", "pong 3", "you are registered"], \
            "four replies under way, none answered yet; the file waits for its reply"
        gateway.released.set()
        await until(gateway, lambda: "meeting.ics" in gateway.bodies())
    assert gateway.bodies() == ["pong 1", "pong 2", "pong 3", "you are registered", "meeting.ics"]
    assert all(row.done_at is not None for row in await outbox_rows(db))


async def test_a_reply_decided_while_another_is_under_way_in_a_busy_room_goes_out_at_once(db: Database) -> None:
    """In a burst the homeserver may hold a reply for seconds (it takes the room's events one at a
    time, the other commands first): the reply to the next command joins it rather than waiting."""
    gateway = HeldGateway()
    async with sending(db, gateway) as sender:
        async with db.transaction() as session:
            first = OutboxChat(session, T0)
            await first.send(LOBBY, as_text("pong 1"), reply_to="$command1")
        sender.submit(first.items)
        await until(gateway, lambda: len(gateway.sends()) == 1)
        async with db.transaction() as session:
            second = OutboxChat(session, T0)
            await second.send(LOBBY, as_text("pong 2"), reply_to="$command2")
        sender.submit(second.items)
        await until(gateway, lambda: len(gateway.sends()) == 2)
        assert gateway.bodies() == ["pong 1", "pong 2"], "both under way before either is answered"
        gateway.released.set()
        await sender.settled(timeout=5)  # both delivered and marked done
    assert all(row.done_at is not None for row in await outbox_rows(db))


async def test_in_a_rush_the_sync_loop_can_wait_a_moment_for_answers_under_way(db: Database) -> None:
    """With more answers than lanes, settled() lets the sync loop poll on at once (the commands
    behind them are decided meanwhile); until_idle() waits, up to its timeout, until they are out."""
    gateway = HeldGateway()
    async with db.transaction() as session:
        chat = OutboxChat(session, T0)
        for n in range(10):
            await chat.send(f"!dm{n}:example.org", as_text(f"pong {n}"))
    async with sending(db, gateway, parallel_rooms=2) as sender:
        sender.submit(chat.items)
        await until(gateway, lambda: len(gateway.sends()) == 2)
        await asyncio.wait_for(sender.settled(30), 2)  # a backlog: at once
        await asyncio.wait_for(sender.until_idle(0.01), 2)  # its own timeout, answers still held
        waiting = asyncio.create_task(sender.until_idle(30))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done(), "answers are still under way"
        gateway.released.set()
        await asyncio.wait_for(waiting, 5)
    assert len(gateway.sends()) == 10 and all(row.done_at is not None for row in await outbox_rows(db))


async def test_two_replies_to_one_command_go_one_after_the_other(db: Database) -> None:
    gateway = HeldGateway()
    async with db.transaction() as session:
        chat = OutboxChat(session, T0)
        await chat.send(LOBBY, as_text("part one"), reply_to="$command")
        await chat.send(LOBBY, as_text("part two"), reply_to="$command")
    async with sending(db, gateway) as sender:
        sender.submit(chat.items)
        await until(gateway, lambda: len(gateway.sends()) == 1)
        for _ in range(20):
            await asyncio.sleep(0)  # give the lane every chance to send the second one early
        assert gateway.bodies() == ["part one"], "the second part waits for the first"
        gateway.released.set()
        await until(gateway, lambda: len(gateway.sends()) == 2)
    assert gateway.bodies() == ["part one", "part two"]


@pytest.mark.both_databases
async def test_a_pinned_message_is_pinned_by_the_event_id_it_was_just_sent_as(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pin follows its message in the same lane and reads the message's event id from the
    table: that id must be stored before the pin runs, even though marking is done beside the lane
    (here a slow database: the marking takes a while)."""
    real_mark = outbox_rows_module.mark_all_done

    async def slow_mark(session: Any, done: list[Any], now: Any) -> None:
        for _ in range(50):
            await asyncio.sleep(0)
        await real_mark(session, done, now)

    monkeypatch.setattr(outbox_rows_module, "mark_all_done", slow_mark)

    class PinningGateway(RecordingGateway):
        def __init__(self) -> None:
            super().__init__()
            self.pinned: list[list[str]] = []

        async def send(self, room_id: str, content: dict[str, Any], txn_id: str,
                       event_type: str = "m.room.message") -> SendOutcome:
            await super().send(room_id, content, txn_id, event_type)
            return SendOutcome("ok", event_id=f"$event-of-{content.get('body')}")

        async def get_state(self, room_id: str, event_type: str) -> dict[str, Any] | None:
            return {"pinned": ["$older"]}

        async def put_state(self, room_id: str, event_type: str, content: dict[str, Any],
                            state_key: str = "") -> SendOutcome:
            self.pinned.append(list(content.get("pinned", [])))
            return await super().put_state(room_id, event_type, content, state_key)

    gateway = PinningGateway()
    async with db.transaction() as session:
        chat = OutboxChat(session, T0)
        await chat.send(LOBBY, as_text("the report"), pin=True)
    async with sending(db, gateway) as sender:
        sender.submit(chat.items)
        await until(gateway, lambda: any(c[0] == "put_state" for c in gateway.calls))
    assert gateway.pinned == [["$older", "$event-of-the report"]]
    assert all(row.done_at is not None and row.error is None for row in await outbox_rows(db))
