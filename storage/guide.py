"""The method guide's record: the steps taken in a session, its action points, its report and its
outcome. Who may read what is the sessions feature's decision; this module only stores."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (Event, GroupSession, SessionAction, SessionContribution, SessionMember, SessionReport,
                            SessionStep)
from storage.privacy import eraser, exporter


async def event(session: AsyncSession, event_id: int) -> Event:
    return await session.get(Event, event_id)


async def lock(session: AsyncSession, group: GroupSession) -> GroupSession:
    """Re-read the session row under a lock (PostgreSQL; SQLite's writer lock serialises anyway),
    so two facilitator commands never move the same phase at once."""
    query = select(GroupSession).where(GroupSession.id == group.id).with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one()


async def record(session: AsyncSession, group: GroupSession, step: str, actor: str | None, now: datetime,
                 detail: str | None = None) -> SessionStep:
    row = SessionStep(session_id=group.id, at=now, actor=actor, step=step, phase=group.phase, turn=group.turn,
                      detail=detail[:255] if detail else None)
    session.add(row)
    await session.flush()
    return row


async def steps(session: AsyncSession, session_id: int) -> list[SessionStep]:
    query = select(SessionStep).where(SessionStep.session_id == session_id).order_by(SessionStep.id)
    return list((await session.execute(query)).scalars())


MOVES = ("start", "phase_next", "phase_back")  # the steps that begin a phase


async def revealed_since(session: AsyncSession, group: GroupSession) -> bool:
    """Whether the current phase's written round was revealed since the phase last began."""
    began = (await session.execute(select(func.max(SessionStep.id)).where(
        SessionStep.session_id == group.id, SessionStep.step.in_(MOVES)))).scalar() or 0
    query = select(SessionStep.id).where(SessionStep.session_id == group.id, SessionStep.step == "reveal",
                                         SessionStep.phase == group.phase, SessionStep.id > began)
    return (await session.execute(query.limit(1))).scalar() is not None


# ---- written rounds ----------------------------------------------------------------------------
async def waiting_contributions(session: AsyncSession, session_id: int, phase: int) -> dict[str, str]:
    """user -> text of the contributions to this phase not revealed yet."""
    query = select(SessionContribution).where(SessionContribution.session_id == session_id,
                                              SessionContribution.phase == phase,
                                              SessionContribution.revealed_at.is_(None),
                                              SessionContribution.user_id.is_not(None))
    return {c.user_id: c.text for c in (await session.execute(query)).scalars()}


async def contribute(session: AsyncSession, session_id: int, phase: int, user_id: str, text: str,
                     now: datetime) -> bool:
    """Store (or replace, until revealed) the person's contribution; True when it replaced one."""
    query = select(SessionContribution).where(SessionContribution.session_id == session_id,
                                              SessionContribution.phase == phase,
                                              SessionContribution.user_id == user_id)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        session.add(SessionContribution(session_id=session_id, phase=phase, user_id=user_id, text=text,
                                        created_at=now))
        await session.flush()
        return False
    replaced = row.revealed_at is None
    row.text, row.created_at, row.revealed_at = text, now, None
    await session.flush()
    return replaced


async def mark_revealed(session: AsyncSession, session_id: int, phase: int, now: datetime) -> None:
    await session.execute(update(SessionContribution).where(
        SessionContribution.session_id == session_id, SessionContribution.phase == phase,
        SessionContribution.revealed_at.is_(None)).values(revealed_at=now))


async def open_written(session: AsyncSession, user_id: str) -> list[GroupSession]:
    """Sessions the person is a participant of whose room exists and that have a method running
    (the caller checks that the current phase is a written round)."""
    query = (select(GroupSession).join(SessionMember, SessionMember.session_id == GroupSession.id)
             .where(SessionMember.user_id == user_id, GroupSession.room_id.is_not(None),
                    GroupSession.method.is_not(None), GroupSession.phase.is_not(None))
             .order_by(GroupSession.id))
    return list((await session.execute(query)).scalars())


# ---- action points -----------------------------------------------------------------------------
async def add_action(session: AsyncSession, group: GroupSession, text: str, owner: str, created_by: str,
                     due_on: date | None, now: datetime) -> SessionAction:
    row = SessionAction(session_id=group.id, text=text, owner=owner, created_by=created_by, due_on=due_on,
                        created_at=now)
    session.add(row)
    await session.flush()
    return row


async def actions(session: AsyncSession, session_id: int) -> list[SessionAction]:
    query = select(SessionAction).where(SessionAction.session_id == session_id).order_by(SessionAction.id)
    return list((await session.execute(query)).scalars())


async def actions_of(session: AsyncSession, user_id: str) -> list[tuple[SessionAction, str]]:
    """The person's own action points, each with its session's reference (event/n)."""
    query = (select(SessionAction, GroupSession, Event).join(GroupSession, GroupSession.id == SessionAction.session_id)
             .join(Event, Event.id == GroupSession.event_id).where(SessionAction.owner == user_id)
             .order_by(SessionAction.done_at.is_not(None), SessionAction.due_on, SessionAction.id))
    return [(a, f"{e.slug}/{g.number}") for a, g, e in (await session.execute(query)).all()]


async def action(session: AsyncSession, action_id: int) -> SessionAction | None:
    return await session.get(SessionAction, action_id)


async def open_actions_due(session: AsyncSession, on_or_before: date) -> list[SessionAction]:
    """Action points not done whose due date is on or before the given day (for reminders)."""
    query = (select(SessionAction).where(SessionAction.done_at.is_(None), SessionAction.due_on.is_not(None),
                                         SessionAction.due_on <= on_or_before)
             .order_by(SessionAction.due_on, SessionAction.id))
    return list((await session.execute(query)).scalars())


def mark_done(row: SessionAction, by: str, now: datetime) -> None:
    row.done_at, row.done_by = now, by


# ---- report and outcome ------------------------------------------------------------------------
async def report(session: AsyncSession, session_id: int) -> SessionReport | None:
    query = select(SessionReport).where(SessionReport.session_id == session_id)
    return (await session.execute(query)).scalar_one_or_none()


async def report_row(session: AsyncSession, session_id: int) -> SessionReport:
    row = await report(session, session_id)
    if row is None:
        row = SessionReport(session_id=session_id)
        session.add(row)
        await session.flush()
    return row


# ---- privacy -----------------------------------------------------------------------------------
async def _sessions_of(session: AsyncSession, user_id: str) -> list[tuple[GroupSession, Event]]:
    """Sessions the person took part in, as participant or facilitator."""
    mine = select(SessionMember.session_id).where(SessionMember.user_id == user_id)
    query = (select(GroupSession, Event).join(Event, Event.id == GroupSession.event_id)
             .where(or_(GroupSession.id.in_(mine), GroupSession.facilitator == user_id))
             .order_by(GroupSession.id))
    return [(g, e) for g, e in (await session.execute(query)).all()]


@exporter("session_guide")
async def _export(session: AsyncSession, user_id: str) -> dict[str, Any]:
    """The sessions the person took part in with their reports, and their action points."""
    taken = []
    for g, e in await _sessions_of(session, user_id):
        rep = await report(session, g.id)
        taken.append({"session_id": g.id, "event": e.slug, "workshop_id": g.workshop_id, "group": g.number,
                      "method": g.method, "report": rep.text if rep else None,
                      "outcome": rep.outcome if rep else None})
    query = select(SessionAction).where(or_(SessionAction.owner == user_id, SessionAction.created_by == user_id))
    points = [{"id": a.id, "session_id": a.session_id, "text": a.text, "owner": a.owner == user_id,
               "due": a.due_on.isoformat() if a.due_on else None,
               "done": a.done_at.isoformat() if a.done_at else None}
              for a in (await session.execute(query.order_by(SessionAction.id))).scalars()]
    steps_taken = (await session.execute(select(SessionStep).where(SessionStep.actor == user_id)
                                         .order_by(SessionStep.id))).scalars()
    return {"sessions_taken_part_in": taken, "action_points": points,
            "guide_steps": [{"session_id": s.session_id, "step": s.step, "at": s.at.isoformat()} for s in steps_taken]}


@eraser("session_guide")
async def _erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Their own action points are deleted; on points they wrote for others, and on guide steps,
    they are no longer named. A report they wrote stays with the group, without its author: it is
    the group's record, and the facilitator writes it without names."""
    await session.execute(delete(SessionAction).where(SessionAction.owner == user_id))
    await session.execute(update(SessionAction).where(SessionAction.created_by == user_id).values(created_by=None))
    await session.execute(update(SessionAction).where(SessionAction.done_by == user_id).values(done_by=None))
    await session.execute(update(SessionStep).where(SessionStep.actor == user_id).values(actor=None))
    await session.execute(update(SessionReport).where(SessionReport.author == user_id).values(author=None))
