"""Registrations: one person's place in one queue (the event, slot 0, or a workshop, slot = its id).

Counting and writing happen in the caller's transaction after it locked the event row
(storage.events.by_slug(lock=True) / lock()), so a seat is never given twice."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.privacy import eraser, exporter
from storage.models import Event, EventWorkshop, Registration

CONFIRMED, WAITLISTED, OFFERED, PENDING = "confirmed", "waitlisted", "offered", "pending"
CANCELLED, DECLINED, EXPIRED = "cancelled", "declined", "expired"
HOLDING = (CONFIRMED, OFFERED)
ACTIVE = (CONFIRMED, OFFERED, WAITLISTED, PENDING)


async def get(session: AsyncSession, event_id: int, user_id: str, slot: int = 0) -> Registration | None:
    query = select(Registration).where(Registration.event_id == event_id, Registration.user_id == user_id,
                                       Registration.slot == slot)
    return (await session.execute(query)).scalar_one_or_none()


async def by_id(session: AsyncSession, registration_id: int) -> Registration | None:
    query = select(Registration).where(Registration.id == registration_id).execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def put(session: AsyncSession, *, event_id: int, workshop_id: int | None, user_id: str, state: str,
              arrived_at: datetime, arrival_event_id: str, now: datetime,
              existing: Registration | None = None) -> Registration:
    """Create the person's row in this queue, or reuse the row of an earlier, ended registration
    (`existing`, which then joins at the back again: its arrival is this command's)."""
    slot = workshop_id or 0
    row = existing
    if row is None:
        row = Registration(event_id=event_id, workshop_id=workshop_id, slot=slot, user_id=user_id, offers=0,
                           created_at=now)
        session.add(row)
    row.state, row.arrived_at, row.arrival_event_id = state, arrived_at, arrival_event_id
    row.offer_expires_at, row.updated_at = None, now
    await session.flush()
    return row


def set_state(row: Registration, state: str, now: datetime, *, offer_expires_at: datetime | None = None) -> None:
    if state == OFFERED:
        row.offers += 1
    row.state, row.offer_expires_at, row.updated_at = state, offer_expires_at, now


async def holding(session: AsyncSession, event_id: int, slot: int) -> int:
    """Seats taken in the queue: confirmed places and open offers."""
    query = select(func.count()).select_from(Registration).where(
        Registration.event_id == event_id, Registration.slot == slot, Registration.state.in_(HOLDING))
    return (await session.execute(query)).scalar_one()


async def queue_counts(session: AsyncSession, event_id: int, slot: int) -> tuple[int, int]:
    """(seats taken, people waiting) in one queue, in one statement."""
    taken = func.count().filter(Registration.state.in_(HOLDING))
    waits = func.count().filter(Registration.state == WAITLISTED)
    query = select(taken, waits).where(Registration.event_id == event_id, Registration.slot == slot)
    row = (await session.execute(query)).one()
    return int(row[0] or 0), int(row[1] or 0)


async def waiting(session: AsyncSession, event_id: int, slot: int) -> list[Registration]:
    """The waiting list in arrival order."""
    query = (select(Registration)
             .where(Registration.event_id == event_id, Registration.slot == slot, Registration.state == WAITLISTED)
             .order_by(Registration.arrived_at, Registration.arrival_event_id))
    return list((await session.execute(query)).scalars())


async def waiting_count(session: AsyncSession, event_id: int, slot: int) -> int:
    query = select(func.count()).select_from(Registration).where(
        Registration.event_id == event_id, Registration.slot == slot, Registration.state == WAITLISTED)
    return (await session.execute(query)).scalar_one()


async def position(session: AsyncSession, row: Registration) -> int:
    """1-based place of a waiting registration: everyone waiting who arrived before it, plus one."""
    earlier = or_(Registration.arrived_at < row.arrived_at,
                  and_(Registration.arrived_at == row.arrived_at, Registration.arrival_event_id < row.arrival_event_id))
    query = select(func.count()).select_from(Registration).where(
        Registration.event_id == row.event_id, Registration.slot == row.slot, Registration.state == WAITLISTED, earlier)
    return 1 + (await session.execute(query)).scalar_one()


async def of_user_in_event(session: AsyncSession, event_id: int, user_id: str) -> list[Registration]:
    query = (select(Registration).where(Registration.event_id == event_id, Registration.user_id == user_id)
             .order_by(Registration.slot))
    return list((await session.execute(query)).scalars())


async def of_user(session: AsyncSession, user_id: str, states: Iterable[str] = ACTIVE) -> list[tuple[Registration, Event]]:
    query = (select(Registration, Event).join(Event, Event.id == Registration.event_id)
             .where(Registration.user_id == user_id, Registration.state.in_(list(states)))
             .order_by(Event.starts_at, Event.id, Registration.slot))
    return [(r, e) for r, e in await session.execute(query)]


async def of_event(session: AsyncSession, event_id: int, states: Iterable[str] | None = None) -> list[Registration]:
    query = select(Registration).where(Registration.event_id == event_id)
    if states is not None:
        query = query.where(Registration.state.in_(list(states)))
    query = query.order_by(Registration.slot, Registration.arrived_at, Registration.arrival_event_id)
    return list((await session.execute(query)).scalars())


async def seat_holders(session: AsyncSession, event_id: int) -> list[str]:
    """Who holds a confirmed seat at the event itself (slot 0): their user ids only, sorted (run on
    every seat change, so no row objects are built)."""
    query = (select(Registration.user_id).where(Registration.event_id == event_id, Registration.slot == 0,
                                                 Registration.state == CONFIRMED).order_by(Registration.user_id))
    return list((await session.execute(query)).scalars())


async def counts(session: AsyncSession, event_id: int) -> dict[tuple[int, str], int]:
    """(slot, state) -> how many."""
    query = (select(Registration.slot, Registration.state, func.count())
             .where(Registration.event_id == event_id).group_by(Registration.slot, Registration.state))
    return {(slot, state): n for slot, state, n in await session.execute(query)}


async def holding_by_event(session: AsyncSession, event_ids: Iterable[int]) -> dict[tuple[int, int], int]:
    """(event id, slot) -> seats taken, for listing many events at once."""
    ids = list(event_ids)
    if not ids:
        return {}
    query = (select(Registration.event_id, Registration.slot, func.count())
             .where(Registration.event_id.in_(ids), Registration.state.in_(HOLDING))
             .group_by(Registration.event_id, Registration.slot))
    return {(e, s): n for e, s, n in await session.execute(query)}


# ---- privacy ----------------------------------------------------------------------------------

@exporter("registrations")
async def _export(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    query = (select(Registration, Event.slug, EventWorkshop.name)
             .join(Event, Event.id == Registration.event_id)
             .outerjoin(EventWorkshop, EventWorkshop.id == Registration.workshop_id)
             .where(Registration.user_id == user_id).order_by(Registration.id))
    return [{"event": slug, "workshop": workshop, "state": r.state, "arrived_at": r.arrived_at.isoformat(),
             "offer_expires_at": r.offer_expires_at.isoformat() if r.offer_expires_at else None}
            for r, slug, workshop in await session.execute(query)]


@eraser("registrations")
async def _erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Registrations for events still to come go (their seats free up); for past events the row
    stays, so the number who came stays right, but without the person's Matrix ID."""
    past = select(Event.id).where(Event.ends_at <= now)
    await session.execute(delete(Registration).where(Registration.user_id == user_id,
                                                     Registration.event_id.not_in(past)))
    rows = await session.execute(select(Registration.id).where(Registration.user_id == user_id))
    for (row_id,) in rows.all():
        await session.execute(update(Registration).where(Registration.id == row_id)
                              .values(user_id=f"forgotten-{row_id}", arrival_event_id=f"forgotten-{row_id}"))

