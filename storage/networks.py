"""Networks (copied from the config at start) and the rooms each one owns.

Room kinds: "space", "lobby", "announcements" (open to members) and "control" (coordinators only).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Network, NetworkRoom

KINDS = ("space", "lobby", "announcements", "control")
OPEN_KINDS = ("space", "lobby", "announcements")


async def get(session: AsyncSession, network_id: str) -> Network | None:
    return await session.get(Network, network_id)


async def all_networks(session: AsyncSession) -> list[Network]:
    return list((await session.execute(select(Network).order_by(Network.id))).scalars())


async def upsert(session: AsyncSession, network_id: str, *, name: str, language: str | None,
                 timezone: str | None, house_rules: str, auto_approve: dict[str, Any],
                 now: datetime, reminder_offsets: str | None = None) -> tuple[Network, bool]:
    """Write the configured facts; returns (network, rules_changed). A new text bumps the version."""
    row = await session.get(Network, network_id)
    if row is None:
        row = Network(id=network_id, name=name, language=language, timezone=timezone,
                      house_rules=house_rules, rules_version=1, auto_approve=auto_approve, updated_at=now,
                      reminder_offsets=reminder_offsets)
        session.add(row)
        await session.flush()
        return row, False
    changed = row.house_rules.strip() != house_rules.strip()
    row.name, row.language, row.timezone, row.auto_approve = name, language, timezone, auto_approve
    row.reminder_offsets = reminder_offsets
    if changed:
        row.house_rules = house_rules
        row.rules_version += 1
    row.updated_at = now
    await session.flush()
    return row, changed


async def room_id(session: AsyncSession, network_id: str, kind: str) -> str | None:
    """The Matrix room id of one of the network's rooms ("space", "lobby", "announcements", "control")."""
    row = await room(session, network_id, kind)
    return row.room_id if row else None


async def room(session: AsyncSession, network_id: str, kind: str) -> NetworkRoom | None:
    query = select(NetworkRoom).where(NetworkRoom.network == network_id, NetworkRoom.kind == kind)
    return (await session.execute(query)).scalar_one_or_none()


async def rooms(session: AsyncSession, network_id: str) -> dict[str, str]:
    """kind -> room id for the network's rooms that exist."""
    query = select(NetworkRoom.kind, NetworkRoom.room_id).where(NetworkRoom.network == network_id)
    return {kind: rid for kind, rid in await session.execute(query)}


async def network_of_room(session: AsyncSession, room_id: str) -> tuple[str, str] | None:
    """(network id, kind) when the room is one of a network's own rooms."""
    query = select(NetworkRoom.network, NetworkRoom.kind).where(NetworkRoom.room_id == room_id)
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def record_room(session: AsyncSession, network_id: str, kind: str, room_id_: str,
                      room_version: str | None, now: datetime) -> NetworkRoom:
    """Remember (or replace) the room of this kind; one row per network and kind."""
    row = await room(session, network_id, kind)
    if row is None:
        row = NetworkRoom(network=network_id, kind=kind, room_id=room_id_, room_version=room_version,
                          state="ok", created_at=now, checked_at=now)
        session.add(row)
    else:
        row.room_id, row.room_version, row.state, row.created_at, row.checked_at = (
            room_id_, room_version, "ok", now, now)
    await session.flush()
    return row


async def mark_room(session: AsyncSession, network_id: str, kind: str, state: str, now: datetime) -> None:
    row = await room(session, network_id, kind)
    if row:
        row.state, row.checked_at = state, now
