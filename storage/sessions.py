"""Sessions: the closed groups of an event (slot 0) or of one of its workshops (slot = its id),
their members in a fixed order, and contributions to written rounds. Callers lock the event row
first (storage.events.lock / by_slug(lock=True)), as for seats, so two changes to one event's
groups never interleave."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event, GroupSession, Member, SessionContribution, SessionMember, SessionRoomMember
from storage.privacy import eraser, exporter

NONE, CREATING, OPEN, CLOSED = "none", "creating", "open", "closed"  # room states


async def of_event(session: AsyncSession, event_id: int, slot: int | None = 0) -> list[GroupSession]:
    """The sessions of one queue (slot None: of the event and all its workshops), by slot and number."""
    query = select(GroupSession).where(GroupSession.event_id == event_id)
    if slot is not None:
        query = query.where(GroupSession.slot == slot)
    return list((await session.execute(query.order_by(GroupSession.slot, GroupSession.number))).scalars())


async def get(session: AsyncSession, event_id: int, slot: int, number: int) -> GroupSession | None:
    query = select(GroupSession).where(GroupSession.event_id == event_id, GroupSession.slot == slot,
                                       GroupSession.number == number)
    return (await session.execute(query)).scalar_one_or_none()


async def members(session: AsyncSession, session_ids: Iterable[int]) -> dict[int, list[SessionMember]]:
    """Each session's members in their fixed order (every given id is a key)."""
    ids = list(session_ids)
    out: dict[int, list[SessionMember]] = {i: [] for i in ids}
    if not ids:
        return out
    query = select(SessionMember).where(SessionMember.session_id.in_(ids)).order_by(
        SessionMember.session_id, SessionMember.position, SessionMember.id)
    for row in (await session.execute(query)).scalars():
        out[row.session_id].append(row)
    return out


async def create(session: AsyncSession, event_id: int, workshop_id: int | None, size: int,
                 groups: Sequence[Sequence[str]], now: datetime) -> list[GroupSession]:
    """New sessions numbered from 1, each with its members in the given order. The queue must
    have none yet (the unique constraints refuse a second split)."""
    slot = workshop_id or 0
    made = []
    for number, users in enumerate(groups, start=1):
        row = GroupSession(event_id=event_id, workshop_id=workshop_id, slot=slot, number=number, size=size,
                           room_state=NONE, created_at=now, updated_at=now)
        session.add(row)
        await session.flush()
        for position, user_id in enumerate(users, start=1):
            session.add(SessionMember(session_id=row.id, event_id=event_id, slot=slot, user_id=user_id,
                                      position=position, joined_at=now))
        made.append(row)
    await session.flush()
    return made


async def member_of(session: AsyncSession, event_id: int, slot: int, user_id: str) -> SessionMember | None:
    """The person's place in a group of this queue, if any."""
    query = select(SessionMember).where(SessionMember.event_id == event_id, SessionMember.slot == slot,
                                        SessionMember.user_id == user_id)
    return (await session.execute(query)).scalar_one_or_none()


async def add(session: AsyncSession, group: GroupSession, user_id: str, now: datetime) -> SessionMember:
    """The person joins the group at the end of its order."""
    last = (await session.execute(select(func.max(SessionMember.position))
                                  .where(SessionMember.session_id == group.id))).scalar()
    row = SessionMember(session_id=group.id, event_id=group.event_id, slot=group.slot, user_id=user_id,
                        position=(last or 0) + 1, joined_at=now)
    session.add(row)
    group.updated_at = now
    await session.flush()
    return row


async def place(session: AsyncSession, row: SessionMember, group: GroupSession, now: datetime,
                position: int | None = None) -> None:
    """Put an existing member into `group` (a move or a swap), at `position` or at the end."""
    if position is None:
        last = (await session.execute(select(func.max(SessionMember.position))
                                      .where(SessionMember.session_id == group.id))).scalar()
        position = (last or 0) + 1
    row.session_id, row.position, row.joined_at = group.id, position, now
    group.updated_at = now
    await session.flush()


async def remove(session: AsyncSession, row: SessionMember) -> None:
    await session.delete(row)
    await session.flush()


async def member_rows(session: AsyncSession, user_id: str) -> list[SessionMember]:
    """Every group place the person has (one per event or workshop)."""
    query = select(SessionMember).where(SessionMember.user_id == user_id).order_by(SessionMember.id)
    return list((await session.execute(query)).scalars())


async def drop(session: AsyncSession, rows: Iterable[GroupSession]) -> None:
    """Drop these sessions with their members and contributions (a split done again)."""
    ids = [r.id for r in rows]
    await session.execute(delete(SessionMember).where(SessionMember.session_id.in_(ids)))
    await session.execute(delete(SessionRoomMember).where(SessionRoomMember.session_id.in_(ids)))
    await session.execute(delete(SessionContribution).where(SessionContribution.session_id.in_(ids)))
    await session.execute(delete(GroupSession).where(GroupSession.id.in_(ids)))
    await session.flush()


async def people(session: AsyncSession, user_ids: Iterable[str]) -> dict[str, Member]:
    """The member rows (names, organisations) of these people, by Matrix ID; unknown ones are left out."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = (await session.execute(select(Member).where(Member.user_id.in_(wanted)))).scalars()
    return {m.user_id: m for m in rows}


async def of_user(session: AsyncSession, user_id: str) -> list[tuple[GroupSession, Event]]:
    """The sessions the person is in, with their events."""
    query = (select(GroupSession, Event).join(SessionMember, SessionMember.session_id == GroupSession.id)
             .join(Event, Event.id == GroupSession.event_id).where(SessionMember.user_id == user_id)
             .order_by(Event.starts_at, GroupSession.slot, GroupSession.number))
    return [(g, e) for g, e in (await session.execute(query)).all()]


# ---- the session's private room --------------------------------------------------------------
MODERATOR = 50  # the facilitator's power level in the session room


async def by_room(session: AsyncSession, room_id: str) -> GroupSession | None:
    """The session whose private room this is."""
    return (await session.execute(select(GroupSession).where(GroupSession.room_id == room_id))).scalar_one_or_none()


async def by_id(session: AsyncSession, session_id: int) -> GroupSession | None:
    return await session.get(GroupSession, session_id)


async def wanted(session: AsyncSession, group: GroupSession) -> dict[str, int]:
    """Who belongs in the session's room, with their power level: its members and case-bringer
    (participants, 0) and its facilitator (moderator)."""
    out = {m.user_id: 0 for m in (await members(session, [group.id]))[group.id]}
    if group.case_bringer:
        out.setdefault(group.case_bringer, 0)
    if group.facilitator:
        out[group.facilitator] = MODERATOR
    return out


async def belongs(session: AsyncSession, group: GroupSession, user_id: str) -> bool:
    return user_id in await wanted(session, group)


async def let_in(session: AsyncSession, session_id: int) -> dict[str, SessionRoomMember]:
    """Who the bot has invited into the session's room, by Matrix ID."""
    query = select(SessionRoomMember).where(SessionRoomMember.session_id == session_id)
    return {r.user_id: r for r in (await session.execute(query)).scalars()}


async def admit(session: AsyncSession, group: GroupSession, user_id: str, level: int, now: datetime) -> None:
    session.add(SessionRoomMember(session_id=group.id, user_id=user_id, level=level, invited_at=now))
    await session.flush()


async def room_opened(session: AsyncSession, group: GroupSession, room_id: str, now: datetime) -> None:
    group.room_id, group.room_state, group.updated_at = room_id, OPEN, now
    await session.flush()


async def led_by(session: AsyncSession, user_id: str) -> list[GroupSession]:
    query = select(GroupSession).where(GroupSession.facilitator == user_id).order_by(GroupSession.id)
    return list((await session.execute(query)).scalars())


async def rooms_of(session: AsyncSession, user_id: str) -> list[GroupSession]:
    """The sessions whose rooms the person was let into."""
    query = (select(GroupSession).join(SessionRoomMember, SessionRoomMember.session_id == GroupSession.id)
             .where(SessionRoomMember.user_id == user_id).order_by(GroupSession.id))
    return list((await session.execute(query)).scalars())


def set_facilitator(group: GroupSession, user_id: str | None, now: datetime) -> None:
    group.facilitator, group.updated_at = user_id, now


@exporter("sessions")
async def _export(session: AsyncSession, user_id: str) -> dict[str, Any]:
    joined = [{"event": e.slug, "workshop_id": g.workshop_id, "group": g.number, "role": "participant"}
              for g, e in await of_user(session, user_id)]
    query = (select(GroupSession, Event).join(Event, Event.id == GroupSession.event_id)
             .where(GroupSession.facilitator == user_id))
    led = [{"event": e.slug, "workshop_id": g.workshop_id, "group": g.number, "role": "facilitator"}
           for g, e in (await session.execute(query)).all()]
    written = (await session.execute(select(SessionContribution).where(SessionContribution.user_id == user_id)
                                     .order_by(SessionContribution.id))).scalars()
    return {"groups": joined + led,
            "contributions": [{"session_id": c.session_id, "phase": c.phase, "text": c.text,
                               "sent_at": c.created_at.isoformat()} for c in written]}


@eraser("sessions")
async def _erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """The person leaves every group and stops facilitating; what they wrote in a written round is
    deleted (a contribution cannot be made anonymous: its wording may name them)."""
    await session.execute(delete(SessionMember).where(SessionMember.user_id == user_id))
    await session.execute(delete(SessionContribution).where(SessionContribution.user_id == user_id))
    await session.execute(delete(SessionRoomMember).where(SessionRoomMember.user_id == user_id))
    await session.execute(update(GroupSession).where(GroupSession.facilitator == user_id)
                          .values(facilitator=None, updated_at=now))
    await session.execute(update(GroupSession).where(GroupSession.case_bringer == user_id)
                          .values(case_bringer=None, updated_at=now))
