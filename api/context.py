"""What a handler or a job sees: Context, JobContext, Reply, and the narrow capabilities on them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from api.files import Received, Retention, Vault
from api.i18n import Translator
from api.render import Text
from api.types import Role
from storage import confirmations, networks, sessions

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from api.declared import Declared
    from api.decorators import CommandSpec


@dataclass(frozen=True)
class Reply:
    text: Text
    notice: bool = True
    mentions: tuple[str, ...] = ()
    files: tuple[Attachment, ...] = ()
    about: str | None = None  # the person the reply is about (erased with them; see Chat.send)
    # a list of people (a roster, a CSV file): the bot keeps none of its content once it is sent
    private: bool = False


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    data: bytes


class Chat(Protocol):
    """Sending elsewhere than the reply: written to the outbox in the command's transaction."""

    async def send(self, room_id: str, text: Text, *, notice: bool = False, mentions: tuple[str, ...] = (),
                   about: str | None = None, private: bool = False, files: tuple[Attachment, ...] = (),
                   mention_room: bool = False, pin: bool = False) -> None: ...

    async def dm(self, user_id: str, text: Text, *, notice: bool = False,
                 files: tuple[Attachment, ...] = (), private: bool = False) -> None: ...

    async def send_kept(self, room_id: str, handle: str, filename: str, mimetype: str, *,
                        about: str | None = None) -> None:
        """A file from the vault (ctx.vault) to a room, read only when it is sent."""
        ...

    # Room operations, queued like messages (bot/chat.py OutboxChat has the details).
    async def invite(self, room_id: str, user_id: str) -> None: ...

    async def kick(self, room_id: str, user_id: str, reason: str | None = None, *,
                   private: bool = False) -> None: ...

    async def set_power(self, room_id: str, user_id: str, level: int) -> None: ...

    async def put_state(self, room_id: str, event_type: str, content: dict[str, Any],
                        state_key: str = "") -> None: ...

    async def leave(self, room_id: str) -> None: ...

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> None: ...

    async def set_levels(self, room_id: str, **levels: int) -> None:
        """Change top-level power-level settings of a room (events_default=50: read-only for
        everyone below moderator), keeping the rest as it is on the homeserver."""
        ...

    async def create_room(self, *, name: str, topic: str, marker: dict[str, Any], moderators: tuple[str, ...],
                          invite: tuple[str, ...], then: str, then_payload: dict[str, Any]) -> None:
        """Create a private, encrypted, invite-only room (history visible from joining on, not in
        the directory) carrying the state event `org.kring.session` with `marker`; the homeserver
        creates it once, even across a crash. `invite` is invited with the creation; the job kind
        `then` runs once it exists, with `then_payload` plus room_id and invited (who was)."""
        ...

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any], *,
                         about: str | None = None) -> int:
        """Another event type than a message (a poll start or end); returns the outbox row's id."""
        ...


class Schedule(Protocol):
    """Rows of the schedule table. `about`: the person the action concerns (erased with them);
    `recipient`: the person a reminder goes to (skipped while they have `!reminders off`, erased
    with them); `network`: whose coordinators' room hears of it if it is missed after downtime
    (a payload's "title" names what it was about in that report). Returns the row's id."""

    async def at(self, key: str, kind: str, due_at: datetime, payload: dict[str, Any], *,
                 about: str | None = None, network: str | None = None, recipient: str | None = None) -> int: ...

    async def cancel(self, key: str) -> None: ...

    async def withdraw(self, *, recipient: str | None = None, prefix: str | None = None) -> None:
        """Reminders already prepared ahead of their time (`@job(ahead=True)`) for `recipient`, or
        with keys starting with `prefix`, whose messages are still held: never sent. (`cancel`
        does this for one key.) For whatever makes a prepared reminder wrong: `!reminders off`,
        `!forgetme`, an action point marked done."""
        ...


class Recipients(Protocol):
    """The translator for a message to someone other than the actor: their `!lang`, else the
    language of `network` (or of their network), else the bot's."""

    async def translator(self, user_id: str, network: str | None = None) -> Translator: ...

    async def for_network(self, network: str) -> Translator:
        """For a network's own rooms (announcements, coordinators' room): its language, else the bot's."""
        ...


# A value of a message to someone else that must itself be written in their language.
Localized = Callable[[Translator], Text]


class Telling:
    """Messages to other people, each in the recipient's own language (Context and JobContext)."""

    t: Translator
    chat: Chat
    recipients: Recipients | None
    declared: Declared | None
    vault: Vault | None
    retention: Retention

    async def seats_changed(self, event: Any) -> None:
        """Who holds a seat at `event` may have changed: each feature's @on_seats_changed hook
        follows (the caller has locked the event row)."""
        for hook in self.declared.seat_hooks if self.declared else ():
            await hook(self, event)

    async def session_changed(self, group: Any) -> None:
        """Who belongs to session `group` (a storage.models.GroupSession) may have changed (a member,
        its facilitator, a case-bringer added or removed): each feature's @on_session_changed hook
        follows; the sessions feature brings the session's room in step (invites, removals)."""
        for hook in self.declared.session_hooks if self.declared else ():
            await hook(self, group)
    async def published(self, event: Any) -> None:
        """`event` was just published: each feature's @on_published hook follows."""
        for hook in self.declared.publish_hooks if self.declared else ():
            await hook(self, event)

    async def translator_for(self, user_id: str, network: str | None = None) -> Translator:
        if self.recipients is None:
            return self.t
        return await self.recipients.translator(user_id, network)

    async def tell(self, user_id: str, key: str, *, about_network: str | None = None, notice: bool = False,
                   files: tuple[Attachment | Callable[[Translator], Attachment], ...] = (), private: bool = False,
                   **values: object) -> None:
        """A DM to `user_id` rendered in their language (else that of `about_network`, the network
        the message is about); a callable value (Localized) is rendered with the recipient's
        translator too, e.g. `what=lambda t: t("events.workshop_of", ...)`, and so is a callable file
        (a calendar entry in their language). `private`: no content kept once sent."""
        t = await self.translator_for(user_id, about_network)
        text = t(key, **values)
        await self.chat.dm(user_id, text, notice=notice, files=tuple(f(t) if callable(f) else f for f in files),
                           private=private)

    async def translator_for_network(self, network: str) -> Translator:
        if self.recipients is None:
            return self.t
        return await self.recipients.for_network(network)

    async def post(self, room_id: str, key: str, *, about_network: str, notice: bool = False,
                   about: str | None = None, private: bool = False, **values: object) -> None:
        """A message to one of the network's own rooms (its announcements, its coordinators'
        room), written in the network's language; callable values as for `tell`. `about`: the
        person it concerns (redacted if they ask to be forgotten); `private`: no content kept once sent."""
        t = await self.translator_for_network(about_network)
        await self.chat.send(room_id, t(key, **values), notice=notice, about=about, private=private)


class Runtime(Protocol):
    """Read-only facts about the running bot, for !status."""

    version: str
    started_at: datetime

    async def health(self, session: AsyncSession) -> dict[str, Any]: ...


@dataclass
class Context(Telling):
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
    declared: Declared | None = None
    recipients: Recipients | None = None
    # The message came encrypted (a DM must be, for anything confidential).
    encrypted: bool = False
    # A file sent to a flow that takes files (@flow(..., files=True)); None for a text message.
    received: Received | None = None
    vault: Vault | None = None
    retention: Retention = field(default_factory=Retention)
    _control: tuple[str | None] | None = field(default=None, repr=False)

    async def control_network(self) -> str | None:
        """The network whose coordinators' room this is, when the caller coordinates it (looked up once)."""
        if self._control is None:
            where = await networks.network_of_room(self.db, self.room_id)
            ok = where is not None and where[1] == "control" and self.roles.get(where[0], Role.ANYONE) >= Role.COORDINATOR
            self._control = (where[0] if ok else None,)
        return self._control[0]

    async def is_private(self, network: str | None = None, *, session: Any = None) -> bool:
        """True in the caller's DM, or in the coordinators' room (of `network`, when given); with
        `session` (a GroupSession) also in that session's own room when the caller belongs to it:
        the room is a private place of its participants for what concerns that session only."""
        if self.is_dm:
            return True
        if session is not None and session.room_id == self.room_id:
            return await sessions.belongs(self.db, session, self.sender)
        here = await self.control_network()
        return here is not None and network in (None, here)

    async def session_here(self) -> Any:
        """The session (GroupSession) whose private room this is, when the caller belongs to it;
        else None (another room, or an outsider who got in)."""
        group = await sessions.by_room(self.db, self.room_id)
        if group is None or not await sessions.belongs(self.db, group, self.sender):
            return None
        return group

    def reply(self, key: str, **values: object) -> Reply:
        return Reply(self.t(key, **values))

    async def confirm(self, name: str, args: dict[str, Any], *, summary: Text | str,
                      ttl: timedelta = confirmations.TTL) -> Reply:
        """Ask before a destructive or bulk action: remember `name` (declared with @confirmable)
        and its JSON-serialisable `args` for this person in this room, and return the question.
        `!confirm` runs the action (within `ttl`); `!stop` drops it."""
        if self.declared is None or name not in self.declared.confirmables:
            raise KeyError(f"no confirmable action {name!r}")
        await confirmations.ask(self.db, self.sender, self.room_id, name, args, self.now, ttl)
        minutes = int(ttl.total_seconds() // 60)
        return self.reply("confirm.ask", summary=summary, prefix=self.prefix, minutes=minutes)

    async def begin(self, flow_name: str, values: dict[str, Any]) -> Reply:
        """Start the conversation `flow_name` for the caller here with `values` already given (the
        owning feature declared how with @starts_flow)."""
        starter = self.declared.starters.get(flow_name) if self.declared else None
        if starter is None:
            raise KeyError(f"no prefilled start for flow {flow_name!r}")
        return await starter(self, values)

    async def release(self, user_id: str, network: str | None = None) -> None:
        """The person leaves `network` (None: every network): each feature's @on_leave hook lets
        go of what they held there (seats go to the next in line)."""
        for hook in self.declared.leave_hooks if self.declared else ():
            await hook(self, user_id, network)


@dataclass
class JobContext(Telling):
    """What a scheduled action sees: no sender, no reply, the same capabilities. `t` is the bot's
    language; a message to a person goes through `tell` (their language); `prefix` is the
    configured command prefix, for the commands a message names."""

    now: datetime
    db: AsyncSession
    t: Translator
    chat: Chat
    schedule: Schedule
    prefix: str = "!"
    recipients: Recipients | None = None
    declared: Declared | None = None
    vault: Vault | None = None
    retention: Retention = field(default_factory=Retention)
