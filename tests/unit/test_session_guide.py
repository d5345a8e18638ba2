"""The method guide through the real Dispatcher and SQLite: a facilitator runs a method phase by
phase in the session's room (turns in the fixed order, the case-bringer skipped where the method
says), a written round is sent by DM and revealed together, only the facilitator moves the
session, a timer fires from the schedule table, action points, and who may read the report."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from api import methods as method_defs
from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage import privacy
from storage.database import Database
from storage.models import GroupSession, SessionStep
from tests.unit.event_world import ANNOUNCEMENTS, CONTROL, LOBBY, EventWorld
from tests.unit.helpers import FakeClock

ROOM = "!group-1:example.org"


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


class Group:
    """An event split into one group of `count` people with Fay facilitating and its room recorded
    (as `!session open` will do)."""

    def __init__(self, world: EventWorld, slug: str, carol: str, fay: str, people: list[str]) -> None:
        self.world, self.slug, self.carol, self.fay, self.people = world, slug, carol, fay, people

    @property
    def ref(self) -> str:
        return f"{self.slug}/1"

    async def room(self, user: str, body: str):  # noqa: ANN201
        return await self.world.say(user, body, room=ROOM)


async def group_of(world: EventWorld, count: int = 4, *, case_bringer: int | None = 0) -> Group:
    carol = await world.person("carol", "coordinator")
    fay = await world.person("fay")
    slug = await world.create(carol, capacity=20, mode="auto")
    people = await world.people(count)
    for user in people:
        await world.say(user, f"!register {slug}")
    await world.say(carol, f"!groups {slug} size={count}")
    await world.say(carol, "!confirm")
    await world.say(carol, f"!facilitate {slug}/1 {fay}")
    async with world.db.transaction() as s:
        row = (await s.execute(select(GroupSession))).scalar_one()
        row.room_id, row.room_state = ROOM, "open"
        if case_bringer is not None:
            row.case_bringer = people[case_bringer]
    return Group(world, slug, carol, fay, people)


async def test_a_method_runs_phase_by_phase_with_turns_skipping_the_case_bringer(world: EventWorld) -> None:
    g = await group_of(world, 4, case_bringer=0)
    started = (await g.room(g.fay, "!start lon-vp")).text()
    assert "LON-VP intervision (4 phases)" in started
    assert "Phase 1 of 4: Exploring the problem" in started
    assert "Time left in this phase: 25 minutes" in started
    assert "@m001:example.org is first" in started, "the case-bringer m000 is skipped"
    said = await g.room(g.fay, "!turn next")
    [turn] = said.to_room(ROOM)
    assert "Turn 1 of 3: @m001:example.org speaks now. Next: @m002:example.org." in turn.body
    assert turn.msgtype == "m.text" and turn.payload["content"]["m.mentions"] == {"user_ids": ["@m001:example.org"]}
    assert "Turn 2 of 3: @m002" in (await g.room(g.fay, "!turn next")).text()
    last = (await g.room(g.fay, "!turn next")).text()
    assert "Turn 3 of 3: @m003:example.org speaks now. Next: nobody, this is the last turn." in last
    assert "Everyone has had their turn" in (await g.room(g.fay, "!turn next")).text()
    assert "Everyone has had their turn" in (await g.room(g.people[2], "!turn")).text(), "a participant may ask"
    moved = (await g.room(g.fay, "!phase next")).text()
    assert "Phase 2 of 4: Reframing the core" in moved and "@m001:example.org is first" in moved
    assert "Phase 1 of 4" in (await g.room(g.fay, "!phase back")).text()
    await g.room(g.fay, "!phase next")
    await g.room(g.fay, "!phase next")
    fourth = (await g.room(g.fay, "!phase next")).text()
    assert "Phase 4 of 4: What the case-bringer learned" in fourth
    assert "no turns" in (await g.room(g.fay, "!turn next")).text()
    assert "is complete" in (await g.room(g.fay, "!phase next")).text()
    assert "already complete" in (await g.room(g.fay, "!phase next")).text()
    async with world.db.transaction() as s:
        steps = [r.step for r in (await s.execute(select(SessionStep).order_by(SessionStep.id))).scalars()]
    assert steps == ["start", "turn", "turn", "turn", "round_done", "phase_next", "phase_back", "phase_next",
                     "phase_next", "phase_next", "phase_next"], "every step is recorded"


async def test_without_a_case_bringer_every_participant_takes_a_turn(world: EventWorld) -> None:
    g = await group_of(world, 3, case_bringer=None)
    await g.room(g.fay, "!start lab")
    assert "Turn 1 of 3: @m000" in (await g.room(g.fay, "!turn next")).text()
    g2 = await g.room(g.fay, "!start lon-vp @m001:example.org")
    assert "Case-bringer: @m001:example.org" in g2.text()
    assert "Turn 1 of 2: @m000:example.org speaks now. Next: @m002:example.org." in \
        (await g.room(g.fay, "!turn next")).text()


async def test_only_the_facilitator_moves_the_session(world: EventWorld) -> None:
    g = await group_of(world, 3)
    for command in ("!start lon-vp", "!phase next", "!phase back", "!turn next", "!timer 10m", "!outcome Fine",
                    "!report It went well"):
        refused = (await g.room(g.people[1], command)).text()
        assert "only the facilitator of this session (@fay:example.org)" in refused, command
    assert "No method has been started" in (await g.room(g.people[1], "!phase")).text()
    await g.room(g.fay, "!start lon-vp")
    assert "Phase 1 of 4" in (await g.room(g.people[1], "!phase")).text()
    outsider = (await g.room(g.carol, "!phase")).text()
    assert "Only the participants of this session" in outsider, "a coordinator outside the group is refused too"
    elsewhere = (await world.say(g.fay, "!phase next", room=LOBBY)).text()
    assert "works in a session's own private room" in elsewhere, "outside a session room: where to type it"
    assert "works in a shared room" in (await world.say(g.fay, "!phase next")).text(), "not in a DM"
    assert "only in your DM" in (await world.say(g.fay, f"!report {g.ref}", room=CONTROL)).text()


async def test_a_written_round_is_revealed_when_everyone_has_sent(world: EventWorld) -> None:
    g = await group_of(world, 4, case_bringer=0)
    await g.room(g.fay, "!start incident")
    opened = await g.room(g.fay, "!phase next")
    assert "Phase 2 of 5: Written questions" in opened.text()
    told = {s.user_id for s in opened if s.kind == "message" and s.user_id}
    assert told == set(g.people[1:]), "the writers (not the case-bringer) are told by DM how to send"
    assert "!write <text>" in opened.to_user(g.people[1])[0].body
    first = await world.say(g.people[1], "!write What did you say first?")
    assert "1 of 3 have sent" in first.text()
    assert not first.to_room(ROOM), "nothing is shown before everyone has sent"
    assert "What did you say first?" not in (await g.room(g.fay, "!phase")).text()
    assert "still to come: @m002:example.org, @m003:example.org" in (await g.room(g.fay, "!phase")).text()
    refused = await world.say(g.people[0], "!write I am the case-bringer")
    assert "None of your sessions has a written round open" in refused.text()
    await world.say(g.people[2], "!write Who else knew?")
    last = await world.say(g.people[3], "!write When did it start?")
    [shown] = last.to_room(ROOM)
    assert shown.msgtype == "m.text"
    assert "3 contributions, shown together" in shown.body
    for text in ("What did you say first?", "Who else knew?", "When did it start?"):
        assert text in shown.body
    assert "@m001:example.org: What did you say first?" in shown.body, "this round shows names"
    assert "Everyone has sent" in last.text()
    assert "have been shown above" in (await g.room(g.fay, "!phase")).text()


async def test_moving_on_reveals_what_was_sent_without_names_where_the_method_says(world: EventWorld) -> None:
    g = await group_of(world, 4, case_bringer=0)
    await g.room(g.fay, "!start incident")
    for _ in range(3):
        await g.room(g.fay, "!phase next")  # to phase 4, the written advice (no names)
    await world.say(g.people[1], "!write Talk to HR")
    moved = await g.room(g.fay, "!phase next")
    [shown] = [s for s in moved.to_room(ROOM) if "shown together" in s.body]
    assert "Talk to HR" in shown.body and "@m001" not in shown.body
    assert "2 participants did not send one" in shown.body


async def test_a_contribution_typed_in_the_room_is_taken_away(world: EventWorld) -> None:
    g = await group_of(world, 3)
    await g.room(g.fay, "!start incident")
    await g.room(g.fay, "!phase next")
    said = await g.room(g.people[1], "!write secret question")
    assert any(s.kind == "redact" for s in said), "redacted where the bot can"
    assert "in your DM with me" in said.text()
    assert "secret question" not in said.text()


async def test_someone_in_two_sessions_says_which(world: EventWorld) -> None:
    g = await group_of(world, 3)
    other = await world.create(g.carol, capacity=20, mode="auto")
    await world.say(g.people[1], f"!register {other}")
    await world.say(g.people[2], f"!register {other}")
    await world.say(g.carol, f"!groups {other} size=5")
    await world.say(g.carol, "!confirm")
    await world.say(g.carol, f"!facilitate {other}/1 {g.fay}")
    async with world.db.transaction() as s:
        row = (await s.execute(select(GroupSession).where(GroupSession.room_id.is_(None)))).scalar_one()
        row.room_id = "!group-2:example.org"
    for room in (ROOM, "!group-2:example.org"):
        await world.say(g.fay, "!start incident", room=room)
        await world.say(g.fay, "!phase next", room=room)
    asked = (await world.say(g.people[1], "!write a question")).text()
    assert "several sessions" in asked and f"!write {g.slug}/1 <text>" in asked
    sent = (await world.say(g.people[1], f"!write {other}/1 A question for the other group")).text()
    assert f"Received for {other}/1" in sent


async def test_a_timer_posts_when_time_is_up(world: EventWorld, db: Database, clock: FakeClock) -> None:
    g = await group_of(world, 3)
    await g.room(g.fay, "!start lon-vp")
    set_ = (await g.room(g.fay, "!timer 10m")).text()
    assert "Timer set: 10 minutes" in set_
    clock.advance(minutes=4)
    assert "Timer: 6 minutes left" in (await g.room(g.people[1], "!phase")).text()
    runner = ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=1), language="en")
    assert not (await world.run_due(runner)).to_room(ROOM)
    clock.advance(minutes=7)
    said = await world.run_due(runner)
    [done] = said.to_room(ROOM)
    assert "time is up (10 minutes)" in done.body and done.msgtype == "m.text"
    assert done.payload["content"]["m.mentions"] == {"user_ids": [g.fay]}
    await g.room(g.fay, "!timer 5m")
    clock.advance(hours=2)  # the bot was down well past it
    assert not (await world.run_due(runner)).to_room(ROOM), "a timer's end hours late is not posted"
    assert "Timer" not in (await g.room(g.fay, "!phase")).text()


async def test_action_points_with_owner_and_date(world: EventWorld) -> None:
    g = await group_of(world, 3)
    added = (await g.room(g.people[1], "!action Call the works council by 2025-04-01")).text()
    assert "added for @m001:example.org, due: Tue, 1 Apr 2025" in added
    for_other = (await g.room(g.fay, f"!action Draft the note by 2025-04-02 {g.people[2]}")).text()
    assert "for @m002:example.org" in for_other
    assert "cannot own" in (await g.room(g.fay, f"!action Tell HR {g.carol}")).text()
    assert "is not a date" in (await g.room(g.fay, "!action Tell HR by someday-soon")).text()
    listing = (await g.room(g.people[2], "!actions")).text()
    assert "Call the works council" in listing and "Draft the note" in listing
    mine = (await world.say(g.people[2], "!actions")).text()
    assert "Draft the note" in mine and "Call the works council" not in mine, "in a DM: only your own"
    action_id = re.search(r"(\d+)\. Draft the note", listing).group(1)
    assert "Only the owner" in (await g.room(g.people[1], f"!action done {action_id}")).text()
    assert "is done" in (await world.say(g.people[2], f"!action done {action_id}")).text()


async def test_the_report_reaches_participants_only(world: EventWorld) -> None:
    g = await group_of(world, 3)
    stored = await g.room(g.fay, "!report We explored a conflict; next time we look at boundaries.")
    posted = stored.to_room(ROOM)
    assert any("We explored a conflict" in s.body for s in posted)
    assert any(s.kind == "pin" for s in stored), "the report is pinned in the session room"
    got = (await world.say(g.people[1], f"!report {g.ref}")).text()
    assert "We explored a conflict" in got
    outsider = await world.person("olga")
    for who in (outsider, g.carol):
        refused = (await world.say(who, f"!report {g.ref}")).text()
        assert "goes only to its participants" in refused and "conflict" not in refused
    assert "goes only to its participants" in (await world.say(g.carol, "!report nosuch/9")).text(), \
        "an unknown session reads the same: nothing given away"
    asked = (await g.room(g.fay, "!report share")).text()
    assert "!confirm" in asked
    shared = await g.room(g.fay, "!confirm")
    assert any("We explored a conflict" in s.body for s in shared.to_room(CONTROL))
    assert "We explored a conflict" in (await world.say(g.carol, f"!report {g.ref}")).text(), \
        "once shared, a coordinator of the network may read it"


async def test_the_report_step_by_step(world: EventWorld) -> None:
    g = await group_of(world, 3)
    assert "1. What was the question" in (await g.room(g.fay, "!report")).text()
    assert "2. What did the group learn" in (await g.room(g.fay, "How to say no to a manager")).text()
    await g.room(g.fay, "-")
    done = await g.room(g.fay, "Try again next month")
    [post] = [s for s in done.to_room(ROOM) if "Report of session" in s.body]
    assert "Question or theme\nHow to say no to a manager" in post.body and "Agreements\nTry again" in post.body
    assert "What we learned" not in post.body


async def test_an_outcome_without_names_goes_to_announcements_after_confirm(world: EventWorld) -> None:
    g = await group_of(world, 3)
    named = (await g.room(g.fay, "!outcome m001 found the answer")).text()
    assert "must not name anyone" in named and "m001" in named
    preview = await g.room(g.fay, "!outcome Clear agreements help confidential advisers say no.")
    assert "!confirm" in preview.text() and not preview.to_room(ANNOUNCEMENTS)
    posted = await g.room(g.fay, "!confirm")
    [post] = posted.to_room(ANNOUNCEMENTS)
    assert post.msgtype == "m.text"
    assert "Outcome of Theme meeting on alcohol at work, group 1" in post.body
    assert "Clear agreements help" in post.body


async def test_mydata_and_forgetme(world: EventWorld, db: Database) -> None:
    g = await group_of(world, 3)
    await g.room(g.fay, "!start incident")
    await g.room(g.fay, "!phase next")
    await world.say(g.people[1], "!write A question of mine")
    await g.room(g.people[1], "!action Mine to do")
    await g.room(g.people[1], f"!action Theirs to do {g.people[2]}")
    await g.room(g.fay, "!report The group report")
    async with db.transaction() as s:
        data = await privacy.export(s, g.people[1], None)
    guide_part = data["session_guide"]
    assert guide_part["sessions_taken_part_in"][0]["report"] == "The group report"
    assert {a["text"] for a in guide_part["action_points"]} == {"Mine to do", "Theirs to do"}
    assert data["sessions"]["contributions"][0]["text"] == "A question of mine"
    async with db.transaction() as s:
        await privacy.erase(s, g.people[1], world.clock.now, None)
    listing = (await g.room(g.people[2], "!actions")).text()
    assert "Theirs to do" in listing and "Mine to do" not in listing, "their own points go; others' stay"
    assert "The group report" in (await world.say(g.people[2], f"!report {g.ref}")).text(), "the report stays"


def test_methods_from_config_are_checked(tmp_path) -> None:  # noqa: ANN001
    extra = tmp_path / "fishbowl.yaml"
    extra.write_text("name: Fishbowl\ndescription: An inner and an outer circle.\nphases:\n"
                     "  - title: Inner circle\n    instruction: Four talk, the rest listen.\n    minutes: 15\n")
    found = method_defs.configured([str(extra), {"key": "quick", "name": "Quick", "description": "One round.",
                                                 "phases": [{"title": "Round", "instruction": "Each says one thing.",
                                                             "round": True}]}])
    assert set(found) == {"fishbowl", "quick"}
    with pytest.raises(method_defs.MethodError, match=r"methods\[0\]: .*phase 1: minutes"):
        method_defs.configured([{"key": "bad", "name": "Bad", "description": "x",
                                 "phases": [{"title": "t", "instruction": "i", "minutes": 0}]}])
    with pytest.raises(method_defs.MethodError, match=r"methods\[0\]: there is already a method 'incident'"):
        method_defs.configured([{"key": "incident", "name": "Mine", "description": "x",
                                 "phases": [{"title": "t", "instruction": "i"}]}])
    with pytest.raises(method_defs.MethodError, match=r"methods\[0\]: cannot read"):
        method_defs.configured([str(tmp_path / "missing.yaml")])


async def test_a_configured_method_can_be_started(world: EventWorld) -> None:
    method_defs.use(method_defs.configured([{"key": "quick", "name": {"en": "Quick round"},
                                             "description": "One round.",
                                             "phases": [{"title": "Round", "instruction": "Each says one thing.",
                                                         "round": True}]}]))
    try:
        g = await group_of(world, 2, case_bringer=None)
        assert "quick" in (await g.room(g.fay, "!start")).text()
        assert "Phase 1 of 1: Round (Quick round)" in (await g.room(g.fay, "!start quick")).text()
    finally:
        method_defs.use({})
