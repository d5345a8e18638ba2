"""Member polls through the real Dispatcher and SQLite: a native poll's start and end events as
Element sends and reads them, responses in both types (latest counts, members only, none after
the end, each event once), the closing job, and anonymous polls whose tally is right while no
table ties a voter to a choice."""
from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from api import RoomEvent
from bot.router import Registry
from bot.scheduler import ScheduleRunner
from commands.polls import rules
from storage import outbox, polls
from storage.database import Database
from storage.models import OutboxItem
from tests.unit.event_world import CONTROL, LOBBY, NET, EventWorld
from tests.unit.helpers import BOT, FakeClock

_ids = itertools.count(1)


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


@pytest.fixture
def runner(db: Database, clock: FakeClock) -> ScheduleRunner:
    return ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=48), language="en")


def events_of(said, event_type: str) -> list[dict]:
    return [s.payload["content"] for s in said if s.kind == "event" and s.payload["type"] == event_type]


async def start_poll(world: EventWorld, who: str, command: str) -> tuple[int, str]:
    """Post a native poll; the bot's own start event then comes back through the timeline."""
    said = await world.say(who, command, room=LOBBY)
    [start] = events_of(said, rules.START)
    number = start[rules.MARK]
    event_id = f"$poll{number}"
    await world.dispatcher.handle(RoomEvent(event_id, LOBBY, BOT, rules.START, start, world.clock.now))
    return number, event_id


async def respond(world: EventWorld, user: str, poll_event: str, answers: list[str], *, stable: bool = False,
                  event_id: str | None = None, after: timedelta = timedelta(0)) -> str:
    if stable:
        event_type, content = "m.poll.response", {"m.selections": answers}
    else:
        event_type, content = rules.RESPONSES[0], {rules.RESPONSES[0]: {"answers": answers}}
    content["m.relates_to"] = {"rel_type": "m.reference", "event_id": poll_event}
    return await world.dispatcher.handle(RoomEvent(event_id or f"$r{next(_ids)}", LOBBY, user, event_type, content,
                                                   world.clock.now + after))


def test_the_request_is_read_with_quotes_options_and_flags() -> None:
    req = rules.parse_request('“Which date?” "Monday 14" \'Tuesday\' multi=2 closes=2h undisclosed')
    assert (req.question, req.options, req.multi, req.closes, req.kind) == (
        "Which date?", ["Monday 14", "Tuesday"], 2, "2h", "undisclosed")
    for bad, key in (('"Q" "only one"', "polls.too_few"), ('"Q" "A" "a"', "polls.same_option"),
                     ('"Q" "A" "B" multi=3', "polls.bad_multi"), ('"Q "A" "B"', "polls.bad_quotes"),
                     ('"Q" "A" "B" multi=2 anonymous', "polls.anonymous_single")):
        with pytest.raises(rules.PollProblem) as err:
            rules.parse_request(bad)
        assert err.value.key == key, bad


def test_responses_of_both_types_and_the_tally_rules() -> None:
    ref = {"rel_type": "m.reference", "event_id": "$p"}
    assert rules.response_of({"m.relates_to": ref, "org.matrix.msc3381.poll.response": {"answers": ["o1"]}}) == ("$p", ["o1"])
    assert rules.response_of({"m.relates_to": ref, "m.selections": ["o2"]}) == ("$p", ["o2"])
    assert rules.response_of({"m.relates_to": ref}) is None
    ids = ["o1", "o2", "o3"]
    # unknown ids dropped, duplicates once, only the first max_selections count
    assert rules.valid_answers(["x", "o2", "o2", "o3", "o1"], ids, 2) == ["o2", "o3"]
    assert rules.tally(ids, [["o1"], ["o1", "o2"], [], ["zz"]], 1) == {"o1": 2, "o2": 0, "o3": 0}
    assert rules.top({"o1": 2, "o2": 2, "o3": 0}) == ["o1", "o2"] and rules.top({"o1": 0}) == []


async def test_a_native_poll_counts_members_latest_votes_and_ends_with_the_tally(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    ann, bob, dan = await world.person("ann"), await world.person("bob"), await world.person("dan")
    said = await world.say(carol, '!poll "Next theme?" "Alcohol at work" "Burn-out" "Integrity"', room=LOBBY)
    [start] = events_of(said, rules.START)
    block = start[rules.START]
    assert block["kind"] == "org.matrix.msc3381.poll.disclosed" and block["max_selections"] == 1
    assert block["question"][rules.TEXT] == "Next theme?"
    assert [a[rules.TEXT] for a in block["answers"]] == ["Alcohol at work", "Burn-out", "Integrity"]
    assert start[rules.TEXT] == "Next theme?\n1. Alcohol at work\n2. Burn-out\n3. Integrity"
    assert "Poll 1 is posted" in said.text() and "!poll close 1" in said.text()
    number = start[rules.MARK]
    await world.dispatcher.handle(RoomEvent("$poll", LOBBY, BOT, rules.START, start, world.clock.now))

    await respond(world, ann, "$poll", ["o1"])
    await respond(world, bob, "$poll", ["o2"], stable=True)
    await respond(world, dan, "$poll", ["o2"])
    await respond(world, dan, "$poll", ["o3"], after=timedelta(seconds=5))  # dan changes their mind
    await respond(world, "@stranger:example.org", "$poll", ["o1"])  # not a member: not counted
    replay = await respond(world, ann, "$poll", ["o1"], event_id="$ann-again")
    assert await respond(world, ann, "$poll", ["o1"], event_id="$ann-again") == "duplicate"
    assert replay == "ok"

    results = (await world.say(carol, f"!poll results {number}", room=CONTROL)).text()
    assert "1. Alcohol at work: 1 vote" in results and "2. Burn-out: 1 vote" in results
    assert "3. Integrity: 1 vote" in results and "3 people have voted" in results

    closed = await world.say(carol, f"!poll close {number}", room=LOBBY)
    [end] = events_of(closed, rules.END)
    assert end["m.relates_to"] == {"rel_type": "m.reference", "event_id": "$poll"}
    assert end["m.poll.results"] == {"o1": 1, "o2": 1, "o3": 1}
    assert "org.matrix.msc3381.poll.end" in end and "Tied for first place" in end[rules.TEXT]
    [result] = closed.to_room(LOBBY)[:1]
    assert result.msgtype == "m.text" and "Poll 1 has closed" in result.body
    # a vote after the end is ignored
    await respond(world, bob, "$poll", ["o1"], after=timedelta(minutes=1))
    async with world.db.read() as s:
        assert {v.user_id: v.answers for v in await polls.votes(s, number)}[bob] == ["o2"]
    assert "already closed" in (await world.say(carol, f"!poll close {number}", room=LOBBY)).text()


async def test_who_may_start_and_close_a_poll(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    ann, bob = await world.person("ann"), await world.person("bob")
    assert "Only coordinators" in (await world.say(ann, '!poll "Q?" "A" "B"', room=LOBBY)).text()
    assert "lobby or announcements" in (await world.say(carol, '!poll "Q?" "A" "B"', room=CONTROL)).text()
    async with db.transaction() as s:
        await polls.configure(s, NET, members_may_poll=True, topic_votes=3)
    number, _ = await start_poll(world, ann, '!poll "Lunch?" "Soup" "Salad"')
    assert "Only the member who started" in (await world.say(bob, f"!poll close {number}", room=LOBBY)).text()
    assert "is closed" in (await world.say(ann, f"!poll close {number}", room=LOBBY)).text()
    bad = (await world.say(carol, '!poll "Q?" "A" "B" closes=yesterday', room=LOBBY)).text()
    assert "cannot read closes=yesterday" in bad


async def test_a_poll_closes_at_its_time_through_the_schedule(world: EventWorld, runner: ScheduleRunner) -> None:
    carol = await world.person("carol", "coordinator")
    ann = await world.person("ann")
    said = await world.say(carol, '!poll "Date?" "Monday" "Tuesday" closes=2h undisclosed', room=LOBBY)
    assert "closes on" in said.text()
    [start] = events_of(said, rules.START)
    assert start[rules.START]["kind"] == "org.matrix.msc3381.poll.undisclosed"
    await world.dispatcher.handle(RoomEvent("$p", LOBBY, BOT, rules.START, start, world.clock.now))
    await respond(world, ann, "$p", ["o2"])
    world.clock.now += timedelta(hours=1)
    assert not events_of(await world.run_due(runner), rules.END)
    world.clock.now += timedelta(hours=1, seconds=1)
    [end] = events_of(await world.run_due(runner), rules.END)
    assert end["m.poll.results"] == {"o1": 0, "o2": 1} and "Top answer: Tuesday" in end[rules.TEXT]


async def test_the_start_event_id_also_comes_from_the_outbox(world: EventWorld, db: Database) -> None:
    """If a response is read before the bot's own start event, the sent row's event id finds it."""
    carol, ann = await world.person("carol", "coordinator"), await world.person("ann")
    await world.say(carol, '!poll "Q?" "A" "B"', room=LOBBY)
    async with db.transaction() as s:
        item = (await s.execute(select(OutboxItem).where(OutboxItem.kind == "event"))).scalar_one()
        await outbox.mark_done(s, item.id, world.clock.now, None, "$sent")
    await respond(world, ann, "$sent", ["o1"])
    async with db.read() as s:
        assert [v.user_id for v in await polls.votes(s, 1)] == [ann]


async def test_a_rush_of_300_votes_counts_each_once(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    voters = await world.people(300)
    number, poll_event = await start_poll(world, carol, '!poll "Q?" "A" "B" "C"')
    ids = [f"$rush{i}" for i in range(300)]
    for i, user in enumerate(voters):
        await respond(world, user, poll_event, [f"o{i % 3 + 1}"], event_id=ids[i])
    for i, user in enumerate(voters[:50]):  # a gap fill brings some again
        assert await respond(world, user, poll_event, ["o1"], event_id=ids[i]) == "duplicate"
    results = (await world.say(carol, f"!poll results {number}", room=CONTROL)).text()
    assert "300 people have voted" in results
    assert all(f"{n}: 100 votes" in results for n in ("A", "B", "C"))


async def test_an_anonymous_poll_counts_by_dm_and_no_table_ties_a_voter_to_a_choice(
        world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    ann, bob, cas = await world.person("ann"), await world.person("bob"), await world.person("cas")
    posted = await world.say(carol, '!poll "Trust the board?" "Yes" "No" "Unsure" anonymous', room=LOBBY)
    assert not events_of(posted, rules.START)
    [post] = posted.to_room(LOBBY)[:1]
    assert post.msgtype == "m.text" and "Anonymous poll 1" in post.body and "!vote 1 <n>" in post.body
    assert "direct message" in (await world.say(ann, "!vote 1 2", room=LOBBY)).text()
    first = (await world.say(ann, "!vote 1 2")).text()
    assert "is counted" in first
    change = first.split("!vote 1 <n> ", 1)[1].split(".", 1)[0].strip()
    assert "already voted" in (await world.say(ann, "!vote 1 1")).text()
    assert "does not fit" in (await world.say(bob, "!vote 1 1 wrongcode12")).text()
    await world.say(bob, "!vote 1 1")
    await world.say(cas, "!vote 1 2")
    assert "is counted" in (await world.say(ann, f"!vote 1 3 {change}")).text()  # ann changes 2 -> 3
    assert "does not fit" in (await world.say(ann, f"!vote 1 1 {change}")).text(), "a code is used once"
    assert "Only a member" in (await world.say("@stranger:example.org", "!vote 1 1")).text()

    closed = await world.say(carol, "!poll close 1", room=LOBBY)
    result = closed.to_room(LOBBY)[0].body
    assert "1. Yes: 1 vote" in result and "2. No: 1 vote" in result and "3. Unsure: 1 vote" in result
    assert "3 people voted" in result
    assert "closed" in (await world.say(bob, "!vote 1 2")).text()

    async with db.transaction() as s:  # the replies with the codes keep nothing once sent
        for item in (await s.execute(select(OutboxItem).where(OutboxItem.done_at.is_(None)))).scalars():
            await outbox.mark_done(s, item.id, world.clock.now, None, "$x")
    async with db.read() as s:
        tables = [r[0] for r in await s.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
        holding_ann = {}
        for table in tables:
            rows = (await s.execute(text(f'SELECT * FROM "{table}"'))).all()
            hits = [r for r in rows if any(isinstance(v, str) and ann in v for v in r)]
            if hits:
                holding_ann[table] = hits
        assert (await s.execute(text("SELECT count(*) FROM poll_votes"))).scalar_one() == 0
        processed_votes = (await s.execute(text(
            "SELECT room_id FROM processed_events WHERE command = 'vote'"))).scalars().all()
    assert set(holding_ann) <= {"members", "memberships", "direct_rooms", "poll_voters", "outbox"}, holding_ann
    for row in holding_ann.get("outbox", []):
        assert "Yes" not in str(row) and "No" not in str(row) and "Unsure" not in str(row)
    assert processed_votes and not set(processed_votes) & {world.dm(ann), world.dm(bob), world.dm(cas)}, \
        "a vote's record keeps no DM room, also when it was refused"


async def test_mydata_and_forgetme_cover_named_votes(world: EventWorld, db: Database) -> None:
    carol, ann = await world.person("carol", "coordinator"), await world.person("ann")
    number, poll_event = await start_poll(world, carol, '!poll "Q?" "Red" "Blue"')
    await respond(world, ann, poll_event, ["o2"])
    [data] = (await world.say(ann, "!mydata")).files()
    exported = json.loads(data.file_bytes())
    assert exported["polls"]["votes"] == [{"poll": number, "question": "Q?", "answers": ["Blue"],
                                           "at": exported["polls"]["votes"][0]["at"]}]
    await world.say(ann, "!forgetme")
    await world.say(ann, "!confirm")
    async with db.read() as s:
        assert await polls.votes(s, number) == []


async def test_an_anonymous_poll_shows_no_counts_while_open_nor_when_too_few_voted(world: EventWorld) -> None:
    """Counts watched while they change would tie a vote to whoever just voted, and two votes
    split one and one tell each voter the other's choice."""
    carol = await world.person("carol", "coordinator")
    ann, bob = await world.person("ann"), await world.person("bob")
    await world.say(carol, '!poll "Trust the board?" "Yes" "No" anonymous', room=LOBBY)
    await world.say(ann, "!vote 1 1")
    open_results = (await world.say(carol, "!poll results 1", room=CONTROL)).text()
    assert "shown once it closes" in open_results and "1 person has voted" in open_results
    assert "Yes: 1 vote" not in open_results and "No: 0 votes" not in open_results
    await world.say(bob, "!vote 1 2")
    result = (await world.say(carol, "!poll close 1", room=LOBBY)).to_room(LOBBY)[0].body
    assert "2 people voted" in result and "Fewer than 3 people voted" in result
    assert "vote" not in result.split("2 people voted", 1)[0].split("\n", 1)[1], "no option's count"
    assert "Top answer" not in result and "Tied" not in result
    closed_results = (await world.say(carol, "!poll results 1", room=CONTROL)).text()
    assert "Fewer than 3 people voted" in closed_results and "Yes: 1 vote" not in closed_results
