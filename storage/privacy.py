"""What Kring stores about one person: collected for `!mydata`, erased for `!forgetme`.

Every aggregate that stores rows about a person plugs in here, so the privacy commands never need
to know the other features:

    from storage import privacy

    async def _export(session, user_id):          # -> anything JSON-serialisable
        return [...]

    async def _erase(session, user_id, now):       # delete the person's rows, or keep them
        ...                                        # without any Matrix ID or display name

    privacy.register_exporter("registrations", _export)
    privacy.register_eraser("registrations", _erase)

Register at import time of the storage module (storage/<aggregate>.py), which the feature's
handlers import. Registered erasers run first, in registration order, all inside the caller's
transaction; the built-in ones (memberships, the member row, DMs, flows, queued messages and
scheduled actions that still name the person) run last, so erasers can still look the member up.
What must stay for other people's records (an average, how many came) stays only anonymised.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (Conversation, DirectRoom, Member, Membership, OutboxItem, PendingDecryption,
                            ScheduledAction)

Exporter = Callable[[AsyncSession, str], Awaitable[Any]]
Eraser = Callable[[AsyncSession, str, datetime], Awaitable[None]]

_exporters: dict[str, Exporter] = {}
_erasers: dict[str, Eraser] = {}


def register_exporter(name: str, fn: Exporter) -> None:
    """Add a section `name` to the person's data export (re-registering replaces it)."""
    _exporters[name] = fn


def register_eraser(name: str, fn: Eraser) -> None:
    """Run `fn(session, user_id, now)` when a person asks to be forgotten."""
    _erasers[name] = fn


async def export(session: AsyncSession, user_id: str) -> dict[str, Any]:
    """Everything stored about the person, one section per aggregate."""
    out: dict[str, Any] = {"user_id": user_id}
    out.update({name: await fn(session, user_id) for name, fn in _BUILTIN_EXPORTERS.items()})
    for name, fn in _exporters.items():
        out[name] = await fn(session, user_id)
    return out


async def erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Forget the person: every registered eraser, then the built-in ones."""
    member = (await session.execute(select(Member).where(Member.user_id == user_id))).scalar_one_or_none()
    needles = [user_id] + ([member.display_name] if member and member.display_name else [])
    for fn in _erasers.values():
        await fn(session, user_id, now)
    await _erase_builtin(session, user_id, needles, member)


def mentions(column: Any, needles: list[str]) -> Any:
    """A condition: the JSON column's text holds one of the needles (as JSON would write them)."""
    conds = []
    for needle in needles:
        encoded = json.dumps(needle)[1:-1]
        pattern = "%" + encoded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(cast(column, String).like(pattern, escape="\\"))
    return or_(*conds)


# ---- built-in sections -----------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _profile(session: AsyncSession, user_id: str) -> dict[str, Any] | None:
    m = (await session.execute(select(Member).where(Member.user_id == user_id))).scalar_one_or_none()
    if m is None:
        return None
    return {"user_id": m.user_id, "display_name": m.display_name, "language": m.language,
            "timezone": m.timezone, "organisation": m.organisation, "created_at": _iso(m.created_at)}


async def _memberships(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(Membership).join(Member, Member.id == Membership.member_id)
                                 .where(Member.user_id == user_id).order_by(Membership.network))
    return [{"network": r.network, "role": r.role, "state": r.state, "note": r.note,
             "rules_version_accepted": r.rules_version, "rules_accepted_at": _iso(r.rules_accepted_at),
             "created_at": _iso(r.created_at), "updated_at": _iso(r.updated_at)} for r in rows.scalars()]


async def _direct_rooms(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(DirectRoom).where(DirectRoom.user_id == user_id))
    return [{"room_id": r.room_id, "created_at": _iso(r.created_at)} for r in rows.scalars()]


async def _conversations(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(Conversation).where(Conversation.user_id == user_id))
    return [{"room_id": r.room_id, "flow": r.flow, "step": r.step, "data": r.data,
             "expires_at": _iso(r.expires_at)} for r in rows.scalars()]


async def _scheduled(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(ScheduledAction).where(
        ScheduledAction.done_at.is_(None), mentions(ScheduledAction.payload, [user_id])))
    return [{"kind": r.kind, "due_at": _iso(r.due_at)} for r in rows.scalars()]


_BUILTIN_EXPORTERS: dict[str, Exporter] = {
    "profile": _profile, "memberships": _memberships, "direct_rooms": _direct_rooms,
    "conversations": _conversations, "scheduled": _scheduled,
}


async def _erase_builtin(session: AsyncSession, user_id: str, needles: list[str], member: Member | None) -> None:
    dm_rooms = list((await session.execute(
        select(DirectRoom.room_id).where(DirectRoom.user_id == user_id))).scalars())
    # Anything naming the person by Matrix ID goes; a display name (which may be a common word) is
    # only looked for in what was already sent, so no one else's queued message is lost.
    sent = OutboxItem.done_at.is_not(None)
    await session.execute(delete(OutboxItem).where(or_(
        OutboxItem.user_id == user_id, OutboxItem.room_id.in_(dm_rooms), mentions(OutboxItem.payload, [user_id]),
        sent & mentions(OutboxItem.payload, needles))))
    await session.execute(delete(ScheduledAction).where(mentions(ScheduledAction.payload, [user_id])))
    await session.execute(delete(Conversation).where(Conversation.user_id == user_id))
    await session.execute(delete(PendingDecryption).where(PendingDecryption.sender == user_id))
    await session.execute(delete(DirectRoom).where(DirectRoom.user_id == user_id))
    if member is not None:
        await session.execute(delete(Membership).where(Membership.member_id == member.id))
        await session.execute(delete(Member).where(Member.id == member.id))
    await session.flush()
