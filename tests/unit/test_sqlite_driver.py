"""The SQLite driver (storage/sqlite_driver.py: one trip to the database thread per statement, the
transaction's BEGIN sent with its first statement) keeps what the rules rely on: a transaction
holds the write lock from its first statement, even a read, so a read-then-write decision (the
last seat) cannot interleave with another writer; a failed transaction leaves nothing behind; and
results, row counts and new ids come back as before."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from storage.database import Database
from storage.models import ProcessedEvent
from storage import outbox, processed
from tests.unit.helpers import T0


def _file(db: Database) -> str:
    return str(db.url.database)


def _try_write_lock(path: str) -> bool:
    """Can another connection (another process, as far as SQLite knows) take the write lock now?"""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as err:
        assert "locked" in str(err)
        return False
    finally:
        other.close()


async def test_a_transaction_holds_the_write_lock_from_its_first_statement_even_a_read(db: Database) -> None:
    path = _file(db)
    assert _try_write_lock(path)
    async with db.transaction() as session:
        await session.execute(select(func.count()).select_from(ProcessedEvent))
        assert not _try_write_lock(path), "a read-then-write decision must not interleave with another writer"
    assert _try_write_lock(path), "released at commit"


async def test_read_transactions_take_no_write_lock(db: Database) -> None:
    async with db.read() as session:
        await session.execute(select(func.count()).select_from(ProcessedEvent))
        assert _try_write_lock(_file(db))


async def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            assert await processed.claim(session, "$one", "!room:x", T0, "ping")
            await outbox.enqueue(session, "message", {"content": {"body": "never sent"}}, T0, room_id="!room:x")
            raise RuntimeError("the handler broke")
    async with db.read() as session:
        assert await processed.count(session) == 0
        assert await outbox.count_pending(session) == 0
    assert _try_write_lock(_file(db))


async def test_a_transaction_without_statements_commits_and_rolls_back_cleanly(db: Database) -> None:
    async with db.transaction():
        pass
    with pytest.raises(ValueError):
        async with db.transaction():
            raise ValueError("nothing ran")
    assert _try_write_lock(_file(db))
    async with db.transaction() as session:  # the connection is still usable
        assert await processed.claim(session, "$after", "!room:x", T0)


async def test_rows_counts_and_new_ids_come_back(db: Database) -> None:
    async with db.transaction() as session:
        assert await processed.claim(session, "$a", "!room:x", T0) is True
        assert await processed.claim(session, "$a", "!room:x", T0) is False, "rowcount 0 on a duplicate"
        first = await outbox.enqueue(session, "message", {"content": {"body": "1"}}, T0, room_id="!room:x")
        second = await outbox.enqueue(session, "message", {"content": {"body": "2"}}, T0, room_id="!room:x")
        assert first.id and second.id == first.id + 1
        rows = (await session.execute(text("SELECT id FROM outbox ORDER BY id"))).scalars().all()
        assert rows == [first.id, second.id]
    async with db.read() as session:
        pending = await outbox.pending(session)
        assert [(p.id, p.payload["content"]["body"], p.txn_id) for p in pending] == [
            (first.id, "1", first.txn_id), (second.id, "2", second.txn_id)]


async def test_a_sql_error_is_reported_and_the_next_transaction_works(db: Database) -> None:
    with pytest.raises(OperationalError):
        async with db.transaction() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
    assert _try_write_lock(_file(db))
    async with db.transaction() as session:
        assert await processed.claim(session, "$b", "!room:x", T0)
