"""Cases: the rows, their short ids, the queue, what falls due for erasure, and a person's part
for !mydata / !forgetme. Erasing content is a row update (title, text, summary and file handle
set to NULL); the caller erases the file from the vault in the same step."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, Event, GroupSession
from storage.privacy import eraser, exporter

QUEUED, ASKED, AGREED, WITHDRAWN, PURGED = "queued", "asked", "agreed", "withdrawn", "purged"
OPEN = (QUEUED, ASKED, AGREED)
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed without doubt


async def new_ref(session: AsyncSession) -> str:
    while True:
        ref = "c" + "".join(secrets.choice(_ALPHABET) for _ in range(4))
        if (await session.execute(select(Case.id).where(Case.ref == ref))).first() is None:
            return ref


async def add(session: AsyncSession, *, network: str, user_id: str, title: str, body: str, summary: str,
              named: bool, coordinators_read: bool, event_id: int | None, file: tuple[str, str, int] | None,
              file_to_session: bool, now: datetime) -> Case:
    handle, name, size = file if file else (None, None, None)
    row = Case(ref=await new_ref(session), network=network, user_id=user_id, state=QUEUED, title=title, body=body,
               summary=summary, named=named, coordinators_read=coordinators_read, event_id=event_id,
               file_handle=handle, file_name=name, file_size=size, file_to_session=file_to_session and bool(handle),
               created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    return row


async def by_ref(session: AsyncSession, ref: str) -> Case | None:
    return (await session.execute(select(Case).where(Case.ref == ref.strip().lower()))).scalar_one_or_none()


async def of_user(session: AsyncSession, user_id: str) -> list[Case]:
    query = select(Case).where(Case.user_id == user_id).order_by(Case.created_at, Case.id)
    return list((await session.execute(query)).scalars())


async def senders_for(session: AsyncSession, event_id: int) -> set[str]:
    """Who brought a case for the event and did not withdraw it (it counts as sent in advance)."""
    query = select(Case.user_id).where(Case.event_id == event_id, Case.state != WITHDRAWN, Case.user_id.is_not(None))
    return {user for (user,) in await session.execute(query)}


async def queue(session: AsyncSession, network: str) -> list[Case]:
    query = select(Case).where(Case.network == network, Case.state.in_(OPEN)).order_by(Case.created_at, Case.id)
    return list((await session.execute(query)).scalars())


async def of_session(session: AsyncSession, session_id: int) -> list[Case]:
    query = select(Case).where(Case.session_id == session_id, Case.state == AGREED).order_by(Case.id)
    return list((await session.execute(query)).scalars())


async def handles_in_use(session: AsyncSession) -> set[str]:
    """Every vault handle a case or an open intake refers to (anything else is left over)."""
    from storage.models import Conversation

    used = {h for h in (await session.execute(select(Case.file_handle).where(Case.file_handle.is_not(None)))).scalars()}
    for data in (await session.execute(select(Conversation.data).where(Conversation.flow == "cases.intake"))).scalars():
        file = (data or {}).get("file")
        if file:
            used.add(file[0])
    return used


def erase_content(row: Case, state: str, now: datetime) -> str | None:
    """The case keeps its id and state only; returns the file handle to erase from the vault."""
    handle = row.file_handle
    row.title = row.body = row.summary = row.file_handle = row.file_name = None
    row.file_size = None
    row.state, row.erased_at, row.updated_at = state, now, now
    return handle


async def due_for_purge(session: AsyncSession, now: datetime, after_session: timedelta,
                        unscheduled: timedelta) -> list[Case]:
    """Open cases whose session's event ended `after_session` ago, and cases never attached to a
    session that were brought in `unscheduled` ago."""
    ended = (select(Case).join(GroupSession, GroupSession.id == Case.session_id).join(Event, Event.id == GroupSession.event_id)
             .where(Case.state == AGREED, Event.ends_at <= now - after_session))
    waiting = select(Case).where(Case.state.in_((QUEUED, ASKED)), Case.created_at <= now - unscheduled)
    rows = list((await session.execute(ended)).scalars()) + list((await session.execute(waiting)).scalars())
    return sorted({r.id: r for r in rows}.values(), key=lambda r: r.id)


async def to_warn(session: AsyncSession, now: datetime, unscheduled: timedelta, before: timedelta) -> list[Case]:
    """Unscheduled cases that will be erased within `before`, whose case-bringer was not told yet."""
    query = select(Case).where(Case.state.in_((QUEUED, ASKED)), Case.warned_at.is_(None),
                               Case.created_at <= now - unscheduled + before).order_by(Case.id)
    return list((await session.execute(query)).scalars())


def export_row(row: Case, event_slug: str | None) -> dict[str, Any]:
    return {"id": row.ref, "network": row.network, "state": row.state, "title": row.title, "text": row.body,
            "summary": row.summary, "named": row.named, "coordinators_may_read": row.coordinators_read,
            "event": event_slug, "file": {"name": row.file_name, "size": row.file_size} if row.file_handle else None,
            "file_to_session": row.file_to_session, "shared_in_session": row.shared_at is not None,
            "brought_at": row.created_at.isoformat()}


@exporter("cases")
async def _export(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    query = (select(Case, Event.slug).outerjoin(Event, Event.id == Case.event_id).where(Case.user_id == user_id)
             .order_by(Case.id))
    return [export_row(row, slug) for row, slug in (await session.execute(query)).all()]


@eraser("cases")
async def _erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """The person's cases go entirely (their files are erased by the cases feature's leave hook,
    which runs first); a session they brought a case to no longer names them."""
    await session.execute(delete(Case).where(Case.user_id == user_id))
