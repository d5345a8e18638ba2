"""Members and their role per network."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member, Membership


async def get(session: AsyncSession, user_id: str) -> Member | None:
    return (await session.execute(select(Member).where(Member.user_id == user_id))).scalar_one_or_none()


async def get_or_create(session: AsyncSession, user_id: str, now: datetime) -> Member:
    member = await get(session, user_id)
    if member is None:
        member = Member(user_id=user_id, created_at=now)
        session.add(member)
        await session.flush()
    return member


async def roles(session: AsyncSession, user_id: str) -> dict[str, str]:
    """network -> role, for the active memberships of this person."""
    rows = await session.execute(
        select(Membership.network, Membership.role)
        .join(Member, Member.id == Membership.member_id)
        .where(Member.user_id == user_id, Membership.state == "active")
    )
    return {network: role for network, role in rows}


async def set_role(session: AsyncSession, network: str, user_id: str, role: str, now: datetime) -> Membership:
    member = await get_or_create(session, user_id, now)
    row = (
        await session.execute(
            select(Membership).where(Membership.network == network, Membership.member_id == member.id)
        )
    ).scalar_one_or_none()
    if row is None:
        row = Membership(network=network, member_id=member.id, role=role, state="active", created_at=now)
        session.add(row)
    else:
        row.role, row.state = role, "active"
    await session.flush()
    return row
