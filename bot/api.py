"""What command handlers see: the decorators, Context, Reply and errors. Commands never import nio."""
from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.i18n import Translator
from bot.render import Text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class Role(enum.IntEnum):
    """Ordered: a higher role may do everything a lower one may."""

    ANYONE = 0
    MEMBER = 1
    FACILITATOR = 2
    COORDINATOR = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        return cls[name.upper()]


class Where(enum.Enum):
    ANY = "any"
    DM = "dm"
    ROOM = "room"
    # The caller's DM with the bot, or a network's coordinators' control room: for commands that
    # name people or show personal data. The router only knows is_dm, so it lets these through
    # everywhere; the handler must call commands.common.places.require_private (which knows the
    # control rooms) before it reads anything personal.
    PRIVATE = "private"


class UserError(Exception):
    """A mistake the user can fix; answered politely from the catalogue entry `key`."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


class Rest(str):
    """Annotation for the last parameter: takes the rest of the message verbatim."""


class UserId(str):
    """Annotation for a Matrix ID argument (@name:server)."""


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


Handler = Callable[..., Awaitable[Reply | None]]


@dataclass(frozen=True)
class Param:
    name: str
    kind: type
    optional: bool
    default: Any


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler
    role: Role
    where: Where
    help_key: str
    usage: str
    aliases: tuple[str, ...]
    params: tuple[Param, ...]
    feature: str = ""
    confidential: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


COMMAND_ATTR = "__kring_command__"
JOB_ATTR = "__kring_job__"
JOB_ALWAYS_ATTR = "__kring_job_always__"
FLOW_ATTR = "__kring_flow__"


def command(
    name: str,
    *,
    help: str,
    role: Role = Role.MEMBER,
    where: Where = Where.ANY,
    aliases: tuple[str, ...] = (),
    usage: str | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a chat command. Parsing, usage, !help and access checks all derive from this."""

    def decorate(fn: Handler) -> Handler:
        params = _params(fn)
        spec = CommandSpec(
            name=name, handler=fn, role=role, where=where, help_key=help, aliases=aliases,
            usage=usage if usage is not None else " ".join(_usage_of(p) for p in params), params=params,
        )
        setattr(fn, COMMAND_ATTR, spec)
        return fn

    return decorate


def job(kind: str, *, always: bool = False) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """Declare the function the schedule runs for rows of this kind: fn(ctx: JobContext, payload).

    always=True for jobs that repair state (an offer that lapsed still holds a seat): they run
    however late they are, instead of being marked missed after the catch-up window."""

    def decorate(fn):  # noqa: ANN001, ANN202
        setattr(fn, JOB_ATTR, kind)
        if always:
            setattr(fn, JOB_ALWAYS_ATTR, True)
        return fn

    return decorate


def flow(name: str) -> Callable[[Handler], Handler]:
    """Declare the step function of a multi-step conversation: while a person has an open
    conversations row with this flow name in a room, their next plain (non-command) message there
    runs fn(ctx: Context, text: str) -> Reply | None, exactly once, like a command."""

    def decorate(fn: Handler) -> Handler:
        setattr(fn, FLOW_ATTR, name)
        return fn

    return decorate


def _params(fn: Handler) -> tuple[Param, ...]:
    sig = inspect.signature(fn, eval_str=True)
    out = []
    for p in list(sig.parameters.values())[1:]:  # skip ctx
        kind, optional = p.annotation, p.default is not inspect.Parameter.empty
        args = getattr(kind, "__args__", None)
        if args:  # X | None
            kind = next(a for a in args if a is not type(None))
            optional = True
        out.append(Param(p.name, kind, optional, None if p.default is inspect.Parameter.empty else p.default))
    return tuple(out)


def _usage_of(p: Param) -> str:
    label = p.name.replace("_", "-") + ("..." if p.kind is Rest else "")
    return f"[{label}]" if p.optional else f"<{label}>"
