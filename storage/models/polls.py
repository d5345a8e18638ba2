"""Polls: a network's poll rules, polls, votes, anonymous tallies and receipts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class PollSettings(Base):
    """A network's configured rules for polls and topic votes (copied from the config at start)."""

    __tablename__ = "poll_settings"
    network: Mapped[str] = mapped_column(String(32), primary_key=True)
    members_may_poll: Mapped[bool] = mapped_column(default=False, server_default=false())
    topic_votes: Mapped[int] = mapped_column(Integer, default=3)


class Poll(Base):
    """A member poll in one of a network's open rooms. `options` is a list of {"id", "text"};
    kind is disclosed, undisclosed (native polls) or anonymous (text, votes by DM)."""

    __tablename__ = "polls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(32), index=True)
    room_id: Mapped[str] = mapped_column(String(255))
    creator: Mapped[str | None] = mapped_column(String(255), index=True)
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column(JSON)
    max_selections: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(16))
    closes_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # the start event: known from the bot's own event in the timeline, or the outbox row that sent it
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]


class PollVote(Base):
    """A member's latest response to a native poll (visible to the room anyway)."""

    __tablename__ = "poll_votes"
    __table_args__ = (UniqueConstraint("poll_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    answers: Mapped[list[Any]] = mapped_column(JSON)
    voted_at: Mapped[datetime]


class PollVoter(Base):
    """That a member voted in an anonymous poll: never what (one vote each)."""

    __tablename__ = "poll_voters"
    __table_args__ = (UniqueConstraint("poll_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255), index=True)


class PollCount(Base):
    """An anonymous poll's running tally: a count per option, no ballots."""

    __tablename__ = "poll_counts"
    __table_args__ = (UniqueConstraint("poll_id", "option"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    option: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)


class PollReceipt(Base):
    """The hash of a change code the bot gave a voter in an anonymous poll (with the option inside
    the hash): only the code, which only the voter holds, finds it again. No person, no time."""

    __tablename__ = "poll_receipts"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
