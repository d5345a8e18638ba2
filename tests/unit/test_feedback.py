"""Feedback after a meeting, through the real Dispatcher and schedule on SQLite: the request after
the end, answering one question at a time (skip, back, pause and resume), the deadline and its
nudges (only to those who have not answered), group feedback, anonymous forms that keep nothing
that ties an answer to its author, the small-number rule, and the results for coordinators."""
from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select, text

from bot.router import Registry
from bot.scheduler import ScheduleRunner
from storage import privacy
from storage.database import Database
from storage.models import Base, Event, GroupSession
from tests.unit.event_world import ANNOUNCEMENTS, CONTROL, EventWorld
from tests.unit.helpers import FakeClock

ENDS = datetime(2025, 4, 14, 19, 30, tzinfo=timezone.utc)  # 21:30 in Amsterdam (summer time)
ANSWERS = ["4", "5", "3", "1", "The case round worked well", "More time for questions"]


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


@pytest.fixture
def runner(db: Database, clock: FakeClock) -> ScheduleRunner:
    return ScheduleRunner(db, Registry.discover().jobs, clock, catch_up=timedelta(hours=48), language="en")


async def attended(world: EventWorld, count: int, *, form: str | None = None) -> tuple[str, str, list[str]]:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=50, mode="auto", extra=f"\nfeedback form: {form}" if form else "")
    people = await world.people(count)
    for user in people:
        await world.say(user, f"!register {slug}")
    return carol, slug, people


async def answer_all(world: EventWorld, user: str, slug: str, answers: list[str] = ANSWERS) -> str:
    assert "Question 1 of 6" in (await world.say(user, f"!feedback {slug}")).text()
    text = ""
    for a in answers:
        text = (await world.say(user, a)).text()
    return text


async def test_after_the_end_each_participant_is_asked_by_a_dm_that_names_the_command(
        world: EventWorld, runner: ScheduleRunner, db: Database) -> None:
    _carol, slug, people = await attended(world, 2)
    world.clock.now = ENDS + timedelta(minutes=30)
    assert not (await world.run_due(runner)).to_user(people[0]), "not before the end plus the delay"
    world.clock.now = ENDS + timedelta(hours=1, minutes=1)
    said = await world.run_due(runner)
    for user in people:
        [msg] = said.to_user(user)
        assert msg.msgtype == "m.text", "a request a person must not miss is m.text"
        assert f"!feedback {slug}" in msg.body and "Thank you for taking part" in msg.body
    async with db.transaction() as s:  # a job never opens the conversation itself
        assert (await s.execute(text("SELECT count(*) FROM conversations"))).scalar() == 0


async def test_a_form_is_walked_one_question_at_a_time_with_skip_back_pause_and_resume(
        world: EventWorld, db: Database) -> None:
    carol, slug, [alice] = await attended(world, 1)
    assert "has not ended yet" in (await world.say(alice, f"!feedback {slug}")).text()
    world.clock.now = ENDS + timedelta(hours=2)
    first = (await world.say(alice, f"!feedback {slug}")).text()
    assert "Question 1 of 6" in first and "content of the meeting" in first
    assert "not a score" in (await world.say(alice, "9")).text()
    assert "Question 2 of 6" in (await world.say(alice, "4")).text()
    back = (await world.say(alice, "<")).text()
    assert "Question 1 of 6" in back and "(Your answer so far: 4)" in back
    assert "Question 2 of 6" in (await world.say(alice, "5")).text()
    assert "Question 3 of 6" in (await world.say(alice, "-")).text(), "- skips"
    assert "Stopped" in (await world.say(alice, "!stop")).text()
    assert "nothing to" not in (await world.say(alice, "just chatting")).text().lower()
    resumed = (await world.say(alice, f"!feedback {slug}")).text()
    assert "Welcome back" in resumed and "Question 3 of 6" in resumed
    choice = (await world.say(alice, "2")).text()
    assert "Question 4 of 6" in choice and "1. Yes, from the start" in choice
    assert "not one of the choices" in (await world.say(alice, "7")).text()
    await world.say(alice, "Only during the meeting")  # an option by its text
    await world.say(alice, "The case round worked well")
    done = (await world.say(alice, "-")).text()
    assert "Your feedback on" in done and "is stored" in done
    assert "already given your feedback" in (await world.say(alice, f"!feedback {slug}")).text()
    async with db.transaction() as s:
        [answer] = (await privacy.export(s, alice))["feedback"]["answers"]
    assert answer["answers"] == {"content": 5, "organisation": 2, "purpose_clear": 2, "worked": "The case round worked well"}, \
        "the question gone back to keeps its new answer; skipped ones stay empty"
    results = (await world.say(carol, f"!results {slug}", room=CONTROL)).text()
    assert "1 of 1 participant answered" in results
    assert "Content: mean 5 (1 answer" in results and "Form: no answers yet" in results
    assert alice in results and "The case round worked well" in results, "named answers show their author"


async def test_answers_are_taken_only_in_the_dm(world: EventWorld) -> None:
    _carol, slug, [alice] = await attended(world, 1)
    world.clock.now = ENDS + timedelta(hours=2)
    from tests.unit.event_world import LOBBY
    assert "only in a direct message" in (await world.say(alice, f"!feedback {slug}", room=LOBBY)).text()


async def test_after_the_deadline_answers_are_refused_politely_until_a_coordinator_extends_it(
        world: EventWorld) -> None:
    carol, slug, [alice] = await attended(world, 1)
    world.clock.now = ENDS + timedelta(days=6, hours=23)
    await world.say(alice, f"!feedback {slug}")
    await world.say(alice, "4")
    world.clock.now = ENDS + timedelta(days=7, minutes=1)
    late = (await world.say(alice, "5")).text()
    assert "deadline for" in late and "has passed" in late and "Thank you for wanting" in late
    assert "has passed" in (await world.say(alice, f"!feedback {slug}")).text()
    refused = (await world.say(alice, f"!feedback extend {slug} 2025-05-01")).text()
    assert "coordinator" in refused and "deadline of" not in refused, refused
    extended = (await world.say(carol, f"!feedback extend {slug} 2025-05-01")).text()
    assert "The feedback deadline of" in extended and "1 May 2025" in extended
    resumed = (await world.say(alice, f"!feedback {slug}")).text()
    assert "Welcome back" in resumed and "Question 2 of 6" in resumed, "the answers given before the deadline stay"


async def test_one_nudge_before_the_deadline_reaches_only_those_who_have_not_answered(
        world: EventWorld, runner: ScheduleRunner) -> None:
    _carol, slug, [alice, bob, cleo] = await attended(world, 3)
    world.clock.now = ENDS + timedelta(hours=1, minutes=1)
    await world.run_due(runner)
    await answer_all(world, alice, slug)
    world.clock.now = ENDS + timedelta(days=4)
    said = await world.run_due(runner)
    assert not said.to_user(alice), "who answered is not nudged"
    for user in (bob, cleo):
        [msg] = said.to_user(user)
        assert "friendly reminder" in msg.body and msg.msgtype == "m.text"
    world.clock.now = ENDS + timedelta(days=6, hours=23)
    assert not [s for s in await world.run_due(runner) if s.kind == "message"], "one nudge only (the default)"


async def test_reminders_off_mutes_the_nudge_but_not_the_request(world: EventWorld, runner: ScheduleRunner) -> None:
    _carol, slug, [alice, bob] = await attended(world, 2)
    assert "Reminders are off" in (await world.say(alice, "!reminders off")).text()
    world.clock.now = ENDS + timedelta(hours=1, minutes=1)
    asked = await world.run_due(runner)
    assert [f"!feedback {slug}" in s.body for s in (asked.to_user(alice) + asked.to_user(bob))] == [True, True], \
        "the request itself is not a reminder"
    world.clock.now = ENDS + timedelta(days=4)
    said = await world.run_due(runner)
    assert not said.to_user(alice), "who turned reminders off is not nudged"
    [msg] = said.to_user(bob)
    assert "friendly reminder" in msg.body


async def group_world(world: EventWorld) -> tuple[str, str, list[str], GroupSession]:
    carol, slug, people = await attended(world, 4)
    await world.say(carol, f"!groups {slug} size=2", room=CONTROL)
    await world.say(carol, "!confirm", room=CONTROL)
    async with world.db.transaction() as s:
        group = (await s.execute(select(GroupSession).where(GroupSession.number == 1))).scalar_one()
        group.room_id = "!group1:example.org"
    return carol, slug, people, group


async def test_group_feedback_is_sent_by_one_participant_and_the_group_room_is_told(world: EventWorld) -> None:
    carol, slug, people, group = await group_world(world)
    world.clock.now = ENDS + timedelta(hours=2)
    async with world.db.transaction() as s:
        members = (await s.execute(text("SELECT user_id FROM session_members WHERE session_id = :g"),
                                   {"g": group.id})).scalars().all()
    outsider = next(p for p in people if p not in members)
    assert "not in that group" in (await world.say(outsider, f"!feedback group {slug}/1")).text()
    sender = members[0]
    intro = (await world.say(sender, f"!feedback group {slug}/1")).text()
    assert "Feedback of your group" in intro and "Question 1 of 6" in intro
    said = Said_all = []
    for a in ANSWERS:
        said = await world.say(sender, a)
        Said_all.extend(said)
    [told] = said.to_room(group.room_id)
    assert "has sent the feedback of group 1" in told.body and sender in told.payload["content"]["m.mentions"]["user_ids"]
    assert "already been sent" in (await world.say(members[1], f"!feedback group {slug}/1")).text()
    results = (await world.say(carol, f"!results {slug}", room=CONTROL)).text()
    assert "Groups: 1 of 2 groups answered" in results


async def test_a_group_that_has_not_answered_is_nudged_in_its_room(world: EventWorld, runner: ScheduleRunner) -> None:
    _carol, slug, _people, group = await group_world(world)
    world.clock.now = ENDS + timedelta(hours=1, minutes=1)
    await world.run_due(runner)
    world.clock.now = ENDS + timedelta(days=4)
    said = await world.run_due(runner)
    [nudge] = said.to_room(group.room_id)
    assert "feedback of group 1" in nudge.body and f"!feedback group {slug}/1" in nudge.body


# ---- anonymity ---------------------------------------------------------------------------------

async def _every_value(db: Database) -> dict[str, list[tuple]]:
    async with db.transaction() as s:
        return {table.name: [tuple(row) for row in (await s.execute(select(table))).all()]
                for table in Base.metadata.sorted_tables}


async def test_an_anonymous_answer_is_tied_to_its_author_by_no_table_log_line_or_conversation(
        world: EventWorld, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    carol, slug, [alice, bob, cleo] = await attended(world, 3, form="anonymous")
    world.clock.now = ENDS + timedelta(hours=5, minutes=17, seconds=3)
    secret = "The parking lot talk with my manager helped most"
    caplog.set_level(logging.INFO)  # the bot's own level (bot.config log_level)
    started = (await world.say(alice, f"!feedback {slug}")).text()
    assert "This form is anonymous" in started
    back_and_forth = ["4", "<", "5", "4", "3", "1", secret, "-"]
    for a in back_and_forth:
        reply = (await world.say(alice, a)).text()
        assert "Your answer so far" not in reply, "an anonymous form never echoes an answer"
    assert "stored anonymously" in reply
    moment, dm = world.clock.now, world.dm(alice)
    tables = await _every_value(db)
    [answer] = tables["feedback_answers"]
    assert secret in str(answer)
    holds = lambda rows, value: [r for r in rows if any(value in str(v) for v in r)]  # noqa: E731
    for name, rows in tables.items():
        if name in ("feedback_answers",):
            assert not holds(rows, alice) and not holds(rows, dm), name
            continue
        assert not holds(rows, secret), f"{name} holds the answer text"
    answered_at = next(v for v in answer if isinstance(v, datetime))
    assert answered_at.time() == time(0), "only the day is kept"
    assert tables["feedback_progress"] == [] and tables["conversations"] == [], "the state went with the answer"
    flow_rows = [r for r in tables["processed_events"] if "feedback" in str(r)]
    assert len(flow_rows) == len(back_and_forth) + 1
    for row in flow_rows:
        assert dm not in row and all(v.time() == time(0) for v in row if isinstance(v, datetime)), row
    assert [r for r in tables["feedback_responded"] if alice in r], "a separate mark says she answered"
    assert not [r for r in tables["feedback_responded"] if secret in str(r) or any(isinstance(v, datetime) for v in r)]
    for record in caplog.records:
        line = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        assert alice not in line and dm not in line and secret not in line, line
    assert moment.isoformat() not in str(tables["feedback_answers"])
    # !mydata finds no anonymous answer; !forgetme says why
    async with db.transaction() as s:
        assert (await privacy.export(s, alice))["feedback"]["answers"] == []
    assert "Anonymous feedback answers cannot be found, by design" in (await world.say(alice, "!forgetme")).text()


async def test_an_anonymous_form_with_fewer_than_three_answers_shows_only_the_count(world: EventWorld) -> None:
    carol, slug, [alice, bob, cleo] = await attended(world, 3, form="anonymous")
    world.clock.now = ENDS + timedelta(hours=2)
    await answer_all(world, alice, slug)
    await answer_all(world, bob, slug, ["2", "2", "2", "3", "Quiet room", "-"])
    said = await world.say(carol, f"!results {slug}", room=CONTROL)
    assert "2 answers so far" in said.text() and "at least 3" in said.text()
    assert "mean" not in said.text() and "Quiet room" not in said.text() and not said.files()
    assert "2 answers so far" in (await world.say(carol, f"!results {slug} csv", room=CONTROL)).text()
    await answer_all(world, cleo, slug, ["5", "4", "-", "-", "-", "-"])
    said = await world.say(carol, f"!results {slug}", room=CONTROL)
    assert "Content: mean 3.7 (3 answers; scores 1: 0, 2: 1, 3: 0, 4: 1, 5: 1)" in said.text()
    assert "Quiet room" in said.text() and "@" not in said.text().split("Feedback on")[1], "no names"
    [png] = said.files()
    assert png.payload["info"]["mimetype"] == "image/png" if "info" in png.payload else True
    assert png.file_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_results_csv_and_a_shared_summary_without_names_or_open_answers(world: EventWorld) -> None:
    carol, slug, people = await attended(world, 3)
    world.clock.now = ENDS + timedelta(hours=2)
    for user in people:
        await answer_all(world, user, slug)
    said = await world.say(carol, f"!results {slug} csv", room=CONTROL)
    [file] = said.files()
    rows = list(csv.reader(io.StringIO(file.file_bytes().decode())))
    assert rows[0][:4] == ["who", "group", "day", "Content"] and len(rows) == 4
    assert {r[0] for r in rows[1:]} == set(people) and rows[1][6] == "Yes, from the start"
    assert "Only a coordinator" in (await world.say(people[0], f"!results {slug}")).text()
    preview = (await world.say(carol, f"!results {slug} share", room=CONTROL)).text()
    assert "!confirm" in preview and "no names" in preview
    assert not (await world.new_output()).to_room(ANNOUNCEMENTS)
    shared = await world.say(carol, "!confirm", room=CONTROL)
    [post] = shared.to_room(ANNOUNCEMENTS)
    assert "What you told us about" in post.body and "Content: mean 4" in post.body
    assert "@" not in post.body and "case round" not in post.body, "no names, no open answers"
    assert [f for f in shared.files() if f.room_id == ANNOUNCEMENTS], "the chart goes with it"


async def test_forgetme_erases_named_answers(world: EventWorld, db: Database) -> None:
    carol, slug, [alice, bob, cleo] = await attended(world, 3)
    world.clock.now = ENDS + timedelta(hours=2)
    await answer_all(world, alice, slug)
    async with db.transaction() as s:
        assert len((await privacy.export(s, alice))["feedback"]["answers"]) == 1
        await privacy.erase(s, alice, world.clock.now)
    async with db.transaction() as s:
        assert (await s.execute(text("SELECT count(*) FROM feedback_answers"))).scalar() == 0


async def test_the_event_form_chooses_the_form_and_the_deadline(world: EventWorld, db: Database) -> None:
    carol = await world.person("carol", "coordinator")
    bad = (await world.say(carol, "!event create\ntitle: Lab on burnout\npurpose: Share what helps against burnout."
                           "\nstarts: 2025-04-20 10:00\nends: 12:00\ncapacity: 10\nfeedback form: nosuch")).text()
    assert 'no feedback form "nosuch"' in bad and "anonymous, default" in bad
    before = (await world.say(carol, "!event create\ntitle: Lab on burnout\npurpose: Share what helps against burnout."
                              "\nstarts: 2025-04-20 10:00\nends: 12:00\ncapacity: 10\nfeedback deadline: 2025-04-19")).text()
    assert "must lie after the event has ended" in before
    await world.say(carol, "!event create\ntitle: Lab on burnout\npurpose: Share what helps against burnout."
                    "\nstarts: 2025-04-20 10:00\nends: 12:00\ncapacity: 10\nfeedback form: anonymous"
                    "\nfeedback deadline: 2025-05-01")
    async with db.transaction() as s:
        event = (await s.execute(select(Event).where(Event.title == "Lab on burnout"))).scalar_one()
    assert event.feedback_form == "anonymous"
    assert event.feedback_deadline == datetime(2025, 5, 1, 21, 59, tzinfo=timezone.utc)


def test_a_form_folder_in_the_config_adds_forms_and_a_broken_form_is_named(tmp_path) -> None:
    from api import feedback_forms
    from bot.config import ConfigError, FeedbackConfig

    (tmp_path / "short.yaml").write_text("name:\n  en: Short\nanonymous: true\nquestions:\n"
                                         "  - key: overall\n    kind: rating\n    text:\n      en: Overall?\n")
    FeedbackConfig.validate({"forms_dir": str(tmp_path)})
    feedback_forms.configure(forms_dir=tmp_path)
    try:
        assert feedback_forms.form("short").anonymous and "default" in feedback_forms.forms()
    finally:
        feedback_forms.configure(forms_dir=None)
    (tmp_path / "broken.yaml").write_text("questions:\n  - kind: stars\n    text:\n      en: How many?\n")
    with pytest.raises(ConfigError, match="kind 'stars'"):
        FeedbackConfig.validate({"forms_dir": str(tmp_path)})


async def test_a_group_without_a_room_hears_by_dm_who_sent_its_feedback(world: EventWorld) -> None:
    _carol, slug, _people, group = await group_world(world)
    async with world.db.transaction() as s:
        await s.execute(text("UPDATE sessions SET room_id = NULL WHERE id = :g"), {"g": group.id})
        members = (await s.execute(text("SELECT user_id FROM session_members WHERE session_id = :g"),
                                   {"g": group.id})).scalars().all()
    world.clock.now = ENDS + timedelta(hours=2)
    sender, other = members
    await world.say(sender, f"!feedback group {slug}")  # their own group, found without its number
    said = None
    for a in ANSWERS:
        said = await world.say(sender, a)
    [told] = said.to_user(other)
    assert "has sent the feedback of group 1" in told.body
    assert not said.to_user(sender) or all("has sent" not in s.body for s in said.to_user(sender))


async def test_a_request_due_before_a_moved_end_waits_for_the_new_end(
        world: EventWorld, runner: ScheduleRunner, db: Database) -> None:
    _carol, slug, [alice] = await attended(world, 1)
    async with db.transaction() as s:
        await s.execute(text("UPDATE events SET ends_at = :e"), {"e": ENDS + timedelta(days=1)})
    world.clock.now = ENDS + timedelta(hours=1, minutes=1)
    assert not (await world.run_due(runner)).to_user(alice), "the meeting now ends a day later"
    world.clock.now = ENDS + timedelta(days=1, hours=1, minutes=1)
    [asked] = (await world.run_due(runner)).to_user(alice)
    assert f"!feedback {slug}" in asked.body


async def test_the_shared_summary_carries_the_outcomes_the_sessions_posted(world: EventWorld) -> None:
    carol, slug, people, group = await group_world(world)
    async with world.db.transaction() as s:
        await s.execute(text("INSERT INTO session_reports (session_id, outcome) VALUES (:g, :o)"),
                        {"g": group.id, "o": "Agree with HR on one first contact person"})
    world.clock.now = ENDS + timedelta(hours=2)
    for user in people[:3]:
        await answer_all(world, user, slug)
    preview = (await world.say(carol, f"!results {slug} share", room=CONTROL)).text()
    assert "Outcomes of the sessions" in preview and "Group 1: Agree with HR" in preview
    [post] = (await world.say(carol, "!confirm", room=CONTROL)).to_room(ANNOUNCEMENTS)
    assert "Group 1: Agree with HR on one first contact person" in post.body and "@" not in post.body


async def test_an_end_moved_earlier_by_an_edit_brings_the_request_forward(
        world: EventWorld, runner: ScheduleRunner) -> None:
    carol, slug, [alice] = await attended(world, 1)
    said = await world.say(carol, f"!event edit {slug} starts: 2025-04-13 19:30\nends: 2025-04-13 21:30\n"
                                  "registration closes: 2025-04-13 12:00")
    if "!confirm" in said.text():  # registrants are told of a move: the coordinator confirms first
        said = await world.say(carol, "!confirm")
    assert slug in said.text()
    world.clock.now = ENDS - timedelta(days=1) + timedelta(hours=1, minutes=1)
    [asked] = (await world.run_due(runner)).to_user(alice)
    assert f"!feedback {slug}" in asked.body, "asked an hour after the new, earlier end"
