"""Session rooms through the real Dispatcher, outbox sender, schedule and SQLite, with a recording
fake at the Matrix boundary: `!session open` makes each room once (also after a crash between
the homeserver's answer and the bot's record), invites exactly the group with an m.text DM, keeps
the room equal to the group (moves, cancellations, !leave, outsiders), and `!session close`
makes it read-only after !confirm."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.chat import OutboxChat
from bot.guard import RoomGuard
from bot.matrix.gateway import MemberChange, SendOutcome
from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage import outbox as outbox_rows, sessions
from storage.database import Database
from tests.unit.event_world import CONTROL, EventWorld, Said
from tests.unit.helpers import T0, FakeClock
from tests.unit.test_outbox import RecordingGateway, sending, until
from tests.unit.test_sessions_commands import split_world


class RoomGateway(RecordingGateway):
    """Also makes rooms: each create call returns a new room id; `marked` holds rooms an earlier
    attempt made (token -> room id), as find_marked_room would find them on the homeserver."""

    def __init__(self) -> None:
        super().__init__()
        self.made = 0
        self.marked: dict[str, str] = {}
        self.user_id = "@kring:example.org"

    def creates(self) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == "create_room"]

    async def default_room_version(self) -> str:
        return "12"

    async def create_private_room(self, **kw: Any) -> SendOutcome:
        self.made += 1
        room_id = f"!session{self.made}:example.org"
        self._record("create_room", room_id, kw["name"], tuple(kw["invite"]), kw["power_levels"], kw["marker"])
        return SendOutcome("ok", event_id=room_id)

    async def find_marked_room(self, marker_type: str, token: str, skip: set[str]) -> str | None:
        self._record("find_marked_room", token)
        return self.marked.get(token)

    async def memberships(self, room_id: str) -> dict[str, str]:
        return {}

    async def set_levels(self, room_id: str, levels: dict[str, int]) -> SendOutcome:
        self._record("set_levels", room_id, levels)
        return SendOutcome("ok")


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


@pytest.fixture
def runner(db: Database, clock: FakeClock) -> ScheduleRunner:
    return ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=48), language="en",
                          declared=Registry.discover().declared)


async def made(db: Database, gateway: RoomGateway, runner: ScheduleRunner, world: EventWorld, count: int) -> Said:
    """Let the sender make `count` rooms, then run the follow-up jobs; what they queued."""
    async with sending(db, gateway):
        await until(gateway, lambda: len(gateway.creates()) >= count)
    return await world.run_due(runner)


async def room_pending(db: Database) -> bool:
    async with db.read() as s:
        return any(r.kind == "room" for r in await outbox_rows.pending(s))


async def opened_world(world: EventWorld, db: Database, runner: ScheduleRunner,
                       gateway: RoomGateway) -> tuple[str, str, list[str], str, Said]:
    carol, slug, people = await split_world(world, 7)
    await world.say(carol, f"!groups {slug} size=4")
    await world.say(carol, "!confirm")
    fran = await world.person("fran")
    await world.say(carol, f"!facilitate {slug}/1 {fran}")
    asked = await world.say(carol, f"!session open {slug}")
    assert "This makes 2 private rooms" in asked.text() and "!confirm" in asked.text(), asked.text()
    assert not [s for s in asked if s.kind == "room"], "nothing is made before !confirm"
    asked = await world.say(carol, "!confirm")
    assert "making 2 private rooms" in asked.text(), asked.text()
    rows = [s for s in asked if s.kind == "room"]
    assert len(rows) == 2
    assert rows[0].payload["moderators"] == [fran]
    assert rows[0].payload["name"].endswith("· group 1")
    jobs = await made(db, gateway, runner, world, 2)
    return carol, slug, people, fran, jobs


async def test_open_makes_each_room_once_and_invites_exactly_the_group(
        world: EventWorld, db: Database, runner: ScheduleRunner) -> None:
    gateway = RoomGateway()
    carol, slug, people, fran, jobs = await opened_world(world, db, runner, gateway)
    creates = gateway.creates()
    assert len(creates) == 2
    invited = {c[1]: set(c[3]) for c in creates}
    everyone = set(people) | {fran}
    assert set().union(*invited.values()) == everyone, "the groups and the facilitator, nobody else"
    assert len(invited["!session1:example.org"]) == 5 and fran in invited["!session1:example.org"]
    levels = creates[0][4]
    assert levels["users"] == {fran: 50}, "facilitator moderates; the creator (room version 12) is not listed"
    assert levels["users_default"] == 0 and levels["events_default"] == 0
    dms = {s.user_id: s for s in jobs if s.kind == "message" and s.user_id}
    assert set(dms) == everyone, "each invited person gets a DM saying what the room is"
    dm = dms[people[0]].payload["content"]
    assert dm["msgtype"] == "m.text" and dm["m.mentions"] == {"user_ids": [people[0]]}
    assert f"session {slug}/" in dm["body"] and "https://matrix.to/#/!session" in dm["body"]
    assert "as its facilitator" in dms[fran].payload["content"]["body"]
    assert f"All 2 session rooms of" in "\n".join(s.body for s in jobs.to_room(CONTROL)), "progress in the control room"
    listing = (await world.say(carol, f"!sessions {slug}")).text()
    assert listing.count("room: open") == 2
    again = await world.say(carol, f"!session open {slug}")
    assert "already have their rooms" in again.text() and not [s for s in again if s.kind == "room"]
    again_one = await world.say(fran, f"!session open {slug}/1")
    assert "already has its room" in again_one.text()


async def test_only_a_coordinator_or_the_facilitator_opens(world: EventWorld) -> None:
    carol, slug, people = await split_world(world, 4)
    await world.say(carol, f"!groups {slug} size=2")
    await world.say(carol, "!confirm")
    refused = await world.say(people[0], f"!session open {slug}/1")
    assert "Only a coordinator of the network or the facilitator" in refused.text()
    assert not [s for s in refused if s.kind == "room"]


async def test_a_retry_after_a_crash_finds_the_room_instead_of_making_a_second(
        world: EventWorld, db: Database, runner: ScheduleRunner) -> None:
    carol, slug, people = await split_world(world, 3)
    await world.say(carol, f"!groups {slug} size=3")
    await world.say(carol, "!confirm")
    await world.say(carol, f"!session open {slug}/1")
    async with db.transaction() as s:
        row = next(r for r in await outbox_rows.pending(s) if r.kind == "room")
        await outbox_rows.note_attempt(s, row.id)  # an attempt went out; the bot died before its answer
        token = row.txn_id
    gateway = RoomGateway()
    gateway.marked[token] = "!earlier:example.org"
    async with sending(db, gateway) as sender:
        async with sender.finished:  # entered before the sender's first step: no notify is missed
            while await room_pending(db):
                await asyncio.wait_for(sender.finished.wait(), 10)
    await world.run_due(runner)
    assert gateway.creates() == [], "no second room"
    async with db.read() as s:
        group = await sessions.by_room(s, "!earlier:example.org")
        assert group is not None and group.room_state == sessions.OPEN


async def test_the_room_follows_moves_cancellations_and_leaving(
        world: EventWorld, db: Database, runner: ScheduleRunner) -> None:
    gateway = RoomGateway()
    carol, slug, people, fran, _jobs = await opened_world(world, db, runner, gateway)
    async with db.read() as s:
        one = {m.user_id for m in (await sessions.members(s, [1]))[1]}
    mover = sorted(one)[0]
    moved = await world.say(carol, f"!group move {mover} {slug}/2")
    kicks = [s for s in moved if s.kind == "kick"]
    invites = [s for s in moved if s.kind == "invite"]
    assert [(k.room_id, k.payload["user_id"]) for k in kicks] == [("!session1:example.org", mover)]
    assert [(i.room_id, i.payload["user_id"]) for i in invites] == [("!session2:example.org", mover)]
    assert any(s.user_id == mover and "private room" in s.body for s in moved)
    leaver = next(u for u in people if u != mover)
    cancelled = await world.say(leaver, f"!cancel {slug}")
    assert [k.payload["user_id"] for k in cancelled if k.kind == "kick"] == [leaver]
    other = next(u for u in people if u not in (mover, leaver))
    left = await world.say(other, "!leave main")
    if "!confirm" in left.text():
        left = await world.say(other, "!confirm")
    assert other in [k.payload["user_id"] for k in left if k.kind == "kick"]
    dropped = await world.say(carol, f"!facilitate {slug}/1 {carol}")
    assert [(k.room_id, k.payload["user_id"]) for k in dropped if k.kind == "kick"] == [("!session1:example.org", fran)]
    assert [(i.room_id, i.payload["user_id"]) for i in dropped if i.kind == "invite"] == [("!session1:example.org", carol)]
    assert [p.payload["level"] for p in dropped if p.kind == "power" and p.payload["user_id"] == carol] == [50]


async def test_an_outsider_who_joins_is_removed_and_told(
        world: EventWorld, db: Database, runner: ScheduleRunner, clock: FakeClock) -> None:
    gateway = RoomGateway()
    _carol, slug, people, fran, _jobs = await opened_world(world, db, runner, gateway)
    outsider = await world.person("olga")
    guard = RoomGuard(db, "@kring:example.org", clock, language="en", prefix="!", on_commit=lambda: None)
    await guard.joined(MemberChange("!session1:example.org", "$join1", outsider, "join", None, "Olga", T0))
    async with db.read() as s:
        member = next(iter({m.user_id for m in (await sessions.members(s, [1]))[1]}))
    await guard.joined(MemberChange("!session1:example.org", "$join2", member, "join", "invite", None, T0))
    await guard.joined(MemberChange("!session1:example.org", "$join3", fran, "join", "invite", None, T0))
    said = await world.new_output()
    assert [(k.room_id, k.payload["user_id"]) for k in said if k.kind == "kick"] == [("!session1:example.org", outsider)]
    told = [s for s in said if s.user_id == outsider and s.kind == "message"]
    assert len(told) == 1 and f"session {slug}/1" in told[0].body and "removed you" in told[0].body


async def test_close_after_confirm_makes_the_room_read_only(
        world: EventWorld, db: Database, runner: ScheduleRunner) -> None:
    gateway = RoomGateway()
    carol, slug, people, fran, _jobs = await opened_world(world, db, runner, gateway)
    asked = await world.say(fran, "!session close", room="!session1:example.org")
    assert "!confirm" in asked.text() and "can no longer write" in asked.text()
    assert not [s for s in asked if s.kind == "levels"], "nothing before !confirm"
    done = await world.say(fran, "!confirm", room="!session1:example.org")
    levels = [s for s in done if s.kind == "levels"]
    assert [(s.room_id, s.payload["levels"]) for s in levels] == [("!session1:example.org", {"events_default": 50})]
    closing = [s for s in done.to_room("!session1:example.org") if s.msgtype == "m.text"]
    assert closing and "is closed" in closing[0].body
    assert "room: closed" in (await world.say(carol, f"!sessions {slug}")).text()
    again = await world.say(fran, "!session close", room="!session1:example.org")
    assert "no open room to close" in again.text()
    refused = await world.say(people[0], f"!session close {slug}/2")
    assert "Only a coordinator" in refused.text()


async def test_a_session_room_is_a_private_place_of_its_participants_only(
        world: EventWorld, db: Database, runner: ScheduleRunner, make_dispatcher) -> None:
    gateway = RoomGateway()
    _carol, _slug, people, fran, _jobs = await opened_world(world, db, runner, gateway)
    from api.context import Context
    from api.types import Role
    async with db.transaction() as s:
        group = await sessions.by_room(s, "!session1:example.org")
        inside = {m.user_id for m in (await sessions.members(s, [group.id]))[group.id]}
        stranger = next(u for u in people if u not in inside)

        def ctx(user: str) -> Context:
            return Context(sender=user, room_id="!session1:example.org", is_dm=False, event_id="$x", event_time=T0,
                           now=T0, role=Role.MEMBER, roles={"main": Role.MEMBER}, db=s, t=None, chat=OutboxChat(s, T0),
                           schedule=None, runtime=None, prefix="!")  # type: ignore[arg-type]
        assert await ctx(fran).is_private(session=group)
        assert await ctx(sorted(inside)[0]).is_private(session=group)
        assert not await ctx(stranger).is_private(session=group), "not for someone of another group"
        assert not await ctx(sorted(inside)[0]).is_private(), "no other session's or network's data here"
        assert (await ctx(fran).session_here()).id == group.id
        assert await ctx(stranger).session_here() is None


async def test_a_promotion_from_the_waiting_list_is_invited_into_the_room_of_its_group(
        world: EventWorld, db: Database, runner: ScheduleRunner) -> None:
    carol, slug, people = await split_world(world, 5, capacity=4, mode="auto")  # the fifth waits
    await world.say(carol, f"!groups {slug} size=2")
    await world.say(carol, "!confirm")
    await world.say(carol, f"!session open {slug}")
    await world.say(carol, "!confirm")
    await made(db, RoomGateway(), runner, world, 2)
    async with db.read() as s:
        room_of = {m.user_id: (await sessions.by_id(s, m.session_id)).room_id
                   for rows in (await sessions.members(s, [1, 2])).values() for m in rows}
    leaver = people[0]
    said = await world.say(leaver, f"!cancel {slug}")
    assert [(k.room_id, k.payload["user_id"]) for k in said if k.kind == "kick"] == [(room_of[leaver], leaver)]
    assert [(i.room_id, i.payload["user_id"]) for i in said if i.kind == "invite"] == [(room_of[leaver], people[4])], \
        "the promoted person joins the group with room, and its room"
    assert any(s.user_id == people[4] and "private room" in s.body for s in said)
