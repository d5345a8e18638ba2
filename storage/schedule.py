"""The schedule table: every future action, its due time in UTC, and when it was done."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ScheduledAction


CANCELLED = "cancelled"


async def put(
    session: AsyncSession, key: str, kind: str, due_at: datetime, payload: dict[str, Any], now: datetime,
    about: str | None = None, *, network: str | None = None, recipient: str | None = None,
) -> ScheduledAction:
    """Schedule (or reschedule, while not yet done) the action with this stable key; `about` is the
    person it concerns (erased with them), `recipient` the person a reminder goes to (muted by
    `!reminders off`), `network` the one whose control room hears if it is missed. A cancelled
    row is scheduled again (a registration cancelled and made anew); a row that ran stays done."""
    row = (await session.execute(select(ScheduledAction).where(ScheduledAction.key == key))).scalar_one_or_none()
    if row is None:
        row = ScheduledAction(key=key, kind=kind, due_at=due_at, payload=payload, created_at=now, about=about,
                              network=network, recipient=recipient)
        session.add(row)
    elif row.done_at is None or row.outcome == CANCELLED:
        row.kind, row.due_at, row.payload, row.about = kind, due_at, payload, about
        row.network, row.recipient, row.done_at, row.outcome = network, recipient, None, None
    await session.flush()
    return row


async def by_prefix(session: AsyncSession, prefix: str) -> dict[str, ScheduledAction]:
    """Every row whose key starts with `prefix` (a feature's rows about one thing), done or not."""
    rows = await session.execute(select(ScheduledAction).where(ScheduledAction.key.startswith(prefix, autoescape=True)))
    return {row.key: row for row in rows.scalars()}


async def states_by_prefix(session: AsyncSession, prefix: str) -> dict[str, tuple[bool, str | None]]:
    """Like by_prefix, as key -> (done, outcome) only: for a feature that compares many rows on a
    busy path and changes few of them."""
    query = select(ScheduledAction.key, ScheduledAction.done_at, ScheduledAction.outcome).where(
        ScheduledAction.key.startswith(prefix, autoescape=True))
    return {key: (done_at is not None, outcome) for key, done_at, outcome in await session.execute(query)}


async def get(session: AsyncSession, action_id: int) -> ScheduledAction | None:
    return await session.get(ScheduledAction, action_id)


async def pending(session: AsyncSession, kind: str, network: str | None = None) -> list[ScheduledAction]:
    """Rows of `kind` still to run (of one network), the next first."""
    query = select(ScheduledAction).where(ScheduledAction.done_at.is_(None), ScheduledAction.kind == kind)
    if network is not None:
        query = query.where(ScheduledAction.network == network)
    return list((await session.execute(query.order_by(ScheduledAction.due_at, ScheduledAction.id))).scalars())


async def stale(session: AsyncSession, before: datetime, kinds_kept: set[str]) -> list[ScheduledAction]:
    """Rows still pending that fell due before `before` (the catch-up window's start), except the
    kinds that run however late they are."""
    query = select(ScheduledAction).where(ScheduledAction.done_at.is_(None), ScheduledAction.due_at < before)
    if kinds_kept:
        query = query.where(ScheduledAction.kind.not_in(sorted(kinds_kept)))
    return list((await session.execute(query.order_by(ScheduledAction.due_at, ScheduledAction.id))).scalars())


async def cancel(session: AsyncSession, key: str, now: datetime) -> bool:
    row = (await session.execute(select(ScheduledAction).where(ScheduledAction.key == key))).scalar_one_or_none()
    if row is None or row.done_at is not None:
        return False
    row.done_at, row.outcome = now, CANCELLED
    return True


async def due(session: AsyncSession, now: datetime, limit: int = 100) -> list[ScheduledAction]:
    """Rows to run now, the oldest first; on PostgreSQL locked for this transaction (a second
    runner waits, then finds them done)."""
    query = (select(ScheduledAction)
             .where(ScheduledAction.done_at.is_(None), ScheduledAction.due_at <= now)
             .order_by(ScheduledAction.due_at, ScheduledAction.id)
             .limit(limit))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return list((await session.execute(query)).scalars())


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
