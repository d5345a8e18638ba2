"""SQLAlchemy models. Every time is stored in UTC (timezone-aware columns)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint, false
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, also on SQLite (which forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):  # noqa: ANN001
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value



class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class ProcessedEvent(Base):
    """A Matrix event the bot has handled; its presence makes a replay a no-op."""

    __tablename__ = "processed_events"
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    command: Mapped[str | None] = mapped_column(String(64))
    processed_at: Mapped[datetime]


class KeyValue(Base):
    """Small runtime facts that must survive a restart (the sync token, first-sync time)."""

    __tablename__ = "key_values"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class DirectRoom(Base):
    """The bot's own record of which rooms are one-to-one conversations with whom."""

    __tablename__ = "direct_rooms"
    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime]


class Member(Base):
    """A person Kring knows, by Matrix ID; profile values are optional."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    organisation: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    reminders_off: Mapped[bool] = mapped_column(default=False, server_default=false())  # `!reminders off`


class Membership(Base):
    """A member's standing and role in one network."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("network", "member_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    # issue 3: the join request's note, the house-rules version accepted, when the state last changed
    note: Mapped[str | None] = mapped_column(Text)
    rules_version: Mapped[int | None] = mapped_column(Integer)
    rules_accepted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


class OutboxItem(Base):
    """Something to send to the homeserver, written in the transaction that decided it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "done_at", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    room_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    txn_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    # the person a message is about (a join request in the control room): erased with them by this
    # column, and the sent event (event_id, from the homeserver) redacted
    about: Mapped[str | None] = mapped_column(String(255), index=True)
    event_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class ScheduledAction(Base):
    """The record of every future action; APScheduler only wakes the bot for it."""

    __tablename__ = "schedule"
    __table_args__ = (Index("ix_schedule_pending", "done_at", "due_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    about: Mapped[str | None] = mapped_column(String(255), index=True)  # the person it concerns, erased with them
    # issue 18: the network whose control room hears of a missed row; the person a reminder goes to
    # (muted by `!reminders off`, erased with them)
    network: Mapped[str | None] = mapped_column(String(64))
    recipient: Mapped[str | None] = mapped_column(String(255), index=True)


class PendingDecryption(Base):
    """An encrypted event the bot could not read yet; handled once its key arrives."""

    __tablename__ = "pending_decryptions"
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))
    session_id: Mapped[str] = mapped_column(String(255), index=True)
    received_at: Mapped[datetime]


class Conversation(Base):
    """A multi-step flow in progress (who, where, which flow and step, answers so far)."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("user_id", "room_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    room_id: Mapped[str] = mapped_column(String(255))
    flow: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    expires_at: Mapped[datetime]


# ---- membership (issue 3) ---------------------------------------------------------------
class Network(Base):
    """A network as configured, kept in the database so commands can read it (and notice changes)."""

    __tablename__ = "networks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    house_rules: Mapped[str] = mapped_column(Text, default="")
    rules_version: Mapped[int] = mapped_column(Integer, default=1)
    auto_approve: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    reminder_offsets: Mapped[str | None] = mapped_column(String(200))  # minutes before an event, "10080,1440,60"


class NetworkRoom(Base):
    """One of a network's own rooms (space, lobby, announcements, control) and its Matrix room id."""

    __tablename__ = "network_rooms"
    __table_args__ = (UniqueConstraint("network", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    room_id: Mapped[str] = mapped_column(String(255), unique=True)
    room_version: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="ok")
    created_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]


# ---- events, registration and the waiting list (issue 4) ----------------------------------
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


# ---- closed sessions (issue 16) ---------------------------------------------------------------
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


# ---- feedback (issue 19) ---------------------------------------------------------------------
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
# ---- cases (issue 17) --------------------------------------------------------------------
class Case(Base):
    """A member's confidential case: brought in a DM, queued, attached to a session once its
    case-bringer agreed. Its content (title, text, summary, file) is erased on withdrawal, on
    purge after the retention time, and with the person; the row then keeps only its state."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    network: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    named: Mapped[bool] = mapped_column(default=False)
    coordinators_read: Mapped[bool] = mapped_column(default=False)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    asked_session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    file_handle: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None] = mapped_column(Integer)
    file_to_session: Mapped[bool] = mapped_column(default=False)
    shared_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]




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


class Topic(Base):
    """A topic proposed for a coming gathering; state open, withdrawn, closed or picked."""

    __tablename__ = "topics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)
    proposer: Mapped[str | None] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16), default="open")
    reason: Mapped[str | None] = mapped_column(Text)
    event_slug: Mapped[str | None] = mapped_column(String(64))  # the event it became, once picked
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class TopicVote(Base):
    __tablename__ = "topic_votes"
    __table_args__ = (UniqueConstraint("topic_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime]
