"""The method guide on a real Synapse: a facilitator runs a method through its phases and turns in
the session's room, a written round is sent by DM and revealed together, a timer set before a
restart fires after it, an action point is recorded, the report is pinned and given only to
participants, and an outcome reaches the announcements room.

The session room is made by `!session open`, so it is encrypted: the members are E2EE clients."""
from __future__ import annotations

from datetime import datetime, timezone

import nio
from sqlalchemy import select

from storage import networks
from storage.database import Database
from storage.models import GroupSession, ScheduledAction
from tests.integration.members import NioMember

NET = {"id": "north", "name": "North Network", "timezone": "Europe/Amsterdam"}
FORM = """!event create
title: Intervision day
purpose: Work through real cases in small groups.
expectations: Bring a case from your own practice.
starts: 2031-03-14 09:30
ends: 16:00
place: https://meet.example.org/day
capacity: 10
waitlist mode: auto"""


async def _encrypted(member: NioMember, room_id: str) -> bool:
    return bool(member.client.rooms.get(room_id) and member.client.rooms[room_id].encrypted)


async def test_a_method_a_written_round_a_timer_across_a_restart_actions_report_and_outcome(make_bot, make_member):
    carol = await make_member()
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}],
                         matrix={"encryption": False})
    await bot.start()
    me = bot.user_id
    async with bot.kring.db.transaction() as session:
        rooms = await networks.rooms(session, "north")
    await carol.in_room(rooms["control"])
    created = await carol.ask(rooms["control"], FORM, "Created draft", sender=me)
    slug = created.content["body"].split("Created draft ", 1)[1].split(".", 1)[0]
    await carol.ask(rooms["control"], f"!event publish {slug}", "!confirm", sender=me)
    await carol.ask(rooms["control"], "!confirm", "Published", sender=me)

    fay, ann, ben, cas, olga = [await make_member(encrypted=True) for _ in range(5)]
    dms: dict[str, str] = {}
    for person in (fay, ann, ben, cas, olga):
        await bot.grant(person.user_id, "member", "north")
        dms[person.user_id] = await person.dm(me, encrypted=False)
        await person.ask(dms[person.user_id], "!accept-rules", "Thank you", sender=me)
    for person in (ann, ben, cas):
        await person.ask(dms[person.user_id], f"!register {slug}", "You are registered", sender=me)
    await carol.ask(rooms["control"], f"!groups {slug} size=3", "!confirm", sender=me)
    await carol.ask(rooms["control"], "!confirm", "forms 1 group", sender=me)
    await carol.ask(rooms["control"], f"!facilitate {slug}/1 {fay.user_id}", "now facilitates", sender=me)

    # The group's private room: `!session open` makes it (always encrypted) and invites the group.
    await carol.ask(rooms["control"], f"!session open {slug}/1", "1 private room", sender=me)
    invited = await fay.message(me, "I have invited you to the private room", dms[fay.user_id], since=0, timeout=90)
    assert "as its facilitator" in invited.content["body"]
    async with bot.kring.db.transaction() as session:
        row = (await session.execute(select(GroupSession))).scalar_one()
        room = row.room_id
        order = [u.user_id for u in (ann, ben, cas)]
    assert room
    for person in (fay, ann, ben, cas):
        await person.in_room(room)
    assert await _encrypted(fay, room) and await _encrypted(ann, room)

    # Turns in the fixed order, the case-bringer skipped; only the facilitator moves.
    bringer = ann.user_id
    others = [u for u in order if u != bringer] if bringer in order else order
    started = await fay.ask(room, f"!start lon-vp {bringer}", "Phase 1 of 4", sender=me)
    assert "Exploring the problem" in started.content["body"]
    refused = await ben.ask(room, "!phase next", "only the facilitator", sender=me)
    assert "Phase 2" not in refused.content["body"]
    turn = await fay.ask(room, "!turn next", "Turn 1 of 2", sender=me)
    assert turn.content["msgtype"] == "m.text" and turn.content["m.mentions"]["user_ids"] == [others[0]]
    await fay.ask(room, "!turn next", f"Turn 2 of 2: {others[1]}", sender=me)
    await fay.ask(room, "!phase next", "Phase 2 of 4: Reframing the core", sender=me)

    # A written round: contributions by DM, shown together once all have sent.
    await fay.ask(room, f"!start incident {bringer}", "Phase 1 of 5", sender=me)
    writers = [p for p in (ben, cas) if p.user_id != bringer]
    await fay.ask(room, "!phase next", "Phase 2 of 5: Written questions", sender=me)
    for person in writers:
        await person.message(me, "A written round is open", dms[person.user_id], since=0, timeout=60)
    seen_before = len(ann.seen)
    first = await writers[0].ask(dms[writers[0].user_id], "!write What happened first?", "1 of 2 have sent", sender=me)
    assert first.content["msgtype"] == "m.notice"
    await writers[1].ask(dms[writers[1].user_id], "!write Who else was there?", "Everyone has sent", sender=me)
    shown = await ann.message(me, "shown together", room, since=seen_before, timeout=60)
    assert "What happened first?" in shown.content["body"] and "Who else was there?" in shown.content["body"]
    assert not [s for s in ann.seen[seen_before:] if s.room_id == room and "What happened first?" in
                s.content.get("body", "") and s.event_id != shown.event_id], "revealed once, together"
    assert not [s for s in olga.seen if "What happened first?" in s.content.get("body", "")]

    # A timer set before a restart fires after it (its row in the schedule table, due while down).
    await fay.ask(room, "!timer 5m", "Timer set: 5 minutes", sender=me)
    await bot.stop()
    db = Database(bot.config.storage.database_url)
    async with db.transaction() as session:
        timer = (await session.execute(select(ScheduledAction).where(
            ScheduledAction.kind == "sessions.timer"))).scalar_one()
        timer.due_at = datetime.now(timezone.utc)  # it fell due while the bot was down
    await db.close()
    index = len(fay.seen)
    await bot.start()
    up = await fay.message(me, "time is up (5 minutes)", room, since=index, timeout=90)
    assert up.content["msgtype"] == "m.text" and up.content["m.mentions"]["user_ids"] == [fay.user_id]

    # An action point, the report (pinned; participants only) and the outcome (announcements).
    await ben.ask(room, "!action Call the works council by 2031-04-01", "Action point 1 added", sender=me)
    listed = await cas.ask(room, "!actions", "Call the works council", sender=me)
    assert "Tue, 1 Apr 2031" in listed.content["body"]
    await fay.ask(room, "!report We looked at a conflict and agreed to check in next month.", "stored and pinned", sender=me)
    pinned_post = await ann.message(me, "Report of session", room, since=0, timeout=60)

    async def pinned() -> list[str]:
        state = await ann.client.room_get_state_event(room, "m.room.pinned_events")
        return state.content.get("pinned", []) if isinstance(state, nio.RoomGetStateEventResponse) else []

    for _ in range(100):
        if pinned_post.event_id in await pinned():
            break
        await ann.next_sync()
    assert pinned_post.event_id in await pinned()
    got = await ben.ask(dms[ben.user_id], f"!report {slug}/1", "Report of session", sender=me)
    assert "agreed to check in" in got.content["body"]
    no = await olga.ask(dms[olga.user_id], f"!report {slug}/1", "goes only to its participants", sender=me)
    assert "conflict" not in no.content["body"]
    no = await carol.ask(rooms["control"], f"!report {slug}/1", "only in your DM", sender=me)
    assert "conflict" not in no.content["body"], "not in the control room either"

    await carol.in_room(rooms["announcements"])
    await fay.ask(room, "!outcome Clear agreements help advisers say no.", "!confirm", sender=me)
    index = len(carol.seen)
    await fay.ask(room, "!confirm", "posted in the announcements room", sender=me)
    post = await carol.message(me, "Outcome of Intervision day, group 1", rooms["announcements"], since=index, timeout=60)
    assert post.content["msgtype"] == "m.text" and "Clear agreements help" in post.content["body"]
