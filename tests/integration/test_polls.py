"""Member polls on a real Synapse, in an encrypted lobby: nio members and an Element-like member
(matrix-js-sdk) vote on a native poll, one changes their vote, a non-member's vote is not
counted, and the end event carries the right tally; a poll closes at its time across a restart;
an anonymous poll's tally is right while no table holds who voted what."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text, update

from storage import members, networks, polls, processed
from storage.models import ScheduledAction
from tests.element_member import ElementMember
from tests.integration.members import NioMember, Seen

NET = {"id": "north", "name": "North Network", "timezone": "Europe/Amsterdam"}
START, END = "org.matrix.msc3381.poll.start", "org.matrix.msc3381.poll.end"
RESPONSE = "org.matrix.msc3381.poll.response"


def _response(poll_event: str, answers: list[str], *, stable: bool = False) -> tuple[str, dict]:
    ref = {"rel_type": "m.reference", "event_id": poll_event}
    if stable:
        return "m.poll.response", {"m.relates_to": ref, "m.selections": answers}
    return RESPONSE, {"m.relates_to": ref, RESPONSE: {"answers": answers}}


async def _seen(member: NioMember, predicate: Callable[[Seen], bool], timeout: float = 60) -> Seen:
    return await member.first(predicate, timeout)


async def _until(bot, check: Callable, timeout: float = 60) -> None:  # noqa: ANN001
    """Until `check(session)` holds in the bot's database, looked at after each handled batch."""
    sync = bot.kring.sync

    async def wait() -> None:
        while True:
            async with bot.kring.db.read() as session:
                if await check(session):
                    return
            async with sync.handled:
                await sync.handled.wait()
    await asyncio.wait_for(wait(), timeout)


async def _in_lobby(bot, people: list, lobby: str) -> None:  # noqa: ANN001
    """Every one of them joined, as the bot's own client sees the room (it encrypts for them)."""
    for person in people:
        if isinstance(person, NioMember):
            await person.in_room(lobby, timeout=90)
        else:
            await person.wait_joined(lobby, person.user_id, timeout_ms=90_000)

    async def seen_by_bot() -> None:
        while True:
            room = bot.kring.gateway.client.rooms.get(lobby)
            if room and all(p.user_id in room.users for p in people):
                return
            async with bot.kring.gateway.synced:
                await bot.kring.gateway.synced.wait()
    await asyncio.wait_for(seen_by_bot(), 90)


@pytest.fixture
async def element(synapse) -> ElementMember:  # noqa: ANN001
    member = ElementMember("eve")
    localpart = f"eve-{uuid.uuid4().hex[:8]}"
    user_id = await synapse.register_user(localpart, "pw-eve-1")
    await member.login(synapse.url, user_id, "pw-eve-1", auto_join=True)
    yield member
    await member.close()


async def test_a_native_poll_in_an_encrypted_lobby_counts_members_latest_votes(make_bot, make_member, element) -> None:
    carol = await make_member(encrypted=True)
    ann, bob, dave = [await make_member(encrypted=True) for _ in range(3)]
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}],
                         matrix={"encryption": True})
    for person in (ann, bob, dave, element):
        await bot.grant(person.user_id, "member", "north")
    await bot.start()
    async with bot.kring.db.read() as session:
        rooms = await networks.rooms(session, "north")
    lobby, control = rooms["lobby"], rooms["control"]
    await _in_lobby(bot, [carol, ann, bob, dave, element], lobby)

    asked = await carol.send(lobby, '!poll "Which theme next?" "Alcohol at work" "Burn-out" "Integrity"')
    reply = await carol.reply_to(bot.user_id, lobby, asked, timeout=60)
    assert "Poll 1 is posted" in reply.content["body"] and reply.encrypted
    start = await _seen(ann, lambda s: s.sender == bot.user_id and s.type == START)
    assert start.encrypted, "the poll in an encrypted lobby is encrypted"
    block = start.content[START]
    assert [a["org.matrix.msc1767.text"] for a in block["answers"]] == ["Alcohol at work", "Burn-out", "Integrity"]
    # Element's stack reads the poll too (decrypted, with its question)
    seen_by_eve = await element.wait_message(lobby, bot.user_id, types=[START], timeout_ms=60_000)
    assert seen_by_eve.decrypted and seen_by_eve.content[START]["question"]["org.matrix.msc1767.text"] == \
        "Which theme next?"

    # dave is no longer a member (he left the network) but still in the room: his vote must not count
    async with bot.kring.db.transaction() as session:
        members.set_state(await members.membership(session, "north", dave.user_id), members.LEFT,
                          datetime.now(timezone.utc))
    dave_vote = await dave.send_event(lobby, *_response(start.event_id, ["o2"]))
    await ann.send_event(lobby, *_response(start.event_id, ["o1"]))
    await bob.send_event(lobby, *_response(start.event_id, ["o2"], stable=True))
    bob_changed = await bob.send_event(lobby, *_response(start.event_id, ["o3"]))
    eve_vote = await element.send(lobby, content=_response(start.event_id, ["o1"])[1], event_type=RESPONSE)

    async def all_in(session) -> bool:  # noqa: ANN001
        return all([await processed.is_processed(session, e) for e in (dave_vote, bob_changed, eve_vote)])
    await _until(bot, all_in)

    await carol.send(control, "!poll results 1")
    results = await carol.message(bot.user_id, "Poll 1: Which theme next?", control, timeout=60, type="m.room.message")
    body = results.content["body"]
    assert "1. Alcohol at work: 2 votes" in body and "2. Burn-out: 0 votes" in body
    assert "3. Integrity: 1 vote" in body and "3 people have voted" in body

    await carol.send(lobby, "!poll close 1")
    end = await _seen(ann, lambda s: s.sender == bot.user_id and s.type == END)
    assert end.encrypted and end.content["m.relates_to"] == {"rel_type": "m.reference", "event_id": start.event_id}
    assert end.content["m.poll.results"] == {"o1": 2, "o2": 0, "o3": 1}
    assert "Top answer: Alcohol at work" in end.content["org.matrix.msc1767.text"]
    result = await ann.message(bot.user_id, "Poll 1 has closed", lobby, timeout=60, type="m.room.message")
    assert result.content["msgtype"] == "m.text"
    seen_end = await element.wait_message(lobby, bot.user_id, types=[END], timeout_ms=60_000)
    assert seen_end.decrypted and seen_end.content["m.poll.results"] == {"o1": 2, "o2": 0, "o3": 1}

    # a response after the end changes nothing
    late = await ann.send_event(lobby, *_response(start.event_id, ["o2"]))
    await _until(bot, lambda session: processed.is_processed(session, late))
    async with bot.kring.db.read() as session:
        votes = {v.user_id: v.answers for v in await polls.votes(session, 1)}
    assert votes == {ann.user_id: ["o1"], bob.user_id: ["o3"], element.user_id: ["o1"]}


async def test_a_poll_closes_at_its_time_across_a_restart(make_bot, make_member) -> None:
    carol, ann = await make_member(encrypted=True), await make_member(encrypted=True)
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}],
                         matrix={"encryption": True})
    await bot.grant(ann.user_id, "member", "north")
    await bot.start()
    async with bot.kring.db.read() as session:
        lobby = (await networks.rooms(session, "north"))["lobby"]
    await _in_lobby(bot, [carol, ann], lobby)
    asked = await carol.send(lobby, '!poll "Date?" "Monday" "Tuesday" closes=3h')
    assert "It closes on" in (await carol.reply_to(bot.user_id, lobby, asked, timeout=60)).content["body"]
    start = await _seen(ann, lambda s: s.sender == bot.user_id and s.type == START)
    vote = await ann.send_event(lobby, *_response(start.event_id, ["o2"]))
    await _until(bot, lambda session: processed.is_processed(session, vote))

    await bot.stop()
    # while the bot is down its closing time passes
    async with _db(bot) as session:
        await session.execute(update(ScheduledAction).where(ScheduledAction.kind == "polls.close")
                              .values(due_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
    await bot.start()
    end = await _seen(ann, lambda s: s.sender == bot.user_id and s.type == END, timeout=90)
    assert end.content["m.poll.results"] == {"o1": 0, "o2": 1}
    assert "Top answer: Tuesday" in end.content["body"]
    async with bot.kring.db.read() as session:
        [row] = (await session.execute(select(ScheduledAction).where(ScheduledAction.kind == "polls.close"))).scalars()
    assert row.done_at is not None and row.outcome == "done"


class _db:
    """The stopped bot's database, for the test to move a due time as if hours had passed."""

    def __init__(self, bot) -> None:  # noqa: ANN001
        from storage.database import Database
        self.db = Database(bot.config.storage.database_url)

    async def __aenter__(self):  # noqa: ANN204
        self._tx = self.db.transaction()
        return await self._tx.__aenter__()

    async def __aexit__(self, *exc) -> None:  # noqa: ANN002
        await self._tx.__aexit__(*exc)
        await self.db.close()


async def test_an_anonymous_poll_posts_only_the_tally_and_no_table_holds_who_voted_what(
        make_bot, make_member) -> None:
    carol = await make_member(encrypted=True)
    ann, bob = await make_member(encrypted=True), await make_member(encrypted=True)
    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}],
                         matrix={"encryption": True})
    for person in (ann, bob):
        await bot.grant(person.user_id, "member", "north")
    await bot.start()
    async with bot.kring.db.read() as session:
        lobby = (await networks.rooms(session, "north"))["lobby"]
    await _in_lobby(bot, [carol, ann, bob], lobby)
    await carol.send(lobby, '!poll "Should the board publish minutes?" "Yes" "No" anonymous')
    post = await ann.message(bot.user_id, "Anonymous poll 1", lobby, timeout=60, type="m.room.message")
    assert post.content["msgtype"] == "m.text" and "!vote 1 <n>" in post.content["body"]

    dms = {p.user_id: await p.dm(bot.user_id, encrypted=True) for p in (ann, bob)}
    await ann.send(dms[ann.user_id], "!vote 1 1")
    counted = await ann.message(bot.user_id, "is counted", dms[ann.user_id], timeout=60, type="m.room.message")
    code = counted.content["body"].split("!vote 1 <n> ", 1)[1].split(".", 1)[0].strip()
    await bob.send(dms[bob.user_id], "!vote 1 1")
    await bob.message(bot.user_id, "is counted", dms[bob.user_id], timeout=60, type="m.room.message")
    await ann.send(dms[ann.user_id], f"!vote 1 2 {code}")  # ann changes her vote
    await _until(bot, lambda s: _replies(s, dms[ann.user_id], 2))
    carol_dm = await carol.dm(bot.user_id, encrypted=True)  # a third voter: counts are shown from 3 on
    await carol.send(carol_dm, "!vote 1 1")
    await carol.message(bot.user_id, "is counted", carol_dm, timeout=60, type="m.room.message")

    await carol.send(lobby, "!poll close 1")
    result = await ann.message(bot.user_id, "Poll 1 has closed", lobby, timeout=60, type="m.room.message")
    assert "1. Yes: 2 votes" in result.content["body"] and "2. No: 1 vote" in result.content["body"]
    assert "3 people voted" in result.content["body"]

    async with bot.kring.db.read() as session:
        tables = [r[0] for r in await session.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
        for table in tables:
            for row in (await session.execute(text(f'SELECT * FROM "{table}"'))).all():
                values = [str(v) for v in row if v is not None]
                person = any(ann.user_id in v or dms[ann.user_id] in v for v in values)
                if person:
                    assert not any(code in v or '"1 2' in v for v in values), (table, row)
        assert (await session.execute(text("SELECT count(*) FROM poll_votes"))).scalar_one() == 0
        rooms_of_votes = (await session.execute(text(
            "SELECT room_id FROM processed_events WHERE command = 'vote'"))).scalars().all()
    assert len(rooms_of_votes) == 4 and set(rooms_of_votes) == {""}


async def _replies(session, room_id: str, count: int) -> bool:  # noqa: ANN001
    """The bot has sent `count` answers in the room (and the outbox kept none of their text)."""
    rows = (await session.execute(text(
        "SELECT payload FROM outbox WHERE room_id = :r AND done_at IS NOT NULL AND kind = 'message'"),
        {"r": room_id})).scalars().all()
    return len(rows) >= count
