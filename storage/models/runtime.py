"""The bot's own bookkeeping: handled events, runtime facts, DMs, the outbox, the schedule, pending decryptions, conversations."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


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
    # a reminder prepared ahead of its time (bot/scheduler.py): held until send_at, and the
    # schedule row it came from, by which a cancellation withdraws it while it is held
    send_at: Mapped[datetime | None]
    action_id: Mapped[int | None] = mapped_column(Integer, index=True)


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
