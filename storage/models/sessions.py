"""Closed sessions (issue 16): groups, their rooms and members, and the method guide's record."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class GroupSession(Base):
    """One closed group of an event (slot 0) or of one of its workshops (slot = the workshop's id),
    numbered from 1 within it, with at most `size` members, its facilitator, and its private room
    once opened (room_state: none, creating, open, closed). The method guide's place is kept here."""

    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("event_id", "slot", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("event_workshops.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer, default=0)
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    facilitator: Mapped[str | None] = mapped_column(String(255), index=True)
    room_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    room_state: Mapped[str] = mapped_column(String(16), default="none")
    method: Mapped[str | None] = mapped_column(String(64))
    phase: Mapped[int | None] = mapped_column(Integer)
    turn: Mapped[int | None] = mapped_column(Integer)
    case_bringer: Mapped[str | None] = mapped_column(String(255))
    phase_started_at: Mapped[datetime | None]  # when the current phase began (time left)
    timer_due: Mapped[datetime | None]  # the facilitator's running !timer, if any
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SessionRoomMember(Base):
    """Who the bot has let into a session's private room (invited), at which power level: what the
    room is brought in step with when the group changes (storage.sessions.wanted)."""

    __tablename__ = "session_room_members"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    invited_at: Mapped[datetime]


class SessionMember(Base):
    """A participant of a session; `position` is the fixed order of turns. One group per person
    per event or workshop (the unique constraint), so a move is an update, never a second row."""

    __tablename__ = "session_members"
    __table_args__ = (UniqueConstraint("event_id", "slot", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    position: Mapped[int] = mapped_column(Integer)
    joined_at: Mapped[datetime]


class SessionContribution(Base):
    """A participant's contribution to a written round (phase index), kept until revealed and after."""

    __tablename__ = "session_contributions"
    __table_args__ = (UniqueConstraint("session_id", "phase", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    phase: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    revealed_at: Mapped[datetime | None]


class SessionStep(Base):
    """One step of the method guide, as it happened: started, a phase moved, a turn given, a timer
    set or run out, a written round revealed, a report or outcome. `actor` is who did it (None: the
    bot, or a person since forgotten)."""

    __tablename__ = "session_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255), index=True)
    step: Mapped[str] = mapped_column(String(32))
    phase: Mapped[int | None] = mapped_column(Integer)
    turn: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(255))


class SessionAction(Base):
    """An action point of a session: what, who (owner), by when (a date, optional), and whether it
    is done. Reminders read owner, due_on and done_at."""

    __tablename__ = "session_actions"
    __table_args__ = (Index("ix_session_actions_open_due", "done_at", "due_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    created_by: Mapped[str | None] = mapped_column(String(255))
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(255))


class SessionReport(Base):
    """A session's report (only its participants may read it, unless the facilitator shared it
    with the coordinators) and its short outcome without names (posted in the announcements room)."""

    __tablename__ = "session_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(255))
    written_at: Mapped[datetime | None]
    shared_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None]
