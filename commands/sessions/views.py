"""How groups read in chat: one line per group with its members and their organisations, capped
so that a split of hundreds still fits in one message."""
from __future__ import annotations

from collections.abc import Sequence

from api import Translator
from api.render import Text, as_text, bullets, lines
from commands.common.lists import fit
from commands.sessions.grouping import Group
from commands.sessions.refs import Groups
from storage import sessions
from storage.models import Member

ROOM = {sessions.NONE: "sessions.room_none", sessions.CREATING: "sessions.room_creating",
        sessions.OPEN: "sessions.room_open", sessions.CLOSED: "sessions.room_closed"}


def name(user_id: str, people: dict[str, Member]) -> Text:
    """The display name (else the Matrix ID) and, in brackets, the organisation."""
    member = people.get(user_id)
    text = as_text(member.display_name if member and member.display_name else user_id)
    return text + f" ({member.organisation})" if member and member.organisation else text


def _members(t: Translator, user_ids: Sequence[str], people: dict[str, Member]) -> Text:
    if not user_ids:
        return t("sessions.group.empty")
    out = name(user_ids[0], people)
    for user_id in user_ids[1:]:
        out = out + ", " + name(user_id, people)
    return out


def _capped(t: Translator, items: list[Text]) -> Text:
    shown, hidden = fit(iter(items), len(items))
    return lines([bullets(shown), *([t("sessions.groups.capped", count=hidden)] if hidden else [])])


def proposal(t: Translator, groups: Sequence[Group], people: dict[str, Member]) -> Text:
    return _capped(t, [t("sessions.group.line", number=g.number, count=len(g.members), size=g.size,
                         members=_members(t, [m.user_id for m in g.members], people)) for g in groups])


def current(t: Translator, groups: Groups, people: dict[str, Member]) -> Text:
    items = []
    for row in groups.rows:
        users = [m.user_id for m in groups.members.get(row.id, [])]
        items.append(t("sessions.group.line_ref", ref=groups.ref(row), count=len(users), size=row.size,
                       facilitator=name(row.facilitator, people) if row.facilitator else t("sessions.no_facilitator"),
                       members=_members(t, users, people)))
    return _capped(t, items)


def overview(t: Translator, groups: Groups, people: dict[str, Member]) -> list[Text]:
    """`!sessions`: one line per session without its members: size, facilitator, room."""
    return [t("sessions.list.line", ref=groups.ref(row), count=len(groups.members.get(row.id, [])), size=row.size,
              facilitator=name(row.facilitator, people) if row.facilitator else t("sessions.no_facilitator"),
              room=t(ROOM.get(row.room_state, "sessions.room_none")))
            for row in groups.rows]
