"""The schedule table: every future action, its due time in UTC, and when it was done."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import OutboxItem, ScheduledAction


CANCELLED = "cancelled"
DONE = "done"
AHEAD = "ahead"  # run ahead of its due time; its messages are held in the outbox until then
HELD_FOR = timedelta(days=1)  # a row run ahead longer ago than this has sent its messages (withdraw_held)


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


async def stale_held(session: AsyncSession, before: datetime, now: datetime) -> list[ScheduledAction]:
    """Rows run ahead whose held messages fell due before `before` and were never sent (the bot
    stopped in between and was down past the catch-up window): the messages are marked missed in
    the outbox; the rows are returned for the caller to mark missed and report."""
    ids = await outbox.miss_held(session, before, now)
    if not ids:
        return []
    query = select(ScheduledAction).where(ScheduledAction.id.in_(ids))
    return list((await session.execute(query.order_by(ScheduledAction.due_at, ScheduledAction.id))).scalars())


async def cancel(session: AsyncSession, key: str, now: datetime, withdrawn: list[int] | None = None,
                 withdrawing: Callable[[], None] = lambda: None) -> bool:
    """Cancel the pending row with this key, or withdraw the messages of one run ahead that are
    still held (their ids are added to `withdrawn`; `withdrawing` is called just before). False if
    there was nothing left to stop."""
    row = (await session.execute(select(ScheduledAction).where(ScheduledAction.key == key))).scalar_one_or_none()
    if row is None or (row.done_at is not None and row.outcome != AHEAD):
        return False
    if row.done_at is not None:
        ids = []
        if row.due_at > now - HELD_FOR:
            withdrawing()
            ids = await outbox.withdraw(session, [row.id], now)
        if not ids:
            row.outcome = DONE  # already sent: a later cancel of this key looks no further
            return False
        (withdrawn if withdrawn is not None else []).extend(ids)
    row.done_at, row.outcome = now, CANCELLED
    return True


async def withdraw_held(session: AsyncSession, now: datetime, *, recipient: str | None = None,
                        prefix: str | None = None, withdrawing: Callable[[], None] = lambda: None) -> list[int]:
    """Rows run ahead for `recipient` (or with keys starting with `prefix`) whose messages are still
    held: the messages withdrawn (their outbox ids returned; `withdrawing` is called just before)
    and the rows marked cancelled."""
    query = select(ScheduledAction).where(ScheduledAction.outcome == AHEAD)
    if recipient is not None:
        query = query.where(ScheduledAction.recipient == recipient)
    if prefix is not None:
        query = query.where(ScheduledAction.key.startswith(prefix, autoescape=True))
    rows = list((await session.execute(query.where(ScheduledAction.due_at > now - HELD_FOR))).scalars())
    if not rows:
        return []
    withdrawing()
    ids = await outbox.withdraw(session, [r.id for r in rows], now)
    if ids:
        held = set((await session.execute(select(OutboxItem.action_id).where(
            OutboxItem.id.in_(ids)))).scalars())
        for row in rows:
            if row.id in held:
                row.done_at, row.outcome = now, CANCELLED
    return ids


async def due(session: AsyncSession, now: datetime, limit: int = 100, *, ahead_until: datetime | None = None,
              ahead_kinds: frozenset[str] = frozenset()) -> list[ScheduledAction]:
    """Rows to run now (and rows of `ahead_kinds` due by `ahead_until`), those not yet due first
    (they can still go on time: a catch-up after downtime must not make them late too), then the
    oldest first; on PostgreSQL locked for this transaction (a second runner waits, then finds
    them done)."""
    when = ScheduledAction.due_at <= now
    if ahead_kinds and ahead_until is not None:
        when = or_(when, ScheduledAction.kind.in_(sorted(ahead_kinds)) & (ScheduledAction.due_at <= ahead_until))
    query = (select(ScheduledAction)
             .where(ScheduledAction.done_at.is_(None), when)
             .order_by(case((ScheduledAction.due_at > now, 0), else_=1), ScheduledAction.due_at, ScheduledAction.id)
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


async def next_due_at(session: AsyncSession, ahead_kinds: frozenset[str] = frozenset(),
                      ahead: timedelta = timedelta(0)) -> datetime | None:
    """When the next pending row is to run: its due time, or `ahead` before it for `ahead_kinds`."""
    if not ahead_kinds:
        query = select(func.min(ScheduledAction.due_at)).where(ScheduledAction.done_at.is_(None))
        return (await session.execute(query)).scalar_one_or_none()
    early = ScheduledAction.kind.in_(sorted(ahead_kinds))
    query = select(func.min(case((early, None), else_=ScheduledAction.due_at)),
                   func.min(case((early, ScheduledAction.due_at), else_=None))).where(ScheduledAction.done_at.is_(None))
    plain, held = (await session.execute(query)).one()
    times = [t for t in (plain, held - ahead if held is not None else None) if t is not None]
    return min(times) if times else None


def finish(row: ScheduledAction, now: datetime, outcome: str) -> None:
    row.done_at, row.outcome = now, outcome
