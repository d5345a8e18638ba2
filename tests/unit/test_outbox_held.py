"""The sender's hold on reminders prepared ahead (bot/holding.py): a held item waits for its send-at
time without holding up what the same person is sent now, rows a crash left in the table are held
again after the restart, and one withdrawn while held is never sent."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from api.render import as_text
from bot.chat import OutboxChat
from bot.schedule import DbSchedule
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
