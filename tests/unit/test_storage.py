"""The database on SQLite and (when it answers) PostgreSQL: migrations build exactly the models,
times come back in UTC, and claiming an event is exactly-once under concurrency."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from storage import processed, runtime_state
from storage import schedule as schedule_rows
from storage.database import Database
from storage import migrate
from storage.migrate import alembic_config
from storage.models import Base, ScheduledAction
from tests.unit.helpers import T0


async def test_migrations_create_every_table_at_head(any_db: Database) -> None:
    async with any_db.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert set(Base.metadata.tables) <= tables
    assert tables - set(Base.metadata.tables) == {"alembic_version"}
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_the_migrations_match_the_models(any_db: Database) -> None:
    """What autogenerate would write now is empty: no model change is missing its migration."""

    def differences(sync_conn) -> list:  # noqa: ANN001
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with any_db.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []


async def test_migrating_again_keeps_the_data(any_db: Database) -> None:
    async with any_db.transaction() as session:
        await runtime_state.put(session, runtime_state.SYNC_TOKEN, "s123")
    await any_db.migrate()
    async with any_db.transaction() as session:
        assert await runtime_state.get(session, runtime_state.SYNC_TOKEN) == "s123"


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    assert migrate.head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_a_database_at_head_is_not_handed_to_alembic(any_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The start of an up-to-date bot reads one row instead of loading Alembic."""
    from alembic import command

    calls: list[str] = []
    monkeypatch.setattr(command, "upgrade", lambda cfg, revision: calls.append(revision))
    await any_db.migrate()
    assert calls == []


async def test_a_pending_migration_is_still_applied(any_db: Database) -> None:
    from alembic import command

    def downgrade(sync_conn) -> None:  # noqa: ANN001
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, "-1")

    async with any_db.engine.begin() as conn:
        await conn.run_sync(downgrade)
    assert not await migrate.is_up_to_date(any_db.engine)
    await any_db.migrate()
    assert await migrate.current_revision(any_db.engine) == migrate.head_revision()
    async with any_db.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_claiming_an_event_is_exactly_once_under_concurrency(any_db: Database) -> None:
    async def claim() -> bool:
        async with any_db.transaction() as session:
            return await processed.claim(session, "$same-event", "!room:example.org", T0)

    results = await asyncio.gather(*(claim() for _ in range(20)))
    assert results.count(True) == 1
    async with any_db.transaction() as session:
        assert await processed.count(session) == 1


async def test_a_claim_rolled_back_can_be_claimed_again(any_db: Database) -> None:
    """A crash before commit leaves no record, so the command runs when the event comes again."""
    with pytest.raises(RuntimeError):
        async with any_db.transaction() as session:
            assert await processed.claim(session, "$crash", "!room:example.org", T0)
            raise RuntimeError("crash before commit")
    async with any_db.transaction() as session:
        assert await processed.claim(session, "$crash", "!room:example.org", T0)


async def test_times_come_back_aware_in_utc(any_db: Database) -> None:
    oslo = datetime(2025, 10, 26, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    async with any_db.transaction() as session:
        await schedule_rows.put(session, "tz", "remind", oslo, {}, T0)
    async with any_db.transaction() as session:
        due = (await session.execute(select(ScheduledAction.due_at))).scalar_one()
    assert due == oslo and due.utcoffset() == timedelta(0)
    assert due.isoformat() == "2025-10-26T00:30:00+00:00"


async def test_a_naive_time_is_refused(any_db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with any_db.transaction() as session:
            await schedule_rows.put(session, "naive", "remind", datetime(2025, 1, 1, 9, 0), {}, T0)


async def test_due_rows_are_in_due_order_and_exclude_done(any_db: Database) -> None:
    async with any_db.transaction() as session:
        for key, minutes in (("c", 30), ("a", 10), ("b", 20), ("future", -5)):
            await schedule_rows.put(session, key, "remind", T0 - timedelta(minutes=minutes), {}, T0)
        await schedule_rows.cancel(session, "b", T0)
    async with any_db.transaction() as session:
        assert [r.key for r in await schedule_rows.due(session, T0)] == ["c", "a"]
        assert await schedule_rows.next_due_at(session) == T0 - timedelta(minutes=30)
