"""Data minimisation: what the bot sent (answers, files such as a CSV export with member IDs) is
wiped from the outbox storage.keep_sent_days after sending; the rows keep what exactly-once needs
(kind, room, transaction id, done), so nothing is sent twice."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.housekeeping import Housekeeping
from bot.outbox import OutboxSender
from storage import outbox
from storage.database import Database
from tests.unit.event_world import CONTROL, EventWorld
from tests.unit.helpers import FakeClock, outbox_rows
from tests.unit.test_outbox import RecordingGateway


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


async def _send_all(world: EventWorld, gateway: RecordingGateway) -> None:
    """Deliver everything pending: one sweep of the real sender, then its lanes run dry."""
    sender = OutboxSender(world.db, gateway, world.clock, encrypt_dms=False, backoff_base=0.001)  # type: ignore[arg-type]
    await sender._start_lanes()
    await asyncio.wait_for(sender.drained(), timeout=5)


async def test_sent_messages_and_files_lose_their_content_after_the_configured_days(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=1)
    alice, bob = await world.people(2)
    await world.say(alice, f"!register {slug}")
    await world.say(bob, f"!register {slug}")
    said = await world.say(carol, f"!export {slug}")
    [csv_file] = said.files()
    assert alice in csv_file.file_bytes().decode() and csv_file.room_id == CONTROL

    gateway = RecordingGateway()
    await _send_all(world, gateway)
    sent = {row.id: row for row in await outbox_rows(world.db)}
    assert sent and all(row.done_at is not None for row in sent.values())
    housekeeping = Housekeeping(world.db, world.clock, keep_sent=timedelta(days=7))

    world.clock.advance(days=6, hours=23)
    assert await housekeeping.wipe_sent() == 0
    assert [row.payload for row in await outbox_rows(world.db)] == [row.payload for row in sent.values()]

    world.clock.advance(hours=2)
    assert await housekeeping.wipe_sent() == len(sent)
    after = await outbox_rows(world.db)
    assert all(row.payload == {} and row.user_id is None for row in after)
    text = repr([(row.payload, row.user_id, row.error) for row in after])
    assert alice not in text and bob not in text and "csv" not in text
    # What exactly-once needs stays: each row is still done, with its transaction id and room.
    assert [(r.id, r.kind, r.room_id, r.txn_id, r.done_at) for r in after] == [
        (r.id, r.kind, r.room_id, r.txn_id, r.done_at) for r in sent.values()]
    async with world.db.read() as session:
        assert await outbox.count_pending(session) == 0

    # A later command is kept until its own days have passed; the wiped rows are not touched again.
    said = await world.say(alice, "!ping")
    assert said.text().startswith("Pong!")
    await _send_all(world, gateway)
    world.clock.advance(days=1)
    assert await housekeeping.wipe_sent() == 0
    assert (await outbox_rows(world.db))[-1].payload["content"]["body"].startswith("Pong!")


async def test_keep_sent_days_is_a_documented_config_key_with_seven_days_by_default() -> None:
    from pathlib import Path

    import yaml

    from bot.config import StorageConfig

    assert StorageConfig().keep_sent_days == 7
    example = yaml.safe_load((Path(__file__).parents[2] / "config.example.yaml").read_text())
    assert example["storage"]["keep_sent_days"] == 7
