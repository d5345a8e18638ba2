"""The schedule table: every future action, its due time in UTC, and when it was done."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ScheduledAction


async def put(
    session: AsyncSession, key: str, kind: str, due_at: datetime, payload: dict[str, Any], now: datetime,
    about: str | None = None,
) -> ScheduledAction:
    """Schedule (or reschedule, while not yet done) the action with this stable key; `about` is the
    person it concerns (erased with them)."""
    row = (await session.execute(select(ScheduledAction).where(ScheduledAction.key == key))).scalar_one_or_none()
    if row is None:
        row = ScheduledAction(key=key, kind=kind, due_at=due_at, payload=payload, created_at=now, about=about)
        session.add(row)
    elif row.done_at is None:
        row.kind, row.due_at, row.payload, row.about = kind, due_at, payload, about
    await session.flush()
    return row


async def cancel(session: AsyncSession, key: str, now: datetime) -> bool:
    row = (await session.execute(select(ScheduledAction).where(ScheduledAction.key == key))).scalar_one_or_none()
    if row is None or row.done_at is not None:
        return False
    row.done_at, row.outcome = now, "cancelled"
    return True


async def due(session: AsyncSession, now: datetime, limit: int = 100) -> list[ScheduledAction]:
    rows = await session.execute(
        select(ScheduledAction)
        .where(ScheduledAction.done_at.is_(None), ScheduledAction.due_at <= now)
        .order_by(ScheduledAction.due_at, ScheduledAction.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def lock_pending(session: AsyncSession, action_id: int) -> ScheduledAction | None:
    """The row, locked for this transaction, if it is still to be done."""
    query = select(ScheduledAction).where(ScheduledAction.id == action_id, ScheduledAction.done_at.is_(None))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def next_due_at(session: AsyncSession) -> datetime | None:
    query = select(func.min(ScheduledAction.due_at)).where(ScheduledAction.done_at.is_(None))
    return (await session.execute(query)).scalar_one_or_none()


def finish(row: ScheduledAction, now: datetime, outcome: str) -> None:
    row.done_at, row.outcome = now, outcome
