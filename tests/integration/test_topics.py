"""Topic votes on a real Synapse: members propose and vote by DM within the network's limit and
take a vote back; a coordinator picks the most wanted topic into the step-by-step event form,
publishes the event, and the proposer and the voter are told by DM."""
from __future__ import annotations

from storage import networks
from tests.integration.members import NioMember

NET = {"id": "north", "name": "North Network", "timezone": "Europe/Amsterdam", "polls": {"topic_votes": 1}}
ANSWERS = {"What is its purpose": "Share what helps colleagues before they burn out.",
           "When does it start": "2031-03-14 19:30", "When does it end": "21:30", "Where is it": "Online",
           "How many seats": "20"}


async def _ask(member: NioMember, bot_user: str, room: str, text: str, expect: str) -> str:
    asked = await member.send(room, text)
    reply = await member.reply_to(bot_user, room, asked, timeout=60)
    assert expect in reply.content["body"], reply.content["body"]
    return reply.content["body"]


async def test_propose_vote_within_the_limit_pick_into_the_event_form_and_tell_on_publish(make_bot, make_member) -> None:
    carol, ann, bob = await make_member(), await make_member(), await make_member()
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}],
                         matrix={"encryption": False})
    for person in (ann, bob):
        await bot.grant(person.user_id, "member", "north")
    await bot.start()
    async with bot.kring.db.read() as session:
        control = (await networks.rooms(session, "north"))["control"]
    await carol.wait_joined(control, carol.user_id, timeout=90)
    dms = {p.user_id: await p.dm(bot.user_id, encrypted=False) for p in (ann, bob)}
    a, b = dms[ann.user_id], dms[bob.user_id]

    await _ask(ann, bot.user_id, a, "!topic propose Burn-out in small teams", "Topic 1 is proposed")
    await _ask(ann, bot.user_id, a, "!topic propose Integrity dilemmas", "Topic 2 is proposed")
    await _ask(bob, bot.user_id, b, "!topic vote 2", "It now has 1 vote")
    await _ask(bob, bot.user_id, b, "!topic vote 1", "1 open topic at a time")  # the network allows one
    await _ask(bob, bot.user_id, b, "!topic unvote 2", "taken back")
    await _ask(bob, bot.user_id, b, "!topic vote 1", "It now has 1 vote")
    listing = await _ask(ann, bot.user_id, a, "!topics", "Proposed topics")
    assert listing.index("Burn-out in small teams (1 vote)") < listing.index("Integrity dilemmas (0 votes)")

    reply = await _ask(carol, bot.user_id, control, "!topic pick 1", "Title: Burn-out in small teams")
    for _step in range(20):
        asked = reply.splitlines()[-1]
        answer = next((v for q, v in ANSWERS.items() if q in asked), "-")
        sent = await carol.send(control, answer)
        reply = (await carol.reply_to(bot.user_id, control, sent, timeout=60)).content["body"]
        if "Created draft" in reply:
            break
    slug = reply.split("Created draft ", 1)[1].split(".", 1)[0]
    await _ask(carol, bot.user_id, control, f"!event publish {slug}", "!confirm")
    await _ask(carol, bot.user_id, control, "!confirm", "Published")

    for person, room in ((ann, a), (bob, b)):
        told = await person.message(bot.user_id, "has become an event", room, timeout=60, type="m.room.message")
        assert told.content["msgtype"] == "m.text" and f"!register {slug}" in told.content["body"]
