"""Session rooms on a real Synapse: an event is split into groups, `!session open` makes one
private room per group (invite-only, history from joining, encrypted, not in the directory, the
facilitator moderating), only the group is invited and each person told by DM; an outsider the
facilitator lets in is removed and told; a move and a cancellation take people out; `!session
close` makes the room read-only, and an Element-like member (matrix-js-sdk, Rust crypto) reads
the closing message in the encrypted room."""
from __future__ import annotations

import asyncio

import nio
import pytest

from storage import events, networks, sessions
from tests.element_member import ElementMember, ensure_node_modules
from tests.integration.conftest import PASSWORD
from tests.integration.members import NioMember

NET = {"id": "north", "name": "North Network", "timezone": "Europe/Amsterdam"}
FORM = """!event create
title: Intervision day
purpose: Closed intervision groups on real cases.
expectations: Bring a case.
starts: 2031-03-14 09:30
ends: 16:30
place: Utrecht
capacity: 5
waitlist mode: offer
offer hours: 24"""


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> None:
    ensure_node_modules()


async def _state(member: NioMember, room_id: str, event_type: str) -> dict:
    resp = await member.client.room_get_state_event(room_id, event_type)
    assert isinstance(resp, nio.RoomGetStateEventResponse), resp
    return resp.content


async def _members(member: NioMember, room_id: str) -> dict[str, str]:
    resp = await member.client.room_get_state(room_id)
    assert isinstance(resp, nio.RoomGetStateResponse), resp
    return {e["state_key"]: e["content"]["membership"] for e in resp.events if e["type"] == "m.room.member"}


async def _until_membership(member: NioMember, room_id: str, user_id: str, wanted: str, timeout: float = 60) -> None:
    """Until the room's state (read by `member`, who is in it) has `user_id` as `wanted`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await _members(member, room_id)).get(user_id) != wanted:
        assert asyncio.get_running_loop().time() < deadline, f"{user_id} never became {wanted} in {room_id}"
        await member.next_sync()


async def test_session_rooms_hold_exactly_the_group(make_bot, make_member, synapse):
    carol = await make_member(encrypted=True)
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}])
    await bot.start()
    async with bot.kring.db.transaction() as s:
        control = (await networks.rooms(s, "north"))["control"]
    await carol.in_room(control)
    await carol.send(control, FORM)
    created = await carol.message(bot.user_id, "Created draft", control, timeout=60)
    slug = created.content["body"].split("Created draft ", 1)[1].split(".", 1)[0]
    await carol.send(control, f"!event publish {slug}")
    await carol.message(bot.user_id, "where every member reads it", control, timeout=60)
    await carol.send(control, "!confirm")
    await carol.message(bot.user_id, "Published", control, timeout=60)

    # Four nio members and one Element-like member register; Fran facilitates; Olga is a member
    # of the network without a seat.
    nios = [await make_member(encrypted=True) for _ in range(4)]
    fran, olga = await make_member(encrypted=True), await make_member(encrypted=True)
    elena_id = await synapse.register_user("elena-s", PASSWORD)
    elena = ElementMember("elena-s")
    await elena.start()
    try:
        await elena.login(synapse.url, elena_id, PASSWORD)
        dms: dict[str, str] = {}
        for person in (*nios, fran, olga):
            await bot.grant(person.user_id, "member", "north")
            dms[person.user_id] = await person.dm(bot.user_id, encrypted=True)
        await bot.grant(elena_id, "member", "north")
        elena_dm = await elena.create_dm(bot.user_id, encrypted=True)
        await elena.wait_joined(elena_dm, bot.user_id)
        for person in nios:
            await person.send(dms[person.user_id], "!accept-rules")
            await person.message(bot.user_id, "Thank you for accepting", dms[person.user_id], timeout=60)
            await person.send(dms[person.user_id], f"!register {slug}")
            await person.message(bot.user_id, "You are registered", dms[person.user_id], timeout=60)
        sent = await elena.send(elena_dm, "!accept-rules")
        await elena.wait_message(elena_dm, bot.user_id, after=sent, timeout_ms=60000)
        sent = await elena.send(elena_dm, f"!register {slug}")
        registered = await elena.wait_message(elena_dm, bot.user_id, after=sent, timeout_ms=60000)
        assert "You are registered" in registered.body

        # Split into groups of at most 3 (3 + 2), name the facilitator, open every room.
        await carol.send(control, f"!groups {slug} size=3")
        await carol.message(bot.user_id, "!confirm", control, timeout=60)
        await carol.send(control, "!confirm")
        await carol.message(bot.user_id, "is split into 2 groups", control, timeout=60)
        await carol.send(control, f"!facilitate {slug}/1 {fran.user_id}")
        await carol.message(bot.user_id, "now facilitates", control, timeout=60)
        await carol.send(control, f"!session open {slug}")
        await carol.message(bot.user_id, "This makes 2 private rooms", control, timeout=60)
        await carol.send(control, "!confirm")
        await carol.message(bot.user_id, "making 2 private rooms", control, timeout=60)
        await carol.message(bot.user_id, "All 2 session rooms of Intervision day are ready", control, timeout=120)
        async with bot.kring.db.transaction() as s:
            event = await events.by_slug(s, slug)
            rows = await sessions.of_event(s, event.id)
            groups = {r.number: {m.user_id for m in (await sessions.members(s, [r.id]))[r.id]} for r in rows}
            rooms = {r.number: r.room_id for r in rows}
        assert all(rooms.values())
        by_id = {p.user_id: p for p in (*nios, fran, olga)}

        # Room 1: its group and facilitator are invited, nobody else; each was told by an m.text DM.
        await fran.in_room(rooms[1])
        told = await fran.message(bot.user_id, "private room of your group", dms[fran.user_id], timeout=60)
        assert told.content["msgtype"] == "m.text" and fran.user_id in told.content["m.mentions"]["user_ids"]
        assert "as its facilitator" in told.content["body"] and rooms[1] in told.content["body"]
        memberships = await _members(fran, rooms[1])
        assert {u for u, m in memberships.items() if m in ("invite", "join")} == groups[1] | {fran.user_id, bot.user_id}
        assert (await _state(fran, rooms[1], "m.room.join_rules"))["join_rule"] == "invite"
        assert (await _state(fran, rooms[1], "m.room.history_visibility"))["history_visibility"] == "joined"
        assert (await _state(fran, rooms[1], "m.room.encryption"))["algorithm"] == "m.megolm.v1.aes-sha2"
        marker = await _state(fran, rooms[1], "org.kring.session")
        assert marker["event"] == slug and marker["number"] == 1
        levels = await _state(fran, rooms[1], "m.room.power_levels")
        version = (await _state(fran, rooms[1], "m.room.create")).get("room_version", "1")
        expected = {fran.user_id: 50} if version.isdigit() and int(version) >= 12 else {fran.user_id: 50, bot.user_id: 100}
        assert levels["users"] == expected and levels["users_default"] == 0 and levels["events_default"] == 0
        visibility = await fran.client.room_get_visibility(rooms[1])
        assert getattr(visibility, "visibility", None) == "private", "not in the room directory"

        # An outsider let in by the facilitator is removed by the bot and told why.
        await fran.client.room_invite(rooms[1], olga.user_id)  # Olga's client accepts invites itself
        await _until_membership(fran, rooms[1], olga.user_id, "leave")
        await olga.message(bot.user_id, "removed you", dms[olga.user_id], timeout=60)

        # A member moved from group 1 to group 2 leaves room 1 and is invited into room 2.
        mover = next(u for u in sorted(groups[1]) if u in by_id)
        await carol.send(control, f"!group move {mover} {slug}/2")
        await carol.message(bot.user_id, "is now in", control, timeout=60)
        await _until_membership(fran, rooms[1], mover, "leave")
        await by_id[mover].in_room(rooms[2])

        # A cancellation takes the person out of their room.
        leaver = next(u for u in sorted(groups[2]) if u in by_id and u != mover)
        await by_id[leaver].send(dms[leaver], f"!cancel {slug}")
        await by_id[leaver].message(bot.user_id, "is cancelled", dms[leaver], timeout=60)
        await _until_membership(by_id[mover], rooms[2], leaver, "leave")

        # Close Elena's room: read-only for participants; she reads the closing message on Element.
        elena_group = next(n for n, people in groups.items() if elena_id in people)
        await elena.join(rooms[elena_group])
        reader = by_id[mover] if elena_group == 2 else fran
        await _until_membership(reader, rooms[elena_group], elena_id, "join")
        await carol.send(control, f"!session close {slug}/{elena_group}")
        await carol.message(bot.user_id, "can no longer write", control, timeout=60)
        await carol.send(control, "!confirm")
        await carol.message(bot.user_id, "is closed", control, timeout=60)
        closing = await elena.wait_message(rooms[elena_group], bot.user_id, timeout_ms=60000)
        assert closing.decrypted, f"Element could not read the session room: {closing.error}"
        assert "is closed" in closing.body and closing.content["msgtype"] == "m.text"
        assert (await _state(reader, rooms[elena_group], "m.room.power_levels"))["events_default"] == 50
        await carol.send(control, f"!sessions {slug}")
        listing = await carol.message(bot.user_id, "Sessions of", control, timeout=60)
        assert "room: closed" in listing.content["body"] and "room: open" in listing.content["body"]
    finally:
        await elena.close()
