"""Events on a real Synapse: a coordinator creates and publishes an event, members register, one
waits, a seat frees up and is offered, and the offer is accepted; each person sees only their own
messages, and the calendar file they receive parses and starts at the right moment in UTC."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import nio
import pytest
from icalendar import Calendar
from nio.crypto.attachments import decrypt_attachment

from storage import networks
from tests.integration.members import NioMember, Seen

NET = {"id": "north", "name": "North Network", "timezone": "Europe/Amsterdam"}
FORM = """!event create
title: Theme meeting on alcohol at work
purpose: Collect members' experiences with alcohol and drugs at work; not a lecture.
expectations: Bring one situation from your own practice.
starts: 2031-03-14 19:30
ends: 21:30
place: https://meet.example.org/alcohol
capacity: 1
waitlist mode: offer
offer hours: 24"""
STARTS_UTC = datetime(2031, 3, 14, 18, 30, tzinfo=timezone.utc)  # 19:30 CET

pytestmark = pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "e2ee"])


async def _calendar_file(member: NioMember, sender: str, room_id: str, after: Seen) -> tuple[Calendar, str]:
    """The .ics file the bot sent after `after`, downloaded (and decrypted) like a client does,
    and the media it points at."""
    since = member.seen.index(after) + 1
    content = (await member.first(lambda s: s.sender == sender and s.room_id == room_id
                                  and s.content.get("msgtype") == "m.file" and member.seen.index(s) >= since)).content
    assert content["body"].endswith(".ics") and content["info"]["mimetype"] == "text/calendar"
    if "file" in content:  # an encrypted attachment in an encrypted room
        f = content["file"]
        url = f["url"]
        resp = await member.client.download(mxc=url)
        data = decrypt_attachment(resp.body, f["key"]["k"], f["hashes"]["sha256"], f["iv"])
    else:
        assert "url" in content and not encrypted_room(member, room_id), "a plain file in an encrypted room"
        url = content["url"]
        resp = await member.client.download(mxc=url)
        data = resp.body
    assert isinstance(resp, nio.DownloadResponse), resp
    return Calendar.from_ical(data), url


def encrypted_room(member: NioMember, room_id: str) -> bool:
    room = member.client.rooms.get(room_id)
    return bool(room and room.encrypted)


async def test_create_publish_register_waitlist_cancel_offer_accept(make_bot, make_member, encrypted):
    carol = await make_member(encrypted=encrypted)
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}],
                         matrix={"encryption": encrypted})
    await bot.start()
    async with bot.kring.db.transaction() as session:
        rooms = await networks.rooms(session, "north")
    control = rooms["control"]
    await carol.in_room(control)

    # The coordinator creates the event in the control room and publishes it.
    await carol.send(control, FORM)
    created = await carol.message(bot.user_id, "Created draft", control)
    slug = created.content["body"].split("Created draft ", 1)[1].split(".", 1)[0]
    assert slug == "theme-alcohol-work-2031"
    await carol.send(control, f"!event publish {slug}")
    await carol.message(bot.user_id, "where every member reads it", control)
    await carol.send(control, "!confirm")
    await carol.message(bot.user_id, "Published Theme meeting on alcohol at work", control)
    await carol.in_room(rooms["lobby"])
    post = await carol.message(bot.user_id, "New event", rooms["lobby"])
    assert post.content["msgtype"] == "m.text"
    assert post.content["body"].index("Why we meet") < post.content["body"].index("When:")

    # Two members who accepted the house rules register for its one seat.
    alice, bob = await make_member(encrypted=encrypted), await make_member(encrypted=encrypted)
    dms = {}
    for person in (alice, bob):
        await bot.grant(person.user_id, "member", "north")
        dms[person.user_id] = await person.dm(bot.user_id, encrypted=encrypted)
        await person.send(dms[person.user_id], "!accept-rules")
        await person.message(bot.user_id, "Thank you for accepting the house rules", dms[person.user_id])

    await alice.send(dms[alice.user_id], f"!register {slug}")
    confirmed = await alice.message(bot.user_id, "You are registered for Theme meeting", dms[alice.user_id])
    assert "Why we meet: Collect members' experiences" in confirmed.content["body"]
    assert "What we expect of you: Bring one situation" in confirmed.content["body"]
    assert confirmed.encrypted == encrypted
    calendar, alice_media = await _calendar_file(alice, bot.user_id, dms[alice.user_id], confirmed)
    [vevent] = calendar.walk("VEVENT")
    assert vevent.decoded("dtstart") == STARTS_UTC
    assert str(vevent["summary"]) == "Theme meeting on alcohol at work"

    await bob.send(dms[bob.user_id], f"!register {slug}")
    waiting = await bob.message(bot.user_id, "on the waiting list: number 1", dms[bob.user_id])
    assert waiting.content["msgtype"] == "m.notice"

    # Alice cancels: Bob is offered the seat in his DM, as a message his phone will ring for.
    await alice.send(dms[alice.user_id], f"!cancel {slug}")
    await alice.message(bot.user_id, "is cancelled", dms[alice.user_id])
    offer = await bob.message(bot.user_id, "yours if you want it", dms[bob.user_id])
    assert offer.content["msgtype"] == "m.text"
    assert bob.user_id in offer.content["m.mentions"]["user_ids"]
    assert f"!accept {slug}" in offer.content["body"]

    await bob.send(dms[bob.user_id], f"!accept {slug}")
    accepted = await bob.message(bot.user_id, "The seat is yours", dms[bob.user_id])
    calendar, bob_media = await _calendar_file(bob, bot.user_id, dms[bob.user_id], accepted)
    [vevent] = calendar.walk("VEVENT")
    assert vevent.decoded("dtstart") == STARTS_UTC
    # The same version of the event is the same file: uploaded once, not once per member.
    assert bob_media == alice_media

    await carol.send(control, f"!attendees {slug}")
    counts = await carol.message(bot.user_id, "The event:", control)
    assert "1 of 1 registered, 0 offered, 0 waiting" in counts.content["body"]
    assert "1 cancelled" in counts.content["body"]

    # The coordinator moves the event a day; after !confirm, Bob, who holds the seat, is told in his
    # DM with the new calendar entry: the same UID at a higher SEQUENCE, so his calendar updates it.
    await carol.send(control, f"!event edit {slug}\nstarts: 2031-03-15 19:30\nends: 21:30")
    await carol.message(bot.user_id, "This will notify 1 registrant by", control)
    await carol.send(control, "!confirm")
    await carol.message(bot.user_id, "People told of the change: 1", control)
    moved = await bob.message(bot.user_id, "has changed", dms[bob.user_id])
    assert moved.content["msgtype"] == "m.text" and "Saturday, 15 March 2031, 19:30" in moved.content["body"]
    calendar, _ = await _calendar_file(bob, bot.user_id, dms[bob.user_id], moved)
    [update] = calendar.walk("VEVENT")
    assert update.decoded("dtstart") == STARTS_UTC + timedelta(days=1)
    assert str(update["uid"]) == str(vevent["uid"]) and int(update["sequence"]) > int(vevent["sequence"])

    # Each member saw only their own messages: no offer reached Alice, nothing of Alice's reached Bob.
    assert not [s for s in alice.seen if "has changed" in s.content.get("body", "")], "Alice had cancelled"
    assert not [s for s in alice.seen if "yours if you want it" in s.content.get("body", "")]
    assert not [s for s in bob.seen if s.room_id == dms[alice.user_id]]
