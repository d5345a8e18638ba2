"""The sender's hold on reminders prepared ahead (bot/holding.py): a held item waits for its send-at
time without holding up what the same person is sent now, rows a crash left in the table are held
again after the restart, and one withdrawn while held is never sent."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from api.render import as_text
from bot.chat import OutboxChat
from bot.matrix.gateway import SendOutcome
from bot.schedule import DbSchedule
from bot.send_slots import LATE_SLOTS
from storage import outbox, schedule
from storage.database import Database
from tests.unit.helpers import T0, open_dm, outbox_rows
from tests.unit.test_outbox import RecordingGateway, gateway, sending, until  # noqa: F401 - the fixture

ALICE = "@alice:example.org"
DM = "!dm-alice:example.org"


async def held_dm(db: Database, body: str, seconds: float, action_id: int) -> list:
    """A DM prepared ahead: to be sent `seconds` after T0 (the senders' clock stands at T0)."""
    async with db.transaction() as session:
        chat = OutboxChat(session, T0)
        chat.hold = (T0 + timedelta(seconds=seconds), action_id)
        await chat.dm(ALICE, as_text(body))
    return chat.items


async def test_a_held_reminder_waits_for_its_time_and_does_not_hold_up_what_goes_now(
        db: Database, gateway: RecordingGateway) -> None:
    """Both rows are in the table when the sender starts (as after a crash): the reminder, written
    first, is held until its time, and the message written after it goes first, at once."""
    await open_dm(db, DM, ALICE)
    await held_dm(db, "at its time", 0.3, 1)
    async with db.transaction() as session:
        await OutboxChat(session, T0).dm(ALICE, as_text("now"))
    async with sending(db, gateway):
        await until(gateway, lambda: len(gateway.sends()) == 2)
    assert gateway.bodies(DM) == ["now", "at its time"]
    assert all(row.done_at is not None and row.error is None for row in await outbox_rows(db))


async def test_a_held_reminder_whose_time_has_passed_goes_at_once(db: Database, gateway: RecordingGateway) -> None:
    await open_dm(db, DM, ALICE)
    await held_dm(db, "late", -5, 1)
    async with sending(db, gateway):
        await until(gateway, lambda: gateway.bodies(DM) == ["late"])


async def test_a_reminder_withdrawn_while_held_is_never_sent(db: Database, gateway: RecordingGateway) -> None:
    """Withdrawn after its DM room was read (the last second): the recheck after the withdrawal's
    commit drops it from the sender's memory; the reminder held behind it still goes."""
    await open_dm(db, DM, ALICE)
    async with sending(db, gateway) as sender:
        sender.submit(await held_dm(db, "cancelled", 0.4, 7) + await held_dm(db, "still on", 0.6, 8))
        assert len(sender.held) == 2
        async with sender.held.read:  # both DM rooms read: only the sender's memory can stop them now
            await asyncio.wait_for(sender.held.read.wait_for(lambda: len(sender.held.rooms) == 2), 5)
        async with db.transaction() as session:
            withdrawn = await outbox.withdraw(session, [7], T0)
        sender.held.recheck()
        await until(gateway, lambda: len(gateway.sends()) == 1)
    assert gateway.bodies() == ["still on"]
    rows = {row.id: row for row in await outbox_rows(db)}
    assert [rows[i].error for i in withdrawn] == [outbox.WITHDRAWN]


async def test_a_reminder_whose_time_comes_while_its_withdrawal_commits_is_never_sent(
        db: Database, gateway: RecordingGateway) -> None:
    """`!reminders off` a moment before the send: the withdrawal's statement has run, its commit
    has not, when the reminder's time comes. The sender waits for that transaction to end and for
    the read after it (before, the reminder went, and its row then read as sent)."""
    await open_dm(db, DM, ALICE)
    async with db.transaction() as session:
        row = await schedule.put(session, "reminder:alice", "reminders.event", T0, {}, T0, recipient=ALICE)
        schedule.finish(row, T0, schedule.AHEAD)
    async with sending(db, gateway) as sender:
        sender.submit(await held_dm(db, "withdrawn", 0.2, row.id))
        async with db.transaction() as session:
            await DbSchedule(session, T0, withdrawing=sender.held.withdrawing).withdraw(recipient=ALICE)
            await asyncio.sleep(0.4)  # its time comes while the withdrawal is not yet committed
        sender.submit(await held_dm(db, "still on", 0.1, row.id + 1))
        await until(gateway, lambda: len(gateway.sends()) == 1)
    assert gateway.bodies() == ["still on"]
    assert [r.error for r in await outbox_rows(db) if r.action_id == row.id] == [outbox.WITHDRAWN]


class BusyHomeserver(RecordingGateway):
    """Sends of the late reminders wait until `free` is set: a homeserver still busy with them."""

    def __init__(self) -> None:
        super().__init__()
        self.free = asyncio.Event()

    async def send(self, room_id: str, content: dict, txn_id: str, event_type: str = "m.room.message") -> SendOutcome:
        outcome = await super().send(room_id, content, txn_id, event_type)
        if content.get("body", "").startswith("late"):
            await self.free.wait()
        return outcome


async def test_after_a_restart_the_late_reminders_leave_room_for_one_due_now(db: Database) -> None:
    """Ten reminders whose time passed while the bot was down (prepared before a crash) and one due
    a moment after the start: the late ones go at most LATE_SLOTS at a time, so the one due now is
    not queued behind them (before, they took all eight send slots until the homeserver answered)."""
    gateway = BusyHomeserver()
    people = [f"@p{i}:example.org" for i in range(10)]
    for i, person in enumerate(people):
        await open_dm(db, f"!dm-p{i}:example.org", person)
        async with db.transaction() as session:
            chat = OutboxChat(session, T0)
            chat.hold = (T0 - timedelta(seconds=5), 100 + i)
            await chat.dm(person, as_text(f"late {i}"))
    await open_dm(db, DM, ALICE)
    async with sending(db, gateway) as sender:
        sender.submit(await held_dm(db, "due now", 0.2, 1))
        await until(gateway, lambda: "due now" in gateway.bodies())
        assert len([b for b in gateway.bodies() if b.startswith("late")]) <= LATE_SLOTS
        gateway.free.set()
        await until(gateway, lambda: len(gateway.sends()) == 11)
    assert sorted(gateway.bodies()) == sorted(["due now"] + [f"late {i}" for i in range(10)])
