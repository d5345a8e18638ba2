"""Members and their role per network."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DirectRoom, Member, Membership, Network


async def get(session: AsyncSession, user_id: str) -> Member | None:
    return (await session.execute(select(Member).where(Member.user_id == user_id))).scalar_one_or_none()


async def reminders_muted(session: AsyncSession, user_id: str) -> bool:
    """True when the person said `!reminders off`."""
    member = await get(session, user_id)
    return member is not None and member.reminders_off


async def muted_among(session: AsyncSession, user_ids: set[str]) -> set[str]:
    """Those of `user_ids` who said `!reminders off` (one query for a batch of reminders)."""
    if not user_ids:
        return set()
    query = select(Member.user_id).where(Member.user_id.in_(sorted(user_ids)), Member.reminders_off.is_(True))
    return set((await session.execute(query)).scalars())


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


@dataclass(frozen=True)
class Reader:
    """Who sent a command, as its transaction needs them: the language to write to them in (their
    own choice, else the configured language of their network, the first by id that has one),
    their own timezone, network -> role of their active memberships, and the person the room is
    a DM with (None: not a DM)."""

    language: str | None
    zone: str | None
    roles: dict[str, str]
    dm_partner: str | None


# One row even for someone unknown in a room that is no DM: everything is joined to a constant row.
_ONE_ROW = select(literal_column("1").label("one")).subquery("one_row")
_READER = (
    select(DirectRoom.user_id, Member.language, Member.timezone, Membership.network, Membership.role, Network.language)
    .select_from(_ONE_ROW)
    .outerjoin(DirectRoom, DirectRoom.room_id == bindparam("room_id"))
    .outerjoin(Member, Member.user_id == bindparam("user_id"))
    .outerjoin(Membership, and_(Membership.member_id == Member.id, Membership.state == "active"))
    .outerjoin(Network, Network.id == Membership.network)
    .order_by(Membership.network)
)


async def reader(session: AsyncSession, user_id: str, room_id: str) -> Reader:
    """One query of plain columns, built once, on the session's connection (no ORM loading or
    flush: this runs for every command, before its handler)."""
    connection = await session.connection()
    rows = (await connection.execute(_READER, {"user_id": user_id, "room_id": room_id})).all()
    partner, own, zone = rows[0][0], rows[0][1], rows[0][2]
    language = own or next((net_lang for *_, net_lang in rows if net_lang), None)
    return Reader(language, zone, {net: role for *_, net, role, _nl in rows if net is not None}, partner)


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


# ---- issue 3: join requests, standing, house rules -------------------------------------
ACTIVE = "active"
PENDING = "pending"
DECLINED = "declined"
LEFT = "left"
REMOVED = "removed"


async def membership(session: AsyncSession, network: str, user_id: str, *, lock: bool = False) -> Membership | None:
    """The person's row in this network, whatever its state (locked for update on PostgreSQL)."""
    query = (select(Membership).join(Member, Member.id == Membership.member_id)
             .where(Membership.network == network, Member.user_id == user_id))
    if lock and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Membership)
    return (await session.execute(query)).scalar_one_or_none()


async def active_networks(session: AsyncSession, user_id: str) -> list[str]:
    """The networks this person is an active member of (any role), sorted."""
    return sorted(await roles(session, user_id))


async def rules_accepted(session: AsyncSession, network_id: str, user_id: str) -> bool:
    """True when the person is an active member who accepted the network's current house rules."""
    from storage.models import Network

    query = (select(Membership.rules_version, Network.rules_version)
             .join(Member, Member.id == Membership.member_id)
             .join(Network, Network.id == Membership.network)
             .where(Membership.network == network_id, Member.user_id == user_id, Membership.state == ACTIVE))
    row = (await session.execute(query)).first()
    return bool(row and row[0] is not None and row[0] >= row[1])


async def request_join(session: AsyncSession, network: str, user_id: str, note: str | None,
                       now: datetime) -> tuple[Membership, str]:
    """Record a join request. Returns (row, previous state or "new")."""
    member = await get_or_create(session, user_id, now)
    row = await membership(session, network, user_id, lock=True)
    if row is None:
        row = Membership(network=network, member_id=member.id, role="member", state=PENDING, note=note,
                         created_at=now, updated_at=now)
        session.add(row)
        await session.flush()
        return row, "new"
    before = row.state
    if before not in (ACTIVE, PENDING):
        row.state, row.role, row.note, row.updated_at = PENDING, "member", note, now
    await session.flush()
    return row, before


def set_state(row: Membership, state: str, now: datetime) -> None:
    row.state, row.updated_at = state, now


def accept_rules(row: Membership, version: int, now: datetime) -> None:
    row.rules_version, row.rules_accepted_at = version, now


async def with_role(session: AsyncSession, network: str, role: str) -> list[str]:
    """Matrix IDs of the active members holding exactly this role in the network."""
    query = (select(Member.user_id).join(Membership, Member.id == Membership.member_id)
             .where(Membership.network == network, Membership.role == role, Membership.state == ACTIVE)
             .order_by(Member.user_id))
    return list((await session.execute(query)).scalars())


async def listing(session: AsyncSession, network: str) -> list[tuple[Member, Membership]]:
    """Every person with a row in the network (all states), by Matrix ID."""
    query = (select(Member, Membership).join(Membership, Member.id == Membership.member_id)
             .where(Membership.network == network).order_by(Member.user_id))
    return [(m, ms) for m, ms in await session.execute(query)]


async def pending_rules(session: AsyncSession, network: str, version: int) -> list[str]:
    """Active members who have not accepted this version of the house rules."""
    query = (select(Member.user_id).join(Membership, Member.id == Membership.member_id)
             .where(Membership.network == network, Membership.state == ACTIVE,
                    (Membership.rules_version.is_(None)) | (Membership.rules_version < version))
             .order_by(Member.user_id))
    return list((await session.execute(query)).scalars())
