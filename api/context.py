"""What a handler or a job sees: Context, JobContext, Reply, and the narrow capabilities on them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from api.i18n import Translator
from api.render import Text
from api.types import Role

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from api.decorators import CommandSpec


@dataclass(frozen=True)
class Reply:
    text: Text
    notice: bool = True
    mentions: tuple[str, ...] = ()
    files: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    data: bytes


class Chat(Protocol):
    """Sending elsewhere than the reply: written to the outbox in the command's transaction."""

    async def send(self, room_id: str, text: Text, *, notice: bool = False,
                   mentions: tuple[str, ...] = ()) -> None: ...

    async def dm(self, user_id: str, text: Text, *, notice: bool = False,
                 files: tuple[Attachment, ...] = ()) -> None: ...

    # Room operations, queued like messages (bot/chat.py OutboxChat has the details).
    async def invite(self, room_id: str, user_id: str) -> None: ...

    async def kick(self, room_id: str, user_id: str, reason: str | None = None, *,
                   private: bool = False) -> None: ...

    async def set_power(self, room_id: str, user_id: str, level: int) -> None: ...

    async def put_state(self, room_id: str, event_type: str, content: dict[str, Any],
                        state_key: str = "") -> None: ...

    async def leave(self, room_id: str) -> None: ...


class Schedule(Protocol):
    async def at(self, key: str, kind: str, due_at: datetime, payload: dict[str, Any]) -> None: ...

    async def cancel(self, key: str) -> None: ...


class Runtime(Protocol):
    """Read-only facts about the running bot, for !status."""

    version: str
    started_at: datetime

    async def health(self, session: AsyncSession) -> dict[str, Any]: ...


@dataclass
class Context:
    sender: str
    room_id: str
    is_dm: bool
    event_id: str
    event_time: datetime
    now: datetime
    role: Role
    roles: dict[str, Role]
    db: AsyncSession
    t: Translator
    chat: Chat
    schedule: Schedule
    runtime: Runtime
    prefix: str
    commands: list[CommandSpec] = field(default_factory=list)
    # Set by a handler whose sender must not be traceable afterwards (an anonymous question): the
    # record that the command ran then keeps neither its room nor its exact time.
    untraceable: bool = False

    def reply(self, key: str, **values: object) -> Reply:
        return Reply(self.t(key, **values))


@dataclass
class JobContext:
    """What a scheduled action sees: no sender, no reply, the same capabilities."""

    now: datetime
    db: AsyncSession
    t: Translator
    chat: Chat
    schedule: Schedule
