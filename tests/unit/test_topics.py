"""Topic votes through the real Dispatcher and SQLite: members propose, list and vote within the
configured limit, take votes back and withdraw; a coordinator closes one with a reason (the
proposer is told) or picks one into the step-by-step event form with the title filled in, and
when that event is published its proposer and voters are told by DM."""
from __future__ import annotations

import json

import pytest

from commands.topics import rules
from storage import polls, topics
from storage.database import Database
from tests.unit.event_world import CONTROL, LOBBY, NET, EventWorld
from tests.unit.helpers import FakeClock


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


def test_the_rules_for_a_proposal_and_the_vote_limit() -> None:
    assert rules.proposal_problem("ok") == "topics.propose.too_short"
    assert rules.proposal_problem("x" * 301) == "topics.propose.too_long"
    assert rules.proposal_problem("  Burn-out   in small teams ") is None
    assert rules.may_vote(2, 3) and not rules.may_vote(3, 3)


async def test_propose_list_vote_within_the_limit_unvote_and_withdraw(world: EventWorld, db: Database) -> None:
    ann, bob = await world.person("ann"), await world.person("bob")
    async with db.transaction() as s:
        await polls.configure(s, NET, members_may_poll=False, topic_votes=2)
    texts = ["Burn-out in small teams", "Integrity dilemmas", "Alcohol at work"]
    for text in texts:
        done = (await world.say(ann, f"!topic propose {text}", room=LOBBY)).text()
        assert "is proposed" in done
    assert "a few words" in (await world.say(ann, "!topic propose ok")).text()

    assert "It now has 1 vote" in (await world.say(bob, "!topic vote 2")).text()
    assert "already voted" in (await world.say(bob, "!topic vote 2")).text()
    await world.say(bob, "!topic vote 3")
    refused = (await world.say(bob, "!topic vote 1")).text()
    assert "2 open topics at a time" in refused and "!topic unvote" in refused
    await world.say(ann, "!topic vote 3")

    listing = (await world.say(bob, "!topics")).text()
    order = [listing.index(t) for t in ("Alcohol at work", "Integrity dilemmas", "Burn-out in small teams")]
    assert order == sorted(order), "most votes first"
    assert "3. Alcohol at work (2 votes, including yours)" in listing and "1. Burn-out in small teams (0 votes)" in listing
    assert "used 2 of your 2 votes" in listing

    assert "taken back" in (await world.say(bob, "!topic unvote 3")).text()
    assert "had not voted" in (await world.say(bob, "!topic unvote 3")).text()
    assert "It now has 1 vote" in (await world.say(bob, "!topic vote 1")).text(), "room again after unvote"

    assert "Only the member who proposed" in (await world.say(bob, "!topic withdraw 1")).text()
    assert "is withdrawn" in (await world.say(ann, "!topic withdraw 1")).text()
    assert "has been withdrawn" in (await world.say(bob, "!topic vote 1")).text()
    # a withdrawn topic's vote no longer counts against the limit
    assert "It now has 2 votes" in (await world.say(bob, "!topic vote 3")).text()
    assert "Burn-out" not in (await world.say(bob, "!topics")).text()


async def test_a_coordinator_closes_a_topic_with_a_reason_the_proposer_hears(world: EventWorld) -> None:
    carol, ann, bob = await world.person("carol", "coordinator"), await world.person("ann"), await world.person("bob")
    await world.say(ann, "!topic propose Salaries of advisers")
    assert "Only a coordinator" in (await world.say(bob, "!topic close 1 off topic")).text()
    said = await world.say(carol, "!topic close 1 Outside what this network discusses", room=CONTROL)
    assert "is closed" in said.text()
    [told] = said.to_user(ann)
    assert "Outside what this network discusses" in told.body and "Salaries of advisers" in told.body
    assert "has been closed" in (await world.say(bob, "!topic vote 1")).text()


async def test_a_picked_topic_opens_the_event_form_and_its_people_hear_when_it_is_published(
        world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    ann, bob, cas, dan = [await world.person(n) for n in ("ann", "bob", "cas", "dan")]
    await world.say(ann, "!topic propose Burn-out in small teams")
    await world.say(bob, "!topic vote 1")
    await world.say(cas, "!topic vote 1")
    await world.say(cas, "!topic unvote 1")
    assert "coordinators' room" in (await world.say(carol, "!topic pick 1", room=LOBBY)).text()

    await world.say(carol, "!topic pick 1", room=CONTROL)
    await world.say(carol, "!stop", room=CONTROL)  # the form left: the topic can be picked again
    started = (await world.say(carol, "!topic pick 1", room=CONTROL)).text()
    assert "Title: Burn-out in small teams" in started
    answers = {"What is its purpose": "Share what helps colleagues before they burn out.", "When does it start": "2031-03-14 19:30",
               "When does it end": "21:30", "Where is it": "Online", "How many seats": "20"}
    reply = started
    for _step in range(20):  # answer each question the form asks, "-" where it may be skipped
        asked = reply.splitlines()[-1]
        answer = next((a for q, a in answers.items() if q in asked), "-")
        reply = (await world.say(carol, answer, room=CONTROL)).text()
        if "Created draft" in reply:
            break
    assert "Created draft" in reply, reply
    slug = reply.split("Created draft ", 1)[1].split(".", 1)[0]
    assert "Burn-out in small teams" in (await world.say(carol, f"!event {slug}", room=CONTROL)).text()
    assert "already been picked" in (await world.say(dan, "!topic vote 1")).text()

    published = await world.publish(carol, slug, room=CONTROL)
    told = {s.user_id: s for s in published if s.kind == "message" and s.user_id}
    assert set(told) == {ann, bob}, "the proposer and the voters, not who took the vote back"
    assert "Burn-out in small teams" in told[bob].body and f"!register {slug}" in told[bob].body
    assert told[bob].msgtype == "m.text"
    async with db.read() as s:
        assert (await topics.get(s, 1)).event_slug == slug


async def test_mydata_and_forgetme_cover_proposals_and_topic_votes(world: EventWorld, db: Database) -> None:
    ann, bob = await world.person("ann"), await world.person("bob")
    await world.say(ann, "!topic propose Integrity dilemmas")
    await world.say(ann, "!topic vote 1")
    await world.say(bob, "!topic vote 1")
    [data] = (await world.say(ann, "!mydata")).files()
    exported = json.loads(data.file_bytes())["topics"]
    assert exported["proposed"][0]["text"] == "Integrity dilemmas" and exported["votes"][0]["topic"] == 1
    await world.say(ann, "!forgetme")
    await world.say(ann, "!confirm")
    async with db.read() as s:
        topic = await topics.get(s, 1)
        assert topic.proposer is None and topic.state == "withdrawn"
        assert await topics.voters(s, 1) == [bob]
