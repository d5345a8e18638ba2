"""Members, their standing in a network, and the networks with their rooms (issue 3)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


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
