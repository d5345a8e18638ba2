"""The processed-events record that makes every command run exactly once."""
from __future__ import annotations

from datetime import datetime, time, timezone

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedEvent
from storage.sql import insert_ignore


async def claim(session: AsyncSession, event_id: str, room_id: str, now: datetime,
                command: str | None = None) -> bool:
    """Record the event as handled in this transaction; False if it already was."""
    return await insert_ignore(
        session, ProcessedEvent,
        {"event_id": event_id, "room_id": room_id, "processed_at": now, "command": command and command[:64]},
    )


async def is_processed(session: AsyncSession, event_id: str) -> bool:
    return await session.get(ProcessedEvent, event_id) is not None


async def count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(ProcessedEvent))).scalar_one()


async def unlink(session: AsyncSession, event_id: str) -> None:
    """Keep the record of a handled event (so it still runs only once) without what would tie it
    to its sender: no room (a DM names its person), and only the day, not the moment."""
    row = await session.get(ProcessedEvent, event_id)
    if row is not None:
        day = datetime.combine(row.processed_at.astimezone(timezone.utc).date(), time(0), tzinfo=timezone.utc)
        await session.execute(update(ProcessedEvent).where(ProcessedEvent.event_id == event_id)
                              .values(room_id="", processed_at=day))
