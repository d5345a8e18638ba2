"""Key/value facts of the bot's own runtime: the sync token and when the first sync happened."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import KeyValue
from storage.sql import upsert
from storage.token_peek import SYNC_TOKEN

__all__ = ["FIRST_SYNC_AT", "OUTBOX_WIPED_UNTIL", "SYNC_TOKEN", "get", "put"]

FIRST_SYNC_AT = "first_sync_at"
OUTBOX_WIPED_UNTIL = "outbox_wiped_until"  # sent rows done before this keep no content


async def get(session: AsyncSession, key: str) -> str | None:
    row = await session.get(KeyValue, key)
    return row.value if row else None


async def put(session: AsyncSession, key: str, value: str) -> None:
    await upsert(session, KeyValue, {"key": key, "value": value}, key="key")
