"""aiosqlite with one trip to the database thread per statement.

aiosqlite runs each SQLite connection in a thread of its own; every call is a trip there and back
(a queue hand-over and an event-loop wake-up). SQLAlchemy's aiosqlite adapter makes three or four
trips per statement: open a cursor, execute, fetch the rows, close the cursor. On a busy machine
those wake-ups are most of the time a command spends in the database. The cursor here runs the
whole statement (open, execute, fetch all rows, close) in one trip and keeps the results, which
SQLAlchemy then reads without another trip; a transaction's BEGIN rides along with its first
statement. Everything else is aiosqlite's own Connection.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

_Result = tuple[Any, int, int | None, list[Any]]


def _run(conn: sqlite3.Connection, sql: str, parameters: Any, many: bool, begin: str | None) -> _Result:
    """In the connection's thread: the transaction's BEGIN if it is still due, then the whole
    statement, rows included."""
    cursor = conn.cursor()
    try:
        if begin:
            cursor.execute(begin)
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class BufferedCursor:
    """The cursor SQLAlchemy's adapter drives: executes in one trip, then serves the kept rows."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> BufferedCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> BufferedCursor:
        return await self._submit(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> BufferedCursor:
        return await self._submit(sql, list(parameters), many=True)

    async def _submit(self, sql: str, parameters: Any, *, many: bool) -> BufferedCursor:
        conn = self._connection
        if parameters is None and not many and sql.lstrip()[:5].upper() == "BEGIN":
            conn.begin_due = sql  # sent with the transaction's first statement, in the same trip
            self.description, self.rowcount, self.lastrowid, self._rows = None, -1, None, []
            return self
        begin, conn.begin_due = conn.begin_due, None
        raw = conn._conn  # aiosqlite's sqlite3 connection, used only in its thread
        self.description, self.rowcount, self.lastrowid, self._rows = await conn._execute(
            _run, raw, sql, parameters, many, begin)
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchall(self) -> Sequence[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's Connection whose cursors make one trip per statement.

    A transaction's BEGIN is held back and sent with its first statement (BEGIN IMMEDIATE then
    takes the write lock in the same trip); a transaction with no statement never begins."""

    begin_due: str | None = None

    def cursor(self) -> BufferedCursor:  # type: ignore[override]
        return BufferedCursor(self)

    async def commit(self) -> None:
        if self.begin_due:
            self.begin_due = None  # nothing ran: nothing to commit
            return
        await super().commit()

    async def rollback(self) -> None:
        if self.begin_due:
            self.begin_due = None
            return
        await super().rollback()


def connect(database: str | Path, **kwargs: Any) -> OneTripConnection:
    """Like aiosqlite.connect (awaited by SQLAlchemy), with one-trip cursors and a daemon thread
    (as SQLAlchemy's own adapter sets, so an unclosed engine never keeps the process alive)."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(str(database), **kwargs)

    connection = OneTripConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True
    return connection
