"""Events, their workshops, invitations and questions sent in advance."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.privacy import eraser, exporter
from storage.models import Event, EventInvitation, EventQuestion, EventWorkshop
from storage.sql import insert_ignore

DRAFT, PUBLISHED, CANCELLED = "draft", "published", "cancelled"


async def create(session: AsyncSession, values: dict[str, Any], workshops: Iterable[tuple[str, str, int]],
                 now: datetime) -> Event:
    """A new draft event; `workshops` are (key, name, capacity) in programme order."""
    event = Event(**values, state=DRAFT, revision=0, created_at=now, updated_at=now)
    session.add(event)
    await session.flush()
    for position, (key, name, capacity) in enumerate(workshops, start=1):
        session.add(EventWorkshop(event_id=event.id, key=key, name=name, capacity=capacity, position=position))
    await session.flush()
    return event


async def by_slug(session: AsyncSession, slug: str, *, lock: bool = False) -> Event | None:
    """The event with this id; `lock` takes its row lock on PostgreSQL (SQLite transactions are
    already serialised by BEGIN IMMEDIATE), so seat decisions on one event never interleave."""
    query = select(Event).where(Event.slug == slug.lower())
    if lock and session.bind.dialect.name == "postgresql":
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def by_id(session: AsyncSession, event_id: int) -> Event | None:
    return await session.get(Event, event_id)


async def lock(session: AsyncSession, event_id: int) -> Event | None:
    query = select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def slugs_like(session: AsyncSession, prefix: str) -> set[str]:
    rows = await session.execute(select(Event.slug).where(Event.slug.like(prefix + "%")))
    return set(rows.scalars())


async def all_slugs(session: AsyncSession, networks: Iterable[str]) -> list[str]:
    rows = await session.execute(select(Event.slug).where(Event.network.in_(list(networks))).order_by(Event.starts_at))
    return list(rows.scalars())


async def upcoming(session: AsyncSession, networks: Iterable[str], now: datetime, *,
                   drafts: Iterable[str] = ()) -> list[Event]:
    """Published events of these networks that have not ended, soonest first; plus drafts of `drafts`."""
    networks, drafts = list(networks), list(drafts)
    visible = (Event.state == PUBLISHED) & Event.network.in_(networks)
    if drafts:
        visible = visible | ((Event.state == DRAFT) & Event.network.in_(drafts))
    query = select(Event).where(visible, Event.ends_at > now).order_by(Event.starts_at, Event.id)
    return list((await session.execute(query)).scalars())


async def workshops(session: AsyncSession, event_id: int) -> list[EventWorkshop]:
    query = select(EventWorkshop).where(EventWorkshop.event_id == event_id).order_by(EventWorkshop.position)
    return list((await session.execute(query)).scalars())


async def set_workshops(session: AsyncSession, event_id: int, wanted: Iterable[tuple[str, str, int]]) -> list[str]:
    """Add new workshops and update the capacity and name of existing ones (matched by key).
    Returns the keys of existing workshops missing from `wanted` (the caller decides about them)."""
    current = {w.key: w for w in await workshops(session, event_id)}
    seen: set[str] = set()
    position = max((w.position for w in current.values()), default=0)
    for key, name, capacity in wanted:
        seen.add(key)
        if key in current:
            current[key].name, current[key].capacity = name, capacity
        else:
            position += 1
            session.add(EventWorkshop(event_id=event_id, key=key, name=name, capacity=capacity, position=position))
    await session.flush()
    return [key for key in current if key not in seen]


async def remove_workshop(session: AsyncSession, workshop_id: int) -> None:
    await session.execute(delete(EventWorkshop).where(EventWorkshop.id == workshop_id))


# ---- invitations --------------------------------------------------------------------------

async def invite(session: AsyncSession, event_id: int, user_id: str, by: str, now: datetime) -> bool:
    """True when the person was not invited yet."""
    return await insert_ignore(session, EventInvitation,
                               {"event_id": event_id, "user_id": user_id, "invited_by": by, "created_at": now})


async def is_invited(session: AsyncSession, event_id: int, user_id: str) -> bool:
    query = select(EventInvitation.id).where(EventInvitation.event_id == event_id, EventInvitation.user_id == user_id)
    return (await session.execute(query)).first() is not None


async def invitations(session: AsyncSession, event_id: int) -> list[EventInvitation]:
    query = select(EventInvitation).where(EventInvitation.event_id == event_id).order_by(EventInvitation.id)
    return list((await session.execute(query)).scalars())


# ---- questions in advance ---------------------------------------------------------------------

async def add_question(session: AsyncSession, event_id: int, user_id: str | None, text: str,
                       now: datetime) -> EventQuestion:
    row = EventQuestion(event_id=event_id, user_id=user_id, text=text, created_at=now)
    session.add(row)
    await session.flush()
    return row


async def questions(session: AsyncSession, event_id: int) -> list[EventQuestion]:
    query = select(EventQuestion).where(EventQuestion.event_id == event_id).order_by(EventQuestion.id)
    return list((await session.execute(query)).scalars())


async def question_count(session: AsyncSession, event_id: int) -> int:
    query = select(func.count()).select_from(EventQuestion).where(EventQuestion.event_id == event_id)
    return (await session.execute(query)).scalar_one()


# ---- privacy: what !mydata shows and !forgetme erases -------------------------------------------

@exporter("events")
async def _export(session: AsyncSession, user_id: str) -> dict[str, Any]:
    created = await session.execute(select(Event.slug).where(Event.created_by == user_id))
    invited = await session.execute(select(Event.slug, EventInvitation.created_at)
                                    .join(Event, Event.id == EventInvitation.event_id)
                                    .where(EventInvitation.user_id == user_id))
    asked = await session.execute(select(Event.slug, EventQuestion.text, EventQuestion.created_at)
                                  .join(Event, Event.id == EventQuestion.event_id)
                                  .where(EventQuestion.user_id == user_id))
    return {
        "events_created": list(created.scalars()),
        "invitations": [{"event": slug, "invited_at": at.isoformat()} for slug, at in invited],
        "questions": [{"event": slug, "text": text, "asked_at": at.isoformat()} for slug, text, at in asked],
    }


@eraser("events")
async def _erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Questions stay for the facilitators, without their sender; invitations go."""
    await session.execute(update(EventQuestion).where(EventQuestion.user_id == user_id).values(user_id=None))
    await session.execute(delete(EventInvitation).where(EventInvitation.user_id == user_id))
    await session.execute(update(EventInvitation).where(EventInvitation.invited_by == user_id).values(invited_by=None))
    await session.execute(update(Event).where(Event.created_by == user_id).values(created_by=None))

