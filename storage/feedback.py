"""Feedback: answers, who has answered, and forms in progress.

An answer to an anonymous form is written with no person, no room and only its day, under a
random id; whether the person answered is a separate row (`feedback_responded`) with nothing
about the answer in it, and their progress row is deleted in the same transaction. So nothing
stored links the person to what they answered (and `!forgetme` cannot find it either)."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, time, timezone
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event, FeedbackAnswer, FeedbackProgress, FeedbackResponded, GroupSession, SessionReport
from storage.privacy import eraser, exporter
from storage.sql import insert_ignore

PERSON = 0  # session_id of a person's own answer (a group's answer names its session)


def day_of(moment: datetime) -> datetime:
    """Midnight UTC of the moment's day: all an anonymous answer keeps of when it came."""
    return datetime.combine(moment.astimezone(timezone.utc).date(), time(0), tzinfo=timezone.utc)


async def progress(session: AsyncSession, event_id: int, user_id: str, session_id: int = PERSON) -> FeedbackProgress | None:
    query = select(FeedbackProgress).where(FeedbackProgress.event_id == event_id, FeedbackProgress.user_id == user_id,
                                           FeedbackProgress.session_id == session_id)
    return (await session.execute(query)).scalar_one_or_none()


async def start(session: AsyncSession, event_id: int, user_id: str, session_id: int = PERSON) -> FeedbackProgress:
    """The person's progress on this form (a new one at the first question)."""
    row = await progress(session, event_id, user_id, session_id)
    if row is None:
        row = FeedbackProgress(event_id=event_id, user_id=user_id, session_id=session_id, step=0, answers={})
        session.add(row)
        await session.flush()
    return row


def advance(row: FeedbackProgress, step: int, answers: dict[str, Any]) -> None:
    row.step, row.answers = step, dict(answers)


async def has_responded(session: AsyncSession, event_id: int, user_id: str, session_id: int = PERSON) -> bool:
    query = select(FeedbackResponded.id).where(FeedbackResponded.event_id == event_id,
                                               FeedbackResponded.session_id == session_id)
    if session_id == PERSON:
        query = query.where(FeedbackResponded.user_id == user_id)
    return (await session.execute(query.limit(1))).first() is not None


async def store(session: AsyncSession, row: FeedbackProgress, *, form: str, anonymous: bool, now: datetime) -> None:
    """The finished form becomes an answer, the person (or group) is marked as having answered,
    and the progress row goes, all in the caller's transaction."""
    await session.execute(delete(FeedbackProgress).where(FeedbackProgress.id == row.id))
    group = row.session_id or None
    session.add(FeedbackAnswer(
        id=uuid.uuid4().hex, event_id=row.event_id, form=form, anonymous=anonymous,
        user_id=None if anonymous else row.user_id, session_id=group, answers=dict(row.answers),
        answered_at=day_of(now) if anonymous else now))
    await insert_ignore(session, FeedbackResponded,
                        {"event_id": row.event_id, "user_id": row.user_id, "session_id": row.session_id})
    await session.flush()


async def answers(session: AsyncSession, event_id: int) -> list[FeedbackAnswer]:
    """Every answer to the event's form; anonymous ones in no telling order (day, then random id)."""
    query = select(FeedbackAnswer).where(FeedbackAnswer.event_id == event_id)
    return list((await session.execute(query.order_by(FeedbackAnswer.answered_at, FeedbackAnswer.id))).scalars())


async def responded(session: AsyncSession, event_id: int) -> tuple[set[str], set[int]]:
    """The people who answered for themselves, and the sessions answered for as a group."""
    rows = (await session.execute(select(FeedbackResponded.user_id, FeedbackResponded.session_id)
                                  .where(FeedbackResponded.event_id == event_id))).all()
    return {u for u, s in rows if s == PERSON}, {s for _u, s in rows if s != PERSON}


async def count(session: AsyncSession, event_id: int) -> int:
    query = select(func.count()).select_from(FeedbackAnswer).where(FeedbackAnswer.event_id == event_id)
    return (await session.execute(query)).scalar_one()


async def outcomes(session: AsyncSession, event_id: int) -> list[tuple[int, str]]:
    """(group number, outcome) of the event's sessions whose facilitator posted one (`!outcome`:
    checked for names when it was written), in group order."""
    query = (select(GroupSession.number, SessionReport.outcome)
             .join(SessionReport, SessionReport.session_id == GroupSession.id)
             .where(GroupSession.event_id == event_id, SessionReport.outcome.is_not(None))
             .order_by(GroupSession.slot, GroupSession.number))
    return [(n, text) for n, text in (await session.execute(query)).all()]


async def add_many(session: AsyncSession, event_id: int, form: str, anonymous: bool,
                   rows: Iterable[tuple[str | None, dict[str, Any]]], now: datetime) -> None:
    """Answers written at once (the demo and the benchmarks)."""
    for user_id, given in rows:
        session.add(FeedbackAnswer(id=uuid.uuid4().hex, event_id=event_id, form=form, anonymous=anonymous,
                                   user_id=None if anonymous else user_id, session_id=None, answers=given,
                                   answered_at=day_of(now) if anonymous else now))
        if user_id:
            await insert_ignore(session, FeedbackResponded, {"event_id": event_id, "user_id": user_id,
                                                            "session_id": PERSON})
    await session.flush()


@exporter("feedback")
async def _export(session: AsyncSession, user_id: str) -> dict[str, Any]:
    """The person's named answers (their own and those they sent for a group) and their forms in
    progress. Anonymous answers are not theirs to find: nothing ties them to anyone."""
    query = (select(FeedbackAnswer, Event.slug).join(Event, Event.id == FeedbackAnswer.event_id)
             .where(FeedbackAnswer.user_id == user_id).order_by(FeedbackAnswer.answered_at))
    named = [{"event": slug, "form": a.form, "for_group": a.session_id, "answers": a.answers,
              "answered_at": a.answered_at.isoformat()} for a, slug in (await session.execute(query)).all()]
    query = (select(FeedbackProgress, Event.slug).join(Event, Event.id == FeedbackProgress.event_id)
             .where(FeedbackProgress.user_id == user_id))
    open_ = [{"event": slug, "question": p.step + 1, "answers": p.answers}
             for p, slug in (await session.execute(query)).all()]
    return {"answers": named, "in_progress": open_}


@eraser("feedback")
async def _erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Named answers, forms in progress and the marks that they answered are deleted."""
    await session.execute(delete(FeedbackAnswer).where(FeedbackAnswer.user_id == user_id))
    await session.execute(delete(FeedbackProgress).where(FeedbackProgress.user_id == user_id))
    await session.execute(delete(FeedbackResponded).where(FeedbackResponded.user_id == user_id))
