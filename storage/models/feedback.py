"""Feedback (issue 19): answers, who has answered, forms being filled in."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class FeedbackAnswer(Base):
    """One filled-in feedback form. A named answer keeps its author (user_id) and moment; an
    answer to an anonymous form keeps neither: no user, no room, only the day (answered_at at
    midnight UTC), and a random id so that not even the order of rows hints at who sent it. A
    group's answer names its session."""

    __tablename__ = "feedback_answers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    form: Mapped[str] = mapped_column(String(64))
    anonymous: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    answered_at: Mapped[datetime]


class FeedbackResponded(Base):
    """Only that a person (session_id 0) or a group (its session) has answered an event's form, so
    each answers once and nudges skip them; nothing about what was answered or when."""

    __tablename__ = "feedback_responded"
    __table_args__ = (UniqueConstraint("event_id", "user_id", "session_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    session_id: Mapped[int] = mapped_column(Integer, default=0)


class FeedbackProgress(Base):
    """A form being filled in: the question reached and the answers so far. Kept across `!stop`
    (a later `!feedback` resumes); deleted the moment the answer is stored."""

    __tablename__ = "feedback_progress"
    __table_args__ = (UniqueConstraint("event_id", "user_id", "session_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    session_id: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
