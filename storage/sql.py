"""Small dialect-neutral helpers shared by the query modules."""
from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.ext.asyncio import AsyncSession


@cache
def _insert_of(dialect: str) -> Any:
    """The dialect's insert() with ON CONFLICT; PostgreSQL's dialect (2 MiB) loads only on PostgreSQL."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


@cache
def _insert_ignore_statement(dialect: str, model: type) -> Insert:
    return _insert_of(dialect)(model.__table__).on_conflict_do_nothing()


async def insert_ignore(session: AsyncSession, model: type, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was written. The statement is built once
    per table (a Core insert: no ORM flush), the values travel as parameters, and it runs on the
    session's connection (the session's own execute costs about half as much again: every command
    claims its event this way)."""
    connection = await session.connection()
    result = await connection.execute(_insert_ignore_statement(connection.dialect.name, model), values)
    return result.rowcount == 1


async def upsert(session: AsyncSession, model: type, values: dict[str, Any], *, key: str) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE: one statement, no read first."""
    statement = _insert_of(session.bind.dialect.name)(model).values(**values)
    changes = {k: v for k, v in values.items() if k != key}
    await session.execute(statement.on_conflict_do_update(index_elements=[key], set_=changes))
