"""The decorators that declare what a feature offers; discovery collects what they tag."""
from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api.context import Reply
from api.converters import Converter, converter_of
from api.types import Rest, Role, UserId, Where

Handler = Callable[..., Awaitable[Reply | None]]


@dataclass(frozen=True)
class Param:
    name: str
    kind: type
    optional: bool
    default: Any
    converter: Converter | None = None


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
    local: tuple[tuple[str, str], ...] = ()  # (language, name): the command's name in that language
    user_first: bool = False  # its first argument is a Matrix ID (bot/router.py: two commands, one name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the command answers to, in every language, whatever the member's own."""
        return tuple(dict.fromkeys((self.name, *self.aliases, *(name for _lang, name in self.local))))

    def name_in(self, language: str) -> str:
        """The name `!help` and usage lines show a reader of `language`."""
        return dict(self.local).get(language, self.name)


COMMAND_ATTR = "__kring_command__"
JOB_ATTR = "__kring_job__"
JOB_ALWAYS_ATTR = "__kring_job_always__"
JOB_AHEAD_ATTR = "__kring_job_ahead__"
JOB_EVERY_ATTR = "__kring_job_every__"
FLOW_ATTR = "__kring_flow__"
FLOW_FILES_ATTR = "__kring_flow_files__"
CONFIRMABLE_ATTR = "__kring_confirmable__"
LEAVE_ATTR = "__kring_on_leave__"
SEATS_ATTR = "__kring_on_seats_changed__"
SESSION_ATTR = "__kring_on_session_changed__"
ROOM_EVENT_ATTR = "__kring_on_room_event__"
STARTER_ATTR = "__kring_starts_flow__"
PUBLISHED_ATTR = "__kring_on_published__"


def command(
    name: str,
    *,
    help: str,
    role: Role = Role.MEMBER,
    where: Where = Where.ANY,
    aliases: tuple[str, ...] = (),
    usage: str | None = None,
    local: dict[str, str] | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a chat command. Parsing, usage, !help and access checks all derive from this.
    `local` names it in other languages ({"nl": "aanmelden", "nb": "meld-på"}): every member may
    type any of them; !help shows each reader the name in their language."""

    def decorate(fn: Handler) -> Handler:
        params = _params(fn)
        spec = CommandSpec(
            name=name, handler=fn, role=role, where=where, help_key=help, aliases=aliases,
            usage=usage if usage is not None else " ".join(_usage_of(p) for p in params), params=params,
            local=tuple(sorted((local or {}).items())), user_first=bool(params) and params[0].kind is UserId,
        )
        setattr(fn, COMMAND_ATTR, spec)
        return fn

    return decorate


def job(kind: str, *, always: bool = False, every: timedelta | None = None,
        ahead: bool = False) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """Declare the function the schedule runs for rows of this kind: fn(ctx: JobContext, payload).

    always=True for jobs that repair state (an offer that lapsed still holds a seat): they run
    however late they are, instead of being marked missed after the catch-up window.
    every=<interval>: a sweep that the schedule itself keeps going (a row due at start when none is
    pending, and the next one `every` after each run, in that run's transaction); it always runs.
    ahead=True for a job that only sends DMs (a reminder): it runs a few seconds before its due
    time, as at that time (ctx.now), and its messages are held and sent at it (bot/scheduler.py).
    Whatever makes such a message wrong in those seconds must withdraw it (Schedule.cancel or
    Schedule.withdraw)."""

    def decorate(fn):  # noqa: ANN001, ANN202
        setattr(fn, JOB_ATTR, kind)
        if always or every is not None:
            setattr(fn, JOB_ALWAYS_ATTR, True)
        if every is not None:
            setattr(fn, JOB_EVERY_ATTR, every)
        if ahead:
            setattr(fn, JOB_AHEAD_ATTR, True)
        return fn

    return decorate


def flow(name: str, *, files: bool = False) -> Callable[[Handler], Handler]:
    """Declare the step function of a multi-step conversation: while a person has an open
    conversations row with this flow name in a room, their next plain (non-command) message there
    runs fn(ctx: Context, text: str) -> Reply | None, exactly once, like a command. With
    files=True a file sent there runs it too, with text "" and the file as `ctx.received`."""

    def decorate(fn: Handler) -> Handler:
        setattr(fn, FLOW_ATTR, name)
        if files:
            setattr(fn, FLOW_FILES_ATTR, True)
        return fn

    return decorate


def confirmable(name: str) -> Callable[[Handler], Handler]:
    """Declare what runs when the person answers `!confirm` to `await ctx.confirm(name, args, ...)`:
    fn(ctx: Context, args: dict) -> Reply | None, inside the !confirm command's transaction (so
    re-check permissions and state there: they may have changed). Names must be unique."""

    def decorate(fn: Handler) -> Handler:
        setattr(fn, CONFIRMABLE_ATTR, name)
        return fn

    return decorate


def on_leave(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Declare what a feature lets go of when a person leaves: fn(ctx, user_id, network) with
    network None when the person leaves everything (`!forgetme`, run before the erasers). Runs in
    the transaction of `!leave`, `!remove` or `!forgetme`, through `ctx.release(...)`: e.g. seats
    and waiting-list places go to the next in line."""
    setattr(fn, LEAVE_ATTR, True)
    return fn


def _params(fn: Handler) -> tuple[Param, ...]:
    sig = inspect.signature(fn, eval_str=True)
    out = []
    for p in list(sig.parameters.values())[1:]:  # skip ctx
        kind, optional = p.annotation, p.default is not inspect.Parameter.empty
        args = getattr(kind, "__args__", None)
        if args and type(None) in args:  # X | None
            kind = next(a for a in args if a is not type(None))
            optional = True
        kind, converter = converter_of(kind)
        out.append(Param(p.name, kind, optional, None if p.default is inspect.Parameter.empty else p.default,
                         converter))
    return tuple(out)


def _usage_of(p: Param) -> str:
    """`<event>`, `[workshop]`, `<question...>`: the converter's label, else the parameter's name."""
    label = (p.converter.label if p.converter and p.converter.label else p.name).replace("_", "-")
    label += "..." if p.kind is Rest else ""  # bot/router.py label_of names it the same way
    return f"[{label}]" if p.optional else f"<{label}>"


def on_seats_changed(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Declare what a feature does when who holds a seat at an event may have changed: fn(ctx,
    event), in the same transaction with the event row locked, after someone registered,
    cancelled, declined, accepted or lost an offer, was promoted, or the capacity changed. The
    events feature calls `ctx.seats_changed(event)`; the sessions feature keeps its groups in step
    without either importing the other."""
    setattr(fn, SEATS_ATTR, True)
    return fn


def on_session_changed(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Declare what a feature does when who belongs to a session (a closed group) may have changed:
    fn(ctx, group) with `group` the storage.models.GroupSession row, in the caller's transaction.
    Any feature that adds or removes someone (a case-bringer, a facilitator) calls
    `ctx.session_changed(group)`; the sessions feature then brings the session's room in step
    (invites, removals, power levels) without either importing the other."""
    setattr(fn, SESSION_ATTR, True)
    return fn


def on_room_event(*types: str) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """Declare what a feature does with room events of these types that are not text messages
    (a poll response): fn(ctx: Context, event: RoomEvent). The sync lets these types through
    (encrypted ones decrypted, gaps filled); each event runs once, in its own transaction, like a
    command. Events the bot itself sent come too (a poll it started): the hook tells them apart by
    `event.sender`."""

    def decorate(fn):  # noqa: ANN001, ANN202
        setattr(fn, ROOM_EVENT_ATTR, tuple(types))
        return fn

    return decorate


def starts_flow(name: str) -> Callable[[Handler], Handler]:
    """Declare how the conversation `name` (a @flow) begins with some answers already given:
    fn(ctx: Context, values: dict) -> Reply. Another feature starts it by name with
    `ctx.begin(name, values)`, without importing it (a picked topic opens the event form with its
    title filled in)."""

    def decorate(fn: Handler) -> Handler:
        setattr(fn, STARTER_ATTR, name)
        return fn

    return decorate


def on_published(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Declare what a feature does when an event is published: fn(ctx, event), in the publishing
    transaction. The events feature calls `ctx.published(event)`; `event.origin` says what the
    event came from (e.g. "topic:12", given to `ctx.begin`)."""
    setattr(fn, PUBLISHED_ATTR, True)
    return fn
