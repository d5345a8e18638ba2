"""Members, roles and the network's rooms, on a real Synapse: provisioning, the join flow,
members-only rooms, coordinator-only commands, and the privacy commands."""
from __future__ import annotations

import asyncio
import json

import nio
from sqlalchemy import select

from api import Role
from storage import members, networks, outbox
from storage.models import Base, Membership
from tests.integration.members import NioMember

NET = {"id": "north", "name": "North Network"}
PLAIN = {"encryption": False}


async def _bot_with_coordinator(make_bot, make_member, **extra):
    carol = await make_member()
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id], **extra}], matrix=PLAIN)
    await bot.start()
    rooms = await _rooms(bot)
    await carol.wait_joined(rooms["control"], carol.user_id)
    return bot, carol, rooms


async def _rooms(bot) -> dict[str, str]:
    async with bot.kring.db.transaction() as session:
        return await networks.rooms(session, "north")


async def _membership(client: nio.AsyncClient, room_id: str, user_id: str) -> str | None:
    resp = await client.room_get_state_event(room_id, "m.room.member", user_id)
    return resp.content.get("membership") if isinstance(resp, nio.RoomGetStateEventResponse) else None


async def _until(condition: asyncio.Condition, check, timeout: float = 30) -> None:  # noqa: ANN001
    """Until `check()` holds, checked now and again each time the condition is notified (an event
    to await, not a timer). The lock is held while checking, so no notification is missed."""

    async def watch() -> None:
        async with condition:
            while not await check():
                await condition.wait()

    await asyncio.wait_for(watch(), timeout)


async def _outbox_drained(bot) -> None:  # noqa: ANN001
    """Until every queued message is sent (re-checked as each one is done)."""

    async def empty() -> bool:
        async with bot.kring.db.read() as session:
            return await outbox.count_pending(session) == 0

    bot.kring.outbox.wake()
    await _until(bot.kring.outbox.finished, empty)


async def _bot_saw_lobby_join(bot, person: NioMember) -> None:  # noqa: ANN001
    """Until the bot has taken in the person's join of the lobby (it records their display name
    then, while handling the sync batch that brought it: awaited batch by batch)."""

    async def noted() -> bool:
        async with bot.kring.db.read() as session:
            member = await members.get(session, person.user_id)
            return member is not None and member.display_name is not None

    await _until(bot.kring.sync.handled, noted)


async def _join_and_approve(bot, carol, rooms, alice, dm: str | None = None) -> str:
    dm = dm or await alice.dm(bot.user_id, encrypted=False)
    await alice.send(dm, "!join north Alice, adviser at a hospital")
    await alice.message(bot.user_id, "passed your request", dm)
    await carol.message(bot.user_id, alice.user_id, rooms["control"])
    await carol.send(rooms["control"], f"!approve {alice.user_id}")
    await carol.message(bot.user_id, f"{alice.user_id} is now a member", rooms["control"])
    return dm


# ---- provisioning ----------------------------------------------------------------------------

async def test_provisioning_twice_yields_the_same_rooms_with_the_stated_rules(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member)
    gw = bot.kring.gateway
    assert set(rooms) == {"space", "lobby", "announcements", "control"}
    joined_before = await gw.joined_rooms()

    space_create = await gw.get_state(rooms["space"], "m.room.create")
    lobby_create = await gw.get_state(rooms["lobby"], "m.room.create")
    assert space_create.get("type") == "m.space"
    assert lobby_create["room_version"] == "12"
    for kind in ("lobby", "announcements"):
        assert await gw.get_state(rooms[kind], "m.room.join_rules") == {
            "join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": rooms["space"]}]}
        assert await gw.get_state(rooms["space"], "m.space.child", rooms[kind]) is not None
    assert (await gw.get_state(rooms["control"], "m.room.join_rules"))["join_rule"] == "invite"
    assert (await gw.get_state(rooms["space"], "m.room.join_rules"))["join_rule"] == "invite"
    assert (await gw.get_state(rooms["control"], "m.room.history_visibility"))["history_visibility"] == "joined"
    assert (await gw.get_state(rooms["lobby"], "m.room.history_visibility"))["history_visibility"] == "shared"
    for kind, room_id in rooms.items():
        levels = await gw.get_state(room_id, "m.room.power_levels")
        assert bot.user_id not in levels["users"], "room version 12: the creator is never listed"
        assert levels["users"] == {carol.user_id: 50}
        assert levels["events_default"] == (50 if kind in ("announcements", "space") else 0)

    topic = (await gw.get_state(rooms["control"], "m.room.topic"))["topic"]
    assert topic == "Coordinators of North Network only: join requests, new questions and other notes from the bot."
    await gw.put_state(rooms["control"], "m.room.topic", {"topic": "join requests, the case queue and alerts"})

    await bot.restart()
    assert await _rooms(bot) == rooms
    assert await bot.kring.gateway.joined_rooms() == joined_before
    assert {f.outcome for f in bot.kring.provisioned} == {"ok"}
    # a room made by an older version gets today's topic, which promises only what exists
    assert (await bot.kring.gateway.get_state(rooms["control"], "m.room.topic"))["topic"] == topic


async def test_rooms_are_encrypted_by_default_except_the_space(make_bot):
    bot = await make_bot(networks=[NET])
    rooms = await _rooms(bot)
    gw = bot.kring.gateway
    assert await gw.get_state(rooms["space"], "m.room.encryption") is None
    for kind in ("lobby", "announcements", "control"):
        assert (await gw.get_state(rooms[kind], "m.room.encryption"))["algorithm"] == "m.megolm.v1.aes-sha2"


async def test_a_lost_room_is_reported_and_replaced_once(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member)
    # A restricted room can be rejoined only while someone in it may invite (the homeserver needs a
    # member to authorise the join): wait for Carol's invite to be delivered and accepted first,
    # otherwise the bot leaves an empty lobby that is truly lost.
    await carol.wait_joined(rooms["lobby"], carol.user_id)
    await bot.kring.gateway.leave(rooms["lobby"])        # restricted: the bot can come back
    await bot.kring.gateway.leave(rooms["control"])      # invite-only: it cannot
    await bot.restart()
    after = await _rooms(bot)
    outcomes = {f.kind: f.outcome for f in bot.kring.provisioned}
    assert outcomes["lobby"] == "rejoined" and after["lobby"] == rooms["lobby"]
    assert outcomes["control"] == "replaced" and after["control"] != rooms["control"]
    await carol.wait_joined(after["control"], carol.user_id)
    # The new control room shows Carol nothing from before she joined (history_visibility
    # "joined"), so the report comes to her DM with the bot.
    rejoined = await carol.message(bot.user_id, "I had left the lobby of North Network")
    replaced = await carol.message(bot.user_id, "coordinators' room of North Network was lost")
    assert rejoined.room_id == replaced.room_id and rejoined.room_id not in after.values()
    assert replaced.content["msgtype"] == "m.text"

    await bot.restart()
    assert await _rooms(bot) == after
    assert {f.outcome for f in bot.kring.provisioned} == {"ok"}


# ---- membership ------------------------------------------------------------------------------

async def test_join_approve_invites_rules_then_member_commands(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member)
    alice = await make_member()
    dm = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(dm, "!accept-rules")
    refused = await alice.message(bot.user_id, "Only a member may use accept-rules", dm)
    assert refused.content["msgtype"] == "m.notice"

    await _join_and_approve(bot, carol, rooms, alice, dm)
    request = await carol.message(bot.user_id, "Request to join North Network", rooms["control"])
    assert "Alice, adviser at a hospital" in request.content["body"]
    welcome = await alice.message(bot.user_id, "Welcome to North Network", dm)
    assert welcome.content["msgtype"] == "m.text" and alice.user_id in welcome.content["m.mentions"]["user_ids"]
    assert "feedback rules" in welcome.content["body"]
    for kind in ("space", "lobby", "announcements"):
        await alice.wait_joined(rooms[kind], alice.user_id)
    assert await _membership(alice.client, rooms["control"], alice.user_id) is None
    async with bot.kring.db.transaction() as session:
        assert not await members.rules_accepted(session, "north", alice.user_id)

    await alice.send(dm, "!accept-rules")
    await alice.message(bot.user_id, "Thank you for accepting the house rules of North Network", dm)
    async with bot.kring.db.transaction() as session:
        assert await members.rules_accepted(session, "north", alice.user_id)
        assert await members.active_networks(session, alice.user_id) == ["north"]
    await alice.send(dm, "!profile")
    profile = await alice.message(bot.user_id, "Your profile", dm)
    assert "North Network: member; house rules accepted" in profile.content["body"]
    await alice.send(dm, "!tz europe/amsterdm")
    await alice.message(bot.user_id, "Did you mean Europe/Amsterdam?", dm)


async def test_a_rules_change_asks_members_to_accept_again(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member, house_rules="Be kind.")
    alice = await make_member()
    dm = await _join_and_approve(bot, carol, rooms, alice)
    assert "Be kind." in (await alice.message(bot.user_id, "Welcome to North Network", dm)).content["body"]
    await alice.send(dm, "!accept-rules")
    await alice.message(bot.user_id, "Thank you for accepting", dm)

    bot.config.networks[0].house_rules = "Be kind. Cancel in time if you cannot come."
    await bot.restart()
    changed = await alice.message(bot.user_id, "have changed", dm)
    assert "Cancel in time" in changed.content["body"] and changed.content["msgtype"] == "m.text"
    async with bot.kring.db.transaction() as session:
        assert not await members.rules_accepted(session, "north", alice.user_id)
    await alice.send(dm, "!accept-rules")
    await alice.message(bot.user_id, "Thank you for accepting", dm, nth=2)
    async with bot.kring.db.transaction() as session:
        assert await members.rules_accepted(session, "north", alice.user_id)


async def test_a_declined_applicant_is_told_with_the_reason(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member)
    bob = await make_member()
    dm = await bob.dm(bot.user_id, encrypted=False)
    await bob.send(dm, "!join north")
    await carol.message(bot.user_id, bob.user_id, rooms["control"])
    await carol.send(rooms["control"], f"!decline {bob.user_id} not a confidential adviser")
    told = await bob.message(bot.user_id, "declined your request", dm)
    assert "not a confidential adviser" in told.content["body"]
    async with bot.kring.db.transaction() as session:
        assert (await members.membership(session, "north", bob.user_id)).state == "declined"


async def test_auto_approval_by_homeserver_domain(make_bot, make_member, synapse):
    carol = await make_member()
    domain = carol.user_id.split(":", 1)[1]
    bot = await make_bot(start=False, matrix=PLAIN, networks=[
        {**NET, "coordinators": [carol.user_id], "auto_approve": {"domains": [domain]}}])
    await bot.start()
    rooms = await _rooms(bot)
    await carol.wait_joined(rooms["control"], carol.user_id)  # she sees only what is said after she joined
    dave = await make_member()
    dm = await dave.dm(bot.user_id, encrypted=False)
    await dave.send(dm, "!join")
    await dave.message(bot.user_id, "You are now a member of North Network", dm)
    await dave.wait_joined(rooms["lobby"], dave.user_id)
    await carol.message(bot.user_id, "approved automatically", rooms["control"])


async def test_a_non_member_who_joins_the_lobby_is_removed_and_told_why(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member)
    eve = await make_member()
    # Someone with invite power lets a non-member in (here: the bot's account itself, directly).
    await bot.kring.gateway.client.room_invite(rooms["lobby"], eve.user_id)
    told = await eve.message(bot.user_id, "for its members only")
    assert "!join north" in told.content["body"]
    await carol.wait_membership(rooms["lobby"], eve.user_id, "leave")


async def test_coordinator_only_commands_are_refused_to_members_and_facilitators(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member)
    alice, fred = await make_member(), await make_member()
    await _join_and_approve(bot, carol, rooms, alice)
    await _join_and_approve(bot, carol, rooms, fred)
    await carol.send(rooms["control"], f"!role {fred.user_id} facilitator")
    await carol.message(bot.user_id, "is now a facilitator", rooms["control"])
    for person in (alice, fred):
        await _bot_saw_lobby_join(bot, person)  # or that would change the members table below
    await _outbox_drained(bot)
    coordinator_only = sorted(s.name for s in bot.kring.registry.specs if s.role is Role.COORDINATOR)
    assert {"approve", "decline", "remove", "members", "role"} <= set(coordinator_only)
    before = await _snapshot(bot)
    for person in (alice, fred):
        dm = await person.dm(bot.user_id, encrypted=False)
        for name in coordinator_only:
            await person.send(dm, f"!{name} {carol.user_id} coordinator")
        replies = await person.messages_from(bot.user_id, dm, len(coordinator_only))
        for name, reply in zip(coordinator_only, replies[-len(coordinator_only):], strict=True):
            assert f"Only a coordinator may use {name}" in reply.content["body"], reply.content["body"]
    await _outbox_drained(bot)
    assert await _snapshot(bot) == before


async def _snapshot(bot) -> dict[str, list]:
    """Every table but the bookkeeping ones (handled events, outgoing messages)."""
    out = {}
    async with bot.kring.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in ("processed_events", "outbox", "key_values", "direct_rooms"):
                continue
            out[table.name] = sorted(map(repr, (await session.execute(select(table))).all()))
    return out


async def test_roles_members_remove_and_the_last_coordinator(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member)
    alice = await make_member()
    await _join_and_approve(bot, carol, rooms, alice)
    control = rooms["control"]
    await carol.send(control, f"!role {carol.user_id} member")
    await carol.message(bot.user_id, "needs at least one coordinator", control)
    await carol.send(control, "!members")
    listing = await carol.message(bot.user_id, "Members of North Network", control)
    assert alice.user_id in listing.content["body"] and "coordinators: 1" in listing.content["body"]
    await carol.wait_joined(rooms["lobby"], carol.user_id)
    await carol.send(rooms["lobby"], "!members")  # a shared room: the roster is never posted there
    refused = await carol.message(bot.user_id, "coordinators' room of its network", rooms["lobby"])
    assert alice.user_id not in refused.content["body"]
    assert not [s for s in carol.seen if s.room_id == rooms["lobby"] and "Members of" in s.content.get("body", "")]

    await carol.send(control, f"!role {alice.user_id} coordinator")
    await carol.message(bot.user_id, "is now a coordinator in North Network", control)
    await alice.wait_joined(control, alice.user_id)
    await _outbox_drained(bot)
    assert (await bot.kring.gateway.get_state(rooms["lobby"], "m.room.power_levels"))["users"][alice.user_id] == 50

    await alice.send(control, f"!remove {carol.user_id} stepping down")
    await alice.message(bot.user_id, "I will take them out of the network's rooms", control)
    await alice.send(control, "!confirm")
    await alice.message(bot.user_id, "has been removed from North Network", control)
    await alice.wait_membership(rooms["lobby"], carol.user_id, "leave")
    seen = alice.count(bot.user_id, "needs at least one coordinator", control)
    await alice.send(control, f"!remove {alice.user_id}")
    await alice.message(bot.user_id, "needs at least one coordinator", control, nth=seen + 1)


# ---- privacy ---------------------------------------------------------------------------------

async def test_mydata_matches_the_store_and_forgetme_leaves_no_trace(make_bot, make_member):
    bot, carol, rooms = await _bot_with_coordinator(make_bot, make_member)
    alice = await make_member()
    await alice.client.set_displayname("Alice Zwanenburg")
    dm = await _join_and_approve(bot, carol, rooms, alice)
    await alice.wait_joined(rooms["lobby"], alice.user_id)
    await alice.send(dm, "!org Hospital Noord")
    await alice.message(bot.user_id, "Your organisation is now", dm)
    await alice.send(dm, "!accept-rules")
    await alice.message(bot.user_id, "Thank you for accepting", dm)
    async with bot.kring.db.transaction() as session:
        member = await members.get(session, alice.user_id)
        assert member.display_name == "Alice Zwanenburg", "the guard notes members' display names"

    await alice.send(dm, "!mydata")
    file_msg = await alice.message(bot.user_id, "kring-mydata.json", dm)
    resp = await alice.client.download(mxc=file_msg.content["url"])
    data = json.loads(resp.body)
    async with bot.kring.db.transaction() as session:
        member = await members.get(session, alice.user_id)
        row = await members.membership(session, "north", alice.user_id)
    assert data["profile"] == {"user_id": alice.user_id, "display_name": "Alice Zwanenburg", "language": None,
                               "timezone": None, "organisation": "Hospital Noord",
                               "created_at": member.created_at.isoformat(), "reminders": "on"}
    [ms] = data["memberships"]
    assert (ms["network"], ms["role"], ms["state"], ms["note"]) == ("north", row.role, row.state, row.note)
    assert ms["rules_version_accepted"] == row.rules_version == 1
    assert data["direct_rooms"] == [{"room_id": dm, "created_at": data["direct_rooms"][0]["created_at"]}]

    await alice.send(dm, "!forgetme")
    await alice.message(bot.user_id, "cannot be undone", dm)
    await alice.send(dm, "!confirm")
    await alice.message(bot.user_id, "erased everything", dm)
    for kind in ("space", "lobby", "announcements"):
        await carol.wait_membership(rooms[kind], alice.user_id, "leave")
    await alice.wait_membership(dm, bot.user_id, "leave")
    await _outbox_drained(bot)
    dump = await _dump(bot)
    assert alice.user_id not in dump
    assert "Alice Zwanenburg" not in dump and "Zwanenburg" not in dump
    # her join request and introduction are redacted in the control room, for everyone in it
    [request] = [m for m in carol.seen if m.room_id == rooms["control"] and "adviser at a hospital" in m.content.get("body", "")]
    gone = await carol.client.room_get_event(rooms["control"], request.event_id)
    assert gone.event.source["content"] == {} and "redacted_because" in gone.event.source["unsigned"]
    assert "asked to be forgotten" in gone.event.source["unsigned"]["redacted_because"]["content"]["reason"]


async def _dump(bot) -> str:
    rows = []
    async with bot.kring.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            rows += [repr(r) for r in (await session.execute(select(table))).all()]
    return "\n".join(rows)
