"""Feedback on a real Synapse: after an event the participants are asked by DM, one answers the
form in the DM, another sends the feedback of their group and the group's room is told, a nudge
reaches only the one who has answered nothing, the coordinators' results chart arrives as a PNG
that decodes, and the summary shared in the announcements room names nobody.

The event is made and registered for through chat; only its times are moved into the past in the
bot's database (a meeting that has ended cannot be created)."""
from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta, timezone

from nio.crypto.attachments import decrypt_attachment
from sqlalchemy import select, update

from storage import networks
from storage.models import Event, GroupSession, ScheduledAction, SessionMember
from tests.integration.members import NioMember, Seen
from tests.integration.test_events import FORM

NET = {"id": "north", "name": "North Network", "timezone": "Europe/Amsterdam"}
ANSWERS = ["4", "5", "3", "1", "The case round", "-"]


async def _due_now(bot, key_prefix: str) -> None:  # noqa: ANN001
    """Let the schedule rows whose key starts so fall due now, and wake the bot's schedule."""
    async with bot.kring.db.transaction() as s:
        await s.execute(update(ScheduledAction).where(ScheduledAction.key.like(f"{key_prefix}%"),
                                                      ScheduledAction.done_at.is_(None))
                        .values(due_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    bot.kring.schedule.wake()


async def _answer(member: NioMember, bot_id: str, dm: str, command: str, answers: list[str]) -> Seen:
    since = len(member.seen)
    await member.send(dm, command)
    await member.message(bot_id, "Question 1 of 6", dm, since=since, timeout=60)
    for number, answer in enumerate(answers, start=2):
        await member.send(dm, answer)
        if number <= len(answers):
            await member.message(bot_id, f"Question {number} of 6", dm, since=since, timeout=60)
    return await member.message(bot_id, "Thank you!", dm, since=since, timeout=60)


async def _download(member: NioMember, content: dict) -> bytes:
    """A file as a client gets it: plain, or decrypted in an encrypted room."""
    if "file" in content:
        f = content["file"]
        body = (await member.client.download(mxc=f["url"])).body
        return decrypt_attachment(body, f["key"]["k"], f["hashes"]["sha256"], f["iv"])
    return (await member.client.download(mxc=content["url"])).body


async def test_feedback_by_dm_for_a_group_with_a_nudge_results_chart_and_shared_summary(make_bot, make_member):
    # Session rooms are always encrypted: every member here has a device that can read them.
    carol = await make_member(encrypted=True)
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}])
    await bot.start()
    async with bot.kring.db.transaction() as s:
        rooms = await networks.rooms(s, "north")
    control, announcements = rooms["control"], rooms["announcements"]
    await carol.in_room(control)
    await carol.send(control, FORM.replace("capacity: 1", "capacity: 10"))
    created = await carol.message(bot.user_id, "Created draft", control)
    slug = created.content["body"].split("Created draft ", 1)[1].split(".", 1)[0]
    await carol.send(control, f"!event publish {slug}")
    await carol.message(bot.user_id, "where every member reads it", control)
    await carol.send(control, "!confirm")
    await carol.message(bot.user_id, "Published", control)

    people = [await make_member(encrypted=True) for _ in range(3)]
    dms: dict[str, str] = {}
    for person in people:
        await bot.grant(person.user_id, "member", "north")
        dms[person.user_id] = dm = await person.dm(bot.user_id, encrypted=False)
        await person.send(dm, "!accept-rules")
        await person.message(bot.user_id, "Thank you for accepting the house rules", dm)
        await person.send(dm, f"!register {slug}")
        await person.message(bot.user_id, "You are registered", dm)
    await carol.send(control, f"!groups {slug} size=2")
    await carol.message(bot.user_id, "!confirm", control)
    await carol.send(control, "!confirm")
    await carol.message(bot.user_id, "is split into 2 groups", control)

    # Group 1's private room is opened, and its participants are in it.
    async with bot.kring.db.transaction() as s:
        group = (await s.execute(select(GroupSession).where(GroupSession.number == 1))).scalar_one()
        in_group = set((await s.execute(select(SessionMember.user_id)
                                        .where(SessionMember.session_id == group.id))).scalars())
    by_id = {p.user_id: p for p in people}
    g1 = [by_id[u] for u in sorted(in_group)]
    loner = next(p for p in people if p.user_id not in in_group)
    await carol.send(control, f"!session open {slug}/1")
    group_room = None
    while group_room is None:  # filled in when the homeserver has made the room
        await asyncio.sleep(0.2)
        async with bot.kring.db.transaction() as s:
            group_room = (await s.execute(select(GroupSession.room_id).where(GroupSession.id == group.id))).scalar()
    for p in g1:
        await p.in_room(group_room)
    async with bot.kring.db.transaction() as s:
        # the meeting took place: it ended two hours ago
        ended = datetime.now(timezone.utc) - timedelta(hours=2)
        await s.execute(update(Event).where(Event.slug == slug)
                        .values(starts_at=ended - timedelta(hours=2), ends_at=ended, closes_at=ended - timedelta(hours=3)))

    # The request: an m.text DM to each participant, naming the command.
    await _due_now(bot, "feedback.ask")
    for person in people:
        asked = await person.message(bot.user_id, f"!feedback {slug}", dms[person.user_id], timeout=60)
        assert asked.content["msgtype"] == "m.text"

    # One answers for herself; another sends the group's feedback and answers for himself too.
    first, second = g1
    await _answer(first, bot.user_id, dms[first.user_id], f"!feedback {slug}", ANSWERS)
    await _answer(second, bot.user_id, dms[second.user_id], f"!feedback group {slug}/1", ANSWERS)
    told = await first.message(bot.user_id, "has sent the feedback of group 1", group_room, timeout=60)
    assert second.user_id in told.content["m.mentions"]["user_ids"]
    await _answer(second, bot.user_id, dms[second.user_id], f"!feedback {slug}", ["2", "2", "2", "3", "-", "-"])

    # The nudge reaches only the one who answered nothing.
    await _due_now(bot, "feedback.nudge")
    nudge = await loner.message(bot.user_id, "friendly reminder: your feedback", dms[loner.user_id], timeout=60)
    assert nudge.content["msgtype"] == "m.text"
    for p in g1:  # a DM is sent in order: anything queued for it before the ping's answer came first
        await p.send(dms[p.user_id], "!ping")
        await p.message(bot.user_id, "Pong!", dms[p.user_id], timeout=60)
        assert not [s for s in p.seen if "friendly reminder" in s.content.get("body", "")], p.user_id

    # The results: the figures as text and the chart as a PNG that decodes.
    await carol.send(control, f"!results {slug}")
    results = await carol.message(bot.user_id, "Feedback on Theme meeting", control, timeout=60)
    assert "2 of 3 participants answered" in results.content["body"]
    assert "Groups: 1 of 2 groups answered" in results.content["body"]
    image = await carol.first(lambda s: s.room_id == control and s.content.get("msgtype") == "m.image", timeout=60)
    assert image.content["info"]["mimetype"] == "image/png"
    data = await _download(carol, image.content)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) == image.content["info"]["size"]
    from PIL import Image

    with Image.open(io.BytesIO(data)) as png:
        png.load()
        assert png.format == "PNG" and png.size[0] >= 600 and png.size[1] >= 200, png.size

    # Shared with everyone after !confirm: rates and figures, no name of anyone.
    await carol.in_room(announcements)
    await carol.send(control, f"!results {slug} share")
    await carol.message(bot.user_id, "would be posted in the announcements room", control)
    await carol.send(control, "!confirm")
    await carol.message(bot.user_id, "is posted in the announcements room", control)
    post = await carol.message(bot.user_id, "What you told us about", announcements, timeout=60)
    body = post.content["body"] + post.content.get("formatted_body", "")
    for person in people:
        assert person.user_id not in body and person.user_id.split(":")[0][1:] not in body
    assert "The case round" not in body, "no open answers"
    assert await carol.first(lambda s: s.room_id == announcements and s.content.get("msgtype") == "m.image")
