"""A small world for the events tests: one network with its rooms, people with roles who accepted
the house rules, each with a DM, and `say` that runs a message through the real Dispatcher and
returns what the bot wrote to the outbox because of it."""
from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from icalendar import Calendar
from sqlalchemy import select

from bot.dispatch import Dispatcher
from bot.scheduler import ScheduleRunner
from storage import direct_rooms, members, networks, outbox
from storage.database import Database
from storage.models import OutboxItem
from tests.unit.helpers import T0, FakeClock, message

NET = "main"
LOBBY, ANNOUNCEMENTS, CONTROL = "!lobby:example.org", "!news:example.org", "!control:example.org"
_ids = itertools.count(1)

FORM = """title: Theme meeting on alcohol at work
purpose: Collect members' experiences with alcohol and drugs at work; not a lecture.
expectations: Bring one situation from your own practice.
starts: 2025-04-14 19:30
ends: 21:30
place: https://meet.example.org/alcohol
capacity: {capacity}
waitlist mode: {mode}
offer hours: 24"""


@dataclass
class Sent:
    """One outgoing message (or file) the bot queued."""

    room_id: str | None
    user_id: str | None
    kind: str
    payload: dict[str, Any]

    @property
    def body(self) -> str:
        return self.payload.get("content", {}).get("body", "")

    @property
    def msgtype(self) -> str:
        return self.payload.get("content", {}).get("msgtype", "")

    def file_bytes(self) -> bytes:
        return base64.b64decode(self.payload["data"])


class Said(list):
    """What one message made the bot send."""

    def to_room(self, room_id: str) -> list[Sent]:
        return [s for s in self if s.room_id == room_id and s.kind == "message"]

    def to_user(self, user_id: str) -> list[Sent]:
        return [s for s in self if s.user_id == user_id and s.kind == "message"]

    def files(self) -> list[Sent]:
        return [s for s in self if s.kind == "file"]

    def text(self) -> str:
        return "\n".join(s.body for s in self if s.kind == "message")


class EventWorld:
    def __init__(self, db: Database, dispatcher: Dispatcher, clock: FakeClock) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.clock = clock
        self._seen = 0
        self._held: set[int] = set()  # rows prepared ahead whose time (send_at) has not come yet

    async def setup(self, *, rooms: bool = True) -> EventWorld:
        async with self.db.transaction() as s:
            await networks.upsert(s, NET, name="Main", language=None, timezone="Europe/Amsterdam",
                                  house_rules="Be kind.", auto_approve={}, now=T0)
            if rooms:
                for kind, room in (("lobby", LOBBY), ("announcements", ANNOUNCEMENTS), ("control", CONTROL)):
                    await networks.record_room(s, NET, kind, room, "11", T0)
        return self

    async def person(self, name: str, role: str = "member", *, rules: bool = True) -> str:
        user = f"@{name}:example.org"
        async with self.db.transaction() as s:
            row = await members.set_role(s, NET, user, role, T0)
            if rules:
                members.accept_rules(row, 1, T0)
            await direct_rooms.record(s, self.dm(user), user, T0)
        return user

    async def people(self, count: int, prefix: str = "m") -> list[str]:
        return [await self.person(f"{prefix}{i:03d}") for i in range(count)]

    @staticmethod
    def dm(user: str) -> str:
        return f"!dm-{user[1:].split(':')[0]}:example.org"

    async def say(self, user: str, body: str, *, room: str | None = None, at: datetime | None = None,
                  event_id: str | None = None) -> Said:
        msg = message(body, sender=user, room_id=room or self.dm(user), at=at or self.clock.now,
                      event_id=event_id or f"$e{next(_ids):06d}")
        await self.dispatcher.handle(msg)
        return await self.new_output()

    async def new_output(self) -> Said:
        """What the bot sent since the last call: new rows, except those held until a send-at time
        still to come (prepared ahead), which count once their time has come, unless withdrawn or
        missed (never sent)."""
        async with self.db.transaction() as s:
            rows = list((await s.execute(select(OutboxItem).where(
                (OutboxItem.id > self._seen) | OutboxItem.id.in_(self._held)).order_by(OutboxItem.id))).scalars())
            now = self.clock()
            self._held = {r.id for r in rows if r.send_at is not None and r.send_at > now and r.done_at is None}
            out = Said(Sent(r.room_id, r.user_id, r.kind, r.payload) for r in rows
                       if r.id not in self._held and r.error not in (outbox.WITHDRAWN, outbox.MISSED))
        async with self.db.transaction() as s:
            last = (await s.execute(select(OutboxItem.id).order_by(OutboxItem.id.desc()).limit(1))).scalar()
        self._seen = last or self._seen
        return out

    async def run_due(self, runner: ScheduleRunner) -> Said:
        await runner.run_due()
        return await self.new_output()

    async def create(self, coordinator: str, *, capacity: int = 2, mode: str = "offer", extra: str = "") -> str:
        said = await self.say(coordinator, "!event create\n" + FORM.format(capacity=capacity, mode=mode) + extra)
        text = said.text()
        assert "Created draft" in text, text
        slug = text.split("Created draft ", 1)[1].split(".", 1)[0]
        said = await self.publish(coordinator, slug)
        assert "Published" in said.text(), said.text()
        return slug

    async def publish(self, coordinator: str, slug: str, *, room: str | None = None) -> Said:
        """`!event publish` and the `!confirm` it asks for; what the confirmation made the bot send."""
        asked = await self.say(coordinator, f"!event publish {slug}", room=room)
        assert "!confirm" in asked.text(), asked.text()
        return await self.say(coordinator, "!confirm", room=room)


def ics_start(data: bytes) -> datetime:
    cal = Calendar.from_ical(data)
    [event] = list(cal.walk("VEVENT"))
    return event.decoded("dtstart")
