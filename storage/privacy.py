"""What Kring stores about one person: collected for `!mydata`, erased for `!forgetme`.

Every aggregate that stores rows about a person declares its part with a decorator that tags the
function, so the privacy commands never need to know the other features:

    from storage.privacy import eraser, exporter

    @exporter("registrations")
    async def _export(session, user_id):          # -> anything JSON-serialisable
        return [...]

    @eraser("registrations")
    async def _erase(session, user_id, now):       # delete the person's rows, or keep them
        ...                                        # without any Matrix ID or display name

What belongs to a person is found by reference (a column naming them), never by searching
stored text for their Matrix ID or name.

`collected()` finds the tagged functions of every storage module; a feature's own (declared with
the same decorators, re-exported by api) are collected by discovery and passed in as `extra`.
Tagged erasers run first, in module order, all inside the caller's transaction; the built-in
ones (memberships, the member row, DMs, flows, the messages to or about the person and the
scheduled actions about them) run last, so erasers can still look the member up. Messages about
the person that reached a room are redacted by the caller (outbox.sent_about). What must stay
for other people's records (an average, how many came) stays only anonymised.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (Conversation, DirectRoom, Member, Membership, OutboxItem, PendingDecryption,
                            ProcessedEvent, ScheduledAction)

Exporter = Callable[[AsyncSession, str], Awaitable[Any]]
Eraser = Callable[[AsyncSession, str, datetime], Awaitable[None]]

EXPORTER_ATTR = "__kring_exporter__"
ERASER_ATTR = "__kring_eraser__"


def exporter(name: str) -> Callable[[Exporter], Exporter]:
    """Tag `fn(session, user_id)` as the section `name` of a person's data export."""

    def decorate(fn: Exporter) -> Exporter:
        setattr(fn, EXPORTER_ATTR, name)
        return fn

    return decorate


def eraser(name: str) -> Callable[[Eraser], Eraser]:
    """Tag `fn(session, user_id, now)` to run when a person asks to be forgotten."""

    def decorate(fn: Eraser) -> Eraser:
        setattr(fn, ERASER_ATTR, name)
        return fn

    return decorate


def tagged(objects: object, attr: str) -> dict[str, Callable[..., Any]]:
    """The functions among `objects` tagged with `attr`, by their declared name."""
    return {getattr(obj, attr): obj for obj in objects if isinstance(getattr(obj, attr, None), str)}


@cache
def collected() -> tuple[dict[str, Exporter], dict[str, Eraser]]:
    """The exporters and erasers that the storage modules declare (imported once, in name order)."""
    exporters: dict[str, Exporter] = {}
    erasers: dict[str, Eraser] = {}
    package = importlib.import_module("storage")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.ispkg:
            continue
        objects = list(vars(importlib.import_module(f"storage.{info.name}")).values())
        exporters.update(tagged(objects, EXPORTER_ATTR))
        erasers.update(tagged(objects, ERASER_ATTR))
    return exporters, erasers


async def export(session: AsyncSession, user_id: str, extra: Mapping[str, Exporter] | None = None) -> dict[str, Any]:
    """Everything stored about the person, one section per declared exporter."""
    out: dict[str, Any] = {"user_id": user_id}
    for name, fn in {**collected()[0], **(extra or {})}.items():
        out[name] = await fn(session, user_id)
    return out


async def erase(session: AsyncSession, user_id: str, now: datetime, extra: Mapping[str, Eraser] | None = None) -> None:
    """Forget the person: every declared eraser, then the built-in ones."""
    member = (await session.execute(select(Member).where(Member.user_id == user_id))).scalar_one_or_none()
    for fn in {**collected()[1], **(extra or {})}.values():
        await fn(session, user_id, now)
    await _erase_builtin(session, user_id, member)


# ---- built-in sections -----------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@exporter("profile")
async def _profile(session: AsyncSession, user_id: str) -> dict[str, Any] | None:
    m = (await session.execute(select(Member).where(Member.user_id == user_id))).scalar_one_or_none()
    if m is None:
        return None
    return {"user_id": m.user_id, "display_name": m.display_name, "language": m.language,
            "timezone": m.timezone, "organisation": m.organisation, "created_at": _iso(m.created_at),
            "reminders": "off" if m.reminders_off else "on"}


@exporter("memberships")
async def _memberships(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(Membership).join(Member, Member.id == Membership.member_id)
                                 .where(Member.user_id == user_id).order_by(Membership.network))
    return [{"network": r.network, "role": r.role, "state": r.state, "note": r.note,
             "rules_version_accepted": r.rules_version, "rules_accepted_at": _iso(r.rules_accepted_at),
             "created_at": _iso(r.created_at), "updated_at": _iso(r.updated_at)} for r in rows.scalars()]


@exporter("direct_rooms")
async def _direct_rooms(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(DirectRoom).where(DirectRoom.user_id == user_id))
    return [{"room_id": r.room_id, "created_at": _iso(r.created_at)} for r in rows.scalars()]


@exporter("conversations")
async def _conversations(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(Conversation).where(Conversation.user_id == user_id))
    return [{"room_id": r.room_id, "flow": r.flow, "step": r.step, "data": r.data,
             "expires_at": _iso(r.expires_at)} for r in rows.scalars()]


@exporter("scheduled")
async def _scheduled(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(ScheduledAction).where(
        ScheduledAction.done_at.is_(None), or_(ScheduledAction.about == user_id, ScheduledAction.recipient == user_id)))
    return [{"kind": r.kind, "due_at": _iso(r.due_at)} for r in rows.scalars()]


async def _erase_builtin(session: AsyncSession, user_id: str, member: Member | None) -> None:
    dm_rooms = select(DirectRoom.room_id).where(DirectRoom.user_id == user_id)
    await session.execute(delete(OutboxItem).where(or_(
        OutboxItem.user_id == user_id, OutboxItem.room_id.in_(dm_rooms), OutboxItem.about == user_id)))
    await session.execute(delete(ScheduledAction).where(or_(ScheduledAction.about == user_id,
                                                            ScheduledAction.recipient == user_id)))
    # the commands sent in the person's DMs stay recorded (each runs once), but no longer by room
    await session.execute(update(ProcessedEvent).where(ProcessedEvent.room_id.in_(dm_rooms)).values(room_id=""))
    await session.execute(delete(Conversation).where(Conversation.user_id == user_id))
    await session.execute(delete(PendingDecryption).where(PendingDecryption.sender == user_id))
    await session.execute(delete(DirectRoom).where(DirectRoom.user_id == user_id))
    if member is not None:
        await session.execute(delete(Membership).where(Membership.member_id == member.id))
        await session.execute(delete(Member).where(Member.id == member.id))
    await session.flush()
