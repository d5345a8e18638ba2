"""Encrypted events waiting for their room key."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import PendingDecryption
from storage.sql import insert_ignore


async def remember(
    session: AsyncSession, event_id: str, room_id: str, sender: str, session_id: str, now: datetime
) -> bool:
    """True the first time this event is remembered (so the member is told only once)."""
    return await insert_ignore(
        session,
        PendingDecryption,
        {"event_id": event_id, "room_id": room_id, "sender": sender, "session_id": session_id, "received_at": now},
    )


async def waiting_for(session: AsyncSession, session_ids: set[str]) -> list[PendingDecryption]:
    if not session_ids:
        return []
    rows = await session.execute(select(PendingDecryption).where(PendingDecryption.session_id.in_(session_ids)))
    return list(rows.scalars())


async def all_waiting(session: AsyncSession) -> list[PendingDecryption]:
    return list((await session.execute(select(PendingDecryption))).scalars())


async def is_waiting(session: AsyncSession, event_id: str) -> bool:
    row = await session.execute(select(PendingDecryption.event_id).where(PendingDecryption.event_id == event_id))
    return row.first() is not None


async def resolved(session: AsyncSession, event_id: str) -> None:
    await session.execute(delete(PendingDecryption).where(PendingDecryption.event_id == event_id))
