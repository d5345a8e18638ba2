"""Events, their workshops, registration and the waiting list, invitations, questions (issue 4)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Event(Base):
    """A dated meeting of one network that members register for; addressed by its short slug."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    network: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(255))
    purpose: Mapped[str] = mapped_column(Text)
    expectations: Mapped[str | None] = mapped_column(Text)
    programme: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    place: Mapped[str | None] = mapped_column(String(500))
    capacity: Mapped[int] = mapped_column(Integer)
    closes_at: Mapped[datetime]
    invite_only: Mapped[bool] = mapped_column(default=False)
    # members confirm purpose and expectations (!confirm) before a seat is taken: seats go in that order
    acknowledge: Mapped[bool] = mapped_column(default=False, server_default=false())
    waitlist_mode: Mapped[str] = mapped_column(String(8), default="offer")
    offer_hours: Mapped[int] = mapped_column(Integer, default=24)
    workshops_per_member: Mapped[int] = mapped_column(Integer, default=1)
    # feedback (issue 19): the form asked after the event (None: the default form) and the last
    # moment an answer is taken (None: the configured number of days after the end)
    feedback_form: Mapped[str | None] = mapped_column(String(64))
    feedback_deadline: Mapped[datetime | None]
    # what the event came from, when another feature started its form ("topic:12")
    origin: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # issue 18: reminder offsets before the start in minutes ("10080,1440,60"; "" none; None the
    # config's), and the deadline for questions or cases sent in advance (None: the event asks none)
    reminder_offsets: Mapped[str | None] = mapped_column(String(200))
    questions_by: Mapped[datetime | None]


class EventWorkshop(Base):
    """A parallel track of an event with its own capacity and waiting list."""

    __tablename__ = "event_workshops"
    __table_args__ = (UniqueConstraint("event_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    capacity: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)


class Registration(Base):
    """One person's place in one queue: the event itself (slot 0) or one workshop (slot = its id).

    The unique (event, person, slot) constraint makes a second registration impossible; the order
    of the waiting list is (arrived_at, arrival_event_id): the command's server timestamp and id."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", "slot"),
        Index("ix_registrations_queue", "event_id", "slot", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("event_workshops.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16))
    arrived_at: Mapped[datetime]
    arrival_event_id: Mapped[str] = mapped_column(String(255))
    offer_expires_at: Mapped[datetime | None]
    offers: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EventInvitation(Base):
    """Who may register for an invite-only event."""

    __tablename__ = "event_invitations"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    invited_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]


class EventQuestion(Base):
    """A question sent in advance; an anonymous one is stored without its sender."""

    __tablename__ = "event_questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
