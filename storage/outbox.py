"""The outbox: messages, invites and room creations waiting to be sent, in order."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DirectRoom, GroupSession, NetworkRoom, OutboxItem

_INSERT = insert(OutboxItem.__table__).returning(OutboxItem.__table__.c.id)


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    room_id: str | None = None,
    user_id: str | None = None,
    about: str | None = None,
    send_at: datetime | None = None,
    action_id: int | None = None,
) -> OutboxItem:
    """Add an item; its transaction id is fixed now so every retry is deduplicated by Matrix.
    `send_at`: held until then (a reminder prepared ahead), `action_id` the schedule row it is for."""
    values = {"kind": kind, "room_id": room_id, "user_id": user_id, "payload": payload,
              "txn_id": f"kring-{uuid.uuid4().hex}", "created_at": now, "attempts": 0, "about": about,
              "send_at": send_at, "action_id": action_id}
    # A Core insert on the session's connection (no ORM flush or ORM execute: this is on every
    # command's path); the row's id comes back.
    connection = await session.connection()
    item_id = (await connection.execute(_INSERT, values)).scalar_one()
    return OutboxItem(id=item_id, **values)


async def pending(session: AsyncSession, limit: int = 200) -> list[OutboxItem]:
    rows = await session.execute(
        select(OutboxItem).where(OutboxItem.done_at.is_(None)).order_by(OutboxItem.id).limit(limit)
    )
    return list(rows.scalars())


async def mark_done(session: AsyncSession, item_id: int, now: datetime, error: str | None = None,
                    event_id: str | None = None) -> None:
    """Done (sent, with the event id the homeserver gave, or given up with an error). A row marked
    private keeps no payload or person once done, except, for a message marked `keep_about`, the
    person it is about: what `!forgetme` redacts by (a confidential post about a case-bringer)."""
    item = await session.get(OutboxItem, item_id)
    if item:
        await mark_all_done(session, [Done.of(item, error, event_id)], now)


@dataclass(frozen=True)
class Done:
    """An item the sender finished: sent (with the homeserver's event id) or given up (error)."""

    item_id: int
    error: str | None
    event_id: str | None
    private: bool = False  # its payload and person are emptied
    about: str | None = None  # for a private row: the person kept (keep_about), else None

    @classmethod
    def of(cls, item: OutboxItem, error: str | None, event_id: str | None) -> Done:
        private = bool(item.payload.get("private"))
        return cls(item.id, error, event_id, private, item.about if private and item.payload.get("keep_about") else None)


_TABLE = OutboxItem.__table__
_MARK = update(_TABLE).where(_TABLE.c.id == bindparam("b_id")).values(
    done_at=bindparam("b_done_at"), error=bindparam("b_error"), event_id=bindparam("b_event_id"))
_MARK_PRIVATE = _MARK.values(payload=bindparam("b_payload", type_=_TABLE.c.payload.type),
                             user_id=None, about=bindparam("b_about"))


async def mark_all_done(session: AsyncSession, done: list[Done], now: datetime) -> None:
    """Many items marked done in one statement each kind (Core, executemany): the sender's path
    for every message, where an ORM load per row cost more than the send."""
    plain = [{"b_id": d.item_id, "b_done_at": now, "b_error": d.error, "b_event_id": d.event_id}
             for d in done if not d.private]
    private = [{"b_id": d.item_id, "b_done_at": now, "b_error": d.error, "b_event_id": d.event_id,
                "b_payload": {}, "b_about": d.about} for d in done if d.private]
    if plain:
        await session.execute(_MARK, plain)
    if private:
        await session.execute(_MARK_PRIVATE, private)


WITHDRAWN = "withdrawn"  # the error of a held item whose reminder was cancelled before its time


async def withdraw(session: AsyncSession, action_ids: list[int], now: datetime) -> list[int]:
    """Held items of these schedule rows not sent yet: marked done, never sent. Returns their ids."""
    if not action_ids:
        return []
    query = select(OutboxItem.id).where(OutboxItem.action_id.in_(action_ids), OutboxItem.done_at.is_(None))
    ids = list((await session.execute(query)).scalars())
    if ids:
        await session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids)).values(done_at=now, error=WITHDRAWN))
    return ids


MISSED = "missed"  # the error of a held item whose time passed longer ago than the catch-up window


async def miss_held(session: AsyncSession, before: datetime, now: datetime) -> list[int]:
    """Held items still unsent whose send-at time is before `before` (the bot was down past the
    catch-up window): marked done, never sent. Returns the schedule rows they were prepared for."""
    query = select(OutboxItem.id, OutboxItem.action_id).where(
        OutboxItem.done_at.is_(None), OutboxItem.send_at < before, OutboxItem.action_id.is_not(None))
    found = list(await session.execute(query))
    if found:
        await session.execute(update(OutboxItem).where(OutboxItem.id.in_([i for i, _a in found]))
                              .values(done_at=now, error=MISSED))
    return sorted({a for _i, a in found})


async def still_pending(session: AsyncSession, item_ids: list[int]) -> set[int]:
    """Which of these items are still to be sent (not withdrawn, erased or done meanwhile)."""
    query = select(OutboxItem.id).where(OutboxItem.id.in_(item_ids), OutboxItem.done_at.is_(None))
    return set((await session.execute(query)).scalars())


async def note_attempt(session: AsyncSession, item_id: int) -> None:
    item = await session.get(OutboxItem, item_id)
    if item:
        item.attempts += 1


async def count_pending(session: AsyncSession) -> int:
    query = select(func.count()).select_from(OutboxItem).where(OutboxItem.done_at.is_(None))
    return (await session.execute(query)).scalar_one()


async def pending_in_lane(session: AsyncSession, room_id: str | None, user_id: str | None,
                          limit: int = 50) -> list[OutboxItem]:
    """Undone items of one lane (a room, or a person's DM not opened yet), oldest first."""
    query = select(OutboxItem).where(OutboxItem.done_at.is_(None))
    if room_id is not None:
        query = query.where(OutboxItem.room_id == room_id)
    else:
        query = query.where(OutboxItem.room_id.is_(None), OutboxItem.user_id == user_id)
    return list((await session.execute(query.order_by(OutboxItem.id).limit(limit))).scalars())


async def sent_about(session: AsyncSession, user_id: str) -> list[tuple[str, str]]:
    """(room, event id) of every message or file about the person that reached a room (room
    operations about them, such as a power-level change, are state and never redacted)."""
    query = select(OutboxItem.room_id, OutboxItem.event_id).where(
        OutboxItem.about == user_id, OutboxItem.kind.in_(("message", "file", "kept_file")), OutboxItem.room_id.is_not(None),
        OutboxItem.event_id.is_not(None))
    return [(room, event) for room, event in await session.execute(query.order_by(OutboxItem.id))]


async def wipe_sent(session: AsyncSession, done_from: datetime, done_before: datetime) -> int:
    """Data minimisation: rows done in [done_from, done_before) keep no content (texts, files, the
    person a DM was for); kind, room, transaction id, outcome, and the sent event id and the person
    it is about (what !forgetme redacts by) stay. Returns how many rows."""
    result = await session.execute(
        update(OutboxItem)
        .where(OutboxItem.done_at.is_not(None), OutboxItem.done_at >= done_from, OutboxItem.done_at < done_before)
        .values(payload={}, user_id=None)
    )
    return result.rowcount or 0


async def event_id_of(session: AsyncSession, item_id: int) -> str | None:
    """The Matrix event id a sent row produced (None while unsent, or if it failed)."""
    return (await session.execute(select(OutboxItem.event_id).where(OutboxItem.id == item_id))).scalar()


async def recorded_rooms(session: AsyncSession) -> set[str]:
    """Every room recorded for something: a network's, a DM, a session's."""
    known: set[str] = set()
    for column in (NetworkRoom.room_id, DirectRoom.room_id, GroupSession.room_id):
        known |= {r for (r,) in await session.execute(select(column)) if r}
    return known
