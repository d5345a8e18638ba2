"""The Database object: owns the async engine and hands out one transaction per unit of work."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import sqlite_driver


Session = AsyncSession  # what features name in their signatures, without importing SQLAlchemy


class Database:
    """SQLite (aiosqlite, WAL) or PostgreSQL (asyncpg) behind one interface.

    On SQLite every transaction starts with BEGIN IMMEDIATE, so two writers never interleave a
    read-then-write; on PostgreSQL callers lock the rows they decide on (SELECT ... FOR UPDATE).
    read() is for units of work that only read: on SQLite they see a consistent snapshot (WAL)
    without waiting for the writer.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # hide_parameters: SQL parameters (people's own text) never reach a log through an exception.
        kwargs: dict = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["async_creator"] = _one_trip_connector(self.url.database or ":memory:")
            kwargs["pool_reset_on_return"] = None  # every session ends in commit or rollback
        else:
            kwargs.update(pool_size=10, max_overflow=20)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers = self._sessions
        if self.is_sqlite:
            reader = create_async_engine(self.url, **kwargs)
            _configure_sqlite(reader, begin="BEGIN")
            self._readers = async_sessionmaker(reader, expire_on_commit=False)
        # SQLite has one writer at a time. Queueing this process's transactions here, first come
        # first served, replaces SQLite's busy-wait (sleeps of up to 100 ms between retries) with
        # an immediate hand-over, and keeps the order in which commands asked for the database.
        self._writer = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends normally, rolled back otherwise."""
        if self._writer is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._writer, self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that only reads (on SQLite it takes no write lock)."""
        async with self._readers() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        from storage.migrate import upgrade

        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._readers is not self._sessions:
            await self._readers.kw["bind"].dispose()


def _one_trip_connector(path: str):  # noqa: ANN202
    async def connect() -> sqlite_driver.OneTripConnection:
        return await sqlite_driver.connect(path, timeout=30)
    return connect


def _configure_sqlite(engine: AsyncEngine, begin: str = "BEGIN IMMEDIATE") -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        # Handed straight to the driver, which sends it with the transaction's first statement
        # (storage/sqlite_driver.py). Run as a statement through SQLAlchemy's execution
        # machinery, it was an eighth of the instructions of a command's transaction.
        conn.connection.dbapi_connection._connection.begin_due = begin
