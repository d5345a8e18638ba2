"""Pending confirmations and other flows in the conversations table.

A confirmation is a conversation row with flow "confirm": step holds the action name, data its
arguments; it belongs to one person in one room and expires (10 minutes by default)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation

FLOW = "confirm"
TTL = timedelta(minutes=10)


async def current(session: AsyncSession, user_id: str, room_id: str) -> Conversation | None:
    """The person's flow in this room (any flow, expired or not)."""
    query = select(Conversation).where(Conversation.user_id == user_id, Conversation.room_id == room_id)
    return (await session.execute(query)).scalar_one_or_none()


async def ask(session: AsyncSession, user_id: str, room_id: str, action: str, args: dict[str, Any],
              now: datetime, ttl: timedelta = TTL) -> Conversation:
    """Store (or replace) the confirmation the person is asked for in this room."""
    row = await current(session, user_id, room_id)
    if row is None:
        row = Conversation(user_id=user_id, room_id=room_id, flow=FLOW, step=action, data=args,
                           expires_at=now + ttl)
        session.add(row)
    else:
        row.flow, row.step, row.data, row.expires_at = FLOW, action, args, now + ttl
    await session.flush()
    return row


async def take(session: AsyncSession, user_id: str, room_id: str, now: datetime) -> tuple[str, dict[str, Any]] | None:
    """Remove and return (action, args) of the person's confirmation here, if one is pending and fresh."""
    row = await current(session, user_id, room_id)
    if row is None or row.flow != FLOW:
        return None
    await session.delete(row)
    await session.flush()
    if row.expires_at <= now:
        return None
    return row.step, dict(row.data)


async def stop(session: AsyncSession, user_id: str, room_id: str) -> str | None:
    """End whatever flow the person has in this room; returns its flow name (None when there was none)."""
    row = await current(session, user_id, room_id)
    if row is None:
        return None
    await session.execute(delete(Conversation).where(Conversation.id == row.id))
    return row.flow
