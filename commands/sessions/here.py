"""The session whose private room a command was typed in, who takes part in it, and who may move
it on: the facilitator only. Everything said in a session room about its work is rendered in the
network's language, since the whole group reads it."""
from __future__ import annotations

from dataclasses import dataclass

from api import Context, Translator, UserError
from api.methods import Method, Phase, available
from api.render import Text, code
from commands.sessions import views
from storage import events, guide, sessions
from storage.models import Event, EventWorkshop, GroupSession, Member


@dataclass
class Here:
    """A session with its event, workshop, participants (fixed order) and people (for names)."""

    row: GroupSession
    event: Event
    workshop: EventWorkshop | None
    participants: list[str]
    people: dict[str, Member]

    @property
    def ref(self) -> str:
        return f"{self.event.slug}/{self.workshop.key}/{self.row.number}" if self.workshop \
            else f"{self.event.slug}/{self.row.number}"

    def what(self, t: Translator) -> Text | str:
        return t("events.workshop_of", workshop=self.workshop.name, title=self.event.title) if self.workshop \
            else self.event.title

    def takes_part(self, user_id: str) -> bool:
        return user_id in self.participants or user_id == self.row.facilitator

    def name(self, user_id: str) -> Text:
        return views.name(user_id, self.people)

    @property
    def method(self) -> Method | None:
        return available().get(self.row.method or "")

    @property
    def phase(self) -> Phase | None:
        method = self.method
        if method is None or self.row.phase is None or not 0 <= self.row.phase < len(method.phases):
            return None
        return method.phases[self.row.phase]

    def speakers(self, phase: Phase) -> list[str]:
        """Who takes part in a round: the participants in their fixed order, without the
        facilitator (who guides, and does not bring content) and, where the phase says, without
        the case-bringer."""
        if not phase.round:
            return []
        return [p for p in self.participants if p != self.row.facilitator
                and not (phase.skip_case_bringer and p == self.row.case_bringer)]


async def load(ctx: Context, row: GroupSession) -> Here:
    event = await guide.event(ctx.db, row.event_id)
    workshop = None
    if row.workshop_id:
        workshop = next((w for w in await events.workshops(ctx.db, event.id) if w.id == row.workshop_id), None)
    users = [m.user_id for m in (await sessions.members(ctx.db, [row.id]))[row.id]]
    if row.case_bringer and row.case_bringer not in users:  # a case-bringer from outside the group
        users.append(row.case_bringer)
    people = await sessions.people(ctx.db, users + [u for u in (row.facilitator, row.case_bringer) if u])
    return Here(row, event, workshop, users, people)


async def here(ctx: Context, command: str, *, lock: bool = False) -> Here:
    """The session of this room, or a polite pointer to where the command belongs."""
    row = None if ctx.is_dm else await sessions.by_room(ctx.db, ctx.room_id)
    if row is None:
        raise UserError("guide.not_here", command=code(f"{ctx.prefix}{command}"),
                        sessions=code(f"{ctx.prefix}sessions <event>"))
    if lock:
        row = await guide.lock(ctx.db, row)
    found = await load(ctx, row)
    if not found.takes_part(ctx.sender):
        raise UserError("guide.not_yours")
    return found


async def facilitating(ctx: Context, command: str) -> Here:
    """As `here`, for a command that moves the session: only its facilitator may."""
    found = await here(ctx, command, lock=True)
    if ctx.sender != found.row.facilitator:
        raise UserError("guide.facilitator_only", command=code(f"{ctx.prefix}{command}"),
                        phase=code(f"{ctx.prefix}phase"), turn=code(f"{ctx.prefix}turn"),
                        facilitator=found.name(found.row.facilitator) if found.row.facilitator
                        else ctx.t("sessions.no_facilitator"))
    return found


async def room_translator(ctx: Context, found: Here) -> Translator:
    return await ctx.translator_for_network(found.event.network)
