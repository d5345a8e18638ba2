"""Addressing sessions and reading an event's groups. A session is written `<event>/<n>` (group n
of the event) or `<event>/<workshop>/<n>` (of one of its workshops), as `!sessions` lists them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from api import Context, Translator, UserError, whole_number
from api.converters import Converter
from api.event_args import find_event, find_workshop
from api.render import code
from commands.sessions.grouping import Group, Person
from storage import registrations as regs, sessions
from storage.models import Event, EventWorkshop, GroupSession, Member, SessionMember

if TYPE_CHECKING:
    from api.render import Text


@dataclass
class Groups:
    """One queue's sessions (of the event, or of one workshop) with their members, read together."""

    event: Event
    workshop: EventWorkshop | None
    rows: list[GroupSession]
    members: dict[int, list[SessionMember]] = field(default_factory=dict)

    @property
    def slot(self) -> int:
        return self.workshop.id if self.workshop else 0

    def ref(self, row: GroupSession | int) -> str:
        number = row if isinstance(row, int) else row.number
        return f"{self.event.slug}/{self.workshop.key}/{number}" if self.workshop else f"{self.event.slug}/{number}"

    def what(self, t: Translator) -> Text | str:
        """The event, or "workshop W of the event", for a message."""
        return t("events.workshop_of", workshop=self.workshop.name, title=self.event.title) if self.workshop \
            else self.event.title

    def user_ids(self) -> list[str]:
        return [m.user_id for row in self.rows for m in self.members.get(row.id, [])]

    def row_of(self, number: int) -> GroupSession:
        return next(r for r in self.rows if r.number == number)

    def as_groups(self, people: dict[str, Member]) -> list[Group]:
        """The rule module's view of the groups: people with their organisations."""
        return [Group(row.number, row.size, [person(m.user_id, people) for m in self.members.get(row.id, [])])
                for row in self.rows]


def person(user_id: str, people: dict[str, Member]) -> Person:
    member = people.get(user_id)
    return Person(user_id, member.organisation if member else None)


async def load(ctx: Context, event: Event, workshop: EventWorkshop | None) -> Groups:
    rows = await sessions.of_event(ctx.db, event.id, workshop.id if workshop else 0)
    return Groups(event, workshop, rows, await sessions.members(ctx.db, [r.id for r in rows]))


async def confirmed(ctx: Context, event: Event, slot: int) -> list[str]:
    """Who holds a confirmed seat in this queue, in order of arrival."""
    return [r.user_id for r in await regs.of_event(ctx.db, event.id, [regs.CONFIRMED]) if r.slot == slot]


@dataclass(frozen=True)
class Picked:
    """A session named in a command, with the groups of its queue (the event row locked)."""

    row: GroupSession
    groups: Groups

    @property
    def ref(self) -> str:
        return self.groups.ref(self.row)


@dataclass(frozen=True)
class SessionArg(Converter):
    """`event-id/2` or `event-id/workshop/2`; `manage` needs a coordinator of the event's network."""

    manage: bool = False
    label: str = "session"

    async def convert(self, ctx: Context, raw: str, bound: dict[str, Any]) -> Picked:
        parts = raw.strip().split("/")
        number = whole_number(parts[-1]) if len(parts) in (2, 3) else None
        if number is None:
            raise UserError("sessions.ref.bad", value=raw[:60], example=code("event-id/2"))
        event = await find_event(ctx, parts[0], lock=True, manage=self.manage)
        workshop = await find_workshop(ctx, event, parts[1]) if len(parts) == 3 else None
        groups = await load(ctx, event, workshop)
        if number not in {r.number for r in groups.rows}:
            raise UserError("sessions.ref.unknown", ref=raw[:60], sessions=code(f"{ctx.prefix}sessions {event.slug}"))
        return Picked(groups.row_of(number), groups)


ManagedSession = Annotated[Picked, SessionArg(manage=True)]
