"""Topics proposed for a coming gathering, and members' votes on them."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Topic, TopicVote
from storage.privacy import eraser, exporter
from storage.sql import insert_ignore


async def propose(session: AsyncSession, network: str, proposer: str, text: str, now: datetime) -> Topic:
    topic = Topic(network=network, text=text, proposer=proposer, state="open", created_at=now)
    session.add(topic)
    await session.flush()
    return topic


async def get(session: AsyncSession, topic_id: int) -> Topic | None:
    return await session.get(Topic, topic_id)


async def listing(session: AsyncSession, network: str, states: tuple[str, ...] = ("open",)) -> list[tuple[Topic, int]]:
    """Topics with their vote counts, most votes first, then oldest."""
    votes = func.count(TopicVote.id)
    query = (select(Topic, votes).outerjoin(TopicVote, TopicVote.topic_id == Topic.id)
             .where(Topic.network == network, Topic.state.in_(states))
             .group_by(Topic.id).order_by(votes.desc(), Topic.id))
    return [(t, n) for t, n in await session.execute(query)]


async def open_votes(session: AsyncSession, network: str, user_id: str) -> int:
    """How many open topics of the network the member has a vote on."""
    query = (select(func.count()).select_from(TopicVote).join(Topic, Topic.id == TopicVote.topic_id)
             .where(TopicVote.user_id == user_id, Topic.network == network, Topic.state == "open"))
    return (await session.execute(query)).scalar_one()


async def vote(session: AsyncSession, topic_id: int, user_id: str, now: datetime) -> bool:
    return await insert_ignore(session, TopicVote, {"topic_id": topic_id, "user_id": user_id, "created_at": now})


async def unvote(session: AsyncSession, topic_id: int, user_id: str) -> bool:
    result = await session.execute(delete(TopicVote).where(TopicVote.topic_id == topic_id,
                                                           TopicVote.user_id == user_id))
    return (result.rowcount or 0) == 1


async def voters(session: AsyncSession, topic_id: int) -> list[str]:
    query = select(TopicVote.user_id).where(TopicVote.topic_id == topic_id).order_by(TopicVote.id)
    return list((await session.execute(query)).scalars())


async def vote_count(session: AsyncSession, topic_id: int) -> int:
    query = select(func.count()).select_from(TopicVote).where(TopicVote.topic_id == topic_id)
    return (await session.execute(query)).scalar_one()


def end(topic: Topic, state: str, now: datetime, reason: str | None = None) -> None:
    topic.state, topic.closed_at, topic.reason = state, now, reason


async def picked_for(session: AsyncSession, network: str, event_slug: str) -> list[Topic]:
    query = select(Topic).where(Topic.network == network, Topic.event_slug == event_slug, Topic.state == "picked")
    return list((await session.execute(query)).scalars())


@exporter("topics")
async def _export(session: AsyncSession, user_id: str) -> dict[str, Any]:
    proposed = (await session.execute(select(Topic).where(Topic.proposer == user_id).order_by(Topic.id))).scalars()
    voted = (await session.execute(select(Topic).join(TopicVote, TopicVote.topic_id == Topic.id)
                                   .where(TopicVote.user_id == user_id).order_by(Topic.id))).scalars()
    return {"proposed": [{"topic": t.id, "network": t.network, "text": t.text, "state": t.state,
                          "at": t.created_at.isoformat()} for t in proposed],
            "votes": [{"topic": t.id, "network": t.network, "text": t.text} for t in voted]}


@eraser("topics")
async def _erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Their votes go; an open proposal of theirs is withdrawn; a picked or closed one stays for the
    network's record, without their name."""
    await session.execute(delete(TopicVote).where(TopicVote.user_id == user_id))
    await session.execute(update(Topic).where(Topic.proposer == user_id, Topic.state == "open")
                          .values(state="withdrawn", closed_at=now))
    await session.execute(update(Topic).where(Topic.proposer == user_id).values(proposer=None))
