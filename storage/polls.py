"""Member polls: the poll, members' latest responses to a native poll, and for an anonymous poll
only who voted (never what), a count per option and the hashes of the voters' change codes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxItem, Poll, PollCount, PollReceipt, PollSettings, PollVote, PollVoter
from storage.privacy import eraser, exporter
from storage.sql import insert_ignore, upsert

DEFAULT_TOPIC_VOTES = 3


async def configure(session: AsyncSession, network: str, *, members_may_poll: bool, topic_votes: int) -> None:
    await upsert(session, PollSettings, {"network": network, "members_may_poll": members_may_poll,
                                         "topic_votes": topic_votes}, key="network")


async def settings(session: AsyncSession, network: str) -> PollSettings:
    row = await session.get(PollSettings, network)
    return row or PollSettings(network=network, members_may_poll=False, topic_votes=DEFAULT_TOPIC_VOTES)


async def create(session: AsyncSession, *, network: str, room_id: str, creator: str, question: str,
                 options: list[dict[str, str]], max_selections: int, kind: str, closes_at: datetime | None,
                 now: datetime) -> Poll:
    poll = Poll(network=network, room_id=room_id, creator=creator, question=question, options=options,
                max_selections=max_selections, kind=kind, closes_at=closes_at, created_at=now)
    session.add(poll)
    await session.flush()
    if kind == "anonymous":
        for number in range(1, len(options) + 1):
            session.add(PollCount(poll_id=poll.id, option=number, count=0))
        await session.flush()
    return poll


async def get(session: AsyncSession, poll_id: int, *, lock: bool = False) -> Poll | None:
    query = select(Poll).where(Poll.id == poll_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def by_start_event(session: AsyncSession, room_id: str, event_id: str) -> Poll | None:
    """The poll whose start event this is: bound when the bot saw its own start in the timeline,
    else found by the outbox row that sent it (the homeserver's answer is stored there)."""
    query = select(Poll).where(Poll.room_id == room_id, Poll.event_id == event_id)
    poll = (await session.execute(query)).scalar_one_or_none()
    if poll is not None:
        return poll
    query = (select(Poll).join(OutboxItem, OutboxItem.id == Poll.outbox_id)
             .where(Poll.room_id == room_id, Poll.event_id.is_(None), OutboxItem.event_id == event_id))
    poll = (await session.execute(query)).scalar_one_or_none()
    if poll is not None:
        poll.event_id = event_id
    return poll


async def start_event_id(session: AsyncSession, poll: Poll) -> str | None:
    if poll.event_id is None and poll.outbox_id is not None:
        item = await session.get(OutboxItem, poll.outbox_id)
        poll.event_id = item.event_id if item else None
    return poll.event_id


async def record_vote(session: AsyncSession, poll_id: int, user_id: str, answers: list[str], at: datetime) -> bool:
    """A member's response; the latest (by the time the homeserver gave it) counts. False when a
    later response of theirs is already kept."""
    if await insert_ignore(session, PollVote, {"poll_id": poll_id, "user_id": user_id, "answers": answers,
                                               "voted_at": at}):
        return True
    result = await session.execute(
        update(PollVote).where(PollVote.poll_id == poll_id, PollVote.user_id == user_id, PollVote.voted_at <= at)
        .values(answers=answers, voted_at=at))
    return (result.rowcount or 0) == 1


async def votes(session: AsyncSession, poll_id: int) -> list[PollVote]:
    query = select(PollVote).where(PollVote.poll_id == poll_id).order_by(PollVote.id)
    return list((await session.execute(query)).scalars())


async def close(session: AsyncSession, poll: Poll, now: datetime) -> bool:
    """Mark the poll closed; False if it already was (a close and its job racing)."""
    result = await session.execute(update(Poll).where(Poll.id == poll.id, Poll.closed_at.is_(None))
                                   .values(closed_at=now))
    if (result.rowcount or 0) == 1:
        poll.closed_at = now
        return True
    return False


async def open_polls(session: AsyncSession, network: str) -> list[Poll]:
    query = select(Poll).where(Poll.network == network, Poll.closed_at.is_(None)).order_by(Poll.id)
    return list((await session.execute(query)).scalars())


# ---- anonymous polls: who voted, and counts; nothing ties the two ----------------------------
async def has_voted(session: AsyncSession, poll_id: int, user_id: str) -> bool:
    query = select(PollVoter.id).where(PollVoter.poll_id == poll_id, PollVoter.user_id == user_id)
    return (await session.execute(query)).first() is not None


async def mark_voted(session: AsyncSession, poll_id: int, user_id: str) -> bool:
    return await insert_ignore(session, PollVoter, {"poll_id": poll_id, "user_id": user_id})


async def count(session: AsyncSession, poll_id: int, option: int, delta: int) -> None:
    await session.execute(update(PollCount).where(PollCount.poll_id == poll_id, PollCount.option == option)
                          .values(count=PollCount.count + delta))


async def counts(session: AsyncSession, poll_id: int) -> dict[int, int]:
    query = select(PollCount.option, PollCount.count).where(PollCount.poll_id == poll_id)
    return {option: n for option, n in await session.execute(query)}


async def voters(session: AsyncSession, poll_id: int) -> int:
    query = select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll_id)
    return (await session.execute(query)).scalar_one()


async def keep_receipt(session: AsyncSession, poll_id: int, digest: str) -> None:
    session.add(PollReceipt(digest=digest, poll_id=poll_id))
    await session.flush()


async def spend_receipt(session: AsyncSession, poll_id: int, digest: str) -> bool:
    result = await session.execute(delete(PollReceipt).where(PollReceipt.poll_id == poll_id,
                                                             PollReceipt.digest == digest))
    return (result.rowcount or 0) == 1


# ---- privacy ---------------------------------------------------------------------------------
@exporter("polls")
async def _export(session: AsyncSession, user_id: str) -> dict[str, Any]:
    created = (await session.execute(select(Poll).where(Poll.creator == user_id).order_by(Poll.id))).scalars()
    named = await session.execute(select(Poll, PollVote).join(PollVote, PollVote.poll_id == Poll.id)
                                  .where(PollVote.user_id == user_id).order_by(Poll.id))
    voted = (await session.execute(select(Poll).join(PollVoter, PollVoter.poll_id == Poll.id)
                                   .where(PollVoter.user_id == user_id).order_by(Poll.id))).scalars()
    return {
        "created": [{"poll": p.id, "question": p.question, "created_at": p.created_at.isoformat()} for p in created],
        "votes": [{"poll": p.id, "question": p.question, "answers": [_answer_text(p, a) for a in v.answers],
                   "at": v.voted_at.isoformat()} for p, v in named],
        # anonymous polls: only that the person voted; what they chose is stored nowhere
        "voted_anonymously": [{"poll": p.id, "question": p.question} for p in voted],
    }


def _answer_text(poll: Poll, answer_id: str) -> str:
    return next((o["text"] for o in poll.options if o["id"] == answer_id), answer_id)


@eraser("polls")
async def _erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Named responses go (the tally loses them); an anonymous vote cannot be found and stays
    counted; polls they created stay for the others, without their name."""
    await session.execute(delete(PollVote).where(PollVote.user_id == user_id))
    await session.execute(delete(PollVoter).where(PollVoter.user_id == user_id))
    await session.execute(update(Poll).where(Poll.creator == user_id).values(creator=None))
