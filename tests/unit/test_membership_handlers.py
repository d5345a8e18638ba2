"""The membership, profile, privacy and confirmation commands through the real Dispatcher and a
real database, reading what they wrote (rows, and the outbox: messages, invites, kicks, power)."""
from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from storage import members, networks
from storage.database import Database
from storage.models import Membership
from tests.unit.helpers import T0, message, open_dm, outbox_rows, set_role

CAROL, SAM, ALICE, BOB = "@carol:example.org", "@sam:example.org", "@alice:example.org", "@bob:lvv.nl"
ROOMS = {net: {k: f"!{k}-{net}:example.org" for k in networks.KINDS} for net in ("north", "south")}
DMS = {u: f"!dm-{u[1:].split(':')[0]}:example.org" for u in (CAROL, SAM, ALICE, BOB)}


async def _networks(db: Database, rules: str = "Be kind.") -> None:
    async with db.transaction() as session:
        for net, auto in (("north", {"user_ids": [], "domains": ["lvv.nl"]}), ("south", {"user_ids": [], "domains": []})):
            await networks.upsert(session, net, name=net.title() + " Network", language=None, timezone=None,
                                  house_rules=rules if net == "north" else "", auto_approve=auto, now=T0)
            for kind, room_id in ROOMS[net].items():
                await networks.record_room(session, net, kind, room_id, "12", T0)


@pytest.fixture
async def run(db, make_dispatcher, clock):
    await _networks(db)
    await set_role(db, CAROL, "coordinator", "north")
    await set_role(db, SAM, "coordinator", "south")
    for user, room in DMS.items():
        await open_dm(db, room, user)
    dispatcher = make_dispatcher()

    async def send(body: str, sender: str = ALICE, room: str | None = None) -> list:
        before = {r.txn_id for r in await outbox_rows(db)}
        outcome = await dispatcher.handle(message(body, sender=sender, room_id=room or DMS[sender], at=clock()))
        assert outcome in ("ok", "user-error"), outcome
        return [r for r in await outbox_rows(db) if r.txn_id not in before]

    return send


def body(row) -> str:  # noqa: ANN001
    return row.payload["content"]["body"]


async def state(db: Database, net: str, user: str) -> Membership | None:
    async with db.transaction() as session:
        return await members.membership(session, net, user)


async def test_join_request_reaches_the_control_room_once(db, run):
    rows = await run("!join north Alice, HR at a school")
    note, reply = rows
    assert note.room_id == ROOMS["north"]["control"] and "Alice, HR at a school" in body(note)
    assert "!approve @alice:example.org" in body(note)
    assert reply.room_id == DMS[ALICE] and "passed your request" in body(reply)
    assert (await state(db, "north", ALICE)).state == "pending"
    [again] = await run("!join north")
    assert "already with the coordinators" in body(again)


async def test_join_needs_a_dm_and_a_known_network(db, run):
    [reply] = await run("!join north", room=ROOMS["north"]["lobby"])
    assert "direct message" in body(reply)
    [reply] = await run("!join west")
    assert 'no network "west"' in body(reply) and "north, south" in body(reply)
    [reply] = await run("!join")
    assert "Which network" in body(reply)


async def test_auto_approval_by_domain_invites_and_welcomes(db, run):
    rows = await run("!join north", sender=BOB)
    invites = {r.room_id for r in rows if r.kind == "invite"}
    assert invites == {ROOMS["north"][k] for k in ("space", "lobby", "announcements")}
    assert all(r.payload["user_id"] == BOB for r in rows if r.kind == "invite")
    welcome = next(r for r in rows if r.kind == "message" and r.user_id == BOB)
    assert "Be kind." in body(welcome) and welcome.payload["content"]["msgtype"] == "m.text"
    assert (await state(db, "north", BOB)).state == "active"


async def test_approve_is_per_network(db, run):
    await run("!join north")
    [refused] = await run(f"!approve {ALICE}", sender=SAM, room=ROOMS["north"]["control"])
    assert "coordinators' room of its network" in body(refused), "not his network's coordinators' room"
    [refused] = await run(f"!approve {ALICE}", sender=SAM)
    assert "not on the roster of any network you coordinate" in body(refused)
    assert (await state(db, "north", ALICE)).state == "pending"
    rows = await run(f"!approve {ALICE}", sender=CAROL)  # in her DM: her only network
    assert (await state(db, "north", ALICE)).state == "active"
    assert [r.kind for r in rows].count("invite") == 3
    assert "is now a member of North Network" in body(rows[-1])


async def test_decline_tells_the_applicant_the_reason(db, run):
    await run("!join north")
    rows = await run(f"!decline {ALICE} please apply through your employer", sender=CAROL,
                     room=ROOMS["north"]["control"])
    told = next(r for r in rows if r.user_id == ALICE)
    assert "declined" in body(told) and "please apply through your employer" in body(told)
    assert (await state(db, "north", ALICE)).state == "declined"
    [reply] = await run(f"!approve {ALICE}", sender=CAROL, room=ROOMS["north"]["control"])
    assert "no open request" in body(reply)


async def test_rules_must_be_accepted_and_again_after_a_change(db, run):
    [refused] = await run("!accept-rules")
    assert "Only a member may use accept-rules" in body(refused)
    await run("!join north")
    await run(f"!approve {ALICE}", sender=CAROL)
    async with db.transaction() as session:
        assert not await members.rules_accepted(session, "north", ALICE)
    [thanks] = await run("!accept-rules")
    assert "North Network" in body(thanks)
    async with db.transaction() as session:
        assert await members.rules_accepted(session, "north", ALICE)
        _, changed = await networks.upsert(session, "north", name="North Network", language=None, timezone=None,
                                           house_rules="Be kind. Be on time.", auto_approve={}, now=T0)
        assert changed
    async with db.transaction() as session:
        assert not await members.rules_accepted(session, "north", ALICE)
        assert ALICE in await members.pending_rules(session, "north", 2)


async def test_roles_move_power_and_the_control_room(db, run):
    await set_role(db, ALICE, "member", "north")
    ctl = ROOMS["north"]["control"]
    [refused] = await run(f"!role {CAROL} member", sender=CAROL, room=ctl)
    assert "needs at least one coordinator" in body(refused)
    rows = await run(f"!role {ALICE} coordinator", sender=CAROL, room=ctl)
    assert {(r.kind, r.room_id) for r in rows if r.kind in ("invite", "power")} >= {("invite", ctl), ("power", ctl)}
    assert {r.payload["level"] for r in rows if r.kind == "power"} == {50}
    assert (await state(db, "north", ALICE)).role == "coordinator"
    rows = await run(f"!role {CAROL} facilitator", sender=ALICE, room=ctl)
    assert ("kick", ctl) in {(r.kind, r.room_id) for r in rows}
    assert {r.payload["level"] for r in rows if r.kind == "power"} == {0}
    [reply] = await run(f"!role {ALICE} boss", sender=ALICE, room=ctl)
    assert "must be one of member|facilitator|coordinator" in body(reply)


async def test_remove_members_list_and_leave(db, run):
    await set_role(db, ALICE, "member", "north")
    await set_role(db, BOB, "facilitator", "north")
    ctl = ROOMS["north"]["control"]
    [listing] = await run("!members", sender=CAROL, room=ctl)
    assert "coordinators: 1" in body(listing) and "facilitators: 1" in body(listing) and ALICE in body(listing)
    [only] = await run("!members facilitator", sender=CAROL, room=ctl)
    assert BOB in body(only) and ALICE not in body(only)
    [asked] = await run(f"!remove {ALICE} repeated breaches of confidentiality", sender=CAROL, room=ctl)
    assert "Remove" in body(asked) and "repeated breaches" in body(asked) and "!confirm" in body(asked)
    assert (await state(db, "north", ALICE)).state == "active"  # nothing happens before !confirm
    rows = await run("!confirm", sender=CAROL, room=ctl)
    assert {r.room_id for r in rows if r.kind == "kick"} == set(ROOMS["north"].values())
    assert "repeated breaches" in body(next(r for r in rows if r.user_id == ALICE))
    assert (await state(db, "north", ALICE)).state == "removed"
    rows = await run("!leave north", sender=BOB)
    assert (await state(db, "north", BOB)).state == "left"
    assert "left North Network" in body(rows[-1])
    [refused] = await run("!leave", sender=CAROL)
    assert "needs at least one coordinator" in body(refused)


async def test_profile_commands(db, run):
    [reply] = await run("!lang nl")
    assert body(reply) == "Vanaf nu spreek ik Nederlands met u."
    [reply] = await run("!tz Europe/Brusels")
    assert "Bedoelde u Europe/Brussels?" in body(reply)
    [reply] = await run("!tz europe/brussels")
    assert "Europe/Brussels" in body(reply)
    await run("!org  Hospital   Noord ")
    [profile] = await run("!profile")
    assert "Europe/Brussels" in body(profile) and "Hospital Noord" in body(profile) and "Nederlands" in body(profile)
    async with db.transaction() as session:
        m = await members.get(session, ALICE)
        assert (m.language, m.timezone, m.organisation) == ("nl", "Europe/Brussels", "Hospital Noord")
    await run("!org")
    async with db.transaction() as session:
        assert (await members.get(session, ALICE)).organisation is None


async def test_mydata_in_a_room_goes_to_the_dm(db, run):
    await set_role(db, ALICE, "member", "north")
    rows = await run("!mydata", room=ROOMS["north"]["lobby"])
    file = next(r for r in rows if r.kind == "file")
    assert file.user_id == ALICE and file.room_id is None
    data = json.loads(base64.b64decode(file.payload["data"]))
    assert data["profile"]["user_id"] == ALICE and data["memberships"][0]["network"] == "north"
    assert "sent you a file" in body(rows[-1])


async def test_confirmation_expires_and_can_be_stopped(db, run, clock):
    await set_role(db, ALICE, "member", "north")
    [ask] = await run("!forgetme")
    assert "!confirm within 10 minutes" in body(ask)
    clock.advance(minutes=11)
    [late] = await run("!confirm")
    assert "expired" in body(late)
    assert (await state(db, "north", ALICE)) is not None
    await run("!forgetme")
    [stopped] = await run("!stop")
    assert "Cancelled" in body(stopped)
    [nothing] = await run("!confirm")
    assert "nothing waiting" in body(nothing)
    [nothing] = await run("!stop")
    assert "nothing in progress" in body(nothing)


async def test_forgetme_erases_and_kicks_privately(db, run):
    await set_role(db, ALICE, "member", "north")
    async with db.transaction() as session:
        (await members.get(session, ALICE)).display_name = "Alice Zwanenburg"
    await run("!members", sender=CAROL, room=ROOMS["north"]["control"])  # a reply naming her
    [refused] = await run("!forgetme", sender=CAROL)
    assert "You are a coordinator of north" in body(refused)
    await run("!forgetme")
    rows = await run("!confirm")
    assert {r.room_id for r in rows if r.kind == "kick"} == set(ROOMS["north"].values())
    assert [r.kind for r in rows][-2:] == ["message", "leave"]
    assert all(r.payload.get("private") for r in rows)
    async with db.transaction() as session:
        assert await members.get(session, ALICE) is None
        assert (await session.execute(select(Membership))).scalars().all() != []
    from storage import outbox

    everything = await outbox_rows(db)
    async with db.transaction() as session:  # what the sender does once each item is out
        for r in everything:
            await outbox.mark_done(session, r.id, T0)
    dump = "\n".join(repr((r.kind, r.room_id, r.user_id, r.payload)) for r in await outbox_rows(db))
    assert ALICE not in dump and "Zwanenburg" not in dump
