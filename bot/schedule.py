"""The Schedule capability handed to commands and jobs: rows in the schedule table."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage import schedule as rows


class DbSchedule:
    def __init__(self, session: AsyncSession, now: datetime,
                 withdrawing: Callable[[AsyncSession], None] = lambda session: None) -> None:
        self.session = session
        self.now = now
        self.withdrawing = withdrawing  # held messages are about to be withdrawn in this transaction (bot/holding.py)
        self.changed = False
        self.withdrawn: list[int] = []  # held outbox items withdrawn (the sender forgets them after commit)

    async def at(self, key: str, kind: str, due_at: datetime, payload: dict[str, Any], *,
                 about: str | None = None, network: str | None = None, recipient: str | None = None) -> int:
        row = await rows.put(self.session, key, kind, due_at, payload, self.now, about, network=network,
                             recipient=recipient)
        self.changed = True
        return row.id

    async def cancel(self, key: str) -> None:
        self.changed = await rows.cancel(self.session, key, self.now, self.withdrawn,
                                         lambda: self.withdrawing(self.session)) or self.changed

    async def withdraw(self, *, recipient: str | None = None, prefix: str | None = None) -> None:
        ids = await rows.withdraw_held(self.session, self.now, recipient=recipient, prefix=prefix,
                                       withdrawing=lambda: self.withdrawing(self.session))
        self.withdrawn.extend(ids)
        self.changed = bool(ids) or self.changed
