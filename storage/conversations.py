"""Multi-step conversations: one open flow per person per room, with its step, answers and expiry.

(storage/confirmations.py keeps the "confirm" flow in the same table; starting a flow replaces
whatever the person had open in that room, and `!stop` ends any.)"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


async def _row(session: AsyncSession, user_id: str, room_id: str) -> Conversation | None:
    query = select(Conversation).where(Conversation.user_id == user_id, Conversation.room_id == room_id)
    return (await session.execute(query)).scalar_one_or_none()


async def open_flow(session: AsyncSession, user_id: str, room_id: str, now: datetime) -> str | None:
    """The name of the person's unexpired flow in this room, if any."""
    row = await _row(session, user_id, room_id)
    return row.flow if row is not None and row.expires_at > now else None


async def get(session: AsyncSession, user_id: str, room_id: str, flow: str, now: datetime) -> Conversation | None:
    row = await _row(session, user_id, room_id)
    return row if row is not None and row.flow == flow and row.expires_at > now else None


async def start(session: AsyncSession, user_id: str, room_id: str, flow: str, step: str, data: dict[str, Any],
                expires_at: datetime) -> Conversation:
    row = await _row(session, user_id, room_id)
    if row is None:
        row = Conversation(user_id=user_id, room_id=room_id, flow=flow, step=step, data=data, expires_at=expires_at)
        session.add(row)
    else:
        row.flow, row.step, row.data, row.expires_at = flow, step, data, expires_at
    await session.flush()
    return row


def advance(row: Conversation, step: str, data: dict[str, Any], expires_at: datetime) -> None:
    row.step, row.data, row.expires_at = step, dict(data), expires_at


async def end(session: AsyncSession, row: Conversation) -> None:
    await session.execute(delete(Conversation).where(Conversation.id == row.id))


async def drop_expired(session: AsyncSession, flow: str, now: datetime) -> int:
    """Forget the answers of conversations of this flow that were left and ran out (a case intake
    abandoned half-way must not keep its text). Returns how many."""
    result = await session.execute(delete(Conversation).where(Conversation.flow == flow,
                                                              Conversation.expires_at <= now))
    return result.rowcount or 0
