"""Small test doubles and readers shared by the unit tests (fixtures live in conftest.py)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from bot.matrix.incoming import Incoming
from storage import direct_rooms, members, outbox
from storage.database import Database
from storage.models import OutboxItem

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
BOT = "@kring:example.org"
ROOM = "!lobby:example.org"
_event_ids = itertools.count(1)


class FakeClock:
    """An injectable clock that only moves when a test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class FakeRuntime:
    """The Runtime facts !status reports, without a homeserver."""

    version: str = "9.9.9-test"
    started_at: datetime = T0 - timedelta(hours=2, minutes=5)
    homeserver: bool = True
    cross_signed: bool = True
    health_calls: list[Any] = field(default_factory=list)

    async def health(self, session) -> dict[str, Any]:  # noqa: ANN001
        self.health_calls.append(session)
        return {"database": True, "homeserver": self.homeserver, "queue": await outbox.count_pending(session),
                "device_id": "TESTDEVICE", "cross_signed": self.cross_signed}


def message(body: str, *, sender: str = "@alice:example.org", room_id: str = ROOM,
            at: datetime = T0, event_id: str | None = None, thread_root: str | None = None) -> Incoming:
    """An incoming text message with a fresh event id unless one is given."""
    return Incoming(event_id=event_id or f"$evt{next(_event_ids)}", room_id=room_id, sender=sender,
                    body=body, origin_time=at, thread_root=thread_root)


async def outbox_rows(db: Database) -> list[OutboxItem]:
    async with db.transaction() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


async def only_reply(db: Database) -> dict[str, Any]:
    """The content of the single message in the outbox (fails if there is not exactly one)."""
    rows = await outbox_rows(db)
    assert len(rows) == 1, f"expected exactly one outgoing message, found {len(rows)}"
    return rows[0].payload["content"]


async def set_role(db: Database, user_id: str, role: str, network: str = "main") -> None:
    async with db.transaction() as session:
        await members.set_role(session, network, user_id, role, T0)


async def open_dm(db: Database, room_id: str, user_id: str) -> None:
    async with db.transaction() as session:
        await direct_rooms.record(session, room_id, user_id, T0)
