"""Which rooms are the bot's one-to-one conversations, by its own record."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DirectRoom
from storage.sql import insert_ignore


async def record(session: AsyncSession, room_id: str, user_id: str, now: datetime) -> None:
    await insert_ignore(session, DirectRoom, {"room_id": room_id, "user_id": user_id, "created_at": now})


async def partner(session: AsyncSession, room_id: str) -> str | None:
    row = await session.get(DirectRoom, room_id)
    return row.user_id if row else None


async def room_for(session: AsyncSession, user_id: str) -> str | None:
    """The most recent DM room with this person, if any."""
    rows = await session.execute(
        select(DirectRoom.room_id).where(DirectRoom.user_id == user_id).order_by(DirectRoom.created_at.desc())
    )
    return rows.scalars().first()


async def forget(session: AsyncSession, room_id: str) -> None:
    row = await session.get(DirectRoom, room_id)
    if row:
        await session.delete(row)
